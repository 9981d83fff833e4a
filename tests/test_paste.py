"""PasteDeploy: the filter factories, loaded from real .ini files with paste.deploy.loadapp."""

from __future__ import annotations

import importlib.metadata
import os
import pathlib
import textwrap
import typing as t

import pytest
import webtest
from support import CLIENT_ID, CLIENT_SECRET, HTTPS, SECRET_KEY

from oauth_middleware import ConfigurationError, OAuthMiddleware, config

ROOT = pathlib.Path(__file__).resolve().parent.parent
OTHER_KEY = "o" * 16 + "fedcba9876543210fedc"  # 36 bytes


def hello(environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]) -> list[bytes]:
    body = ("hello %s" % environ.get("REMOTE_USER", "anonymous")).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def hello_factory(global_conf: dict[str, str], **local_conf: str) -> t.Callable[..., list[bytes]]:
    """``paste.app_factory`` of the app behind the middleware."""
    return hello


@pytest.fixture
def paste_deploy(monkeypatch: pytest.MonkeyPatch) -> t.Any:
    """paste.deploy, with ``tests`` importable for ``call:`` and a clean environment."""
    deploy = pytest.importorskip("paste.deploy")
    monkeypatch.syspath_prepend(str(ROOT))
    for name in list(os.environ):
        if name.startswith(("OAUTH_MIDDLEWARE_", "GITHUB_OAUTH_")):
            monkeypatch.delenv(name)
    return deploy


@pytest.fixture
def load(paste_deploy: t.Any, tmp_path: pathlib.Path) -> t.Callable[..., t.Any]:
    """Write ``[filter:github-oauth]`` with ``settings`` in a pipeline in front of the hello app
    to ``tmp_path/app.ini`` and load it."""

    def load(settings: str, *, use: str = "egg:oauth-login-middleware#github") -> t.Any:
        ini = tmp_path / "app.ini"
        ini.write_text(
            "[pipeline:main]\npipeline = github-oauth hello\n\n"
            "[filter:github-oauth]\nuse = %s\n%s\n\n"
            "[app:hello]\nuse = call:tests.test_paste:hello_factory\n" % (use, textwrap.dedent(settings).strip())
        )
        return paste_deploy.loadapp("config:" + str(ini))

    return load


SETTINGS = """\
client_id = %s
client_secret = %s
secret_key = %s
require_login = /private
public_paths =
    /private/static
    /healthz
""" % (CLIENT_ID, CLIENT_SECRET, SECRET_KEY)


@pytest.mark.parametrize(
    "use", ["egg:oauth-login-middleware#github", "call:oauth_middleware.config:filter_factory"], ids=["egg", "call"]
)
def test_pipeline_logs_in_with_the_configured_client_id(load: t.Callable[..., t.Any], use: str) -> None:
    wsgi = load(SETTINGS, use=use)
    assert isinstance(wsgi, OAuthMiddleware)
    assert wsgi.public_paths == ("/private/static", "/healthz")
    app = webtest.TestApp(wsgi, extra_environ=HTTPS)
    login = app.get("/auth/login")
    assert login.status_int == 302
    assert login.headers["Location"].startswith("https://github.com/login/oauth/authorize?")
    assert "client_id=%s&" % CLIENT_ID in login.headers["Location"]
    protected = app.get("/private/page", headers={"Accept": "text/html"})
    assert protected.status_int == 302
    assert protected.headers["Location"] == "/auth/login?next=/private/page"
    assert app.get("/private/static/app.css").text == "hello anonymous"
    assert app.get("/").text == "hello anonymous"


def test_filter_app_section(paste_deploy: t.Any, tmp_path: pathlib.Path) -> None:
    ini = tmp_path / "app.ini"
    ini.write_text(
        "[filter-app:main]\nuse = egg:oauth-login-middleware#github\nnext = hello\n%s\n"
        "[app:hello]\nuse = call:tests.test_paste:hello_factory\n" % SETTINGS
    )
    wsgi = paste_deploy.loadapp("config:" + str(ini))
    assert isinstance(wsgi, OAuthMiddleware) and wsgi.client_id == CLIENT_ID
    assert webtest.TestApp(wsgi).get("/").text == "hello anonymous"


def test_values_use_the_environment_parsers(load: t.Callable[..., t.Any]) -> None:
    wsgi = load(
        """\
        client_id = %s
        client_secret = %s
        secret_key = %s, %s
        require_login = true
        public_paths = /static, /healthz
        max_age = 3600
        timeout = 3,20
        secure = auto
        revoke_on_logout = yes
        revalidate_after = none
        redirect_uri =
        allowed_orgs = octo-org
            github
        github_url = https://ghe.example.com
        """
        % (CLIENT_ID, CLIENT_SECRET, OTHER_KEY, SECRET_KEY)
    )
    assert wsgi.secret_keys == (OTHER_KEY.encode(), SECRET_KEY.encode())
    assert wsgi.require_login is True
    assert wsgi.public_paths == ("/static", "/healthz")
    assert (wsgi.max_age, wsgi.timeout, wsgi.secure, wsgi.revoke_on_logout) == (3600, (3.0, 20.0), None, True)
    assert wsgi.revalidate_after is None and wsgi.redirect_uri is None
    assert wsgi.policy.orgs == frozenset({"octo-org", "github"})
    assert wsgi.provider.authorize_url == "https://ghe.example.com/login/oauth/authorize"


def test_secrets_from_files_relative_to_the_ini_and_from_the_environment(
    load: t.Callable[..., t.Any], tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "client-secret").write_text(CLIENT_SECRET + "\n")
    (tmp_path / "client-id").write_text(CLIENT_ID + "\n")
    monkeypatch.setenv("OAUTH_MIDDLEWARE_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("GITHUB_OAUTH_CLIENT_SECRET", "not-this-one")  # the ini wins
    wsgi = load("client_id_file = client-id\nclient_secret_file = %(here)s/secrets/client-secret")
    assert (wsgi.client_id, wsgi.client_secret, wsgi.secret_keys) == (CLIENT_ID, CLIENT_SECRET, (SECRET_KEY.encode(),))


def test_only_secrets_come_from_the_environment(load: t.Callable[..., t.Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_OAUTH_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("GITHUB_OAUTH_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("OAUTH_MIDDLEWARE_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("OAUTH_MIDDLEWARE_MAX_AGE", "60")
    monkeypatch.setenv("OAUTH_MIDDLEWARE_TYPO", "ignored: only the .ini configures the rest")
    wsgi = load("require_login = false")
    assert wsgi.client_id == CLIENT_ID and wsgi.max_age == 604800


def test_a_missing_secret_names_both_places(load: t.Callable[..., t.Any]) -> None:
    with pytest.raises(ConfigurationError) as info:
        load("client_id = %s\nclient_secret = %s" % (CLIENT_ID, CLIENT_SECRET))
    message = str(info.value)
    assert message.startswith("secret_key is not set")
    assert "secret_key (or secret_key_file) in the .ini file" in message and "OAUTH_MIDDLEWARE_SECRET_KEY" in message


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ("max_age = a week", ("max_age must be a whole number", "'a week'")),
        ("revoke_on_logout = sometimes", ("revoke_on_logout must be a boolean", "sometimes")),
        (
            "requires_login = true",
            ("unknown setting 'requires_login'", "did you mean 'require_login'?", "public_paths"),
        ),
        ("clock = time.time", ("unknown setting 'clock'",)),
        ("max_age = 0", ("max_age must be a positive whole number",)),
        ("login_path = login", ("login_path must be a path",)),
        ("client_secret_file = %(here)s/missing", ("client_secret and client_secret_file are both set",)),
    ],
)
def test_bad_settings_are_named(load: t.Callable[..., t.Any], settings: str, words: tuple[str, ...]) -> None:
    with pytest.raises(ConfigurationError) as info:
        load(SETTINGS + settings)
    for word in words:
        assert word in str(info.value)
    assert CLIENT_SECRET not in str(info.value) and SECRET_KEY not in str(info.value)


def test_factories_directly(paste_deploy: t.Any) -> None:
    local_conf = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "secret_key": SECRET_KEY}
    wrap = config.filter_factory({"here": "/nowhere"}, **local_conf)
    assert wrap(hello).app is hello
    middleware = config.filter_app_factory(hello, {}, **local_conf, max_age="60")
    assert middleware.app is hello and middleware.max_age == 60


def test_entry_points_are_registered() -> None:
    entry_points = importlib.metadata.distribution("oauth-login-middleware").entry_points
    found = {(entry.group, entry.name): entry.value for entry in entry_points}
    assert found[("paste.filter_factory", "github")] == "oauth_middleware.config:filter_factory"
    assert found[("paste.filter_app_factory", "github")] == "oauth_middleware.config:filter_app_factory"
