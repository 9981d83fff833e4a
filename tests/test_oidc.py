"""The OpenID Connect core: discovery, JWKS cache, id_token validation, identity mapping.

Everything runs against :class:`~oauth_middleware.testing.FakeOIDC` mounted in-process; the
real provider (panva's oidc-provider) is in test_oidc_provider.py.
"""

from __future__ import annotations

import logging
import typing as t

import pytest
import requests

from oauth_middleware.errors import ProviderError
from oauth_middleware.oidc import (
    Discovery,
    IdTokenValidator,
    JWKSCache,
    OIDCError,
)
from oauth_middleware.testing import FakeOIDC
from oauth_middleware.testing.fake_oidc import HOSTILE_KINDS

NONCE = "n-0S6_WzA2Mj-this-login"
ACCESS_TOKEN = "SlAV32hkKG-access-token"


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def shared_fake() -> FakeOIDC:
    return FakeOIDC()  # RSA key generation is the slow part: one fake per module


@pytest.fixture
def fake(shared_fake: FakeOIDC) -> t.Iterator[FakeOIDC]:
    yield shared_fake
    shared_fake.jwks_mode = "ok"
    shared_fake.discovery_overrides.clear()


class Setup:
    def __init__(self, fake: FakeOIDC, **options: t.Any) -> None:
        self.fake = fake
        self.http = requests.Session()
        fake.mount(self.http)
        self.mono = Monotonic()
        self.discovery = Discovery(fake.issuer, http=self.http, clock=self.mono)
        self.keys = JWKSCache(fake.issuer + "/jwks", http=self.http, clock=self.mono)
        self.validator = IdTokenValidator(self.discovery, client_id=fake.client_id, keys=self.keys, **options)

    def validate(
        self, token: str, nonce: str | None = NONCE, access_token: str | None = ACCESS_TOKEN
    ) -> dict[str, t.Any]:
        return self.validator.validate(token, nonce=nonce, access_token=access_token)

    def warm(self) -> None:
        """One successful validation: discovery and keys cached."""
        self.validate(self.fake.id_token(nonce=NONCE, access_token=ACCESS_TOKEN))


@pytest.fixture
def setup(fake: FakeOIDC) -> Setup:
    return Setup(fake)


# -- the hostile-token table (OIDC-10) -------------------------------------------------------------


TABLE_KINDS: set[str] = set()


def _token(kind: str) -> t.Callable[[Setup], str]:
    TABLE_KINDS.add(kind)
    return lambda s: s.fake.hostile_token(kind, nonce=NONCE, access_token=ACCESS_TOKEN)


def _valid(s: Setup) -> str:
    return s.fake.id_token(nonce=NONCE, access_token=ACCESS_TOKEN)


def _jwks(mode: str) -> t.Callable[[Setup], str]:
    def make(s: Setup) -> str:
        s.fake.jwks_mode = mode
        return _valid(s)

    return make


TABLE_KINDS.add("unknown_kid")


def _unknown_kid_after_interval(s: Setup) -> str:
    s.warm()
    s.mono.now += 61  # past the refetch interval: one refetch is allowed, and finds nothing
    return s.fake.hostile_token("unknown_kid", nonce=NONCE, access_token=ACCESS_TOKEN)


def _rotated_during_login(s: Setup) -> str:
    s.warm()  # keys cached when the login starts
    s.fake.rotate_keys()  # the provider rotates before the callback: the new kid is unknown to us
    s.mono.now += 61
    return _valid(s)


HOSTILE = [
    pytest.param(_valid, None, 1, id="valid-token-passes"),
    pytest.param(_token("alg_none"), "bad_alg", 0, id="alg-none"),
    pytest.param(_token("hs256_public_key"), "bad_alg", 0, id="hs256-signed-with-public-key"),
    pytest.param(_unknown_kid_after_interval, "unknown_kid", 2, id="unknown-kid-refetch-once-then-refuse"),
    pytest.param(_token("bad_signature"), "bad_signature", 1, id="bad-signature"),
    pytest.param(_token("expired"), "expired", 1, id="expired"),
    pytest.param(_token("not_yet_valid"), "not_yet_valid", 1, id="not-yet-valid"),
    pytest.param(_token("iat_future"), "iat_future", 1, id="far-future-iat"),
    pytest.param(_token("wrong_aud"), "bad_aud", 1, id="wrong-aud"),
    pytest.param(_token("extra_aud_no_azp"), "bad_azp", 1, id="extra-audience-without-azp"),
    pytest.param(_token("wrong_azp"), "bad_azp", 1, id="azp-another-client"),
    pytest.param(_token("wrong_iss"), "bad_iss", 1, id="wrong-iss"),
    pytest.param(_token("missing_nonce"), "bad_nonce", 1, id="missing-nonce"),
    pytest.param(_token("wrong_nonce"), "bad_nonce", 1, id="wrong-nonce"),
    pytest.param(_token("bad_at_hash"), "bad_at_hash", 1, id="bad-at-hash"),
    pytest.param(_token("missing_sub"), "missing_claim", 1, id="missing-sub"),
    pytest.param(_token("jwe"), "encrypted", 0, id="jwe-instead-of-jws"),
    pytest.param(_token("huge"), "too_large", 0, id="1mb-token"),
    pytest.param(_jwks("down"), "jwks_unavailable", 1, id="jwks-endpoint-down"),
    pytest.param(_jwks("garbage"), "jwks_unavailable", 1, id="jwks-serving-garbage"),
    pytest.param(_rotated_during_login, None, 2, id="keys-rotated-between-login-start-and-callback"),
]


@pytest.mark.parametrize(("make_token", "reason", "jwks_fetches"), HOSTILE)
def test_hostile_id_tokens(
    setup: Setup,
    caplog: pytest.LogCaptureFixture,
    make_token: t.Callable[[Setup], str],
    reason: str | None,
    jwks_fetches: int,
) -> None:
    caplog.set_level(logging.DEBUG, logger="oauth_middleware")
    token = make_token(setup)
    if reason is None:
        claims = setup.validate(token)
        assert claims["sub"] == setup.fake.users["alice"]["sub"] and claims["nonce"] == NONCE
    else:
        with pytest.raises(OIDCError) as info:
            setup.validate(token)
        error = info.value
        assert error.reason == reason
        assert isinstance(error, ProviderError) and error.status == 502
        # no part of the token leaks into the error or the logs
        for part in filter(None, token.split(".")):
            assert part[:40] not in str(error) and part[:40] not in error.description
            assert part[:40] not in caplog.text
        if reason == "unknown_kid":  # a second attempt in the same interval causes no fetch
            with pytest.raises(OIDCError, match="does not publish"):
                setup.validate(token)
    assert setup.keys.fetches == jwks_fetches


def test_hostile_table_uses_every_kind_the_factory_makes() -> None:
    assert set(HOSTILE_KINDS) == TABLE_KINDS
