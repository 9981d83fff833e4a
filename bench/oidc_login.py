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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import apps  # noqa: E402
from bench.run import CPUMeter, LoginRig, TimedAdapter  # noqa: E402
from oauth_middleware.oidc import OpenIDConnect  # noqa: E402
from oauth_middleware.testing import FakeOIDC, WSGITransportAdapter  # noqa: E402


def oidc_rig() -> LoginRig:
    """:class:`bench.run.LoginRig` against FakeOIDC: the fake's CPU counted apart."""
    fake = FakeOIDC(auto_approve="alice")
    middleware = apps.make_middleware(
        apps.hello, provider=OpenIDConnect(fake.issuer), client_id=fake.client_id, client_secret=fake.client_secret
    )
    server_fake = CPUMeter(fake)
    transport = TimedAdapter(WSGITransportAdapter(server_fake))
    middleware.http.mount(fake.base_url + "/", transport)
    return LoginRig(
        middleware, fake, CPUMeter(fake), server_fake, transport, authorize_path="/authorize?", user=b"alice"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--logins", type=int, default=50)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds, logins = (3, 10) if args.quick else (args.rounds, args.logins)
    github, oidc = LoginRig.make(), oidc_rig()
    for _ in range(3):  # warm-up: imports, discovery, keys, pools
        github.login()
        oidc.login()
    results: dict[str, list[float]] = {"GitHub": [], "OpenID Connect": []}
    for _ in range(rounds):
        for name, rig in (("GitHub", github), ("OpenID Connect", oidc)):
            browser, server, _ = rig.cpu()
            total = sum(rig.login() for _ in range(logins))
            browser_after, server_after, _ = rig.cpu()
            fake = browser_after - browser + server_after - server
            results[name].append((total - fake) / logins * 1e3)
    print("%d rounds x %d logins each; middleware's CPU per login (fakes' own CPU subtracted)" % (rounds, logins))
    print("| provider | ms CPU per login (median) | min-max |")
    print("|---|---:|---:|")
    for name, values in results.items():
        print("| %s | %.3f | %.3f-%.3f |" % (name, statistics.median(values), min(values), max(values)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
