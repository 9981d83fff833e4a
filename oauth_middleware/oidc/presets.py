"""OpenID Connect presets: the issuer spelling, claims and quirks of well-known providers.

Each is an :class:`~oauth_middleware.oidc.provider.OpenIDConnect` with its defaults filled in; any
keyword of ``OpenIDConnect`` can still be given. What to register at each provider is in
docs/providers.md.
"""

from __future__ import annotations

import typing as t
from urllib.parse import quote, urlsplit

from oauth_middleware.errors import ConfigurationError

from .discovery import Discovery
from .idtoken import IdTokenValidator
from .provider import OpenIDConnect

if t.TYPE_CHECKING:
    from oauth_middleware.oauth import OAuthClient

GOOGLE_ISSUER = "https://accounts.google.com"
#: Entra tenants that are not one directory: their tokens come from any tenant.
ENTRA_MULTI_TENANT = ("common", "organizations", "consumers")


def _base(url: object, what: str) -> str:
    if not isinstance(url, str) or urlsplit(url).scheme not in ("https", "http") or not urlsplit(url).hostname:
        raise ConfigurationError("%s must be an https:// URL, got %r" % (what, url), option="provider")
    return url.rstrip("/")


class _GoogleValidator(IdTokenValidator):
    """Google's old tokens spell the issuer without the scheme (``accounts.google.com``)."""

    def _check_claims(self, claims: dict[str, t.Any], *, nonce: str | None) -> None:
        if claims.get("iss") == "accounts.google.com":
            claims = {**claims, "iss": GOOGLE_ISSUER}
        super()._check_claims(claims, nonce=nonce)


class Google(OpenIDConnect):
    """Google accounts and Google Workspace.

    ``REMOTE_USER`` is the verified email (Google has no ``preferred_username``); ``allowed_domains``
    also matches the Workspace domain in the ``hd`` claim, which Google sets only for Workspace
    accounts.

    .. code-block:: python

        OAuthMiddleware(app, provider=Google(), allowed_domains=["example.com"], ...)
    """

    def __init__(self, **options: t.Any) -> None:
        options.setdefault("name", "google")
        options.setdefault("display_name", "Google")
        options.setdefault("username_claim", "email")
        super().__init__(GOOGLE_ISSUER, **options)

    def make_validator(self, discovery: Discovery, client: OAuthClient) -> IdTokenValidator:
        return _GoogleValidator(
            discovery,
            client_id=client.client_id,
            algorithms=self.algorithms,
            leeway=self.leeway,
            clock=client.clock,
        )

    def hosted_domain(self, claims: t.Mapping[str, t.Any]) -> str | None:
        hd = claims.get("hd")
        return hd if isinstance(hd, str) and hd else None


class GitLab(OpenIDConnect):
    """GitLab.com or a self-managed GitLab (``GitLab("https://gitlab.example.com")``).

    ``REMOTE_USER`` is the GitLab username (``nickname``); groups are the id_token's
    ``groups_direct`` (full paths of the groups the user is a direct member of).
    """

    def __init__(self, base_url: str = "https://gitlab.com", **options: t.Any) -> None:
        options.setdefault("name", "gitlab")
        options.setdefault("display_name", "GitLab")
        options.setdefault("username_claim", "nickname")
        options.setdefault("groups_claim", "groups_direct")
        super().__init__(_base(base_url, "GitLab's base_url"), **options)


class MicrosoftEntra(OpenIDConnect):
    """Microsoft Entra ID (Azure AD), one tenant: ``MicrosoftEntra("contoso.onmicrosoft.com")`` or
    the tenant id.

    Multi-tenant apps (``common``, ``organizations``) are refused: their discovery document names
    a templated issuer, and admitting any tenant is rarely what an app means. ``REMOTE_USER`` is
    ``preferred_username`` (the sign-in name); groups are the ``groups`` claim (object ids) when the
    app registration emits it. When a user has more groups than fit in a token (group overage:
    ``_claim_names``), Entra sends none: such a user matches no ``allowed_groups`` entry.
    """

    def __init__(self, tenant: str, **options: t.Any) -> None:
        if not isinstance(tenant, str) or not tenant or "/" in tenant:
            raise ConfigurationError("tenant must be a tenant id or domain, got %r" % (tenant,), option="provider")
        if tenant.lower() in ENTRA_MULTI_TENANT:
            raise ConfigurationError(
                "MicrosoftEntra(%r) would admit users of any tenant, which is not supported: give your tenant id "
                "or domain" % tenant,
                option="provider",
            )
        options.setdefault("name", "entra")
        options.setdefault("display_name", "Microsoft")
        options.setdefault("groups_claim", "groups")
        self.tenant = tenant
        super().__init__("https://login.microsoftonline.com/%s/v2.0" % quote(tenant, safe=""), **options)


class Keycloak(OpenIDConnect):
    """A Keycloak realm: ``Keycloak("https://sso.example.com", "staff")``.

    Groups are the realm roles (``realm_access.roles``) by default, which Keycloak puts in the
    id_token when the realm's "roles" client scope mapper has "Add to ID token" on; pass
    ``groups_claim="resource_access.CLIENT.roles"`` for client roles, or ``"groups"`` with a group
    membership mapper.
    """

    def __init__(self, base_url: str, realm: str, **options: t.Any) -> None:
        if not isinstance(realm, str) or not realm or "/" in realm:
            raise ConfigurationError("realm must be a Keycloak realm name, got %r" % (realm,), option="provider")
        options.setdefault("name", "keycloak")
        options.setdefault("display_name", "Keycloak")
        options.setdefault("groups_claim", "realm_access.roles")
        super().__init__("%s/realms/%s" % (_base(base_url, "Keycloak's base_url"), quote(realm, safe="")), **options)


class Okta(OpenIDConnect):
    """Okta: ``Okta("example.okta.com")`` (the org authorization server) or
    ``Okta("example.okta.com", authorization_server="default")`` (a custom one).

    Groups are the ``groups`` claim, which Okta sends once a groups claim is configured for the app.
    """

    def __init__(self, domain: str, *, authorization_server: str | None = None, **options: t.Any) -> None:
        if not isinstance(domain, str) or not domain or "/" in domain.removeprefix("https://"):
            raise ConfigurationError("domain must be your Okta domain, e.g. 'example.okta.com', got %r" % (domain,))
        issuer = "https://" + domain.removeprefix("https://").rstrip("/")
        if authorization_server:
            issuer += "/oauth2/" + quote(authorization_server, safe="")
        options.setdefault("name", "okta")
        options.setdefault("display_name", "Okta")
        options.setdefault("groups_claim", "groups")
        super().__init__(issuer, **options)
