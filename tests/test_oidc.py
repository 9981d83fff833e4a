"""The OpenID Connect core: discovery, JWKS cache, id_token validation, identity mapping.

Everything runs against :class:`~oauth_middleware.testing.FakeOIDC` mounted in-process; the
real provider (panva's oidc-provider) is in test_oidc_provider.py.
"""

from __future__ import annotations

import json
import logging
import pathlib
import socket
import subprocess
import sys
import threading
import time
import typing as t

import pytest
import requests

from oauth_middleware.errors import ConfigurationError, ProviderError
from oauth_middleware.oidc import (
    Discovery,
    DiscoveryError,
    IdentityError,
    IdentityMapper,
    IdTokenValidator,
    JWKSCache,
    KeySetError,
    OIDCError,
    merge_userinfo,
    token_hash,
    verified_email,
)
from oauth_middleware.testing import FakeOIDC, WSGITransportAdapter
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


# -- discovery (OIDC-1) ----------------------------------------------------------------------------


def test_discovery_finds_the_endpoints_and_caches_them(setup: Setup) -> None:
    before = setup.fake.requests.get("discovery", 0)
    metadata = setup.discovery.get()
    assert metadata.token_endpoint == setup.fake.issuer + "/token"
    assert metadata.jwks_uri == setup.fake.issuer + "/jwks"
    assert metadata.userinfo_endpoint == setup.fake.issuer + "/userinfo"
    assert metadata.code_challenge_methods_supported == ("S256",)
    assert setup.discovery.get() is metadata
    assert setup.fake.requests["discovery"] == before + 1
    setup.mono.now += 3601  # max_age passed: fetched again
    setup.discovery.get()
    assert setup.fake.requests["discovery"] == before + 2


@pytest.mark.parametrize(
    "issuer_in_document",
    [
        pytest.param("https://oidc.fake.test/", id="trailing-slash"),
        pytest.param("https://OIDC.fake.test", id="case"),
        pytest.param("https://evil.example", id="another-host"),
        pytest.param("http://oidc.fake.test", id="http"),
        pytest.param(None, id="missing"),
    ],
)
def test_discovery_issuer_must_equal_the_configured_one_exactly(setup: Setup, issuer_in_document: str | None) -> None:
    setup.fake.discovery_overrides["issuer"] = issuer_in_document or None
    with pytest.raises(DiscoveryError, match="another issuer"):
        setup.discovery.get()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("token_endpoint", None),
        ("authorization_endpoint", "http://oidc.fake.test/authorize"),
        ("jwks_uri", "javascript:alert(1)"),
        ("userinfo_endpoint", "http://oidc.fake.test/userinfo"),
        ("token_endpoint", ["https://oidc.fake.test/token"]),
    ],
)
def test_discovery_refuses_missing_or_insecure_endpoints(setup: Setup, field: str, value: object) -> None:
    setup.fake.discovery_overrides[field] = value
    if value is None:
        setup.fake.discovery_overrides[field] = None
    with pytest.raises(DiscoveryError, match=field):
        setup.discovery.get()


def _serve(app: t.Any, *, timeout: float = 5.0) -> tuple[Discovery, requests.Session]:
    http = requests.Session()
    http.mount("https://idp.test/", WSGITransportAdapter(app))
    return Discovery("https://idp.test", http=http, timeout=timeout), http


def _answer(body: bytes, status: str = "200 OK", content_type: str = "application/json") -> t.Any:
    def app(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
        start_response(status, [("Content-Type", content_type)])
        return [body]

    return app


@pytest.mark.parametrize(
    ("app", "message"),
    [
        pytest.param(_answer(b"<html>not json"), "not valid JSON", id="garbage"),
        pytest.param(_answer(b"[1, 2]"), "not a JSON object", id="a-list"),
        pytest.param(_answer(b'{"issuer": "' + b"x" * 70000 + b'"}'), "larger than", id="too-large"),
        pytest.param(_answer(b"{}", "500 Internal Server Error"), "HTTP 500", id="http-500"),
        pytest.param(_answer(b"{}", "302 Found"), "HTTP 302", id="redirect-not-followed"),
    ],
)
def test_discovery_failures_are_clear_errors(app: t.Any, message: str) -> None:
    discovery, _ = _serve(app)
    with pytest.raises(DiscoveryError, match=message) as info:
        discovery.get()
    assert info.value.status == 502


def test_discovery_configuration_errors_say_how_to_fix() -> None:
    with pytest.raises(ConfigurationError, match="allow_insecure_http"):
        Discovery("http://localhost:8080")
    assert Discovery("http://localhost:8080", allow_insecure_http=True).url == (
        "http://localhost:8080/.well-known/openid-configuration"
    )
    with pytest.raises(ConfigurationError, match="https://"):
        Discovery("accounts.google.com")
    # a path-style issuer keeps its path, without the trailing slash (Discovery 1.0 4.1)
    assert Discovery("https://idp.test/realms/x/").url == "https://idp.test/realms/x/.well-known/openid-configuration"


def test_a_dripping_provider_cannot_hold_a_fetch_past_its_time_bound() -> None:
    """A real socket answering headers, then one byte every 0.2 s, forever: the fetch gives up."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def drip() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(4096)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n")
            for _ in range(200):  # bounded: at most 40 s
                if stop.wait(0.2):
                    return
                try:
                    connection.sendall(b" ")
                except OSError:
                    return

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    discovery = Discovery("http://127.0.0.1:%d" % port, allow_insecure_http=True, timeout=1.0)
    started = time.monotonic()
    try:
        with pytest.raises(DiscoveryError, match="in time"):
            discovery.get()
        assert time.monotonic() - started < 10  # without the bound it would take the 40 s drip
    finally:
        stop.set()
        thread.join(5)
        listener.close()
        discovery.http.close()


# -- JWKS cache (OIDC-7) -----------------------------------------------------------------------------


class CountingSlowJWKS:
    """A JWKS endpoint that counts its requests and takes 0.2 s to answer."""

    def __init__(self, fake: FakeOIDC) -> None:
        self.fake = fake
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
        with self.lock:
            self.calls += 1
        time.sleep(0.2)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(self.fake.jwks()).encode()]


@pytest.mark.parametrize("refetch_interval", [60.0, 0.0])  # 0: coalescing alone, without the rate limit
def test_concurrent_misses_cause_one_fetch(fake: FakeOIDC, refetch_interval: float) -> None:
    endpoint = CountingSlowJWKS(fake)
    http = requests.Session()
    http.mount("https://keys.test/", WSGITransportAdapter(endpoint))
    keys = JWKSCache("https://keys.test/jwks", http=http, refetch_interval=refetch_interval)
    kid = fake.signing_key("RS256").kid
    results: list[object] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait(5)
        results.append(keys.get_key(kid, "RS256"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(results) == 8 and all(r is results[0] for r in results)
    assert endpoint.calls == 1 and keys.fetches == 1


def test_concurrent_unknown_kids_cause_one_refetch(fake: FakeOIDC) -> None:
    endpoint = CountingSlowJWKS(fake)
    http = requests.Session()
    http.mount("https://keys.test/", WSGITransportAdapter(endpoint))
    mono = Monotonic()
    keys = JWKSCache("https://keys.test/jwks", http=http, clock=mono)
    keys.get_key(fake.signing_key("RS256").kid, "RS256")
    mono.now += 61
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def worker(n: int) -> None:
        barrier.wait(5)
        try:
            keys.get_key("forged-%d" % n, "RS256")
        except OIDCError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert [e.reason for e in errors] == ["unknown_kid"] * 6  # type: ignore[attr-defined]
    assert endpoint.calls == 2  # the first load, then one refetch for all six forged kids


def test_unknown_kids_refetch_at_most_once_per_interval(setup: Setup) -> None:
    setup.warm()
    for _ in range(5):
        with pytest.raises(OIDCError, match="does not publish"):
            setup.validate(setup.fake.hostile_token("unknown_kid", nonce=NONCE))
    assert setup.keys.fetches == 1  # the cache is 0 s old: no refetch
    setup.mono.now += 60
    with pytest.raises(OIDCError, match="does not publish"):
        setup.validate(setup.fake.hostile_token("unknown_kid", nonce=NONCE))
    assert setup.keys.fetches == 2


def test_stale_keys_are_refreshed_and_kept_if_the_refresh_fails(setup: Setup) -> None:
    setup.warm()
    setup.mono.now += 3600
    setup.fake.jwks_mode = "down"
    setup.warm()  # refresh failed: the cached keys still verify
    assert setup.keys.fetches == 2
    setup.fake.jwks_mode = "ok"
    withdrawn = setup.fake.id_token(nonce=NONCE)  # signed with a key the provider is about to withdraw
    setup.validate(withdrawn)
    setup.fake.rotate_keys()
    setup.validate(withdrawn)  # the cache is fresh enough: the key is still trusted for now
    setup.mono.now += 3600
    with pytest.raises(OIDCError) as info:  # refreshed after max_age: a withdrawn key is no longer trusted
        setup.validate(withdrawn)
    assert info.value.reason == "unknown_kid"  # type: ignore[attr-defined]
    assert setup.keys.fetches == 3
    setup.warm()  # tokens signed with the new key verify with the refreshed set


def test_jwks_skips_private_symmetric_and_encryption_keys(fake: FakeOIDC) -> None:
    good = fake.signing_key("RS256").jwk
    document = {
        "keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            dict(good, kid="enc", use="enc"),
            dict(good, kid="private", d="AQAB"),
            {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
            "not an object",
            good,
        ]
    }
    http = requests.Session()
    http.mount("https://keys.test/", WSGITransportAdapter(_answer(json.dumps(document).encode())))
    keys = JWKSCache("https://keys.test/jwks", http=http)
    assert keys.get_key(good["kid"], "RS256") is not None
    for kid in ("hmac", "enc", "private", "broken"):
        with pytest.raises(OIDCError, match="does not publish"):
            keys.get_key(kid, "RS256")
    with pytest.raises(OIDCError, match="does not publish"):  # an RSA key never verifies ES256
        keys.get_key(good["kid"], "ES256")


@pytest.mark.parametrize(
    "body", [b'{"keys": []}', b'{"keys": "x"}', b"[]", b'{"keys": [{"kty": "oct", "k": "AA"}]}', b"\xff\xfe"]
)
def test_a_key_set_without_usable_keys_is_a_clear_error(body: bytes) -> None:
    http = requests.Session()
    http.mount("https://keys.test/", WSGITransportAdapter(_answer(body)))
    with pytest.raises(KeySetError) as info:
        JWKSCache("https://keys.test/jwks", http=http).get_key("k", "RS256")
    assert info.value.reason == "jwks_unavailable"


# -- validation details (OIDC-2, 3, 4, 6) ------------------------------------------------------------


def test_es256_tokens_verify_and_at_hash_uses_the_algorithms_hash(fake: FakeOIDC) -> None:
    es = FakeOIDC(signing_alg="ES256")
    s = Setup(es)
    token = es.id_token(nonce=NONCE, access_token=ACCESS_TOKEN)
    assert s.validate(token)["at_hash"] == token_hash(ACCESS_TOKEN, "ES256")
    assert token_hash("dNZX1hEZ9wBCzNL40Upu646bdzQA", "RS256") == "wfgvmE9VxjAudsl9lc6TqA"  # Core A.4 vector


def test_the_allow_list_comes_from_discovery_and_is_asymmetric_by_default(fake: FakeOIDC) -> None:
    fake.discovery_overrides["id_token_signing_alg_values_supported"] = ["RS256", "HS256", "none"]
    s = Setup(fake)
    assert s.validator.allowed_algorithms(s.discovery.get()) == {"RS256"}
    es_token = fake.sign(fake.claims_for(nonce=NONCE), alg="ES256")
    with pytest.raises(OIDCError) as info:
        s.validate(es_token)  # ES256 is not published here
    assert info.value.reason == "bad_alg"  # type: ignore[attr-defined]


def test_hmac_only_when_enabled_and_keyed_with_the_client_secret(fake: FakeOIDC) -> None:
    import jwt

    fake.discovery_overrides["id_token_signing_alg_values_supported"] = ["RS256", "HS256"]
    s = Setup(fake, allow_hmac=True, client_secret=fake.client_secret)
    claims = fake.claims_for(nonce=NONCE)
    assert s.validate(jwt.encode(claims, fake.client_secret, algorithm="HS256"))["sub"] == claims["sub"]
    with pytest.raises(OIDCError) as info:  # the public-key forgery fails the HMAC check too
        s.validate(fake.hostile_token("hs256_public_key", nonce=NONCE))
    assert info.value.reason == "bad_signature"  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError, match="client_secret"):
        Setup(fake, allow_hmac=True)
    with pytest.raises(ConfigurationError, match="allow_hmac"):
        Setup(fake, algorithms=["HS256"])
    with pytest.raises(ConfigurationError, match="none"):
        Setup(fake, algorithms=["RS256", "none"])


def test_leeway_is_60_seconds_on_exp_nbf_and_iat(fake: FakeOIDC) -> None:
    wall = [1_800_000_000.0]
    s = Setup(fake, clock=lambda: wall[0])
    claims = fake.claims_for(nonce=NONCE, iat=int(wall[0]) - 100, exp=int(wall[0]) - 59, nbf=int(wall[0]) + 59)
    assert s.validate(fake.sign(claims))["sub"]
    wall[0] += 2  # exp is now 61 s past
    with pytest.raises(OIDCError, match="expired"):
        s.validate(fake.sign(claims))
    future = fake.claims_for(nonce=NONCE, iat=int(wall[0]) + 61, exp=int(wall[0]) + 3600)
    with pytest.raises(OIDCError, match="future"):
        s.validate(fake.sign(future))
    bad_type = fake.claims_for(nonce=NONCE, exp="tomorrow")
    with pytest.raises(OIDCError, match="not a number"):
        s.validate(fake.sign(bad_type))


def test_several_audiences_pass_with_our_azp(setup: Setup) -> None:
    fake = setup.fake
    token = fake.id_token(nonce=NONCE, aud=[fake.client_id, "api"], azp=fake.client_id)
    assert setup.validate(token)["azp"] == fake.client_id


def test_refresh_tokens_without_nonce_and_tokens_without_at_hash_pass(setup: Setup) -> None:
    token = setup.fake.id_token()  # no nonce, no at_hash
    assert setup.validate(token, nonce=None, access_token=ACCESS_TOKEN)["sub"]
    with pytest.raises(OIDCError, match="nonce"):  # but a login always passes its nonce
        setup.validate(token)


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c.d", "e30.e30.", "!!!.e30.sig", 42, None])
def test_malformed_tokens_are_refused(setup: Setup, token: object) -> None:
    with pytest.raises(OIDCError) as info:
        setup.validator.validate(token, nonce=NONCE, access_token=None)
    assert info.value.reason in ("malformed", "bad_alg")  # type: ignore[attr-defined]


# -- PyJWT is optional -------------------------------------------------------------------------------


def test_the_package_imports_without_pyjwt_and_oidc_says_how_to_install_it() -> None:
    code = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "jwt" or name.startswith("jwt."):
            raise ImportError("blocked for the test")
sys.meta_path.insert(0, Block())
import oauth_middleware, oauth_middleware.oidc, oauth_middleware.testing
from oauth_middleware import ConfigurationError
try:
    oauth_middleware.oidc.IdTokenValidator(oauth_middleware.oidc.Discovery("https://idp.test"), client_id="c")
except ConfigurationError as exc:
    print("ERROR", exc)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "ERROR OpenID Connect support needs PyJWT" in result.stdout
    assert "pip install 'oauth-login-middleware[oidc]'" in result.stdout


# -- identity (OIDC-8) -------------------------------------------------------------------------------


def test_identity_uses_sub_as_the_stable_id_and_trusts_only_verified_emails(fake: FakeOIDC) -> None:
    alice = IdentityMapper(username_claim="email", groups_claim="groups").identity(fake.claims_for("alice"))
    assert (alice.user_id, alice.username, alice.email, alice.groups) == (
        "248289761001",
        "alice@example.com",
        "alice@example.com",
        ("staff", "admins"),
    )
    bob_claims = fake.claims_for("bob")  # email_verified: false
    assert verified_email(bob_claims) is None
    with pytest.raises(IdentityError):  # an unverified email never becomes the user name
        IdentityMapper(username_claim="email").identity(bob_claims)
    bob = IdentityMapper(groups_claim="groups").identity(bob_claims)
    assert (bob.username, bob.email, bob.groups) == ("bob", None, ("staff",))  # a single string is one group
    assert verified_email({"email": "c@x.org", "email_verified": "true"}) == "c@x.org"  # Cognito's string
    assert verified_email({"email": "c@x.org", "email_verified": "yes"}) is None


def test_identity_groups_from_nested_claims_and_missing_usernames() -> None:
    claims = {"sub": "u1", "preferred_username": "kc", "realm_access": {"roles": ["admin", 7, "admin", "ops"]}}
    assert IdentityMapper(groups_claim="realm_access.roles").identity(claims).groups == ("admin", "ops")
    assert IdentityMapper(groups_claim="nope").identity(claims).groups == ()
    with pytest.raises(IdentityError):  # no fallback to sub, which could equal someone's name
        IdentityMapper(username_claim="upn").identity(claims)
    with pytest.raises(IdentityError):
        IdentityMapper().identity({"preferred_username": "no-sub"})
    with pytest.raises(ConfigurationError, match="username_claim"):
        IdentityMapper(username_claim="")


def test_userinfo_about_another_subject_is_refused() -> None:
    claims = {"sub": "u1", "iss": "https://idp.test", "email": "old@x.org"}
    merged = merge_userinfo(claims, {"sub": "u1", "email": "new@x.org", "iss": "https://evil.example"})
    assert merged["email"] == "new@x.org" and merged["iss"] == "https://idp.test"
    with pytest.raises(IdentityError):
        merge_userinfo(claims, {"sub": "u2", "email": "victim@x.org"})


def test_the_validation_benchmark_runs_and_prints_its_table() -> None:
    """Smoke test of bench/oidc_validation.py: no timing is asserted."""
    root = pathlib.Path(__file__).parent.parent
    done = subprocess.run(
        [sys.executable, str(root / "bench" / "oidc_validation.py"), "--quick"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| RS256 validate (warm caches) |" in done.stdout and "| ES256 validate (warm caches) |" in done.stdout


def test_key_cache_and_validator_options_are_checked_at_construction(fake: FakeOIDC) -> None:
    with pytest.raises(ConfigurationError, match="https://"):
        JWKSCache("http://keys.test/jwks")
    with pytest.raises(ConfigurationError, match="refetch_interval"):
        JWKSCache("https://keys.test/jwks", refetch_interval=-1)
    with pytest.raises(ConfigurationError, match="max_age"):
        JWKSCache("https://keys.test/jwks", refetch_interval=600, max_age=60)
    with pytest.raises(ConfigurationError, match="leeway"):
        Setup(fake, leeway=3600)
    with pytest.raises(ConfigurationError, match="max_token_bytes"):
        Setup(fake, max_token_bytes=10)
    with pytest.raises(ConfigurationError, match="client_id"):
        IdTokenValidator(Discovery(fake.issuer), client_id="")
    with pytest.raises(ConfigurationError, match="timeout"):
        Discovery(fake.issuer, timeout=0)
