"""CPU of one login round trip with OpenID Connect (id_token validated) next to GitHub's.

.. code-block:: sh

    python bench/oidc_login.py            # 7 rounds x 50 logins per provider, interleaved
    python bench/oidc_login.py --quick    # 3 rounds x 10

Both logins run in-process exactly as ``bench/run.py``'s login section does (``GET /auth/login``,
the fake's authorize, ``GET /auth/callback``, the first page): against ``FakeGitHub`` (token +
``/user``) and against ``FakeOIDC`` (discovery and keys cached after the warm-up; token exchange
and id_token validation: RS256 signature, claims, nonce, at_hash). The fakes' own CPU (signing the
id_token, mostly) is measured by wrapping them and subtracted: what is left is the middleware's
share, requests and the in-process transport included. Median over rounds of the per-login mean.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import typing as t
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import apps  # noqa: E402
from bench.run import (  # noqa: E402
    HOST,
    BenchError,
    CPUMeter,
    LoginRig,
    call,
    cookie_header,
    environ,
    header,
    set_cookies,
)
from oauth_middleware.oidc import OpenIDConnect  # noqa: E402
from oauth_middleware.testing import FakeOIDC, WSGITransportAdapter  # noqa: E402


class OIDCRig:
    """The login round trip against FakeOIDC; the fake's CPU counted apart."""

    def __init__(self) -> None:
        self.fake = FakeOIDC(auto_approve="alice")
        self.middleware = apps.make_middleware(
            apps.hello,
            provider=OpenIDConnect(self.fake.issuer),
            client_id=self.fake.client_id,
            client_secret=self.fake.client_secret,
        )
        self.server_fake = CPUMeter(self.fake)
        self.browser_fake = CPUMeter(self.fake)
        self.middleware.http.mount(self.fake.base_url + "/", WSGITransportAdapter(self.server_fake))

    def fake_cpu(self) -> float:
        return self.server_fake.cpu + self.browser_fake.cpu

    def login(self) -> float:
        cpu = 0.0
        begin = time.process_time()
        status, headers, _ = call(self.middleware, environ("/auth/login", query="next=/whoami"))
        cpu += time.process_time() - begin
        location = header(headers, "Location") or ""
        if not location.startswith(self.fake.base_url + "/authorize?"):
            raise BenchError("login: %s %s" % (status, location[:80]))
        flow = set_cookies(headers)
        parts = urlsplit(location)
        begin = time.process_time()
        status, headers, _ = call(
            self.browser_fake, environ(parts.path, query=parts.query, host=parts.netloc, cookie=None)
        )
        cpu += time.process_time() - begin
        location = header(headers, "Location") or ""
        if not location.startswith("https://%s/auth/callback?" % HOST):
            raise BenchError("authorize: %s %s" % (status, location[:80]))
        parts = urlsplit(location)
        begin = time.process_time()
        status, headers, _ = call(self.middleware, environ(parts.path, query=parts.query, cookie=cookie_header(flow)))
        cpu += time.process_time() - begin
        session = set_cookies(headers)
        if not status.startswith("302") or not session:
            raise BenchError("callback: %s" % status)
        begin = time.process_time()
        status, _, body = call(self.middleware, environ("/whoami", cookie=cookie_header(session)))
        cpu += time.process_time() - begin
        if body != b"alice":
            raise BenchError("first page after login: %s %r" % (status, body[:80]))
        return cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--logins", type=int, default=50)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds, logins = (3, 10) if args.quick else (args.rounds, args.logins)
    github, oidc = LoginRig.make(), OIDCRig()
    for _ in range(3):  # warm-up: imports, discovery, keys, pools
        github.login()
        oidc.login()
    results: dict[str, list[float]] = {"GitHub": [], "OpenID Connect": []}

    def github_fake_cpu() -> float:
        browser, server, _ = github.cpu()
        return browser + server

    rigs: list[tuple[str, t.Callable[[], float], t.Callable[[], float]]] = [
        ("GitHub", github.login, github_fake_cpu),
        ("OpenID Connect", oidc.login, oidc.fake_cpu),
    ]
    for _ in range(rounds):
        for name, login, fake_cpu in rigs:
            before = fake_cpu()
            total = sum(login() for _ in range(logins))
            results[name].append((total - (fake_cpu() - before)) / logins * 1e3)
    print("%d rounds x %d logins each; middleware's CPU per login (fakes' own CPU subtracted)" % (rounds, logins))
    print("| provider | ms CPU per login (median) | min-max |")
    print("|---|---:|---:|")
    for name, values in results.items():
        print("| %s | %.3f | %.3f-%.3f |" % (name, statistics.median(values), min(values), max(values)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
