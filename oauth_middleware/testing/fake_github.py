"""An in-process fake of GitHub's OAuth and REST endpoints, for tests and local development.

:class:`FakeGitHub` is a WSGI application that answers like github.com (or a GitHub Enterprise
Server) on the endpoints a "Log in with GitHub" flow uses: the browser consent page
(``/login/oauth/authorize``), the code-for-token exchange (``/login/oauth/access_token``), the
current-user API (``/user``, ``/user/emails``, ``/user/orgs``, ``/user/teams``) and token
revocation (``DELETE /applications/{client_id}/token``). Bodies, field names, error codes and
quirks are copied from GitHub's own answers (``tests/data/github-examples/``): token errors come
with HTTP 200, the granted scope is comma-joined, the token answer is form-encoded unless JSON is
asked for, and so on.

:class:`WSGITransportAdapter` plugs any WSGI application into a :class:`requests.Session`, so the
server-side calls of the code under test reach the fake without a socket.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import html
import http.client
import io
import json
import logging
import re
import secrets
import string
import sys
import threading
import time
import typing as t
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from urllib.parse import unquote_plus, unquote_to_bytes, urlencode, urlsplit
from xml.sax.saxutils import escape as xml_escape

import requests
import requests.adapters
import requests.cookies
import requests.utils
from requests.structures import CaseInsensitiveDict
from urllib3._collections import HTTPHeaderDict  # importable from urllib3 1.26 and 2.x alike
from urllib3.response import HTTPResponse
from webob import Request, Response

from oauth_middleware.crypto import MIN_SECRET_BYTES, Cipher, InvalidValue
from oauth_middleware.providers import GitHub, Provider

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

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

#: Token endpoint errors: ``error`` -> (``error_description``, ``error_uri``). Descriptions are
#: GitHub's, word for word; URIs are the absolute docs.github.com form GitHub sends today. The
#: refresh-token error really points at ``#bad-verification-code`` (an observed GitHub quirk).
_TOKEN_ERRORS: dict[str, tuple[str, str]] = {
    "bad_verification_code": (
        "The code passed is incorrect or expired.",
        _TOKEN_ERRORS_DOC + "#bad-verification-code",
    ),
    "bad_refresh_token": (
        "The refresh token passed is incorrect or expired.",
        _TOKEN_ERRORS_DOC + "#bad-verification-code",
    ),
    "incorrect_client_credentials": (
        "The client_id and/or client_secret passed are incorrect.",
        _TOKEN_ERRORS_DOC + "#incorrect-client-credentials",
    ),
    "redirect_uri_mismatch": (
        "The redirect_uri MUST match the registered callback URL for this application.",
        _AUTHORIZE_ERRORS_DOC + "#redirect-uri-mismatch2",
    ),
    "unverified_user_email": (
        "The user must have a verified primary email.",
        _TOKEN_ERRORS_DOC + "#unverified_user_email",
    ),
    "unsupported_grant_type": (
        "The grant_type passed is not supported.",
        _TOKEN_ERRORS_DOC,
    ),
}

#: Element order of an XML token answer (``token_success.xml``; the expiring fields appended).
_XML_TOKEN_ORDER = ("token_type", "scope", "access_token", "expires_in", "refresh_token", "refresh_token_expires_in")

_ACCESS_DENIED_DESCRIPTION = "The user has denied your application access."
_ACCESS_DENIED_URI = _AUTHORIZE_ERRORS_DOC + "#access-denied"

_BAD_CREDENTIALS = {"message": "Bad credentials", "documentation_url": _DOCS + "/rest"}
_REQUIRES_AUTHENTICATION = {"message": "Requires authentication", "documentation_url": _DOCS + "/rest"}
_RATE_LIMITED = {
    "message": "API rate limit exceeded for user ID %d.",
    "documentation_url": _DOCS + "/rest/overview/resources-in-the-rest-api#rate-limiting",
}
_NOT_FOUND = {"message": "Not Found", "documentation_url": _DOCS + "/rest"}

_ALNUM = string.ascii_letters + string.digits
_SCOPE_SPLIT_RE = re.compile(r"[\s,]+")
#: RFC 7636 code challenge / verifier alphabet and lengths.
_PKCE_RE = re.compile(r"\A[A-Za-z0-9\-._~]{43,128}\Z")
#: Characters never allowed in a redirect URI (controls, space, and what breaks out of a header).
_BAD_URI_CHAR_RE = re.compile(r"[\x00-\x20\x7f#\\]")
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


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} &middot; FakeGitHub</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 34rem; margin: 3rem auto; padding: 0 1rem;
       color: #1f2328; }}
code {{ background: #f6f8fa; padding: 0 .2em; word-break: break-all; }}
fieldset {{ border: 1px solid #d0d7de; border-radius: 6px; margin: 1rem 0; }}
label {{ display: block; margin: .3rem 0; }}
button {{ font-size: 1rem; padding: .4rem 1.2rem; margin-right: .5rem; }}
</style>
</head>
<body>
<p><strong>FakeGitHub</strong> &mdash; a test double, not GitHub.</p>
{body}
</body>
</html>
"""


class FakeGitHub:
    """A WSGI application that behaves like GitHub's OAuth and REST endpoints.

    In tests, mount it on the :class:`requests.Session` of the code under test and give that code
    :meth:`provider`; drive the browser side with WebTest or requests against the same object.

    .. code-block:: python

        fake = FakeGitHub(auto_approve="octocat")
        app = OAuthMiddleware(inner_app, provider=fake.provider(), client_id=fake.client_id,
                              client_secret=fake.client_secret, secret_key=...)
        fake.mount(app.http)  # https://github.test/... is now served in-process, no socket

        browser = webtest.TestApp(app, extra_environ={"wsgi.url_scheme": "https"})
        location = browser.get("/auth/login").headers["Location"]
        callback = webtest.TestApp(fake).get(location[len(fake.base_url):]).headers["Location"]
        ...  # GET the callback on the app: one token call, one /user call
        assert fake.token_requests == 1 and fake.api_requests == 1

    Endpoints: ``GET``/``POST /login/oauth/authorize`` (consent page), ``POST
    /login/oauth/access_token``, ``GET /user``, ``/user/emails``, ``/user/orgs``,
    ``/user/teams`` and ``DELETE /applications/{client_id}/token``. API paths answer both at the
    root and under ``/api/v3/`` (GitHub Enterprise Server). Everything else is a 404.

    :param client_id: the OAuth app's client id; other ids are refused.
    :param client_secret: the OAuth app's client secret.
    :param users: the known accounts, by default :func:`default_users` (octocat and hubot).
    :param auto_approve: ``True`` approves at once as the first user, a login approves at once as
        that user; ``False`` shows a consent page to pick a user and approve or deny.
    :param redirect_uris: the registered callback URLs (exact match required; the first is used
        when a request names none), or ``None`` to accept any ``http``/``https`` URL.
    :param expiring_tokens: issue access tokens that expire after 8 hours with single-use
        refresh tokens, like GitHub Apps.
    :param base_url: the base the server-side calls use (token endpoint and API), and the base of
        the URLs in API bodies.
    :param clock: returns the current time in seconds; inject one to test expiry without
        sleeping.
    :param sealed: a secret (at least 32 bytes) that makes codes and tokens self-contained, for
        running one fake per process (gunicorn workers, say). Each authorization code, access
        token and refresh token is then its grant (login, client id, redirect URI, scopes, code
        challenge, issue and expiry times, a random nonce) sealed with AES-GCM: access tokens are
        ``gho_`` + the sealed value, refresh tokens ``ghr_`` + the sealed value, codes the sealed
        value alone. Every :class:`FakeGitHub` given the same secret accepts them, whichever
        process issued them; expiry is checked from the sealed times with ``clock``. Single use of
        codes and refresh tokens, and revocation, are only remembered per process: a code could
        be redeemed once in each process, and a token revoked in one process still works in
        another. Good enough for a demo, not a security boundary. The helpers :attr:`codes`,
        :attr:`tokens`, :attr:`refresh_tokens` and :meth:`tokens_for` list what *this* process
        issued; :meth:`scopes_of` and :meth:`revoke` also take values issued elsewhere. ``None``
        (the default) keeps everything in memory, with short random values like GitHub's.
    """

    BASE_URL = "https://github.test"

    def __init__(
        self,
        *,
        client_id: str = "fake-client-id",
        client_secret: str = "fake-client-secret",
        users: Sequence[FakeUser] | None = None,
        auto_approve: bool | str = False,
        redirect_uris: Sequence[str] | None = None,
        expiring_tokens: bool = False,
        base_url: str = BASE_URL,
        clock: Callable[[], float] = time.time,
        sealed: str | bytes | None = None,
    ) -> None:
        self._cipher: Cipher | None = None
        if sealed is not None:
            key = sealed.encode("utf-8") if isinstance(sealed, str) else bytes(sealed)
            if len(key) < MIN_SECRET_BYTES:
                raise ValueError(f"sealed needs a secret of at least {MIN_SECRET_BYTES} bytes")
            self._cipher = Cipher([key], purpose="fake-github")
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris = None if redirect_uris is None else tuple(redirect_uris)
        self.expiring_tokens = expiring_tokens
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self._lock = threading.Lock()
        self._users: dict[str, FakeUser] = {}
        for user in default_users() if users is None else users:
            self._users[user.login] = user
        if auto_approve is not False and auto_approve is not True and auto_approve not in self._users:
            raise ValueError("auto_approve names an unknown user")
        if auto_approve is True and not self._users:
            raise ValueError("auto_approve=True needs at least one user")
        self.auto_approve = auto_approve
        self._codes: dict[str, _Grant] = {}
        self._tokens: dict[str, _Grant] = {}
        self._refresh_tokens: dict[str, _Grant] = {}
        self._stores = {_CODE: self._codes, _ACCESS: self._tokens, _REFRESH: self._refresh_tokens}
        #: Sealed mode: nonces of used codes and refresh tokens and of revoked access tokens, with
        #: the time after which the value would be refused anyway (``None``: never).
        self._spent: dict[str, float | None] = {}
        self._sweep_at = _SPENT_SWEEP
        self._rate_used: dict[str, tuple[int, int]] = {}
        self.token_requests = 0
        self.api_requests = 0

    # -- configuration helpers -------------------------------------------------------------

    def provider(self, browser_base_url: str | None = None) -> Provider:
        """A GitHub-shaped :class:`~oauth_middleware.providers.Provider` pointing at this fake.

        :param browser_base_url: where the *browser* reaches the fake, when it differs from
            :attr:`base_url` (for example a WebTest-mounted prefix); only ``authorize_url`` uses it.
        """
        provider = GitHub(self.base_url, api_base_url=self.base_url + _API_PREFIX + "/")
        authorize_base = (browser_base_url or self.base_url).rstrip("/")
        return dataclasses.replace(provider, authorize_url=authorize_base + "/login/oauth/authorize")

    def mount(self, http: requests.Session) -> None:
        """Serve every request ``http`` makes under :attr:`base_url` in-process (no socket).

        :param http: the session the code under test uses for server-side calls.
        """
        http.mount(self.base_url + "/", WSGITransportAdapter(self))

    @property
    def sealed(self) -> bool:
        """Whether codes and tokens are self-contained sealed values (the ``sealed`` option)."""
        return self._cipher is not None

    # -- state helpers for tests ------------------------------------------------------------

    @property
    def users(self) -> list[FakeUser]:
        """The known users, in the order they were added."""
        with self._lock:
            return list(self._users.values())

    def add_user(self, user: FakeUser) -> None:
        """Add ``user`` (or replace the user with the same login)."""
        with self._lock:
            self._users[user.login] = user

    @property
    def codes(self) -> list[str]:
        """Authorization codes issued (by this process) and not redeemed yet (expired ones included)."""
        with self._lock:
            return list(self._codes)

    @property
    def tokens(self) -> list[str]:
        """Access tokens issued (by this process) and not revoked (expired ones included), oldest first."""
        with self._lock:
            return list(self._tokens)

    @property
    def refresh_tokens(self) -> list[str]:
        """Refresh tokens issued (by this process) and not used yet (``expiring_tokens`` mode)."""
        with self._lock:
            return list(self._refresh_tokens)

    def tokens_for(self, login: str) -> list[str]:
        """The live access tokens of the user ``login`` issued by this process, oldest first."""
        with self._lock:
            return [token for token, grant in self._tokens.items() if grant.login == login]

    def scopes_of(self, token: str) -> tuple[str, ...] | None:
        """The scopes granted to ``token``, or ``None`` when it is unknown or revoked."""
        with self._lock:
            grant = self._find(_ACCESS, token, consume=False)
            return None if grant is None else grant.scopes

    def revoke(self, token: str) -> bool:
        """Revoke an access token; return whether it was live.

        In sealed mode the revocation holds in this process only.
        """
        with self._lock:
            return self._find(_ACCESS, token, consume=True) is not None

    def issue_token(self, login: str, scopes: Sequence[str] = ()) -> str:
        """Issue an access token for ``login`` directly, skipping the browser and the code.

        :param login: a known user's login.
        :param scopes: the scopes the token carries.
        """
        with self._lock:
            if login not in self._users:
                raise KeyError(login)
            token, _ = self._issue(_Grant(self.client_id, login, tuple(scopes), None))
        return token

    def use_up_rate_limit(self, login: str) -> None:
        """Spend ``login``'s API rate limit: until it resets (an hour later, by :attr:`clock`)
        their API calls are refused as GitHub refuses them, with 403, ``x-ratelimit-remaining: 0``
        and ``x-ratelimit-reset``.

        :param login: a known user's login.
        """
        with self._lock:
            if login not in self._users:
                raise KeyError(login)
            self._rate_used[login] = (RATE_LIMIT, int(self.clock()) + 3600)

    # -- WSGI ------------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        path = request.path_info or "/"
        method = request.method
        response: Response
        try:
            if path == "/login/oauth/authorize":
                log.debug("fake github: authorize %s", method)
                response = self._authorize(request) if method in ("GET", "POST") else self._json(_NOT_FOUND, 404)
            elif path == "/login/oauth/access_token":
                log.debug("fake github: access_token %s", method)
                response = self._access_token(request) if method == "POST" else self._json(_NOT_FOUND, 404)
            else:
                api_path = path[len(_API_PREFIX) :] if path.startswith(_API_PREFIX + "/") else path
                response = self._api(request, api_path)
        except _Reject as reject:
            response = reject.response
        return response(environ, start_response)

    # -- authorize (browser) ---------------------------------------------------------------

    def _page(self, title: str, body: str, status: int = 200) -> Response:
        response = Response(
            _PAGE.format(title=html.escape(title), body=body),
            status=status,
            content_type="text/html",
            charset="utf-8",
        )
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
        )
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    def _error_page(self, status: int, title: str, message: str) -> _Reject:
        body = f"<h1>{html.escape(title)}</h1>\n<p>{html.escape(message)}</p>"
        return _Reject(self._page(title, body, status))

    def _redirect(self, location: str) -> Response:
        response = Response(status=302)
        response.headers["Location"] = location
        response.headers["Cache-Control"] = "no-store"
        return response

    def _authorize(self, request: Request) -> Response:
        params = _text_params(request.POST if request.method == "POST" else request.GET)
        client_id = params.get("client_id")
        if client_id is None or not _equal(client_id, self.client_id):
            raise self._error_page(404, "Page not found", "This is not the web page you are looking for.")
        redirect_uri = self._check_redirect_uri(params.get("redirect_uri"))
        challenge = params.get("code_challenge")
        method = params.get("code_challenge_method")
        if challenge is not None:
            if method != "S256":
                raise self._error_page(
                    400, "Bad request", "code_challenge_method must be S256 when a code_challenge is sent."
                )
            if not _PKCE_RE.match(challenge):
                raise self._error_page(400, "Bad request", "code_challenge is malformed.")
        state = params.get("state")
        scopes = _split_scope(params.get("scope"))

        with self._lock:
            users = list(self._users.values())
        if request.method == "GET":
            if self.auto_approve is False:
                return self._consent_page(request, params, users, scopes, redirect_uri)
            login = users[0].login if self.auto_approve is True else str(self.auto_approve)
            approved = True
        else:
            approved = params.get("authorize") == "1"
            login = params.get("login") or ""

        if not approved:
            denied = [
                ("error", "access_denied"),
                ("error_description", _ACCESS_DENIED_DESCRIPTION),
                ("error_uri", _ACCESS_DENIED_URI),
            ]
            if state is not None:
                denied.append(("state", state))
            return self._redirect(_add_query(redirect_uri, denied))
        if not any(user.login == login for user in users):
            raise self._error_page(400, "Bad request", "Pick one of the listed accounts.")
        grant = _Grant(
            client_id=self.client_id,
            login=login,
            scopes=scopes,
            expires_at=self.clock() + CODE_LIFETIME,
            redirect_uri=redirect_uri,
            code_challenge=challenge,
        )
        with self._lock:
            code = self._store(_CODE, grant)
        answer = [("code", code)]
        if state is not None:
            answer.append(("state", state))
        return self._redirect(_add_query(redirect_uri, answer))

    def _check_redirect_uri(self, redirect_uri: str | None) -> str:
        registered = self.redirect_uris
        if redirect_uri is None:
            if registered:
                return registered[0]
            raise self._error_page(400, "Bad request", "redirect_uri is required (no callback URL is registered).")
        if registered is not None:
            if redirect_uri not in registered:
                raise self._error_page(
                    400,
                    "Redirect URI mismatch",
                    "The redirect_uri MUST match the registered callback URL for this application.",
                )
            return redirect_uri
        parts = urlsplit(redirect_uri)
        if parts.scheme not in ("http", "https") or not parts.netloc or _BAD_URI_CHAR_RE.search(redirect_uri):
            raise self._error_page(
                400, "Redirect URI mismatch", "The redirect_uri must be an absolute http or https URL."
            )
        return redirect_uri

    def _consent_page(
        self,
        request: Request,
        params: Mapping[str, str],
        users: Sequence[FakeUser],
        scopes: Sequence[str],
        redirect_uri: str,
    ) -> Response:
        esc = html.escape
        hidden = "\n".join(
            f'<input type="hidden" name="{name}" value="{esc(params[name])}">'
            for name in ("client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method")
            if name in params
        )
        choices = "\n".join(
            f'<label><input type="radio" name="login" value="{esc(user.login)}"{" checked" if i == 0 else ""}>'
            f" {esc(user.login)}{' (' + esc(user.name) + ')' if user.name else ''}</label>"
            for i, user in enumerate(users)
        )
        scope_text = ", ".join(f"<code>{esc(scope)}</code>" for scope in scopes) or "public data only"
        action = esc(request.script_name + "/login/oauth/authorize")
        body = f"""<h1>Authorize application</h1>
<p>The application <code>{esc(self.client_id)}</code> wants to access your account.</p>
<p>Scopes: {scope_text}</p>
<p>You will be sent back to <code>{esc(redirect_uri)}</code>.</p>
<form method="post" action="{action}">
{hidden}
<fieldset><legend>Sign in as</legend>
{choices}
</fieldset>
<button type="submit" name="authorize" value="1">Approve</button>
<button type="submit" name="authorize" value="0">Deny</button>
</form>"""
        return self._page("Authorize application", body)

    # -- token endpoint (server to server) -------------------------------------------------

    def _access_token(self, request: Request) -> Response:
        with self._lock:
            self.token_requests += 1
        accept = request.headers.get("Accept", "")
        params = self._token_params(request)
        try:
            client_id, client_secret = self._client_credentials(request, params)
            if not (_equal(client_id, self.client_id) and _equal(client_secret, self.client_secret)):
                raise _TokenError("incorrect_client_credentials")
            grant_type = params.get("grant_type") or "authorization_code"
            if grant_type == "authorization_code":
                answer = self._redeem_code(client_id, params)
            elif grant_type == "refresh_token":
                answer = self._redeem_refresh_token(client_id, params)
            else:
                raise _TokenError("unsupported_grant_type")
        except _TokenError as error:
            description, uri = _TOKEN_ERRORS[error.error]
            log.debug("fake github: token request refused (%s)", error.error)
            body = {"error": error.error, "error_description": description, "error_uri": uri}
            return self._token_answer(accept, body, xml_order=("error", "error_description", "error_uri"))
        return self._token_answer(accept, answer, xml_order=_XML_TOKEN_ORDER)

    @staticmethod
    def _token_params(request: Request) -> dict[str, str]:
        params: dict[str, str] = dict(request.GET.items())
        if request.content_type == "application/json":
            try:
                data = json.loads(request.body or b"{}")
            except ValueError:
                data = {}
            if isinstance(data, dict):
                params.update({str(k): str(v) for k, v in data.items() if v is not None})
        else:
            params.update(_text_params(request.POST))
        return params

    @staticmethod
    def _client_credentials(request: Request, params: Mapping[str, str]) -> tuple[str, str]:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic" and value.strip():
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                raise _TokenError("incorrect_client_credentials") from None
            user, sep, password = decoded.partition(":")
            if not sep:
                raise _TokenError("incorrect_client_credentials")
            # RFC 6749 2.3.1 form-encodes both parts; most clients (requests) do not. Accept both.
            if "%" in user or "+" in user:
                user = unquote_plus(user)
            if "%" in password or "+" in password:
                password = unquote_plus(password)
            return user, password
        return params.get("client_id", ""), params.get("client_secret", "")

    def _redeem_code(self, client_id: str, params: Mapping[str, str]) -> dict[str, t.Any]:
        code = params.get("code", "")
        with self._lock:
            # Single use: the code is gone after the first attempt, successful or not.
            grant = self._find(_CODE, code, consume=True)
            user = None if grant is None else self._users.get(grant.login)
        if grant is None or user is None or grant.client_id != client_id:
            raise _TokenError("bad_verification_code")
        if grant.expires_at is not None and self.clock() >= grant.expires_at:
            raise _TokenError("bad_verification_code")
        redirect_uri = params.get("redirect_uri")
        if redirect_uri is not None and redirect_uri != grant.redirect_uri:
            raise _TokenError("redirect_uri_mismatch")
        if grant.code_challenge is not None:
            verifier = params.get("code_verifier", "")
            if not _PKCE_RE.match(verifier) or not _equal(_s256(verifier), grant.code_challenge):
                raise _TokenError("bad_verification_code")
        if not user.has_verified_primary_email():
            raise _TokenError("unverified_user_email")
        with self._lock:
            return self._token_body(_Grant(client_id, grant.login, grant.scopes, None))

    def _redeem_refresh_token(self, client_id: str, params: Mapping[str, str]) -> dict[str, t.Any]:
        refresh_token = params.get("refresh_token", "")
        with self._lock:
            grant = self._find(_REFRESH, refresh_token, consume=True)
            if (
                grant is None
                or grant.client_id != client_id
                or grant.login not in self._users
                or (grant.expires_at is not None and self.clock() >= grant.expires_at)
            ):
                raise _TokenError("bad_refresh_token")
            return self._token_body(_Grant(client_id, grant.login, grant.scopes, None))

    def _issue(self, grant: _Grant) -> tuple[str, str | None]:
        """Store a new access token (and refresh token when expiring); hold the lock."""
        if not self.expiring_tokens:
            return self._store(_ACCESS, grant), None
        now = self.clock()
        token = self._store(_ACCESS, dataclasses.replace(grant, expires_at=now + ACCESS_TOKEN_LIFETIME))
        refresh_token = self._store(_REFRESH, dataclasses.replace(grant, expires_at=now + REFRESH_TOKEN_LIFETIME))
        return token, refresh_token

    # -- storage of grants: in memory, or sealed into the value itself -----------------------

    def _store(self, kind: str, grant: _Grant) -> str:
        """Make a new code or token of ``kind`` standing for ``grant``; hold the lock."""
        grant = dataclasses.replace(grant, issued_at=self.clock(), nonce=secrets.token_urlsafe(16))
        if self._cipher is not None:
            value = _PREFIXES[kind] + self._cipher.seal(grant.dump(kind), aad=kind.encode())
        elif kind == _CODE:
            value = secrets.token_hex(10)
        elif kind == _ACCESS:
            value = "gho_" + _random_alnum(36)
        else:
            value = "ghr_" + _random_alnum(76)
        self._stores[kind][value] = grant
        return value

    def _find(self, kind: str, value: str, *, consume: bool) -> _Grant | None:
        """The grant behind a code or token of ``kind``, or ``None``; hold the lock.

        ``consume`` uses it up (a code or refresh token) or revokes it (an access token). In
        sealed mode a value missing from memory (issued by another process, or already used
        here) is opened, and refused when its nonce is spent in this process.
        """
        store = self._stores[kind]
        grant = store.pop(value, None) if consume else store.get(value)
        if self._cipher is None:
            return grant
        if grant is None:
            grant = self._unseal(kind, value)
            if grant is None:
                return None
        if grant.nonce in self._spent:
            return None
        if consume:
            self._spend(grant)
        return grant

    def _unseal(self, kind: str, value: str) -> _Grant | None:
        assert self._cipher is not None
        prefix = _PREFIXES[kind]
        if not value.startswith(prefix):
            return None
        try:
            data = self._cipher.open(value[len(prefix) :], aad=kind.encode())
        except InvalidValue:
            return None
        return _Grant.load(kind, data)

    def _spend(self, grant: _Grant) -> None:
        """Remember that ``grant``'s value is used up; hold the lock."""
        if len(self._spent) >= self._sweep_at:
            # Forget values that have expired since: they are refused on their expiry anyway.
            now = self.clock()
            self._spent = {nonce: end for nonce, end in self._spent.items() if end is None or end > now}
            self._sweep_at = max(_SPENT_SWEEP, 2 * len(self._spent))
        self._spent[grant.nonce] = grant.expires_at

    def _token_body(self, grant: _Grant) -> dict[str, t.Any]:
        """Issue tokens for ``grant`` and return the answer body, keys sorted like GitHub's."""
        token, refresh_token = self._issue(grant)
        body: dict[str, t.Any] = {"access_token": token}
        if refresh_token is not None:
            body["expires_in"] = ACCESS_TOKEN_LIFETIME
            body["refresh_token"] = refresh_token
            body["refresh_token_expires_in"] = REFRESH_TOKEN_LIFETIME
        body["scope"] = ",".join(grant.scopes)
        body["token_type"] = "bearer"
        return body

    @staticmethod
    def _token_answer(accept: str, body: Mapping[str, t.Any], *, xml_order: Sequence[str]) -> Response:
        """Encode a token endpoint answer as GitHub does: form by default, JSON or XML on request."""
        accept = accept.lower()
        if "application/json" in accept:
            text = json.dumps(dict(body), separators=(",", ":"))
            content_type = "application/json"
        elif "application/xml" in accept:
            items = "".join(f"<{key}>{xml_escape(str(body[key]))}</{key}>" for key in xml_order if key in body)
            text = f"<OAuth>{items}</OAuth>"
            content_type = "application/xml"
        else:
            text = urlencode([(key, str(value)) for key, value in body.items()])
            content_type = "application/x-www-form-urlencoded"
        response = Response(text.encode("utf-8"), status=200)
        response.headers["Content-Type"] = content_type + "; charset=utf-8"
        response.headers["Cache-Control"] = "no-store"
        return response

    # -- REST API --------------------------------------------------------------------------

    def _json(self, body: t.Any, status: int = 200, headers: Sequence[tuple[str, str]] = ()) -> Response:
        response = Response(json.dumps(body, separators=(",", ":")).encode("utf-8"), status=status)
        response.headers["Content-Type"] = "application/json; charset=utf-8"
        for name, value in headers:
            response.headers[name] = value
        return response

    def _rate_headers(self, login: str | None) -> list[tuple[str, str]]:
        now = int(self.clock())
        with self._lock:
            if login is None:
                limit, used, reset = UNAUTHENTICATED_RATE_LIMIT, 0, now + 3600
            else:
                used, reset = self._rate_used.get(login, (0, now + 3600))
                if now >= reset:
                    used, reset = 0, now + 3600
                used += 1
                self._rate_used[login] = (used, reset)
                limit = RATE_LIMIT
        return [
            ("x-ratelimit-limit", str(limit)),
            ("x-ratelimit-remaining", str(max(0, limit - used))),
            ("x-ratelimit-reset", str(reset)),
            ("x-ratelimit-used", str(used)),
            ("x-ratelimit-resource", "core"),
        ]

    def _api(self, request: Request, path: str) -> Response:
        routes: dict[str, Callable[[FakeUser], list[dict[str, t.Any]]] | None] = {
            "/user": None,
            "/user/emails": self._emails,
            "/user/orgs": self._orgs,
            "/user/teams": self._teams,
        }
        if path.startswith("/applications/") and path.endswith("/token"):
            with self._lock:
                self.api_requests += 1
            log.debug("fake github: api applications/token %s", request.method)
            return self._delete_token(request, path) if request.method == "DELETE" else self._json(_NOT_FOUND, 404)
        if path not in routes or request.method != "GET":
            log.debug("fake github: no route (%s)", request.method)
            return self._json(_NOT_FOUND, 404)
        with self._lock:
            self.api_requests += 1
        log.debug("fake github: api %s", path)
        grant, user = self._authenticate(request)
        headers = self._rate_headers(user.login)
        if int(dict(headers)["x-ratelimit-used"]) > RATE_LIMIT:
            body = dict(_RATE_LIMITED, message=_RATE_LIMITED["message"] % user.id)
            return self._json(body, 403, headers)
        headers += [
            ("x-oauth-scopes", ", ".join(grant.scopes)),
            ("x-accepted-oauth-scopes", ""),
            ("x-github-media-type", "github.v3; format=json"),
            ("x-github-api-version-selected", "2022-11-28"),
            ("cache-control", "private, max-age=60, s-maxage=60"),
            ("vary", "Accept, Authorization, Cookie, X-GitHub-OTP"),
        ]
        lister = routes[path]
        if lister is None:
            return self._json(self._profile(user), headers=headers)
        if path == "/user/emails" and not {"user", "user:email"} & set(grant.scopes):
            # GitHub hides the endpoint from tokens without the scope.
            return self._json(
                {
                    "message": "Not Found",
                    "documentation_url": _DOCS + "/rest/users/emails#list-email-addresses-for-the-authenticated-user",
                },
                404,
                headers,
            )
        return self._paginate(request, lister(user), headers)

    def _authenticate(self, request: Request) -> tuple[_Grant, FakeUser]:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        value = value.strip()
        if not header:
            raise _Reject(self._json(_REQUIRES_AUTHENTICATION, 401, self._rate_headers(None)))
        if scheme.lower() not in ("bearer", "token") or not value:
            raise _Reject(self._json(_BAD_CREDENTIALS, 401, self._rate_headers(None)))
        with self._lock:
            grant = self._find(_ACCESS, value, consume=False)
            user = None if grant is None else self._users.get(grant.login)
        if grant is None or user is None or (grant.expires_at is not None and self.clock() >= grant.expires_at):
            raise _Reject(self._json(_BAD_CREDENTIALS, 401, self._rate_headers(None)))
        return grant, user

    def _paginate(self, request: Request, items: list[dict[str, t.Any]], headers: list[tuple[str, str]]) -> Response:
        def number(name: str, default: int) -> int:
            try:
                value = int(request.GET.get(name, ""))
            except ValueError:
                return default
            return value if value > 0 else default

        per_page = min(number("per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)
        page = number("page", 1)
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        others = [(k, v) for k, v in request.GET.items() if k not in ("page", "per_page")]
        if "per_page" in request.GET:
            others.insert(0, ("per_page", str(per_page)))

        def link(number: int, rel: str) -> str:
            return f'<{request.path_url}?{urlencode([("page", str(number)), *others])}>; rel="{rel}"'

        links: list[str] = []
        if page > 1:
            links.append(link(min(page - 1, last), "prev"))
        if page < last:
            links.append(link(page + 1, "next"))
            links.append(link(last, "last"))
        if page > 1:
            links.append(link(1, "first"))
        if links:
            headers = [*headers, ("link", ", ".join(links))]
        return self._json(chunk, headers=headers)

    def _profile(self, user: FakeUser) -> dict[str, t.Any]:
        return user.profile(api_url=self.base_url + _API_PREFIX, html_url=self.base_url)

    def _emails(self, user: FakeUser) -> list[dict[str, t.Any]]:
        return user.email_entries()

    def _org(self, login: str) -> dict[str, t.Any]:
        number = _stable_id("org", login)
        org_api = f"{self.base_url}{_API_PREFIX}/orgs/{login}"
        return {
            "login": login,
            "id": number,
            "node_id": _node_id("Organization", number),
            "url": org_api,
            "repos_url": f"{org_api}/repos",
            "events_url": f"{org_api}/events",
            "hooks_url": f"{org_api}/hooks",
            "issues_url": f"{org_api}/issues",
            "members_url": f"{org_api}/members{{/member}}",
            "public_members_url": f"{org_api}/public_members{{/member}}",
            "avatar_url": _avatar(number),
            "description": None,
        }

    def _orgs(self, user: FakeUser) -> list[dict[str, t.Any]]:
        return [self._org(login) for login in user.orgs]

    def _teams(self, user: FakeUser) -> list[dict[str, t.Any]]:
        teams = []
        for entry in user.teams:
            org_login, _, slug = entry.partition("/")
            number = _stable_id("team", entry)
            team_api = f"{self.base_url}{_API_PREFIX}/teams/{number}"
            organization = self._org(org_login)
            organization.update(
                {
                    "name": org_login,
                    "company": None,
                    "blog": "",
                    "location": None,
                    "email": None,
                    "is_verified": False,
                    "has_organization_projects": True,
                    "has_repository_projects": True,
                    "public_repos": 0,
                    "public_gists": 0,
                    "followers": 0,
                    "following": 0,
                    "html_url": f"{self.base_url}/{org_login}",
                    "created_at": "2008-01-14T04:33:35Z",
                    "updated_at": "2008-01-14T04:33:35Z",
                    "type": "Organization",
                }
            )
            teams.append(
                {
                    "id": number,
                    "node_id": _node_id("Team", number),
                    "url": team_api,
                    "html_url": f"{self.base_url}/orgs/{org_login}/teams/{slug}",
                    "name": slug.replace("-", " ").title(),
                    "slug": slug,
                    "description": None,
                    "privacy": "closed",
                    "notification_setting": "notifications_enabled",
                    "permission": "pull",
                    "members_url": f"{team_api}/members{{/member}}",
                    "repositories_url": f"{team_api}/repos",
                    "parent": None,
                    "members_count": 1,
                    "repos_count": 0,
                    "created_at": "2008-01-14T04:33:35Z",
                    "updated_at": "2008-01-14T04:33:35Z",
                    "organization": organization,
                }
            )
        return teams

    def _delete_token(self, request: Request, path: str) -> Response:
        path_client_id = path[len("/applications/") : -len("/token")]
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            decoded = ""
        user, _, password = decoded.partition(":")
        if (
            scheme.lower() != "basic"
            or not _equal(user, self.client_id)
            or not _equal(password, self.client_secret)
            or not _equal(path_client_id, self.client_id)
        ):
            return self._json(_NOT_FOUND, 404)
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            data = None
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not self.revoke(token):
            return self._json(_NOT_FOUND, 404)
        return Response(status=204)  # webob sends no Content-Type with a 204


class _TokenError(Exception):
    """A token endpoint refusal, answered with HTTP 200 like GitHub does."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class _OriginalResponse:
    """The bits of :class:`http.client.HTTPResponse` that requests and urllib3 read."""

    def __init__(self, msg: http.client.HTTPMessage) -> None:
        self.msg = msg
        self._closed = False

    def close(self) -> None:
        self._closed = True

    def isclosed(self) -> bool:
        return self._closed


class WSGITransportAdapter(requests.adapters.BaseAdapter):
    """Route :mod:`requests` calls into a WSGI application in-process, without a socket.

    Like ``wsgiadapter``/``requests-wsgi-adapter``: each request becomes a WSGI environ (method,
    path, query, headers as ``HTTP_*``, body as ``wsgi.input``, scheme/host/port from the URL),
    the application is called, and its answer becomes a :class:`requests.Response`.

    .. code-block:: python

        http = requests.Session()
        http.mount("https://app.test/", WSGITransportAdapter(flask_app, script_name="/prefix"))
        http.get("https://app.test/prefix/hello")  # PATH_INFO is /hello

    ``timeout``, ``verify``, ``cert`` and ``proxies`` are accepted and ignored.

    :param app: the WSGI application to call.
    :param script_name: a mount prefix; URL paths under it are split into ``SCRIPT_NAME`` and
        ``PATH_INFO``.
    :param remote_addr: the ``REMOTE_ADDR`` the application sees.
    """

    def __init__(self, app: WSGIApplication, *, script_name: str = "", remote_addr: str = "127.0.0.1") -> None:
        super().__init__()
        self.app = app
        self.script_name = script_name.rstrip("/")
        self.remote_addr = remote_addr

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Call the application with ``request`` and return its answer."""
        url = request.url or "/"
        environ = self._environ(request, url)
        status_line = "500 Internal Server Error"
        header_list: list[tuple[str, str]] = []
        written: list[bytes] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: t.Any = None
        ) -> Callable[[bytes], object]:
            nonlocal status_line, header_list
            status_line = status
            header_list = list(headers)
            return written.append

        result = self.app(environ, start_response)
        try:
            for chunk in result:
                written.append(chunk)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        content = b"".join(written)
        return self._response(request, url, status_line, header_list, content)

    def _environ(self, request: requests.PreparedRequest, url: str) -> dict[str, t.Any]:
        parts = urlsplit(url)
        scheme = parts.scheme or "http"
        port = parts.port or (443 if scheme == "https" else 80)
        path = unquote_to_bytes(parts.path or "/").decode("latin-1")
        script_name = ""
        if self.script_name and (path == self.script_name or path.startswith(self.script_name + "/")):
            script_name, path = self.script_name, path[len(self.script_name) :]
        body = request.body
        if body is None:
            data = b""
        elif isinstance(body, str):
            data = body.encode("utf-8")
        elif isinstance(body, bytes):
            data = body
        elif hasattr(body, "read"):
            data = body.read()
        else:
            data = b"".join(chunk.encode("utf-8") if isinstance(chunk, str) else chunk for chunk in body)
        environ: dict[str, t.Any] = {
            "REQUEST_METHOD": request.method or "GET",
            "SCRIPT_NAME": script_name,
            "PATH_INFO": path,
            "QUERY_STRING": parts.query,
            "SERVER_NAME": parts.hostname or "localhost",
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": self.remote_addr,
            "HTTP_HOST": parts.netloc.rpartition("@")[2],
            "CONTENT_LENGTH": str(len(data)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": scheme,
            "wsgi.input": io.BytesIO(data),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in request.headers.items():
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = value
            elif key == "CONTENT_LENGTH":
                continue  # the real length of the body is set above
            else:
                environ["HTTP_" + key] = value
        return environ

    def _response(
        self,
        request: requests.PreparedRequest,
        url: str,
        status_line: str,
        header_list: list[tuple[str, str]],
        content: bytes,
    ) -> requests.Response:
        code, _, reason = status_line.partition(" ")
        raw_headers = HTTPHeaderDict()
        message = http.client.HTTPMessage()
        for name, value in header_list:
            raw_headers.add(name, value)
            message[name] = value
        response = requests.Response()
        response.status_code = int(code)
        response.reason = reason
        # Repeated headers are joined with ", ", as requests does for real answers.
        response.headers = CaseInsensitiveDict(raw_headers)
        response.raw = HTTPResponse(
            body=io.BytesIO(content),
            headers=raw_headers,
            status=int(code),
            reason=reason,
            preload_content=False,
            decode_content=False,
            request_method=request.method,
            request_url=url,
            # requests' Session copies cookies from ``raw._original_response.msg``.
            original_response=t.cast(t.Any, _OriginalResponse(message)),
        )
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        response.url = url
        response.request = request
        response.connection = t.cast(t.Any, self)  # typed as HTTPAdapter; any adapter works
        response.cookies.extract_cookies(
            t.cast(t.Any, requests.cookies.MockResponse(message)),
            t.cast(t.Any, requests.cookies.MockRequest(request)),
        )
        return response

    def close(self) -> None:
        """Nothing to release: no connection is ever opened."""
