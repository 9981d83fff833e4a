"""The documentation: its Python snippets run as written, its options table is generated from the
code, and what it says about the package, the fake GitHub and the failure cases is true."""

from __future__ import annotations

import ast
import configparser
import importlib.metadata
import importlib.util
import inspect
import os
import pathlib
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import types
import typing as t

import flask
import pytest
import requests
import webtest
from support.docs import python_files

from oauth_middleware import OAuthMiddleware
from oauth_middleware.testing import FakeGitHub, login_as
from oauth_middleware.testing.__main__ import banner

ROOT = pathlib.Path(__file__).parent.parent
DOCS = ROOT / "docs"
SECRETS = {
    "GITHUB_OAUTH_CLIENT_ID": "Iv1.docs-test",
    "GITHUB_OAUTH_CLIENT_SECRET": "docs-test-secret",
    "OAUTH_MIDDLEWARE_SECRET_KEY": secrets.token_urlsafe(32),
}
EXECUTED_PAGES = ["README.md", "docs/quickstart.md", "docs/tutorial.md", "docs/testing.md"]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any of the middleware's variables: as on a machine that has none."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OAUTH_MIDDLEWARE_", "GITHUB_OAUTH_", "DJANGO_"))}
    env.update(extra)
    return env


def run(command: list[str], cwd: pathlib.Path, env: dict[str, str]) -> None:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, "%s\n%s\n%s" % (" ".join(command), done.stdout[-3000:], done.stderr[-3000:])


def write(files: dict[str, str], where: pathlib.Path) -> None:
    for name, code in files.items():
        (where / name).write_text(code)


def load(path: pathlib.Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("snippet_" + path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("page", EXECUTED_PAGES)
def test_every_python_block_is_a_runnable_file(page: str) -> None:
    assert python_files(page)


def test_readme_quick_start_and_deployment_show_the_same_app() -> None:
    app = python_files("docs/quickstart.md")["myapp.py"]
    assert python_files("README.md")["myapp.py"] == app
    assert python_files("docs/deployment.md")["myapp.py"] == app
    assert len(app.splitlines()) <= 13  # the README's short example, its file name included


@pytest.mark.parametrize("page", ["README.md", "docs/quickstart.md"])
def test_the_documented_app_works_as_written(
    page: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(python_files(page), tmp_path)
    myapp = load(tmp_path / "myapp.py")  # importing needs no secret
    for name in [*SECRETS, "OAUTH_MIDDLEWARE_ALLOW_INSECURE_HTTP"]:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(Exception, match="GITHUB_OAUTH_CLIENT_ID"):
        myapp.create_app()  # nothing configured: says what to set
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    app = myapp.create_app()
    assert isinstance(app.wsgi_app, OAuthMiddleware) and app.wsgi_app.require_login is True
    # `flask --app myapp run` and gunicorn 'myapp:create_app()' find the same factory
    assert isinstance(flask.cli.find_best_app(myapp).wsgi_app, OAuthMiddleware)
    testapp = webtest.TestApp(app)
    assert testapp.get("/", headers={"Accept": "text/html"}, status=302).location.startswith("/auth/login?next=")
    login_as(testapp, "octocat")
    assert testapp.get("/").text == "Hello octocat!"


def test_the_tutorial_runs_as_written(tmp_path: pathlib.Path) -> None:
    files = python_files("docs/tutorial.md")
    assert set(files) == {"notes.py", "test_notes.py"}
    write(files, tmp_path)
    run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_notes.py"], tmp_path, clean_env())


def test_the_testing_page_runs_as_written(tmp_path: pathlib.Path) -> None:
    files = python_files("docs/testing.md")
    write(python_files("docs/quickstart.md") | files, tmp_path)
    pytest_files = sorted(name for name in files if name.startswith("test_") and "django" not in name)
    assert pytest_files == ["test_login.py", "test_myapp.py", "test_slow_github.py", "test_with_flask_client.py"]
    run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_files], tmp_path, clean_env())


def test_the_testing_pages_django_tests_run_with_djangos_runner(tmp_path: pathlib.Path) -> None:
    pytest.importorskip("django")
    write({"test_django_views.py": python_files("docs/testing.md")["test_django_views.py"]}, tmp_path)
    # the project of the recipes page (tests/myproject); its wsgi.py reads the secrets from the
    # environment, and DJANGO_SETTINGS_MODULE is what its manage.py would set
    path = os.pathsep.join([str(tmp_path), str(ROOT / "tests")])
    env = clean_env(PYTHONPATH=path, DJANGO_SETTINGS_MODULE="myproject.settings", **SECRETS)
    run([sys.executable, "-m", "django", "test", "-v", "0", "test_django_views"], tmp_path, env)


# -- the generated options table --------------------------------------------------------------


@pytest.fixture
def extension() -> types.ModuleType:
    return load(DOCS / "_ext" / "oauth_options.py")


def constructor_options() -> dict[str, inspect.Parameter]:
    parameters = dict(inspect.signature(OAuthMiddleware.__init__).parameters)
    del parameters["self"], parameters["app"]
    return parameters


def test_the_options_table_lists_exactly_the_constructor_options(extension: types.ModuleType) -> None:
    rows = extension.rows()
    assert [row.name for row in rows] == list(constructor_options())
    assert all(row.help and row.type_text for row in rows)


def test_the_options_table_shows_the_real_defaults(extension: types.ModuleType) -> None:
    rows = {row.name: row for row in extension.rows()}
    for name, parameter in constructor_options().items():
        shown = rows[name].default_text
        if parameter.default is inspect.Parameter.empty:
            assert shown == "required", name
        elif callable(parameter.default):
            assert shown == "%s.%s" % (parameter.default.__module__, parameter.default.__name__), name
        else:
            assert ast.literal_eval(shown) == parameter.default, name


def test_the_options_table_reads_the_docstring_and_the_env_names(extension: types.ModuleType) -> None:
    rows = {row.name: row for row in extension.rows_from_signature()}
    assert rows["max_age"].env == "OAUTH_MIDDLEWARE_MAX_AGE" and rows["client_id"].env == "GITHUB_OAUTH_CLIENT_ID"
    assert rows["clock"].env is None  # a Python object: no variable
    assert "first** encrypts" in rows["secret_key"].help  # a :param: continued over several lines
    table = "\n".join(extension.render(rows.values()))
    assert (
        "   * - **max_age**\n\n       | type: ``int``\n       | default: ``604800``\n"
        "       | environment: ``OAUTH_MIDDLEWARE_MAX_AGE``\n     - absolute session lifetime"
    ) in table


def test_the_options_table_prefers_the_option_table_when_there_is_one(
    extension: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    option = types.SimpleNamespace(
        name="max_age",
        env="OAUTH_MIDDLEWARE_MAX_AGE",
        type_text="int",
        default_text="604800",
        help="See `x` [y](https://z).",
    )
    monkeypatch.setitem(sys.modules, "oauth_middleware.options", types.SimpleNamespace(OPTIONS=(option,)))
    (row,) = extension.rows()
    assert (row.name, row.env, row.help) == ("max_age", "OAUTH_MIDDLEWARE_MAX_AGE", "See ``x`` `y <https://z>`__.")


# -- what the pages say ---------------------------------------------------------------------


def test_the_quick_start_shows_what_fake_github_prints() -> None:
    fake = FakeGitHub()
    fake.base_url = "http://127.0.0.1:8001"
    assert "```text\n%s\n```" % banner(fake) in (DOCS / "quickstart.md").read_text()


def test_the_banners_variables_point_the_middleware_at_the_fake() -> None:
    fake = FakeGitHub()
    fake.base_url = "http://127.0.0.1:8001"
    variables = dict(re.findall(r"^    (\w+)=(\S+)$", banner(fake), flags=re.MULTILINE))
    assert len(variables) == 4
    with pytest.warns(UserWarning, match="allow_insecure_http"):
        middleware = OAuthMiddleware.from_env(
            lambda e, s: [], {**variables, "OAUTH_MIDDLEWARE_SECRET_KEY": secrets.token_urlsafe(32)}
        )
    assert middleware.provider == fake.provider()
    assert (middleware.client_id, middleware.client_secret) == (fake.client_id, fake.client_secret)


def test_the_extras_the_docs_name_exist() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    assert config["metadata"]["name"] == "oauth-login-middleware"
    extras = {name: value.split() for name, value in config["options.extras_require"].items()}
    assert any(line.startswith("gunicorn") for line in extras["deploy"])
    assert {"sphinx", "furo", "myst-parser"} <= {re.split(r"[<>=]", line)[0] for line in extras["docs"]}
    assert "pip install './oauth-login-middleware[deploy]'" in (DOCS / "deployment.md").read_text()


def test_the_deployment_page_says_how_several_hosts_share_sessions() -> None:
    text = " ".join((DOCS / "deployment.md").read_text().split())
    assert "share sessions **only through the cookie**" in text and "Redis (server-side sessions" in text


def test_workers_with_different_keys_fail_as_troubleshooting_says() -> None:
    """Half the logins fail with 400 and logged-in users drop to anonymous (docs/troubleshooting.md)."""
    assert "one** `OAUTH_MIDDLEWARE_SECRET_KEY`" in (DOCS / "troubleshooting.md").read_text()

    def hello(environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [("hello %s" % environ.get("REMOTE_USER", "anonymous")).encode()]

    fake = FakeGitHub(auto_approve="octocat")

    def worker(key: str) -> OAuthMiddleware:
        middleware = OAuthMiddleware(
            hello, client_id=fake.client_id, client_secret=fake.client_secret, secret_key=key, provider=fake.provider()
        )
        fake.mount(middleware.http)
        return middleware

    key_a, key_b = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    https = {"wsgi.url_scheme": "https", "HTTP_HOST": "app.test"}
    one, other, same = (webtest.TestApp(worker(k), extra_environ=https) for k in (key_a, key_b, key_a))
    other.cookiejar = same.cookiejar = one.cookiejar  # one browser, three workers

    def start_login() -> str:
        authorize = one.get("/auth/login?next=/").location
        return str(webtest.TestApp(fake).get(authorize[len(fake.base_url) :]).location[len("https://app.test") :])

    assert "invalid, expired or was already used" in other.get(start_login(), status=400)
    assert same.get(start_login(), status=302).location == "/"  # the same key: the login completes
    assert same.get("/").text == "hello octocat"
    answer = other.get("/")
    assert answer.text == "hello anonymous" and "Max-Age=0" in answer.headers["Set-Cookie"]


def test_the_fake_github_users_the_quick_start_names() -> None:
    assert "log in as `octocat` or `hubot`" in (DOCS / "quickstart.md").read_text()
    assert [user.login for user in FakeGitHub().users] == ["octocat", "hubot"]


def test_the_old_paste_spec_no_longer_resolves_as_configuration_md_says() -> None:
    loadwsgi = pytest.importorskip("paste.deploy.loadwsgi")
    try:
        importlib.metadata.distribution("oauth-middleware")
    except importlib.metadata.PackageNotFoundError:
        pass
    else:
        pytest.skip("a stale install of the old distribution name is present in this environment")
    assert loadwsgi.loadcontext(loadwsgi.FILTER, "egg:oauth-login-middleware#github").object is not None
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        loadwsgi.loadcontext(loadwsgi.FILTER, "egg:oauth-middleware#github")


@pytest.mark.e2e
def test_gunicorn_serves_the_documented_app_factory(tmp_path: pathlib.Path) -> None:
    """docs/deployment.md: gunicorn 'myapp:create_app()', two workers, secrets from the environment."""
    write(python_files("docs/deployment.md"), tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", "127.0.0.1:%d" % port]
    env = clean_env(PYTHONPATH=str(tmp_path), NO_PROXY="127.0.0.1", no_proxy="127.0.0.1", **SECRETS)
    server = subprocess.Popen(
        [*command, "myapp:create_app()"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 30
        answer = None
        while answer is None and time.monotonic() < deadline and server.poll() is None:
            try:
                answer = requests.get(
                    "http://127.0.0.1:%d/" % port, headers={"Accept": "text/html"}, allow_redirects=False, timeout=5
                )
            except requests.ConnectionError:
                time.sleep(0.2)
        assert answer is not None, "gunicorn did not answer in 30 s"
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/auth/login?next=")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            _, errors = server.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            _, errors = server.communicate(timeout=10)
    assert b"Booting worker" in errors and b"Traceback" not in errors
