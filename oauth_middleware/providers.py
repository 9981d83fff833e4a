"""OAuth 2 providers: where to send the browser, where to redeem codes, who the user is.

A :class:`Provider` is plain data (endpoint URLs, request headers, a display name) plus the hooks
the provider-neutral core calls: :meth:`~Provider.authorization_params`, :meth:`~Provider.redeem`,
:meth:`~Provider.refresh`, :meth:`~Provider.revoke`, :meth:`~Provider.identity`,
:meth:`~Provider.groups`, :meth:`~Provider.token_error` and :meth:`~Provider.not_allowed_help`.
The core knows a user only as an :class:`Identity`. Everything particular to GitHub lives in
:class:`GitHubProvider` (built by :func:`GitHub`, github.com and GitHub Enterprise Server).
"""

from __future__ import annotations

import base64
import dataclasses
import typing as t
from urllib.parse import quote, urlsplit

from .errors import ProviderError, RateLimited

if t.TYPE_CHECKING:
    import requests

    from .oauth import OAuthClient

#: Profile fields kept in the session cookie (the rest of ``/user`` is dropped to keep the
#: cookie small: GitHub's full profile is ~1.6 KB of mostly URLs).
PROFILE_FIELDS = (
    "login",
    "id",
    "node_id",
    "name",
    "email",
    "avatar_url",
    "html_url",
    "type",
)
#: Longest string value kept per profile field.
MAX_FIELD_LENGTH = 512


@dataclasses.dataclass(frozen=True)
class Identity:
    """Who logged in, as the provider-neutral core sees them.

    :param sub: the stable account id, as text (``oauth_middleware.user_id``): GitHub's numeric
        id (``"583231"``), an OpenID Connect ``sub``. Names can change and be reassigned; this
        cannot.
    :param username: the value for ``REMOTE_USER``.
    :param email: an email address the provider verified, or ``None``.
    :param groups: memberships the provider gave with the identity (an OpenID Connect groups
        claim); GitHub's orgs and teams are fetched separately, only when allow-lists need them.
    :param profile: the fields kept in the session for ``oauth_middleware.user``.
    :param hosted_domain: a domain the provider vouches for (Google Workspace's ``hd``), or ``None``.
    :param sub_is_name: ``allowed_users`` text entries may match :attr:`sub` too (OpenID Connect,
        whose ``sub`` is opaque text). False for GitHub: there a digit login is no account id.
    """

    sub: str
    username: str
    email: str | None = None
    groups: tuple[str, ...] = ()
    profile: dict[str, t.Any] = dataclasses.field(default_factory=dict, repr=False)
    hosted_domain: str | None = None
    sub_is_name: bool = False


@dataclasses.dataclass(frozen=True)
class Provider:
    """An OAuth 2 authorization-code provider, described as data.

    Subclass it (or build one directly) to add another provider in a few lines: give the three
    endpoint URLs, the profile path and the field holding the user name.

    .. code-block:: python

        gitea = Provider(
            name="gitea",
            authorize_url="https://gitea.example.com/login/oauth/authorize",
            token_url="https://gitea.example.com/login/oauth/access_token",
            api_base_url="https://gitea.example.com/api/v1/",
            profile_path="user",
            username_field="login",
        )

    :param name: short name used in log lines and error pages.
    :param authorize_url: the browser is sent here to consent.
    :param token_url: codes are redeemed here (server to server).
    :param api_base_url: base of the REST API, ending in ``/``.
    :param profile_path: path of the current-user profile, relative to ``api_base_url``.
    :param username_field: the profile field that becomes ``REMOTE_USER``.
    :param api_headers: extra headers sent with every API call.
    :param display_name: the name users read on error pages and in log lines (``"Gitea"``);
        ``name`` capitalised when empty.

    The hooks below have working defaults for a plain OAuth 2 provider with a REST profile
    endpoint; override the ones your provider does differently.
    """

    name: str
    authorize_url: str
    token_url: str
    api_base_url: str
    profile_path: str = "user"
    username_field: str = "login"
    api_headers: tuple[tuple[str, str], ...] = ()
    display_name: str = ""

    #: True when the provider takes a per-login ``nonce`` (OpenID Connect); the flow cookie
    #: then carries one and :meth:`redeem` gets it back.
    uses_nonce: t.ClassVar[bool] = False
    #: True when :attr:`Identity.email` is always an address the provider verified, so that
    #: ``allowed_domains`` may rely on it (OpenID Connect's ``email_verified``).
    verifies_email: t.ClassVar[bool] = False

    def __post_init__(self) -> None:
        if not self.display_name:
            object.__setattr__(self, "display_name", self.name[:1].upper() + self.name[1:])

    def api_url(self, path: str) -> str:
        """The absolute URL of an API path (``"user"`` -> ``https://api.github.com/user``)."""
        return self.api_base_url + path.lstrip("/")

    def urls(self) -> dict[str, str]:
        """Every endpoint URL, by name (used to validate the configuration)."""
        return {
            "authorize_url": self.authorize_url,
            "token_url": self.token_url,
            "api_base_url": self.api_base_url,
        }

    def fetch_profile(
        self,
        http: requests.Session,
        access_token: str,
        *,
        scopes: t.Collection[str] = (),
        timeout: float | tuple[float, float],
    ) -> dict[str, t.Any]:
        """Fetch the user's profile with ``access_token`` and return the fields to keep.

        Raises :class:`~oauth_middleware.errors.ProviderError` (or a subclass) when the provider
        does not answer with a usable profile.

        :param scopes: the scopes granted to the token (a hook may need more calls for some).
        """
        from .oauth import api_get  # local import: oauth imports providers for typing only

        profile = api_get(self, http, self.profile_path, access_token, timeout=timeout)
        if not isinstance(profile, dict):
            raise ProviderError("{provider} answered with something unreadable.")
        return self.trim_profile(profile)

    def fetch_groups(
        self, http: requests.Session, access_token: str, *, timeout: float | tuple[float, float]
    ) -> list[str]:
        """The user's group memberships (for allow-lists); none by default.

        Override it in a provider that has groups. Names are matched case-insensitively.
        """
        return []

    # -- the protocol the core calls -------------------------------------------------------------

    def authorization_endpoint(self, client: OAuthClient) -> str:
        """Where the browser is sent to consent (:attr:`authorize_url`)."""
        return self.authorize_url

    def token_endpoint(self, client: OAuthClient) -> str:
        """Where codes and refresh tokens are redeemed (:attr:`token_url`)."""
        return self.token_url

    def adjust_scope(self, scope: tuple[str, ...], *, needs_groups: bool) -> tuple[str, ...]:
        """The scopes to request, given those configured; ``needs_groups`` when an allow-list
        depends on memberships. As configured by default."""
        return scope

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
        """The query of the authorization request: code flow, PKCE S256, the ``nonce`` when the
        provider :attr:`uses_nonce`."""
        params = [
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", redirect_uri),
            ("scope", " ".join(scope)),
            ("state", state),
            ("code_challenge", code_challenge),
            ("code_challenge_method", "S256"),
        ]
        if not scope:
            del params[3]
        if nonce is not None and self.uses_nonce:
            params.append(("nonce", nonce))
        return params

    def redeem(
        self, client: OAuthClient, *, code: str, redirect_uri: str, verifier: str, nonce: str | None, now: float
    ) -> dict[str, t.Any]:
        """Exchange the authorization code for the token dict (once, never retried). An OpenID
        Connect provider also validates the ``id_token`` against this login's ``nonce`` here."""
        return client.exchange_code(code=code, redirect_uri=redirect_uri, verifier=verifier, now=now)

    def refresh(
        self,
        client: OAuthClient,
        refresh_token: str,
        *,
        now: float,
        previous: t.Mapping[str, t.Any] | None = None,
    ) -> dict[str, t.Any]:
        """Trade a refresh token (of the token dict ``previous``) for a new token dict (never
        retried)."""
        return client.refresh_grant(refresh_token, now=now)

    def token_auth_method(self, client: OAuthClient) -> str:
        """How the client authenticates at the token endpoint: ``"client_secret_post"`` (in the
        body, what GitHub expects) or ``"client_secret_basic"``."""
        return "client_secret_post"

    def revoke(self, client: OAuthClient, token: t.Mapping[str, t.Any]) -> None:
        """Revoke the session's token at the provider (``revoke_on_logout``). Raises when the
        provider has no way to do it; the logout goes on and logs the failure."""
        raise ProviderError("%s has no token revocation configured." % self.display_name)

    def end_session_url(
        self, client: OAuthClient, token: t.Mapping[str, t.Any], *, post_logout_redirect_uri: str
    ) -> str | None:
        """Where to send the browser after our logout to end its session at the provider too
        (OpenID Connect RP-initiated logout), or ``None`` (the default): our logout ends ours only.

        :param token: the ended session's token dict.
        :param post_logout_redirect_uri: the absolute URL on this site the provider may send the
            browser back to.
        """
        return None

    def identity(self, client: OAuthClient, token: t.Mapping[str, t.Any]) -> Identity:
        """Who owns ``token``: the profile from :meth:`fetch_profile`, its numeric or text ``id``
        as ``sub`` and its :attr:`username_field` as the user name."""
        profile = client.fetch_profile(token)
        account = profile.get("id")
        sub = str(account) if isinstance(account, (int, str)) and not isinstance(account, bool) else ""
        email = profile.get("email")
        return Identity(
            sub=sub,
            username=profile[self.username_field],
            email=email if isinstance(email, str) and "@" in email else None,
            profile=profile,
        )

    def groups(self, client: OAuthClient, token: t.Mapping[str, t.Any]) -> list[str]:
        """The user's memberships, for allow-lists (:meth:`fetch_groups` by default)."""
        return client.fetch_groups(token)

    def token_error(self, code: str) -> str:
        """What to tell the user when the token endpoint answers ``error=code`` (a safe code)."""
        if code in ("invalid_grant", "bad_verification_code"):
            return "The login code expired or was already used. Please start the login again."
        return "%s refused the token request (%s)." % (self.display_name, code)

    def is_misconfiguration(self, code: str) -> bool:
        """True when a token error ``code`` means the site's OAuth settings are wrong (logged as
        an error, for the administrator)."""
        return code in ("invalid_client", "unauthorized_client", "redirect_uri_mismatch")

    def rate_limit(self, status: int, headers: t.Mapping[str, str], *, now: float) -> RateLimited | None:
        """The error for an API answer that says a rate limit was reached, or ``None``."""
        return RateLimited.from_response(status, headers, now=now)

    def not_allowed_help(self, shown_login: str | None) -> str:
        """The 403 text for a user no allow-list admits; ``shown_login`` is their login when it
        is safe to show."""
        return "You are logged in to %s%s, but that account is not allowed to use this application." % (
            self.display_name,
            " as " + shown_login if shown_login else "",
        )

    def derived_profile(self, profile: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        """The profile fields this provider derives from ``login`` and ``id`` alone (so a session
        cookie need not carry them when they have those values); none by default."""
        return {}

    def trim_profile(self, profile: dict[str, t.Any]) -> dict[str, t.Any]:
        """Keep the :data:`PROFILE_FIELDS` of ``profile`` and check the user name is there."""
        username = profile.get(self.username_field)
        if not isinstance(username, str) or not username or len(username) > MAX_FIELD_LENGTH:
            raise ProviderError("the profile has no usable %r field" % self.username_field)
        kept: dict[str, t.Any] = {}
        for key in (*PROFILE_FIELDS, self.username_field):
            value = profile.get(key)
            if isinstance(value, str):
                kept[key] = value[:MAX_FIELD_LENGTH]
            elif value is None or isinstance(value, (int, bool)):
                kept[key] = value
        return kept


#: Token errors GitHub reports with HTTP 200, and what we tell the user.
GITHUB_TOKEN_ERRORS = {
    "bad_verification_code": "The login code expired or was already used. Please start the login again.",
    "incorrect_client_credentials": (
        "The application's GitHub credentials are misconfigured. Please tell the site's administrator."
    ),
    "redirect_uri_mismatch": (
        "The application's GitHub callback URL is misconfigured. Please tell the site's administrator."
    ),
    "unverified_user_email": "GitHub requires a verified primary email address on your account first.",
}
GITHUB_MISCONFIGURATION_ERRORS = ("incorrect_client_credentials", "redirect_uri_mismatch")
#: The 403 page's text; ``%s`` is " as LOGIN" for a login of the usual shape, empty otherwise.
GITHUB_NOT_ALLOWED_HELP = (
    "You are logged in to GitHub%s, but that account is not allowed to use this application. "
    "If you belong to an allowed organisation or team, the usual causes are: your membership is "
    "private and was not shared with this application; the organisation restricts third-party "
    "OAuth application access and has not approved this one; or the organisation uses SAML single "
    "sign-on and you have not authorized this application for it. Ask an organisation owner, then "
    "log in again."
)

GITHUB_API_HEADERS = (
    ("Accept", "application/vnd.github+json"),
    ("X-GitHub-Api-Version", "2022-11-28"),
)


@dataclasses.dataclass(frozen=True)
class GitHubProvider(Provider):
    """GitHub's provider: fills in a private email and knows orgs and teams.

    Build it with :func:`GitHub` (:meth:`create`).
    """

    def derived_profile(self, profile: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        """GitHub's profile page, legacy global node id and, on github.com, avatar URL follow from
        ``login`` and ``id``; ``type`` is ``"User"`` for people (a github.com session cookie
        shrinks by a third)."""
        login, account = profile.get("login"), profile.get("id")
        derived: dict[str, t.Any] = {"type": "User"}
        if isinstance(login, str):
            derived["html_url"] = self.authorize_url.removesuffix("/login/oauth/authorize") + "/" + login
        if isinstance(account, int) and not isinstance(account, bool):
            derived["node_id"] = base64.b64encode(b"04:User%d" % account).decode("ascii")
            if self.api_base_url == "https://api.github.com/":
                derived["avatar_url"] = "https://avatars.githubusercontent.com/u/%d?v=4" % account
        return derived

    @classmethod
    def create(cls, base_url: str = "https://github.com", *, api_base_url: str | None = None) -> GitHubProvider:
        """GitHub (github.com) or GitHub Enterprise Server as a :class:`Provider`; public as :func:`GitHub`.

        For github.com the API lives at ``https://api.github.com/``; for any other ``base_url`` (an
        Enterprise Server) it lives at ``BASE/api/v3/``, as GitHub documents.

        .. code-block:: python

            OAuthMiddleware(app, provider=GitHub(), ...)                               # github.com
            OAuthMiddleware(app, provider=GitHub("https://ghe.example.com"), ...)      # Enterprise

        :param base_url: the GitHub web host, scheme included, no path.
        :param api_base_url: override the REST API base (ending in ``/``); rarely needed.
        """
        base = base_url.rstrip("/")
        if api_base_url is None:
            host = urlsplit(base).hostname or ""
            api_base_url = "https://api.github.com/" if host in ("github.com", "www.github.com") else base + "/api/v3/"
        return cls(
            name="github",
            authorize_url=base + "/login/oauth/authorize",
            token_url=base + "/login/oauth/access_token",
            api_base_url=api_base_url if api_base_url.endswith("/") else api_base_url + "/",
            profile_path="user",
            username_field="login",
            api_headers=GITHUB_API_HEADERS,
            display_name="GitHub",
        )

    def adjust_scope(self, scope: tuple[str, ...], *, needs_groups: bool) -> tuple[str, ...]:
        """``read:org`` is added when org or team allow-lists need it (private memberships are
        invisible without it)."""
        if needs_groups and not {"read:org", "admin:org"} & set(scope):
            return (*scope, "read:org")
        return scope

    def revoke(self, client: OAuthClient, token: t.Mapping[str, t.Any]) -> None:
        """``DELETE /applications/{client_id}/token`` with the app's credentials."""
        from .oauth import api_request

        api_request(
            self,
            client.http,
            "DELETE",
            self.api_url("applications/%s/token" % quote(client.client_id, safe="")),
            None,
            timeout=client.timeout,
            auth=(client.client_id, client.client_secret),
            json_body={"access_token": token["access_token"]},
        )

    def token_error(self, code: str) -> str:
        return GITHUB_TOKEN_ERRORS.get(code) or super().token_error(code)

    def is_misconfiguration(self, code: str) -> bool:
        return code in GITHUB_MISCONFIGURATION_ERRORS

    def not_allowed_help(self, shown_login: str | None) -> str:
        """Names the usual causes: private membership, OAuth app restrictions, SAML SSO."""
        return GITHUB_NOT_ALLOWED_HELP % (" as " + shown_login if shown_login else "")

    def fetch_profile(
        self,
        http: requests.Session,
        access_token: str,
        *,
        scopes: t.Collection[str] = (),
        timeout: float | tuple[float, float],
    ) -> dict[str, t.Any]:
        """``/user``; when its ``email`` is null (the user keeps it private) and the token may
        read emails (``user:email`` or ``user``), the primary verified one from ``/user/emails``."""
        profile = super().fetch_profile(http, access_token, scopes=scopes, timeout=timeout)
        if profile.get("email") is None and {"user:email", "user"} & set(scopes):
            from .oauth import api_get_all

            emails = api_get_all(self, http, "user/emails", access_token, timeout=timeout)
            for entry in emails:
                if isinstance(entry, dict) and entry.get("primary") and entry.get("verified"):
                    email = entry.get("email")
                    if isinstance(email, str):
                        profile["email"] = email[:MAX_FIELD_LENGTH]
                    break
        return profile

    def fetch_groups(
        self, http: requests.Session, access_token: str, *, timeout: float | tuple[float, float]
    ) -> list[str]:
        """Org logins (``/user/orgs``) and ``org/team-slug`` (``/user/teams``), every page."""
        from .oauth import api_get_all

        groups: list[str] = []
        for org in api_get_all(self, http, "user/orgs", access_token, timeout=timeout):
            if isinstance(org, dict) and isinstance(org.get("login"), str):
                groups.append(org["login"])
        for team in api_get_all(self, http, "user/teams", access_token, timeout=timeout):
            organization = team.get("organization") if isinstance(team, dict) else None
            if isinstance(organization, dict) and isinstance(team.get("slug"), str):
                login = organization.get("login")
                if isinstance(login, str):
                    groups.append("%s/%s" % (login, team["slug"]))
        return groups


#: ``GitHub(base_url="https://github.com", *, api_base_url=None)``: the public name of
#: :meth:`GitHubProvider.create` (contract v1), e.g. ``OAuthMiddleware(app, provider=GitHub())``.
GitHub = GitHubProvider.create
