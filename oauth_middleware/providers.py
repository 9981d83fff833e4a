"""OAuth 2 providers: where to send the browser, where to redeem codes, who the user is.

A :class:`Provider` is plain data (endpoint URLs, default scope, request headers) plus one hook,
:meth:`Provider.fetch_profile`, that turns an access token into a profile dict. :class:`GitHub`
covers github.com and GitHub Enterprise Server.
"""

from __future__ import annotations

import dataclasses
import typing as t
from urllib.parse import urlsplit

from .errors import ProviderError

if t.TYPE_CHECKING:
    import requests

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
    """

    name: str
    authorize_url: str
    token_url: str
    api_base_url: str
    profile_path: str = "user"
    username_field: str = "login"
    api_headers: tuple[tuple[str, str], ...] = ()

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
            raise ProviderError("GitHub answered with something unreadable.")
        return self.trim_profile(profile)

    def fetch_groups(
        self, http: requests.Session, access_token: str, *, timeout: float | tuple[float, float]
    ) -> list[str]:
        """The user's group memberships (for allow-lists); none by default.

        Override it in a provider that has groups. Names are matched case-insensitively.
        """
        return []

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


GITHUB_API_HEADERS = (
    ("Accept", "application/vnd.github+json"),
    ("X-GitHub-Api-Version", "2022-11-28"),
)


@dataclasses.dataclass(frozen=True)
class GitHubProvider(Provider):
    """GitHub's provider: fills in a private email and knows orgs and teams.

    Build it with :func:`GitHub` (:meth:`create`).
    """

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
        )

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
