"""OpenID Connect presets: the issuer spelling, claims and quirks of well-known providers.

Each is an :class:`~oauth_middleware.oidc.provider.OpenIDConnect` with its defaults filled in; any
keyword of ``OpenIDConnect`` can still be given. What to register at each provider is in
docs/providers.md.
"""

from __future__ import annotations

import logging
import typing as t
from urllib.parse import quote, urlsplit

from oauth_middleware.errors import ConfigurationError

from .discovery import Discovery
from .idtoken import IdTokenValidator
from .provider import OpenIDConnect, unverified_claims

if t.TYPE_CHECKING:
    from oauth_middleware.oauth import OAuthClient
    from oauth_middleware.providers import Identity

log = logging.getLogger(__name__)

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


ENTRA_AUTHORITY = "https://login.microsoftonline.com"
#: The issuer a multi-tenant discovery document names: ``{tenantid}`` stands for the token's ``tid``.
ENTRA_ISSUER_TEMPLATE = ENTRA_AUTHORITY + "/{tenantid}/v2.0"


class _EntraDiscovery(Discovery):
    """A multi-tenant authority's document names the templated issuer, not its own URL."""

    def __init__(self, authority: str, **options: t.Any) -> None:
        super().__init__(authority, **options)
        self.issuer = ENTRA_ISSUER_TEMPLATE  # what the document must name; self.url stays the authority's


class _EntraValidator(IdTokenValidator):
    """``iss`` must be the template filled with the token's ``tid``, a tenant on the allow-list."""

    tenants: frozenset[str] = frozenset()

    def _check_claims(self, claims: dict[str, t.Any], *, nonce: str | None) -> None:
        tid = claims.get("tid")
        if (
            isinstance(tid, str)
            and tid.lower() in self.tenants
            and claims.get("iss") == self.issuer.replace("{tenantid}", tid)
        ):
            claims = {**claims, "iss": self.issuer}
        super()._check_claims(claims, nonce=nonce)  # any other iss is refused as another issuer's


class MicrosoftEntra(OpenIDConnect):
    """Microsoft Entra ID (Azure AD): ``MicrosoftEntra("contoso.onmicrosoft.com")`` or a tenant id.

    A multi-tenant authority (``"organizations"``, ``"common"``) needs ``tenants``, the ids of the
    tenants whose users may log in: a token is accepted only when its ``tid`` is one of them and its
    ``iss`` is that tenant's issuer. ``REMOTE_USER`` is ``preferred_username`` (the sign-in name);
    groups are the ``groups`` claim (object ids) when the app registration emits it. When a user
    has more groups than fit in a token (group overage: ``_claim_names``), Entra sends none: such a
    user matches no ``allowed_groups`` entry.

    .. code-block:: python

        MicrosoftEntra("organizations", tenants=["72f988bf-86f1-41af-91ab-2d7cd011db47"])

    :param tenant: the tenant id or domain, or a multi-tenant authority.
    :param tenants: with a multi-tenant authority, the tenant ids admitted (required).
    """

    def __init__(self, tenant: str, *, tenants: t.Sequence[str] = (), **options: t.Any) -> None:
        if not isinstance(tenant, str) or not tenant or "/" in tenant:
            raise ConfigurationError("tenant must be a tenant id or domain, got %r" % (tenant,), option="provider")
        multi = tenant.lower() in ENTRA_MULTI_TENANT
        if multi and (isinstance(tenants, str) or not tenants or not all(isinstance(x, str) and x for x in tenants)):
            raise ConfigurationError(
                "MicrosoftEntra(%r) would admit users of any tenant: pass tenants=[...], the tenant ids whose "
                "users may log in, or give your own tenant id instead of %r" % (tenant, tenant),
                option="provider",
            )
        if tenants and not multi:
            raise ConfigurationError("tenants is only for a multi-tenant authority (organizations, common)")
        options.setdefault("name", "entra")
        options.setdefault("display_name", "Microsoft")
        options.setdefault("groups_claim", "groups")
        self.tenant = tenant
        self.tenants = frozenset(x.lower() for x in tenants)
        super().__init__("%s/%s/v2.0" % (ENTRA_AUTHORITY, quote(tenant, safe="")), **options)

    def make_discovery(self, client: OAuthClient) -> Discovery:
        if not self.tenants:
            return super().make_discovery(client)
        plain = super().make_discovery(client)
        return _EntraDiscovery(
            self.issuer,
            http=plain.http,
            timeout=plain.timeout,
            allow_insecure_http=plain.allow_insecure_http,
        )

    def make_validator(self, discovery: Discovery, client: OAuthClient) -> IdTokenValidator:
        if not self.tenants:
            return super().make_validator(discovery, client)
        validator = _EntraValidator(
            discovery, client_id=client.client_id, algorithms=self.algorithms, leeway=self.leeway, clock=client.clock
        )
        validator.tenants = self.tenants
        return validator

    def identity(self, client: OAuthClient, token: t.Mapping[str, t.Any]) -> Identity:
        found = super().identity(client, token)
        id_token = token.get("id_token")
        names = unverified_claims(id_token).get("_claim_names") if isinstance(id_token, str) else None
        if isinstance(names, dict) and "groups" in names:
            log.warning("Entra sent no groups for %s (group overage): no allowed_groups entry matches", found.sub)
        return found


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
