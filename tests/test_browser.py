"""The demo in a real browser: headless Chromium, driven by Playwright, against
``gunicorn --workers 2 demo_app:app`` with the embedded fake GitHub showing its consent page.

What only a browser shows: that it follows the redirects and posts the forms as the middleware
expects (``Origin``, ``Sec-Fetch-*``, SameSite rules), which cookies it actually keeps and with
which attributes, that page scripts cannot read the session cookie, and that the pages render.

Needs the ``playwright`` package and a Chromium executable (Debian: ``apt-get install -y
chromium``; or ``$CHROMIUM_PATH``); without either the module is skipped with the reason.
``playwright install`` is not needed: the system Chromium is used. The login steps are those of
scripts/screenshot.py (:func:`log_in`), so this also checks that script.
"""

from __future__ import annotations

import pathlib
import re
import sys
import tempfile
import time
import typing as t

import pytest

pytest.importorskip("playwright.sync_api", reason="the playwright package is needed for the browser tests")

pytest.importorskip("gunicorn", reason="gunicorn is needed for the end-to-end tests")

from playwright.sync_api import Browser, expect  # noqa: E402
from support import servers as e2e  # noqa: E402  (the gunicorn helpers shared with test_e2e)
from support.browser import CHROMIUM, NO_CHROMIUM, ROOT, TEST_BUDGET, Tab, launched, new_tab, screenshot  # noqa: E402

pytestmark = pytest.mark.e2e

SESSION_COOKIE = "oauth_session"  # over http: no __Host- prefix
FLOW_PREFIX = SESSION_COOKIE + ".flow."
MAX_AGE = 7 * 24 * 3600  # the middleware's default session lifetime, used by the demo
FLOW_MAX_AGE = 600  # a login in progress: 10 minutes

#: How the browser must keep every cookie of the middleware, over http on 127.0.0.1: HttpOnly,
#: SameSite=Lax, Path=/, host-only (set without Domain: exactly the host, no leading dot), not Secure.
COOKIE_ATTRIBUTES = {"httpOnly": True, "sameSite": "Lax", "path": "/", "domain": "127.0.0.1", "secure": False}

if CHROMIUM is None:
    pytest.skip(NO_CHROMIUM, allow_module_level=True)


# -- fixtures -----------------------------------------------------------------------------------


class _ServerLogReporter:
    """A pytest plugin, registered while the demo runs: adds the demo's stderr to the report of a
    failing test of this module (a module can't define hooks itself)."""

    def __init__(self, server: e2e.Server) -> None:
        self.server = server

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> t.Iterator[None]:
        outcome = yield
        report = outcome.get_result()  # type: ignore[attr-defined]
        if report.failed and getattr(item, "module", None) is sys.modules[__name__]:
            report.sections.append((f"{self.server.name} stderr (last lines)", self.server.stderr() or "(empty)"))


@pytest.fixture(scope="module")
def demo(request: pytest.FixtureRequest) -> t.Iterator[e2e.Server]:
    """``gunicorn --workers 2 demo_app:app``: embedded fake GitHub, DEMO_AUTO_APPROVE unset."""
    with tempfile.TemporaryDirectory(prefix="oauth-browser-") as logdir:
        env = e2e.server_env(OAUTH_MIDDLEWARE_SECRET_KEY=e2e.SECRET_KEY)  # drops DEMO_AUTO_APPROVE
        assert "DEMO_AUTO_APPROVE" not in env
        server = e2e.start_gunicorn(
            "browser demo", "demo_app:app", workers=2, chdir=ROOT, logdir=pathlib.Path(logdir), env=env
        )
        reporter = _ServerLogReporter(server)
        request.config.pluginmanager.register(reporter, "test_browser_server_logs")
        try:
            yield server
        finally:
            request.config.pluginmanager.unregister(reporter)
            e2e.stop(server)


@pytest.fixture(scope="module")
def browser() -> t.Iterator[Browser]:
    yield from launched()


@pytest.fixture
def tab(browser: Browser, demo: e2e.Server) -> t.Iterator[Tab]:
    with new_tab(browser, demo.url) as tab:
        yield tab


def _logged_out(tab: Tab) -> None:
    """/api/me answers 401 and the browser keeps none of the middleware's cookies."""
    status, body = tab.fetch("/api/me")
    assert status == 401, body
    assert body["error"] == "login_required"
    assert not [name for name in tab.cookies() if name.startswith(SESSION_COOKIE)], tab.cookies()


# -- tests --------------------------------------------------------------------------------------


def test_login_profile_cookies_and_logout(tab: Tab) -> None:
    page, base = tab.page, tab.base
    started = time.monotonic()

    page.goto(base + "/")
    expect(page.locator("#fake-banner")).to_be_visible()
    expect(page.get_by_text("You are not logged in.")).to_be_visible()
    _logged_out(tab)

    # "Log in with GitHub": the fake's consent page is shown (no auto-approve); the browser keeps
    # the login's flow cookie, with the session cookie's attributes and a 10-minute lifetime
    tab.step()
    screenshot.open_consent_page(page, base)
    flows = {name: cookie for name, cookie in tab.cookies().items() if name.startswith(FLOW_PREFIX)}
    assert len(flows) == 1 and set(tab.cookies()) == set(flows), sorted(tab.cookies())
    [flow] = flows.values()
    assert {name: flow[name] for name in COOKIE_ATTRIBUTES} == COOKIE_ATTRIBUTES
    assert time.time() < flow["expires"] <= time.time() + FLOW_MAX_AGE + 60

    # pick octocat, Approve: back on the home page, logged in. The callback's Set-Cookie headers as
    # the browser received them carry no Domain attribute
    tab.step()
    callbacks: list[t.Any] = []
    page.on("response", lambda response: callbacks.append(response) if "/auth/callback?" in response.url else None)
    screenshot.approve(page, base, "octocat")
    expect(page.get_by_text("Hello, monalisa octocat!")).to_be_visible()
    assert len(callbacks) == 1 and callbacks[0].status == 302
    set_cookies = [h["value"] for h in callbacks[0].headers_array() if h["name"].lower() == "set-cookie"]
    assert set_cookies and not [h for h in set_cookies if re.search(r";\s*domain=", h, re.IGNORECASE)], set_cookies

    # the cookies the browser keeps: the session only (the single-use flow cookie is gone)
    cookies = tab.cookies()
    assert set(cookies) == {SESSION_COOKIE}, sorted(cookies)
    session = cookies[SESSION_COOKIE]
    assert {name: session[name] for name in COOKIE_ATTRIBUTES} == COOKIE_ATTRIBUTES
    assert time.time() < session["expires"] <= time.time() + MAX_AGE + 60
    assert SESSION_COOKIE not in page.evaluate("document.cookie")  # HttpOnly: hidden from scripts

    # the profile page: name, login, avatar (a data: URL, rendered)
    tab.step()
    page.get_by_role("link", name="Profile", exact=True).click()
    expect(page).to_have_url(base + "/profile")
    expect(page.locator("#name")).to_have_text("monalisa octocat")
    expect(page.locator("#login-name")).to_have_text("@octocat")
    expect(page.locator("#email")).to_have_text("octocat@github.com")
    avatar = page.get_by_role("img", name="avatar of octocat")
    expect(avatar).to_be_visible()
    expect(avatar).to_have_attribute("src", re.compile(r"^data:image/svg\+xml,"))
    expect(avatar).not_to_have_js_property("naturalWidth", 0)  # decoded: it renders

    # /api/me from the page's script, with the browser's cookie
    status, me = tab.fetch("/api/me")
    assert status == 200, me
    assert me["login"] == "octocat"
    assert me["user"]["name"] == "monalisa octocat"
    assert set(me["scope"]) == {"read:user", "user:email"}

    # log out with the page's button: back home, anonymous, the session cookie gone
    tab.step()
    page.get_by_role("button", name="Log out octocat").click()
    expect(page).to_have_url(base + "/")
    expect(page.get_by_text("You are not logged in.")).to_be_visible()
    expect(page.get_by_role("link", name="Log in with GitHub")).to_be_visible()
    _logged_out(tab)

    assert tab.problems == []
    assert time.monotonic() - started < TEST_BUDGET


def test_back_button_after_login(tab: Tab) -> None:
    """Back to the consent page after logging in, and Approve again: the callback's state was used
    up, but a logged-in browser is sent on (303) rather than shown an error."""
    page, base = tab.page, tab.base
    screenshot.log_in(page, base, "hubot")
    tab.step()
    page.go_back()
    expect(page.get_by_role("heading", name="Authorize application")).to_be_visible()
    page.get_by_role("radio", name=re.compile(r"^hubot\b")).check()
    with page.expect_response(re.compile(re.escape(base) + r"/auth/callback\?")) as callback:
        page.get_by_role("button", name="Approve").click()
    assert callback.value.status == 303
    expect(page).to_have_url(base + "/")
    expect(page.get_by_role("button", name="Log out hubot")).to_be_visible()
    status, me = tab.fetch("/api/me")
    assert (status, me["login"]) == (200, "hubot")
    assert tab.problems == []


def test_logout_confirmation_page(tab: Tab) -> None:
    """``GET /auth/logout`` (what a plain link to the logout path shows): its button logs out."""
    page, base = tab.page, tab.base
    screenshot.log_in(page, base, "octocat")
    tab.step()
    page.goto(base + "/auth/logout")
    expect(page.get_by_role("heading", name="Log out")).to_be_visible()
    with page.expect_response(lambda r: r.request.method == "POST" and r.url == base + "/auth/logout") as posted:
        page.get_by_role("button", name="Log out", exact=True).click()
    assert posted.value.status == 303, f"{posted.value.status}: {page.locator('body').inner_text()}"
    expect(page).to_have_url(base + "/")
    _logged_out(tab)
