"""PATH-1..3 under a real server: for every path spelling a client can send, gunicorn + the
middleware + a real router (Flask, Django, Pyramid) never runs a protected view anonymously.

This is the authentication bypass of the second hostile review: the middleware decided on a
normalised path while Flask routed the raw ``PATH_INFO`` (``/dash/..``, ``/admin/%2e%2e/x``, and
``/appadmin`` arriving as ``PATH_INFO="admin"`` under ``SCRIPT_NAME=/app``). Requests are sent
over raw sockets (``requests`` would resolve the dot segments itself) to gunicorn on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import pathlib
import typing as t
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

pytest.importorskip("gunicorn", reason="gunicorn is needed for the end-to-end tests")
pytest.importorskip("django", reason="Django is needed for its router")
pytest.importorskip("pyramid", reason="Pyramid is needed for its router")

from support.router_apps import PUBLIC_VIEWS, SETUPS  # noqa: E402
from support.servers import REQUEST_TIMEOUT, Server, server_env, start_gunicorn, stop  # noqa: E402

pytestmark = pytest.mark.e2e

TESTS = pathlib.Path(__file__).resolve().parent
FRAMEWORKS = {"flask": "flask_site()", "django": "django_site()", "pyramid": "pyramid_site()"}
MOUNT = "/app"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[dict[str, Server]]:
    """One one-worker gunicorn per framework, and Flask once more mounted at ``SCRIPT_NAME=/app``."""
    logdir = tmp_path_factory.mktemp("routers")
    started: dict[str, Server] = {}
    try:
        for name, factory in FRAMEWORKS.items():
            app = "support.router_apps:" + factory
            started[name] = start_gunicorn(name, app, workers=1, chdir=TESTS, logdir=logdir, env=server_env())
        started["flask-mounted"] = start_gunicorn(
            "flask-mounted",
            "support.router_apps:flask_site()",
            workers=1,
            chdir=TESTS,
            logdir=logdir,
            env=server_env(SCRIPT_NAME=MOUNT),
            health_path=MOUNT + "/healthz",
        )
        yield started
    finally:
        for server in started.values():
            stop(server)


def send(server: Server, target: str, setup: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """``method target`` exactly as written (no client-side normalisation), JSON accepted."""
    parts = urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=REQUEST_TIMEOUT)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        connection.putheader("Accept", "application/json")
        connection.putheader("X-Test-Setup", setup)
        connection.putheader("Connection", "close")
        connection.endheaders()
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def reached_views(server: Server, target: str, setup: str, method: str = "GET") -> list[dict[str, t.Any]]:
    """The views an anonymous client reaches with ``target``, following the middleware's own
    canonicalising redirect once (as a browser would). Never a 5xx."""
    reached = []
    for _ in range(2):
        status, headers, body = send(server, target, setup, method)
        assert status < 500, (target, status, body[:200])
        if status == 200:
            reached.append(json.loads(body))
        if status != 308:
            break
        location = headers["location"]
        assert location.startswith("/") and not location.startswith(("//", "/\\")), location
        target = location
    return reached


def public_by_configuration(setup: str, path: str) -> bool:
    """Whether the set-up leaves ``path`` open in every reading a router may give it (as sent, with
    a leading ``/`` added, with ``//`` merged): then any view it reaches is open by configuration
    (``public_paths=["/static"]`` opens ``/static`` itself, which Flask routes to the catch-all)."""
    under = lambda p, prefix: p == prefix or p.startswith(prefix + "/")  # noqa: E731
    readings = {path, "/" + path.lstrip("/"), "/" + "/".join(filter(None, path.split("/")))}
    options = SETUPS[setup]
    for reading in readings:
        if options["require_login"] is True:
            if not any(under(reading, prefix) for prefix in options["public_paths"]):
                return False
        elif any(under(reading, prefix) for prefix in options["require_login"]):
            return False
    return True


def assert_no_protected_view(reached: list[dict[str, t.Any]], setup: str, target: str) -> None:
    for seen in reached:
        assert seen["user"] is None
        assert "/." not in seen["path"] and seen["path"].startswith("/")  # only canonical paths are routed
        assert seen["view"] in PUBLIC_VIEWS[setup] or public_by_configuration(setup, seen["path"]), (
            "anonymous %r ran the protected view %r (PATH_INFO %r)" % (target, seen["view"], seen["path"])
        )


#: The spellings of the review, and their neighbours.
REPORTED = [
    "/dash/..",
    "/dash/.",
    "/dash/%2e%2e",
    "/dash/%2E%2e/",
    "/admin/%2e%2e/x",
    "/admin/%2e%2e/%2e%2e/x/y",
    "/reports/%2e%2e/static",
    "/static/../admin",
    "/static/%2e%2e/admin/x",
    "/static/..%2fadmin",
    "/static%2f..%2fadmin",
    "//admin",
    "//admin/x",
    "/static//admin",
    "///dash/x",
    "/healthz/../dash/x",
    "/./admin",
    "/x/../../admin",
]


@pytest.mark.parametrize("framework", list(FRAMEWORKS))
@pytest.mark.parametrize("setup", list(SETUPS))
@pytest.mark.parametrize("target", REPORTED)
def test_reported_spellings_never_reach_a_protected_view(
    servers: dict[str, Server], framework: str, setup: str, target: str
) -> None:
    assert_no_protected_view(reached_views(servers[framework], target, setup), setup, target)


@pytest.mark.parametrize("target", ["/appadmin", "/appadmin/x", "/appdash/x", "/app/admin/%2e%2e", "/app//admin"])
@pytest.mark.parametrize("setup", list(SETUPS))
def test_a_path_info_without_its_leading_slash_is_never_protected_less(
    servers: dict[str, Server], setup: str, target: str
) -> None:
    """gunicorn with SCRIPT_NAME=/app gives ``/appadmin`` to the app as ``PATH_INFO="admin"``,
    which Flask routes as ``/admin`` (PATH-3)."""
    assert_no_protected_view(reached_views(servers["flask-mounted"], target, setup), setup, target)


@pytest.mark.parametrize("framework", list(FRAMEWORKS))
def test_the_routers_really_route_as_assumed(servers: dict[str, Server], framework: str) -> None:
    """The property below is not vacuous: canonical paths reach each view, and protection holds."""
    server = servers[framework]
    expected = {
        "/": "home",
        "/dash/x": "dash",
        "/admin": "admin",
        "/admin/x/y": "admin",
        "/static/app.css": "static",
        "/healthz": "healthz",
        "/x/y": "pair",
        "/x/y/z": "catchall",
    }
    for target, view in expected.items():
        status, _, body = send(server, target, "prefixes")
        if view in PUBLIC_VIEWS["prefixes"]:
            assert (status, json.loads(body)["view"]) == (200, view), target
        else:
            assert status == 401, target
    assert send(server, "/x/y", "everything")[0] == 401
    assert send(server, "/static/x", "everything")[0] == 200
    # the reported bypass itself: redirected to the canonical path, then asked to log in
    status, headers, _ = send(server, "/dash/x/..", "prefixes")
    assert (status, headers["location"]) == (308, "/dash/")
    assert send(server, "/dash/x/..", "prefixes", method="POST")[0] == 400


SEGMENTS = st.sampled_from(
    [
        "dash",
        "admin",
        "static",
        "healthz",
        "x",
        "",
        ".",
        "..",
        "%2e",
        "%2E%2e",
        ".%2e",
        "%2f",
        "%2F..",
        "a%2fb",
        ";",
        "%20",
    ]
)


def spellings(prefix: str = "") -> st.SearchStrategy[str]:
    return st.builds(
        lambda lead, segments, trailing: prefix + lead + "/".join(segments) + trailing,
        st.sampled_from(["/", "//", "/./", "/../"] + ([""] if prefix else [])),
        st.lists(SEGMENTS, min_size=1, max_size=5),
        st.sampled_from(["", "/"]),
    )


BOUNDED = settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.parametrize("framework", list(FRAMEWORKS))
@pytest.mark.parametrize("setup", list(SETUPS))
@BOUNDED
@given(target=spellings())
@example(target="/dash/..")
def test_no_spelling_reaches_a_protected_view_anonymously(
    servers: dict[str, Server], framework: str, setup: str, target: str
) -> None:
    assert_no_protected_view(reached_views(servers[framework], target, setup), setup, target)


@pytest.mark.parametrize("setup", list(SETUPS))
@BOUNDED
@given(target=spellings(prefix=MOUNT))
@example(target="/appadmin")
def test_no_spelling_reaches_a_protected_view_when_mounted(servers: dict[str, Server], setup: str, target: str) -> None:
    assert_no_protected_view(reached_views(servers["flask-mounted"], target, setup), setup, target)
