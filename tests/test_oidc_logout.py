"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0), opt in with
``OpenIDConnect(..., end_session=True)``: our POST logout ends our session, then sends the browser
(303) to the provider's discovered ``end_session_endpoint`` with ``id_token_hint``,
``post_logout_redirect_uri`` (our validated ``next`` on our own origin) and ``client_id``. Against
FakeOIDC in-process here; tests/test_oidc_provider_login.py does it against the real oidc-provider."""

from __future__ import annotations

import logging
import typing as t
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import requests.adapters
import webtest

from oauth_middleware import OAuthMiddleware
from oauth_middleware.testing.fake_oidc import FakeOIDC

SECRET = "k" * 8 + "Zq3v9XwY2p7LmN4rT6sB1cD5fG8hJ0aE"
SESSION = "__Host-oauth_session"


def _hello(environ: t.Any, start_response: t.Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("hello %s" % environ.get("REMOTE_USER")).encode()]


class Site:
    """The middleware around a hello app, logged in to a FakeOIDC (in-process) as alice."""

    def __init__(self, *, end_session: bool = True, fake: FakeOIDC | None = None, **options: t.Any) -> None:
        self.fake = fake or FakeOIDC(auto_approve="alice")
        self.middleware = OAuthMiddleware(
            _hello,
            provider=self.fake.provider(end_session=end_session),
            client_id=self.fake.client_id,
            client_secret=self.fake.client_secret,
            secret_key=SECRET,
            **options,
        )
        self.fake.mount(self.middleware.http)
        self.app = webtest.TestApp(self.middleware, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "app.test"})
        self.browser = webtest.TestApp(self.fake)
        location = self.app.get("/auth/login").headers["Location"]
        back = self.browser.get(location[len(self.fake.base_url) :]).headers["Location"]
        self.app.get(urlsplit(back).path + "?" + urlsplit(back).query)  # whatever the callback's host
        assert self.app.get("/").text == "hello alice"
        self.id_token = self.session_token()["id_token"]

    def session_token(self) -> dict[str, t.Any]:
        cookies = {SESSION: str(self.app.cookies[SESSION])}
        loaded = self.middleware.sessions.load(cookies, secure=True, now=self.fake.clock())
        assert loaded is not None
        return loaded.session.token

    def log_out(self, next_url: str = "/") -> webtest.TestResponse:
        return self.app.post("/auth/logout", {"next": next_url}, status=303)


def test_logout_ends_our_session_then_the_providers(caplog: pytest.LogCaptureFixture) -> None:
    site = Site(fake=FakeOIDC(auto_approve="alice", post_logout_redirect_uris=["https://app.test/bye"]))
    caplog.set_level(logging.DEBUG)
    response = site.log_out("/bye")

    location = response.headers["Location"]
    assert location.startswith(site.fake.base_url + "/logout?")
    query = {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}
    assert query == {"post_logout_redirect_uri": "https://app.test/bye", "client_id": site.fake.client_id}
    assert site.id_token not in location and site.id_token.split(".")[1] not in location  # no token in a URL
    assert site.app.get("/").text == "hello None"  # our session is over before the browser leaves
    assert any(c.startswith(SESSION + "=;") or "Max-Age=0" in c for c in response.headers.getall("Set-Cookie"))

    at_provider = site.browser.get(location[len(site.fake.base_url) :], status=302)
    assert at_provider.headers["Location"] == "https://app.test/bye"
    assert site.fake.logouts == [{"sub": None, "post_logout_redirect_uri": query["post_logout_redirect_uri"]}]
    assert "logged alice out; ending the session at Single sign-on too" in caplog.text
    assert site.id_token not in caplog.text and site.id_token.split(".")[1] not in caplog.text


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"]
)
def test_the_way_back_from_the_provider_is_never_an_open_redirect(next_url: str) -> None:
    query = parse_qs(urlsplit(Site().log_out(next_url).headers["Location"]).query)
    assert query["post_logout_redirect_uri"] == ["https://app.test/"]


def test_the_way_back_is_on_the_configured_redirect_uris_origin() -> None:
    site = Site(redirect_uri="https://app.example.com/auth/callback")
    query = parse_qs(urlsplit(site.log_out("/see-you?x=1").headers["Location"]).query)
    assert query["post_logout_redirect_uri"] == ["https://app.example.com/see-you?x=1"]


@pytest.mark.parametrize("case", ["off", "not published", "discovery down"])
def test_otherwise_the_logout_stays_local(case: str, caplog: pytest.LogCaptureFixture) -> None:
    site = Site(end_session=case != "off")
    if case == "not published":
        site.fake.discovery_overrides["end_session_endpoint"] = None
        site.middleware.provider.runtime(site.middleware.client).discovery.max_age = 0  # type: ignore[attr-defined]
    if case == "discovery down":
        site.middleware.http.mount(site.fake.base_url + "/", _Down())
        site.middleware.provider.runtime(site.middleware.client).discovery.max_age = 0  # type: ignore[attr-defined]
    response = site.log_out("/bye")
    assert response.headers["Location"] == "/bye"
    assert site.app.get("/").text == "hello None"
    assert site.fake.logouts == []
    expected = {
        "off": "",
        "not published": "publishes no end_session_endpoint; logged out locally",
        "discovery down": "could not log alice out at Single sign-on; logged out locally",
    }
    assert expected[case] in caplog.text


class _Down(requests.adapters.BaseAdapter):
    """A transport adapter that cannot reach the provider."""

    def send(self, request: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
        raise requests.ConnectionError("provider unreachable")

    def close(self) -> None:
        pass


def test_an_anonymous_logout_stays_local() -> None:
    site = Site()
    site.app.reset()
    assert site.log_out("/bye").headers["Location"] == "/bye"


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({}, 302),
        ({"id_token_hint": "not.a.token"}, 400),
        ({"client_id": "another-client"}, 400),
        ({"post_logout_redirect_uri": "https://evil.example/"}, 400),
    ],
)
def test_fake_oidc_end_session_checks_what_a_provider_checks(change: dict[str, str], status: int) -> None:
    fake = FakeOIDC(post_logout_redirect_uris=["https://app.test/"])
    anywhere = FakeOIDC()  # none registered: a redirect needs one of its id_tokens
    webtest.TestApp(anywhere).get(
        "/logout", {"client_id": anywhere.client_id, "post_logout_redirect_uri": "https://evil.example/"}, status=400
    )
    params = {
        "id_token_hint": fake.id_token("alice", exp=1),  # long expired: still a valid hint
        "post_logout_redirect_uri": "https://app.test/",
        "client_id": fake.client_id,
        **change,
    }
    webtest.TestApp(fake).get("/logout", params, status=status)
    assert len(fake.logouts) == (1 if status == 302 else 0)
