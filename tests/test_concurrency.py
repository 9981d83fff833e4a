"""One middleware, many threads: logins and authenticated requests never cross users.

A single :class:`~oauth_middleware.OAuthMiddleware` is wired to one in-process
:class:`~oauth_middleware.testing.FakeGitHub` (thread-safe). 16 threads, each with its own cookie
jar, log in 50 times each, alternating between three fake users, then make 500 authenticated
requests each through the WSGI interface. The wrapped app echoes ``REMOTE_USER`` and the token,
so every thread checks it sees *its* user, and the token GitHub issued to that user, every time.
"""

from __future__ import annotations

import io
import json
import threading
import typing as t
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from support import SECRET_KEY

from oauth_middleware import OAuthMiddleware
from oauth_middleware.testing import FakeGitHub, FakeUser

THREADS = 16
LOGINS = 50
REQUESTS = 500
USERS = ("octocat", "hubot", "mona")
APP_URL = "https://app.test"
SESSION = "__Host-oauth_session"


def echo(environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]) -> list[bytes]:
    token = environ.get("oauth_middleware.token") or {}
    body = json.dumps({"user": environ.get("REMOTE_USER"), "token": token.get("access_token")}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class Browser:
    """A minimal browser: its own cookie jar, WSGI calls straight into the app (no sockets)."""

    def __init__(self, app: t.Callable[..., t.Iterable[bytes]]) -> None:
        self.app = app
        self.jar: dict[str, str] = {}

    def request(
        self, url: str, *, method: str = "GET", form: t.Sequence[tuple[str, str]] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(url)
        body = urlencode(form).encode() if form is not None else b""
        environ: dict[str, t.Any] = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": parts.path,
            "QUERY_STRING": parts.query,
            "SERVER_NAME": parts.hostname,
            "SERVER_PORT": "443",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": parts.netloc,
            "HTTP_ACCEPT": "text/html",
            "wsgi.url_scheme": "https",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(),
            "wsgi.version": (1, 0),
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        if form is not None:
            environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
            environ["CONTENT_LENGTH"] = str(len(body))
        if self.jar:
            environ["HTTP_COOKIE"] = "; ".join("%s=%s" % item for item in self.jar.items())
        started: list[tuple[str, list[tuple[str, str]]]] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: t.Any = None) -> t.Any:
            started.append((status, headers))
            return None

        result = self.app(environ, start_response)
        try:
            content = b"".join(result)
        finally:
            getattr(result, "close", lambda: None)()
        status, headers = started[-1]
        single = {}
        for name, value in headers:
            if name.lower() == "set-cookie":
                cookie, _, rest = value.partition(";")
                key, _, cookie_value = cookie.partition("=")
                if "Max-Age=0" in rest:
                    self.jar.pop(key, None)
                else:
                    self.jar[key] = cookie_value
            else:
                single[name.lower()] = value
        return int(status[:3]), single, content


def log_in(browser: Browser, fake: FakeGitHub, user: str) -> None:
    """The whole dance: login, consent at the fake (as ``user``), callback."""
    status, headers, _ = browser.request(APP_URL + "/auth/login?next=/home")
    assert status == 302, status
    authorize = urlsplit(headers["location"])
    assert authorize.path == "/login/oauth/authorize"
    params = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    consent = Browser(fake)
    form = [*params.items(), ("login", user), ("authorize", "1")]
    status, headers, _ = consent.request(fake.base_url + "/login/oauth/authorize", method="POST", form=form)
    assert status == 302, status
    callback = urlsplit(headers["location"])
    assert APP_URL + callback.path == APP_URL + "/auth/callback"
    status, headers, body = browser.request(APP_URL + callback.path + "?" + callback.query)
    assert status == 302, (status, body[:200])
    assert headers["location"] == "/home"


@pytest.fixture
def site() -> tuple[OAuthMiddleware, FakeGitHub]:
    users = [FakeUser("octocat", 1), FakeUser("hubot", 2), FakeUser("mona", 3)]
    fake = FakeGitHub(users=users, auto_approve=False)
    middleware = OAuthMiddleware(
        echo,
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        secret_key=SECRET_KEY,
        provider=fake.provider(),
        redirect_uri=APP_URL + "/auth/callback",
    )
    fake.mount(middleware.http)
    return middleware, fake


def run_threads(target: t.Callable[[int, threading.Barrier], None]) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def guarded(index: int) -> None:
        try:
            target(index, barrier)
        except BaseException as exc:  # collected and reported by the test
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=guarded, args=(i,), name="client-%d" % i) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=50)
    assert not any(thread.is_alive() for thread in threads), "a client thread hung"
    return errors


def test_sixteen_threads_log_in_and_never_see_another_user(site: tuple[OAuthMiddleware, FakeGitHub]) -> None:
    middleware, fake = site
    browsers = [Browser(middleware) for _ in range(THREADS)]
    #: per thread: user -> (session cookie value, token the app saw)
    sessions: list[dict[str, tuple[str, str]]] = [{} for _ in range(THREADS)]

    def logins(index: int, barrier: threading.Barrier) -> None:
        browser = browsers[index]
        barrier.wait()
        for round_ in range(LOGINS):
            user = USERS[(index + round_) % len(USERS)]
            log_in(browser, fake, user)
            assert not any(".flow." in name for name in browser.jar)  # each flow consumed
            status, _, body = browser.request(APP_URL + "/home")
            seen = json.loads(body)
            assert status == 200 and seen["user"] == user, (user, seen)
            sessions[index][user] = (browser.jar[SESSION], seen["token"])

    assert run_threads(logins) == []
    assert fake.token_requests == THREADS * LOGINS  # one exchange per login, no retries
    for per_thread in sessions:
        assert set(per_thread) == set(USERS)
        for user, (_, token) in per_thread.items():
            assert fake.scopes_of(token) is not None and token in fake.tokens_for(user)

    def requests_(index: int, barrier: threading.Barrier) -> None:
        browser = browsers[index]
        mine = sessions[index]
        barrier.wait()
        for number in range(REQUESTS):
            user = USERS[(index + number) % len(USERS)]
            cookie, token = mine[user]
            browser.jar = {SESSION: cookie}
            status, _, body = browser.request(APP_URL + "/page/%d?n=%d" % (index, number))
            seen = json.loads(body)
            assert status == 200 and seen == {"user": user, "token": token}, (index, number, user, seen)
            assert browser.jar == {SESSION: cookie}  # no cookie rewritten, none cleared

    assert run_threads(requests_) == []
    assert fake.token_requests == THREADS * LOGINS  # ordinary requests never call GitHub
