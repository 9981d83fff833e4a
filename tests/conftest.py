"""Shared fixtures: GitHub faked at the `requests` layer with `responses`, using GitHub's own
example bodies from tests/data/github-examples/, and a factory for wrapped apps."""

from __future__ import annotations

import json
import pathlib
import re
import typing as t
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import responses
import webtest

from oauth_middleware import OAuthMiddleware

# the opt-in fixtures users get the same way (fake_github, github_middleware): tested in test_testing.py
pytest_plugins = ["oauth_middleware.testing"]

DATA = pathlib.Path(__file__).parent / "data"
EXAMPLES = DATA / "github-examples"
SECRET_KEY = "k" * 16 + "0123456789abcdef0123"  # 36 bytes, fixed so failures are reproducible
CLIENT_ID = "Iv1.test-client-id"
CLIENT_SECRET = "test-client-secret-5f3a9c1e"
TOKEN = "gho_16C7e42F292c6912E7710c838347Ae178B4a"  # from token_success.json
TOKEN_URL = "https://github.com/login/oauth/access_token"
USER_URL = "https://api.github.com/user"
HTTPS = {"wsgi.url_scheme": "https", "HTTP_HOST": "app.example.com"}


def example(name: str) -> t.Any:
    text = (EXAMPLES / name).read_text()
    return json.loads(text) if name.endswith(".json") else text


def downstream(environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]) -> list[bytes]:
    """The wrapped app: echoes what it was given as JSON."""
    body = json.dumps(
        {
            "path": environ.get("PATH_INFO"),
            "remote_user": environ.get("REMOTE_USER"),
            "user": environ.get("oauth_middleware.user"),
            "token": environ.get("oauth_middleware.token"),
            "groups": environ.get("oauth_middleware.groups"),
            "cookie": environ.get("HTTP_COOKIE"),
            "identity_headers": {k: v for k, v in environ.items() if "USER" in k and k != "REMOTE_USER"},
        }
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_middleware(clock: FakeClock) -> t.Callable[..., OAuthMiddleware]:
    def make(app: t.Any = downstream, **options: t.Any) -> OAuthMiddleware:
        options.setdefault("client_id", CLIENT_ID)
        options.setdefault("client_secret", CLIENT_SECRET)
        options.setdefault("secret_key", SECRET_KEY)
        options.setdefault("clock", clock)
        return OAuthMiddleware(app, **options)

    return make


@pytest.fixture
def make_app(make_middleware: t.Callable[..., OAuthMiddleware]) -> t.Callable[..., webtest.TestApp]:
    def make(app: t.Any = downstream, extra_environ: dict[str, str] | None = None, **options: t.Any) -> webtest.TestApp:
        return webtest.TestApp(make_middleware(app, **options), extra_environ=dict(HTTPS, **(extra_environ or {})))

    return make


@pytest.fixture
def testapp(make_app: t.Callable[..., webtest.TestApp]) -> webtest.TestApp:
    return make_app()


class GitHubMock:
    """GitHub's token endpoint and /user, mocked with `responses` and GitHub's example bodies."""

    def __init__(self, rsps: responses.RequestsMock) -> None:
        self.rsps = rsps
        self.token_body: t.Any = {"access_token": TOKEN, "scope": "read:user,user:email", "token_type": "bearer"}
        self.user_body: t.Any = example("user_private.json")
        self.token_calls: list[dict[str, list[str]]] = []
        self.user_calls: list[dict[str, str]] = []
        rsps.add_callback(responses.POST, TOKEN_URL, callback=self._token)
        rsps.add_callback(responses.GET, USER_URL, callback=self._user)

    def _token(self, request: t.Any) -> tuple[int, dict[str, str], str]:
        self.token_calls.append(parse_qs(request.body))
        if isinstance(self.token_body, tuple):
            return self.token_body
        return 200, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(self.token_body)

    def _user(self, request: t.Any) -> tuple[int, dict[str, str], str]:
        self.user_calls.append(dict(request.headers))
        if isinstance(self.user_body, tuple):
            return self.user_body
        return 200, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(self.user_body)


@pytest.fixture
def github() -> t.Iterator[GitHubMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield GitHubMock(rsps)


def start_login(app: webtest.TestApp, next_url: str | None = None, **kwargs: t.Any) -> dict[str, str]:
    """GET the login path; return the authorize URL's query parameters."""
    url = "/auth/login" + ("?" + urlencode({"next": next_url}) if next_url is not None else "")
    response = app.get(url, status=302, **kwargs)
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    return {k: v[0] for k, v in query.items()}


def log_in(app: webtest.TestApp, next_url: str | None = None) -> webtest.TestResponse:
    """A whole login through the mocked GitHub; returns the callback's response."""
    params = start_login(app, next_url)
    return app.get("/auth/callback", {"code": "a1b2c3d4e5f6a7b8c9d0", "state": params["state"]}, status=302)


def cookie_names(response: webtest.TestResponse) -> list[str]:
    return [re.split("[=;]", h, maxsplit=1)[0] for h in response.headers.getall("Set-Cookie")]


def _real_redis(tmp_path_factory: pytest.TempPathFactory, what: str) -> t.Iterator[t.Any]:
    pytest.importorskip("redis", reason="redis-py is not installed: pip install -e '.[test]'")
    from support import redis_server as support

    if support.redis_server_binary() is None:
        pytest.skip("no redis-server on PATH (.ci/run installs Debian's redis-server package)")
    start = support.start_redis if what == "redis" else support.start_cluster
    running = start(tmp_path_factory.mktemp(what))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[t.Any]:
    """One real redis-server (tests/support/redis_server.py) for the whole run, stopped by PID at the
    end; tests that need it skip, saying why, only when the binary or redis-py is missing."""
    yield from _real_redis(tmp_path_factory, "redis")


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[t.Any]:
    """A real three-node Redis Cluster (primaries only) for the whole run, stopped by PID at the end."""
    yield from _real_redis(tmp_path_factory, "redis-cluster")
