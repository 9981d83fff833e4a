"""OpenID Connect in a real browser: headless Chromium, driven by Playwright, logs in through the
real OpenID Certified provider (panva's oidc-provider on 127.0.0.1, tests/support/oidc_provider.py)
to a small app (the middleware around a hello app, served by a threading wsgiref server on
127.0.0.1), filling in the provider's own login and consent forms, and logs out of both.

Skipped, with the reason, without the playwright package, a Chromium executable, or node/npm.
"""

from __future__ import annotations

import html
import re
import threading
import typing as t
import warnings

import pytest

pytest.importorskip("playwright.sync_api", reason="the playwright package is needed for the browser tests")

from playwright.sync_api import Browser, expect  # noqa: E402
from support import oidc_provider as harness  # noqa: E402
from support.browser import CHROMIUM, NO_CHROMIUM, Tab, launched, new_tab  # noqa: E402

from oauth_middleware import OAuthMiddleware  # noqa: E402
from oauth_middleware.oidc import OpenIDConnect  # noqa: E402
from oauth_middleware.testing.__main__ import QuietRequestHandler, ThreadingWSGIServer  # noqa: E402

pytestmark = pytest.mark.e2e

if CHROMIUM is None:
    pytest.skip(NO_CHROMIUM, allow_module_level=True)

SECRET = "b" * 8 + "Zq3v9XwY2p7LmN4rT6sB1cD5fG8hJ0aE"
SESSION_COOKIE = "oauth_session"  # over http: no __Host- prefix


def _hello(environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]) -> list[bytes]:
    user = environ.get("oauth_middleware.user") or {}
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    body = (
        "<!doctype html><title>hello</title><h1 id='hello'>Hello, %s (%s)</h1>"
        '<form method="post" action="/auth/logout"><input type="hidden" name="next" value="/">'
        "<button>Log out</button></form>"
    ) % (html.escape(str(user.get("name"))), html.escape(str(environ.get("REMOTE_USER"))))
    return [body.encode()]


@pytest.fixture(scope="module")
def app_server() -> t.Iterator[ThreadingWSGIServer]:
    """A threading wsgiref server bound on 127.0.0.1 (its app set once the provider is up)."""
    server = ThreadingWSGIServer(("127.0.0.1", 0), QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def site(app_server: ThreadingWSGIServer, tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[str]:
    """oidc-provider with our callback registered, and the middleware served by ``app_server``."""
    base = "http://127.0.0.1:%d" % app_server.server_port
    for provider in harness.start(tmp_path_factory, redirect_uri=base + "/auth/callback"):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "allow_insecure_http", UserWarning)
            middleware = OAuthMiddleware(
                _hello,
                provider=OpenIDConnect(provider.url, userinfo=True, end_session=True),
                client_id=harness.CLIENT_ID,
                client_secret=harness.CLIENT_SECRET,
                secret_key=SECRET,
                redirect_uri=base + "/auth/callback",
                allow_insecure_http=True,  # both listen on http://127.0.0.1 only
                require_login=True,
                timeout=5,
            )
        app_server.set_app(middleware)
        yield provider.url
    # no yield when the harness skipped (node or npm missing): pytest reports the skip


@pytest.fixture(scope="module")
def browser() -> t.Iterator[Browser]:
    yield from launched()


@pytest.fixture
def tab(browser: Browser, app_server: ThreadingWSGIServer, site: str) -> t.Iterator[Tab]:
    with new_tab(browser, "http://127.0.0.1:%d" % app_server.server_port) as tab:
        yield tab


def test_log_in_through_the_real_provider_and_out_of_both(tab: Tab, site: str) -> None:
    page, base = tab.page, tab.base

    # a protected page sends the browser to the provider's own login form
    page.goto(base + "/")
    expect(page).to_have_url(re.compile("^" + re.escape(site) + "/interaction/"))
    page.locator("input[name=login]").fill("alice")
    page.locator("input[name=password]").fill("any password")
    tab.step()
    page.locator("button[type=submit]").click()

    # its consent form, then back through our callback to the page, logged in
    expect(page.get_by_role("button", name="Continue")).to_be_visible()
    tab.step()
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(base + "/")
    expect(page.locator("#hello")).to_have_text("Hello, Alice Example (alice)")
    ours = {name: cookie for name, cookie in tab.cookies().items() if name.startswith(SESSION_COOKIE)}
    assert set(ours) == {SESSION_COOKIE}, sorted(ours)  # the single-use flow cookie is gone
    assert ours[SESSION_COOKIE]["httpOnly"] is True  # (cookies are per host: the provider's are there too)

    # our logout, then the provider's (its own confirmation page), and back home: a login again
    tab.step()
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile("^" + re.escape(site) + "/session/end"))
    assert SESSION_COOKIE not in tab.cookies()  # ours ended before the browser left
    tab.step()
    page.get_by_role("button", name=re.compile("Yes, sign me out", re.I)).click()
    expect(page).to_have_url(re.compile("^" + re.escape(site) + "/interaction/"))  # / requires a login
    expect(page.locator("input[name=login]")).to_be_visible()  # the provider forgot alice too
    assert tab.problems == []
