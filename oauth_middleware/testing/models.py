"""The data of :class:`~oauth_middleware.testing.FakeGitHub`: accounts, grants, ids and limits.

:class:`FakeUser` is an account with its ``/user`` body; :class:`_Grant` is what a code or token
stands for (and how it is sealed into the value itself in ``sealed`` mode). The constants are
GitHub's own lifetimes and limits.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import re
import secrets
import string
import typing as t
import zlib
from collections.abc import Iterable, Sequence
from urllib.parse import urlencode

from webob import Response

#: Where the fake answers by default (a reserved ``.test`` name: never a real host).
BASE_URL = "https://github.test"
#: Seconds an authorization code stays redeemable (GitHub: 10 minutes).
CODE_LIFETIME = 600
#: Seconds an expiring access token lives (GitHub Apps: 8 hours).
ACCESS_TOKEN_LIFETIME = 28800
#: Seconds a refresh token lives (as in ``token_success_expiring.txt``: 184 days).
REFRESH_TOKEN_LIFETIME = 15897600
#: Core API rate limit of an authenticated user, announced in ``x-ratelimit-limit``.
RATE_LIMIT = 5000
#: Rate limit announced on unauthenticated answers.
UNAUTHENTICATED_RATE_LIMIT = 60
#: Largest ``per_page`` honoured by list endpoints.
MAX_PER_PAGE = 100
#: ``per_page`` used when none (or a bad one) is given.
DEFAULT_PER_PAGE = 30

_DOCS = "https://docs.github.com"
_TOKEN_ERRORS_DOC = _DOCS + "/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/"
_AUTHORIZE_ERRORS_DOC = _DOCS + "/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/"

_NOT_FOUND = {"message": "Not Found", "documentation_url": _DOCS + "/rest"}

_ALNUM = string.ascii_letters + string.digits
_SCOPE_SPLIT_RE = re.compile(r"[\s,]+")
#: RFC 7636 code challenge / verifier alphabet and lengths.
_PKCE_RE = re.compile(r"\A[A-Za-z0-9\-._~]{43,128}\Z")
#: Characters never allowed in a redirect URI (controls, space, and what breaks out of a header).
_API_PREFIX = "/api/v3"

#: The kinds of sealed values, each with the prefix of its string (GitHub's token prefixes).
_CODE, _ACCESS, _REFRESH = "code", "access", "refresh"
_PREFIXES = {_CODE: "", _ACCESS: "gho_", _REFRESH: "ghr_"}
#: Size of the spent-nonce record above which expired entries are swept out.
_SPENT_SWEEP = 1024


def _random_alnum(length: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


def _node_id(kind: str, number: int) -> str:
    """GitHub's legacy global node id: ``base64("04:User1")`` -> ``MDQ6VXNlcjE=``."""
    return base64.b64encode(f"{len(kind):02d}:{kind}{number}".encode()).decode("ascii")


def _stable_id(kind: str, name: str) -> int:
    """A deterministic numeric id for an organization or a team named ``name``."""
    return 1000 + zlib.crc32(f"{kind}:{name}".encode()) % 9_000_000


def _avatar(number: int) -> str:
    """A tiny self-contained SVG avatar (no network), well under the profile field limit."""
    colour = "%06x" % (zlib.crc32(str(number).encode()) & 0xFFFFFF)
    return (
        "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 1 1'%3E"
        f"%3Crect width='1' height='1' fill='%23{colour}'/%3E%3C/svg%3E"
    )


def _split_scope(scope: str | None) -> tuple[str, ...]:
    """Requested scopes (space- or comma-separated), in order, without duplicates."""
    scopes: list[str] = []
    for item in _SCOPE_SPLIT_RE.split(scope or ""):
        if item and item not in scopes:
            scopes.append(item)
    return tuple(scopes)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


class _Items(t.Protocol):
    def items(self) -> Iterable[tuple[str, object]]: ...


def _text_params(params: _Items) -> dict[str, str]:
    """The text values of a webob ``GET``/``POST`` multidict (the last of repeated names)."""
    return {name: value for name, value in params.items() if isinstance(value, str)}


def _add_query(uri: str, params: Sequence[tuple[str, str]]) -> str:
    """Append ``params`` to ``uri``, with ``&`` when it already has a query."""
    if "?" not in uri:
        separator = "?"
    elif uri.endswith(("?", "&")):
        separator = ""
    else:
        separator = "&"
    return uri + separator + urlencode(params)


@dataclasses.dataclass
class FakeUser:
    """A GitHub account known to :class:`FakeGitHub`.

    .. code-block:: python

        alice = FakeUser("alice", 1001, name="Alice", orgs=["acme"], teams=["acme/admins"])
        fake = FakeGitHub(users=[alice], auto_approve="alice")

    :param login: the user name (``REMOTE_USER`` in the middleware).
    :param id: the numeric user id.
    :param name: the display name, or ``None`` (GitHub allows none).
    :param email: the *public* email shown on ``/user``, or ``None``.
    :param emails: the ``/user/emails`` entries. Default: one primary, verified address,
        ``email`` when set (visibility ``public``), else ``{login}@users.fake.test`` (visibility
        ``private``). A user without a verified primary address cannot redeem a code
        (``unverified_user_email``, as on GitHub).
    :param orgs: logins of the organizations the user belongs to.
    :param teams: the user's teams as ``"org/team-slug"``.
    :param profile_extra: fields that override or add to the generated ``/user`` body.
    """

    login: str
    id: int
    name: str | None = None
    email: str | None = None
    emails: list[dict[str, t.Any]] | None = None
    orgs: Sequence[str] = ()
    teams: Sequence[str] = ()
    profile_extra: dict[str, t.Any] = dataclasses.field(default_factory=dict)

    def email_entries(self) -> list[dict[str, t.Any]]:
        """The ``/user/emails`` body (the explicit ``emails`` or the default entry)."""
        if self.emails is not None:
            return [dict(entry) for entry in self.emails]
        address = self.email or f"{self.login}@users.fake.test"
        return [
            {
                "email": address,
                "verified": True,
                "primary": True,
                "visibility": "public" if self.email else "private",
            }
        ]

    def has_verified_primary_email(self) -> bool:
        """Whether GitHub would let this user authorize an OAuth app."""
        return any(entry.get("primary") and entry.get("verified") for entry in self.email_entries())

    def profile(
        self,
        *,
        api_url: str = "https://github.test/api/v3",
        html_url: str = "https://github.test",
    ) -> dict[str, t.Any]:
        """The full ``/user`` body, with the keys of GitHub's ``user_private.json`` in its order.

        :param api_url: the API base used in the ``*_url`` fields, without a trailing slash.
        :param html_url: the web base used in ``html_url``, without a trailing slash.
        """
        user_api = f"{api_url}/users/{self.login}"
        body: dict[str, t.Any] = {
            "login": self.login,
            "id": self.id,
            "node_id": _node_id("User", self.id),
            "avatar_url": _avatar(self.id),
            "gravatar_id": "",
            "url": user_api,
            "html_url": f"{html_url}/{self.login}",
            "followers_url": f"{user_api}/followers",
            "following_url": f"{user_api}/following{{/other_user}}",
            "gists_url": f"{user_api}/gists{{/gist_id}}",
            "starred_url": f"{user_api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{user_api}/subscriptions",
            "organizations_url": f"{user_api}/orgs",
            "repos_url": f"{user_api}/repos",
            "events_url": f"{user_api}/events{{/privacy}}",
            "received_events_url": f"{user_api}/received_events",
            "type": "User",
            "site_admin": False,
            "name": self.name,
            "company": None,
            "blog": "",
            "location": None,
            "email": self.email,
            "hireable": None,
            "bio": None,
            "twitter_username": None,
            "public_repos": 0,
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "created_at": "2008-01-14T04:33:35Z",
            "updated_at": "2008-01-14T04:33:35Z",
            "private_gists": 0,
            "total_private_repos": 0,
            "owned_private_repos": 0,
            "disk_usage": 0,
            "collaborators": 0,
            "two_factor_authentication": False,
            "plan": {"name": "free", "space": 976562499, "private_repos": 10000, "collaborators": 0},
        }
        body.update(self.profile_extra)
        return body


def default_users() -> list[FakeUser]:
    """The users of a :class:`FakeGitHub` built without ``users``: octocat and hubot.

    octocat (id 1) carries the values of GitHub's documented ``/user`` example, its
    ``/user/emails`` entry, the ``github`` organization and the ``github/justice-league`` team.
    hubot (id 2) is minimal: no name, no public email, no organization.
    """
    octocat = FakeUser(
        login="octocat",
        id=1,
        name="monalisa octocat",
        email="octocat@github.com",
        emails=[{"email": "octocat@github.com", "verified": True, "primary": True, "visibility": "public"}],
        orgs=["github"],
        teams=["github/justice-league"],
        profile_extra={
            "company": "GitHub",
            "blog": "https://github.com/blog",
            "location": "San Francisco",
            "hireable": False,
            "bio": "There once was...",
            "twitter_username": "monatheoctocat",
            "public_repos": 2,
            "public_gists": 1,
            "followers": 20,
            "private_gists": 81,
            "total_private_repos": 100,
            "owned_private_repos": 100,
            "disk_usage": 10000,
            "collaborators": 8,
            "two_factor_authentication": True,
            "plan": {"name": "Medium", "space": 400, "private_repos": 20, "collaborators": 0},
        },
    )
    return [octocat, FakeUser(login="hubot", id=2)]


@dataclasses.dataclass
class _Grant:
    """What an authorization code (or a token) stands for.

    ``issued_at`` and ``nonce`` are set when the grant is stored as a code or a token; in sealed
    mode the nonce identifies the value for single use and revocation.
    """

    client_id: str
    login: str
    scopes: tuple[str, ...]
    expires_at: float | None
    redirect_uri: str = ""
    code_challenge: str | None = None
    issued_at: float | None = None
    nonce: str = ""

    def dump(self, kind: str) -> bytes:
        """The grant as compact JSON, for sealing as a value of ``kind``."""
        data = {
            "kind": kind,
            "login": self.login,
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scopes": list(self.scopes),
            "code_challenge": self.code_challenge,
            "iat": self.issued_at,
            "exp": self.expires_at,
            "nonce": self.nonce,
        }
        return json.dumps(data, separators=(",", ":")).encode("utf-8")

    @classmethod
    def load(cls, kind: str, text: bytes) -> _Grant | None:
        """The grant :meth:`dump` wrote for ``kind``, or ``None`` when ``text`` is not one."""
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("kind") != kind:
            return None
        login, client_id = data.get("login"), data.get("client_id")
        redirect_uri, scopes = data.get("redirect_uri"), data.get("scopes")
        challenge, nonce = data.get("code_challenge"), data.get("nonce")
        issued_at, expires_at = data.get("iat"), data.get("exp")
        if not (
            isinstance(login, str)
            and isinstance(client_id, str)
            and isinstance(redirect_uri, str)
            and isinstance(scopes, list)
            and all(isinstance(scope, str) for scope in scopes)
            and (challenge is None or isinstance(challenge, str))
            and isinstance(nonce, str)
            and nonce
            and (issued_at is None or isinstance(issued_at, (int, float)))
            and (expires_at is None or isinstance(expires_at, (int, float)))
        ):
            return None
        return cls(
            client_id=client_id,
            login=login,
            scopes=tuple(scopes),
            expires_at=None if expires_at is None else float(expires_at),
            redirect_uri=redirect_uri,
            code_challenge=challenge,
            issued_at=None if issued_at is None else float(issued_at),
            nonce=nonce,
        )


class _Reject(Exception):
    """Raised inside a handler to answer with ``response`` at once."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response
