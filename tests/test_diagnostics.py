"""Diagnostics that name the cause: a secret key that differs between workers, and a login that
starts on another host than redirect_uri's. Logged as rate-limited WARNINGs with the fix, and given
as a hint on the callback's 400 page; the cookies are refused exactly as before."""

from __future__ import annotations

import logging
import secrets
import typing as t

import pytest
import webtest

from oauth_middleware import OAuthMiddleware
from oauth_middleware.crypto import Cipher
from oauth_middleware.diagnostics import KEY_MISMATCH_HINT, RateLimitedLog
from oauth_middleware.testing import FakeGitHub, session_cookie

HOST = "app.test"
KEY_MESSAGE = "all workers and hosts must share one OAUTH_MIDDLEWARE_SECRET_KEY"
HOST_MESSAGE = "browsers keep the login's cookie per host"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def echo(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
    body = (environ.get("REMOTE_USER") or "anonymous").encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake() -> FakeGitHub:
    return FakeGitHub(auto_approve="octocat")


@pytest.fixture
def worker(fake: FakeGitHub, clock: Clock) -> t.Callable[..., OAuthMiddleware]:
    """One worker process: by default with its own random key, the mistake under test."""

    def make(secret_key: str | None = None, **options: t.Any) -> OAuthMiddleware:
        middleware = OAuthMiddleware(
            echo,
            client_id=fake.client_id,
            client_secret=fake.client_secret,
            secret_key=secret_key or secrets.token_urlsafe(32),
            provider=fake.provider(),
            clock=clock,
            **options,
        )
        fake.mount(middleware.http)
        return middleware

    return make


def browser(app: OAuthMiddleware, jar_from: webtest.TestApp | None = None, **environ: str) -> webtest.TestApp:
    testapp = webtest.TestApp(app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": HOST, **environ})
    if jar_from is not None:
        testapp.cookiejar = jar_from.cookiejar  # one browser, two workers behind a load balancer
    return testapp


def start_login(testapp: webtest.TestApp, fake: FakeGitHub) -> str:
    """Start a login and consent at the fake; return the callback path the browser is sent to."""
    authorize = testapp.get("/auth/login").headers["Location"]
    callback = webtest.TestApp(fake).get(authorize[len(fake.base_url) :]).headers["Location"]
    return str(callback.split("://", 1)[1].split("/", 1)[1]).join(["/", ""])


def warnings_in(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join("%s=%s" % item for item in cookies.items())


def tamper(value: str) -> str:
    """Change one character in the middle of a sealed value (the ciphertext, not the key id)."""
    middle = len(value) // 2
    return value[:middle] + ("A" if value[middle] != "A" else "B") + value[middle + 1 :]


# -- (a) a secret key that differs between workers ---------------------------------------------


def test_a_session_from_a_worker_with_another_key_is_refused_and_named(
    worker: t.Callable[..., OAuthMiddleware], caplog: pytest.LogCaptureFixture
) -> None:
    first, second = worker(), worker()
    cookies = session_cookie(first, "octocat")
    assert browser(first).get("/", headers={"Cookie": cookie_header(cookies)}).text == "octocat"
    with caplog.at_level(logging.INFO, "oauth_middleware"):
        response = browser(second).get("/", headers={"Cookie": cookie_header(cookies)})
    assert response.text == "anonymous"  # refused, as before
    assert any(h.startswith("__Host-oauth_session=;") for h in response.headers.getall("Set-Cookie"))
    [line] = warnings_in(caplog)
    assert "refused a session cookie sealed with a secret key this process does not have" in line
    assert KEY_MESSAGE in line
    ids = (first.sessions.cipher.key_id, second.sessions.cipher.key_id)
    assert "key id %s; this process seals with %s" % ids in line


def test_a_tampered_session_cookie_is_refused_without_the_key_message(
    worker: t.Callable[..., OAuthMiddleware], caplog: pytest.LogCaptureFixture
) -> None:
    middleware = worker()
    name, value = next(iter(session_cookie(middleware, "octocat").items()))
    for bad in (tamper(value), value[:-3], value + "A", "not-a-sealed-value", value[:20]):
        with caplog.at_level(logging.DEBUG, "oauth_middleware"):
            assert browser(middleware).get("/", headers={"Cookie": "%s=%s" % (name, bad)}).text == "anonymous"
    assert not any("secret key" in line for line in warnings_in(caplog))
    assert "OAUTH_MIDDLEWARE_SECRET_KEY" not in caplog.text


def test_the_key_warning_is_rate_limited(
    worker: t.Callable[..., OAuthMiddleware], clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = worker(), worker()
    header = cookie_header(session_cookie(first, "octocat"))
    with caplog.at_level(logging.WARNING, "oauth_middleware"):
        for _ in range(50):  # an attacker replaying a foreign-key cookie cannot flood the log
            browser(second).get("/", headers={"Cookie": header})
        assert len(warnings_in(caplog)) == 1
        clock.now += 601
        browser(second).get("/", headers={"Cookie": header})
    lines = warnings_in(caplog)
    assert len(lines) == 2 and lines[1].endswith("(49 more like this since the last report)")


def test_a_login_that_comes_back_to_a_worker_with_another_key_gets_a_hint(
    worker: t.Callable[..., OAuthMiddleware], fake: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = worker(), worker()
    at_first = browser(first)
    callback = start_login(at_first, fake)
    with caplog.at_level(logging.INFO, "oauth_middleware"):
        page = browser(second, jar_from=at_first).get(callback, status=400)
    assert "invalid, expired or was already used" in page.text
    assert "sealed with a secret key this server does not have" in page.text
    assert "share one secret key (OAUTH_MIDDLEWARE_SECRET_KEY)" in page.text
    assert any("refused a flow cookie" in line and KEY_MESSAGE in line for line in warnings_in(caplog))
    assert fake.token_requests == 0  # still refused before any call to GitHub
    # the same answer for a client that asks for JSON
    callback = start_login(at_first, fake)
    answer = browser(second, jar_from=at_first).get(callback, headers={"Accept": "application/json"}, status=400)
    assert answer.json["error"] == "invalid_state" and KEY_MISMATCH_HINT in answer.json["error_description"]


def test_a_tampered_flow_cookie_gets_no_key_hint(
    worker: t.Callable[..., OAuthMiddleware], fake: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    middleware = worker()
    testapp = browser(middleware)
    callback = start_login(testapp, fake)
    [flow] = [c for c in testapp.cookiejar if ".flow." in c.name]
    flow.value = tamper(str(flow.value))
    with caplog.at_level(logging.INFO, "oauth_middleware"):
        page = testapp.get(callback, status=400)
    assert "invalid, expired or was already used" in page.text
    assert "secret key" not in page.text and "secret key" not in caplog.text


def test_workers_sharing_one_key_log_in_without_any_hint(
    worker: t.Callable[..., OAuthMiddleware], fake: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    key = secrets.token_urlsafe(32)
    first, second = worker(key), worker(key)
    at_first = browser(first)
    callback = start_login(at_first, fake)
    with caplog.at_level(logging.WARNING, "oauth_middleware"):
        browser(second, jar_from=at_first).get(callback, status=302)
        assert browser(first, jar_from=at_first).get("/").text == "octocat"
    assert warnings_in(caplog) == []


def test_a_key_removed_from_the_rotation_is_named_too(
    worker: t.Callable[..., OAuthMiddleware], caplog: pytest.LogCaptureFixture
) -> None:
    old, new = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    cookies = session_cookie(worker(old), "octocat")
    assert browser(worker([new, old])).get("/", headers={"Cookie": cookie_header(cookies)}).text == "octocat"
    with caplog.at_level(logging.WARNING, "oauth_middleware"):
        assert browser(worker(new)).get("/", headers={"Cookie": cookie_header(cookies)}).text == "anonymous"
    assert "a key you removed" in caplog.text


def test_foreign_key_id_tells_another_key_from_garbage() -> None:
    ours, theirs = Cipher([b"o" * 32], purpose="session"), Cipher([b"t" * 32], purpose="session")
    value = theirs.seal(b"payload", aad=b"name")
    assert ours.foreign_key_id(value) == theirs.key_id
    assert ours.foreign_key_id(ours.seal(b"payload", aad=b"name")) is None
    assert ours.foreign_key_id(tamper(ours.seal(b"payload", aad=b"name"))) is None
    for garbage in ("", "x", "not base64!", value + "=", value[:10]):
        assert ours.foreign_key_id(garbage) is None


# -- (b) a login that starts on another host than redirect_uri's -------------------------------

REDIRECT_URI = "https://localhost:8000/auth/callback"


def test_a_login_on_another_host_than_redirect_uri_warns_with_the_fix(
    worker: t.Callable[..., OAuthMiddleware], caplog: pytest.LogCaptureFixture
) -> None:
    middleware = worker(redirect_uri=REDIRECT_URI)
    with caplog.at_level(logging.WARNING, "oauth_middleware"):
        browser(middleware, HTTP_HOST="127.0.0.1:8000").get("/auth/login", status=302)
    [line] = warnings_in(caplog)
    assert "a login started at host 127.0.0.1, but redirect_uri sends the browser back to localhost" in line
    assert HOST_MESSAGE in line and "Browse the site at localhost" in line


@pytest.mark.parametrize("host", ["localhost:8000", "LOCALHOST:8000", "localhost", "localhost:5000"])
def test_a_login_on_redirect_uris_host_does_not_warn(
    worker: t.Callable[..., OAuthMiddleware], caplog: pytest.LogCaptureFixture, host: str
) -> None:
    middleware = worker(redirect_uri=REDIRECT_URI)  # cookies are per host name, whatever the port
    with caplog.at_level(logging.WARNING, "oauth_middleware"):
        browser(middleware, HTTP_HOST=host).get("/auth/login", status=302)
    assert warnings_in(caplog) == []


def test_the_host_warning_is_rate_limited_and_never_logs_a_hostile_host(
    worker: t.Callable[..., OAuthMiddleware], caplog: pytest.LogCaptureFixture
) -> None:
    middleware = worker(redirect_uri=REDIRECT_URI)

    def login_at(host: str) -> str:
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/auth/login", "wsgi.url_scheme": "https", "HTTP_HOST": host}
        statuses: list[str] = []

        def start_response(status: str, headers: t.Any, exc_info: t.Any = None) -> t.Any:
            statuses.append(status)

        b"".join(middleware(environ, start_response))
        return statuses[0]

    with caplog.at_level(logging.WARNING, "oauth_middleware"):
        for host in ("evil<script>", "a\r\nb", "x" * 300, "[::1", "host:99999999", "a b"):
            assert login_at(host) == "302 Found"
        assert warnings_in(caplog) == []
        for index in range(20):
            assert login_at("attacker%d.test" % index) == "302 Found"
    assert len(warnings_in(caplog)) == 1


def test_the_callback_hints_at_the_host_when_no_login_record_came_back(
    worker: t.Callable[..., OAuthMiddleware], fake: FakeGitHub
) -> None:
    middleware = worker(redirect_uri=REDIRECT_URI)
    started = browser(middleware, HTTP_HOST="10.1.2.3:8000")
    callback = start_login(started, fake)
    # the browser comes back to localhost, where it holds no cookie of that login
    page = browser(middleware, HTTP_HOST="localhost:8000").get(callback, status=400)
    assert "If you started the login at another address than localhost:8000" in page.text
    assert "open localhost:8000 and log in from there" in page.text
    assert "10.1.2.3" not in page.text  # nothing from the request is echoed
    assert fake.token_requests == 0


def test_no_host_hint_without_redirect_uri_or_with_another_login_in_progress(
    worker: t.Callable[..., OAuthMiddleware], fake: FakeGitHub
) -> None:
    plain = browser(worker())
    assert "another address" not in plain.get("/auth/callback?code=x&state=y", status=400).text
    fixed = worker(redirect_uri=REDIRECT_URI)
    testapp = browser(fixed, HTTP_HOST="localhost:8000")
    start_login(testapp, fake)  # a login of this browser is in progress: the host is right
    page = testapp.get("/auth/callback?code=x&state=forged", status=400)
    assert "invalid, expired or was already used" in page.text and "another address" not in page.text


def test_rate_limited_log_counts_what_it_held_back(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    limited = RateLimitedLog(interval=10, clock=clock)
    with caplog.at_level(logging.WARNING, "oauth_middleware"):
        assert limited.warning("a", "first %s", "a")
        assert not limited.warning("a", "second %s", "a")
        assert limited.warning("b", "other topic")
        clock.now += 10
        assert limited.warning("a", "third %s", "a")
    assert warnings_in(caplog) == ["first a", "other topic", "third a (1 more like this since the last report)"]
