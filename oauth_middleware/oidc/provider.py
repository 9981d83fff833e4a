"""Any OpenID Connect provider as a :class:`~oauth_middleware.providers.Provider`, and presets for
the quirks of Google, GitLab, Microsoft Entra ID, Keycloak and Okta.

Endpoints come from discovery (fetched on first use with the middleware's HTTP session, then
cached); the login is the authorization-code flow with PKCE S256 and a per-login ``nonce`` kept
in the sealed flow cookie; the ``id_token`` is validated at the callback (OpenID Connect Core
3.1.3.7, :class:`~oauth_middleware.oidc.IdTokenValidator`) before anything else is trusted, and
again when a refresh brings a new one (same ``sub``, Core 12.2).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import typing as t
import weakref
from urllib.parse import urlencode

from oauth_middleware.errors import ConfigurationError, ProviderError
from oauth_middleware.oauth import api_request
from oauth_middleware.providers import MAX_FIELD_LENGTH, Identity, Provider
from oauth_middleware.transport import call_budget

from .discovery import Discovery, ProviderMetadata
from .errors import IdentityError, IdTokenError, MissingClaim, NonceMismatch
from .identity import IdentityMapper, merge_userinfo
from .idtoken import DEFAULT_LEEWAY, IdTokenValidator

if t.TYPE_CHECKING:
    from oauth_middleware.oauth import OAuthClient

log = logging.getLogger(__name__)

#: The middleware's default ``scope`` (GitHub's); an OpenID Connect provider asks for its own then.
GITHUB_DEFAULT_SCOPE = ("read:user", "user:email")
#: Scopes asked for when ``scope`` is left at its default.
DEFAULT_SCOPE = ("openid", "email", "profile")
#: Claims kept in the session for ``oauth_middleware.user`` (OpenID Connect Core 5.1, plus ``iss``).
STANDARD_CLAIMS = (
    "iss",
    "sub",
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "email_verified",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_number_verified",
    "updated_at",
)
TOKEN_AUTH_METHODS = ("client_secret_basic", "client_secret_post")


class _Runtime:
    """What one middleware's client needs: discovery, the validator and the mapper."""

    def __init__(self, provider: OpenIDConnect, client: OAuthClient) -> None:
        self.discovery = provider.make_discovery(client)
        self.validator = provider.make_validator(self.discovery, client)


class OpenIDConnect(Provider):
    """An OpenID Connect provider, found by discovery.

    .. code-block:: python

        OAuthMiddleware(
            app,
            provider=OpenIDConnect("https://sso.example.com/realms/staff", username_claim="email"),
            client_id="my-app", client_secret=SECRET, secret_key=KEY,
            allowed_domains=["example.com"],
        )

    **Security**: the id_token's signature (asymmetric algorithms the provider publishes; never
    ``none``, no HMAC unless ``allow_hmac``), ``iss``, ``aud``/``azp``, ``exp``/``iat``/``nbf``
    (``leeway`` seconds), this login's ``nonce`` (single use with its flow cookie) and ``at_hash``
    are checked at the callback; any failure answers 502 and makes no session. An email is
    trusted (for ``allowed_domains``) only when ``email_verified`` is true.

    :param issuer: the issuer, exactly as the provider writes it (discovery must name it).
    :param name: a short name for logs and configuration (``"oidc"``).
    :param display_name: the name users read on pages (``"Single sign-on"`` by default).
    :param username_claim: the claim that becomes ``REMOTE_USER`` (``preferred_username``,
        ``email``: the verified one only, ``sub``, or a dotted path).
    :param groups_claim: the claim holding the user's groups (``groups``,
        ``realm_access.roles``), for ``allowed_groups`` and ``oauth_middleware.groups``; ``None``:
        no groups.
    :param userinfo: also read the UserInfo endpoint at login and re-validation (its ``sub`` must
        match the id_token's), for claims the provider leaves out of the id_token.
    :param scope: scopes asked for when the middleware's ``scope`` is left at its default
        (``openid email profile``); ``openid`` is always added.
    :param algorithms: an explicit id_token signature algorithm allow-list.
    :param allow_hmac: accept HS256/384/512 id_tokens keyed with the client secret.
    :param leeway: seconds of clock skew allowed on the id_token's times (60).
    :param token_auth_method: ``"client_secret_basic"`` or ``"client_secret_post"``; by default the
        first of these the provider publishes (basic when it publishes none, as Core 9 says).
    :param extra_params: more authorization request parameters (``{"prompt": "select_account"}``).
    :param end_session: RP-initiated logout: after our logout (a POST) has ended our session,
        send the browser (303) to the provider's discovered ``end_session_endpoint`` with
        ``id_token_hint``, ``client_id`` and ``post_logout_redirect_uri`` (the logout's ``next``
        as an absolute URL on this site: register it at the provider), so the user is logged out
        there too. Off by default: our logout ends our session only.
    """

    uses_nonce = True
    verifies_email = True

    def __init__(
        self,
        issuer: str,
        *,
        name: str = "oidc",
        display_name: str = "Single sign-on",
        username_claim: str = "preferred_username",  # the OIDC standard short name
        groups_claim: str | None = None,  # providers disagree on the name: opt in
        userinfo: bool = False,  # one more call per login and re-validation; off unless needed
        scope: t.Sequence[str] = DEFAULT_SCOPE,
        algorithms: t.Sequence[str] | None = None,  # None: the provider's asymmetric ones
        allow_hmac: bool = False,  # HMAC ties validation to the client secret: off unless asked
        leeway: int = DEFAULT_LEEWAY,
        token_auth_method: str | None = None,  # None: from discovery
        extra_params: t.Mapping[str, str] | None = None,
        end_session: bool = False,  # logging out of the provider too changes what logout means: opt in
    ) -> None:
        if not isinstance(issuer, str) or not issuer.startswith(("https://", "http://")) or "?" in issuer:
            raise ConfigurationError(
                "issuer must be the provider's https:// issuer URL, e.g. 'https://accounts.google.com', got %r"
                % (issuer,),
                option="provider",
            )
        if token_auth_method is not None and token_auth_method not in TOKEN_AUTH_METHODS:
            raise ConfigurationError(
                "token_auth_method must be one of %s, got %r" % (", ".join(TOKEN_AUTH_METHODS), token_auth_method),
                option="provider",
            )
        if isinstance(scope, str) or not all(isinstance(s, str) and s and " " not in s for s in scope):
            raise ConfigurationError("scope must be a list of scope names, got %r" % (scope,), option="provider")
        for key, value in (extra_params or {}).items():
            reserved = ("state", "nonce", "code_challenge", "code_challenge_method", "redirect_uri", "client_id")
            if key in reserved or not isinstance(value, str):
                raise ConfigurationError(
                    "extra_params cannot set %r (or its value is not text)" % key, option="provider"
                )
        self.mapper = IdentityMapper(username_claim=username_claim, groups_claim=groups_claim)
        IdTokenValidator(  # check the validation options now, not at the first login
            Discovery(issuer, allow_insecure_http=True),
            client_id="-",
            algorithms=algorithms,
            allow_hmac=allow_hmac,
            client_secret="-" if allow_hmac else None,
            leeway=leeway,
        )
        fields: dict[str, object] = {
            "name": name,
            "authorize_url": "",  # discovered
            "token_url": "",  # discovered
            "api_base_url": issuer.rstrip("/") + "/",
            "profile_path": "",
            "username_field": username_claim,
            "api_headers": (),
            "display_name": display_name,
        }
        for field_name, field_value in fields.items():
            object.__setattr__(self, field_name, field_value)
        self.issuer = issuer
        self.userinfo = userinfo
        self.scope: tuple[str, ...] = ("openid", *(s for s in scope if s != "openid"))
        self.algorithms = None if algorithms is None else tuple(algorithms)
        self.allow_hmac = allow_hmac
        self.leeway = leeway
        self.token_auth_method_setting = token_auth_method
        self.extra_params = dict(extra_params or {})
        if not isinstance(end_session, bool):
            raise ConfigurationError("end_session must be True or False, got %r" % (end_session,), option="provider")
        self.end_session = end_session
        self._runtimes: weakref.WeakKeyDictionary[OAuthClient, _Runtime] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "%s(%r)" % (type(self).__name__, self.issuer)

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    # -- discovery and validation, per client ------------------------------------------------------

    def runtime(self, client: OAuthClient) -> _Runtime:
        """The discovery and validator for ``client`` (built on first use, then kept)."""
        runtime = self._runtimes.get(client)
        if runtime is None:
            with self._lock:
                runtime = self._runtimes.get(client)
                if runtime is None:
                    runtime = self._runtimes[client] = _Runtime(self, client)
        return runtime

    def make_discovery(self, client: OAuthClient) -> Discovery:
        """The discovery of :attr:`issuer` through ``client``'s HTTP session (a preset may
        return a subclass for its quirks)."""
        return Discovery(
            self.issuer,
            http=client.http,
            timeout=min(60.0, call_budget(client.timeout)),
            allow_insecure_http=client.allow_insecure_http,
        )

    def make_validator(self, discovery: Discovery, client: OAuthClient) -> IdTokenValidator:
        """The id_token validator (a preset may return a subclass for its quirks)."""
        return IdTokenValidator(
            discovery,
            client_id=client.client_id,
            algorithms=self.algorithms,
            allow_hmac=self.allow_hmac,
            client_secret=client.client_secret if self.allow_hmac else None,
            leeway=self.leeway,
            clock=client.clock,
        )

    def metadata(self, client: OAuthClient) -> ProviderMetadata:
        """The provider's discovered metadata (raises DiscoveryError, a 502)."""
        return self.runtime(client).discovery.get()

    def urls(self) -> dict[str, str]:
        return {"issuer": self.issuer}

    # -- the provider protocol ---------------------------------------------------------------------

    def authorization_endpoint(self, client: OAuthClient) -> str:
        return self.metadata(client).authorization_endpoint

    def token_endpoint(self, client: OAuthClient) -> str:
        return self.metadata(client).token_endpoint

    def token_auth_method(self, client: OAuthClient) -> str:
        if self.token_auth_method_setting is not None:
            return self.token_auth_method_setting
        published = self.metadata(client).document.get("token_endpoint_auth_methods_supported")
        if isinstance(published, list):
            for method in TOKEN_AUTH_METHODS:
                if method in published:
                    return method
        return "client_secret_basic"

    def adjust_scope(self, scope: tuple[str, ...], *, needs_groups: bool) -> tuple[str, ...]:
        """This provider's scopes when the middleware's are left at GitHub's default; ``openid``
        always first."""
        if scope == GITHUB_DEFAULT_SCOPE:
            return self.scope
        return ("openid", *(s for s in scope if s != "openid"))

    def authorization_params(
        self,
        *,
        client_id: str,
        redirect_uri: str,
        scope: t.Sequence[str],
        state: str,
        code_challenge: str,
        nonce: str | None = None,
    ) -> list[tuple[str, str]]:
        params = super().authorization_params(
            client_id=client_id,
            redirect_uri=redirect_uri,
            scope=scope,
            state=state,
            code_challenge=code_challenge,
            nonce=nonce,
        )
        return params + sorted(self.extra_params.items())

    def redeem(
        self, client: OAuthClient, *, code: str, redirect_uri: str, verifier: str, nonce: str | None, now: float
    ) -> dict[str, t.Any]:
        """The code exchange, then the id_token validated against this login's ``nonce``."""
        if nonce is None:  # a flow cookie written before this provider was configured
            log.warning("callback for a login started without a nonce; refused")
            raise NonceMismatch("The id_token does not belong to this login (nonce).")
        token = client.exchange_code(code=code, redirect_uri=redirect_uri, verifier=verifier, now=now)
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            log.warning("token response without an id_token (is 'openid' in the scope?)")
            raise MissingClaim("The identity provider sent no id_token.")
        self.runtime(client).validator.validate(id_token, nonce=nonce, access_token=token["access_token"])
        return token

    def refresh(
        self,
        client: OAuthClient,
        refresh_token: str,
        *,
        now: float,
        previous: t.Mapping[str, t.Any] | None = None,
    ) -> dict[str, t.Any]:
        """The refresh grant (the provider may rotate the refresh token: the new one is kept).
        A new id_token is validated and must name the same ``sub`` (Core 12.2); without one, the
        previous id_token is kept."""
        token = client.refresh_grant(refresh_token, now=now)
        old = (previous or {}).get("id_token")
        new = token.get("id_token")
        if isinstance(new, str):
            claims = self.runtime(client).validator.validate(new, nonce=None, access_token=token["access_token"])
            if isinstance(old, str) and claims.get("sub") != unverified_claims(old).get("sub"):
                log.warning("a refreshed id_token names another subject; refused")
                raise IdTokenError("The identity provider's refreshed id_token is about another user.")
        elif isinstance(old, str):
            token["id_token"] = old
        return token

    def revoke(self, client: OAuthClient, token: t.Mapping[str, t.Any]) -> None:
        """RFC 7009 at the discovered ``revocation_endpoint`` (the refresh token if any: that
        ends the grant; else the access token)."""
        endpoint = self.metadata(client).revocation_endpoint
        if endpoint is None:
            raise ProviderError("%s publishes no revocation endpoint." % self.display_name)
        refresh_token = token.get("refresh_token")
        which = "refresh_token" if isinstance(refresh_token, str) else "access_token"
        with_credentials = {"client_id": client.client_id, "client_secret": client.client_secret}
        basic = self.token_auth_method(client) == "client_secret_basic"
        api_request(
            self,
            client.http,
            "POST",
            endpoint,
            None,
            timeout=client.timeout,
            auth=(client.client_id, client.client_secret) if basic else None,
            form_body={"token": token[which], "token_type_hint": which, **({} if basic else with_credentials)},
        )

    def end_session_endpoint(self, client: OAuthClient) -> str | None:
        """The provider's discovered ``end_session_endpoint``, if it publishes one."""
        return self.metadata(client).end_session_endpoint

    def end_session_url(
        self, client: OAuthClient, token: t.Mapping[str, t.Any], *, post_logout_redirect_uri: str
    ) -> str | None:
        """With ``end_session``: the ``end_session_endpoint`` with ``client_id`` and
        ``post_logout_redirect_uri`` (OpenID Connect RP-Initiated Logout 1.0, section 2).
        ``id_token_hint`` is left out on purpose: it would put the id_token in a URL (browser
        history, the provider's access log), which this package never does; the spec makes it
        optional, and ``client_id`` names the client instead (the provider may then ask the user
        to confirm). ``None`` when not enabled, when the session has no id_token (it was not an
        OpenID Connect login), or when the provider publishes no such endpoint (logged: the
        logout stays local)."""
        id_token = token.get("id_token")
        if not self.end_session or not isinstance(id_token, str):
            return None
        endpoint = self.end_session_endpoint(client)
        if endpoint is None:
            log.warning("end_session is on but %s publishes no end_session_endpoint; logged out locally", self.issuer)
            return None
        query = urlencode(
            [
                ("post_logout_redirect_uri", post_logout_redirect_uri),
                ("client_id", client.client_id),
            ]
        )
        return endpoint + ("&" if "?" in endpoint else "?") + query

    def identity(self, client: OAuthClient, token: t.Mapping[str, t.Any]) -> Identity:
        """From the id_token's claims (validated when it was received: at the callback or a
        refresh, then kept sealed in the session), completed by UserInfo when configured."""
        id_token = token.get("id_token")
        claims: dict[str, t.Any] = unverified_claims(id_token) if isinstance(id_token, str) else {}
        if self.userinfo:
            endpoint = self.metadata(client).userinfo_endpoint
            if endpoint is None:
                raise IdentityError("The identity provider publishes no userinfo endpoint.")
            answer, _ = api_request(self, client.http, "GET", endpoint, token["access_token"], timeout=client.timeout)
            if not isinstance(answer, dict):
                raise IdentityError("The identity provider's user information is unreadable.")
            claims = merge_userinfo(claims, answer) if claims else answer
        found = self.mapper.identity(claims)
        return Identity(
            sub=found.user_id,
            username=found.username,
            email=found.email,
            groups=found.groups,
            profile=self.profile(claims),
            hosted_domain=self.hosted_domain(claims),
            sub_is_name=True,
        )

    def groups(self, client: OAuthClient, token: t.Mapping[str, t.Any]) -> list[str]:
        """None beyond the identity's: groups come in the ``groups_claim``."""
        return []

    def hosted_domain(self, claims: t.Mapping[str, t.Any]) -> str | None:
        """A domain the provider vouches for the account belongs to; none by default (Google's ``hd``)."""
        return None

    def profile(self, claims: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        """The standard claims (and the username claim) kept for ``oauth_middleware.user``."""
        kept: dict[str, t.Any] = {}
        for name in (*STANDARD_CLAIMS, self.username_field):
            value = claims.get(name)
            if isinstance(value, str):
                kept[name] = value[:MAX_FIELD_LENGTH]
            elif isinstance(value, (int, float, bool)):
                kept[name] = value
        return kept

    def not_allowed_help(self, shown_login: str | None) -> str:
        return (
            "You are logged in to %s%s, but that account is not allowed to use this application. If it "
            "should be, ask the site's administrator to add you (or your group), then log in again."
            % (self.display_name, " as " + shown_login if shown_login else "")
        )


def unverified_claims(id_token: str) -> dict[str, t.Any]:
    """The payload of an id_token this middleware validated earlier and kept sealed: never call
    it on a token from the network that was not validated first."""
    try:
        payload = id_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        raise IdentityError() from None
    if not isinstance(claims, dict):
        raise IdentityError()
    return claims
