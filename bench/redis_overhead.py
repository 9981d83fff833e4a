"""What a logged-in request costs on the Redis store, against the bare app and the cookie store.

.. code-block:: sh

    python bench/redis_overhead.py            # ~2 min: prints the tables
    python bench/redis_overhead.py --quick    # tiny counts, a smoke test (never fails on timings)
    python bench/redis_overhead.py --write    # also writes its section of bench/RESULTS-redis.md

It starts its own ``redis-server`` on a free 127.0.0.1 port (persistence off) and stops it by PID.

1. In-process: microseconds per WSGI call of the bare hello app, of it wrapped with a cookie
   session, and wrapped with a session on Redis (``store=RedisStore(url=...)``); also on Redis
   through redis-py's client-side cache (RESP3, server-assisted invalidation), with a check that a
   session deleted by another client is gone on the cached client's very next read. Rounds are
   interleaved, medians over rounds.
2. HTTP: gunicorn (2 sync workers each) serving ``bench.apps:bare``, ``bench.apps:wrapped_session``
   and ``'bench.apps:redis_session()'``, loaded with ``wrk -t2 -c8`` when wrk is on PATH, else a
   small Python load generator (threads, bounded in seconds). requests/s ratio to bare in the same
   round, and the server's CPU per request (``/proc``) minus bare's.
3. ``MEMORY USAGE`` of a session key and of a user's index.

Exit status 0 (1 on a crash): targets are reported, never enforced here.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import pathlib
import statistics
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from support.redis_server import RedisServer, start_redis  # noqa: E402

from bench import apps  # noqa: E402
from bench.redis_store import memory_usage  # noqa: E402
from bench.run import (  # noqa: E402
    BenchError,
    Server,
    Variant,
    WrkResult,
    _gunicorn_flags,
    call,
    environ,
    group_cpu_seconds,
    machine,
    rotated,
    run_wrk,
    session_header,
    spread,
    start_server,
    stop_server,
    time_variant,
    wait_ready,
    whoami,
)
from oauth_middleware.redis_store import RedisStore  # noqa: E402
from oauth_middleware.store import StoreUnavailable  # noqa: E402
from oauth_middleware.tickets import SESSION_PREFIX  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS-redis.md"
BEGIN = "<!-- bench/redis_overhead.py: begin -->"
END = "<!-- bench/redis_overhead.py: end -->"
TARGET_REDIS_ADDED_US = 100.0
TARGET_REDIS_RATIO = 0.90
TARGET_COOKIE_RATIO = 0.95


# -- 1. in-process -----------------------------------------------------------------------------------


def cached_store(server: RedisServer) -> tuple[RedisStore | None, str]:
    """A RedisStore on a redis-py client with client-side caching, or None and why not."""
    import redis

    try:
        from redis.cache import CacheConfig
    except ImportError:
        return None, "redis-py %s has no client-side caching" % redis.__version__
    client = redis.Redis(host="127.0.0.1", port=server.port, protocol=3, cache_config=CacheConfig(), socket_timeout=0.5)
    store = RedisStore(client=client)
    try:
        store.put("bench:probe", b"x", ttl=5)
    except StoreUnavailable as error:
        store.close()
        return None, str(error).split(": ", 2)[-1]
    return store, ""


def revocation_seen(store: RedisStore, server: RedisServer, trials: int) -> int:
    """How many of ``trials`` sessions, cached by ``store`` and then deleted by another client, were
    gone on ``store``'s very next read (immediate revocation through server-assisted invalidation)."""
    other = server.client()
    seen = 0
    try:
        for number in range(trials):
            key = "bench:revoke:%d" % number
            store.put(key, b"session", ttl=60)
            store.get(key)
            store.get(key)  # now served from the client-side cache
            other.delete(store.prefix + "v:" + key)
            seen += store.get(key) is None
    finally:
        other.close()
    return seen


def bench_inprocess(server: RedisServer, rounds: int, calls: int) -> list[str]:
    plain = apps.make_middleware(apps.hello)  # secure=None: follows the https scheme below
    on_redis = apps.make_middleware(apps.hello, store=RedisStore(url=server.url))
    variants = [
        Variant("bare", "(a) bare hello app", apps.hello, environ("/"), "200"),
        Variant(
            "cookie", "(b) wrapped, logged in, cookie store", plain, environ("/", cookie=session_header(plain)), "200"
        ),
        Variant(
            "redis",
            "(c) wrapped, logged in, Redis store",
            on_redis,
            environ("/", cookie=session_header(on_redis)),
            "200",
        ),
    ]
    cached, why_not = cached_store(server)
    if cached is not None:
        on_cache = apps.make_middleware(apps.hello, store=cached)
        label = "(d) wrapped, logged in, Redis store + redis-py client-side cache"
        variants.append(Variant("cached", label, on_cache, environ("/", cookie=session_header(on_cache)), "200"))
    for variant in variants:
        status, _, _ = call(variant.app, dict(variant.template, PATH_INFO="/whoami"))
        body = call(variant.app, dict(variant.template, PATH_INFO="/whoami"))[2]
        expected = b"-" if variant.key == "bare" else b"octocat"
        if not status.startswith("200") or body != expected:
            raise BenchError("%s answered %s %r, expected %r" % (variant.key, status, body, expected))
    samples: dict[str, list[float]] = {variant.key: [] for variant in variants}
    for round_number in range(rounds):
        for variant in rotated(variants, round_number):
            samples[variant.key].append(time_variant(variant, calls))
    bare = samples["bare"]
    lines = [
        "### In-process, logged in (%d interleaved rounds x %d calls, median us per call)" % (rounds, calls),
        "",
        "| variant | us/call | min-max | added vs (a), us | added vs (b), us | target | met |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for variant in variants:
        own = samples[variant.key]
        added = statistics.median([s - b for s, b in zip(own, bare, strict=True)])
        vs_cookie = statistics.median([s - c for s, c in zip(own, samples["cookie"], strict=True)])
        target = met = ""
        if variant.key == "redis":
            target, met = "<= %.0f us" % TARGET_REDIS_ADDED_US, "yes" if added <= TARGET_REDIS_ADDED_US else "**no**"
        lines.append(
            "| %s | %.1f | %s | %s | %s | %s | %s |"
            % (
                variant.label,
                statistics.median(own),
                spread(own, 1),
                "-" if variant.key == "bare" else "%+.1f" % added,
                "-" if variant.key in ("bare", "cookie") else "%+.1f" % vs_cookie,
                target,
                met,
            )
        )
    raw_client = server.client(socket_timeout=0.5)
    raw_client.set("bench:raw", b"x" * 64)
    started = time.perf_counter()
    for _ in range(calls):
        raw_client.get("bench:raw")
    round_trip = (time.perf_counter() - started) / calls * 1e6
    raw_client.close()
    lines += ["", "For scale: redis-py's own `GET` of a 64-byte key on this loopback: %.1f us per call." % round_trip]
    if cached is not None:
        trials = 20
        seen = revocation_seen(cached, server, trials)
        lines.append(
            "Client-side cache and revocation: a session read twice through the cached client, deleted by "
            "another client, was gone on the cached client's very next read in %d of %d trials." % (seen, trials)
        )
    else:
        lines.append("Client-side caching (redis-py `cache_config`, RESP3) not measured: %s." % why_not)
    return lines


# -- 2. HTTP -------------------------------------------------------------------------------------------


def python_load(url: str, seconds: float, cookie: str | None, server: Server, threads: int = 4) -> WrkResult:
    """wrk's stand-in: ``threads`` threads, each on its own connection (reopened when gunicorn's sync
    worker closes it), for ``seconds``; non-200 answers and errors count as errors."""
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    headers = {"Cookie": cookie} if cookie else {}
    done = [0] * threads
    errors = [0] * threads
    deadline = time.monotonic() + seconds

    def run(number: int) -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=5)
        try:
            while time.monotonic() < deadline:
                try:
                    connection.request("GET", "/", headers=headers)
                    response = connection.getresponse()
                    response.read()
                    if response.status == 200:
                        done[number] += 1
                    else:
                        errors[number] += 1
                    if response.will_close:
                        connection.close()
                except (OSError, http.client.HTTPException):
                    errors[number] += 1
                    connection.close()
        finally:
            connection.close()

    cpu_before = group_cpu_seconds(server.process.pid)
    started = time.monotonic()
    workers = [threading.Thread(target=run, args=(number,)) for number in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=seconds + 10)
    elapsed = time.monotonic() - started
    cpu = group_cpu_seconds(server.process.pid) - cpu_before
    total = sum(done)
    return WrkResult(total / elapsed, total, "-", sum(errors), cpu / total * 1e6 if total else 0.0)


def bench_http(server: RedisServer, rounds: int, seconds: int, use_wrk: bool) -> list[str]:
    os.environ["BENCH_REDIS_URL"] = server.url  # inherited by the gunicorn started below
    plain = apps.make_middleware(apps.hello, secure=True)
    on_redis = apps.make_middleware(apps.hello, secure=True, store=RedisStore(url=server.url))
    plan = [  # key, label, gunicorn app spec, cookie sent
        ("bare", "bare hello", "bench.apps:bare", None),
        ("cookie", "wrapped, logged in, cookie store", "bench.apps:wrapped_session", session_header(plain)),
        ("redis", "wrapped, logged in, Redis store", "bench.apps:redis_session()", session_header(on_redis)),
    ]
    load = run_wrk if use_wrk else python_load
    servers: dict[str, Server] = {}
    samples: dict[str, list[WrkResult]] = {key: [] for key, *_ in plan}
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="oauth-bench-redis-"))
    try:
        flags = _gunicorn_flags()
        for key, _, spec, _ in plan:
            servers[key] = start_server(key, spec, workdir, flags)
        deadline = time.monotonic() + 60
        for key, _, _, sent in plan:
            wait_ready(servers[key], deadline)
            expected = "-" if key == "bare" else "octocat"
            if whoami(servers[key], sent) != expected:
                raise BenchError("%s: /whoami did not answer %r" % (key, expected))
            load(servers[key].url + "/", 1, sent, servers[key])  # warm-up
        for round_number in range(rounds):
            for key, _, _, sent in rotated(plan, round_number):
                samples[key].append(load(servers[key].url + "/", seconds, sent, servers[key]))
    finally:
        for running in servers.values():
            stop_server(running)
    how = (
        "`wrk -t2 -c8 -d%ds`" % seconds
        if use_wrk
        else "a Python load generator (4 threads, %d s; wrk is not installed: the generator itself takes "
        "much of the 2 CPUs, so requests/s ratios are squeezed towards 1 and server CPU per request is "
        "the better measure)" % seconds
    )
    lines = [
        "### HTTP under gunicorn (2 sync workers per app), logged in",
        "",
        "%s per variant, %d interleaved rounds, plain http to 127.0.0.1. Ratio = median of per-round "
        "ratios to bare; server CPU = utime+stime of the gunicorn process group per request, *added* = "
        "median of per-round differences to bare." % (how, rounds),
        "",
        "| http variant | requests/s (median) | min-max | ratio to bare | target | met | server CPU us/request "
        "| added us | errors |",
        "|---|---:|---:|---:|---|---|---:|---:|---:|",
    ]
    for key, label, _, _ in plan:
        rps = [s.rps for s in samples[key]]
        ratio = statistics.median([s.rps / b.rps for s, b in zip(samples[key], samples["bare"], strict=True)])
        added = statistics.median(
            [s.server_cpu_us - b.server_cpu_us for s, b in zip(samples[key], samples["bare"], strict=True)]
        )
        wanted = {"redis": TARGET_REDIS_RATIO, "cookie": TARGET_COOKIE_RATIO}.get(key)
        lines.append(
            "| %s | %.0f | %s | %s | %s | %s | %.0f | %s | %d |"
            % (
                label,
                statistics.median(rps),
                spread(rps, 0),
                "-" if key == "bare" else "%.3f" % ratio,
                ">= %.2fx" % wanted if wanted else "",
                ("yes" if ratio >= wanted else "**no**") if wanted else "",
                statistics.median([s.server_cpu_us for s in samples[key]]),
                "-" if key == "bare" else "%+.1f" % added,
                sum(s.errors for s in samples[key]),
            )
        )
    return lines


# -- 3. memory -----------------------------------------------------------------------------------------


def bench_memory(server: RedisServer) -> list[str]:
    store = RedisStore(url=server.url, prefix="bench-memory:")
    try:
        session_bytes, index_bytes, cookie_length = memory_usage(store)
        keys = sum(1 for _ in store.client.scan_iter(match=store.prefix + "v:" + SESSION_PREFIX + "*"))
    finally:
        store.close()
    return [
        "### Redis memory per session",
        "",
        "| what | bytes |",
        "|---|---:|",
        "| `MEMORY USAGE` of a session key (octocat's profile and a token, AES-GCM encrypted) | %d |" % session_bytes,
        "| `MEMORY USAGE` of the user's index (one session) | %d |" % index_bytes,
        "| ticket cookie (name=value) | %d |" % cookie_length,
        "",
        "So about %.1f KiB of Redis per logged-in user with one session (%d session key(s) written)."
        % ((session_bytes + index_bytes) / 1024, keys),
    ]


def write_section(text: str) -> None:
    """Replace this script's section of RESULTS-redis.md (between its markers), or append it."""
    old = RESULTS.read_text() if RESULTS.exists() else ""
    block = "%s\n%s\n%s\n" % (BEGIN, text.rstrip(), END)
    if BEGIN in old and END in old:
        new = old[: old.index(BEGIN)] + block + old[old.index(END) + len(END) :].lstrip("\n")
    else:
        new = old.rstrip("\n") + "\n\n" + block
    RESULTS.write_text(new)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="tiny counts (a smoke test)")
    parser.add_argument("--write", action="store_true", help="also write this section of bench/RESULTS-redis.md")
    parser.add_argument(
        "--python-load", action="store_true", help="use the Python load generator even when wrk is installed"
    )
    args = parser.parse_args(argv)
    rounds, calls, http_rounds, seconds = (3, 200, 1, 1) if args.quick else (11, 2000, 7, 3)
    import shutil

    use_wrk = shutil.which("wrk") is not None and not args.python_load
    started = time.monotonic()
    lines = [
        "## Logged-in overhead on the Redis store (bench/redis_overhead.py)",
        "",
        "Command: `python bench/redis_overhead.py%s`" % "".join(" " + a for a in (argv or sys.argv[1:])),
        "",
        *machine(),
        "",
    ]
    with tempfile.TemporaryDirectory() as directory:
        server = start_redis(pathlib.Path(directory))
        try:
            lines.append("- redis-server %s on 127.0.0.1 (persistence off)" % server.client().info()["redis_version"])
            lines += ["", *bench_inprocess(server, rounds, calls), ""]
            lines += [*bench_http(server, http_rounds, seconds, use_wrk), ""]
            lines += [*bench_memory(server), ""]
        finally:
            server.stop()
    lines.append(
        "Total %.0f s; load average at the end: %s."
        % (time.monotonic() - started, " ".join("%.2f" % x for x in os.getloadavg()))
    )
    text = "\n".join(lines)
    print(text, flush=True)
    if args.write:
        write_section(text)
        print("wrote %s" % RESULTS.relative_to(ROOT), file=sys.stderr)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
