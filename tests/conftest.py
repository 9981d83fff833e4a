"""Shared fixtures. The helpers and constants behind them live in tests/support/: import them
from ``support`` (conftest still hands them out, for modules that import them from here)."""

from __future__ import annotations

import typing as t

import pytest
import webtest
from support import CLIENT_ID, CLIENT_SECRET, HTTPS, SECRET_KEY, FakeClock, downstream

from oauth_middleware import OAuthMiddleware

if t.TYPE_CHECKING:
    from support import GitHubDouble, Site

    from oauth_middleware.testing import FaultAdapter

# the opt-in fixtures users get the same way (fake_github, github_middleware): tested in test_testing.py
pytest_plugins = ["oauth_middleware.testing"]


def __getattr__(name: str) -> t.Any:
    """``from conftest import log_in`` and the like, for modules that still import helpers from
    here: everything in tests/support/ (imported on use, see support/__init__.py)."""
    import support

    if name in support.__all__:
        return getattr(support, name)
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


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


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> GitHubDouble:
    """github.com and api.github.com served in-process by a FakeGitHub behind a FaultAdapter
    (see support/github.py); every other host is a connection error while it is active."""
    from support import GitHubDouble, route_requests

    double = GitHubDouble()
    route_requests(monkeypatch, double.faults)
    return double


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> FaultAdapter:
    """A FaultAdapter that answers everything the HTTP stack would send: canned answers only,
    any request without one is a connection error."""
    from support import route_requests

    from oauth_middleware.testing import FaultAdapter

    adapter = FaultAdapter()
    route_requests(monkeypatch, adapter)
    return adapter


@pytest.fixture
def make_site(clock: FakeClock) -> t.Callable[..., Site]:
    """``make_site(expiring_tokens=False, **options)``: a middleware wired to a FakeGitHub that
    approves at once as octocat (orgs octo-org, team octo-org/ops); see support/sites.py."""
    from support import site_factory

    return site_factory(clock)


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
