"""CPU cost of validating one id_token (RS256 and ES256) with oauth_middleware.oidc.

.. code-block:: sh

    python bench/oidc_validation.py            # 7 rounds of 300 validations per algorithm
    python bench/oidc_validation.py --quick    # 3 rounds of 30, a few seconds

Measures ``IdTokenValidator.validate`` with discovery and keys already cached (the cost every
login pays), PyJWT's signature check alone (``jwt.decode`` with every claim check off: the floor),
and two refusals that must stay cheap: a 1 MB token (refused by size before parsing) and a forged
``kid`` inside the refetch interval (no network). CPU time (``time.process_time``) per call,
median and range over interleaved rounds. Bounded: stops after ``--max-seconds`` whatever happens.
"""

from __future__ import annotations

import argparse
import logging
import platform
import statistics
import sys
import time
import typing as t
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import cryptography  # noqa: E402
import jwt  # noqa: E402
import requests  # noqa: E402

from oauth_middleware.oidc import Discovery, IdTokenValidator, OIDCError  # noqa: E402
from oauth_middleware.testing import FakeOIDC  # noqa: E402

NONCE = "bench-nonce-0123456789"
ACCESS_TOKEN = "bench-access-token-0123456789abcdef"


def rig(alg: str) -> tuple[FakeOIDC, IdTokenValidator]:
    fake = FakeOIDC(signing_alg=alg)
    http = requests.Session()
    fake.mount(http)
    validator = IdTokenValidator(Discovery(fake.issuer, http=http), client_id=fake.client_id)
    validator.validate(fake.id_token(nonce=NONCE, access_token=ACCESS_TOKEN), nonce=NONCE, access_token=ACCESS_TOKEN)
    return fake, validator


def cpu_us(call: t.Callable[[], object], n: int) -> float:
    begin = time.process_time()
    for _ in range(n):
        call()
    return (time.process_time() - begin) / n * 1e6


def refused(call: t.Callable[[], object]) -> t.Callable[[], None]:
    def run() -> None:
        try:
            call()
        except OIDCError:
            return
        raise AssertionError("expected a refusal")

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("-n", type=int, default=300, help="validations per round and case")
    parser.add_argument("--quick", action="store_true", help="3 rounds of 30")
    parser.add_argument("--max-seconds", type=float, default=120.0)
    args = parser.parse_args(argv)
    rounds, n = (3, 30) if args.quick else (args.rounds, args.n)
    deadline = time.monotonic() + args.max_seconds
    logging.getLogger("oauth_middleware").setLevel(logging.ERROR)  # refusals log a warning each

    cases: dict[str, t.Callable[[], object]] = {}
    for alg in ("RS256", "ES256"):
        fake, validator = rig(alg)
        token = fake.id_token(nonce=NONCE, access_token=ACCESS_TOKEN)
        key = fake.signing_key(alg).private.public_key()
        cases["%s validate (warm caches)" % alg] = lambda v=validator, tok=token: v.validate(
            tok, nonce=NONCE, access_token=ACCESS_TOKEN
        )
        cases["%s jwt.decode signature only" % alg] = lambda tok=token, k=key, a=alg: jwt.decode(
            tok, k, algorithms=[a], options={"verify_aud": False, "verify_exp": False, "verify_iat": False}
        )
        if alg == "RS256":
            huge = fake.hostile_token("huge", nonce=NONCE)
            forged = fake.hostile_token("unknown_kid", nonce=NONCE)
            cases["refuse 1 MB token"] = refused(
                lambda v=validator, tok=huge: v.validate(tok, nonce=NONCE, access_token=None)
            )
            cases["refuse unknown kid (no refetch)"] = refused(
                lambda v=validator, tok=forged: v.validate(tok, nonce=NONCE, access_token=None)
            )

    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):  # interleaved, so a noisy moment hits every case alike
        if time.monotonic() > deadline:
            break
        for name, call in cases.items():
            samples[name].append(cpu_us(call, n))

    print("# id_token validation CPU cost\n")
    print(
        "Python %s, PyJWT %s, cryptography %s, %s; %d rounds x %d calls"
        % (platform.python_version(), jwt.__version__, cryptography.__version__, platform.machine(), rounds, n)
    )
    print("\n| case | us CPU per call (median) | min-max |")
    print("|---|---:|---:|")
    for name, values in samples.items():
        if values:
            print("| %s | %.1f | %.1f-%.1f |" % (name, statistics.median(values), min(values), max(values)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
