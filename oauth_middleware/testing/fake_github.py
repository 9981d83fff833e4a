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

The pieces live in small modules: :mod:`.models` (accounts, grants), :mod:`.state` (codes and
tokens), :mod:`.pages` (consent page), :mod:`.token_endpoint`, :mod:`.api` (REST API) and
:mod:`.transport` (:class:`WSGITransportAdapter`); this module assembles them and keeps the old
import paths working.
"""

from __future__ import annotations

import dataclasses
import logging
import typing as t
from collections.abc import Iterable

import requests
from webob import Request, Response

from oauth_middleware.providers import GitHub, Provider

from .api import RestAPI
from .models import (
    _API_PREFIX,
    _NOT_FOUND,
    ACCESS_TOKEN_LIFETIME,
    CODE_LIFETIME,
    DEFAULT_PER_PAGE,
    MAX_PER_PAGE,
    RATE_LIMIT,
    REFRESH_TOKEN_LIFETIME,
    UNAUTHENTICATED_RATE_LIMIT,
    FakeUser,
    _Reject,
    default_users,
)
from .pages import ConsentPages
from .token_endpoint import TokenEndpoint
from .transport import WSGITransportAdapter

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)

__all__ = [
    "ACCESS_TOKEN_LIFETIME",
    "CODE_LIFETIME",
    "DEFAULT_PER_PAGE",
    "MAX_PER_PAGE",
    "RATE_LIMIT",
    "REFRESH_TOKEN_LIFETIME",
    "UNAUTHENTICATED_RATE_LIMIT",
    "FakeGitHub",
    "FakeUser",
    "WSGITransportAdapter",
    "default_users",
]


class FakeGitHub(ConsentPages, TokenEndpoint, RestAPI):
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
    BASE_URL = BASE_URL

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
