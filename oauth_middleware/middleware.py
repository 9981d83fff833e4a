"""The WSGI middleware: routes its own paths, protects, injects the user, passes through.

This is the only module that touches ``environ`` and ``start_response``. Ordinary requests take
a short path: no WebOb object is built, and a logged-in request costs a cookie split, a cache
lookup and three environ assignments.
"""

from __future__ import annotations

import html
import json
import logging
import posixpath
import re
import time
import typing as t
import warnings
from urllib.parse import parse_qsl, quote, urlsplit

from . import config
from .access import AccessPolicy
from .cookies import parse_cookie_header, set_cookie, split_own_cookies
from .crypto import Cipher
from .errors import (
    SECURITY_HEADERS,
    AccessDenied,
    BadRequest,
    ConfigurationError,
    CrossSiteRequest,
    LoginRequired,
    MethodNotAllowed,
    NotAllowed,
    OAuthMiddlewareError,
    ProviderError,
    StateError,
    html_page,
    render_error,
)
from .flow import Flow, FlowCookies
from .oauth import OAuthClient, make_http_session
from .providers import GitHub, Provider
from .redirects import safe_next
from .renewal import Renewals
from .session import Lifetimes, Session, SessionCookie

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

#: environ keys that only a valid session may set; removed from every request first, so a
#: client (``Remote-User: admin``) or an upstream layer can never pass them off as identity.
IDENTITY_KEYS = (
    "REMOTE_USER",
    "oauth_middleware.user",
    "oauth_middleware.token",
    "oauth_middleware.groups",
    "oauth_middleware.user_id",
    "HTTP_REMOTE_USER",
    "HTTP_X_REMOTE_USER",
    "HTTP_X_FORWARDED_USER",
    "HTTP_X_FORWARDED_EMAIL",
    "HTTP_X_FORWARDED_PREFERRED_USERNAME",
    "HTTP_X_AUTH_REQUEST_USER",
    "HTTP_X_AUTH_REQUEST_EMAIL",
)
_HOST_RE = re.compile(r"\A(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?\Z")
_MAX_FORM_BYTES = 16 * 1024
_CACHE_HEADERS = ("cache-control", "expires", "pragma")
NOT_ALLOWED_HELP = (
    "You are logged in to GitHub as %s, but that account is not allowed to use this application. "
    "If you belong to an allowed organisation or team, the usual causes are: your membership is "
    "private and was not shared with this application; the organisation restricts third-party "
    "OAuth application access and has not approved this one; or the organisation uses SAML single "
    "sign-on and you have not authorized this application for it. Ask an organisation owner, then "
    "log in again."
)
Headers = list[tuple[str, str]]


class OAuthMiddleware:
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
    :param secure: ``None`` sets ``Secure`` on cookies when the request is https; ``True``
        always; ``False`` never (local development only).
    :param timeout: seconds allowed to connect to the provider and for each read, or a
        ``(connect, read)`` pair; used on every provider call.
    :param allow_insecure_http: permit ``http://`` URLs for the provider and the callback, for
        local development only.
    :param allowed_users: GitHub logins (str, case-insensitive) or account ids (int, which never
        change) admitted.
    :param allowed_orgs: organisations whose members are admitted; adds ``read:org`` to the scope.
    :param allowed_teams: teams (``"org/team-slug"``) whose members are admitted; adds ``read:org``.
        With no allow-list, every GitHub user is admitted; with several, matching any one is enough.
    :param revalidate_after: seconds after which a session's profile and memberships are fetched
        again (a user removed from an allowed org loses access then); ``"auto"``: 600 when
        allow-lists are set, never otherwise; ``None``: never.
    :param idle_timeout: seconds without a request after which the session ends; ``None``: never.
    :param revoke_on_logout: also delete the token at GitHub on logout (failures are logged and
        never block the logout).
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
        revalidate_after: int | None | t.Literal["auto"] = "auto",  # 600 s with allow-lists
        idle_timeout: int | None = None,  # off: a login lasts max_age, like most GitHub logins
        revoke_on_logout: bool = False,
        clock: t.Callable[[], float] = time.time,
    ) -> None:
        if not callable(app):
            raise ConfigurationError("app must be a WSGI callable, got %r" % (app,))
        self.app = app
        self.allow_insecure_http = bool(allow_insecure_http)
        self.client_id = config.require_text(
            "client_id", client_id, hint="copy it from your GitHub OAuth app's settings"
        )
        self.client_secret = config.require_text(
            "client_secret", client_secret, hint="generate one in your GitHub OAuth app's settings"
        )
        for option, text in (("client_id", self.client_id), ("client_secret", self.client_secret)):
            if not (text.isascii() and text.isprintable()):
                raise ConfigurationError("%s must be printable ASCII, as GitHub issues it" % option)
        self.secret_keys = config.secret_keys(secret_key)
        self.provider = config.provider(
            GitHub() if provider is None else provider, allow_insecure_http=self.allow_insecure_http
        )
        self.policy = AccessPolicy.build(
            allowed_users=allowed_users, allowed_orgs=allowed_orgs, allowed_teams=allowed_teams
        )
        self.scope = config.scope(scope)
        if self.policy.needs_groups and not {"read:org", "admin:org"} & set(self.scope):
            self.scope += ("read:org",)  # private memberships are invisible without it
        self.login_path = config.path("login_path", login_path)
        self.callback_path = config.path("callback_path", callback_path)
        self.logout_path = config.path("logout_path", logout_path)
        config.distinct_paths(
            {"login_path": self.login_path, "callback_path": self.callback_path, "logout_path": self.logout_path}
        )
        self.redirect_uri = config.redirect_uri(
            redirect_uri, callback_path=self.callback_path, allow_insecure_http=self.allow_insecure_http
        )
        if isinstance(require_login, bool):
            self.require_login: bool | tuple[str, ...] = require_login
        else:
            self.require_login = config.path_prefixes("require_login", require_login)
        self.public_paths = config.path_prefixes("public_paths", public_paths)
        if isinstance(max_age, bool) or not isinstance(max_age, int) or not 0 < max_age <= 400 * 24 * 3600:
            raise ConfigurationError("max_age must be a positive whole number of seconds, got %r" % (max_age,))
        self.max_age = max_age
        if revalidate_after == "auto":
            self.revalidate_after: int | None = 600 if self.policy.restricted else None
        else:
            self.revalidate_after = config.optional_seconds("revalidate_after", revalidate_after)
        self.idle_timeout = config.optional_seconds("idle_timeout", idle_timeout)
        self.revoke_on_logout = bool(revoke_on_logout)
        self.cookie_name = config.cookie_name(cookie_name)
        self.secure = config.optional_bool("secure", secure)
        self.timeout = config.timeout(timeout)
        if not callable(clock):
            raise ConfigurationError("clock must be a callable returning seconds, like time.time")
        self.clock = clock
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
        )
        lifetimes = Lifetimes(
            max_age=self.max_age, idle_timeout=self.idle_timeout, revalidate_after=self.revalidate_after
        )
        self.sessions = SessionCookie(
            Cipher(self.secret_keys, purpose="session"), name=self.cookie_name, lifetimes=lifetimes
        )
        self.renewals = Renewals(self.client, lifetimes=lifetimes, policy=self.policy)
        self.flows = FlowCookies(Cipher(self.secret_keys, purpose="flow"), name=self.cookie_name, clock=self._now)
        self._routes: dict[str, t.Callable[[WSGIEnvironment], tuple[str, Headers, bytes]]] = {
            self.login_path: self._login,
            self.callback_path: self._callback,
            self.logout_path: self._logout,
        }
        self._public = _PrefixSet(self.public_paths)
        self._protected = _PrefixSet(("/",) if self.require_login is True else self.require_login or ())

    @classmethod
    def from_env(
        cls, app: WSGIApplication, environ: t.Mapping[str, str] | None = None, **overrides: t.Any
    ) -> OAuthMiddleware:
        """Build the middleware from environment variables: ``GITHUB_OAUTH_CLIENT_ID``,
        ``GITHUB_OAUTH_CLIENT_SECRET``, ``OAUTH_MIDDLEWARE_SECRET_KEY`` and one
        ``OAUTH_MIDDLEWARE_<OPTION>`` per option, in the formats of
        :func:`oauth_middleware.config.options_from_env`.

        .. code-block:: python

            app.wsgi_app = OAuthMiddleware.from_env(app.wsgi_app, public_paths=["/static"])

        :param app: the WSGI application to protect.
        :param environ: where to read the variables; :data:`os.environ` by default.
        :param overrides: options given in Python; they win over the environment.
        """
        return config.from_env(app, environ, middleware_class=cls, **overrides)

    def _now(self) -> float:
        return self.clock()

    # -- the request path ------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> t.Iterable[bytes]:
        for key in IDENTITY_KEYS:
            environ.pop(key, None)
        path = environ.get("PATH_INFO") or "/"
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
        loaded = self.sessions.load(cookies, secure=secure, now=now)
        if rest:
            environ["HTTP_COOKIE"] = rest
        else:
            del environ["HTTP_COOKIE"]
        extra: Headers = []
        session = None
        if loaded is not None:
            session = loaded.session
            if now >= loaded.due_at:
                outcome = self.renewals.renew(session, loaded.value, now=now)
                session = outcome.session
                if session is None:
                    extra = self.sessions.clear(secure=secure, present=cookies)
                    if outcome.ended == "not_allowed":
                        refused = NotAllowed(NOT_ALLOWED_HELP % loaded.session.username, headers=extra)
                        return render_error(environ, refused)(environ, start_response)
                elif outcome.changed:
                    extra = self.sessions.dump(session, secure=secure, present=cookies)
        else:
            # anonymous: clear a session cookie that did not open (tampered, expired, old key)
            extra = self.sessions.clear(secure=secure, present=cookies)
        if session is not None:
            environ["REMOTE_USER"] = session.username
            environ["oauth_middleware.user"] = dict(session.user)
            environ["oauth_middleware.token"] = session.environ_token()
            environ["oauth_middleware.groups"] = list(session.groups)
            if session.user_id is not None:
                environ["oauth_middleware.user_id"] = session.user_id
        elif self.require_login and self.is_protected(path):
            return self._challenge(environ, start_response, extra)
        if not extra:
            return self.app(environ, start_response)

        def start_with_cookies(status: str, headers: Headers, exc_info: t.Any = None) -> t.Callable[[bytes], object]:
            # the app's answer now carries our Set-Cookie: no shared cache may keep it (CK-7)
            kept = [(name, value) for name, value in headers if name.lower() not in _CACHE_HEADERS]
            return start_response(status, kept + [("Cache-Control", "no-store")] + extra, exc_info)

        return self.app(environ, start_with_cookies)

    def _is_secure(self, environ: WSGIEnvironment) -> bool:
        return self.secure if self.secure is not None else environ.get("wsgi.url_scheme") == "https"

    def is_protected(self, path: str) -> bool:
        """True if an anonymous request for ``path`` (relative to SCRIPT_NAME) must log in."""
        if "/." in path or "//" in path:
            # "/static/../admin" is "/admin", not under "/static"; "//admin" is "/admin" too (normpath
            # keeps exactly two leading slashes, which apps and proxies merge into one)
            path = "/" + posixpath.normpath(path).lstrip("/")
        return path in self._protected and path not in self._public

    def _challenge(
        self, environ: WSGIEnvironment, start_response: StartResponse, headers: Headers
    ) -> t.Iterable[bytes]:
        script = _quoted(environ.get("SCRIPT_NAME", ""))
        here = script + _quoted(environ.get("PATH_INFO", ""))
        query = environ.get("QUERY_STRING", "")
        if query:
            here += "?" + quote(query, safe="=&;%+:@/,!$'()*~")
        login_url = script + self.login_path + "?next=" + quote(here, safe="/")
        if _is_browser_navigation(environ):
            status, own_headers, body = _redirect("302 Found", login_url)
            start_response(status, own_headers + headers)
            return [body]
        body = json.dumps(
            {"error": LoginRequired.error, "error_description": LoginRequired.description, "login_url": login_url}
        ).encode()
        own = [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *SECURITY_HEADERS]
        start_response("401 Unauthorized", own + headers)
        return [body]

    # -- own endpoints ---------------------------------------------------------------------------

    def _respond(
        self,
        handler: t.Callable[[WSGIEnvironment], tuple[str, Headers, bytes]],
        environ: WSGIEnvironment,
        start_response: StartResponse,
    ) -> t.Iterable[bytes]:
        try:
            status, headers, body = handler(environ)
        except OAuthMiddlewareError as exc:
            response = render_error(environ, exc, login_url=self._login_url(environ) if exc.status != 405 else None)
            return response(environ, start_response)
        except Exception:
            log.exception("unexpected error in %s", handler.__name__.lstrip("_"))
            return render_error(environ, OAuthMiddlewareError())(environ, start_response)
        start_response(status, headers)
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]

    def _login_url(self, environ: WSGIEnvironment) -> str:
        return _quoted(environ.get("SCRIPT_NAME", "")) + self.login_path

    def _default_next(self, environ: WSGIEnvironment) -> str:
        return _quoted(environ.get("SCRIPT_NAME", "")) + "/"

    def _safe_next(self, value: str | None, environ: WSGIEnvironment) -> str:
        script = _quoted(environ.get("SCRIPT_NAME", ""))
        return safe_next(
            value,
            default=script + "/",
            forbidden=(script + self.login_path, script + self.callback_path, script + self.logout_path),
        )

    def _login(self, environ: WSGIEnvironment) -> tuple[str, Headers, bytes]:
        _allow_methods(environ, "GET", "HEAD")
        secure = self._is_secure(environ)
        flow = Flow.start(
            next_url=self._safe_next(_query(environ).get("next"), environ),
            redirect_uri=self.redirect_uri or self._callback_url(environ),
            now=self.clock(),
        )
        cookies = parse_cookie_header(environ.get("HTTP_COOKIE", ""))
        headers = self.flows.evictions(cookies, secure=secure)
        headers.append(self.flows.dump(flow, secure=secure))
        location = self.client.authorization_url(
            redirect_uri=flow.redirect_uri, state=flow.state, verifier=flow.verifier
        )
        log.debug("login started; redirecting to %s", self.provider.name)
        status, own, body = _redirect("302 Found", location)
        return status, own + headers, body

    def _callback_url(self, environ: WSGIEnvironment) -> str:
        host = environ.get("HTTP_HOST") or "%s:%s" % (environ.get("SERVER_NAME", ""), environ.get("SERVER_PORT", ""))
        if not _HOST_RE.match(host):
            raise BadRequest("The request's Host header is not valid.")
        scheme = environ.get("wsgi.url_scheme", "http")
        if scheme != "https" and not self.allow_insecure_http:
            log.error(
                "the callback URL would be plain http (%s://%s%s). Behind a TLS proxy, wrap the app in "
                "werkzeug's ProxyFix or set redirect_uri; for local development pass allow_insecure_http=True",
                scheme,
                host,
                self.callback_path,
            )
            raise ConfigurationError("This site's login is misconfigured (insecure callback URL).")
        return "%s://%s%s%s" % (scheme, host.lower(), _quoted(environ.get("SCRIPT_NAME", "")), self.callback_path)

    def _callback(self, environ: WSGIEnvironment) -> tuple[str, Headers, bytes]:
        _allow_methods(environ, "GET", "HEAD")
        params = _query(environ)
        secure = self._is_secure(environ)
        cookies = parse_cookie_header(environ.get("HTTP_COOKIE", ""))
        state = params.get("state")
        flow, flow_cookie = self.flows.take(state, cookies, secure=secure) if state else (None, None)
        consumed: Headers = [set_cookie(flow_cookie, None, max_age=0, secure=secure)] if flow_cookie else []
        if flow is None:
            if self.sessions.load(cookies, secure=secure, now=self.clock()) is not None:
                # a replayed or stale callback of a browser that is logged in: just go on
                status, own, body = _redirect("303 See Other", self._default_next(environ))
                return status, own + consumed, body
            log.warning("callback with a missing, unknown, expired or mismatched state")
            raise StateError(headers=consumed)
        try:
            error = params.get("error")
            if error is not None:
                if error == "access_denied":
                    log.info("login cancelled at %s", self.provider.name)
                    raise AccessDenied()
                log.warning("%s sent the callback with error=%s", self.provider.name, _printable(error))
                raise ProviderError("GitHub refused the login request (%s)." % _printable(error))
            code = params.get("code")
            if not code:
                raise BadRequest("The callback has no authorization code.")
            token = self.client.exchange_code(
                code=code, redirect_uri=flow.redirect_uri, verifier=flow.verifier, now=self.clock()
            )
            user = self.client.fetch_profile(token)
            username = user[self.provider.username_field]
            groups = self.policy.keep(self.client.fetch_groups(token)) if self.policy.needs_groups else []
            if not self.policy.admits(username, groups, user.get("id")):
                log.warning("%s logged in at %s but is not in the allow-lists", username, self.provider.name)
                raise NotAllowed(NOT_ALLOWED_HELP % username)
        except OAuthMiddlewareError as exc:
            exc.headers = tuple(exc.headers) + tuple(consumed)
            raise
        session = Session.new(user=user, token=token, username=username, groups=groups, now=self.clock())
        headers = consumed + self.sessions.dump(session, secure=secure, present=cookies)
        log.info("login succeeded for %s", session.username)
        status, own, body = _redirect("302 Found", self._safe_next(flow.next_url, environ))
        return status, own + headers, body

    def _logout(self, environ: WSGIEnvironment) -> tuple[str, Headers, bytes]:
        method = _allow_methods(environ, "GET", "HEAD", "POST")
        if method != "POST":
            next_url = self._safe_next(_query(environ).get("next"), environ)
            action = _quoted(environ.get("SCRIPT_NAME", "")) + self.logout_path
            page = html_page(
                "Log out",
                '<form method="post" action="%s"><input type="hidden" name="next" value="%s">'
                '<p>Log out of this site?</p><button type="submit">Log out</button></form>'
                % (html.escape(action), html.escape(next_url)),
            ).encode()
            headers = [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(page))),
                *SECURITY_HEADERS,
            ]
            return "200 OK", headers, page
        if self._is_cross_site(environ):
            log.warning("refused a cross-site logout")
            raise CrossSiteRequest()
        form = _form(environ)
        next_url = self._safe_next(form.get("next") or _query(environ).get("next"), environ)
        secure = self._is_secure(environ)
        cookies = parse_cookie_header(environ.get("HTTP_COOKIE", ""))
        if self.revoke_on_logout:
            self._revoke(cookies, secure=secure)
        headers = self.sessions.clear(secure=secure, present=cookies)
        headers += [
            set_cookie(name, None, max_age=0, secure=secure)
            for name in cookies
            if self.flows.is_flow_name(name, secure=secure)
        ]
        log.info("logged out")
        status, own, body = _redirect("303 See Other", next_url)
        return status, own + headers, body

    def _revoke(self, cookies: t.Mapping[str, str], *, secure: bool) -> None:
        loaded = self.sessions.load(cookies, secure=secure, now=self.clock())
        if loaded is None:
            return
        try:
            self.client.revoke(loaded.session.token["access_token"])
        except Exception:  # documented: a failure is logged and never blocks the logout
            log.warning("could not revoke the token of %s at GitHub; logged out locally", loaded.session.username)
        else:
            log.info("revoked the token of %s at GitHub", loaded.session.username)

    def _is_cross_site(self, environ: WSGIEnvironment) -> bool:
        site = environ.get("HTTP_SEC_FETCH_SITE")
        if site is not None:
            # set by the browser itself, so authoritative when sent. Origin is no substitute then:
            # a same-origin form on a page with Referrer-Policy: no-referrer (the logout page's own)
            # is posted with "Origin: null"
            return site not in ("same-origin", "none")
        origin = environ.get("HTTP_ORIGIN")
        if origin is None:
            return False
        allowed = {(environ.get("HTTP_HOST") or "").lower()}
        if self.redirect_uri:
            allowed.add(urlsplit(self.redirect_uri).netloc.lower())
        try:
            netloc = urlsplit(origin).netloc.lower()
        except ValueError:
            return True
        return origin == "null" or netloc not in allowed


class _PrefixSet:
    """Path prefixes matched on segment boundaries: ``/admin`` holds ``/admin`` and ``/admin/x``,
    not ``/administrator``. Built once; a lookup is a set probe and one ``startswith``."""

    def __init__(self, prefixes: t.Iterable[str]) -> None:
        prefixes = tuple(prefixes)
        self.everything = "/" in prefixes
        self.exact = frozenset(prefixes)
        self.parents = tuple(p + "/" for p in prefixes)

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and (self.everything or path in self.exact or path.startswith(self.parents))


def _quoted(wsgi_path: str) -> str:
    """Percent-encode a WSGI path (a latin-1 decoded byte string) for use in a URL."""
    if wsgi_path.startswith("//"):
        wsgi_path = "/" + wsgi_path.lstrip("/")  # never a protocol-relative "//host" URL
    return quote(wsgi_path.encode("latin-1", "replace"), safe="/:@!$&'()*+,;=~")


def _printable(value: str) -> str:
    return "".join(c for c in value[:64] if c.isalnum() or c in "_-.") or "unknown"


def _is_browser_navigation(environ: WSGIEnvironment) -> bool:
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        return False
    if "HTTP_X_REQUESTED_WITH" in environ:
        return False
    mode = environ.get("HTTP_SEC_FETCH_MODE")
    if mode is not None and mode != "navigate":
        return False
    return "text/html" in environ.get("HTTP_ACCEPT", "")


def _allow_methods(environ: WSGIEnvironment, *methods: str) -> str:
    method = environ.get("REQUEST_METHOD", "GET")
    if method not in methods:
        raise MethodNotAllowed(headers=[("Allow", ", ".join(methods))])
    return str(method)


def _query(environ: WSGIEnvironment) -> dict[str, str]:
    """The first value of each query parameter (hostile bytes replaced, never an exception)."""
    return _first_values(environ.get("QUERY_STRING", ""))


def _form(environ: WSGIEnvironment) -> dict[str, str]:
    """The urlencoded form body, capped at 16 KB; anything else reads as empty."""
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return {}
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return {}
    if not 0 < length <= _MAX_FORM_BYTES:
        return {}
    body = environ["wsgi.input"].read(length)
    return _first_values(body.decode("latin-1"))


def _first_values(query: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True, encoding="utf-8", errors="replace"):
        values.setdefault(name, value)
    return values


def _redirect(status: str, location: str) -> tuple[str, Headers, bytes]:
    """A bare redirect to an already validated ``location`` (no CR/LF can reach here)."""
    if "\r" in location or "\n" in location:  # defence in depth: validated values never have them
        raise BadRequest()
    return status, [("Location", location), ("Content-Length", "0"), *SECURITY_HEADERS], b""
