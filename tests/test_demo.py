"""The demo app itself: what a newcomer sees, without a server (the e2e tests cover gunicorn)."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import typing as t

import pytest
import webtest

from oauth_middleware.testing import FakeGitHub

ROOT = pathlib.Path(__file__).parent.parent

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
    fake_octocat = {user.login: user for user in FakeGitHub().users}["octocat"]
    assert fake_octocat.name == "monalisa octocat"  # one octocat everywhere: the demo's is the fake's
    assert fake_octocat.name in profile and fake_octocat.email in profile and "<img" in profile


def test_demo_provider_oidc_logs_in_through_the_embedded_fake_oidc(demo: t.Any) -> None:
    """``DEMO_PROVIDER=oidc``: the fake OpenID Provider's consent page under /_fake_oidc, a login
    as alice (discovery, token, id_token validation in-process), her profile, and a logout that
    ends the session at the fake too and comes back home."""
    app = demo.create_app(
        {"DEMO_PROVIDER": "oidc", "GITHUB_OAUTH_CLIENT_ID": "ignored", "GITHUB_OAUTH_CLIENT_SECRET": "x"}
    )
    testapp = webtest.TestApp(app, extra_environ={"HTTP_HOST": "127.0.0.1:5000"})
    home = testapp.get("/")
    assert "embedded fake OpenID Provider" in home.text and "Log in with Fake OIDC" in home.text
    to_fake = testapp.get("/auth/login", {"next": "/profile"}, status=302)
    assert to_fake.location.startswith("/_fake_oidc/authorize?")
    consent = testapp.get(to_fake.location, status=200)
    assert "Sign in to fake-oidc-client" in consent.text
    form = consent.forms[0]
    form["user"] = "alice"
    back = form.submit("decision", value="approve", status=302)
    assert back.location.startswith("http://127.0.0.1:5000/auth/callback?")
    assert testapp.get(back.location, status=302).location == "/profile"
    profile = testapp.get("/profile").text
    assert "Alice Example" in profile and "@alice" in profile and "id 248289761001" in profile
    assert testapp.get("/api/me").json["login"] == "alice"

    bye = testapp.post("/auth/logout", {"next": "/"}, headers={"Sec-Fetch-Site": "same-origin"}, status=303)
    assert bye.location.startswith("/_fake_oidc/logout?") and "client_id=" in bye.location
    assert "id_token_hint" not in bye.location
    assert testapp.get(bye.location, status=302).location == "http://127.0.0.1:5000/"
    assert "Log in with Fake OIDC" in testapp.get("/").text


def test_demo_provider_names_a_known_provider(demo: t.Any) -> None:
    with pytest.raises(ValueError, match="DEMO_PROVIDER must be one of github, oidc"):
        demo.create_app({"DEMO_PROVIDER": "okta"})


def test_with_credentials_the_demo_uses_github(demo: t.Any) -> None:
    app = demo.create_app({"GITHUB_OAUTH_CLIENT_ID": "Iv1.real", "GITHUB_OAUTH_CLIENT_SECRET": "s3cret"})
    testapp = webtest.TestApp(app, extra_environ={"HTTP_HOST": "127.0.0.1:5000"})
    assert "embedded fake" not in testapp.get("/").text
    location = testapp.get("/auth/login", status=302).location
    assert location.startswith("https://github.com/login/oauth/authorize?") and "client_id=Iv1.real" in location


def test_page_titles_name_the_demo_once(demo: t.Any) -> None:
    testapp = webtest.TestApp(demo.create_app({}), extra_environ={"HTTP_HOST": "127.0.0.1:5000"})
    assert testapp.get("/").html.title.string == "oauth-middleware demo"
    assert testapp.get("/profile").html.title.string == "Profile - oauth-middleware demo"


def test_the_demo_prints_each_warning_once(tmp_path: pathlib.Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OAUTH_MIDDLEWARE_", "GITHUB_OAUTH_"))}
    env["TMPDIR"] = str(tmp_path)  # the demo's key file goes there
    started = subprocess.run(
        [sys.executable, "-c", "import demo_app"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert started.returncode == 0, started.stderr
    lines = [line for line in started.stderr.splitlines() if line.strip()]
    for words in ("OAUTH_MIDDLEWARE_SECRET_KEY is not set", "allow_insecure_http=True", "embedded fake GitHub"):
        assert len([line for line in lines if words in line]) == 1, (words, lines)
