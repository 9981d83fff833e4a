"""The WSGI middleware: routes its own paths, protects, injects the user, passes through.

This is the only module that touches ``environ`` and ``start_response``. Ordinary requests take
a short path: no WebOb object is built, and a logged-in request costs a cookie split, a cache
lookup and three environ assignments.
"""

from __future__ import annotations

import hashlib
import logging
import time
import typing as t
import warnings
from urllib.parse import quote

from . import diagnostics, env, options
from .access import AccessPolicy
from .api import ENVIRON_KEY as API_KEY
from .api import APISession
from .cookies import split_own_cookies
from .crypto import Cipher
from .endpoints import OwnEndpoints
from .errors import (
    BadRequest,
    ConfigurationError,
    LoginRequired,
    NotAllowed,
    StoreDown,
    render_error,
)
from .flow import FlowCookies
from .identity import IDENTITY_HEADERS as IDENTITY_HEADERS
from .identity import IDENTITY_KEYS as IDENTITY_KEYS
from .identity import IdentityScrubber
from .oauth import OAuthClient
from .paths import PrefixSet, canonical_path, is_canonical, merge_slashes
from .providers import Provider
from .renewal import Renewals
from .session import Lifetimes, Session, SessionCookie
from .store import Store, StoreUnavailable
from .text import for_log
from .tickets import SessionEnded, StoreSessions, user_key
from .transport import call_budget, make_http_session
from .wsgi import QUERY_SAFE, Response, is_browser_navigation, quoted

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

_CACHE_HEADERS = ("cache-control", "expires", "pragma")
Headers = list[tuple[str, str]]


class OAuthMiddleware(OwnEndpoints):
    """Put "Log in with GitHub" in front of any WSGI application.

    The middleware owns three paths (login, callback, logout), runs the OAuth 2
    authorization-code flow with PKCE against the provider, keeps the session in an encrypted
    cookie and gives every request of a logged-in user to the wrapped app with ``REMOTE_USER``,
    ``environ["oauth_middleware.user"]`` (the profile) and ``environ["oauth_middleware.token"]``.

    .. code-block:: python

        import os

        from flask import Flask
        from oauth_middleware import OAuthMiddleware

        app = Flask(__name__)
        app.wsgi_app = OAuthMiddleware(
            app.wsgi_app,
            client_id=os.environ["GITHUB_OAUTH_CLIENT_ID"],
            client_secret=os.environ["GITHUB_OAUTH_CLIENT_SECRET"],
            secret_key=os.environ["OAUTH_MIDDLEWARE_SECRET_KEY"],
            require_login=True,
            public_paths=["/static", "/healthz"],
        )

    **Security.** ``state`` (256 random bits) and the PKCE S256 verifier are kept per login in a
    sealed cookie named after the state and checked in constant time before any call to the
    provider; cookies are AES-GCM encrypted (the token cannot be read from them), HttpOnly,
    SameSite=Lax, Secure over https; ``next`` is only ever a same-site path; the token endpoint's
    answer is validated whatever its HTTP status.

    :param app: the WSGI application to protect.
    :param client_id: the OAuth app's client id.
    :param client_secret: the OAuth app's client secret.
    :param secret_key: at least 32 random bytes (str or bytes), or a list of them: the **first**
        encrypts, **all** decrypt, so rotate by putting a new key in front (the MultiFernet order,
        the opposite of itsdangerous where the last one signs).
    :param provider: the OAuth provider; :func:`~oauth_middleware.GitHub` by default.
    :param scope: scopes to request (a list, or a space- or comma-separated string).
    :param login_path: starts a login (``?next=/path`` says where to go afterwards).
    :param callback_path: the provider sends the browser back here.
    :param logout_path: ``POST`` logs out; ``GET`` shows a confirmation form.
    :param redirect_uri: the absolute callback URL registered with the provider; by default it is
        built from the request's scheme, ``Host`` and ``SCRIPT_NAME``.
    :param require_login: ``False`` (nothing protected), ``True`` (every path) or a list of path
        prefixes to protect.
    :param public_paths: path prefixes never protected, e.g. ``("/static", "/healthz")``.
    :param max_age: absolute session lifetime in seconds (7 days), enforced server-side.
    :param cookie_name: base name of the cookies; ``__Host-`` is prepended when they are Secure.
    :param secure: ``None`` sets ``Secure`` on cookies when the request is https, and always
        when ``redirect_uri`` is https; ``True`` always; ``False`` never (local development only).
    :param timeout: seconds each provider call may take in all (connecting, sending and reading
        the whole answer), or a ``(connect, read)`` pair: connecting within the first, the whole
        call within their sum.
    :param allow_insecure_http: permit ``http://`` URLs for the provider and the callback, for
        local development only.
    :param allowed_users: GitHub logins (str, case-insensitive) or account ids (int, which never
        change) admitted.
    :param allowed_orgs: organisations whose members are admitted; adds ``read:org`` to the scope.
    :param allowed_teams: teams (``"org/team-slug"``) whose members are admitted; adds ``read:org``.
        With no allow-list, every GitHub user is admitted; with several, matching any one is enough.
    :param allowed_domains: domains of verified email addresses (or Google's ``hd``) admitted;
        needs an OpenID Connect provider.
    :param allowed_groups: groups admitted: the OpenID Connect provider's groups claim, or with
        GitHub orgs and ``org/team-slug`` teams.
    :param revalidate_after: seconds after which a session's profile and memberships are fetched
        again (a user removed from an allowed org loses access then); ``"auto"``: 600 when
        allow-lists are set, never otherwise; ``None``: never.
    :param revalidate_grace: seconds a due re-validation may keep failing because GitHub cannot
        be reached (the session is kept meanwhile, retried every minute) before the session
        ends: 3600. A rate limit on the user's own token is no outage: it ends the session at
        once, since the user can cause it.
    :param idle_timeout: seconds without a request after which the session ends; ``None``: never.
    :param revoke_on_logout: also delete the token at GitHub on logout (failures are logged and
        never block the logout).
    :param strip_identity_headers: more request header names to remove from every request, in
        addition to the families auth proxies use (``X-Forwarded-User``, ``X-Auth-Request-*``,
        ``Remote-*``, ...: :data:`oauth_middleware.identity.IDENTITY_HEADERS`); a name also
        removes longer names it begins.
    :param store: where sessions live: ``None`` in the encrypted cookie; a
        :class:`~oauth_middleware.store.Store` (``RedisStore(client=...)``) or a ``redis://`` /
        ``rediss://`` URL on the server, the cookie holding only a ticket (logout then ends the
        session on every host, :meth:`revoke_user` logs a user out everywhere, and login states
        and token refreshes are single across hosts); ``"memory"`` in this process.
    :param clock: returns the current time in seconds; tests inject a fake one.

    .. versionadded:: 1.0
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        client_id: str,
        client_secret: str,
        secret_key: str | bytes | t.Sequence[str | bytes],
        provider: Provider | None = None,  # None: GitHub() (github.com)
        scope: str | t.Sequence[str] = ("read:user", "user:email"),  # enough for /user and the email
        login_path: str = "/auth/login",
        callback_path: str = "/auth/callback",
        logout_path: str = "/auth/logout",
        redirect_uri: str | None = None,  # None: built from each request (set it in production)
        require_login: bool | t.Sequence[str] = False,  # opt in: wrapping alone changes nothing
        public_paths: t.Sequence[str] = (),
        max_age: int = 7 * 24 * 3600,  # a week, enforced from the sealed issue time
        cookie_name: str = "oauth_session",
        secure: bool | None = None,  # None: follow the request's scheme
        timeout: float | tuple[float, float] = 10.0,  # below gunicorn's 30 s worker timeout
        allow_insecure_http: bool = False,  # http only when someone asks for it by name
        allowed_users: t.Sequence[str | int] = (),
        allowed_orgs: t.Sequence[str] = (),
        allowed_teams: t.Sequence[str] = (),
        allowed_domains: t.Sequence[str] = (),  # verified email domains (OpenID Connect)
        allowed_groups: t.Sequence[str] = (),  # the provider's groups claim
        revalidate_after: int | None | t.Literal["auto"] = "auto",  # 600 s with allow-lists
        revalidate_grace: int = 3600,  # an hour-long GitHub outage logs nobody out; never unbounded
        idle_timeout: int | None = None,  # off: a login lasts max_age, like most GitHub logins
        revoke_on_logout: bool = False,
        strip_identity_headers: t.Sequence[str] = (),  # added to IDENTITY_HEADERS, never replacing them
        store: Store | str | None = None,  # None: sessions live in the encrypted cookie, no server needed
        clock: t.Callable[[], float] = time.time,
    ) -> None:
        given = dict(locals())  # the options by name, for the table (tests check it matches this signature)
        if not callable(app):
            raise ConfigurationError("app must be a WSGI callable, got %r" % (app,), option="app")
        self.app = app
        settings = options.validate({option.name: given[option.name] for option in options.OPTIONS})
        self.client_id: str = settings["client_id"]
        self.client_secret: str = settings["client_secret"]
        self.secret_keys: tuple[bytes, ...] = settings["secret_key"]
        self.allow_insecure_http: bool = settings["allow_insecure_http"]
        self.provider: Provider = settings["provider"]
        self.policy = AccessPolicy.of(
            settings["allowed_users"],
            settings["allowed_orgs"],
            settings["allowed_teams"],
            settings["allowed_domains"],
            settings["allowed_groups"],
        )
        self.scope: tuple[str, ...] = settings["scope"]
        self.login_path: str = settings["login_path"]
        self.callback_path: str = settings["callback_path"]
        self.logout_path: str = settings["logout_path"]
        self.redirect_uri: str | None = settings["redirect_uri"]
        self.require_login: bool | tuple[str, ...] = settings["require_login"]
        self.public_paths: tuple[str, ...] = settings["public_paths"]
        self.max_age: int = settings["max_age"]
        self.revalidate_after: int | None = settings["revalidate_after"]
        self.revalidate_grace: int = settings["revalidate_grace"]
        self.idle_timeout: int | None = settings["idle_timeout"]
        self.revoke_on_logout: bool = settings["revoke_on_logout"]
        self.cookie_name: str = settings["cookie_name"]
        self.secure: bool | None = settings["secure"]
        self.timeout: float | tuple[float, float] = settings["timeout"]
        self.clock: t.Callable[[], float] = settings["clock"]
        self.strip_identity_headers: tuple[str, ...] = settings["strip_identity_headers"]
        self._scrubber = IdentityScrubber(extra=self.strip_identity_headers)
        self._known_clean = self._scrubber.known_clean  # bound once: this runs on every request
        self.store: Store | None = settings["store"]
        diagnostics.check_not_wrapped_twice(app, cookie_name=self.cookie_name, kind=OAuthMiddleware)
        if self.allow_insecure_http:
            message = "allow_insecure_http=True: OAuth over plain http is for local development only"
            warnings.warn(message, stacklevel=2)
            log.warning(message)

        #: the pooled HTTP session every provider call goes through (mount test adapters here)
        self.http = make_http_session()
        self.client = OAuthClient(
            self.provider,
            client_id=self.client_id,
            client_secret=self.client_secret,
            scope=self.scope,
            http=self.http,
            timeout=self.timeout,
            allow_insecure_http=self.allow_insecure_http,
            clock=self._now,
        )
        lifetimes = Lifetimes(
            max_age=self.max_age,
            idle_timeout=self.idle_timeout,
            revalidate_after=self.revalidate_after,
            revalidate_grace=self.revalidate_grace,
        )
        self.sessions: SessionCookie | StoreSessions
        if self.store is None:
            self.sessions = SessionCookie(
                Cipher(self.secret_keys, purpose="session"),
                name=self.cookie_name,
                lifetimes=lifetimes,
                derive=self.provider.derived_profile,
            )
        else:
            self.sessions = StoreSessions(
                Cipher(self.secret_keys, purpose="ticket"),
                self.store,
                name=self.cookie_name,
                lifetimes=lifetimes,
                clock=self._now,
                derive=self.provider.derived_profile,
                namespace=_user_namespace(self.provider, self.client_id),
            )
        self.renewals = Renewals(
            self.client, lifetimes=lifetimes, policy=self.policy, store=self.store, budget=call_budget(self.timeout)
        )
        self.flows = FlowCookies(
            Cipher(self.secret_keys, purpose="flow"), name=self.cookie_name, clock=self._now, store=self.store
        )
        self.diagnostics = diagnostics.Diagnostics(clock=self._now)
        self._routes: dict[str, t.Callable[[WSGIEnvironment], Response]] = {
            self.login_path: self._login,
            self.callback_path: self._callback,
            self.logout_path: self._logout,
        }
        self._public = PrefixSet(self.public_paths)
        self._protected = PrefixSet(("/",) if self.require_login is True else self.require_login or ())

    @classmethod
    def from_env(
        cls, app: WSGIApplication, environ: t.Mapping[str, str] | None = None, **overrides: t.Any
    ) -> OAuthMiddleware:
        """Build the middleware from environment variables: ``GITHUB_OAUTH_CLIENT_ID``,
        ``GITHUB_OAUTH_CLIENT_SECRET``, ``OAUTH_MIDDLEWARE_SECRET_KEY`` and one
        ``OAUTH_MIDDLEWARE_<OPTION>`` per option, in the formats of
        :func:`oauth_middleware.config.options_from_env`. A refused value read from a variable
        is reported under the variable's name.

        .. code-block:: python

            app.wsgi_app = OAuthMiddleware.from_env(app.wsgi_app, public_paths=["/static"])

        :param app: the WSGI application to protect.
        :param environ: where to read the variables; :data:`os.environ` by default.
        :param overrides: options given in Python; they win over the environment.
        """
        return env.from_env(app, environ, middleware_class=cls, **overrides)

    # -- operators (server-side sessions) -----------------------------------------------------------

    def _store_sessions(self) -> StoreSessions:
        if not isinstance(self.sessions, StoreSessions):
            raise ConfigurationError(
                "sessions live in the browser's cookie (store=None), so they cannot be listed or revoked "
                "from the server: pass store='rediss://...' (or a Store) to keep them on the server",
                option="store",
            )
        return self.sessions

    def revoke_user(self, user_id: str | int) -> int:
        """End every session of a user at once, on every host (a stolen laptop, someone who left).

        Needs ``store``. ``user_id`` is the account id (``environ["oauth_middleware.user_id"]``).

        .. code-block:: python

            middleware.revoke_user(583231)   # returns how many sessions ended
        """
        return self._store_sessions().revoke_user(str(user_id))

    def revoke_session(self, session_id: str) -> bool:
        """End one session by id (as :meth:`user_sessions` lists them); needs ``store``."""
        return self._store_sessions().revoke_session(session_id)

    def sessions_users(self) -> list[str]:
        """The account ids that have (or recently had) sessions; needs ``store``."""
        return self._store_sessions().users()

    def user_sessions(self, user_id: str | int) -> set[str]:
        """The ids of a user's live sessions; needs ``store``."""
        return self._store_sessions().user_sessions(str(user_id))

    def _now(self) -> float:
        return self.clock()

    # -- the request path ------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> t.Iterable[bytes]:
        if not self._known_clean(environ):  # one C-level set test in the usual case
            for key in self._scrubber.spoofed(environ):
                del environ[key]
        path = environ.get("PATH_INFO") or "/"
        if ("/." in path or path[0] != "/") and not is_canonical(path):
            return self._to_canonical(environ, start_response, path)
        handler = self._routes.get(path)
        if handler is not None:
            return self._respond(handler, environ, start_response)
        header = environ.get("HTTP_COOKIE")
        if header and self.cookie_name in header:
            return self._with_cookies(environ, start_response, header, path)
        if self.require_login and self.is_protected(path):
            return self._challenge(environ, start_response, [])
        return self.app(environ, start_response)

    def _with_cookies(
        self, environ: WSGIEnvironment, start_response: StartResponse, header: str, path: str
    ) -> t.Iterable[bytes]:
        cookies, rest = split_own_cookies(header, self.cookie_name)  # only ours are needed below
        secure = self._is_secure(environ)
        now = self.clock()
        if rest:
            environ["HTTP_COOKIE"] = rest
        else:
            del environ["HTTP_COOKIE"]
        extra: Headers = []
        session = None
        sealed = ""
        try:
            loaded = self.sessions.load(cookies, secure=secure, now=now)
            if loaded is not None:
                session, sealed = loaded.session, loaded.value
                if now >= loaded.due_at:
                    outcome = self.renewals.renew(
                        session,
                        loaded.value,
                        now=now,
                        reload=lambda: self.sessions.load(cookies, secure=secure, now=now),
                    )
                    session = outcome.session
                    if session is None:
                        extra = self._end_session(loaded.session, cookies, secure=secure, everywhere=outcome.ended)
                        if outcome.ended == "not_allowed":
                            refused = NotAllowed(self._not_allowed_help(loaded.session.username), headers=extra)
                            return self._render(environ, refused)(environ, start_response)
                    elif outcome.changed:
                        try:
                            extra = self.sessions.dump(session, secure=secure, present=cookies, previous=loaded.value)
                        except SessionEnded:  # logged out or revoked on another host meanwhile
                            session, extra = None, self.sessions.clear(secure=secure, present=cookies)
            else:
                # anonymous: clear a session cookie that did not open (tampered, expired, old key)
                extra = self.sessions.clear(secure=secure, present=cookies)
                if extra:  # and say so if another worker's key sealed it
                    self.diagnostics.foreign_key(
                        "session", self.sessions.cipher, cookies.get(self.sessions.cookie_name(secure))
                    )
        except StoreUnavailable as exc:
            return self._store_down(environ, start_response, path, exc)
        api: APISession | None = None
        if session is not None:
            environ["REMOTE_USER"] = session.username
            environ["oauth_middleware.user"] = dict(session.user)
            token = environ["oauth_middleware.token"] = session.environ_token()
            environ["oauth_middleware.groups"] = list(session.groups)
            if session.user_id is not None:
                environ["oauth_middleware.user_id"] = session.user_id
            if "refresh_token" in session.token:  # may be refreshed by the app's API calls: watch for its cookie
                api = environ[API_KEY] = APISession(
                    self, session, sealed, secure=secure, present=cookies, environ_token=token
                )
            else:  # built by api_session() on first use: most requests never call the API
                environ[API_KEY] = (self, session, sealed, secure, cookies, token)
        elif self.require_login and self.is_protected(path):
            return self._challenge(environ, start_response, extra)
        if not extra and api is None:
            return self.app(environ, start_response)

        def start_with_cookies(status: str, headers: Headers, exc_info: t.Any = None) -> t.Callable[[bytes], object]:
            # an expiring token refreshed by the app's API calls makes the newest session of all
            set_cookies = extra if api is None or api.cookie_headers is None else api.cookie_headers
            if api is not None:
                api.response_started = True
            if not set_cookies:
                return start_response(status, headers, exc_info)
            # the app's answer now carries our Set-Cookie: no shared cache may keep it (CK-7)
            kept = [(name, value) for name, value in headers if name.lower() not in _CACHE_HEADERS]
            return start_response(status, kept + [("Cache-Control", "no-store")] + set_cookies, exc_info)

        return self.app(environ, start_with_cookies)

    def _end_session(
        self, session: Session, cookies: t.Mapping[str, str], *, secure: bool, everywhere: str | None
    ) -> Headers:
        """End a session a renewal refused: clear the cookie; with a store, delete it there too,
        and every session of the user when they are no longer admitted (STORE-4)."""
        if isinstance(self.sessions, StoreSessions):
            if everywhere == "not_allowed":
                self.sessions.revoke_user(user_key(session))
            else:
                self.sessions.end(cookies, secure=secure)
        return self.sessions.clear(secure=secure, present=cookies)

    def _store_down(
        self, environ: WSGIEnvironment, start_response: StartResponse, path: str, exc: StoreUnavailable
    ) -> t.Iterable[bytes]:
        """The session store cannot answer: fail closed on protected paths (503 with Retry-After),
        let public ones through anonymously, and keep the browser's cookie for when it is back."""
        self.diagnostics.store_down(exc)
        if self.require_login and self.is_protected(path):
            return self._render(environ, StoreDown())(environ, start_response)
        return self.app(environ, start_response)

    def _is_secure(self, environ: WSGIEnvironment) -> bool:
        return self.secure if self.secure is not None else environ.get("wsgi.url_scheme") == "https"

    def is_protected(self, path: str) -> bool:
        """True if an anonymous request for ``path`` (``PATH_INFO``, relative to SCRIPT_NAME) must
        log in: when the path is protected as sent, or once its ``//`` runs are merged (routers
        differ on empty segments, so either reading counts). A path with dot segments is judged
        by its canonical form; the middleware never passes such a path to the app (PATH-1).
        """
        if not is_canonical(path):
            path = canonical_path(path)
        if path in self._protected and path not in self._public:
            return True
        if "//" in path:
            merged = merge_slashes(path)
            return merged in self._protected and merged not in self._public
        return False

    def _to_canonical(self, environ: WSGIEnvironment, start_response: StartResponse, path: str) -> t.Iterable[bytes]:
        """A path with dot segments or without its leading ``/``: routers would read it in
        different ways, so the app never gets it (PATH-1, PATH-3). GET and HEAD are redirected to
        the canonical spelling (308 keeps the method), anything else is refused with 400."""
        if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            log.info("refused a %s request for a path with dot segments", for_log(environ.get("REQUEST_METHOD", "")))
            refused = BadRequest(
                "The request path has '.' or '..' segments or lacks its leading '/'. Send the path in its "
                "canonical form."
            )
            return render_error(environ, refused)(environ, start_response)
        script = environ.get("SCRIPT_NAME", "").rstrip("/")
        location = quoted(script + canonical_path(path))
        query_string = environ.get("QUERY_STRING", "")
        if query_string:
            location += "?" + quote(query_string, safe=QUERY_SAFE)
        return Response.redirect(location, status=308)(environ, start_response)

    def _challenge(
        self, environ: WSGIEnvironment, start_response: StartResponse, headers: Headers
    ) -> t.Iterable[bytes]:
        script = quoted(environ.get("SCRIPT_NAME", ""))
        here = script + quoted(environ.get("PATH_INFO", ""))
        query_string = environ.get("QUERY_STRING", "")
        if query_string:
            here += "?" + quote(query_string, safe=QUERY_SAFE)
        login_url = script + self.login_path + "?next=" + quote(here, safe="/")
        if is_browser_navigation(environ):
            return Response.redirect(login_url, headers=headers)(environ, start_response)
        payload = {"error": LoginRequired.error, "error_description": LoginRequired.description, "login_url": login_url}
        return Response.json(payload, status=401, headers=headers)(environ, start_response)

    # -- own endpoints ---------------------------------------------------------------------------


def _user_namespace(provider: Provider, client_id: str) -> str:
    """The per-user index's namespace in a shared store: a short hash of the provider (its issuer,
    or its authorization endpoint) and the app's client id: account ids are unique only within
    them."""
    where = getattr(provider, "issuer", "") or provider.authorize_url
    return hashlib.sha256(("%s\n%s" % (where, client_id)).encode()).hexdigest()[:12] + ":"
