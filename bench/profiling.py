"""cProfile of the logged-in request path and of the login round trip (the hot spots).

.. code-block:: sh

    python bench/profiling.py                    # both, top 25 by own time
    python bench/profiling.py --only session --top 15 --sort cumulative
    python bench/profiling.py --only login --calls 300

Uses the same apps and driver as ``bench/run.py``; the profiler's overhead inflates small
functions, so read it for *where* time goes, and ``run.py`` for *how much*.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import apps  # noqa: E402
from bench.run import LoginRig, environ, noop_start_response, session_header  # noqa: E402


def profile_session(calls: int, sort: str, top: int) -> None:
    middleware = apps.make_middleware(apps.hello)
    template = environ("/", cookie=session_header(middleware))
    for _ in range(1000):  # warm the session cache
        list(middleware(template.copy(), noop_start_response))
    profiler = cProfile.Profile()
    begin = time.perf_counter()
    profiler.enable()
    for _ in range(calls):
        for _chunk in middleware(template.copy(), noop_start_response):
            pass
    profiler.disable()
    print(
        "## logged-in request: %d calls (%.1f us/call under the profiler)"
        % (calls, (time.perf_counter() - begin) / calls * 1e6)
    )
    pstats.Stats(profiler, stream=sys.stdout).strip_dirs().sort_stats(sort).print_stats(top)


def profile_login(calls: int, sort: str, top: int) -> None:
    rig = LoginRig.make()
    for _ in range(5):
        rig.login()
    profiler = cProfile.Profile()
    begin = time.perf_counter()
    profiler.enable()
    for _ in range(calls):
        rig.login()
    profiler.disable()
    print(
        "## login round trip: %d logins (%.2f ms/login under the profiler)"
        % (calls, (time.perf_counter() - begin) / calls * 1e3)
    )
    pstats.Stats(profiler, stream=sys.stdout).strip_dirs().sort_stats(sort).print_stats(top)


def main() -> int:
    parser = argparse.ArgumentParser(description="cProfile the logged-in path and the login round trip")
    parser.add_argument("--only", choices=("session", "login"), help="profile one of the two")
    parser.add_argument("--calls", type=int, default=0, help="requests (default 100000) or logins (default 500)")
    parser.add_argument("--sort", default="tottime", help="pstats sort key (tottime, cumulative, ...)")
    parser.add_argument("--top", type=int, default=25, help="rows to print")
    args = parser.parse_args()
    if args.only in (None, "session"):
        profile_session(args.calls or 100_000, args.sort, args.top)
    if args.only in (None, "login"):
        profile_login(args.calls or 500, args.sort, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
