"""OpenID Connect through the middleware (issue 13): a full login against FakeOIDC in-process, the
hostile-token table at the callback (each a 4xx/502 and no session), identity and allow-lists,
refresh with rotating refresh tokens, and the presets' quirks."""

from __future__ import annotations

import html
import json
import logging
import typing as t
from urllib.parse import parse_qs, urlsplit

import pytest
import webtest
from webob import Request

from oauth_middleware import ConfigurationError, OAuthMiddleware
from oauth_middleware.oidc import GitLab as GitLabOIDC
from oauth_middleware.oidc import Google, Keycloak, MicrosoftEntra, Okta, OpenIDConnect
from oauth_middleware.oidc.provider import unverified_claims
from oauth_middleware.testing.fake_oidc import HOSTILE_KINDS, FakeOIDC

SECRET = "k" * 8 + "Zq3v9XwY2p7LmN4rT6sB1cD5fG8hJ0aE"
KEYS = ("REMOTE_USER", "oauth_middleware.user_id", "oauth_middleware.groups", "oauth_middleware.user")


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class TokenSwap:
    """FakeOIDC, with the id_token of its token answers replaced by ``make(nonce, access_token)``."""

    def __init__(self, fake: FakeOIDC) -> None:
        self.fake = fake
        self.make: t.Callable[[str | None, str], str | None] | None = None

    def __call__(self, environ: t.Any, start_response: t.Any) -> t.Iterable[bytes]:
        if Request(environ).path_info != "/token" or self.make is None:
            return self.fake(environ, start_response)
        response = Request(environ).get_response(self.fake)
        body = json.loads(response.body)
        if "id_token" in body:
            claims = unverified_claims(body["id_token"])
            replaced = self.make(claims.get("nonce"), body["access_token"])
            if replaced is None:
                del body["id_token"]
            else:
                body["id_token"] = replaced
            response.body = json.dumps(body).encode()
        return response(environ, start_response)


def _seen(environ: t.Any, start_response: t.Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({key: environ.get(key) for key in (*KEYS, "oauth_middleware.token")}).encode()]


class Harness:
    def __init__(self, provider: t.Any = None, *, fake: FakeOIDC | None = None, **options: t.Any) -> None:
        self.clock = Clock()
        self.fake = fake or FakeOIDC(auto_approve="alice")
        self.fake.clock = self.clock  # the provider's clock is the middleware's
        self.swap = TokenSwap(self.fake)
        self.provider = provider or OpenIDConnect(self.fake.issuer, groups_claim="groups")
        self.middleware = OAuthMiddleware(
            _seen,
            provider=self.provider,
            client_id=self.fake.client_id,
            client_secret=self.fake.client_secret,
            secret_key=SECRET,
            clock=self.clock,
            **options,
        )
        from oauth_middleware.testing import WSGITransportAdapter

        self.prefix = urlsplit(self.fake.base_url).path  # the fake's routes are below the issuer's path
        adapter = WSGITransportAdapter(self.swap, script_name=self.prefix)
        self.middleware.http.mount(self.fake.base_url + "/", adapter)
        self.app = webtest.TestApp(self.middleware, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "app.test"})
        self.browser = webtest.TestApp(self.fake)

    def start(self) -> dict[str, str]:
        """Start a login and consent at the fake: the callback's query."""
        location = self.app.get("/auth/login").headers["Location"]
        parts = urlsplit(location)
        assert location.startswith(self.fake.base_url + "/authorize?")
        back = self.browser.get(parts.path[len(self.prefix) :] + "?" + parts.query).headers["Location"]
        return {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}

    def callback(self, query: dict[str, str], status: int | str = 302) -> webtest.TestResponse:
        return self.app.get("/auth/callback", query, status=status)

    def login(self) -> dict[str, t.Any]:
        self.callback(self.start())
        return t.cast(dict[str, t.Any], self.app.get("/").json)


def test_a_full_login_through_the_middleware() -> None:
    harness = Harness()
    seen = harness.login()
    assert seen["REMOTE_USER"] == "alice"
    assert seen["oauth_middleware.user_id"] == "248289761001"  # sub
    assert seen["oauth_middleware.groups"] == ["staff", "admins"]
    assert seen["oauth_middleware.user"] == {
        "iss": harness.fake.issuer,
        "sub": "248289761001",
        "name": "Alice Example",
        "preferred_username": "alice",
        "email": "alice@example.com",
        "email_verified": True,
    }
    token = seen["oauth_middleware.token"]
    assert unverified_claims(token["id_token"])["sub"] == "248289761001"
    assert "refresh_token" not in token  # the middleware's alone
    assert token["scope"] == ["openid", "email", "profile"]  # not GitHub's default scopes


def test_the_authorization_request_carries_pkce_and_a_fresh_nonce_per_login() -> None:
    harness = Harness()
    queries = [parse_qs(urlsplit(harness.app.get("/auth/login").headers["Location"]).query) for _ in range(2)]
    for query in queries:
        assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
        assert len(query["nonce"][0]) >= 43 and query["scope"] == ["openid email profile"]
    assert queries[0]["nonce"] != queries[1]["nonce"]


def _no_session(harness: Harness, response: webtest.TestResponse) -> None:
    assert not any(
        name.startswith("oauth_session=") or name.startswith("__Host-oauth_session=")
        for name in response.headers.getall("Set-Cookie")
        if "Max-Age=0" not in name
    )
    assert harness.app.get("/").json["REMOTE_USER"] is None


#: Each hostile answer at the callback, and the status the browser gets.
HOSTILE = sorted(HOSTILE_KINDS)


@pytest.mark.parametrize("kind", HOSTILE)
def test_a_hostile_id_token_at_the_callback_makes_no_session(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    harness = Harness()
    harness.swap.make = lambda nonce, access_token: harness.fake.hostile_token(
        kind, nonce=nonce, access_token=access_token
    )
    query = harness.start()
    with caplog.at_level(logging.DEBUG, logger="oauth_middleware"):
        response = harness.callback(query, status="*")
    assert response.status_int == 502, response.text[:300]
    reason = html.unescape(response.text)
    assert "The id_token" in reason or "Single sign-on answered" in reason  # a clear reason
    assert query["code"] not in caplog.text and query["code"] not in response.text
    _no_session(harness, response)


def _replayed(harness: Harness) -> t.Callable[[str | None, str], str | None]:
    """An id_token of an earlier login (its nonce), presented to a new one."""
    old = harness.fake.id_token("alice", nonce="an-earlier-logins-nonce-0123456789abcdef")
    return lambda nonce, access_token: old


SETUPS: dict[str, t.Callable[[Harness], None]] = {
    "replayed_nonce": lambda h: setattr(h.swap, "make", _replayed(h)),
    "no_id_token": lambda h: setattr(h.swap, "make", lambda nonce, access_token: None),
    "jwks_down": lambda h: setattr(h.fake, "jwks_mode", "down"),
    "jwks_garbage": lambda h: setattr(h.fake, "jwks_mode", "garbage"),
}


@pytest.mark.parametrize("case", sorted(SETUPS))
def test_a_broken_provider_answer_at_the_callback_makes_no_session(case: str) -> None:
    harness = Harness()
    query = harness.start()
    SETUPS[case](harness)
    response = harness.callback(query, status=502)
    _no_session(harness, response)


def test_a_login_started_before_the_provider_had_nonces_is_refused() -> None:
    """A flow cookie without a nonce (written before the switch) cannot complete an OIDC login."""
    harness = Harness()
    query = harness.start()
    flows = harness.middleware.flows
    name = flows.cookie_name(query["state"], secure=True)
    flow, _ = flows.take(query["state"], {name: harness.app.cookies[name]}, secure=True)
    assert flow is not None
    import dataclasses

    _, header = flows.dump(dataclasses.replace(flow, nonce=None), secure=True)
    old_cookie = header.split(";")[0]
    harness.app.reset()
    response = harness.app.get("/auth/callback", query, headers={"Cookie": old_cookie}, status=502)
    assert "does not belong to this login (nonce)" in response.text
    _no_session(harness, response)


def test_the_nonce_is_single_use_with_its_flow() -> None:
    harness = Harness()
    query = harness.start()
    name = harness.middleware.flows.cookie_name(query["state"], secure=True)
    flow_cookie = harness.app.cookies[name]
    harness.callback(query)
    fresh = webtest.TestApp(harness.middleware, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "app.test"})
    fresh.set_cookie(name, flow_cookie)  # the same flow cookie (and so nonce) again
    response = fresh.get("/auth/callback", query, status=400)
    assert fresh.get("/").json["REMOTE_USER"] is None and "already used" in response.text


def test_keys_rotated_between_login_start_and_callback_still_log_in() -> None:
    harness = Harness()
    harness.login()  # the keys are cached now
    fetches = harness.fake.requests["jwks"]
    runtime = harness.provider.runtime(harness.middleware.client)
    keys = runtime.validator.keys(runtime.discovery.get())
    harness.app.reset()
    query = harness.start()
    harness.fake.rotate_keys()
    later = keys.clock() + 61  # past the refetch interval (an unknown kid refetches once a minute at most)
    keys.clock = lambda: later
    harness.callback(query)
    assert harness.app.get("/").json["REMOTE_USER"] == "alice"
    assert harness.fake.requests["jwks"] == fetches + 1  # one refetch for the unknown kid


def test_a_discovery_document_for_another_issuer_stops_the_login() -> None:
    harness = Harness()
    harness.fake.discovery_overrides["issuer"] = "https://evil.example"
    response = harness.app.get("/auth/login", status=502)
    assert "discovery document names another issuer than the configured one" in response.text


# -- identity and who may come in -----------------------------------------------------------------


def test_an_unverified_email_is_never_trusted() -> None:
    harness = Harness(fake=FakeOIDC(auto_approve="bob"), allowed_domains=["example.org"])
    response = harness.callback(harness.start(), status=403)  # bob@example.org, email_verified false
    assert "You are logged in to Single sign-on as bob" in response.text
    _no_session(harness, response)

    harness = Harness(
        OpenIDConnect("https://oidc.fake.test", username_claim="email"), fake=FakeOIDC(auto_approve="bob")
    )
    _no_session(harness, harness.callback(harness.start(), status=502))  # no verified email: no name


def test_allowed_domains_admit_a_verified_email() -> None:
    harness = Harness(allowed_domains=["example.com"])
    assert harness.login()["REMOTE_USER"] == "alice"
    assert harness.middleware.revalidate_after == 600  # an allow-list: re-checked


@pytest.mark.parametrize(("entry", "admitted"), [("248289761001", True), ("ALICE", True), ("248289761002", False)])
def test_allowed_users_match_the_sub_or_the_username(entry: str, admitted: bool) -> None:
    harness = Harness(allowed_users=[entry])
    harness.callback(harness.start(), status=302 if admitted else 403)


def test_allowed_groups_are_rechecked_when_a_refresh_brings_new_claims() -> None:
    harness = Harness(allowed_groups=["admins"])
    assert harness.login()["REMOTE_USER"] == "alice"
    session_cookie = harness.app.cookies["__Host-oauth_session"]
    old_refresh = harness.middleware.sessions.load(
        {"__Host-oauth_session": session_cookie}, secure=True, now=harness.clock()
    )
    assert old_refresh is not None
    refresh_token = old_refresh.session.token["refresh_token"]

    harness.clock.now += 3600  # the access token expires: refreshed on the next request
    seen = harness.app.get("/").json
    assert seen["REMOTE_USER"] == "alice"
    renewed = harness.middleware.sessions.load(
        {"__Host-oauth_session": harness.app.cookies["__Host-oauth_session"]}, secure=True, now=harness.clock()
    )
    assert renewed is not None and renewed.session.token["refresh_token"] != refresh_token  # rotated
    assert unverified_claims(renewed.session.token["id_token"])["iat"] == int(harness.clock.now)

    harness.fake.users["alice"]["groups"] = ["staff"]  # removed from admins at the provider
    harness.clock.now += 3600
    response = harness.app.get("/", headers={"Accept": "text/html"}, status=403)
    assert "not allowed" in response.text
    assert harness.app.get("/").json["REMOTE_USER"] is None


def test_userinfo_completes_the_claims_when_configured() -> None:
    fake = FakeOIDC(auto_approve="alice")
    fake.users["alice"]["locale"] = "en-GB"  # only in userinfo: the fake's id_tokens leave it out
    harness = Harness(OpenIDConnect(fake.issuer, userinfo=True), fake=fake)
    seen = harness.login()
    assert seen["oauth_middleware.user"]["locale"] == "en-GB"
    assert fake.requests["userinfo"] == 1


# -- presets --------------------------------------------------------------------------------------


def test_google_accepts_its_old_issuer_spelling_and_admits_by_hosted_domain() -> None:
    fake = FakeOIDC("https://accounts.google.com", auto_approve="bob")
    harness = Harness(Google(), fake=fake, allowed_domains=["corp.example"])
    harness.swap.make = lambda nonce, access_token: fake.id_token(
        "bob",
        nonce=nonce,
        access_token=access_token,
        iss="accounts.google.com",
        hd="corp.example",
        email="bob@corp.example",
        email_verified=True,
    )
    seen = harness.login()
    assert seen["REMOTE_USER"] == "bob@corp.example"  # Google: the verified email
    harness = Harness(Google(), fake=FakeOIDC("https://accounts.google.com", auto_approve="bob"))
    page = harness.callback(harness.start(), status=502)  # bob's email is unverified: no name
    assert "identity provider did not say who you are" in page.text


def test_presets_spell_their_issuers() -> None:
    assert GitLabOIDC().issuer == "https://gitlab.com"
    assert GitLabOIDC("https://gitlab.example.com/").issuer == "https://gitlab.example.com"
    assert Keycloak("https://sso.example.com", "staff").issuer == "https://sso.example.com/realms/staff"
    assert Okta("example.okta.com").issuer == "https://example.okta.com"
    assert Okta("example.okta.com", authorization_server="default").issuer == "https://example.okta.com/oauth2/default"
    entra = MicrosoftEntra("contoso.onmicrosoft.com")
    assert entra.issuer == "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0"
    assert (Google().display_name, entra.display_name, Keycloak("https://k.test", "r").mapper.groups_claim) == (
        "Google",
        "Microsoft",
        "realm_access.roles",
    )


@pytest.mark.parametrize("tenant", ["common", "organizations", "consumers"])
def test_entra_refuses_a_multi_tenant_authority_without_a_tenant_list(tenant: str) -> None:
    with pytest.raises(ConfigurationError, match="any tenant: pass tenants="):
        MicrosoftEntra(tenant)
    with pytest.raises(ConfigurationError, match="only for a multi-tenant authority"):
        MicrosoftEntra("contoso.onmicrosoft.com", tenants=["x"])


ALLOWED_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


@pytest.mark.parametrize(("tid", "status"), [(ALLOWED_TENANT, 302), ("0d5a6a3c-0000-4000-8000-00000000beef", 502)])
def test_entra_multi_tenant_admits_only_the_listed_tenants(tid: str, status: int) -> None:
    fake = FakeOIDC("https://login.microsoftonline.com/organizations/v2.0", auto_approve="alice")
    fake.discovery_overrides["issuer"] = "https://login.microsoftonline.com/{tenantid}/v2.0"
    harness = Harness(MicrosoftEntra("organizations", tenants=[ALLOWED_TENANT]), fake=fake)
    issuer = "https://login.microsoftonline.com/%s/v2.0" % tid
    harness.swap.make = lambda nonce, access_token: fake.id_token(
        "alice", nonce=nonce, access_token=access_token, iss=issuer, tid=tid
    )
    response = harness.callback(harness.start(), status=status)
    if status == 502:
        assert "issued by another issuer" in html.unescape(response.text)
        _no_session(harness, response)
    else:
        assert harness.app.get("/").json["REMOTE_USER"] == "alice"


def test_entra_multi_tenant_refuses_a_token_claiming_another_tenants_issuer() -> None:
    """tid on the list, but iss of another tenant: refused (both must agree)."""
    fake = FakeOIDC("https://login.microsoftonline.com/organizations/v2.0", auto_approve="alice")
    fake.discovery_overrides["issuer"] = "https://login.microsoftonline.com/{tenantid}/v2.0"
    harness = Harness(MicrosoftEntra("organizations", tenants=[ALLOWED_TENANT]), fake=fake)
    harness.swap.make = lambda nonce, access_token: fake.id_token(
        "alice",
        nonce=nonce,
        access_token=access_token,
        iss="https://login.microsoftonline.com/other/v2.0",
        tid=ALLOWED_TENANT,
    )
    _no_session(harness, harness.callback(harness.start(), status=502))


def test_allowed_domains_need_a_provider_that_verifies_emails() -> None:
    with pytest.raises(ConfigurationError, match="allowed_domains needs a provider that vouches") as caught:
        OAuthMiddleware(_seen, client_id="x", client_secret="y" * 20, secret_key=SECRET, allowed_domains=["a.com"])
    assert caught.value.option == "allowed_domains"


def test_the_login_benchmark_runs() -> None:
    """Smoke test of bench/oidc_login.py (no timing is asserted)."""
    import pathlib
    import subprocess
    import sys

    root = pathlib.Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, str(root / "bench" / "oidc_login.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=root,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| OpenID Connect |" in done.stdout and "| GitHub |" in done.stdout
