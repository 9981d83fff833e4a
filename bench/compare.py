"""Before and after in one run: the in-process cost of the middleware at two git revisions.

.. code-block:: sh

    python bench/compare.py --base c464de0            # base revision vs the working tree
    python bench/compare.py --base main --rounds 9 --calls 20000

The base revision is checked out into a temporary git worktree (removed afterwards). Each round
starts one child process per tree, in alternating order, and each child measures a bare hello app,
the wrapped app with an anonymous request and with a logged-in one (session cookie, cached),
interleaved, and prints microseconds per call. Reported: the median over rounds of the *added*
microseconds (wrapped minus bare, measured in the same child) for each tree, and after/before.
Bounded: ``rounds x 2`` children, each ``3 x calls`` requests.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent

#: Runs in a child with one tree first on sys.path; prints {"bare": us, "anonymous": us, "session": us}.
CHILD = r"""
import json, sys, time
from oauth_middleware import OAuthMiddleware
from oauth_middleware.testing import session_cookie

def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]

def environ(path, cookie=None):
    env = {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "app.example.com", "HTTP_USER_AGENT": "bench/1.0", "HTTP_ACCEPT": "text/html",
        "HTTP_ACCEPT_ENCODING": "gzip", "HTTP_CONNECTION": "keep-alive", "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "50000", "RAW_URI": path, "wsgi.version": (1, 0), "wsgi.url_scheme": "https",
        "wsgi.input": None, "wsgi.errors": sys.stderr, "wsgi.multithread": False,
        "wsgi.multiprocess": True, "wsgi.run_once": False,
    }
    if cookie:
        env["HTTP_COOKIE"] = cookie
    return env

middleware = OAuthMiddleware(hello, client_id="bench", client_secret="bench-secret",
                             secret_key="bench-secret-key-0123456789abcdefghijkl")
jar = session_cookie(middleware, "octocat")
cookie = "; ".join("%s=%s" % item for item in jar.items()) + "; theme=dark"
variants = {"bare": (hello, environ("/")), "anonymous": (middleware, environ("/")),
            "session": (middleware, environ("/", cookie))}

def start_response(status, headers, exc_info=None):
    return None

def run(app, template, calls):
    copy = template.copy
    begin = time.perf_counter()
    for _ in range(calls):
        for _chunk in app(copy(), start_response):
            pass
    return (time.perf_counter() - begin) / calls * 1e6

calls = int(sys.argv[1])
for app, template in variants.values():
    run(app, template, max(200, calls // 10))
print(json.dumps({name: run(app, template, calls) for name, (app, template) in variants.items()}))
"""


def measure(tree: pathlib.Path, calls: int) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, %r)\n%s" % (str(tree), CHILD), str(calls)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tree,
    ).stdout
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--base", required=True, help="the git revision to compare the working tree with")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-base-") as scratch:
        base = pathlib.Path(scratch) / "base"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(base), args.base], check=True)
        try:
            trees = {"before (%s)" % args.base: base, "after (working tree)": ROOT}
            added: dict[str, dict[str, list[float]]] = {name: {"anonymous": [], "session": []} for name in trees}
            for round_number in range(args.rounds):
                order = list(trees.items())
                if round_number % 2:
                    order.reverse()
                for name, tree in order:
                    result = measure(tree, args.calls)
                    for variant in ("anonymous", "session"):
                        added[name][variant].append(result[variant] - result["bare"])
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False)
    print(
        "%d rounds x %d calls per variant; median added us/call vs a bare app in the same process"
        % (args.rounds, args.calls)
    )
    print("| variant | %s | after / before |" % " | ".join(trees))
    print("|---|" + "---:|" * len(trees) + "---:|")
    names = list(trees)
    for variant in ("anonymous", "session"):
        medians = [statistics.median(added[name][variant]) for name in names]
        ratio = medians[1] / medians[0] if medians[0] > 0 else float("nan")
        print("| %s | %s | %.2f |" % (variant, " | ".join("%+.2f" % m for m in medians), ratio))
    return 0


if __name__ == "__main__":
    sys.exit(main())
