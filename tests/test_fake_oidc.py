"""FakeOIDC behaves like an OpenID Provider: PKCE S256, single-use codes, rotating refresh
tokens, userinfo, consent page, key rotation."""

from __future__ import annotations

import base64
import hashlib
import secrets
import typing as t
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import webtest

from oauth_middleware.oidc import Discovery, IdTokenValidator
from oauth_middleware.testing import FakeOIDC

REDIRECT_URI = "https://app.example.com/auth/callback"


@pytest.fixture(scope="module")
def fake() -> FakeOIDC:
    return FakeOIDC(auto_approve="alice", redirect_uris=[REDIRECT_URI])


@pytest.fixture
def http(fake: FakeOIDC) -> requests.Session:
    session = requests.Session()
    fake.mount(session)
    return session


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(http: requests.Session, fake: FakeOIDC, challenge: str, **extra: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": fake.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid email",
        "state": "st",
        "nonce": "nonce-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    response = http.get(fake.issuer + "/authorize", params=params, allow_redirects=False)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def token(http: requests.Session, fake: FakeOIDC, **data: str) -> requests.Response:
    return http.post(fake.issuer + "/token", data=data, auth=(fake.client_id, fake.client_secret))


def test_code_flow_with_pkce_single_use_code_refresh_rotation_and_userinfo(
    fake: FakeOIDC, http: requests.Session
) -> None:
    verifier, challenge = pkce()
    back = authorize(http, fake, challenge)
    assert back["state"] == "st" and back["iss"] == fake.issuer
    exchange = {"grant_type": "authorization_code", "code": back["code"], "redirect_uri": REDIRECT_URI}
    assert token(http, fake, **exchange, code_verifier="wrong" * 10).json()["error"] == "invalid_grant"
    back = authorize(http, fake, challenge)  # the failed attempt consumed that code
    exchange["code"] = back["code"]
    answer = token(http, fake, **exchange, code_verifier=verifier).json()
    assert token(http, fake, **exchange, code_verifier=verifier).json()["error"] == "invalid_grant"  # single use
    validator = IdTokenValidator(Discovery(fake.issuer, http=http), client_id=fake.client_id)
    claims = validator.validate(answer["id_token"], nonce="nonce-1", access_token=answer["access_token"])
    assert claims["sub"] == fake.users["alice"]["sub"]
    userinfo = http.get(fake.issuer + "/userinfo", headers={"Authorization": "Bearer " + answer["access_token"]})
    assert userinfo.json()["email"] == "alice@example.com"
    assert http.get(fake.issuer + "/userinfo", headers={"Authorization": "Bearer nope"}).status_code == 401
    refreshed = token(http, fake, grant_type="refresh_token", refresh_token=answer["refresh_token"]).json()
    assert refreshed["refresh_token"] != answer["refresh_token"]
    assert "nonce" not in validator.validate(refreshed["id_token"], nonce=None, access_token=refreshed["access_token"])
    reused = token(http, fake, grant_type="refresh_token", refresh_token=answer["refresh_token"]).json()
    assert reused["error"] == "invalid_grant"  # rotated: the old refresh token is spent


@pytest.mark.parametrize("change", [{"code_challenge_method": "plain"}, {"scope": "email"}, {"response_type": "token"}])
def test_authorize_requires_s256_openid_and_the_code_flow(
    fake: FakeOIDC, http: requests.Session, change: dict[str, str]
) -> None:
    _, challenge = pkce()
    assert authorize(http, fake, challenge, **change)["error"] == "invalid_request"


def test_consent_page_and_key_rotation() -> None:
    fake = FakeOIDC(redirect_uris=[REDIRECT_URI])
    app = webtest.TestApp(fake)
    _, challenge = pkce()
    page = app.get(
        "/authorize",
        {
            "response_type": "code",
            "client_id": fake.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid",
            "state": "s<script>",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    assert "s&lt;script&gt;" in page.text and "<script>" not in page.text
    form = page.forms[0]
    form["user"] = "bob"
    approved = form.submit("decision", value="approve", status=302)
    assert "code=" in approved.headers["Location"]
    denied = page.forms[0].submit("decision", value="deny", status=302)
    assert "error=access_denied" in denied.headers["Location"]
    old = {key["kid"] for key in fake.jwks()["keys"]}
    fake.rotate_keys(keep_old=True)
    assert old < {key["kid"] for key in fake.jwks()["keys"]}
    fake.rotate_keys()
    assert not old & {key["kid"] for key in fake.jwks()["keys"]}
    assert {key["kty"] for key in fake.jwks()["keys"]} == {"RSA", "EC"}


def test_every_hostile_kind_is_made(fake: FakeOIDC) -> None:
    from oauth_middleware.testing.fake_oidc import HOSTILE_KINDS

    tokens: dict[str, t.Any] = {kind: fake.hostile_token(kind, nonce="n", access_token="a") for kind in HOSTILE_KINDS}
    assert tokens["jwe"].count(".") == 4 and len(tokens["huge"]) > 1_000_000
    with pytest.raises(ValueError, match="one of"):
        fake.hostile_token("nonsense")
