"""The public testing helpers work as the README shows: login_as, session_cookie, the fixtures."""

from __future__ import annotations

import typing as t

import flask
import pytest
import webtest

from oauth_middleware import OAuthMiddleware
from oauth_middleware.testing import FakeGitHub, login_as, logout, mount_under, session_cookie

SECRET = "testing-secret-key-0123456789abcdefghij"


def make_flask_app(**options: t.Any) -> flask.Flask:
    app = flask.Flask(__name__)

    @app.route("/dashboard")
    def dashboard() -> t.Any:
        user = flask.request.environ["oauth_middleware.user"]
        return {"remote_user": flask.request.environ["REMOTE_USER"], "id": user["id"], "name": user["name"]}

    @app.route("/token")
    def token() -> t.Any:
        return flask.request.environ.get("oauth_middleware.token") or {}

    options.setdefault("require_login", True)
    app.wsgi_app = OAuthMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, client_id="id", client_secret="secret", secret_key=SECRET, **options
    )
    return app


def test_login_as_logs_a_flask_testapp_in_without_network() -> None:
    testapp = webtest.TestApp(make_flask_app(), extra_environ={"wsgi.url_scheme": "https"})
    testapp.get("/dashboard", headers={"Accept": "text/html"}, status=302)
    login_as(testapp, {"login": "octocat", "id": 1, "name": "The Octocat"})
    assert testapp.get("/dashboard").json == {"remote_user": "octocat", "id": 1, "name": "The Octocat"}
    logout(testapp)
    testapp.get("/dashboard", headers={"Accept": "text/html"}, status=302)


def test_login_as_over_plain_http_and_with_a_login_only() -> None:
    with pytest.warns(UserWarning, match="allow_insecure_http"):
        app = make_flask_app(allow_insecure_http=True)
    testapp = webtest.TestApp(app)  # WebTest's default: http://localhost
    profile = login_as(testapp, "hubot")
    body = testapp.get("/dashboard").json
    assert body["remote_user"] == "hubot" and body["id"] == profile["id"]


def test_login_as_with_a_custom_token() -> None:
    testapp = webtest.TestApp(make_flask_app(), extra_environ={"wsgi.url_scheme": "https"})
    login_as(testapp, "octocat", token={"access_token": "t", "token_type": "bearer", "scope": ["repo"]})
    assert testapp.get("/token").json["scope"] == ["repo"]


def test_login_as_needs_the_middleware() -> None:
    testapp = webtest.TestApp(flask.Flask(__name__))
    with pytest.raises(LookupError, match="middleware="):
        login_as(testapp, "octocat")


def test_session_cookie_factory_is_honoured_and_expires(make_middleware: t.Any, clock: t.Any) -> None:
    from conftest import HTTPS, downstream

    middleware = make_middleware(downstream, max_age=60)
    cookies = session_cookie(middleware, "octocat")
    assert list(cookies) == ["__Host-oauth_session"]
    testapp = webtest.TestApp(middleware, extra_environ=HTTPS)
    header = "; ".join("%s=%s" % item for item in cookies.items())
    assert testapp.get("/", headers={"Cookie": header}).json["remote_user"] == "octocat"
    clock.advance(61)
    assert testapp.get("/", headers={"Cookie": header}).json["remote_user"] is None


def test_fixtures_give_a_middleware_wired_to_the_fake(
    fake_github: FakeGitHub, github_middleware: t.Callable[..., OAuthMiddleware]
) -> None:
    app = flask.Flask(__name__)
    app.route("/dashboard")(lambda: {"remote_user": flask.request.environ["REMOTE_USER"]})
    https = {"wsgi.url_scheme": "https", "HTTP_HOST": "app.example.com"}
    testapp = webtest.TestApp(github_middleware(app.wsgi_app, require_login=True), extra_environ=https)
    authorize = testapp.get("/auth/login?next=/dashboard", status=302).headers["Location"]
    assert authorize.startswith(fake_github.base_url + "/login/oauth/authorize?")
    approved = webtest.TestApp(fake_github).get(authorize[len(fake_github.base_url) :], status=302)
    callback = approved.headers["Location"]
    assert callback.startswith("https://app.example.com/auth/callback?")
    back = testapp.get(callback[len("https://app.example.com") :], status=302)
    assert back.headers["Location"] == "/dashboard"
    assert fake_github.token_requests == 1
    assert testapp.get("/dashboard").json == {"remote_user": "octocat"}


def test_mount_under_routes_a_prefix() -> None:
    def inner(environ: t.Any, start_response: t.Any) -> list[bytes]:
        start_response("200 OK", [])
        return [("%s|%s" % (environ["SCRIPT_NAME"], environ["PATH_INFO"])).encode()]

    def outer(environ: t.Any, start_response: t.Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b"outer"]

    testapp = webtest.TestApp(mount_under("/fake", inner, outer))
    assert testapp.get("/fake/login/x").text == "/fake|/login/x"
    assert testapp.get("/fake").text == "/fake|"
    assert testapp.get("/fakeness").text == "outer"
    assert testapp.get("/").text == "outer"


def test_login_as_with_groups_as_the_readme_shows() -> None:
    app = make_flask_app()
    app.route("/groups")(lambda: {"groups": flask.request.environ["oauth_middleware.groups"]})
    testapp = webtest.TestApp(app, extra_environ={"wsgi.url_scheme": "https"})
    login_as(testapp, "hubot", groups=["octo-org", "octo-org/ops"])
    assert testapp.get("/groups").json == {"groups": ["octo-org", "octo-org/ops"]}
