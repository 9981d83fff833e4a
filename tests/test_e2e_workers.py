"""Issue 10, finding 9, over real sockets: a refresh race between gunicorn workers.

Expiring tokens (GitHub Apps) have single-use refresh tokens, and workers share no memory: when
requests carrying the same old cookie reach several workers at refresh time, exactly one refresh
succeeds at GitHub and the others are refused. Those requests must still be served (the winner's
Set-Cookie takes over), and the session must end only once its access token has really expired.

The standalone fake GitHub runs as its own process (its single-use refresh tokens hold across
workers) with ``--expiring-tokens``; the app runs under gunicorn with three sync workers. The
app's clock is the real time plus an offset read from a file, so the test can move the workers 8
hours ahead without sleeping. Everything binds 127.0.0.1 and is stopped by process group.
"""

from __future__ import annotations

import concurrent.futures
import os
import pathlib
import sys
import threading
import typing as t

import pytest
import requests
from support.servers import (
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

pytest.importorskip("gunicorn", reason="gunicorn is needed for the end-to-end tests")

pytestmark = pytest.mark.e2e

WORKERS = 3
CONCURRENT = 6  # requests carrying the same old cookie, started together
MAX_ROUNDS = 4  # logins tried until the requests of one round reach two workers or more
LIFETIME = 28800  # the fake's expiring access tokens: 8 hours; refreshed in their last 300 s
SESSION = "oauth_session"


@pytest.fixture
def expiring_fake(tmp_path: pathlib.Path) -> t.Iterator[Server]:
    """``python -m oauth_middleware.testing --port 0 --auto-approve octocat --expiring-tokens``."""
    command = [
        sys.executable,
        "-m",
        "oauth_middleware.testing",
        "--port",
        "0",
        "--auto-approve",
        "octocat",
        "--expiring-tokens",
    ]
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    server, _ = start_announced(
        "standalone fake GitHub (expiring tokens)",
        command,
        cwd=ROOT,
        env=server_env(PYTHONPATH=pythonpath),
        logdir=tmp_path,
    )
    try:
        yield server
    finally:
        stop(server)


@pytest.fixture
def offset_file(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "clock-offset"
    path.write_text("0")
    return path


@pytest.fixture
def race_app(tmp_path: pathlib.Path, expiring_fake: Server, offset_file: pathlib.Path) -> t.Iterator[Server]:
    """``support.e2e_apps:make_app()`` (cookie sessions) under gunicorn, on a clock the test moves."""
    env = server_env(
        OAUTH_MIDDLEWARE_SECRET_KEY=SECRET_KEY,
        E2E_FAKE_GITHUB_URL=expiring_fake.url,
        E2E_CLOCK_OFFSET_FILE=str(offset_file),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    tests = pathlib.Path(__file__).resolve().parent
    app = "support.e2e_apps:make_app()"
    server = start_gunicorn("race app", app, workers=WORKERS, chdir=tests, logdir=tmp_path, env=env)
    try:
        yield server
    finally:
        stop(server)


def log_in(base: str) -> tuple[str, str]:
    """A whole login through the auto-approving fake: the session cookie's value, and the token."""
    with http_session() as session:
        response = session.get(base + "/whoami", headers={"Accept": "text/html"}, timeout=REQUEST_TIMEOUT)
        assert response.status_code == 200, response.text
        assert response.json()["user"] == "octocat"
        return str(session.cookies[SESSION]), str(response.json()["token"])


def concurrently(base: str, cookie: str, count: int) -> list[requests.Response]:
    """``count`` requests for /slow with the same session cookie, started together."""
    barrier = threading.Barrier(count)

    def one(_: int) -> requests.Response:
        with http_session() as session:
            barrier.wait(timeout=REQUEST_TIMEOUT)
            return session.get(
                base + "/slow",  # holds its worker 0.3 s: concurrent requests spread over the workers
                headers={"Accept": "application/json", "Cookie": f"{SESSION}={cookie}"},
                allow_redirects=False,
                timeout=REQUEST_TIMEOUT,
            )

    with concurrent.futures.ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def session_cookies(response: requests.Response) -> list[str]:
    return [h for h in response.raw.headers.getlist("Set-Cookie") if h.startswith(SESSION + "=")]


def test_a_refresh_race_across_workers_logs_nobody_out(race_app: Server, offset_file: pathlib.Path) -> None:
    base = race_app.url
    offset = 0
    for _ in range(MAX_ROUNDS):
        old_cookie, old_token = log_in(base)
        offset += LIFETIME - 100  # every worker now finds the token due for its refresh
        offset_file.write_text(str(offset))
        responses = concurrently(base, old_cookie, CONCURRENT)
        statuses = [(r.status_code, r.text[:200], session_cookies(r)) for r in responses]
        assert all(r.status_code == 200 for r in responses), statuses
        bodies = [r.json() for r in responses]
        assert {b["user"] for b in bodies} == {"octocat"}, statuses
        assert not [c for r in responses for c in session_cookies(r) if "Max-Age=0" in c], statuses
        if len({b["pid"] for b in bodies}) >= 2:  # two workers or more refreshed: one lost
            break
    else:
        pytest.fail(f"{CONCURRENT} concurrent requests never reached two of {WORKERS} workers")

    # the losers served the old token and set no cookie; the winner's cookie carries the new one
    assert all(b["token"] == old_token for r, b in zip(responses, bodies, strict=True) if not session_cookies(r)), (
        statuses
    )
    refreshed = {b["token"] for r, b in zip(responses, bodies, strict=True) if session_cookies(r)}
    assert len(refreshed) == 1 and old_token not in refreshed, statuses  # one refresh won (its worker's
    # requests each seal that session anew, so their cookie values differ)
    winner = session_cookies(next(r for r in responses if session_cookies(r)))[0]
    new_bodies = [r.json() for r in concurrently(base, winner.split(";", 1)[0].split("=", 1)[1], CONCURRENT)]
    assert {b["user"] for b in new_bodies} == {"octocat"}
    assert {b["token"] for b in new_bodies} == refreshed

    offset += 200  # the old access token has expired: the old cookie is no session any more
    offset_file.write_text(str(offset))
    with http_session() as session:
        expired = session.get(
            base + "/whoami",
            headers={"Accept": "application/json", "Cookie": f"{SESSION}={old_cookie}"},
            allow_redirects=False,
            timeout=REQUEST_TIMEOUT,
        )
    assert expired.status_code == 401, expired.text
    assert [c for c in session_cookies(expired) if "Max-Age=0" in c]
