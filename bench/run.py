"""Benchmark of oauth_middleware: in-process cost, HTTP throughput, login CPU, memory.

.. code-block:: sh

    python bench/run.py                 # everything, prints Markdown tables
    python bench/run.py --write         # ... and writes bench/RESULTS.md
    python bench/run.py --quick         # tiny counts, < 60 s, exit 0 unless something crashes
    python bench/run.py --only inprocess,login

The machine is assumed shared and noisy: every number that matters is a ratio or a difference
against the bare app measured in the same run, rounds are interleaved (each round times every
variant in turn, in a rotating order) and the tables show medians over rounds.

Sections:

``inprocess``
    microseconds per WSGI call of the bare hello app and of it wrapped: anonymous on a public
    path, logged in (valid session cookie), anonymous on a protected path (the 302); for
    context also logged in with the session cache off, and with a busy browser cookie jar.
``http``
    requests/s under gunicorn (2 sync workers) driven by ``wrk -t2 -c8``, and the server's CPU
    per request (from ``/proc``), which other load on the machine disturbs less.
``login``
    the whole login round trip in-process against ``FakeGitHub``: CPU per login, with the part
    spent inside the fake measured separately and subtracted.
``memory``
    RSS of a subprocess after 1,000 logged-in requests over 1,000 sessions and after 200,000 over
    10,000 sessions (the decrypted-session cache is bounded).

Exit status: 0; 2 when a full run misses a target (never with ``--quick``); 1 on a crash.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import io
import json
import os
import platform
import random
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
import urllib.request
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make ``bench`` and the package importable
    sys.path.insert(0, str(ROOT))

import requests.adapters  # noqa: E402

from bench import apps  # noqa: E402
from oauth_middleware import OAuthMiddleware  # noqa: E402
from oauth_middleware.testing import FakeGitHub, WSGITransportAdapter, session_cookie  # noqa: E402

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

SECTIONS = ("inprocess", "http", "login", "memory")
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HOST = "app.example.com"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
#: Targets (see the brief): added microseconds, ratio to bare, CPU milliseconds per login.
TARGET_SESSION_ADDED_US = 10.0
TARGET_ANONYMOUS_ADDED_US = 2.0
TARGET_HTTP_RATIO = 0.95
TARGET_LOGIN_CPU_MS = 4.0
#: RSS growth tolerated once the session cache is full (allocator noise), bytes.
TARGET_LATE_GROWTH = 1 << 20


@dataclasses.dataclass(frozen=True)
class Settings:
    quick: bool
    inprocess_calls: int  # calls per variant per round
    inprocess_rounds: int
    http_seconds: int  # wrk -d per variant per round
    http_rounds: int
    login_per_round: int
    login_rounds: int
    memory_small: tuple[int, int]  # (requests, sessions)
    memory_large: tuple[int, int]

    @classmethod
    def make(cls, args: argparse.Namespace) -> Settings:
        if args.quick:
            settings = cls(True, 2_000, 7, 1, 3, 15, 7, (1_000, 1_000), (20_000, 2_000))
        else:
            settings = cls(False, 10_000, 21, 2, 13, 150, 11, (1_000, 1_000), (200_000, 10_000))
        if args.rounds:
            settings = dataclasses.replace(
                settings, inprocess_rounds=args.rounds, http_rounds=args.rounds, login_rounds=args.rounds
            )
        if args.seconds:
            settings = dataclasses.replace(settings, http_seconds=args.seconds)
        return settings


@dataclasses.dataclass
class Check:
    """One target: what was asked, what was measured, and whether it is met."""

    name: str
    target: str
    measured: str
    met: bool


@dataclasses.dataclass
class Section:
    title: str
    lines: list[str] = dataclasses.field(default_factory=list)
    checks: list[Check] = dataclasses.field(default_factory=list)

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def render(self) -> str:
        return "## %s\n\n%s\n" % (self.title, "\n".join(self.lines).rstrip())


class BenchError(RuntimeError):
    """A variant did not answer as expected: the numbers would be meaningless."""


# -- WSGI helpers ------------------------------------------------------------------------------------


def environ(
    path: str = "/",
    *,
    query: str = "",
    cookie: str | None = None,
    scheme: str = "https",
    host: str = HOST,
    accept: str = BROWSER_ACCEPT,
) -> dict[str, t.Any]:
    """A gunicorn-like environ of a browser navigation (the template each call copies)."""
    env: dict[str, t.Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "RAW_URI": path + ("?" + query if query else ""),
        "SERVER_NAME": host,
        "SERVER_PORT": "443" if scheme == "https" else "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "54321",
        "HTTP_HOST": host,
        "HTTP_USER_AGENT": USER_AGENT,
        "HTTP_ACCEPT": accept,
        "HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.5",
        "HTTP_ACCEPT_ENCODING": "gzip, deflate, br",
        "HTTP_CONNECTION": "keep-alive",
        "HTTP_UPGRADE_INSECURE_REQUESTS": "1",
        "HTTP_SEC_FETCH_DEST": "document",
        "HTTP_SEC_FETCH_MODE": "navigate",
        "HTTP_SEC_FETCH_SITE": "none",
        "HTTP_SEC_FETCH_USER": "?1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if cookie is not None:
        env["HTTP_COOKIE"] = cookie
    return env


def _noop_write(data: bytes) -> None:
    return None


def noop_start_response(
    status: str, headers: list[tuple[str, str]], exc_info: t.Any = None
) -> t.Callable[[bytes], None]:
    return _noop_write


def call(app: WSGIApplication, env: WSGIEnvironment) -> tuple[str, list[tuple[str, str]], bytes]:
    """Call ``app`` once and collect status, headers and body."""
    answer: dict[str, t.Any] = {}

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: t.Any = None
    ) -> t.Callable[[bytes], None]:
        answer["status"], answer["headers"] = status, list(headers)
        return _noop_write

    result = app(env, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return answer["status"], answer["headers"], body


def header(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name.lower():
            return value
    return None


def set_cookies(headers: list[tuple[str, str]]) -> dict[str, str]:
    """Cookies set (not deleted) by ``Set-Cookie`` headers: name -> value."""
    cookies = {}
    for key, value in headers:
        if key.lower() != "set-cookie":
            continue
        pair, _, attributes = value.partition(";")
        name, _, cookie_value = pair.partition("=")
        if "max-age=0" not in attributes.lower().replace(" ", ""):
            cookies[name.strip()] = cookie_value.strip()
    return cookies


def cookie_header(cookies: t.Mapping[str, str], extra: str = "") -> str:
    return "; ".join(["%s=%s" % item for item in cookies.items()] + ([extra] if extra else []))


def rotated(items: t.Sequence[t.Any], shift: int) -> list[t.Any]:
    shift %= len(items)
    return list(items[shift:]) + list(items[:shift])


def fmt(value: float, digits: int = 2) -> str:
    return "%.*f" % (digits, value)


def spread(values: t.Sequence[float], digits: int = 2) -> str:
    return "%s-%s" % (fmt(min(values), digits), fmt(max(values), digits))


# -- 1. in-process --------------------------------------------------------------------------------


@dataclasses.dataclass
class Variant:
    key: str
    label: str
    app: WSGIApplication
    template: dict[str, t.Any]
    expect: str  # the status line's code


def session_header(middleware: OAuthMiddleware, login: str = "octocat", extra: str = "theme=dark") -> str:
    """``Cookie:`` value of a valid session plus the app's own cookies (``extra``)."""
    return cookie_header(session_cookie(middleware, login), extra)


#: A browser's cookie jar for a site with analytics, consent, CSRF and a few app settings (20
#: cookies, ~900 bytes): what a logged-in request often carries besides the session.
BUSY_JAR = "; ".join(
    [
        "theme=dark",
        "_ga=GA1.1.1234567890.1700000000",
        "_ga_ABCDEF1234=GS1.1.1700000000.12.1.1700000500.0.0.0",
        "_gid=GA1.2.987654321.1700000000",
        "_fbp=fb.1.1700000000000.1234567890",
        "_hjSessionUser_123456=eyJpZCI6IjEyMzQ1Njc4LTkwYWItY2RlZi0xMjM0LTU2Nzg5MGFiY2RlZiJ9",
        "_hjSession_123456=eyJpZCI6ImFiY2RlZjEyIiwiYyI6MTcwMDAwMDAwMDAwMH0=",
        "OptanonConsent=isGpcEnabled=0&datestamp=Tue+Nov+14+2023&version=202310.1.0&groups=C0001%3A1%2CC0002%3A1",
        "OptanonAlertBoxClosed=2023-11-14T12:00:00.000Z",
        "csrftoken=Xb6gkVqv8PzR2mLw0sTnYcJe4HdF1aQu",
        "django_language=en",
        "tz=Europe%2FBerlin",
        "sidebar_collapsed=false",
        "locale=en-US",
        "ajs_anonymous_id=%2201234567-89ab-cdef-0123-456789abcdef%22",
        "ajs_user_id=%22octocat%22",
        "intercom-id-abc123=01234567-89ab-cdef-0123-456789abcdef",
        "intercom-session-abc123=",
        "_gcl_au=1.1.123456789.1700000000",
        "cookie_consent=all",
    ]
)


def check_inprocess(variants: list[Variant]) -> None:
    """Each variant answers as designed (a wrong setup would benchmark the wrong path)."""
    for variant in variants:
        status, headers, _ = call(variant.app, dict(variant.template))
        if not status.startswith(variant.expect):
            raise BenchError("%s answered %s, expected %s" % (variant.key, status, variant.expect))
        if variant.key == "protected" and not (header(headers, "Location") or "").startswith("/auth/login?next="):
            raise BenchError("the protected path did not redirect to the login")
        if any(key.lower() == "set-cookie" for key, _ in headers):
            raise BenchError("%s answered with Set-Cookie: not the steady-state path" % variant.key)
        who = dict(variant.template, PATH_INFO="/whoami")
        if variant.key.startswith("session"):
            seen: dict[str, t.Any] = {}

            def spy(
                env: WSGIEnvironment,
                start_response: StartResponse,
                app: WSGIApplication = apps.hello,
                seen: dict[str, t.Any] = seen,
            ) -> t.Any:
                seen.update(env)
                return app(env, start_response)

            wrapped = t.cast(OAuthMiddleware, variant.app)
            inner, wrapped.app = wrapped.app, spy
            try:
                _, _, body = call(wrapped, who)
            finally:
                wrapped.app = inner
            expected_rest = variant.template["HTTP_COOKIE"].split("; ", 1)[1]
            if body != b"octocat" or seen.get("HTTP_COOKIE") != expected_rest:
                raise BenchError("%s: the app saw %r and cookies %r" % (variant.key, body, seen.get("HTTP_COOKIE")))
        elif variant.key == "anonymous" and call(variant.app, who)[2] != b"-":
            raise BenchError("the anonymous variant is logged in")


def time_variant(variant: Variant, calls: int) -> float:
    """Microseconds per call: a fresh environ (copy of the template) and the body drained."""
    app, copy, start_response = variant.app, variant.template.copy, noop_start_response
    begin = time.perf_counter()
    for _ in range(calls):
        result = app(copy(), start_response)
        for _chunk in result:
            pass
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return (time.perf_counter() - begin) / calls * 1e6


def bench_inprocess(settings: Settings) -> Section:
    section = Section("1. In-process cost per request")
    middleware = apps.make_middleware(apps.hello)  # secure=None: follows the https scheme below
    uncached = apps.make_middleware(apps.hello, cache_size=0)
    cookie = session_header(middleware)
    variants = [
        Variant("bare", "(a) bare hello app", apps.hello, environ("/"), "200"),
        Variant("anonymous", "(b) wrapped, anonymous, public path", middleware, environ("/"), "200"),
        Variant("session", "(c) wrapped, logged in (session cookie)", middleware, environ("/", cookie=cookie), "200"),
        Variant("protected", "(d) wrapped, protected path, anonymous -> 302", middleware, environ("/admin"), "302"),
        Variant(
            "session_miss",
            "(e) logged in, session cache disabled (every request decrypts)",
            uncached,
            environ("/", cookie=cookie),
            "200",
        ),
        Variant(
            "session_busy",
            "(f) logged in, with a busy cookie jar (20 other cookies)",
            middleware,
            environ("/", cookie=session_header(middleware, extra=BUSY_JAR)),
            "200",
        ),
    ]
    check_inprocess(variants)
    for variant in variants:  # warm caches, the session cache included
        time_variant(variant, max(200, settings.inprocess_calls // 20))
    samples: dict[str, list[float]] = {v.key: [] for v in variants}
    for round_number in range(settings.inprocess_rounds):
        gc.collect()
        for variant in rotated(variants, round_number):
            samples[variant.key].append(time_variant(variant, settings.inprocess_calls))
    bare = samples["bare"]
    added = {key: [x - b for x, b in zip(values, bare, strict=True)] for key, values in samples.items()}
    section.add(
        "%d rounds x %d calls per variant, interleaved (rotating order); fresh environ copy per call "
        "(%d keys, gunicorn-like, https), no-op start_response, body drained. Median us/call "
        "(min-max over rounds); *added* is the median of the per-round differences to (a)."
        % (settings.inprocess_rounds, settings.inprocess_calls, len(variants[0].template)),
        "",
        "| in-process variant | us/call (median) | min-max | added vs (a), us | target | met |",
        "|---|---:|---:|---:|---|---|",
    )
    targets = {"anonymous": TARGET_ANONYMOUS_ADDED_US, "session": TARGET_SESSION_ADDED_US}
    for variant in variants:
        median = statistics.median(samples[variant.key])
        delta = statistics.median(added[variant.key])
        target = targets.get(variant.key)
        if target is None:
            target_text, met_text = "", ""
        else:
            target_text, met_text = "<= %g us added" % target, "yes" if delta <= target else "**no**"
            section.checks.append(
                Check("in-process %s added" % variant.key, "<= %g us" % target, "%.2f us" % delta, delta <= target)
            )
        section.add(
            "| %s | %s | %s | %s | %s | %s |"
            % (
                variant.label,
                fmt(median),
                spread(samples[variant.key]),
                "-" if variant.key == "bare" else "%+.2f" % delta,
                target_text,
                met_text,
            )
        )
    section.add(
        "",
        "Session cookie: %d bytes (`Cookie: __Host-oauth_session=...; theme=dark`)." % len(cookie),
    )
    return section


# -- 2. HTTP under gunicorn + wrk ---------------------------------------------------------------


@dataclasses.dataclass
class Server:
    key: str
    spec: str
    process: subprocess.Popen[bytes]
    log_path: Path
    port: int = 0

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d" % self.port


def _gunicorn_flags() -> list[str]:
    """``--no-control-socket`` where gunicorn has one (several masters would share the socket)."""
    try:
        out = subprocess.run(
            [sys.executable, "-m", "gunicorn", "--help"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return ["--no-control-socket"] if "--no-control-socket" in out else []


def start_server(key: str, spec: str, workdir: Path, flags: list[str]) -> Server:
    log_path = workdir / ("gunicorn-%s.log" % key)
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                "2",
                "--worker-class",
                "sync",
                "--bind",
                "127.0.0.1:0",  # the kernel picks a free port; read back from the log
                "--chdir",
                str(ROOT),
                "--log-level",
                "info",
                *flags,
                spec,
            ],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killed as a whole in stop_server()
        )
    return Server(key, spec, process, log_path)


def wait_ready(server: Server, deadline: float) -> None:
    while time.monotonic() < deadline:
        text = server.log_path.read_text(errors="replace")
        if server.process.poll() is not None:
            raise BenchError("gunicorn %s exited:\n%s" % (server.spec, text[-2000:]))
        match = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", text)
        if match and text.count("Booting worker") >= 2:
            server.port = int(match.group(1))
            try:
                with urllib.request.urlopen(server.url + "/", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
        time.sleep(0.1)
    raise BenchError("gunicorn %s did not start in time:\n%s" % (server.spec, server.log_path.read_text()[-2000:]))


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=10)
    # workers outliving their master (they should not): the group is gone or is killed now
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(server.process.pid, signal.SIGKILL)


def whoami(server: Server, cookie: str | None) -> str:
    request = urllib.request.Request(server.url + "/whoami", headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(request, timeout=5) as response:
        return str(response.read().decode())


@dataclasses.dataclass
class WrkResult:
    rps: float
    requests: int
    latency: str
    errors: int
    server_cpu_us: float = 0.0  # CPU of the gunicorn process group per request


def group_cpu_seconds(pgid: int) -> float:
    """utime + stime of every live process in process group ``pgid`` (master and workers)."""
    ticks = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry.name) as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            continue  # exited meanwhile
        if int(fields[2]) == pgid:  # state ppid pgrp ... utime(14) stime(15) of proc(5)
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def run_wrk(url: str, seconds: int, cookie: str | None, server: Server | None = None) -> WrkResult:
    command = ["wrk", "-t2", "-c8", "-d%ds" % seconds, "--timeout", "5s", "--latency"]
    if cookie:
        command += ["-H", "Cookie: " + cookie]
    cpu_before = group_cpu_seconds(server.process.pid) if server else 0.0
    out = subprocess.run(command + [url], capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    cpu = group_cpu_seconds(server.process.pid) - cpu_before if server else 0.0
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    count = re.search(r"(\d+) requests in", out)
    if rps is None or count is None:
        raise BenchError("unexpected wrk output:\n" + out)
    latency = re.search(r"^\s+50%\s+(\S+)", out, flags=re.MULTILINE)
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    requests_done = int(count.group(1))
    return WrkResult(
        float(rps.group(1)),
        requests_done,
        latency.group(1) if latency else "?",
        errors + int(non_2xx.group(1) if non_2xx else 0),
        cpu / requests_done * 1e6 if requests_done else 0.0,
    )


def http_noise(samples: t.Mapping[str, t.Sequence[WrkResult]]) -> tuple[float, float]:
    """(coefficient of variation of bare's requests/s in %, median anonymous / bare ratio)."""
    bare = [s.rps for s in samples["bare"]]
    cv = statistics.stdev(bare) / statistics.mean(bare) * 100 if len(bare) > 1 else 0.0
    control = statistics.median([a.rps / b.rps for a, b in zip(samples["anonymous"], samples["bare"], strict=True)])
    return cv, control


def ensure_wrk() -> str | None:
    """Path of wrk, installed with apt-get when missing and root; ``None`` to skip."""
    found = shutil.which("wrk")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "wrk"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        timeout=300,
        check=False,
        env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
    )
    return shutil.which("wrk")


def bench_http(settings: Settings) -> Section:
    section = Section("2. HTTP throughput under gunicorn (2 sync workers) and wrk")
    if ensure_wrk() is None:
        section.add(
            "**Skipped**: `wrk` is not installed (and cannot be installed: not root or no apt-get). "
            "Install it (`apt-get install wrk`) and rerun with `--only http`."
        )
        return section
    driver = apps.make_middleware(apps.hello, secure=True)
    cookie = session_header(driver)
    plan = [  # key, gunicorn app spec, cookie sent, compared with
        ("bare", "bench.apps:bare", None, "bare"),
        ("bare_cookie", "bench.apps:bare", cookie, "bare"),
        ("anonymous", "bench.apps:wrapped_anonymous", None, "bare"),
        ("session", "bench.apps:wrapped_session", cookie, "bare"),
        ("flask_bare", "bench.apps:flask_bare()", None, "flask_bare"),
        ("flask_session", "bench.apps:flask_session()", cookie, "flask_bare"),
    ]
    labels = {
        "bare": "bare hello",
        "bare_cookie": "bare hello, sent the session cookie too",
        "anonymous": "wrapped, anonymous",
        "session": "wrapped, logged in",
        "flask_bare": "Flask hello",
        "flask_session": "Flask hello wrapped, logged in",
    }
    servers: list[Server] = []
    samples: dict[str, list[WrkResult]] = {key: [] for key, *_ in plan}
    workdir = Path(tempfile.mkdtemp(prefix="oauth-bench-"))
    try:
        flags = _gunicorn_flags()
        specs = list(dict.fromkeys(spec for _, spec, _, _ in plan))  # one server per app
        for spec in specs:
            servers.append(start_server(spec.rpartition(":")[2].rstrip("()"), spec, workdir, flags))
        deadline = time.monotonic() + 60
        for server in servers:
            wait_ready(server, deadline)
        by_spec = {server.spec: server for server in servers}
        by_key = {key: by_spec[spec] for key, spec, _, _ in plan}
        for key, spec, sent, _ in plan:
            expected = "octocat" if sent and spec != "bench.apps:bare" else "-"
            if whoami(by_key[key], sent) != expected:
                raise BenchError("%s: /whoami did not answer %r" % (key, expected))
            run_wrk(by_key[key].url + "/", 1, sent)  # warm-up
        for round_number in range(settings.http_rounds):
            for key, _, sent, _ in rotated(plan, round_number):
                samples[key].append(run_wrk(by_key[key].url + "/", settings.http_seconds, sent, by_key[key]))
    finally:
        for server in servers:
            stop_server(server)
        shutil.rmtree(workdir, ignore_errors=True)

    section.add(
        "`wrk -t2 -c8 -d%ds` per variant, %d interleaved rounds (rotating order), plain http to "
        "127.0.0.1; the server and wrk share the machine's %d cores. Ratio = median of per-round "
        "ratios to the baseline measured in the same round. gunicorn's sync worker closes the "
        "connection after each response, so every request is a new TCP connection."
        % (settings.http_seconds, settings.http_rounds, os.cpu_count() or 0),
        "",
        "The middleware is built with `secure=True`: cookies are `__Host-` prefixed and Secure "
        "although wrk speaks plain http, as in production behind a TLS-terminating proxy "
        "(`secure=True` is the README's advice there), and the cookie is the same as in-process.",
        "",
        "Server CPU = utime+stime of the gunicorn process group (master and both workers, from "
        "`/proc/<pid>/stat`) during the run, divided by the requests served: less sensitive to other "
        "load on a shared machine than requests/s, and *added* is what the middleware costs per "
        "request over HTTP (median of per-round differences).",
        "",
        "| http variant | requests/s (median) | min-max | ratio to baseline | target | met | "
        "server CPU us/request | added us | p50 latency (last round) | errors | baseline |",
        "|---|---:|---:|---:|---|---|---:|---:|---:|---:|---|",
    )
    for key, _, _, baseline in plan:
        rps = [s.rps for s in samples[key]]
        ratios = [s.rps / b.rps for s, b in zip(samples[key], samples[baseline], strict=True)]
        ratio = statistics.median(ratios)
        cpu = statistics.median([s.server_cpu_us for s in samples[key]])
        added = statistics.median(
            [s.server_cpu_us - b.server_cpu_us for s, b in zip(samples[key], samples[baseline], strict=True)]
        )
        target_text = met_text = ""
        if key == "session":
            target_text, met_text = ">= %.2fx" % TARGET_HTTP_RATIO, "yes" if ratio >= TARGET_HTTP_RATIO else "**no**"
            section.checks.append(
                Check(
                    "http logged in / bare",
                    ">= %.2fx" % TARGET_HTTP_RATIO,
                    "%.3fx (noise: bare CV %.0f%%, anonymous control %.3fx)" % (ratio, *http_noise(samples)),
                    ratio >= TARGET_HTTP_RATIO,
                )
            )
        errors = sum(s.errors for s in samples[key])
        if errors:
            section.checks.append(Check("http %s without errors" % key, "0 errors", str(errors), False))
        section.add(
            "| %s | %.0f | %s | %s | %s | %s | %.0f | %s | %s | %d | %s |"
            % (
                labels[key],
                statistics.median(rps),
                spread(rps, 0),
                "-" if key == baseline else "%.3f" % ratio,
                target_text,
                met_text,
                cpu,
                "-" if key == baseline else "%+.1f" % added,
                samples[key][-1].latency,
                errors,
                labels[baseline],
            )
        )
    bare_cpu = statistics.median([s.server_cpu_us for s in samples["bare"]])
    session_cpu = statistics.median([s.server_cpu_us for s in samples["session"]])
    same_bytes = statistics.median(
        [s.rps / b.rps for s, b in zip(samples["session"], samples["bare_cookie"], strict=True)]
    )
    cv, control = http_noise(samples)
    section.add(
        "",
        "Noise of this run: bare requests/s varied by %.0f%% (coefficient of variation over rounds); "
        "the anonymous variant, which adds ~1 us in-process (<1%% of the server's CPU per request), "
        "came out at %.3fx, so ratios here are only good to about +-%.0f%%."
        % (cv, control, max(abs(1 - control) * 100, 1)),
        "",
        "Logged in / bare sent the same Cookie header (the middleware alone, same request bytes): "
        "**%.3f**. Server-CPU view of the target: bare / logged-in CPU per request = %.3f (what the "
        "requests/s ratio would be if the server were the only bottleneck)." % (same_bytes, bare_cpu / session_cpu),
    )
    flask_vs_bare = statistics.median(
        [f.rps / b.rps for f, b in zip(samples["flask_bare"], samples["bare"], strict=True)]
    )
    section.add("", "For scale: Flask hello / bare hello = %.3f in the same rounds." % flask_vs_bare)
    return section


# -- 3. login round trip ----------------------------------------------------------------------------


class CPUMeter:
    """A WSGI wrapper adding the CPU time (``process_time``) spent in the app, body included."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app
        self.cpu = 0.0
        self.calls = 0

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        begin = time.process_time()
        try:
            result = self.app(environ, start_response)
            try:
                return list(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        finally:
            self.cpu += time.process_time() - begin
            self.calls += 1


class TimedAdapter(requests.adapters.BaseAdapter):
    """Wraps a transport adapter and adds up the CPU time of its ``send`` calls."""

    def __init__(self, inner: requests.adapters.BaseAdapter) -> None:
        super().__init__()
        self.inner = inner
        self.cpu = 0.0

    def send(self, request: requests.PreparedRequest, *args: t.Any, **kwargs: t.Any) -> requests.Response:
        begin = time.process_time()
        try:
            return self.inner.send(request, *args, **kwargs)
        finally:
            self.cpu += time.process_time() - begin

    def close(self) -> None:
        self.inner.close()


@dataclasses.dataclass
class LoginRig:
    middleware: OAuthMiddleware
    fake: t.Any  # FakeGitHub, or FakeOIDC (bench/oidc_login.py)
    browser_fake: CPUMeter  # the browser's authorize request
    server_fake: CPUMeter  # the middleware's token and /user calls
    transport: TimedAdapter  # those calls through the in-process transport (fake included)
    authorize_path: str = "/login/oauth/authorize?"  # the fake's authorize endpoint, below its base URL
    user: bytes = b"octocat"  # who the fake logs in

    @classmethod
    def make(cls) -> LoginRig:
        fake = FakeGitHub(auto_approve="octocat")
        middleware = apps.make_middleware(
            apps.hello, provider=fake.provider(), client_id=fake.client_id, client_secret=fake.client_secret
        )
        fake.mount(middleware.http)
        prefix = fake.base_url + "/"
        adapter = middleware.http.adapters[prefix]
        if not isinstance(adapter, WSGITransportAdapter):
            raise BenchError("FakeGitHub.mount() did not mount a WSGITransportAdapter")
        server_fake = CPUMeter(fake)
        adapter.app = server_fake
        transport = TimedAdapter(adapter)
        middleware.http.mount(prefix, transport)
        return cls(middleware, fake, CPUMeter(fake), server_fake, transport)

    def cpu(self) -> tuple[float, float, float]:
        """(browser-side fake, server-side fake, transport incl. server-side fake) CPU so far."""
        return self.browser_fake.cpu, self.server_fake.cpu, self.transport.cpu

    def login(self) -> float:
        """One login round trip; returns the CPU spent in the timed WSGI calls (all parties)."""
        cpu = 0.0
        begin = time.process_time()
        status, headers, _ = call(self.middleware, environ("/auth/login", query="next=/whoami"))
        cpu += time.process_time() - begin
        location = header(headers, "Location") or ""
        if not status.startswith("302") or not location.startswith(self.fake.base_url + self.authorize_path):
            raise BenchError("login: %s %s" % (status, location[:80]))
        flow = set_cookies(headers)

        parts = urlsplit(location)
        begin = time.process_time()
        status, headers, _ = call(
            self.browser_fake, environ(parts.path, query=parts.query, host=parts.netloc, cookie=None)
        )
        cpu += time.process_time() - begin
        location = header(headers, "Location") or ""
        if not status.startswith("302") or not location.startswith("https://%s/auth/callback?" % HOST):
            raise BenchError("authorize: %s %s" % (status, location[:80]))

        parts = urlsplit(location)
        begin = time.process_time()
        status, headers, _ = call(self.middleware, environ(parts.path, query=parts.query, cookie=cookie_header(flow)))
        cpu += time.process_time() - begin
        session = set_cookies(headers)
        if not status.startswith("302") or header(headers, "Location") != "/whoami" or not session:
            raise BenchError("callback: %s %s" % (status, header(headers, "Location")))

        begin = time.process_time()
        status, _, body = call(self.middleware, environ("/whoami", cookie=cookie_header(session, "theme=dark")))
        cpu += time.process_time() - begin
        if body != self.user:
            raise BenchError("first page after login: %s %r" % (status, body[:80]))
        return cpu


def bench_login(settings: Settings) -> Section:
    section = Section("3. Login round trip in-process against FakeGitHub")
    rig = LoginRig.make()
    for _ in range(3):  # warm-up: imports, caches, pools
        rig.login()
    total_ms: list[float] = []
    fake_ms: list[float] = []
    transport_ms: list[float] = []
    per_second: list[float] = []
    for _ in range(settings.login_rounds):
        gc.collect()
        browser0, server0, transport0 = rig.cpu()
        cpu = 0.0
        begin = time.perf_counter()
        for _ in range(settings.login_per_round):
            cpu += rig.login()
        wall = time.perf_counter() - begin
        browser1, server1, transport1 = rig.cpu()
        n = settings.login_per_round
        total_ms.append(cpu / n * 1e3)
        fake_ms.append((browser1 - browser0 + server1 - server0) / n * 1e3)
        transport_ms.append(((transport1 - transport0) - (server1 - server0)) / n * 1e3)
        per_second.append(n / wall)
    middleware_ms = [total - fake for total, fake in zip(total_ms, fake_ms, strict=True)]
    own_ms = [mw - tr for mw, tr in zip(middleware_ms, transport_ms, strict=True)]
    median = statistics.median
    met = median(middleware_ms) <= TARGET_LOGIN_CPU_MS
    section.checks.append(
        Check("login app CPU", "<= %g ms" % TARGET_LOGIN_CPU_MS, "%.2f ms" % median(middleware_ms), met)
    )
    section.add(
        "%d rounds x %d logins. One login = `GET /auth/login?next=/whoami` (302 to the fake) -> "
        "`GET /login/oauth/authorize` on the fake (auto-approve, 302 back) -> `GET /auth/callback` "
        "(token exchange + `/user` through `fake.mount(middleware.http)`) -> `GET /whoami` with the "
        "new session. CPU = `time.process_time()` around each WSGI call; the fake's own CPU is "
        "measured by wrapping it (browser side and server side) and subtracted. Median over rounds "
        "of the per-login mean." % (settings.login_rounds, settings.login_per_round),
        "",
        "| login round trip | ms CPU per login (median) | min-max | target | met |",
        "|---|---:|---:|---|---|",
        "| total, all parties | %s | %s | | |" % (fmt(median(total_ms), 3), spread(total_ms, 3)),
        "| inside FakeGitHub (authorize + token + /user) | %s | %s | | |"
        % (fmt(median(fake_ms), 3), spread(fake_ms, 3)),
        "| **middleware's share** (total - fake) | %s | %s | <= %g ms | %s |"
        % (fmt(median(middleware_ms), 3), spread(middleware_ms, 3), TARGET_LOGIN_CPU_MS, "yes" if met else "**no**"),
        "| of which the in-process transport (stands in for sockets + TLS) | %s | %s | | |"
        % (fmt(median(transport_ms), 3), spread(transport_ms, 3)),
        "| of which middleware + requests-oauthlib + requests, without transport | %s | %s | | |"
        % (fmt(median(own_ms), 3), spread(own_ms, 3)),
        "",
        "Logins/second, one thread, everything in-process (middleware, fake, driver): **%.0f** "
        "(min-max %s). The middleware alone could do about %.0f logins/s per core."
        % (median(per_second), spread(per_second, 0), 1e3 / median(middleware_ms)),
    )
    return section


# -- 4. memory ----------------------------------------------------------------------------------------


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise BenchError("no VmRSS in /proc/self/status")


def memory_child(small: tuple[int, int], large: tuple[int, int]) -> dict[str, t.Any]:
    """Runs in a subprocess: RSS after ``small`` and after ``large`` (requests, sessions)."""
    middleware = apps.make_middleware(apps.hello)
    sessions = max(small[1], large[1])
    cookies = [session_header(middleware, "user%05d" % i) for i in range(sessions)]
    templates = [environ("/", cookie=cookie) for cookie in cookies]
    cache = getattr(middleware.sessions, "_cache", None)

    def cached() -> int:
        return len(cache) if isinstance(cache, dict) else -1

    def serve(index: int) -> None:
        result = middleware(templates[index].copy(), noop_start_response)
        for _chunk in result:
            pass

    status, _, body = call(middleware, dict(templates[0], PATH_INFO="/whoami"))
    if body != b"user00000":
        raise BenchError("memory: the session did not open: %s %r" % (status, body))
    gc.collect()
    baseline = rss_bytes()
    begin = time.perf_counter()
    for i in range(small[0]):
        serve(i % small[1])
    gc.collect()
    after_small = rss_bytes()
    cache_small = cached()
    checkpoints = []
    rng = random.Random(20240611)
    done = small[0]
    remaining = large[0] - small[0]
    step = max(1, remaining // 10)
    while done < large[0]:
        for _ in range(min(step, large[0] - done)):
            serve(rng.randrange(large[1]))
        done += min(step, large[0] - done)
        gc.collect()
        checkpoints.append((done, rss_bytes(), cached()))
    return {
        "baseline": baseline,
        "small": [small[0], small[1], after_small, cache_small],
        "large": [large[0], large[1], checkpoints[-1][1], checkpoints[-1][2]],
        "checkpoints": checkpoints,
        "cache_size": middleware.sessions.cache_size,
        "seconds": time.perf_counter() - begin,
    }


def bench_memory(settings: Settings) -> Section:
    section = Section("4. Memory: RSS with many sessions (subprocess)")
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--memory-child",
        json.dumps([settings.memory_small, settings.memory_large]),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise BenchError("memory subprocess failed:\n" + done.stderr[-3000:])
    data = json.loads(done.stdout.strip().splitlines()[-1])
    mib = 1 << 20
    small_requests, small_sessions, small_rss, small_cached = data["small"]
    large_requests, large_sessions, large_rss, large_cached = data["large"]
    checkpoints = data["checkpoints"]
    # growth once the cache has stopped growing: from the first checkpoint at its final size
    full_at = next(i for i, c in enumerate(checkpoints) if c[2] == checkpoints[-1][2])
    late_growth = large_rss - checkpoints[full_at][1]
    delta = large_rss - small_rss
    per_entry = delta / (large_cached - small_cached) if large_cached > small_cached else float("nan")
    flat = late_growth <= TARGET_LATE_GROWTH and large_cached <= data["cache_size"]
    if not settings.quick:
        section.checks.append(
            Check(
                "memory flat once the cache is full",
                "<= 1 MiB growth, cache <= %d" % data["cache_size"],
                "%+.2f MiB, cache %d" % (late_growth / mib, large_cached),
                flat,
            )
        )
    section.add(
        "One subprocess: %d session cookies pre-generated with `session_cookie()` before the baseline; "
        "then %d requests over %d sessions (round robin), then requests over %d sessions picked "
        "uniformly at random up to %d in total. RSS from `/proc/self/status` after `gc.collect()`. "
        "Session cache bound: `middleware.sessions.cache_size` = %d."
        % (
            max(small_sessions, large_sessions),
            small_requests,
            small_sessions,
            large_sessions,
            large_requests,
            data["cache_size"],
        ),
        "",
        "| memory | requests | sessions | RSS (MiB) | sessions cached |",
        "|---|---:|---:|---:|---:|",
        "| baseline (cookies generated, 1 request) | 1 | 1 | %.1f | 1 |" % (data["baseline"] / mib),
        "| after the small run | %d | %d | %.1f | %d |"
        % (small_requests, small_sessions, small_rss / mib, small_cached),
        "| after the large run | %d | %d | %.1f | %d |"
        % (large_requests, large_sessions, large_rss / mib, large_cached),
        "| **delta** large - small | | | **%+.2f** | %+d |" % (delta / mib, large_cached - small_cached),
        "",
        "RSS at each tenth of the large run (requests: MiB, cached): %s."
        % ", ".join("%d: %.1f, %d" % (n, rss / mib, c) for n, rss, c in checkpoints),
        "",
        "Growth after the cache reached its final size (at %d requests): **%+.2f MiB** -> %s. "
        "The delta is the cache filling up to its bound: about %.1f KiB per cached session, so at "
        "most ~%.1f MiB for %d entries."
        % (
            checkpoints[full_at][0],
            late_growth / mib,
            "flat" if flat else "**growing**",
            per_entry / 1024,
            per_entry * data["cache_size"] / mib,
            data["cache_size"],
        ),
    )
    return section


# -- report ------------------------------------------------------------------------------------------


def machine() -> list[str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    packages = []
    for name in (
        "oauth-login-middleware",
        "cryptography",
        "requests",
        "requests-oauthlib",
        "oauthlib",
        "WebOb",
        "gunicorn",
        "Flask",
        "Werkzeug",
    ):
        try:
            packages.append("%s %s" % (name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            packages.append("%s (not installed)" % name)
    wrk = shutil.which("wrk")
    if wrk:
        try:
            first = subprocess.run([wrk, "--version"], capture_output=True, text=True, timeout=10).stdout
            packages.append(first.split("Copyright")[0].strip() or "wrk")
        except (OSError, subprocess.TimeoutExpired):
            pass
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count() or 0
    return [
        "- machine: %d CPUs (nproc), %s, %s %s" % (nproc, model, platform.system(), platform.release()),
        "- Python %s (%s)" % (platform.python_version(), platform.python_implementation()),
        "- packages: %s" % ", ".join(packages),
        "- load average at start: %s" % " ".join("%.2f" % x for x in os.getloadavg()),
    ]


def summary(checks: list[Check]) -> list[str]:
    lines = ["## Targets", "", "| target | wanted | measured | met |", "|---|---|---|---|"]
    for check in checks:
        lines.append(
            "| %s | %s | %s | %s |" % (check.name, check.target, check.measured, "yes" if check.met else "**no**")
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="tiny counts (< 60 s); never fails on timings")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated: %s" % ",".join(SECTIONS))
    parser.add_argument("--write", action="store_true", help="also write bench/RESULTS.md")
    parser.add_argument("--rounds", type=int, default=0, help="override the number of rounds")
    parser.add_argument("--seconds", type=int, default=0, help="override wrk's duration per run")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        small, large = json.loads(args.memory_child)
        print(json.dumps(memory_child(tuple(small), tuple(large))))
        return 0
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(only) - set(SECTIONS))
    if unknown:
        parser.error("unknown section(s) %s; choose from %s" % (", ".join(unknown), ", ".join(SECTIONS)))
    settings = Settings.make(args)
    command = "python bench/run.py" + "".join(" " + shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    header_lines = ["# oauth_middleware benchmark", "", "Command: `%s`" % command, "", *machine(), ""]
    print("\n".join(header_lines), flush=True)
    runners: dict[str, t.Callable[[Settings], Section]] = {
        "inprocess": bench_inprocess,
        "http": bench_http,
        "login": bench_login,
        "memory": bench_memory,
    }
    sections = []
    started = time.monotonic()
    for name in SECTIONS:
        if name not in only:
            continue
        print("... %s" % name, file=sys.stderr, flush=True)
        section = runners[name](settings)
        sections.append(section)
        print(section.render(), flush=True)
    checks = [check for section in sections for check in section.checks]
    tail = summary(checks) + [
        "",
        "Total time %.0f s; load average at the end: %s."
        % (time.monotonic() - started, " ".join("%.2f" % x for x in os.getloadavg())),
    ]
    print("\n".join(tail), flush=True)
    if args.write:
        text = "\n".join(header_lines) + "\n" + "\n".join(s.render() for s in sections) + "\n" + "\n".join(tail) + "\n"
        RESULTS.write_text(text)
        print("wrote %s" % RESULTS.relative_to(ROOT), file=sys.stderr)
    missed = [check.name for check in checks if not check.met]
    if missed and not settings.quick:
        print("targets missed: %s" % ", ".join(missed), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
