"""A middleware wired in-process to a FakeGitHub driven by the test clock (the ``make_site``
fixture of conftest.py), with a recorder of the calls that reach the fake and a FaultAdapter
in between for outages."""

from __future__ import annotations

import dataclasses
import io
import typing as t
from urllib.parse import urlsplit

import webtest

from oauth_middleware import OAuthMiddleware
from oauth_middleware.testing import FakeGitHub, FakeUser, FaultAdapter, WSGITransportAdapter
from oauth_middleware.testing.faults import Rule

from .common import HTTPS, SECRET_KEY, FakeClock, downstream

SESSION = "__Host-oauth_session"
TOKEN_PATH = "/login/oauth/access_token"
echo = downstream


@dataclasses.dataclass
class Call:
    method: str
    path: str
    authorization: str
    body: bytes


class Recorder:
    """Wraps the fake: remembers every server-side call the middleware makes. ``before_token``
    runs before each token request reaches the fake (the race test holds the winner there)."""

    def __init__(self, app: t.Any) -> None:
        self.app = app
        self.calls: list[Call] = []
        self.before_token: t.Callable[[], None] | None = None

    def __call__(self, environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]) -> t.Iterable[bytes]:
        body = environ["wsgi.input"].read()
        environ["wsgi.input"] = io.BytesIO(body)
        path = environ["PATH_INFO"]
        self.calls.append(Call(environ["REQUEST_METHOD"], path, environ.get("HTTP_AUTHORIZATION", ""), body))
        if path == TOKEN_PATH and self.before_token is not None:
            self.before_token()
        return t.cast(t.Iterable[bytes], self.app(environ, start_response))

    def api_calls(self) -> list[str]:
        return [call.path for call in self.calls if call.path.startswith("/api/")]


@dataclasses.dataclass
class Site:
    """A middleware wired in-process to a FakeGitHub, and a browser for both."""

    fake: FakeGitHub
    middleware: OAuthMiddleware
    recorder: Recorder
    users: list[FakeUser]
    #: between the middleware and the fake: outages, slow bodies, canned answers.
    faults: FaultAdapter
    outages: dict[str, Rule] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.app = webtest.TestApp(self.middleware, extra_environ=HTTPS)
        self.github = webtest.TestApp(self.fake)  # the browser's view of GitHub

    def log_in(self) -> webtest.TestResponse:
        """A whole login: login path -> GitHub's authorize page (auto-approved) -> callback."""
        app = self.app
        location = urlsplit(str(app.get("/auth/login?next=/x", status=302).location))
        callback = urlsplit(str(self.github.get(location.path + "?" + location.query, status=302).location))
        response = app.get(callback.path + "?" + callback.query, status=302)
        assert session_set(response)
        return response

    def whoami(self, **kwargs: t.Any) -> dict[str, t.Any]:
        return t.cast(dict[str, t.Any], self.app.get("/x", **kwargs).json)

    def access_token(self) -> str:
        return str(self.whoami()["token"]["access_token"])

    def works_at_github(self, token: str) -> bool:
        """Whether GitHub still accepts ``token`` (GET /user)."""
        response = self.github.get("/user", headers={"Authorization": "Bearer " + token}, expect_errors=True)
        return response.status_int == 200

    def take_down(self, prefix: str, before: t.Callable[[], None] | None = None) -> Rule:
        """Make every server-side call under ``prefix`` (a path on the fake) a connection error."""
        down = self.faults.refuse(self.fake.base_url + prefix, before=before)
        self.outages[prefix] = down
        return down

    def bring_up(self, prefix: str) -> None:
        self.faults.remove(self.outages.pop(prefix))


def site_factory(clock: FakeClock) -> t.Callable[..., Site]:
    """The ``make_site`` fixture: ``make_site(expiring_tokens=False, **middleware_options)``."""

    def make(*, expiring_tokens: bool = False, **options: t.Any) -> Site:
        users = [
            FakeUser("octocat", 1, name="Mona", email="octocat@github.test", orgs=["octo-org"], teams=["octo-org/ops"])
        ]
        fake = FakeGitHub(users=users, auto_approve=True, expiring_tokens=expiring_tokens, clock=clock)
        middleware = OAuthMiddleware(
            echo,
            client_id=fake.client_id,
            client_secret=fake.client_secret,
            secret_key=SECRET_KEY,
            provider=fake.provider(),
            clock=clock,
            **options,
        )
        recorder = Recorder(fake)
        faults = FaultAdapter(WSGITransportAdapter(recorder))
        middleware.http.mount(fake.base_url + "/", faults)
        return Site(fake, middleware, recorder, users, faults)

    return make


def session_set(response: t.Any) -> bool:
    """Whether the response stores a session (a Set-Cookie of the session with a value)."""
    return any(
        h.startswith(SESSION + "=") and not h.startswith(SESSION + "=;") and "Max-Age=0" not in h
        for h in response.headers.getall("Set-Cookie")
    )


def session_cleared(response: t.Any) -> bool:
    return any(h.startswith(SESSION + "=;") and "Max-Age=0" in h for h in response.headers.getall("Set-Cookie"))
