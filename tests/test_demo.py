"""The demo app itself: what a newcomer sees, without a server (the e2e tests cover gunicorn)."""

from __future__ import annotations

import typing as t

import pytest
import webtest

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # the demo warns about its dev key


@pytest.fixture
def demo(monkeypatch: pytest.MonkeyPatch) -> t.Any:
    monkeypatch.setenv("OAUTH_MIDDLEWARE_SECRET_KEY", "demo-test-key-not-a-pattern-0123456789")
    import demo_app

    return demo_app


def test_the_dev_server_logs_paths_without_query_strings(demo: t.Any) -> None:
    """The callback's query string carries the code and state: the demo's access log drops it."""
    handler = object.__new__(demo.PathOnlyRequestHandler)
    handler.command, handler.request_version = "GET", "HTTP/1.1"
    handler.path = "/auth/callback?code=SECRETCODE&state=SECRETSTATE"
    handler.requestline = "GET " + handler.path + " HTTP/1.1"
    lines: list[str] = []
    handler.log = lambda kind, message, *args: lines.append(message % args)  # type: ignore[method-assign]
    handler.log_request(302, "-")
    assert lines and "/auth/callback" in lines[0]
    assert "SECRET" not in lines[0]


def test_without_credentials_the_demo_uses_the_fake_and_says_so(demo: t.Any) -> None:
    app = demo.create_app({"DEMO_AUTO_APPROVE": "octocat"})
    testapp = webtest.TestApp(app, extra_environ={"HTTP_HOST": "127.0.0.1:5000"})
    home = testapp.get("/")
    assert "embedded fake" in home.text and "Log in with GitHub" in home.text
    assert testapp.get("/api/me", status=401).json["error"] == "login_required"
    to_login = testapp.get("/private", headers={"Accept": "text/html"}, status=302)
    to_fake = testapp.get(to_login.location, status=302)
    assert to_fake.location.startswith("/_fake_github/login/oauth/authorize?")
    back = testapp.get(to_fake.location, status=302)
    testapp.get(back.location, status=302)
    assert testapp.get("/api/me").json["login"] == "octocat"
    profile = testapp.get("/profile").text
    assert "The Octocat" in profile and "octocat@github.com" in profile and "<img" in profile


def test_with_credentials_the_demo_uses_github(demo: t.Any) -> None:
    app = demo.create_app({"GITHUB_OAUTH_CLIENT_ID": "Iv1.real", "GITHUB_OAUTH_CLIENT_SECRET": "s3cret"})
    testapp = webtest.TestApp(app, extra_environ={"HTTP_HOST": "127.0.0.1:5000"})
    assert "embedded fake" not in testapp.get("/").text
    location = testapp.get("/auth/login", status=302).location
    assert location.startswith("https://github.com/login/oauth/authorize?") and "client_id=Iv1.real" in location
