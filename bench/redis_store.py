"""Micro-benchmark of the Redis store against the in-memory one, in the same run.

.. code-block:: sh

    python bench/redis_store.py            # ~30 s: prints the tables
    python bench/redis_store.py --quick    # tiny counts, a few seconds
    python bench/redis_store.py --write    # also writes bench/RESULTS-redis.md

It starts its own ``redis-server`` on a free 127.0.0.1 port (persistence off), talks to it over
loopback with the same client options a ``RedisStore(url=...)`` gets, and stops it by PID at the
end. Rounds of each operation are interleaved between the two stores and the median per-call time
over the rounds is reported. Also: ``MEMORY USAGE`` of a session and of its user index, and how long
an operation takes when Redis is down (refused) or never answers (bounded by ``socket_timeout``).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import pathlib
import platform
import statistics
import sys
import tempfile
import time
import typing as t

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from support.redis_server import Silent, free_port, start_redis  # noqa: E402

from oauth_middleware.crypto import Cipher  # noqa: E402
from oauth_middleware.redis_store import RedisStore  # noqa: E402
from oauth_middleware.session import Lifetimes, Session  # noqa: E402
from oauth_middleware.store import MemoryStore, Store, StoreUnavailable  # noqa: E402
from oauth_middleware.tickets import SESSION_PREFIX, StoreSessions  # noqa: E402

KEY = b"bench-ticket-key-3Jk8Xq1Lm5Vt9Rw2Zp7Cd4Nh6"
TOKEN = {"access_token": "gho_" + "b" * 36, "token_type": "bearer", "scope": "read:user"}
PROFILE = {"login": "octocat", "id": 583231, "name": "The Octocat", "avatar_url": "https://github.com/images/x.gif"}


def session() -> Session:
    return Session.new(user=dict(PROFILE), token=dict(TOKEN), username="octocat", now=time.time())


def per_call(operation: t.Callable[[int], object], calls: int) -> float:
    """Microseconds per call of ``operation(i)`` for i in range(calls) (False from it: an error)."""
    started = time.perf_counter()
    for number in range(calls):
        if operation(number) is False:
            raise AssertionError("an operation failed: the benchmark would measure the wrong thing")
    return (time.perf_counter() - started) / calls * 1e6


def operations(store: Store, sessions: StoreSessions, cookies: dict[str, str]) -> dict[str, t.Callable[[int], object]]:
    value = b"x" * 64
    store.put("bench:get", value, ttl=600)
    states = itertools.count()

    raw: t.Callable[[int], object] = lambda number: None  # noqa: E731
    if isinstance(store, RedisStore):  # what the wrapper adds to redis-py's own GET
        raw_get, raw_key = store.client.get, store.prefix + "v:bench:get"
        raw = lambda number: raw_get(raw_key)  # noqa: E731
    return {
        "redis-py's client.get alone (no store)": raw,
        "get (hit, 64 B)": lambda number: store.get("bench:get"),
        "put (64 B, ttl)": lambda number: store.put("bench:put:%d" % number, value, ttl=60),
        "put if absent (a new one-time state)": lambda number: store.put(
            "bench:state:%d" % next(states), value, ttl=60, only_if_absent=True
        ),
        # the keys the put row just wrote (rows run in this order, each store in turn, every round)
        "compare_and_expire (renew a lease)": lambda number: store.compare_and_expire(
            "bench:put:%d" % number, value, ttl=60
        ),
        "compare_and_delete (release a lease)": lambda number: store.compare_and_delete("bench:put:%d" % number, value),
        "StoreSessions.load (ticket -> session)": lambda number: sessions.load(cookies, secure=True, now=time.time()),
    }


def measure(stores: dict[str, Store], rounds: int, calls: int) -> dict[str, dict[str, float]]:
    """Median us per call of every operation on every store."""
    lifetimes = Lifetimes(max_age=3600)
    prepared = {}
    for name, store in stores.items():
        sessions = StoreSessions(Cipher([KEY], purpose="ticket"), store, name="s", lifetimes=lifetimes, clock=time.time)
        headers = sessions.dump(session(), secure=True)
        cookies = {value.split("=", 1)[0]: value.split("=", 1)[1].split(";", 1)[0] for _, value in headers}
        assert sessions.load(cookies, secure=True, now=time.time()) is not None
        prepared[name] = operations(store, sessions, cookies)
    samples: dict[str, dict[str, list[float]]] = {op: {name: [] for name in stores} for op in prepared["memory"]}
    for round_number in range(rounds):
        order = list(stores)[round_number % 2 :] + list(stores)[: round_number % 2]
        for operation in samples:
            for name in order:
                samples[operation][name].append(per_call(prepared[name][operation], calls))
    return {op: {name: statistics.median(values) for name, values in by.items()} for op, by in samples.items()}


def memory_usage(store: RedisStore) -> tuple[int, int, int]:
    """MEMORY USAGE of one session's key and of its user index; the ticket cookie's length."""
    sessions = StoreSessions(
        Cipher([KEY], purpose="ticket"), store, name="oauth_session", lifetimes=Lifetimes(max_age=3600), clock=time.time
    )
    headers = sessions.dump(session(), secure=True)
    cookie = headers[0][1].split(";", 1)[0]
    session_id = sessions.session_id(cookie.split("=", 1)[1], secure=True)
    assert session_id is not None
    client = store.client
    usage = client.memory_usage(store.prefix + "v:" + SESSION_PREFIX + session_id)
    index = client.memory_usage(store.prefix + "i:user:583231")
    return int(usage or 0), int(index or 0), len(cookie)


def fault_times(timeout: float) -> tuple[float, float]:
    """Worst seconds for a get/put on a Redis that refuses connections, and on one that never answers."""
    silent = Silent()
    worst = []
    try:
        for port in (free_port(), silent.port):
            store = RedisStore(url="redis://127.0.0.1:%d/0" % port, socket_timeout=timeout)
            slowest = 0.0
            for operation in ("get", "put"):
                started = time.monotonic()
                with contextlib.suppress(StoreUnavailable):
                    store.get("k") if operation == "get" else store.put("k", b"v", ttl=5)
                slowest = max(slowest, time.monotonic() - started)
            store.close()
            worst.append(slowest)
    finally:
        silent.stop()
    return worst[0], worst[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="tiny counts (a smoke test)")
    parser.add_argument("--write", action="store_true", help="also write bench/RESULTS-redis.md")
    args = parser.parse_args(argv)
    rounds, calls = (3, 200) if args.quick else (9, 2000)
    import redis

    with tempfile.TemporaryDirectory() as directory:
        server = start_redis(pathlib.Path(directory))
        try:
            version = server.client().info("server")["redis_version"]
            redis_store = RedisStore(url=server.url, prefix="bench:")
            results = measure({"memory": MemoryStore(), "redis": redis_store}, rounds, calls)
            session_bytes, index_bytes, cookie_length = memory_usage(redis_store)
            redis_store.close()
        finally:
            server.stop()
    refused, silent = fault_times(0.5)
    lines = [
        "# Redis store micro-benchmark",
        "",
        "Command: `python bench/redis_store.py%s`" % (" --quick" if args.quick else ""),
        "",
        "- machine: %s, Python %s; redis-server %s on 127.0.0.1 (persistence off), redis-py %s"
        % (platform.machine(), platform.python_version(), version, redis.__version__),
        "- load average at the end: %s (the client and redis-server share the machine's CPUs: on a busy "
        "machine a loopback round trip is mostly waiting to be scheduled)"
        % " ".join("%.2f" % load for load in os.getloadavg()),
        "- %d interleaved rounds x %d calls per operation and store; median of the rounds, us per call"
        % (rounds, calls),
        "",
        "| operation | MemoryStore us | RedisStore us | difference us |",
        "|---|---:|---:|---:|",
    ]
    for operation, by in results.items():
        if operation.startswith("redis-py"):
            lines.append("| %s | - | %.1f | - |" % (operation, by["redis"]))
            continue
        lines.append(
            "| %s | %.1f | %.1f | +%.1f |" % (operation, by["memory"], by["redis"], by["redis"] - by["memory"])
        )
    lines += [
        "",
        "| Redis memory and cookie | bytes |",
        "|---|---:|",
        "| MEMORY USAGE of a session key (octocat's profile and a token, encrypted) | %d |" % session_bytes,
        "| MEMORY USAGE of the user's index (one session) | %d |" % index_bytes,
        "| ticket cookie (name=value) | %d |" % cookie_length,
        "",
        "| fault (socket_timeout 0.5 s) | worst get/put, ms |",
        "|---|---:|",
        "| nothing listening (connection refused) | %.1f |" % (refused * 1000),
        "| a server that accepts and never answers | %.1f |" % (silent * 1000),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:  # the sections other scripts write (between their markers) stay
        results = ROOT / "bench" / "RESULTS-redis.md"
        old = results.read_text() if results.exists() else ""
        others = old[old.index("<!-- bench/") :] if "<!-- bench/" in old else ""
        results.write_text(text + ("\n" + others if others else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
