"""Configuration from environment variables: config.options_from_env and config.from_env."""

from __future__ import annotations

import inspect
import os
import pathlib
import typing as t

import pytest
import webtest
from support import CLIENT_ID, CLIENT_SECRET, HTTPS, SECRET_KEY, downstream

from oauth_middleware import ConfigurationError, GitHub, OAuthMiddleware, config

OTHER_KEY = "o" * 16 + "fedcba9876543210fedc"  # 36 bytes
BASE = {
    "GITHUB_OAUTH_CLIENT_ID": CLIENT_ID,
    "GITHUB_OAUTH_CLIENT_SECRET": CLIENT_SECRET,
    "OAUTH_MIDDLEWARE_SECRET_KEY": SECRET_KEY,
}


def env(**variables: str) -> dict[str, str]:
    return {**BASE, **{"OAUTH_MIDDLEWARE_" + name: value for name, value in variables.items()}}


def refused(environ: t.Mapping[str, str], **overrides: t.Any) -> str:
    with pytest.raises(ConfigurationError) as info:
        config.from_env(downstream, environ, **overrides)
    return str(info.value)


@pytest.fixture
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No variable of the caller's environment changes what these tests see."""
    for name in list(os.environ):
        if name.startswith(("OAUTH_MIDDLEWARE_", "GITHUB_OAUTH_")):
            monkeypatch.delenv(name)


# -- the basics -----------------------------------------------------------------------------------


def test_the_three_secrets_are_enough() -> None:
    assert config.options_from_env(BASE) == {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "secret_key": SECRET_KEY,
    }
    middleware = config.from_env(downstream, BASE)
    assert isinstance(middleware, OAuthMiddleware)
    assert middleware.client_id == CLIENT_ID
    assert middleware.secret_keys == (SECRET_KEY.encode(),)


@pytest.mark.usefixtures("clean_environ")
def test_os_environ_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in env(MAX_AGE="3600").items():
        monkeypatch.setenv(name, value)
    assert config.options_from_env()["max_age"] == 3600
    assert config.options_from_env(None)["max_age"] == 3600
    assert config.from_env(downstream).max_age == 3600


def test_the_wrapped_app_logs_in_with_the_configured_client_id() -> None:
    app = webtest.TestApp(config.from_env(downstream, env(REQUIRE_LOGIN="/private")), extra_environ=HTTPS)
    response = app.get("/auth/login")
    assert response.status_int == 302
    assert response.headers["Location"].startswith("https://github.com/login/oauth/authorize?")
    assert "client_id=" + CLIENT_ID in response.headers["Location"]
    assert app.get("/private", headers={"Accept": "text/html"}).status_int == 302
    assert app.get("/open").status_int == 200


def test_secret_key_list_rotates_first_encrypts() -> None:
    options = config.options_from_env({**BASE, "OAUTH_MIDDLEWARE_SECRET_KEY": " %s, %s " % (OTHER_KEY, SECRET_KEY)})
    assert options["secret_key"] == [OTHER_KEY, SECRET_KEY]
    middleware = config.from_env(downstream, {**BASE, "OAUTH_MIDDLEWARE_SECRET_KEY": OTHER_KEY + "," + SECRET_KEY})
    assert middleware.secret_keys == (OTHER_KEY.encode(), SECRET_KEY.encode())


def test_every_textual_option_has_a_variable() -> None:
    parameters = set(inspect.signature(OAuthMiddleware).parameters)
    assert set(config.text_options()) == parameters - {"app", "provider", "clock"}
    assert config.env_variable("max_age") == "OAUTH_MIDDLEWARE_MAX_AGE"
    assert config.env_variable("client_secret") == "GITHUB_OAUTH_CLIENT_SECRET"
    assert config.env_variable("provider") == "OAUTH_MIDDLEWARE_GITHUB_URL"


# -- parsing each kind of value -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "option", "expected"),
    [
        ("MAX_AGE", "3600", "max_age", 3600),
        ("MAX_AGE", " 60 ", "max_age", 60),
        ("IDLE_TIMEOUT", "900", "idle_timeout", 900),
        ("IDLE_TIMEOUT", "", "idle_timeout", None),
        ("IDLE_TIMEOUT", "None", "idle_timeout", None),
        (
            "REDIRECT_URI",
            "https://app.example.com/auth/callback",
            "redirect_uri",
            "https://app.example.com/auth/callback",
        ),
        ("REDIRECT_URI", "", "redirect_uri", None),
        ("REVOKE_ON_LOGOUT", "yes", "revoke_on_logout", True),
        ("REVOKE_ON_LOGOUT", "TRUE", "revoke_on_logout", True),
        ("REVOKE_ON_LOGOUT", "on", "revoke_on_logout", True),
        ("REVOKE_ON_LOGOUT", "1", "revoke_on_logout", True),
        ("REVOKE_ON_LOGOUT", "0", "revoke_on_logout", False),
        ("REVOKE_ON_LOGOUT", "False", "revoke_on_logout", False),
        ("REVOKE_ON_LOGOUT", "no", "revoke_on_logout", False),
        ("REVOKE_ON_LOGOUT", "off", "revoke_on_logout", False),
        ("REQUIRE_LOGIN", "true", "require_login", True),
        ("REQUIRE_LOGIN", "off", "require_login", False),
        ("REQUIRE_LOGIN", "/admin,/api", "require_login", ["/admin", "/api"]),
        ("REQUIRE_LOGIN", "/admin", "require_login", ["/admin"]),
        ("PUBLIC_PATHS", "/static,/healthz", "public_paths", ["/static", "/healthz"]),
        ("PUBLIC_PATHS", "/static, /healthz,", "public_paths", ["/static", "/healthz"]),
        ("PUBLIC_PATHS", "", "public_paths", []),
        ("ALLOWED_ORGS", "octo-org,github", "allowed_orgs", ["octo-org", "github"]),
        ("ALLOWED_TEAMS", "octo-org/ops", "allowed_teams", ["octo-org/ops"]),
        ("ALLOWED_USERS", "octocat", "allowed_users", ["octocat"]),
        ("REVALIDATE_AFTER", "auto", "revalidate_after", "auto"),
        ("REVALIDATE_AFTER", "AUTO", "revalidate_after", "auto"),
        ("REVALIDATE_AFTER", "none", "revalidate_after", None),
        ("REVALIDATE_AFTER", "", "revalidate_after", None),
        ("REVALIDATE_AFTER", "300", "revalidate_after", 300),
        ("TIMEOUT", "5", "timeout", 5.0),
        ("TIMEOUT", "3.05,27", "timeout", (3.05, 27.0)),
        ("TIMEOUT", "3, 20", "timeout", (3.0, 20.0)),
        ("SECURE", "auto", "secure", None),
        ("SECURE", "", "secure", None),
        ("SECURE", "true", "secure", True),
        ("SECURE", "0", "secure", False),
        ("SCOPE", "read:user,repo", "scope", "read:user,repo"),
        ("COOKIE_NAME", "myapp_session", "cookie_name", "myapp_session"),
        ("LOGIN_PATH", "/login", "login_path", "/login"),
        ("ALLOW_INSECURE_HTTP", "false", "allow_insecure_http", False),
    ],
)
def test_values_are_parsed_by_type(name: str, text: str, option: str, expected: object) -> None:
    assert config.options_from_env(env(**{name: text}))[option] == expected
    config.from_env(downstream, env(**{name: text}))  # and the middleware takes them


def test_parsed_values_reach_the_middleware() -> None:
    middleware = config.from_env(
        downstream,
        env(
            SCOPE="read:user repo",
            TIMEOUT="3,20",
            REQUIRE_LOGIN="/admin",
            PUBLIC_PATHS="/admin/static",
            ALLOWED_ORGS="octo-org",
            IDLE_TIMEOUT="600",
            SECURE="yes",
        ),
    )
    assert middleware.scope == ("read:user", "repo", "read:org")
    assert middleware.timeout == (3.0, 20.0)
    assert middleware.require_login == ("/admin",)
    assert middleware.public_paths == ("/admin/static",)
    assert middleware.policy.orgs == frozenset({"octo-org"})
    assert middleware.revalidate_after == 600  # "auto" with an allow-list
    assert middleware.idle_timeout == 600
    assert middleware.secure is True


def test_github_url_gives_an_enterprise_provider() -> None:
    options = config.options_from_env(env(GITHUB_URL="https://ghe.example.com/"))
    assert options["provider"] == GitHub("https://ghe.example.com")
    middleware = config.from_env(downstream, env(GITHUB_URL="https://ghe.example.com"))
    assert middleware.provider.api_base_url == "https://ghe.example.com/api/v3/"
    assert config.from_env(downstream, env(GITHUB_URL="")).provider == GitHub()


def test_plain_http_github_url_needs_allow_insecure_http() -> None:
    message = refused(env(GITHUB_URL="http://127.0.0.1:8001"))
    assert message.startswith("OAUTH_MIDDLEWARE_GITHUB_URL (its authorize_url) is plain http")
    assert "set OAUTH_MIDDLEWARE_ALLOW_INSECURE_HTTP=1 for local development" in message
    with pytest.warns(UserWarning, match="allow_insecure_http"):
        middleware = config.from_env(downstream, env(GITHUB_URL="http://127.0.0.1:8001", ALLOW_INSECURE_HTTP="1"))
    assert middleware.provider.token_url == "http://127.0.0.1:8001/login/oauth/access_token"


# -- malformed values name the variable and say what is expected ----------------------------------


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("MAX_AGE", "a week", ("OAUTH_MIDDLEWARE_MAX_AGE", "whole number", "'a week'")),
        ("MAX_AGE", "1.5", ("OAUTH_MIDDLEWARE_MAX_AGE", "whole number")),
        ("REVOKE_ON_LOGOUT", "maybe", ("OAUTH_MIDDLEWARE_REVOKE_ON_LOGOUT", "boolean", "true", "off", "'maybe'")),
        ("ALLOW_INSECURE_HTTP", "", ("OAUTH_MIDDLEWARE_ALLOW_INSECURE_HTTP", "boolean")),
        ("REQUIRE_LOGIN", "admin", ("OAUTH_MIDDLEWARE_REQUIRE_LOGIN", "boolean", "path prefixes")),
        ("REQUIRE_LOGIN", "", ("OAUTH_MIDDLEWARE_REQUIRE_LOGIN", "boolean")),
        ("REVALIDATE_AFTER", "soon", ("OAUTH_MIDDLEWARE_REVALIDATE_AFTER", "auto, none")),
        ("TIMEOUT", "fast", ("OAUTH_MIDDLEWARE_TIMEOUT", "connect,read")),
        ("TIMEOUT", "1,2,3", ("OAUTH_MIDDLEWARE_TIMEOUT", "connect,read")),
        ("TIMEOUT", "nan", ("OAUTH_MIDDLEWARE_TIMEOUT",)),
        ("TIMEOUT", "inf", ("OAUTH_MIDDLEWARE_TIMEOUT",)),
        ("SECURE", "https", ("OAUTH_MIDDLEWARE_SECURE", "auto", "boolean")),
        ("IDLE_TIMEOUT", "ten", ("OAUTH_MIDDLEWARE_IDLE_TIMEOUT", "whole number", "none")),
        ("GITHUB_URL", "ghe.example.com", ("OAUTH_MIDDLEWARE_GITHUB_URL", "https://github.example.com")),
        ("GITHUB_URL", "https://ghe.example.com/path", ("OAUTH_MIDDLEWARE_GITHUB_URL",)),
        ("GITHUB_URL", "https://[::1", ("OAUTH_MIDDLEWARE_GITHUB_URL",)),
    ],
)
def test_malformed_values_name_the_variable(name: str, text: str, words: tuple[str, ...]) -> None:
    with pytest.raises(ConfigurationError) as info:
        config.options_from_env(env(**{name: text}))
    assert info.value.args[0].startswith(words[0] + " must be")
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    ("name", "text", "option"),
    [
        ("MAX_AGE", "0", "max_age"),
        ("LOGIN_PATH", "login", "login_path"),
        ("COOKIE_NAME", "bad name", "cookie_name"),
        ("ALLOWED_TEAMS", "ops", "allowed_teams"),
        ("REDIRECT_URI", "https://app.example.com/elsewhere", "redirect_uri"),
        ("TIMEOUT", "0", "timeout"),
        ("SCOPE", "read:user \x07", "scope"),
    ],
)
def test_values_the_middleware_refuses_name_the_variable(name: str, text: str, option: str) -> None:
    """The message names the variable, not the Python option; the error carries both."""
    variable = "OAUTH_MIDDLEWARE_" + name
    with pytest.raises(ConfigurationError) as info:
        config.from_env(downstream, env(**{name: text}))
    message = str(info.value)
    assert message.startswith(variable + " ") and "%s must" % option not in message
    assert (info.value.option, info.value.env) == (option, variable)


def test_a_refused_override_is_not_blamed_on_the_environment() -> None:
    assert refused(env(MAX_AGE="60"), max_age=-1).startswith("max_age must be")


def test_short_secret_key_names_the_variable_without_showing_it() -> None:
    message = refused({**BASE, "OAUTH_MIDDLEWARE_SECRET_KEY": "hunter2-is-short"})
    assert message.startswith("OAUTH_MIDDLEWARE_SECRET_KEY is 16 bytes long")
    assert "hunter2" not in message
    message = refused({**BASE, "OAUTH_MIDDLEWARE_SECRET_KEY": SECRET_KEY + ",hunter2-is-short"})
    assert message.startswith("OAUTH_MIDDLEWARE_SECRET_KEY[1] is 16 bytes long") and "hunter2" not in message


# -- secrets: required, from files, never shown ---------------------------------------------------


@pytest.mark.parametrize("variable", list(BASE))
def test_missing_secrets_name_the_variable_and_its_file_variant(variable: str) -> None:
    environ = {name: value for name, value in BASE.items() if name != variable}
    with pytest.raises(ConfigurationError, match="is not set") as info:
        config.options_from_env(environ)
    assert variable in str(info.value) and variable + "_FILE" in str(info.value)


@pytest.mark.parametrize("variable", list(BASE))
def test_empty_secrets_are_refused(variable: str) -> None:
    with pytest.raises(ConfigurationError, match="%s is empty" % variable):
        config.options_from_env({**BASE, variable: "  "})


@pytest.mark.parametrize("variable", list(BASE))
def test_secrets_can_come_from_files(tmp_path: pathlib.Path, variable: str) -> None:
    path = tmp_path / "secret"
    path.write_text(BASE[variable] + "\n")
    environ = {name: value for name, value in BASE.items() if name != variable}
    environ[variable + "_FILE"] = str(path)
    assert config.options_from_env(environ) == config.options_from_env(BASE)


def test_secret_key_file_may_hold_one_key_a_line(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "keys"
    path.write_text("%s\r\n%s\n\n" % (OTHER_KEY, SECRET_KEY))
    environ = {**BASE, "OAUTH_MIDDLEWARE_SECRET_KEY_FILE": str(path)}
    del environ["OAUTH_MIDDLEWARE_SECRET_KEY"]
    assert config.from_env(downstream, environ).secret_keys == (OTHER_KEY.encode(), SECRET_KEY.encode())


def test_a_secret_and_its_file_together_are_refused(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "secret"
    path.write_text("from-the-file")
    with pytest.raises(ConfigurationError) as info:
        config.options_from_env({**BASE, "GITHUB_OAUTH_CLIENT_SECRET_FILE": str(path)})
    message = str(info.value)
    assert "GITHUB_OAUTH_CLIENT_SECRET and GITHUB_OAUTH_CLIENT_SECRET_FILE are both set" in message
    assert CLIENT_SECRET not in message and "from-the-file" not in message


def test_an_unreadable_secret_file_is_reported(tmp_path: pathlib.Path) -> None:
    environ = {**BASE, "GITHUB_OAUTH_CLIENT_SECRET_FILE": str(tmp_path / "missing")}
    del environ["GITHUB_OAUTH_CLIENT_SECRET"]
    with pytest.raises(ConfigurationError, match="GITHUB_OAUTH_CLIENT_SECRET_FILE: cannot read .*missing"):
        config.options_from_env(environ)
    (tmp_path / "binary").write_bytes(b"\xff\xfe xyzzy")
    environ["GITHUB_OAUTH_CLIENT_SECRET_FILE"] = str(tmp_path / "binary")
    with pytest.raises(ConfigurationError, match="not UTF-8") as info:
        config.options_from_env(environ)
    assert "xyzzy" not in str(info.value)


def test_secret_values_never_appear_in_messages() -> None:
    secret = "s3cr3t-sentinel-value"
    for environ in [
        {**BASE, "GITHUB_OAUTH_CLIENT_SECRET": " %s " % secret},  # whitespace: refused by the middleware
        {**BASE, "OAUTH_MIDDLEWARE_SECRET_KEY": secret},  # too short
        {**BASE, "OAUTH_MIDDLEWARE_SECRET_KEY": secret * 3 + "," + secret},
        {**BASE, "GITHUB_OAUTH_CLIENT_SECRET": secret, "OAUTH_MIDDLEWARE_SECURE": "maybe"},
    ]:
        assert secret not in refused(environ)


# -- typo protection ------------------------------------------------------------------------------


def test_unknown_variables_are_refused_with_a_suggestion() -> None:
    with pytest.raises(ConfigurationError) as info:
        config.options_from_env(env(REQUIRE_LOGN="true"))
    message = str(info.value)
    assert message.startswith("unknown environment variable OAUTH_MIDDLEWARE_REQUIRE_LOGN")
    assert "did you mean OAUTH_MIDDLEWARE_REQUIRE_LOGIN?" in message
    for option in config.text_options():
        assert config.env_variable(option) in message  # the list of valid ones
    assert "OAUTH_MIDDLEWARE_SECRET_KEY_FILE" in message and "OAUTH_MIDDLEWARE_GITHUB_URL" in message


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("CLIENT_ID", "did you mean GITHUB_OAUTH_CLIENT_ID?"),
        ("CLIENT_SECRET_FILE", "did you mean GITHUB_OAUTH_CLIENT_SECRET_FILE?"),
        ("PROVIDR", "did you mean OAUTH_MIDDLEWARE_PROVIDER?"),  # PROVIDER names an OIDC provider now
        ("CLOCK", "clock takes a Python object"),
        ("MAX_AGE_FILE", "only the secrets have _FILE variants: set OAUTH_MIDDLEWARE_MAX_AGE"),
        ("XYZZY", ""),
    ],
)
def test_unknown_variable_hints(name: str, hint: str) -> None:
    with pytest.raises(ConfigurationError, match="unknown environment variable OAUTH_MIDDLEWARE_" + name) as info:
        config.options_from_env(env(**{name: "x"}))
    assert hint in str(info.value)


def test_other_variables_are_ignored() -> None:
    assert config.options_from_env({**BASE, "GITHUB_TOKEN": "x", "OAUTH_MIDDLEWARE": "x", "PATH": "/bin"}) == {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "secret_key": SECRET_KEY,
    }


# -- overrides ------------------------------------------------------------------------------------


def test_overrides_win_and_their_variables_are_not_read() -> None:
    options = config.options_from_env(env(MAX_AGE="not a number", TIMEOUT="5"), max_age=60, client_secret="other")
    assert options["max_age"] == 60 and options["client_secret"] == "other" and options["timeout"] == 5.0
    environ = {name: value for name, value in BASE.items() if name != "GITHUB_OAUTH_CLIENT_SECRET"}
    assert config.from_env(downstream, environ, client_secret="from-code").client_secret == "from-code"
    provider = GitHub("https://ghe.example.com")
    assert config.from_env(downstream, env(GITHUB_URL="nonsense"), provider=provider).provider == provider


def test_python_only_options_are_overrides(clock: t.Callable[[], float]) -> None:
    assert config.from_env(downstream, BASE, clock=clock).clock is clock


def test_unknown_overrides_are_a_type_error() -> None:
    with pytest.raises(TypeError, match="max_ages"):
        config.options_from_env(BASE, max_ages=1)
    with pytest.raises(TypeError, match="unknown option.* app; the options are: client_id, client_secret"):
        config.options_from_env(BASE, app=downstream)


# -- new options are covered without changes here -------------------------------------------------


class ExtendedMiddleware(OAuthMiddleware):
    def __init__(
        self,
        app: t.Any,
        *,
        retries: int = 3,
        banner: str = "Hello",
        ratio: float | None = None,
        debug: bool = False,
        realms: t.Sequence[str] = (),
        hook: t.Callable[[], None] | None = None,
        **options: t.Any,
    ) -> None:
        super().__init__(app, **options)
        self.retries, self.banner, self.ratio, self.debug, self.realms = retries, banner, ratio, debug, realms


def test_options_of_a_subclass_are_read_from_their_types() -> None:
    parsers = config.text_options(ExtendedMiddleware)
    assert list(parsers)[:5] == ["retries", "banner", "ratio", "debug", "realms"]
    assert set(parsers) - set(config.text_options()) == {"retries", "banner", "ratio", "debug", "realms"}
    assert "hook" not in parsers and "clock" not in parsers
    environ = {
        **BASE,
        "OAUTH_MIDDLEWARE_RETRIES": "5",
        "OAUTH_MIDDLEWARE_BANNER": " Welcome ",
        "OAUTH_MIDDLEWARE_RATIO": "0.5",
        "OAUTH_MIDDLEWARE_DEBUG": "on",
        "OAUTH_MIDDLEWARE_REALMS": "a,b",
    }
    middleware = config.from_env(downstream, environ, middleware_class=ExtendedMiddleware)
    assert isinstance(middleware, ExtendedMiddleware)
    assert (middleware.retries, middleware.banner, middleware.ratio, middleware.debug) == (5, "Welcome", 0.5, True)
    assert middleware.realms == ["a", "b"]
    with pytest.raises(ConfigurationError, match="OAUTH_MIDDLEWARE_RATIO must be a number"):
        config.from_env(downstream, {**BASE, "OAUTH_MIDDLEWARE_RATIO": "half"}, middleware_class=ExtendedMiddleware)
    with pytest.raises(ConfigurationError, match="OAUTH_MIDDLEWARE_HOOK .*hook takes a Python object"):
        config.from_env(downstream, {**BASE, "OAUTH_MIDDLEWARE_HOOK": "x"}, middleware_class=ExtendedMiddleware)


def test_classmethod_from_env_as_the_readme_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    """``OAuthMiddleware.from_env(app, **overrides)``: the environment, with Python overrides winning."""
    import webtest

    from oauth_middleware import OAuthMiddleware

    monkeypatch.setenv("GITHUB_OAUTH_CLIENT_ID", "Iv1.from-env")
    monkeypatch.setenv("GITHUB_OAUTH_CLIENT_SECRET", "secret-from-env")
    monkeypatch.setenv("OAUTH_MIDDLEWARE_SECRET_KEY", "e2V6-hand-typed-but-not-a-pattern-0123")
    monkeypatch.setenv("OAUTH_MIDDLEWARE_REQUIRE_LOGIN", "true")
    monkeypatch.setenv("OAUTH_MIDDLEWARE_PUBLIC_PATHS", "/healthz")

    def hello(environ: dict[str, object], start_response: t.Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hello"]

    middleware = OAuthMiddleware.from_env(hello, public_paths=["/static"])
    assert middleware.client_id == "Iv1.from-env" and middleware.require_login is True
    assert middleware.public_paths == ("/static",)  # the override wins
    testapp = webtest.TestApp(middleware, extra_environ={"wsgi.url_scheme": "https"})
    assert testapp.get("/static/x").text == "hello"
    assert (
        "client_id=Iv1.from-env"
        in testapp.get("/page", headers={"Accept": "text/html"}, status=302).follow(status=302).headers["Location"]
    )
