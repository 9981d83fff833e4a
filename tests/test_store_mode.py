"""Sessions on a store (``store=``): the cookie is a ticket, logout and revocation end a session on
every host, login states and refreshes are single across hosts, and a store that is down fails
closed (STORE-1..7). Two middlewares sharing one MemoryStore stand for two hosts; the same
behaviour on Redis (a real redis-server, under gunicorn) is in tests/test_redis_*.py."""

from __future__ import annotations

import dataclasses
import threading
import typing as t
from urllib.parse import urlsplit

import pytest
import webtest
from conftest import HTTPS, FakeClock, downstream
from support.stores import DownStore

from oauth_middleware import ConfigurationError, OAuthMiddleware
from oauth_middleware.store import MemoryStore
from oauth_middleware.testing import FakeGitHub, FakeUser, WSGITransportAdapter

KEY = "store-mode-test-key-4Gh7Kq2Wx9Lm3Vt8Rp1Zc6"
JSON = {"Accept": "application/json"}
TICKET = "__Host-oauth_session"


class Counting:
    """In front of the fake: counts token requests (code exchanges and refreshes)."""

    def __init__(self, app: t.Any) -> None:
        self.app = app
        self.token_requests = 0
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        if environ["PATH_INFO"].endswith("/login/oauth/access_token"):
            with self.lock:
                self.token_requests += 1
        return self.app(environ, start_response)


@dataclasses.dataclass
class Host:
    middleware: OAuthMiddleware
    app: webtest.TestApp


class World:
    """One fake GitHub, one store, and as many app hosts as asked for."""

    def __init__(self, clock: FakeClock, *, store: t.Any = None, expiring: bool = False, **options: t.Any) -> None:
        self.clock = clock
        self.users = {"octocat": FakeUser("octocat", 583231, orgs=["octo-org"]), "hubot": FakeUser("hubot", 2)}
        self.fake = FakeGitHub(
            users=list(self.users.values()),
            auto_approve=False,
            expiring_tokens=expiring,
            clock=clock,
        )
        self.counting = Counting(self.fake)
        self.store = MemoryStore(clock=clock) if store is None else store
        self.options = options
        self.github = webtest.TestApp(self.fake)

    def host(self, **options: t.Any) -> Host:
        middleware = OAuthMiddleware(
            downstream,
            client_id=self.fake.client_id,
            client_secret=self.fake.client_secret,
            secret_key=KEY,
            provider=self.fake.provider(),
            clock=self.clock,
            store=self.store,
            **{**self.options, **options},
        )
        middleware.http.mount(self.fake.base_url + "/", WSGITransportAdapter(self.counting))
        return Host(middleware, webtest.TestApp(middleware, extra_environ=HTTPS))

    def log_in(self, host: Host, login: str = "octocat", app: webtest.TestApp | None = None) -> webtest.TestApp:
        browser = app or host.app
        location = urlsplit(str(browser.get("/auth/login?next=/x", status=302).location))
        form = self.github.get(location.path + "?" + location.query, status=200).forms[0]
        form["login"] = login
        callback = urlsplit(str(form.submit("authorize", index=0, status=302).location))
        browser.get(callback.path + "?" + callback.query, status=302)
        return browser


def whoami(app: webtest.TestApp, ticket: str | None = None, **kwargs: t.Any) -> t.Any:
    """``/private`` as JSON; with ``ticket``, sent as a raw Cookie header (a copied cookie)."""
    headers = dict(JSON, Cookie="%s=%s" % (TICKET, ticket)) if ticket else JSON
    return app.get("/private", headers=headers, **kwargs)


@pytest.fixture
def world(clock: FakeClock) -> World:
    return World(clock, require_login=["/private"])


def test_the_cookie_is_a_ticket_and_the_app_sees_the_user(world: World) -> None:
    host = world.host()
    browser = world.log_in(host)
    ticket = browser.cookies[TICKET]
    assert len(ticket) < 120
    assert whoami(browser).json["remote_user"] == "octocat"
    stored = b"".join(value for value, _ in world.store._values.values())
    assert whoami(browser).json["token"]["access_token"].encode() not in stored


def test_logout_ends_a_copied_cookie_on_another_host(world: World) -> None:
    first, second = world.host(), world.host()
    browser = world.log_in(first)
    thief, copied = webtest.TestApp(second.middleware, extra_environ=HTTPS), browser.cookies[TICKET]
    assert whoami(thief, copied).json["remote_user"] == "octocat"
    browser.post("/auth/logout", status=303)
    whoami(thief, copied, status=401)  # the very next request, on the other host


def test_log_out_everywhere_ends_all_of_the_users_sessions(world: World) -> None:
    host = world.host()
    laptop = world.log_in(host)
    phone = world.log_in(host, app=webtest.TestApp(host.middleware, extra_environ=HTTPS))
    colleague = world.log_in(host, "hubot", app=webtest.TestApp(host.middleware, extra_environ=HTTPS))
    assert 'name="everywhere"' in laptop.get("/auth/logout").text
    laptop.post("/auth/logout", {"everywhere": "1"}, status=303)
    whoami(phone, status=401)
    assert whoami(colleague).json["remote_user"] == "hubot"


def test_without_everywhere_the_other_devices_stay(world: World) -> None:
    host = world.host()
    laptop = world.log_in(host)
    phone = world.log_in(host, app=webtest.TestApp(host.middleware, extra_environ=HTTPS))
    laptop.post("/auth/logout", status=303)
    assert whoami(phone).json["remote_user"] == "octocat"


def test_operators_revoke_a_user_or_one_session(world: World) -> None:
    first, second = world.host(), world.host()
    browser = world.log_in(first)
    other = world.log_in(second, "hubot")
    assert first.middleware.user_sessions("583231") != set()
    assert first.middleware.revoke_user("583231") == 1
    whoami(browser, status=401)
    [session_id] = second.middleware.user_sessions("2")
    assert second.middleware.revoke_session(session_id)
    whoami(other, status=401)


def test_a_new_login_ends_the_session_it_replaces(world: World) -> None:
    host = world.host()
    browser = world.log_in(host)
    old = browser.cookies[TICKET]
    world.log_in(host, "hubot", app=browser)
    whoami(webtest.TestApp(host.middleware, extra_environ=HTTPS), old, status=401)


def test_a_flow_cookie_is_redeemed_once_across_hosts(world: World) -> None:
    first, second = world.host(), world.host()
    location = urlsplit(str(first.app.get("/auth/login", status=302).location))
    form = world.github.get(location.path + "?" + location.query, status=200).forms[0]
    form["login"] = "octocat"
    callback = urlsplit(str(form.submit("authorize", index=0, status=302).location))
    flow_cookies = {name: value for name, value in first.app.cookies.items() if ".flow." in name}
    first.app.get(callback.path + "?" + callback.query, status=302)
    replay = webtest.TestApp(second.middleware, extra_environ=HTTPS)
    raw = "; ".join("%s=%s" % item for item in flow_cookies.items())
    exchanges = world.counting.token_requests
    replay.get(callback.path + "?" + callback.query, headers=dict(JSON, Cookie=raw), status=400)
    assert world.counting.token_requests == exchanges  # the second host never asked GitHub


def test_a_due_token_is_refreshed_once_across_hosts_and_nobody_is_logged_out(clock: FakeClock) -> None:
    world = World(clock, expiring=True, require_login=["/private"])
    hosts = [world.host() for _ in range(4)]
    browser = world.log_in(hosts[0])
    ticket = browser.cookies[TICKET]
    clock.advance(8 * 3600 - 60)  # the fake's tokens live 8 hours: due now
    before = world.counting.token_requests
    answers: list[t.Any] = []

    def request(host: Host) -> None:
        app = webtest.TestApp(host.middleware, extra_environ=HTTPS)
        answers.append(whoami(app, ticket, expect_errors=True))

    threads = [threading.Thread(target=request, args=(host,)) for host in hosts for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert [answer.status_int for answer in answers] == [200] * 8
    assert {answer.json["remote_user"] for answer in answers} == {"octocat"}
    assert world.counting.token_requests - before == 1
    assert not any("Set-Cookie" in answer.headers for answer in answers)  # the ticket never changes
    clock.advance(3600)
    assert whoami(browser).json["remote_user"] == "octocat"  # the refreshed session is what is stored


def test_a_user_removed_from_the_org_is_revoked_everywhere(clock: FakeClock) -> None:
    world = World(clock, require_login=["/private"], allowed_orgs=["octo-org"], revalidate_after=600)
    host = world.host()
    laptop = world.log_in(host)
    phone = world.log_in(host, app=webtest.TestApp(host.middleware, extra_environ=HTTPS))
    world.users["octocat"].orgs = []
    clock.advance(601)
    whoami(laptop, status=403)
    whoami(phone, status=401)  # ended by the laptop's re-validation: revoked everywhere at once


def test_a_store_that_is_down_fails_closed_and_keeps_the_cookie(clock: FakeClock) -> None:
    store = DownStore(clock=clock)
    world = World(clock, store=store, require_login=["/private"])
    host = world.host()
    browser = world.log_in(host)
    store.down = True
    answer = whoami(browser, status=503)
    assert answer.headers["Retry-After"] == "5"
    assert answer.json["error"] == "temporarily_unavailable"
    assert "Set-Cookie" not in answer.headers  # the session is not lost with the store
    page = browser.get("/private", headers={"Accept": "text/html"}, status=503)
    assert "Try again" in page.text
    public = browser.get("/public", headers=JSON, status=200)  # public paths pass, anonymously
    assert public.json["remote_user"] is None
    browser.get("/auth/login", status=302)  # starting a login needs no store
    store.down = False
    assert whoami(browser).json["remote_user"] == "octocat"


def test_a_login_while_the_store_is_down_is_503_not_500(clock: FakeClock) -> None:
    store = DownStore(clock=clock)
    world = World(clock, store=store, require_login=["/private"])
    host = world.host()
    location = urlsplit(str(host.app.get("/auth/login", status=302).location))
    form = world.github.get(location.path + "?" + location.query, status=200).forms[0]
    form["login"] = "octocat"
    callback = urlsplit(str(form.submit("authorize", index=0, status=302).location))
    store.down = True
    answer = host.app.get(callback.path + "?" + callback.query, headers=JSON, status=503)
    assert answer.headers["Retry-After"] == "5"


def test_operator_api_needs_a_store(make_middleware: t.Any) -> None:
    middleware = make_middleware()
    with pytest.raises(ConfigurationError, match="store"):
        middleware.revoke_user("1")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(42, "must be None, a Store", id="int"),
        pytest.param("postgres://x", "redis://", id="other-url"),
        pytest.param("http://user:hunter2@host", "redis://", id="password-never-shown"),
    ],
)
def test_bad_stores_are_refused(make_middleware: t.Any, value: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as refused:
        make_middleware(store=value)
    assert "hunter2" not in str(refused.value)


def test_memory_store_by_name(make_middleware: t.Any) -> None:
    assert isinstance(make_middleware(store="memory").store, MemoryStore)


def test_the_cookie_store_is_still_the_default(make_middleware: t.Any) -> None:
    middleware = make_middleware()
    assert middleware.store is None
    assert type(middleware.sessions).__name__ == "SessionCookie"


def test_memory_store_warns_that_it_is_one_process_only(
    make_middleware: t.Any, caplog: pytest.LogCaptureFixture
) -> None:
    make_middleware(store="memory")
    assert "several workers or hosts" in caplog.text


class Gate:
    """In front of the fake: holds the first refresh, once armed, until released."""

    def __init__(self, app: t.Any) -> None:
        self.app = app
        self.armed = False
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        if self.armed and environ["PATH_INFO"].endswith("/access_token") and not self.entered.is_set():
            self.entered.set()
            self.release.wait(10)
        return self.app(environ, start_response)


@pytest.mark.parametrize("everywhere", [False, True], ids=["logout", "log-out-everywhere"])
def test_a_logout_during_a_refresh_on_another_host_stays_done(clock: FakeClock, everywhere: bool) -> None:
    """A renewal that was under way when the user logged out must not save the session again
    (found by the independent review: the refresh's write brought a revoked session back)."""
    world = World(clock, expiring=True, require_login=["/private"])
    gate = world.counting.app = Gate(world.counting.app)
    refreshing, other = world.host(), world.host()
    ticket = world.log_in(refreshing).cookies[TICKET]
    clock.advance(8 * 3600 - 60)  # the token is due
    gate.armed = True
    answers: list[t.Any] = []
    request = threading.Thread(
        target=lambda: answers.append(whoami(refreshing.app, ticket, expect_errors=True)), daemon=True
    )
    request.start()
    assert gate.entered.wait(10)  # the refresh is at the provider now
    form = {"everywhere": "1"} if everywhere else {}
    other.app.post("/auth/logout", form, headers={"Cookie": "%s=%s" % (TICKET, ticket)}, status=303)
    gate.release.set()
    request.join(15)
    assert [answer.status_int for answer in answers] == [401]  # the refreshed session was not saved
    whoami(other.app, ticket, status=401)
    whoami(refreshing.app, ticket, status=401)
    assert other.middleware.user_sessions("583231") == set()


def test_log_out_everywhere_never_reaches_another_apps_users(clock: FakeClock) -> None:
    """Two apps on one store (another provider, or another OAuth app): the same account id is a
    different person there, so the per-user index is namespaced by provider and client id."""
    shared = MemoryStore(clock=clock)
    here, there = World(clock, store=shared, require_login=["/private"]), World(clock, store=shared)
    victim = here.log_in(here.host())
    there.fake.client_id = "another-app"  # another OAuth app: its own client id
    other_app = there.host(cookie_name="other_session")
    attacker = there.log_in(other_app)  # octocat too, id 583231, of the other app
    attacker.post("/auth/logout", {"everywhere": "1"}, status=303)
    assert whoami(victim).json["remote_user"] == "octocat"
    assert other_app.middleware.revoke_user("583231") == 0  # already ended there; ours untouched
    assert whoami(victim).json["remote_user"] == "octocat"
