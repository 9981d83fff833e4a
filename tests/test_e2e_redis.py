"""Issue 12, "Scale", over real sockets: two app hosts on one real Redis.

Two gunicorn instances ("hosts" A and B, four sync workers each) serve the same small app behind
``OAuthMiddleware(store="redis://127.0.0.1:PORT/0")`` with the same secret key
(tests/support/e2e_apps.py). A standalone fake
GitHub (its own process, expiring GitHub App tokens, sixteen and more users, a counter of the
token requests it receives) is the provider; the app's clock is the real time plus an offset read
from a file, so a test can make every worker find a token due without sleeping. The module
starts its own redis-server (one test stops it and starts an empty one on the same port).
Everything binds 127.0.0.1 and is stopped by PID / process group.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import itertools
import os
import pathlib
import sys
import threading
import time
import typing as t
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

pytest.importorskip("gunicorn", reason="gunicorn is needed for the end-to-end tests")
pytest.importorskip("redis", reason="redis-py is not installed: pip install -e '.[test]'")

from support.redis_server import RedisServer, redis_server_binary, start_redis  # noqa: E402
from support.servers import (  # noqa: E402
    REQUEST_TIMEOUT,
    ROOT,
    SECRET_KEY,
    Server,
    http_session,
    server_env,
    start_announced,
    start_gunicorn,
    stop,
)

pytestmark = pytest.mark.e2e

WORKERS = 4  # per host
CLIENTS = 16
CYCLES = 50  # login / request / logout per client
SCALE_BUDGET = 45.0  # seconds for all CLIENTS x CYCLES (bounded: a hang fails, never blocks)
LIFETIME = 28800  # the fake's expiring access tokens: 8 hours; refreshed in their last 300 s
SESSION = "oauth_session"  # the ticket cookie over plain http
JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html"}
SCALE_USERS = ["user%02d" % number for number in range(CLIENTS)]
OTHER_USERS = ["copied", "everywhere", "due", "restart"]


@dataclasses.dataclass
class Deployment:
    redis: RedisServer
    fake: Server
    hosts: list[Server]  # A and B
    offset_file: pathlib.Path

    def counts(self) -> collections.Counter[str]:
        with http_session() as session:
            return collections.Counter(session.get(self.fake.url + "/_test/counts", timeout=REQUEST_TIMEOUT).json())


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Deployment]:
    if redis_server_binary() is None:
        pytest.skip("no redis-server on PATH (.ci/run installs Debian's redis-server package)")
    directory = tmp_path_factory.mktemp("e2e-redis")
    redis_server = start_redis(directory / "redis")
    started: list[Server] = []
    try:
        offset_file = directory / "clock-offset"
        offset_file.write_text("0")
        tests = str(ROOT / "tests")
        pythonpath = os.pathsep.join(filter(None, [tests, str(ROOT), os.environ.get("PYTHONPATH")]))
        command = [sys.executable, "-m", "support.e2e_apps", *SCALE_USERS, *OTHER_USERS]
        fake, _ = start_announced(
            "fake GitHub", command, cwd=ROOT, env=server_env(PYTHONPATH=pythonpath), logdir=directory
        )
        started.append(fake)
        env = server_env(
            OAUTH_MIDDLEWARE_SECRET_KEY=SECRET_KEY,
            E2E_FAKE_GITHUB_URL=fake.url,
            E2E_CLOCK_OFFSET_FILE=str(offset_file),
            E2E_STORE=redis_server.url,
            PYTHONPATH=pythonpath,
        )
        for name in ("host A", "host B"):
            app = "support.e2e_apps:make_app()"
            started.append(start_gunicorn(name, app, workers=WORKERS, chdir=ROOT, logdir=directory, env=env))
        yield Deployment(redis_server, fake, started[1:], offset_file)
    finally:
        for server in reversed(started):
            stop(server)
        redis_server.stop()


# -- a browser that spreads its requests over the hosts --------------------------------------------


class Browser:
    """A cookie jar (cookies ignore the port: both hosts see them, as behind one load balancer) and
    a round-robin over the hosts, one step per request."""

    def __init__(self, deployment: Deployment, start: int = 0) -> None:
        self.deployment = deployment
        self.session = http_session()
        self.turn = itertools.count(start)

    def host(self) -> str:
        hosts = self.deployment.hosts
        return hosts[next(self.turn) % len(hosts)].url

    def request(self, method: str, path: str, base: str | None = None, **options: t.Any) -> requests.Response:
        options.setdefault("allow_redirects", False)
        options.setdefault("timeout", REQUEST_TIMEOUT)
        return self.session.request(method, (base or self.host()) + path, **options)

    def log_in(self, login: str) -> None:
        """The whole code flow, each step on the next host: the callback may reach the other one."""
        started = self.request("GET", "/auth/login?next=/whoami")
        assert started.status_code == 302, started.text
        authorize = urlsplit(started.headers["Location"])
        approved = self.session.post(
            self.deployment.fake.url + authorize.path,
            data=[*parse_qsl(authorize.query), ("login", login), ("authorize", "1")],
            allow_redirects=False,
            timeout=REQUEST_TIMEOUT,
        )
        assert approved.status_code == 302, approved.text
        callback = urlsplit(approved.headers["Location"])
        assert callback.path == "/auth/callback", callback
        landed = self.request("GET", callback.path + "?" + callback.query)
        assert landed.status_code == 302, landed.text
        assert urlsplit(landed.headers["Location"]).path == "/whoami"

    def whoami(self, base: str | None = None, path: str = "/whoami") -> requests.Response:
        return self.request("GET", path, base, headers=JSON)

    def log_out(self, base: str | None = None, *, everywhere: bool = False) -> None:
        data = {"next": "/healthz", **({"everywhere": "1"} if everywhere else {})}
        response = self.request("POST", "/auth/logout", base, data=data)
        assert response.status_code == 303, response.text

    def ticket(self) -> str:
        return str(self.session.cookies[SESSION])


def copied(ticket: str, base: str, path: str = "/whoami") -> requests.Response:
    """A request carrying a copy of someone's ticket cookie (a raw Cookie header, no jar)."""
    with http_session() as session:
        return session.get(
            base + path,
            headers={**JSON, "Cookie": f"{SESSION}={ticket}"},
            allow_redirects=False,
            timeout=REQUEST_TIMEOUT,
        )


def user_of(response: requests.Response) -> str | None:
    assert response.status_code == 200, (response.status_code, response.text[:300])
    return t.cast("str | None", response.json()["user"])


# -- the tests ---------------------------------------------------------------------------------------


def test_sixteen_clients_cycle_over_two_hosts_without_errors_or_cross_talk(deployment: Deployment) -> None:
    before = deployment.counts()

    def client(number: int) -> list[str]:
        login = SCALE_USERS[number]
        browser = Browser(deployment, start=number)
        problems = []
        try:
            for cycle in range(CYCLES):
                browser.log_in(login)
                seen = user_of(browser.whoami())
                if seen != login:
                    problems.append(f"{login} saw {seen!r} in cycle {cycle}")
                browser.log_out()
            after = browser.whoami()  # logged out: anonymous on whichever host comes next
            if after.status_code != 401:
                problems.append(f"{login} still logged in after logging out: {after.status_code}")
        except Exception as error:  # an error in one cycle is reported with the others
            problems.append(f"{login}: {error!r}")
        finally:
            browser.session.close()
        return problems

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        futures = [pool.submit(client, number) for number in range(CLIENTS)]
        problems = [p for f in futures for p in f.result(timeout=SCALE_BUDGET + REQUEST_TIMEOUT)]
    elapsed = time.monotonic() - started
    print(f"\n{CLIENTS} clients x {CYCLES} login/request/logout cycles over 2 hosts: {elapsed:.1f} s")
    assert problems == []
    assert elapsed < SCALE_BUDGET
    logins = deployment.counts()["authorization_code"] - before["authorization_code"]
    assert logins == CLIENTS * CYCLES  # every login exchanged its code exactly once
    # both hosts, and more than one worker on each, served the cycles
    assert all(len(host.worker_pids()) >= 2 for host in deployment.hosts), [h.worker_pids() for h in deployment.hosts]


def test_a_logout_on_one_host_ends_a_copied_cookie_on_the_other(deployment: Deployment) -> None:
    host_a, host_b = (host.url for host in deployment.hosts)
    browser = Browser(deployment)
    browser.log_in("copied")
    ticket = browser.ticket()
    assert user_of(copied(ticket, host_b)) == "copied"
    assert user_of(copied(ticket, host_a)) == "copied"

    browser.log_out(host_a)

    assert copied(ticket, host_b).status_code == 401  # its very next request, on the other host
    assert copied(ticket, host_a).status_code == 401


def test_log_out_everywhere_ends_the_users_other_browser_on_the_other_host(deployment: Deployment) -> None:
    host_a, host_b = (host.url for host in deployment.hosts)
    laptop, phone, other = Browser(deployment), Browser(deployment, start=1), Browser(deployment)
    laptop.log_in("everywhere")
    phone.log_in("everywhere")
    other.log_in("copied")  # another user: not touched
    assert laptop.ticket() != phone.ticket()
    assert user_of(phone.whoami(host_b)) == "everywhere"

    page = laptop.request("GET", "/auth/logout", host_a, headers=HTML)
    assert 'name="everywhere"' in page.text
    laptop.log_out(host_a, everywhere=True)

    assert phone.whoami(host_b).status_code == 401
    assert phone.whoami(host_a).status_code == 401
    assert user_of(other.whoami(host_b)) == "copied"
    other.log_out()


def test_one_due_token_on_eight_workers_is_refreshed_once(deployment: Deployment) -> None:
    browser = Browser(deployment)
    browser.log_in("due")
    ticket = browser.ticket()
    old_token = browser.whoami().json()["token"]
    before = deployment.counts()
    hosts = [host.url for host in deployment.hosts]
    per_host = WORKERS * 2  # /slow holds a worker 0.3 s: the requests spread over all of them
    barrier = threading.Barrier(per_host * len(hosts))

    def one(number: int) -> requests.Response:
        barrier.wait(timeout=REQUEST_TIMEOUT)
        return copied(ticket, hosts[number % len(hosts)], "/slow")

    try:
        deployment.offset_file.write_text(str(LIFETIME - 100))  # every worker finds the token due
        with concurrent.futures.ThreadPoolExecutor(max_workers=per_host * len(hosts)) as pool:
            responses = list(pool.map(one, range(per_host * len(hosts))))
        statuses = [(r.status_code, r.text[:200]) for r in responses]
        assert all(r.status_code == 200 for r in responses), statuses
        bodies = [r.json() for r in responses]
        assert {b["user"] for b in bodies} == {"due"}, statuses
        assert not [h for r in responses for h in r.raw.headers.getlist("Set-Cookie") if "Max-Age=0" in h]
        refreshes = deployment.counts()["refresh_token"] - before["refresh_token"]
        assert refreshes == 1, statuses
        pids = {b["pid"] for b in bodies}
        print(f"\none due session, {len(responses)} concurrent requests, {len(pids)} workers: {refreshes} refresh")
        assert len(pids) >= 4, pids  # several workers on both hosts raced for the refresh

        deployment.offset_file.write_text(str(LIFETIME + 100))  # the old access token has expired
        after = copied(ticket, hosts[1])
        new_token = user_of(after) and after.json()["token"]
        assert new_token not in (None, old_token)  # the same ticket carries the refreshed token
        assert {b["token"] for b in bodies} <= {old_token, new_token}
        assert deployment.counts()["refresh_token"] - before["refresh_token"] == 1
    finally:
        deployment.offset_file.write_text("0")
    browser.log_out()


def test_redis_stopped_fails_closed_and_an_empty_redis_means_a_clean_re_login(deployment: Deployment) -> None:
    browser = Browser(deployment)
    browser.log_in("restart")
    ticket = browser.ticket()
    deployment.redis.stop()
    try:
        for base in [host.url for host in deployment.hosts] * WORKERS:
            protected = copied(ticket, base)
            assert protected.status_code == 503, (protected.status_code, protected.text[:300])
            assert protected.headers["Retry-After"].isdigit()
            assert not [h for h in protected.raw.headers.getlist("Set-Cookie") if h.startswith(SESSION + "=")]
            page = browser.request("GET", "/whoami", base, headers=HTML)
            assert page.status_code == 503 and "Retry-After" in page.headers, page.status_code
            public = copied(ticket, base, "/healthz")
            assert public.status_code == 200, public.text[:300]
            assert public.json()["user"] is None  # public paths pass anonymously
    finally:
        deployment.redis.start()  # a fresh, empty redis-server on the same port

    for base in [host.url for host in deployment.hosts]:
        assert copied(ticket, base).status_code == 401  # the session went with Redis's data
    fresh = Browser(deployment)
    fresh.log_in("restart")
    assert user_of(fresh.whoami()) == "restart"
    assert user_of(fresh.whoami()) == "restart"  # on both hosts
    fresh.log_out()
