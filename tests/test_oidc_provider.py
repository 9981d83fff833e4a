"""Interoperability with a real OpenID Certified provider: panva's oidc-provider (npm, pinned in
tests/oidc_provider/package.json and package-lock.json), run with Node on 127.0.0.1.

A plain requests.Session plays the browser (authorize, the provider's login and consent forms);
our Discovery, IdTokenValidator and IdentityMapper do the client's side with the provider's real
keys. Skipped, saying why, only when node/npm are missing or the npm registry cannot be reached.
"""

from __future__ import annotations

import base64
import hashlib
import pathlib
import secrets
import shutil
import subprocess
import typing as t
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import jwt
import pytest
import requests

from oauth_middleware.oidc import Discovery, IdentityMapper, IdTokenValidator, JWKSCache, merge_userinfo
from tests.support import oidc_provider as harness
from tests.support.oidc_provider import CLIENT_ID, CLIENT_SECRET, MAX_HOPS, REDIRECT_URI, TIMEOUT
from tests.support.servers import Server, http_session

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Server]:
    yield from harness.start(tmp_path_factory)


class Client:
    """Our side: discovery, validator and mapper on the provider's real metadata and keys."""

    def __init__(self, issuer: str) -> None:
        self.http = http_session()
        self.mono = [1000.0]
        self.discovery = Discovery(issuer, http=self.http, allow_insecure_http=True, timeout=TIMEOUT)
        self.keys = JWKSCache(
            self.discovery.get().jwks_uri, http=self.http, allow_insecure_http=True, clock=lambda: self.mono[0]
        )
        self.validator = IdTokenValidator(self.discovery, client_id=CLIENT_ID, keys=self.keys)
        self.mapper = IdentityMapper(groups_claim="groups")

    def token(self, **data: str) -> dict[str, t.Any]:
        metadata = self.discovery.get()
        response = self.http.post(metadata.token_endpoint, data=data, auth=(CLIENT_ID, CLIENT_SECRET), timeout=TIMEOUT)
        return t.cast(dict[str, t.Any], response.json())

    def redeem(self, code: str, verifier: str) -> dict[str, t.Any]:
        return self.token(grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI, code_verifier=verifier)


def browser_login(client: Client, *, nonce: str, verifier: str, user: str = "alice") -> dict[str, str]:
    """Drive authorize, the login form and the consent form; return the callback's parameters."""
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(16)
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid email profile groups",
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    with http_session() as browser:
        return _follow(browser, client, params, state, user)


def _follow(browser: requests.Session, client: Client, params: dict[str, str], state: str, user: str) -> dict[str, str]:
    url = client.discovery.get().authorization_endpoint + "?" + urlencode(params)
    response = browser.get(url, allow_redirects=False, timeout=TIMEOUT)
    for _ in range(MAX_HOPS):
        if response.is_redirect:
            location = urljoin(response.url, response.headers["Location"])
            if location.startswith(REDIRECT_URI):
                query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
                assert query.get("state") == state, query
                return query
            response = browser.get(location, allow_redirects=False, timeout=TIMEOUT)
            continue
        assert response.status_code == 200, (response.status_code, response.text[:500])
        action, fields = harness.first_form(response.text, response.url)
        if fields.get("prompt") == "login":
            fields.update(login=user, password="any password")
        response = browser.post(action, data=fields, allow_redirects=False, timeout=TIMEOUT)
    raise AssertionError("login did not come back to the redirect URI in %d hops" % MAX_HOPS)


@pytest.fixture
def client(provider: Server) -> t.Iterator[Client]:
    client = Client(provider.url)
    yield client
    client.http.close()


def test_login_userinfo_and_refresh_with_oidc_provider(provider: Server, client: Client) -> None:
    metadata = client.discovery.get()
    assert metadata.issuer == provider.url and "S256" in metadata.code_challenge_methods_supported
    nonce, verifier = secrets.token_urlsafe(16), secrets.token_urlsafe(48)
    back = browser_login(client, nonce=nonce, verifier=verifier)
    assert back["iss"] == provider.url  # RFC 9207, which oidc-provider sends
    exchange = {"grant_type": "authorization_code", "code": back["code"], "redirect_uri": REDIRECT_URI}
    assert client.token(**exchange, code_verifier=secrets.token_urlsafe(48))["error"] == "invalid_grant"  # PKCE
    back = browser_login(client, nonce=nonce, verifier=verifier)
    exchange["code"] = back["code"]
    token = client.token(**exchange, code_verifier=verifier)
    claims = client.validator.validate(token["id_token"], nonce=nonce, access_token=token["access_token"])
    assert claims["sub"] == "alice" and claims["aud"] == CLIENT_ID and claims["nonce"] == nonce
    with pytest.raises(Exception, match="nonce"):  # another login's nonce
        client.validator.validate(token["id_token"], nonce="other", access_token=token["access_token"])

    userinfo = client.http.get(
        metadata.userinfo_endpoint or "", headers={"Authorization": "Bearer " + token["access_token"]}, timeout=TIMEOUT
    ).json()
    identity = client.mapper.identity(merge_userinfo(claims, userinfo))
    assert (identity.user_id, identity.username, identity.email, identity.groups) == (
        "alice",
        "alice",
        "alice@example.com",
        ("staff", "admins"),
    )

    refreshed = client.token(grant_type="refresh_token", refresh_token=token["refresh_token"])
    assert refreshed["refresh_token"] != token["refresh_token"]  # rotated
    again = client.validator.validate(refreshed["id_token"], nonce=None, access_token=refreshed["access_token"])
    assert again["sub"] == claims["sub"]
    assert client.token(grant_type="refresh_token", refresh_token=token["refresh_token"])["error"] == "invalid_grant"

    # the code is single use; redeeming it again also revokes what it gave (RFC 6749 4.1.2)
    assert client.token(**exchange, code_verifier=verifier)["error"] == "invalid_grant"
    after = client.token(grant_type="refresh_token", refresh_token=refreshed["refresh_token"])
    assert after.get("error") == "invalid_grant"


def test_keys_rotated_between_login_start_and_callback(provider: Server, client: Client) -> None:
    nonce, verifier = secrets.token_urlsafe(16), secrets.token_urlsafe(48)
    first = browser_login(client, nonce=nonce, verifier=verifier)
    token = client.token(
        grant_type="authorization_code", code=first["code"], redirect_uri=REDIRECT_URI, code_verifier=verifier
    )
    client.validator.validate(token["id_token"], nonce=nonce, access_token=token["access_token"])
    assert client.keys.fetches == 1
    back = browser_login(client, nonce=nonce, verifier=verifier)  # login started, code issued ...
    rotated = requests.post(provider.url + "/test-admin/rotate-keys", timeout=TIMEOUT).json()
    client.mono[0] += 61  # ... and the callback comes after the refetch interval
    token = client.token(
        grant_type="authorization_code", code=back["code"], redirect_uri=REDIRECT_URI, code_verifier=verifier
    )
    header = jwt.get_unverified_header(token["id_token"])
    assert header["kid"] == rotated["kids"][0]  # signed with the new key, unknown to our cache
    claims = client.validator.validate(token["id_token"], nonce=nonce, access_token=token["access_token"])
    assert claims["sub"] == "alice"
    assert client.keys.fetches == 2  # exactly one refetch


def test_the_harness_skips_only_for_missing_node_or_an_unreachable_registry(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    monkeypatch.setattr(harness, "INSTALL", tmp_path)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(pytest.skip.Exception, match="node/npm are not installed"):
        harness.install()
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/" + name)
    for stderr, outcome in (
        ("npm error code ENOTFOUND\nnpm error request to https://registry.npmjs.org failed", pytest.skip.Exception),
        ("npm error code EUSAGE\nnpm error The package-lock.json is out of sync", pytest.fail.Exception),
    ):
        failed = subprocess.CompletedProcess(["npm"], 1, stdout="", stderr=stderr)
        monkeypatch.setattr(subprocess, "run", lambda *args, failed=failed, **kwargs: failed)
        with pytest.raises(outcome):
            harness.install()
