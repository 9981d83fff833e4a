"""OpenID Connect configured from the environment, PasteDeploy and ``oauth-middleware check``."""

from __future__ import annotations

import typing as t

import pytest

from oauth_middleware import ConfigurationError, OAuthMiddleware, cli, paste
from oauth_middleware.oidc import GitLab, Google, Keycloak, MicrosoftEntra, Okta, OpenIDConnect
from oauth_middleware.providers import GitHubProvider
from oauth_middleware.testing.fake_oidc import FakeOIDC

SECRET = "k" * 8 + "Zq3v9XwY2p7LmN4rT6sB1cD5fG8hJ0aE"
BASE = {
    "GITHUB_OAUTH_CLIENT_ID": "client",
    "GITHUB_OAUTH_CLIENT_SECRET": "client-secret-0123456789",
    "OAUTH_MIDDLEWARE_SECRET_KEY": SECRET,
}


def _app(environ: t.Any, start_response: t.Any) -> list[bytes]:
    start_response("200 OK", [])
    return [b""]


def from_env(**variables: str) -> OAuthMiddleware:
    return OAuthMiddleware.from_env(_app, {**BASE, **{"OAUTH_MIDDLEWARE_" + k: v for k, v in variables.items()}})


@pytest.mark.parametrize(
    ("variables", "kind", "issuer"),
    [
        ({"PROVIDER": "google"}, Google, "https://accounts.google.com"),
        ({"PROVIDER": "gitlab"}, GitLab, "https://gitlab.com"),
        ({"PROVIDER": "gitlab", "OIDC_ISSUER": "https://git.example.com"}, GitLab, "https://git.example.com"),
        (
            {"PROVIDER": "entra", "OIDC_ISSUER": "https://login.microsoftonline.com/contoso.example/v2.0"},
            MicrosoftEntra,
            "https://login.microsoftonline.com/contoso.example/v2.0",
        ),
        (
            {"PROVIDER": "keycloak", "OIDC_ISSUER": "https://sso.example.com/auth/realms/staff"},
            Keycloak,
            "https://sso.example.com/auth/realms/staff",
        ),
        ({"PROVIDER": "okta", "OIDC_ISSUER": "https://example.okta.com"}, Okta, "https://example.okta.com"),
        ({"PROVIDER": "OIDC", "OIDC_ISSUER": "https://id.example.com/"}, OpenIDConnect, "https://id.example.com/"),
    ],
)
def test_the_provider_variable_names_a_preset(variables: dict[str, str], kind: type, issuer: str) -> None:
    middleware = from_env(**variables)
    assert type(middleware.provider) is kind and middleware.provider.issuer == issuer  # type: ignore[attr-defined]
    assert middleware.scope[0] == "openid"


def test_claims_and_userinfo_come_from_variables() -> None:
    middleware = from_env(
        PROVIDER="oidc",
        OIDC_ISSUER="https://id.example.com",
        OIDC_USERNAME_CLAIM="email",
        OIDC_GROUPS_CLAIM="roles",
        OIDC_USERINFO="yes",
        OIDC_END_SESSION="on",
        ALLOWED_DOMAINS="example.com",
    )
    provider = middleware.provider
    assert isinstance(provider, OpenIDConnect) and provider.userinfo and provider.end_session
    assert not t.cast(
        OpenIDConnect, from_env(PROVIDER="oidc", OIDC_ISSUER="https://id.example.com").provider
    ).end_session
    assert (provider.mapper.username_claim, provider.mapper.groups_claim) == ("email", "roles")
    assert middleware.policy.domains == frozenset({"example.com"}) and middleware.revalidate_after == 600


def test_entra_multi_tenant_takes_its_tenant_allow_list_from_a_variable() -> None:
    middleware = from_env(
        PROVIDER="entra",
        OIDC_ISSUER="https://login.microsoftonline.com/organizations/v2.0",
        OIDC_TENANTS=" 72F988BF-86f1-41af-91ab-2d7cd011db47, 0e3c5f1a-2b4d-4c6e-8f9a-1b2c3d4e5f60 ,",
    )
    provider = middleware.provider
    assert isinstance(provider, MicrosoftEntra) and provider.tenant == "organizations"
    assert provider.tenants == frozenset(
        {"72f988bf-86f1-41af-91ab-2d7cd011db47", "0e3c5f1a-2b4d-4c6e-8f9a-1b2c3d4e5f60"}
    )
    wrap = paste.filter_factory(
        {},
        client_id="client",
        client_secret="client-secret-0123456789",
        secret_key=SECRET,
        provider="entra",
        oidc_issuer="https://login.microsoftonline.com/common/v2.0",
        oidc_tenants="72f988bf-86f1-41af-91ab-2d7cd011db47",
    )
    assert wrap(_app).provider.tenants == frozenset({"72f988bf-86f1-41af-91ab-2d7cd011db47"})  # type: ignore[attr-defined]


def test_github_stays_the_default() -> None:
    assert type(from_env().provider) is GitHubProvider
    assert type(from_env(PROVIDER="github").provider) is GitHubProvider
    assert from_env().scope == ("read:user", "user:email")


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"PROVIDER": "auth0"}, "OAUTH_MIDDLEWARE_PROVIDER must be one of github, google"),
        ({"PROVIDER": "oidc"}, "set OAUTH_MIDDLEWARE_OIDC_ISSUER to the provider's issuer URL"),
        (
            {"OIDC_ISSUER": "https://id.example.com"},
            "OAUTH_MIDDLEWARE_OIDC_ISSUER is set but OAUTH_MIDDLEWARE_PROVIDER",
        ),
        ({"PROVIDER": "keycloak", "OIDC_ISSUER": "https://sso.example.com"}, "https://HOST/realms/REALM"),
        ({"PROVIDER": "entra", "OIDC_ISSUER": "https://login.microsoftonline.com/common/v2.0"}, "any tenant"),
        (
            {"PROVIDER": "entra", "OIDC_ISSUER": "https://login.microsoftonline.com/common/v2.0"},
            "set OAUTH_MIDDLEWARE_OIDC_TENANTS to the tenant ids",
        ),
        (
            {
                "PROVIDER": "entra",
                "OIDC_ISSUER": "https://login.microsoftonline.com/contoso.example/v2.0",
                "OIDC_TENANTS": "72f988bf-86f1-41af-91ab-2d7cd011db47",
            },
            "OAUTH_MIDDLEWARE_OIDC_TENANTS is only for a multi-tenant issuer",
        ),
        (
            {"PROVIDER": "keycloak", "OIDC_ISSUER": "https://sso.example.com/realms/staff", "OIDC_TENANTS": "a"},
            "OAUTH_MIDDLEWARE_OIDC_TENANTS is for OAUTH_MIDDLEWARE_PROVIDER=entra",
        ),
        ({"PROVIDER": "google", "GITHUB_URL": "https://ghe.example.com"}, "are both set"),
        ({"PROVIDER": "oidc", "OIDC_ISSUER": "https://id.example.com", "OIDC_USERINFO": "maybe"}, "OIDC_USERINFO"),
        ({"PROVIDER": "oidc", "OIDC_ISSUER": "https://id.example.com", "OIDC_END_SESSION": "2"}, "OIDC_END_SESSION"),
    ],
)
def test_bad_provider_variables_say_what_to_fix(variables: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        from_env(**variables)
    assert message in str(caught.value)


def test_pastedeploy_takes_the_same_settings() -> None:
    wrap = paste.filter_factory(
        {},
        client_id="client",
        client_secret="client-secret-0123456789",
        secret_key=SECRET,
        provider="keycloak",
        oidc_issuer="https://sso.example.com/realms/staff",
        oidc_groups_claim="groups",
        allowed_groups="ops",
    )
    middleware = wrap(_app)
    assert isinstance(middleware.provider, Keycloak) and middleware.provider.mapper.groups_claim == "groups"
    assert middleware.policy.groups == frozenset({"ops"})


def test_check_prints_the_discovered_endpoints_and_the_callback_to_register() -> None:
    fake = FakeOIDC()
    middleware = OAuthMiddleware(
        _app,
        provider=OpenIDConnect(fake.issuer, display_name="Example SSO", end_session=True),
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        secret_key=SECRET,
        redirect_uri="https://app.example.com/auth/callback",
    )
    fake.mount(middleware.http)
    lines = cli.discovery_lines(middleware)
    assert lines[0] == "Example SSO (OpenID Connect) endpoints discovered at https://oidc.fake.test:"
    assert "  authorization_endpoint https://oidc.fake.test/authorize" in lines
    assert "  token_endpoint         https://oidc.fake.test/token" in lines
    assert "  token auth method      client_secret_basic" in lines
    assert "  end_session_endpoint   https://oidc.fake.test/logout" in lines
    assert lines[-1].startswith("  RP-initiated logout is on: register https://app.example.com/ ")
    callback = cli._callback_lines(middleware, None)
    assert callback[:2] == [
        "Callback URL to register in your client's settings at Example SSO:",
        "  https://app.example.com/auth/callback",
    ]
    fake.discovery_overrides["issuer"] = "https://evil.example"
    unchecked = OAuthMiddleware(
        _app, provider=OpenIDConnect(fake.issuer), client_id="c", client_secret="s" * 20, secret_key=SECRET
    )
    fake.mount(unchecked.http)
    with pytest.raises(Exception, match="names another issuer"):
        cli.discovery_lines(unchecked)


def test_the_testing_helpers_log_in_an_openid_connect_user_without_a_network() -> None:
    import json

    import webtest

    from oauth_middleware.testing import login_as

    def seen(environ: t.Any, start_response: t.Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps([environ.get("REMOTE_USER"), environ.get("oauth_middleware.user_id")]).encode()]

    middleware = OAuthMiddleware(
        seen, provider=OpenIDConnect("https://id.example.com"), client_id="c", client_secret="s" * 20, secret_key=SECRET
    )
    app = webtest.TestApp(middleware, extra_environ={"wsgi.url_scheme": "https"})
    login_as(app, {"preferred_username": "alice", "sub": "248289761001"})
    assert app.get("/").json == ["alice", "248289761001"]
