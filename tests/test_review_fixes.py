"""Findings 3-7, 9 and 10 of the second hostile review (issue 10), one section each.

Each test here failed on the code the review ran against and passes now. Logins are real,
against an in-process FakeGitHub driven by the injected clock; the deadline test (finding 4)
needs a real socket and runs a small dripping server on 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import io
import socket
import threading
import time
import typing as t
from urllib.parse import urlencode, urlsplit

import pytest
import webtest
from conftest import HTTPS, SECRET_KEY, FakeClock, downstream, start_login

from oauth_middleware import OAuthMiddleware
from oauth_middleware.testing import FakeGitHub, FakeUser, WSGITransportAdapter

JSON = {"Accept": "application/json"}
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
SESSION = "__Host-oauth_session"


class Wiretap:
    """In front of the fake: records each server-side request, and lets a test change answers."""

    def __init__(self, app: t.Any) -> None:
        self.app = app
        self.requests: list[dict[str, t.Any]] = []
        self.rewrite: t.Callable[[str, str, list[tuple[str, str]]], tuple[str, list[tuple[str, str]]]] | None = None
        self.answer: t.Callable[[dict[str, t.Any]], tuple[str, list[tuple[str, str]], bytes] | None] | None = None

    def __call__(self, environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]) -> t.Iterable[bytes]:
        body = environ["wsgi.input"].read()
        environ["wsgi.input"] = io.BytesIO(body)
        self.requests.append(dict(environ, body=body))
        if self.answer is not None:
            canned = self.answer(environ)
            if canned is not None:
                status, headers, content = canned
                start_response(status, headers)
                return [content]
        if self.rewrite is None:
            return t.cast(t.Iterable[bytes], self.app(environ, start_response))
        rewrite = self.rewrite

        def rewritten(status: str, headers: list[tuple[str, str]], exc_info: t.Any = None) -> t.Any:
            status, headers = rewrite(environ["PATH_INFO"], status, list(headers))
            return start_response(status, headers, exc_info)

        return t.cast(t.Iterable[bytes], self.app(environ, rewritten))


@dataclasses.dataclass
class Site:
    """A middleware wired in-process to a FakeGitHub (through a :class:`Wiretap`), and a browser."""

    fake: FakeGitHub
    middleware: OAuthMiddleware
    tap: Wiretap

    def __post_init__(self) -> None:
        self.app = webtest.TestApp(self.middleware, extra_environ=HTTPS)
        self.github = webtest.TestApp(self.fake)

    def callback_url(self, app: webtest.TestApp | None = None, login: str | None = None) -> str:
        """Start a login and get GitHub's answer: the callback URL (path and query) to visit."""
        location = urlsplit(str((app or self.app).get("/auth/login?next=/x", status=302).location))
        if login is None:  # auto-approved
            answer = self.github.get(location.path + "?" + location.query, status=302)
        else:  # the consent page: approve as ``login``
            form = self.github.get(location.path + "?" + location.query, status=200).forms[0]
            form["login"] = login
            answer = form.submit("authorize", index=0, status=302)
        callback = urlsplit(str(answer.location))
        return callback.path + "?" + callback.query

    def log_in(self, app: webtest.TestApp | None = None, login: str | None = None) -> webtest.TestResponse:
        return (app or self.app).get(self.callback_url(app, login), status=302)


@pytest.fixture
def make_site(clock: FakeClock) -> t.Callable[..., Site]:
    def make(*, users: list[FakeUser] | None = None, fake: FakeGitHub | None = None, **options: t.Any) -> Site:
        if fake is None:
            users = users or [FakeUser("octocat", 1, name="Mona", orgs=["octo-org"])]
            fake = FakeGitHub(
                users=users,
                auto_approve=options.pop("auto_approve", True),
                expiring_tokens=options.pop("expiring_tokens", False),
                clock=clock,
            )
        middleware = OAuthMiddleware(
            options.pop("app", downstream),
            client_id=fake.client_id,
            client_secret=fake.client_secret,
            secret_key=SECRET_KEY,
            provider=fake.provider(),
            clock=clock,
            **options,
        )
        tap = Wiretap(fake)
        middleware.http.mount(fake.base_url + "/", WSGITransportAdapter(tap))
        return Site(fake, middleware, tap)

    return make


def session_set(response: t.Any) -> bool:
    return any(
        h.startswith(SESSION + "=") and not h.startswith(SESSION + "=;") and "Max-Age=0" not in h
        for h in response.headers.getall("Set-Cookie")
    )


def cookie_header(cookies: t.Mapping[str, str]) -> str:
    """A ``Cookie`` header sending ``cookies`` as they were set (WebTest's set_cookie quotes values)."""
    return "; ".join("%s=%s" % item for item in cookies.items())


def session_cleared(response: t.Any) -> bool:
    return any(h.startswith(SESSION + "=;") and "Max-Age=0" in h for h in response.headers.getall("Set-Cookie"))


# -- finding 6: no cookie jar shared between users' provider calls (ERR-11) ---------------------


def test_a_cookie_github_sets_on_one_users_call_never_rides_on_anothers(make_site: t.Any) -> None:
    users = [FakeUser("alice", 11), FakeUser("bob", 12)]
    site = make_site(users=users)

    def plant(path: str, status: str, headers: list[tuple[str, str]]) -> tuple[str, list[tuple[str, str]]]:
        if path.endswith("/user"):
            headers.append(("Set-Cookie", "_gh_sess=alice-state; Path=/; Secure; HttpOnly"))
        return status, headers

    site.tap.rewrite = plant
    alice = site.middleware.client.fetch_profile({"access_token": site.fake.issue_token("alice")})
    bob = site.middleware.client.fetch_profile({"access_token": site.fake.issue_token("bob")})
    assert (alice["login"], bob["login"]) == ("alice", "bob")
    user_calls = [r for r in site.tap.requests if r["PATH_INFO"].endswith("/user")]
    assert len(user_calls) == 2
    assert "HTTP_COOKIE" not in user_calls[1], user_calls[1].get("HTTP_COOKIE")
    assert not list(site.middleware.http.cookies)


def test_token_calls_keep_no_cookies_either(make_site: t.Any) -> None:
    site = make_site(users=[FakeUser("alice", 11), FakeUser("bob", 12)], auto_approve=False)

    def plant(path: str, status: str, headers: list[tuple[str, str]]) -> tuple[str, list[tuple[str, str]]]:
        headers.append(("Set-Cookie", "tracker=%s; Path=/" % path.strip("/").replace("/", "-")))
        return status, headers

    site.tap.rewrite = plant
    site.log_in(login="alice")
    other = webtest.TestApp(site.middleware, extra_environ=HTTPS)
    site.log_in(other, login="bob")
    assert other.get("/x").json["remote_user"] == "bob"
    assert [r for r in site.tap.requests if "HTTP_COOKIE" in r] == []


# -- finding 5: provider text never in our pages; outside log arguments single-line, bounded ----

FORGED = "\n2026-12-01 12:00:00 INFO oauth_middleware.middleware: login succeeded for admin"
HOSTILE_LOGIN = ("mallory" + FORGED + "<script>alert(1)</script>").ljust(512, "x")


@pytest.mark.parametrize("accept", [pytest.param(BROWSER, id="html"), pytest.param(JSON, id="json")])
def test_a_hostile_login_is_neither_shown_nor_logged_raw(
    make_site: t.Any, caplog: pytest.LogCaptureFixture, accept: dict[str, str]
) -> None:
    site = make_site(users=[FakeUser(HOSTILE_LOGIN, 66)], allowed_users=["octocat"])
    callback = site.callback_url()
    with caplog.at_level("DEBUG", logger="oauth_middleware"):
        page = site.app.get(callback, headers=accept, status=403)
    for fragment in ("mallory", "<script", "alert(1)", "login succeeded for admin", "xxxxxxxx"):
        assert fragment not in page.text
    assert "not allowed to use this application" in page.text
    messages = [record.getMessage() for record in caplog.records]
    assert any("is not in the allow-lists" in m for m in messages)
    for message in messages:
        assert "\n" not in message and "\r" not in message, message
        assert len(message) < 300, message
    assert not any(m.startswith("2026-12-01") or "\nlogin succeeded" in m for m in messages)


def test_a_login_of_the_usual_shape_is_still_named_on_the_403_page(make_site: t.Any) -> None:
    site = make_site(allowed_users=["someone-else"])
    page = site.app.get(site.callback_url(), headers=BROWSER, status=403)
    assert "logged in to GitHub as octocat, but" in page.text


def test_for_log_makes_one_bounded_line() -> None:
    from oauth_middleware.text import for_log

    assert for_log("octocat") == "octocat"
    assert for_log("a\nb\r\x1b[31m\u2028c\u202e") == "a\\nb\\r\\x1b[31m\\u2028c\\u202e"
    long = for_log("y" * 512)
    assert long == "y" * 100 + "...(512 chars)"
    assert for_log(HOSTILE_LOGIN).isprintable()


# -- finding 7: the memory of redeemed states cannot be flushed (CSRF-4, ERR-8) ------------------


def test_cancelled_logins_cannot_flush_the_memory_of_redeemed_states(
    testapp: webtest.TestApp, github: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import oauth_middleware.flow as flow_module

    monkeypatch.setattr(flow_module, "MAX_CONSUMED", 5)  # 50,000 before the fix; the same in small
    params = start_login(testapp)
    saved = {name: value for name, value in testapp.cookies.items() if ".flow." in name}
    url = "/auth/callback?" + urlencode({"code": "c", "state": params["state"]})
    testapp.get(url, status=302)  # the victim's login: one exchange
    for _ in range(20):  # the attacker: anonymous logins cancelled at GitHub, no provider call
        testapp.reset()
        denied = start_login(testapp)
        testapp.get("/auth/callback", {"error": "access_denied", "state": denied["state"]}, status=403)
    assert len(github.token_calls) == 1
    testapp.reset()  # then the copied flow cookie with the callback URL
    testapp.get(url, headers={"Cookie": cookie_header(saved)}, status=400)
    assert len(github.token_calls) == 1  # never exchanged twice
    assert len(t.cast(t.Any, testapp.app).flows._consumed) == 1


def test_a_callback_without_a_code_is_not_remembered(testapp: webtest.TestApp, github: t.Any) -> None:
    params = start_login(testapp)
    saved = {name: value for name, value in testapp.cookies.items() if ".flow." in name}
    testapp.get("/auth/callback", {"state": params["state"]}, status=400)
    assert len(t.cast(t.Any, testapp.app).flows._consumed) == 0
    testapp.reset()
    testapp.get(
        "/auth/callback", {"code": "c", "state": params["state"]}, headers={"Cookie": cookie_header(saved)}, status=302
    )
    assert len(github.token_calls) == 1


# -- finding 9: a refresh lost to another worker does not end the session (SES-6) ---------------

LIFETIME = 28800  # GitHub's expiring user tokens: 8 hours; refreshed in their last 300 s


def test_a_refresh_lost_to_another_worker_keeps_the_session(make_site: t.Any, clock: FakeClock) -> None:
    """Two middlewares sharing a key stand for two gunicorn workers; GitHub's refresh tokens are
    single use. A request still carrying the old cookie reaches the worker that lost the race."""
    winner = make_site(expiring_tokens=True, require_login=True)
    loser = make_site(fake=winner.fake, require_login=True)
    winner.log_in()
    old_cookie = cookie_header(dict(winner.app.cookies))
    old = winner.app.get("/x").json["token"]["access_token"]
    clock.advance(LIFETIME - 100)
    refreshed = winner.app.get("/x", headers=JSON)
    new = refreshed.json["token"]["access_token"]
    assert new != old and session_set(refreshed)
    requests_to_github = winner.fake.token_requests

    lost = loser.app.get("/x", headers={**JSON, "Cookie": old_cookie}, status=200)
    assert lost.json["remote_user"] == "octocat" and lost.json["token"]["access_token"] == old
    assert not session_cleared(lost) and not session_set(lost)  # the winner's Set-Cookie takes over
    assert winner.fake.token_requests == requests_to_github + 1  # one refused refresh

    clock.advance(30)  # more requests with the old cookie: served with the still valid token ...
    again = loser.app.get("/x", headers={**JSON, "Cookie": old_cookie}, status=200)
    assert again.json["token"]["access_token"] == old
    assert winner.fake.token_requests == requests_to_github + 1  # ... without asking GitHub again
    taken_over = loser.app.get("/x", headers={**JSON, "Cookie": cookie_header(dict(winner.app.cookies))})
    assert taken_over.json["token"]["access_token"] == new  # the winner's cookie works on every worker

    clock.advance(100)  # the old access token has expired now: the old cookie is no session any more
    ended = loser.app.get("/x", headers={**JSON, "Cookie": old_cookie}, status=401)
    assert session_cleared(ended)


def test_a_refused_refresh_of_an_expired_token_still_ends_the_session(make_site: t.Any, clock: FakeClock) -> None:
    winner = make_site(expiring_tokens=True, require_login=True)
    loser = make_site(fake=winner.fake, require_login=True)
    winner.log_in()
    old_cookie = cookie_header(dict(winner.app.cookies))
    clock.advance(LIFETIME - 100)
    assert session_set(winner.app.get("/x", headers=JSON))
    clock.advance(101)
    ended = loser.app.get("/x", headers={**JSON, "Cookie": old_cookie}, status=401)
    assert session_cleared(ended)


# -- finding 3: re-validation that cannot complete is bounded; a rate limit never extends (SES-5) -


def _rate_limited(status: str, clock: FakeClock) -> t.Callable[[dict[str, t.Any]], t.Any]:
    headers = [("Content-Type", "application/json; charset=utf-8")]
    if status.startswith("403"):  # the primary limit: 5,000 an hour, shared with the user's own PATs
        headers += [("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", str(int(clock()) + 1800))]
    else:  # a secondary limit
        headers += [("Retry-After", "60")]
    body = b'{"message": "API rate limit exceeded for user ID 1."}'
    return lambda environ: (status, headers, body) if environ["PATH_INFO"].startswith("/api/") else None


@pytest.mark.parametrize("status", ["403 Forbidden", "429 Too Many Requests"])
def test_a_rate_limit_on_the_users_token_ends_the_session_at_revalidation(
    make_site: t.Any, clock: FakeClock, caplog: pytest.LogCaptureFixture, status: str
) -> None:
    site = make_site(allowed_orgs=["octo-org"], require_login=True)
    site.log_in()
    site.tap.answer = _rate_limited(status, clock)
    clock.advance(599)
    assert site.app.get("/x", headers=JSON).json["remote_user"] == "octocat"  # not due yet
    clock.advance(2)
    response = site.app.get("/x", headers=JSON, status=401)
    assert session_cleared(response)
    assert any("rate limit never extends access" in r.getMessage() for r in caplog.records)
    site.app.get("/x", headers=JSON, status=401)


def test_github_unreachable_keeps_a_session_only_for_revalidate_grace(make_site: t.Any, clock: FakeClock) -> None:
    site = make_site(allowed_orgs=["octo-org"], require_login=True, revalidate_grace=1800)
    logged_in_at = clock()
    site.log_in()
    down = ("502 Bad Gateway", [("Content-Type", "text/html")], b"<h1>Unicorn!</h1>")
    site.tap.answer = lambda environ: down if environ["PATH_INFO"].startswith("/api/") else None
    clock.advance(600)  # re-validation due from here; GitHub is down
    for _ in range(30):  # almost 1800 s of outage: the session is kept ...
        assert site.app.get("/x", headers=JSON).json["remote_user"] == "octocat"
        clock.advance(59)
    clock.advance(logged_in_at + 600 + 1800 - clock())
    response = site.app.get("/x", headers=JSON, status=401)  # ... and ends once the grace is over
    assert session_cleared(response)


def test_github_back_within_the_grace_keeps_the_session(make_site: t.Any, clock: FakeClock) -> None:
    site = make_site(allowed_orgs=["octo-org"], revalidate_grace=1800)
    site.log_in()
    down = ("503 Service Unavailable", [("Content-Type", "text/html")], b"")
    site.tap.answer = lambda environ: down if environ["PATH_INFO"].startswith("/api/") else None
    clock.advance(600 + 1700)
    assert site.app.get("/x").json["remote_user"] == "octocat"
    site.tap.answer = None
    clock.advance(61)
    response = site.app.get("/x")
    assert response.json["remote_user"] == "octocat" and session_set(response)  # re-validated


@pytest.mark.parametrize("value", [None, -1, True, 2.5, "3600"])
def test_revalidate_grace_must_be_whole_seconds(make_middleware: t.Any, value: object) -> None:
    from oauth_middleware.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"revalidate_grace must be a whole number of seconds.*e\.g\. 3600"):
        make_middleware(revalidate_grace=value)


# -- finding 10: the demo's generated key is private to the user ----------------------------------


@pytest.fixture
def demo(monkeypatch: pytest.MonkeyPatch, tmp_path: t.Any) -> t.Any:
    import warnings

    # for the module's own app
    monkeypatch.setenv("OAUTH_MIDDLEWARE_SECRET_KEY", "demo-test-key-9Xk2Lq7Vm3Rt8Wp1Zc6Nf4Hd5Jb0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # its app warns that it runs on plain http
        import demo_app

    return demo_app


def _demo_key(demo: t.Any, environ: dict[str, str]) -> str:
    import logging

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("demo_app").addHandler(handler)
    try:
        return str(demo.secret_key(environ))
    finally:
        logging.getLogger("demo_app").removeHandler(handler)
        assert any("OAUTH_MIDDLEWARE_SECRET_KEY is not set" in r.getMessage() for r in records)  # logged once


def test_the_demo_keeps_its_generated_key_private(demo: t.Any, tmp_path: t.Any) -> None:
    import os
    import stat

    environ = {"XDG_RUNTIME_DIR": str(tmp_path)}
    key = _demo_key(demo, environ)
    path = tmp_path / "oauth-middleware" / "demo-key"
    assert demo.key_file(environ) == str(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert len(key) >= 32 and path.read_text() == key
    assert _demo_key(demo, environ) == key  # every worker reads the same one
    assert os.listdir(path.parent) == ["demo-key"]  # no draft left behind
    # no runtime directory: the user's cache directory, never the shared temporary one
    assert demo.key_file({}) == os.path.join(os.path.expanduser("~"), ".cache", "oauth-middleware", "demo-key")
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    assert demo.key_file(cache) == str(tmp_path / "cache" / "oauth-middleware" / "demo-key")


@pytest.mark.parametrize("mode", [0o644, 0o620, 0o604, 0o660])
def test_the_demo_refuses_a_key_file_open_to_others(demo: t.Any, tmp_path: t.Any, mode: int) -> None:
    environ = {"XDG_RUNTIME_DIR": str(tmp_path)}
    (tmp_path / "oauth-middleware").mkdir(mode=0o700)
    planted = tmp_path / "oauth-middleware" / "demo-key"
    planted.write_text("p" * 43)
    planted.chmod(mode)
    with pytest.raises(demo.DemoKeyError, match="readable or writable by group or others"):
        _demo_key(demo, environ)


def test_the_demo_refuses_a_key_directory_open_to_others(demo: t.Any, tmp_path: t.Any) -> None:
    environ = {"XDG_RUNTIME_DIR": str(tmp_path)}
    (tmp_path / "oauth-middleware").mkdir()
    (tmp_path / "oauth-middleware").chmod(0o777)
    with pytest.raises(demo.DemoKeyError, match="directory .* readable or writable by group or others"):
        _demo_key(demo, environ)


def test_the_demo_refuses_a_key_file_owned_by_someone_else(demo: t.Any, tmp_path: t.Any) -> None:
    import os

    if os.geteuid() != 0:
        pytest.skip("giving a file to another user needs root")
    environ = {"XDG_RUNTIME_DIR": str(tmp_path)}
    (tmp_path / "oauth-middleware").mkdir(mode=0o700)
    planted = tmp_path / "oauth-middleware" / "demo-key"
    planted.write_text("p" * 43)
    planted.chmod(0o600)
    os.chown(planted, 65534, 65534)  # nobody
    with pytest.raises(demo.DemoKeyError, match="belongs to uid 65534, not to you"):
        _demo_key(demo, environ)


def test_the_demo_refuses_a_symlinked_key_file(demo: t.Any, tmp_path: t.Any) -> None:
    environ = {"XDG_RUNTIME_DIR": str(tmp_path)}
    (tmp_path / "oauth-middleware").mkdir(mode=0o700)
    target = tmp_path / "elsewhere"
    target.write_text("p" * 43)
    (tmp_path / "oauth-middleware" / "demo-key").symlink_to(target)
    with pytest.raises(OSError):
        _demo_key(demo, environ)


# -- finding 4: one deadline per provider call, not per socket read (ERR-9) ----------------------


class Dripper:
    """An HTTP server on 127.0.0.1, one thread, that answers every request one byte every 0.5 s:
    the body after prompt headers (``"body"``), or the headers too (``"headers"``). An answer is
    at most :attr:`BYTES` bytes (20 s or so), the server at most 60 s old; stopped on exit."""

    DRIP = 0.5
    BYTES = 40

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.url = "http://127.0.0.1:%d" % self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, name="dripper", daemon=True)

    def __enter__(self) -> Dripper:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.listener.close()
        assert not self.thread.is_alive()

    def _serve(self) -> None:
        give_up = time.monotonic() + 60
        while not self.stopping.is_set() and time.monotonic() < give_up:
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            with connection:
                self._answer(connection)

    def _answer(self, connection: socket.socket) -> None:
        connection.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = connection.recv(4096)
            if not chunk:
                return
            data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        if "/access_token" in head.split("\r\n", 1)[0]:
            body = b'{"access_token": "gho_drip", "token_type": "bearer"}'
        else:
            body = b'{"login": "octocat", "id": 1}'
        body = body.ljust(self.BYTES)
        header = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        if self.mode == "body":
            connection.sendall(header)
            slow = body
        else:
            slow = header + body
        for byte in slow:
            try:
                connection.sendall(bytes([byte]))
            except OSError:
                return  # the client hung up
            if self.stopping.wait(self.DRIP):
                return


CALLS = {
    "token exchange": lambda client: client.exchange_code(
        code="c0de", redirect_uri="https://app.example.com/auth/callback", verifier="v" * 43, now=0.0
    ),
    "profile": lambda client: client.fetch_profile({"access_token": "gho_x"}),
}


@pytest.mark.filterwarnings("ignore:allow_insecure_http")
@pytest.mark.parametrize("mode", ["body", "headers"])
@pytest.mark.parametrize("call", list(CALLS))
def test_a_dripping_provider_cannot_stretch_a_call_past_timeout(make_middleware: t.Any, mode: str, call: str) -> None:
    from oauth_middleware import GitHub
    from oauth_middleware.errors import ProviderTimeout

    with Dripper(mode) as server:
        middleware = make_middleware(
            provider=GitHub(server.url, api_base_url=server.url + "/api/v3/"), allow_insecure_http=True, timeout=1.0
        )
        started = time.monotonic()
        with pytest.raises(ProviderTimeout):
            CALLS[call](middleware.client)
        took = time.monotonic() - started
    # the drip lasts about 20 s, each byte well within the 1 s read timeout: before the deadline
    # the call took all of it. The bound is loose on purpose (a loaded machine), not a benchmark.
    assert took < 6, took


@pytest.mark.filterwarnings("ignore:allow_insecure_http")
def test_a_dripping_token_endpoint_gets_a_504_at_the_callback(make_app: t.Any) -> None:
    from oauth_middleware import GitHub

    with Dripper("body") as server:
        app = make_app(
            provider=GitHub(server.url, api_base_url=server.url + "/api/v3/"), allow_insecure_http=True, timeout=1.0
        )
        params = start_login(app)
        started = time.monotonic()
        response = app.get("/auth/callback", {"code": "c0de", "state": params["state"]}, headers=JSON, status=504)
        took = time.monotonic() - started
    assert response.json["error"] == "provider_timeout"
    assert took < 6, took
