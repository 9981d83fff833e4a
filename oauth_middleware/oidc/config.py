"""An OpenID Connect provider from text settings: environment variables and PasteDeploy keys.

``OAUTH_MIDDLEWARE_PROVIDER`` (``.ini``: ``provider``) names the provider: ``github`` (the
default), ``google``, ``gitlab``, ``entra``, ``keycloak``, ``okta`` or ``oidc``; the others say
where it is and which claims to use:

==========================================  ==================  ================================
variable                                    ``.ini`` key        meaning
==========================================  ==================  ================================
``OAUTH_MIDDLEWARE_OIDC_ISSUER``            ``oidc_issuer``     the issuer URL (not for google;
                                                                gitlab: default gitlab.com)
``OAUTH_MIDDLEWARE_OIDC_USERNAME_CLAIM``    ``oidc_username_claim``  the ``REMOTE_USER`` claim
``OAUTH_MIDDLEWARE_OIDC_GROUPS_CLAIM``      ``oidc_groups_claim``    the groups claim
``OAUTH_MIDDLEWARE_OIDC_USERINFO``          ``oidc_userinfo``   ``1`` to read UserInfo too
``OAUTH_MIDDLEWARE_OIDC_END_SESSION``       ``oidc_end_session``  ``1``: our logout also ends
                                                                the session at the provider
                                                                (RP-initiated logout)
``OAUTH_MIDDLEWARE_OIDC_TENANTS``           ``oidc_tenants``    entra, multi-tenant authority
                                                                (``organizations``, ``common``):
                                                                the admitted tenant ids,
                                                                comma-separated
==========================================  ==================  ================================

For ``entra``, ``keycloak`` and ``okta`` the issuer is the provider's own issuer URL
(``https://login.microsoftonline.com/TENANT/v2.0``, ``https://HOST/realms/REALM``,
``https://DOMAIN`` or ``https://DOMAIN/oauth2/SERVER``); the preset is built from it.
"""

from __future__ import annotations

import typing as t
from urllib.parse import urlsplit

from oauth_middleware.errors import ConfigurationError
from oauth_middleware.options import ENV_PREFIX

if t.TYPE_CHECKING:
    from oauth_middleware.providers import Provider

#: Provider names accepted by ``OAUTH_MIDDLEWARE_PROVIDER``.
PROVIDER_NAMES = ("github", "google", "gitlab", "entra", "keycloak", "okta", "oidc")
#: The settings, by ``.ini`` key (the variable is ``OAUTH_MIDDLEWARE_`` + the key upper-cased).
SETTINGS = (
    "provider",
    "oidc_issuer",
    "oidc_username_claim",
    "oidc_groups_claim",
    "oidc_userinfo",
    "oidc_end_session",
    "oidc_tenants",
)
#: Their environment variables.
VARIABLES = tuple(ENV_PREFIX + key.upper() for key in SETTINGS)
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def provider_from_settings(values: t.Mapping[str, str], *, names: t.Mapping[str, str]) -> Provider | None:
    """The provider the settings name, or ``None`` for GitHub (then ``github_url`` applies).

    :param values: the settings found, by ``.ini`` key (:data:`SETTINGS`).
    :param names: how to name each key in messages (the variable, or the key).
    """
    kind = values.get("provider", "").strip().lower()
    others = [key for key in SETTINGS[1:] if key in values]
    if kind in ("", "github"):
        if others:
            raise ConfigurationError(
                "%s is set but %s does not name an OpenID Connect provider (one of %s)"
                % (names[others[0]], names["provider"], ", ".join(PROVIDER_NAMES[1:])),
                option="provider",
                env=names["provider"] if names["provider"].startswith(ENV_PREFIX) else None,
            )
        return None
    if kind not in PROVIDER_NAMES:
        raise ConfigurationError(
            "%s must be one of %s, got %r" % (names["provider"], ", ".join(PROVIDER_NAMES), kind),
            option="provider",
        )
    issuer = values.get("oidc_issuer", "").strip()
    options: dict[str, t.Any] = {}
    if values.get("oidc_username_claim", "").strip():
        options["username_claim"] = values["oidc_username_claim"].strip()
    if values.get("oidc_groups_claim", "").strip():
        options["groups_claim"] = values["oidc_groups_claim"].strip()
    for key, option in (("oidc_userinfo", "userinfo"), ("oidc_end_session", "end_session")):
        flag = values.get(key, "").strip().lower()
        if flag not in _TRUE + _FALSE:
            raise ConfigurationError("%s must be 1/true/yes/on or 0/false/no/off" % names[key])
        if flag in _TRUE:
            options[option] = True
    tenants = [tenant.strip() for tenant in values.get("oidc_tenants", "").split(",") if tenant.strip()]
    if tenants:
        if kind != "entra":
            raise ConfigurationError(
                "%s is for %s=entra with a multi-tenant issuer only: unset it"
                % (names["oidc_tenants"], names["provider"]),
                option="provider",
            )
        options["tenants"] = tenants
    try:
        return _build(kind, issuer, options, names)
    except ConfigurationError as exc:
        raise ConfigurationError("%s=%s: %s" % (names["provider"], kind, exc), option="provider") from None


def _build(kind: str, issuer: str, options: dict[str, t.Any], names: t.Mapping[str, str]) -> Provider:
    from .presets import ENTRA_MULTI_TENANT, GitLab, Google, Keycloak, MicrosoftEntra, Okta
    from .provider import OpenIDConnect

    issuer_name = names["oidc_issuer"]
    if kind == "google":
        if issuer and issuer != "https://accounts.google.com":
            raise ConfigurationError("Google's issuer is fixed: leave %s unset" % issuer_name)
        return Google(**options)
    if kind == "gitlab":
        return GitLab(issuer or "https://gitlab.com", **options)
    if not issuer:
        raise ConfigurationError("set %s to the provider's issuer URL" % issuer_name)
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/").split("/")
    if kind == "entra":
        if parts.hostname != "login.microsoftonline.com" or len(path) != 3 or path[2] != "v2.0":
            raise ConfigurationError("%s must look like https://login.microsoftonline.com/TENANT/v2.0" % issuer_name)
        multi = path[1].lower() in ENTRA_MULTI_TENANT
        if multi and "tenants" not in options:
            raise ConfigurationError(
                "the issuer %s admits users of any tenant: set %s to the tenant ids whose users may log in "
                "(comma-separated), or use your own tenant id in %s" % (path[1], names["oidc_tenants"], issuer_name)
            )
        if not multi and "tenants" in options:
            raise ConfigurationError(
                "%s is only for a multi-tenant issuer (organizations, common); %s names one tenant already"
                % (names["oidc_tenants"], issuer_name)
            )
        return MicrosoftEntra(path[1], **options)
    if kind == "keycloak":
        if len(path) < 3 or path[-2] != "realms":
            raise ConfigurationError("%s must look like https://HOST/realms/REALM" % issuer_name)
        base = "%s://%s%s" % (parts.scheme, parts.netloc, "/".join(path[:-2]))
        return Keycloak(base, path[-1], **options)
    if kind == "okta":
        if parts.scheme != "https" or not parts.hostname or (len(path) > 1 and (len(path) != 3 or path[1] != "oauth2")):
            raise ConfigurationError("%s must look like https://DOMAIN or https://DOMAIN/oauth2/SERVER" % issuer_name)
        return Okta(parts.netloc, authorization_server=path[2] if len(path) == 3 else None, **options)
    return OpenIDConnect(issuer, **options)
