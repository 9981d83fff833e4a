"""Calling the provider's API as the logged-in user.

On every request with a session the middleware puts an :class:`APISession` in
``environ["oauth_middleware.api"]``; :func:`api_session` fetches it. It is a small object until it
is first used, so a request that never calls the API pays one allocation. It answers like a
:class:`requests.Session` (``get``, ``post``, ..., returning :class:`requests.Response`) and adds
what every call to GitHub needs: the API base URL (``api.get("/user")``), the provider's headers,
the user's token, the middleware's timeout, no cookies, rate limits as :class:`RateLimited`, and a
token refresh when an expiring token is due, written back to the browser's cookie.
"""

from __future__ import annotations

import collections.abc as cabc
import http.cookiejar
import logging
import re
import typing as t

import requests
import urllib3.util

from .errors import LoginRequired, NotAllowed, StoreDown, TokenRevoked
from .renewal import Outcome
from .store import StoreUnavailable
from .text import for_log
from .tickets import SessionEnded
from .transport import provider_call as _provider_call

if t.TYPE_CHECKING:
    from .middleware import OAuthMiddleware
    from .session import Session

log = logging.getLogger(__name__)

#: The environ key holding the request's :class:`APISession` (absent when anonymous).
ENVIRON_KEY = "oauth_middleware.api"
#: What replaces the token in ``response.request.headers`` once a call is done.
REDACTED = "Bearer [redacted]"
_DEFAULT_PORTS = {"https": 443, "http": 80}
#: A URL with a scheme and an authority, or a scheme-relative one (``//host/path``).
_ABSOLUTE = re.compile(r"\A\s*(?:[A-Za-z][A-Za-z0-9+.-]*:)?[/\\]{2}")


def api_session(environ: t.Mapping[str, t.Any]) -> APISession:
    """The :class:`APISession` of the request's logged-in user.

    .. code-block:: python

        from oauth_middleware import api_session

        @app.route("/repos")
        def repos():
            github = api_session(flask.request.environ)
            return github.get("/user/repos", params={"per_page": 10}).json()

    :param environ: the WSGI environ of a request that went through the middleware.
    :raises LoginRequired: the request has no logged-in user (anonymous, or the app is not
        wrapped in :class:`~oauth_middleware.OAuthMiddleware`).
    """
    api = environ.get(ENVIRON_KEY)
    if isinstance(api, tuple) and len(api) == 6:  # what the middleware left: built on first use
        middleware, session, value, secure, present, token = api
        api = APISession(middleware, session, value, secure=secure, present=present, environ_token=token)
        if isinstance(environ, cabc.MutableMapping):
            environ[ENVIRON_KEY] = api  # the same object for the rest of the request
    if not isinstance(api, APISession):
        raise LoginRequired(
            "api_session() needs a logged-in user, and this request has none (it is anonymous, or the "
            "app is not wrapped in OAuthMiddleware): protect the path with require_login, or check "
            "environ.get('REMOTE_USER') first."
        )
    return api


class ForeignURLError(ValueError):
    """A call to a URL outside the provider's API, which must never receive the user's token."""


class APISession:
    """The provider's REST API, called as the request's user; answers like :class:`requests.Session`.

    .. code-block:: python

        github = api_session(environ)            # or environ["oauth_middleware.api"]
        me = github.get("/user").json()          # https://api.github.com/user
        github.post("/user/repos", json={"name": "hello"})

    Relative paths are resolved against :attr:`base_url` (``https://api.github.com/``, or
    ``BASE/api/v3/`` for GitHub Enterprise Server), with or without a leading ``/``.

    **Security.** The token goes only in the ``Authorization`` header of requests to the API's own
    scheme, host, port and path prefix: an absolute URL elsewhere raises :class:`ForeignURLError`
    before anything is sent, and a redirect elsewhere is followed without the token. It never
    goes in a URL, a log line or an exception: connection failures are raised as
    :class:`~oauth_middleware.ProviderError` / :class:`~oauth_middleware.ProviderTimeout` without
    the underlying request, and ``response.request.headers["Authorization"]`` is redacted once a
    call is done. Cookies the API sets are never kept, so nothing passes from one user's calls to
    another's. One object per request, used by that request's thread; not to be kept.

    Every call gets the middleware's ``timeout`` (unless it passes its own), the provider's
    ``Accept`` and ``X-GitHub-Api-Version`` headers (a header passed to the call wins) and the
    middleware's HTTP session (connection pools, ``verify``, proxies, mounted adapters). A rate
    limit answer (403 or 429 with ``x-ratelimit-remaining: 0`` or ``Retry-After``) raises
    :class:`~oauth_middleware.RateLimited`, with ``retry_after`` and ``reset_at``; every other
    answer, 401 and 404 included, is returned as it is.

    An expiring token (GitHub Apps) that is due, or expired, is refreshed before the call through
    the middleware's once-per-session renewal; the new token is used at once, replaces
    ``environ["oauth_middleware.token"]``, and reaches the browser's cookie on this response if
    the app has not started its response yet (a Flask view has not). If GitHub refuses the refresh,
    the call raises :class:`~oauth_middleware.errors.TokenRevoked` and the response ends the session.

    .. versionadded:: 1.0
    """

    __slots__ = (
        "_middleware",
        "_session",
        "_value",
        "_secure",
        "_present",
        "_environ_token",
        "_http",
        "_ended",
        "cookie_headers",
        "response_started",
    )

    def __init__(
        self,
        middleware: OAuthMiddleware,
        session: Session,
        value: str,
        *,
        secure: bool,
        present: t.Container[str],
        environ_token: dict[str, t.Any],
    ) -> None:
        self._middleware = middleware
        self._session = session
        self._value = value  # the sealed cookie the request came with: the key of its renewal
        self._secure = secure
        self._present = present
        self._environ_token = environ_token
        self._http: _UserHTTP | None = None
        self._ended: Exception | None = None
        #: ``Set-Cookie`` headers the response must carry after a renewal made here, or ``None``.
        self.cookie_headers: list[tuple[str, str]] | None = None
        #: set by the middleware once the app has called ``start_response``.
        self.response_started = False

    def __repr__(self) -> str:
        return "<APISession %s as %s>" % (self.base_url, self._session.username)

    @property
    def base_url(self) -> str:
        """The API base URL relative paths are resolved against, ending in ``/``."""
        return self._middleware.provider.api_base_url

    def request(self, method: str, url: str, **kwargs: t.Any) -> requests.Response:
        """Send one request (the arguments of :meth:`requests.Session.request`).

        :param url: a path relative to :attr:`base_url` (``"/user"`` or ``"user"``), or an
            absolute URL under it.
        :raises ForeignURLError: ``url`` is outside the API.
        :raises RateLimited: the API answered that a rate limit was reached.
        :raises ProviderError: the API could not be reached (``ProviderTimeout``: in time).
        """
        url = self._resolve(url)
        self._refresh_if_due()
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._middleware.timeout
        headers = dict(self._middleware.provider.api_headers)
        headers.update(kwargs.pop("headers", None) or {})
        http = self._client()
        provider = self._middleware.provider
        with _provider_call(kwargs["timeout"], provider.display_name):  # a total deadline, as for the middleware's
            response = http.request(method, url, headers=headers, **kwargs)
        for sent in (*response.history, response):
            if "Authorization" in sent.request.headers:
                sent.request.headers["Authorization"] = REDACTED
        limited = provider.rate_limit(response.status_code, response.headers, now=self._middleware.clock())
        if limited is not None:
            response.close()
            log.warning(
                "%s API rate limit reached for %s (HTTP %d)",
                provider.display_name,
                for_log(self._session.username),
                response.status_code,
            )
            raise limited
        return response

    def get(self, url: str, **kwargs: t.Any) -> requests.Response:
        """``GET url``; see :meth:`request`."""
        return self.request("GET", url, **kwargs)

    def options(self, url: str, **kwargs: t.Any) -> requests.Response:
        """``OPTIONS url``; see :meth:`request`."""
        return self.request("OPTIONS", url, **kwargs)

    def head(self, url: str, **kwargs: t.Any) -> requests.Response:
        """``HEAD url`` (no redirects followed unless asked); see :meth:`request`."""
        kwargs.setdefault("allow_redirects", False)
        return self.request("HEAD", url, **kwargs)

    def post(self, url: str, data: t.Any = None, json: t.Any = None, **kwargs: t.Any) -> requests.Response:
        """``POST url``; see :meth:`request`."""
        return self.request("POST", url, data=data, json=json, **kwargs)

    def put(self, url: str, data: t.Any = None, **kwargs: t.Any) -> requests.Response:
        """``PUT url``; see :meth:`request`."""
        return self.request("PUT", url, data=data, **kwargs)

    def patch(self, url: str, data: t.Any = None, **kwargs: t.Any) -> requests.Response:
        """``PATCH url``; see :meth:`request`."""
        return self.request("PATCH", url, data=data, **kwargs)

    def delete(self, url: str, **kwargs: t.Any) -> requests.Response:
        """``DELETE url``; see :meth:`request`."""
        return self.request("DELETE", url, **kwargs)

    # -- internals -------------------------------------------------------------------------------

    def _resolve(self, url: str) -> str:
        if not isinstance(url, str):
            raise TypeError("url must be a str, got %s" % type(url).__name__)
        if not _ABSOLUTE.match(url):
            return self.base_url + url.lstrip("/")
        if not _within(url, self.base_url):
            raise ForeignURLError(
                "refusing to call %s with the user's token: api_session() only calls %s. Use another HTTP "
                "client for other hosts" % (_host_of(url), self.base_url)
            )
        return url

    def _client(self) -> _UserHTTP:
        if self._http is None:
            self._http = _UserHTTP(self._middleware.http, self.base_url, self._token)
        return self._http

    def _token(self) -> str:
        return str(self._session.token["access_token"])

    def _refresh_if_due(self) -> None:
        if self._ended is not None:
            raise self._ended
        token = self._session.token
        expires_at = token.get("expires_at")
        if not token.get("refresh_token") or not isinstance(expires_at, (int, float)):
            return
        middleware = self._middleware
        now = middleware.clock()
        if now < expires_at - middleware.sessions.lifetimes.refresh_margin:
            return

        cookies = self._present if isinstance(self._present, cabc.Mapping) else {}
        cookie_headers: list[tuple[str, str]] | None = None
        try:
            outcome = middleware.renewals.renew(
                self._session,
                self._value,
                now=now,
                reload=lambda: middleware.sessions.load(cookies, secure=self._secure, now=now),
            )
            if outcome.changed and outcome.session is not None:
                cookie_headers = middleware.sessions.dump(
                    outcome.session, secure=self._secure, present=self._present, previous=self._value
                )
        except SessionEnded:  # logged out or revoked on another host while it was renewed
            outcome = Outcome(None, ended="revoked")
        except StoreUnavailable:  # the session store is down (STORE-7): never a 500 from here
            if now < expires_at:
                log.warning("the session store did not answer; calling the API with the current token")
                return
            raise StoreDown() from None
        if outcome.session is None:
            self.cookie_headers = middleware.sessions.clear(secure=self._secure, present=self._present)
            self._ended = NotAllowed() if outcome.ended == "not_allowed" else TokenRevoked()
            self._environ_token.clear()
            raise self._ended
        if outcome.session is self._session:
            return
        # refreshed here (a cookie to send), or by another host (already saved in the store)
        self._session = outcome.session
        if cookie_headers is not None:
            self.cookie_headers = cookie_headers
        self._environ_token.clear()
        self._environ_token.update(outcome.session.environ_token())
        if cookie_headers and self.response_started:
            log.warning(
                "refreshed the token of %s after the response had started: the browser gets the new "
                "session on its next request (within a couple of minutes, or the session ends); "
                "call the API before starting the response",
                for_log(self._session.username),
            )


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """Keep no cookie from the API: nothing may pass from one user's calls to another's."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: t.Any) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: t.Any) -> bool:
        return False


class _UserHTTP(requests.Session):
    """A requests session over the middleware's adapters that adds the user's token at send
    time, to requests for the API's own URLs only (redirects included)."""

    def __init__(self, shared: requests.Session, base_url: str, token: t.Callable[[], str]) -> None:
        super().__init__()
        for prefix, adapter in shared.adapters.items():
            self.mount(prefix, adapter)  # the middleware's pools and any mounted test adapters
        self.headers.update(shared.headers)
        self.verify = shared.verify
        self.cert = shared.cert
        self.proxies = dict(shared.proxies)
        self.trust_env = shared.trust_env
        self.cookies.set_policy(_NoCookies())
        self.base_url = base_url
        self.token = token

    def send(self, request: requests.PreparedRequest, **kwargs: t.Any) -> requests.Response:
        if request.url and _within(request.url, self.base_url):
            request.headers["Authorization"] = "Bearer " + self.token()
        elif request.headers.get("Authorization", "").startswith("Bearer "):
            del request.headers["Authorization"]  # requests strips it on a redirect to another host too
        return super().send(request, **kwargs)


def _within(url: str, base_url: str) -> bool:
    """True if ``url`` has ``base_url``'s scheme, host and port and a path under its path,
    as urllib3 (which makes the connection) reads both."""
    try:
        target, base = urllib3.util.parse_url(url), urllib3.util.parse_url(base_url)
    except (ValueError, urllib3.exceptions.LocationParseError):
        return False
    if target.auth or not target.scheme or not target.host:
        return False
    scheme = target.scheme.lower()
    return (
        scheme == base.scheme
        and target.host.lower() == (base.host or "").lower()
        and (target.port or _DEFAULT_PORTS.get(scheme)) == (base.port or _DEFAULT_PORTS.get(scheme))
        and (target.path or "/").startswith(base.path or "/")
    )


def _host_of(url: str) -> str:
    try:
        host = urllib3.util.parse_url(url).host
    except (ValueError, urllib3.exceptions.LocationParseError):
        host = None
    return "".join(c for c in (host or "another host")[:100] if c.isprintable())
