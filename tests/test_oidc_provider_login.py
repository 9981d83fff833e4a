"""A full login through the middleware against a real OpenID Certified provider (panva's
oidc-provider on 127.0.0.1): WebTest drives our app and, through a small proxy, the provider's own
login and consent forms; the middleware discovers, redeems with PKCE and client_secret_basic,
validates the id_token with the provider's real keys, reads UserInfo, and refreshes with a
rotating refresh token."""

from __future__ import annotations

import json
import typing as t
from urllib.parse import urlsplit

import pytest
import requests
import webtest

from oauth_middleware import OAuthMiddleware
from oauth_middleware.oidc import OpenIDConnect
from tests.support import oidc_provider as harness
from tests.support.oidc_provider import CLIENT_ID, CLIENT_SECRET, MAX_HOPS, REDIRECT_URI
from tests.support.servers import Server

pytestmark = pytest.mark.e2e
SECRET = "k" * 8 + "Zq3v9XwY2p7LmN4rT6sB1cD5fG8hJ0aE"


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Server]:
    yield from harness.start(tmp_path_factory)


class Clock:
    def __init__(self) -> None:
        import time

        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _seen(environ: t.Any, start_response: t.Any) -> list[bytes]:
    keys = ("REMOTE_USER", "oauth_middleware.user_id", "oauth_middleware.groups", "oauth_middleware.user")
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({key: environ.get(key) for key in keys}).encode()]


def _log_in(
    app: webtest.TestApp,
    browser: webtest.TestApp,
    provider: Server,
    before_callback: t.Callable[[], None] = lambda: None,
) -> webtest.TestResponse:
    """Start at our login path, fill in the provider's forms with WebTest, come back (calling
    ``before_callback`` just before the browser reaches our callback)."""
    response = browser.get(app.get("/auth/login").headers["Location"])
    for _ in range(MAX_HOPS):
        location = response.headers.get("Location", "")
        if location.startswith(REDIRECT_URI):
            parts = urlsplit(location)
            before_callback()
            return app.get(parts.path + "?" + parts.query)
        if response.status_int in (302, 303):
            response = browser.get(location if "://" in location else provider.url + location)
            continue
        form = response.forms[0]
        if "login" in form.fields:
            form["login"] = "alice"
            form["password"] = "any password"
        response = form.submit()
    raise AssertionError("the login did not come back in %d hops" % MAX_HOPS)


@pytest.mark.filterwarnings("ignore:allow_insecure_http=True:UserWarning")
def test_a_full_login_and_a_refresh_through_the_middleware(provider: Server) -> None:
    clock = Clock()
    middleware = OAuthMiddleware(
        _seen,
        provider=OpenIDConnect(provider.url, groups_claim="groups", userinfo=True),
        scope="openid email profile groups",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        secret_key=SECRET,
        redirect_uri=REDIRECT_URI,
        allow_insecure_http=True,  # the provider listens on http://127.0.0.1 only
        allowed_groups=["admins"],
        clock=clock,
    )
    app = webtest.TestApp(middleware, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "app.example.com"})
    browser = webtest.TestApp(harness.Proxy(provider.url), extra_environ={"HTTP_HOST": urlsplit(provider.url).netloc})

    assert _log_in(app, browser, provider).status_int == 302
    seen = app.get("/").json
    assert seen["REMOTE_USER"] == "alice" and seen["oauth_middleware.user_id"] == "alice"
    assert seen["oauth_middleware.groups"] == ["admins", "staff"]
    assert seen["oauth_middleware.user"]["email"] == "alice@example.com"

    def session_token() -> dict[str, t.Any]:
        cookies = {"__Host-oauth_session": app.cookies["__Host-oauth_session"]}
        loaded = middleware.sessions.load(cookies, secure=True, now=clock())
        assert loaded is not None
        return loaded.session.token

    first = session_token()
    expires_in = first["expires_at"] - clock.now
    clock.now += expires_in - 60  # within the refresh margin: the next request refreshes
    assert app.get("/").json["REMOTE_USER"] == "alice"
    second = session_token()
    assert second["refresh_token"] != first["refresh_token"]  # rotated by the provider
    assert second["access_token"] != first["access_token"]


@pytest.mark.filterwarnings("ignore:allow_insecure_http=True:UserWarning")
def test_keys_rotated_between_login_start_and_callback_cost_one_jwks_refetch(provider: Server) -> None:
    """The provider rotates its signing keys while a login is at its consent page: the callback's
    id_token carries a kid the cached key set lacks, the middleware refetches the JWKS once, finds
    the new key and logs the user in."""
    clock = Clock()
    middleware = OAuthMiddleware(
        _seen,
        provider=OpenIDConnect(provider.url, username_claim="sub"),  # no userinfo: sub is in the id_token
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        secret_key=SECRET,
        redirect_uri=REDIRECT_URI,
        allow_insecure_http=True,  # the provider listens on http://127.0.0.1 only
        clock=clock,
    )
    jwks_fetches: list[str] = []
    jwks_uri = provider.url + "/jwks"
    middleware.http.hooks["response"].append(
        lambda answer, *args, **kwargs: jwks_fetches.append(answer.url) if answer.url == jwks_uri else None
    )
    oidc = t.cast(OpenIDConnect, middleware.provider)
    keys = oidc.runtime(middleware.client).validator.keys(oidc.metadata(middleware.client))
    keys.clock = clock  # the key cache's rate limit runs on monotonic time: the test's, here
    app = webtest.TestApp(middleware, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "app.example.com"})
    browser = webtest.TestApp(harness.Proxy(provider.url), extra_environ={"HTTP_HOST": urlsplit(provider.url).netloc})

    assert _log_in(app, browser, provider).status_int == 302  # the keys are cached now
    assert jwks_fetches == [jwks_uri]
    app.reset()
    clock.now += keys.refetch_interval + 1  # an unknown kid may cost one fetch again

    def rotate() -> None:
        answer = requests.post(provider.url + "/test-admin/rotate-keys", timeout=harness.TIMEOUT)
        assert answer.status_code == 200

    assert _log_in(app, browser, provider, before_callback=rotate).status_int == 302
    assert app.get("/").json["REMOTE_USER"] == "alice"
    assert jwks_fetches == [jwks_uri, jwks_uri]  # exactly one refetch, for the new kid


@pytest.mark.filterwarnings("ignore:allow_insecure_http=True:UserWarning")
def test_rp_initiated_logout_ends_the_session_at_the_provider_too(provider: Server) -> None:
    """``end_session=True``: our logout sends the browser to oidc-provider's end_session_endpoint
    with client_id (no id_token in the URL); the user confirms on the provider's own page and comes back to the
    registered post_logout_redirect_uri, and the next login asks for the password again."""
    middleware = OAuthMiddleware(
        _seen,
        provider=OpenIDConnect(provider.url, username_claim="sub", end_session=True),
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        secret_key=SECRET,
        redirect_uri=REDIRECT_URI,
        allow_insecure_http=True,  # the provider listens on http://127.0.0.1 only
    )
    app = webtest.TestApp(middleware, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "app.example.com"})
    browser = webtest.TestApp(harness.Proxy(provider.url), extra_environ={"HTTP_HOST": urlsplit(provider.url).netloc})
    assert _log_in(app, browser, provider).status_int == 302
    assert app.get("/").json["REMOTE_USER"] == "alice"

    location = app.post("/auth/logout", {"next": "/"}, status=303).headers["Location"]
    assert location.startswith(provider.url + "/session/end?") and "client_id=" in location
    assert "id_token_hint" not in location  # no token in a URL: the provider asks the user instead
    assert app.get("/").json["REMOTE_USER"] is None  # ours ended first
    confirm = browser.get(location)
    action, fields = harness.first_form(confirm.text, provider.url)
    answer = browser.post(urlsplit(action).path, {**fields, "logout": "yes"})
    for _ in range(MAX_HOPS):
        if not answer.headers.get("Location", "").startswith(provider.url):
            break
        answer = browser.get(answer.headers["Location"])
    assert answer.status_int in (302, 303) and answer.headers["Location"] == "https://app.example.com/"

    # the provider's session is gone: a new login meets its login form again
    page = browser.get(app.get("/auth/login").headers["Location"])
    for _ in range(MAX_HOPS):
        if page.status_int not in (302, 303):
            break
        page = browser.get(page.headers["Location"])
    assert "login" in page.forms[0].fields
