"""Options: accepted forms, normalisation, and the ConfigurationError for each bad value."""

from __future__ import annotations

import ast
import os
import pathlib
import re
import typing as t

import pytest
from support import CLIENT_SECRET, log_in

import oauth_middleware
from oauth_middleware import ConfigurationError, GitHub, OAuthMiddleware, Provider

PACKAGE = pathlib.Path(oauth_middleware.__file__).parent
OAUTHLIB_VARIABLES = ("OAUTHLIB_INSECURE_TRANSPORT", "OAUTHLIB_RELAX_TOKEN_SCOPE")
KEY_32 = "Wq3mZ8vR1xN5bT7kC2pL9dF4hJ6gY0sA"  # 32 bytes, no pattern: a hand-made key is refused


def refused(make_middleware: t.Callable[..., OAuthMiddleware], **options: t.Any) -> str:
    with pytest.raises(ConfigurationError) as info:
        make_middleware(**options)
    return str(info.value)


# -- client credentials --------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["client_id", "client_secret"])
@pytest.mark.parametrize(
    "value",
    [
        pytest.param(None, id="none"),
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param(12345, id="int"),
    ],
)
def test_client_credentials_are_required(make_middleware: t.Any, option: str, value: object) -> None:
    message = refused(make_middleware, **{option: value})
    assert option in message
    assert "GitHub OAuth app" in message  # says where to get it


def test_client_credentials_with_whitespace_are_refused(make_middleware: t.Any) -> None:
    message = refused(make_middleware, client_secret=CLIENT_SECRET + "\n")
    assert "client_secret" in message and "whitespace" in message
    assert CLIENT_SECRET not in message


# -- secret_key ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("s" * 31, id="str-31"),
        pytest.param(b"s" * 31, id="bytes-31"),
        pytest.param("", id="empty-str"),
        pytest.param(["s" * 31], id="list-with-short"),
        pytest.param(["s" * 40, b"t" * 10], id="list-with-short-fallback"),
        pytest.param(("s" * 40, "short"), id="tuple-with-short"),
    ],
)
def test_short_secret_key_is_refused(make_middleware: t.Any, value: object) -> None:
    message = refused(make_middleware, secret_key=value)
    assert "secret_key" in message
    assert "32" in message
    assert "secrets.token_urlsafe" in message  # how to generate one
    for key in value if isinstance(value, (list, tuple)) else [value]:
        if key:
            assert str(key) not in message and repr(key) not in message  # never echoes a secret


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(None, id="none"),
        pytest.param([], id="empty-list"),
        pytest.param(12345, id="int"),
        pytest.param(["s" * 40, 12345], id="list-with-int"),
    ],
)
def test_missing_or_wrong_type_secret_key_is_refused(make_middleware: t.Any, value: object) -> None:
    assert "secret_key" in refused(make_middleware, secret_key=value)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(KEY_32, id="str-32"),
        pytest.param(bytes(range(32)), id="bytes-32"),
        pytest.param("éàüøçñßæœåîôûëïÿ", id="str-32-utf8-bytes"),
        pytest.param([KEY_32, bytes(range(64))], id="list"),
        pytest.param((KEY_32,), id="tuple"),
    ],
)
def test_secret_key_accepted_forms(make_middleware: t.Any, value: object) -> None:
    middleware = make_middleware(secret_key=value)
    assert all(isinstance(key, bytes) and len(key) >= 32 for key in middleware.secret_keys)


# -- paths ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["login_path", "callback_path", "logout_path"])
@pytest.mark.parametrize(
    "value",
    [
        pytest.param("auth/login", id="relative"),
        pytest.param("", id="empty"),
        pytest.param("//evil.example/login", id="double-slash"),
        pytest.param("https://app.example.com/auth/x", id="absolute-url"),
        pytest.param("/auth/x?next=/", id="query"),
        pytest.param("/auth/x#frag", id="fragment"),
        pytest.param("/auth/../x", id="dot-segment"),
        pytest.param("/auth x", id="space"),
        pytest.param(None, id="none"),
    ],
)
def test_bad_paths_are_refused(make_middleware: t.Any, option: str, value: object) -> None:
    assert option in refused(make_middleware, **{option: value})


@pytest.mark.parametrize("option", ["login_path", "callback_path", "logout_path"])
def test_root_is_not_a_valid_own_path(make_middleware: t.Any, option: str) -> None:
    message = refused(make_middleware, **{option: "/"})
    assert option in message and "'/'" in message


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"login_path": "/auth/callback"}, id="login=callback"),
        pytest.param({"logout_path": "/auth/login"}, id="logout=login"),
        pytest.param({"logout_path": "/auth/callback/"}, id="trailing-slash-still-collides"),
    ],
)
def test_colliding_paths_are_refused(make_middleware: t.Any, options: dict[str, str]) -> None:
    message = refused(make_middleware, **options)
    assert sum(name in message for name in ("login_path", "callback_path", "logout_path")) == 2


def test_custom_paths_are_served(make_app: t.Any, github: t.Any) -> None:
    app = make_app(login_path="/sso/start", callback_path="/sso/done", logout_path="/sso/bye/")
    response = app.get("/sso/start", status=302)
    assert "redirect_uri=https%3A%2F%2Fapp.example.com%2Fsso%2Fdone" in response.headers["Location"]
    assert app.get("/auth/login").json["path"] == "/auth/login"  # the defaults are the app's now
    app.get("/sso/bye", status=200)


# -- scope ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("read:user,user:email", ("read:user", "user:email"), id="comma"),
        pytest.param("read:user user:email", ("read:user", "user:email"), id="space"),
        pytest.param(" read:user ,  user:email ", ("read:user", "user:email"), id="messy"),
        pytest.param(["repo", "gist"], ("repo", "gist"), id="list"),
        pytest.param(("repo", "repo"), ("repo",), id="duplicates"),
        pytest.param("", (), id="empty"),
    ],
)
def test_scope_forms(make_middleware: t.Any, value: object, expected: tuple[str, ...]) -> None:
    assert make_middleware(scope=value).scope == expected


def test_scope_reaches_the_authorize_url(make_app: t.Any) -> None:
    response = make_app(scope="read:user,repo").get("/auth/login", status=302)
    assert "scope=read%3Auser+repo" in response.headers["Location"]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(["read:user", ""], id="empty-item"),
        pytest.param(["read user"], id="space-in-item"),
        pytest.param([1, 2], id="ints"),
        pytest.param(None, id="none"),
        pytest.param(["a\nb"], id="newline"),
    ],
)
def test_bad_scope_is_refused(make_middleware: t.Any, value: object) -> None:
    assert "scope" in refused(make_middleware, scope=value)


# -- http vs https -------------------------------------------------------------------------------


def test_http_provider_needs_allow_insecure_http(make_middleware: t.Any) -> None:
    message = refused(make_middleware, provider=GitHub("http://ghe.local"))
    assert "allow_insecure_http" in message
    assert "http://ghe.local" in message
    with pytest.warns(UserWarning, match="local development"):
        middleware = make_middleware(provider=GitHub("http://ghe.local"), allow_insecure_http=True)
    assert middleware.provider.token_url == "http://ghe.local/login/oauth/access_token"


def test_http_redirect_uri_needs_allow_insecure_http(make_middleware: t.Any) -> None:
    uri = "http://localhost:5000/auth/callback"
    message = refused(make_middleware, redirect_uri=uri)
    assert "redirect_uri" in message and "allow_insecure_http" in message
    with pytest.warns(UserWarning, match="allow_insecure_http"):
        assert make_middleware(redirect_uri=uri, allow_insecure_http=True).redirect_uri == uri


def test_https_configuration_does_not_warn(make_middleware: t.Any) -> None:
    # pytest turns warnings into errors here: constructing must be silent
    make_middleware(provider=GitHub("https://ghe.example.com"), redirect_uri="https://a.example/auth/callback")


@pytest.mark.parametrize(
    ("value", "words"),
    [
        pytest.param("https://app.example.com/auth/other", ("callback_path",), id="wrong-path"),
        pytest.param("https://app.example.com/", ("callback_path",), id="root"),
        pytest.param("https://app.example.com/auth/callback#x", ("fragment",), id="fragment"),
        pytest.param("https://app.example.com/auth/callback#", ("fragment",), id="empty-fragment"),
        pytest.param("https://app.example.com/auth/callback?x=1", ("query",), id="query"),
        pytest.param("/auth/callback", ("absolute",), id="relative"),
        pytest.param("ftp://app.example.com/auth/callback", ("https",), id="ftp"),
        pytest.param("https:///auth/callback", ("absolute",), id="no-host"),
        pytest.param(42, ("redirect_uri",), id="int"),
    ],
)
def test_bad_redirect_uri_is_refused(make_middleware: t.Any, value: object, words: tuple[str, ...]) -> None:
    message = refused(make_middleware, redirect_uri=value)
    assert "redirect_uri" in message
    for word in words:
        assert word in message


def test_redirect_uri_is_sent_as_given(make_app: t.Any) -> None:
    uri = "https://public.example.com/prefix/auth/callback"
    response = make_app(redirect_uri=uri).get("/auth/login", status=302)
    assert "redirect_uri=https%3A%2F%2Fpublic.example.com%2Fprefix%2Fauth%2Fcallback" in response.headers["Location"]


@pytest.mark.parametrize(
    "provider",
    [
        pytest.param("github", id="string"),
        pytest.param(None.__class__, id="type"),
        pytest.param(
            Provider(name="x", authorize_url="https://x/a", token_url="https://x/t", api_base_url="https://x/api"),
            id="api-base-without-slash",
        ),
        pytest.param(
            Provider(name="x", authorize_url="https://x/a", token_url="ftp://x/t", api_base_url="https://x/api/"),
            id="ftp-token-url",
        ),
    ],
)
def test_bad_provider_is_refused(make_middleware: t.Any, provider: object) -> None:
    assert "provider" in refused(make_middleware, provider=provider)


# -- require_login and public_paths --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "protected", "open_"),
    [
        pytest.param(False, [], ["/", "/admin"], id="false"),
        pytest.param(True, ["/", "/admin", "/static/x"], [], id="true"),
        pytest.param(["/admin", "/api/"], ["/admin", "/admin/x", "/api/v1"], ["/", "/administrator"], id="list"),
        pytest.param(("/admin",), ["/admin/x"], ["/adminx"], id="tuple"),
    ],
)
def test_require_login_forms(make_app: t.Any, value: object, protected: list[str], open_: list[str]) -> None:
    app = make_app(require_login=value)
    for path in protected:
        assert app.get(path, headers={"Accept": "application/json"}, status=401).json["error"] == "login_required"
    for path in open_:
        assert app.get(path, status=200).json["remote_user"] is None


def test_public_paths_are_never_protected(make_app: t.Any) -> None:
    app = make_app(require_login=True, public_paths=["/static", "/healthz"])
    app.get("/static/app.css", status=200)
    app.get("/healthz", status=200)
    # a dot segment never reaches the app: the canonical path is where the decision is made
    assert app.get("/static/../admin", headers={"Accept": "application/json"}, status=308).location.endswith("/admin")
    app.get("/admin", headers={"Accept": "application/json"}, status=401)
    app.get("/other", headers={"Accept": "application/json"}, status=401)


@pytest.mark.parametrize("option", ["public_paths", "require_login"])
@pytest.mark.parametrize(
    "value",
    [
        pytest.param("/static", id="string"),
        pytest.param(["static"], id="relative-item"),
        pytest.param([None], id="none-item"),
        pytest.param(42, id="int"),
    ],
)
def test_bad_path_lists_are_refused(make_middleware: t.Any, option: str, value: object) -> None:
    message = refused(make_middleware, **{option: value})
    assert option in message


def test_string_public_paths_message_suggests_a_list(make_middleware: t.Any) -> None:
    assert "['/static']" in refused(make_middleware, public_paths="/static")


# -- numbers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(0, id="zero"),
        pytest.param(-1, id="negative"),
        pytest.param(True, id="bool"),
        pytest.param("3600", id="string"),
        pytest.param(None, id="none"),
    ],
)
def test_bad_max_age_is_refused(make_middleware: t.Any, value: object) -> None:
    assert "max_age" in refused(make_middleware, max_age=value)


def test_max_age_is_used(make_middleware: t.Any) -> None:
    assert make_middleware(max_age=60).sessions.max_age == 60


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(0, id="zero"),
        pytest.param(-5, id="negative"),
        pytest.param(False, id="bool"),
        pytest.param("10", id="string"),
        pytest.param((1, 0), id="pair-with-zero"),
        pytest.param((0, 5), id="pair-zero-connect"),
        pytest.param((1, "2"), id="pair-with-string"),
        pytest.param(float("nan"), id="nan"),
    ],
)
def test_bad_timeout_is_refused(make_middleware: t.Any, value: object) -> None:
    assert "timeout" in refused(make_middleware, timeout=value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(5, 5.0, id="int"),
        pytest.param(2.5, 2.5, id="float"),
        pytest.param((1, 2), (1.0, 2.0), id="pair"),
    ],
)
def test_timeout_forms(make_middleware: t.Any, value: object, expected: object) -> None:
    middleware = make_middleware(timeout=value)
    assert middleware.timeout == expected
    assert middleware.client.timeout == expected


# -- cookie_name, secure, app, clock -------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("a;b", id="semicolon"),
        pytest.param("a=b", id="equals"),
        pytest.param("a b", id="space"),
        pytest.param("", id="empty"),
        pytest.param("__Host-x", id="own-prefix"),
        pytest.param("sessión", id="non-ascii"),
        pytest.param("a\r\nSet-Cookie: x", id="crlf"),
        pytest.param(None, id="none"),
    ],
)
def test_bad_cookie_name_is_refused(make_middleware: t.Any, value: object) -> None:
    assert "cookie_name" in refused(make_middleware, cookie_name=value)


def test_cookie_name_is_used(make_app: t.Any) -> None:
    response = make_app(cookie_name="my-app_1").get("/auth/login", status=302)
    assert response.headers["Set-Cookie"].startswith("__Host-my-app_1.flow.")


@pytest.mark.parametrize("value", [pytest.param("yes", id="string"), pytest.param(1, id="int")])
def test_bad_secure_is_refused(make_middleware: t.Any, value: object) -> None:
    assert "secure" in refused(make_middleware, secure=value)


@pytest.mark.parametrize("app", [pytest.param(None, id="none"), pytest.param("app:main", id="string")])
def test_non_callable_app_is_refused(make_middleware: t.Any, app: object) -> None:
    assert "app" in refused(make_middleware, app=app)


def test_configuration_error_is_a_value_error(make_middleware: t.Any) -> None:
    with pytest.raises(ValueError, match="max_age"):
        make_middleware(max_age=0)


# -- no process-wide oauthlib switches -----------------------------------------------------------


def test_a_whole_login_leaves_the_oauthlib_variables_alone(
    make_app: t.Any, github: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in OAUTHLIB_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    app = make_app()
    github.token_body = {"access_token": "gho_x", "scope": "repo,gist", "token_type": "bearer"}  # scope changed
    log_in(app)
    assert app.get("/page").json["remote_user"] == "octocat"
    app.post("/auth/logout", status=303)
    for name in OAUTHLIB_VARIABLES:
        assert name not in os.environ


def _docstring_nodes(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _offenders(text: str, filename: str) -> list[str]:
    """Lines outside comments and docstrings that name an oauthlib environment variable."""
    tree = ast.parse(text)
    docstrings = _docstring_nodes(tree)
    offenders = []
    for node in ast.walk(tree):
        is_code_string = isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
        if is_code_string and any(name in str(node.value).upper() for name in OAUTHLIB_VARIABLES):
            offenders.append("%s:%d" % (filename, node.lineno))
        if isinstance(node, ast.Name) and any(name in node.id.upper() for name in OAUTHLIB_VARIABLES):
            offenders.append("%s:%d" % (filename, node.lineno))
    for number, line in enumerate(text.splitlines(), 1):
        code = line.split("#", 1)[0]
        if re.search(r"os\.(environ|putenv|unsetenv)", code) and "OAUTHLIB" in code:
            offenders.append("%s:%d" % (filename, number))
    return sorted(set(offenders))


def test_the_source_check_finds_environ_use_but_not_docstrings() -> None:
    sample = (
        '"""Never set ``OAUTHLIB_INSECURE_TRANSPORT``."""\n'
        "import os\n"
        "# OAUTHLIB_RELAX_TOKEN_SCOPE is not needed\n"
        "def f():\n"
        '    """OAUTHLIB_RELAX_TOKEN_SCOPE: see above."""\n'
        '    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"\n'
        '    os.environ.setdefault("oauthlib_relax_token_scope", "1")\n'
    )
    assert _offenders(sample, "x.py") == ["x.py:6", "x.py:7"]


def test_package_source_never_sets_the_oauthlib_variables() -> None:
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) >= 10
    offenders = []
    for source in sources:
        offenders += _offenders(source.read_text(encoding="utf-8"), str(source.relative_to(PACKAGE)))
    assert offenders == []
