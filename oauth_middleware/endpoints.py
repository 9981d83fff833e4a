"""The middleware's own endpoints: login, callback, logout (and the dispatch that turns their
answers and errors into responses).

:class:`OwnEndpoints` is a base of :class:`~oauth_middleware.OAuthMiddleware`: its methods use the
middleware's configuration and components, declared below, and each returns a neutral
:class:`~oauth_middleware.wsgi.Response`; nothing here calls ``start_response`` but the dispatch.
"""

from __future__ import annotations

import html
import logging
import re
import typing as t
from urllib.parse import urlsplit

from . import diagnostics
from .cookies import parse_cookie_header, set_cookie
from .errors import (
    AccessDenied,
    BadRequest,
    ConfigurationError,
    CrossSiteRequest,
    MethodNotAllowed,
    NotAllowed,
    OAuthMiddlewareError,
    ProviderError,
    StateError,
    StoreDown,
    render_error,
)
from .flow import Flow
from .redirects import safe_next
from .session import Session
from .store import StoreUnavailable
from .text import display_login, for_log
from .tickets import StoreSessions, user_key
from .wsgi import Headers, Response, form, query, quoted

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from .access import AccessPolicy
    from .diagnostics import Diagnostics
    from .flow import FlowCookies
    from .oauth import OAuthClient
    from .providers import Provider
    from .session import SessionCookie

log = logging.getLogger("oauth_middleware.middleware")  # one logger name for the middleware's lines

_HOST_RE = re.compile(r"\A(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?\Z")


class OwnEndpoints:
    """Login, logout and the dispatch of the middleware's own paths (a base of
    :class:`~oauth_middleware.OAuthMiddleware`, which sets every attribute declared here)."""

    login_path: str
    callback_path: str
    logout_path: str
    redirect_uri: str | None
    allow_insecure_http: bool
    revoke_on_logout: bool
    provider: Provider
    client: OAuthClient
    flows: FlowCookies
    sessions: SessionCookie | StoreSessions
    diagnostics: Diagnostics
    policy: AccessPolicy
    clock: t.Callable[[], float]

    def _is_secure(self, environ: WSGIEnvironment) -> bool:
        raise NotImplementedError  # the middleware's

    def _respond(
        self,
        handler: t.Callable[[WSGIEnvironment], Response],
        environ: WSGIEnvironment,
        start_response: StartResponse,
    ) -> t.Iterable[bytes]:
        try:
            try:
                response = handler(environ)
            except StoreUnavailable as down:
                self.diagnostics.store_down(down)
                raise StoreDown() from None
        except OAuthMiddlewareError as exc:
            response = self._render(environ, exc, login_url=self._login_url(environ) if exc.status != 405 else None)
        except Exception:
            log.exception("unexpected error in %s", handler.__name__.lstrip("_"))
            response = self._render(environ, OAuthMiddlewareError())
        return response(environ, start_response)

    def _render(self, environ: WSGIEnvironment, exc: OAuthMiddlewareError, login_url: str | None = None) -> Response:
        """:func:`render_error` with this provider's display name in the text."""
        return render_error(environ, exc, login_url=login_url, provider=self.provider.display_name)

    def _not_allowed_help(self, username: object) -> str:
        """The 403 text: the provider's, naming the account only if its login has the usual
        shape (ERR-10)."""
        return self.provider.not_allowed_help(display_login(username) or None)

    def _login_url(self, environ: WSGIEnvironment) -> str:
        return quoted(environ.get("SCRIPT_NAME", "")) + self.login_path

    def _default_next(self, environ: WSGIEnvironment) -> str:
        return quoted(environ.get("SCRIPT_NAME", "")) + "/"

    def _safe_next(self, value: str | None, environ: WSGIEnvironment) -> str:
        script = quoted(environ.get("SCRIPT_NAME", ""))
        return safe_next(
            value,
            default=script + "/",
            forbidden=(script + self.login_path, script + self.callback_path, script + self.logout_path),
        )

    def _login(self, environ: WSGIEnvironment) -> Response:
        _allow_methods(environ, "GET", "HEAD")
        secure = self._is_secure(environ)
        flow = Flow.start(
            next_url=self._safe_next(query(environ).get("next"), environ),
            redirect_uri=self.redirect_uri or self._callback_url(environ),
            now=self.clock(),
            nonce=self.provider.uses_nonce,
        )
        if self.redirect_uri:
            self.diagnostics.login_host(environ.get("HTTP_HOST") or environ.get("SERVER_NAME", ""), self.redirect_uri)
        cookies = parse_cookie_header(environ.get("HTTP_COOKIE", ""))
        headers = self.flows.evictions(cookies, secure=secure)
        headers.append(self.flows.dump(flow, secure=secure))
        location = self.client.authorization_url(
            redirect_uri=flow.redirect_uri, state=flow.state, verifier=flow.verifier, nonce=flow.nonce
        )
        log.debug("login started; redirecting to %s", self.provider.display_name)
        return Response.redirect(location, headers=headers)

    def _callback_url(self, environ: WSGIEnvironment) -> str:
        return "%s%s%s" % (self._origin(environ), quoted(environ.get("SCRIPT_NAME", "")), self.callback_path)

    def _origin(self, environ: WSGIEnvironment) -> str:
        """``scheme://host`` of this request (a valid Host; https unless allow_insecure_http)."""
        host = environ.get("HTTP_HOST") or "%s:%s" % (environ.get("SERVER_NAME", ""), environ.get("SERVER_PORT", ""))
        if not _HOST_RE.match(host):
            raise BadRequest("The request's Host header is not valid.")
        scheme = environ.get("wsgi.url_scheme", "http")
        if scheme != "https" and not self.allow_insecure_http:
            log.error(
                "the callback URL would be plain http (%s://%s%s). Behind a TLS proxy, wrap the app in "
                "werkzeug's ProxyFix or set redirect_uri; for local development pass allow_insecure_http=True",
                for_log(scheme),
                for_log(host),
                self.callback_path,
            )
            raise ConfigurationError("This site's login is misconfigured (insecure callback URL).")
        return "%s://%s" % (scheme, host.lower())

    def _callback(self, environ: WSGIEnvironment) -> Response:
        _allow_methods(environ, "GET", "HEAD")
        params = query(environ)
        secure = self._is_secure(environ)
        cookies = parse_cookie_header(environ.get("HTTP_COOKIE", ""))
        state = params.get("state")
        flow, flow_cookie = self.flows.take(state, cookies, secure=secure) if state else (None, None)
        consumed: Headers = [set_cookie(flow_cookie, None, max_age=0, secure=secure)] if flow_cookie else []
        if flow is None:
            if self.sessions.load(cookies, secure=secure, now=self.clock()) is not None:
                # a replayed or stale callback of a browser that is logged in: just go on
                return Response.redirect(self._default_next(environ), status=303, headers=consumed)
            log.warning("callback with a missing, unknown, expired or mismatched state")
            hint = diagnostics.callback_hint(
                self.diagnostics, cookies, flow_cookie, flows=self.flows, secure=secure, redirect_uri=self.redirect_uri
            )
            raise StateError(hint, headers=consumed)
        try:
            error = params.get("error")
            if error is not None:
                if error == "access_denied":
                    log.info("login cancelled at %s", self.provider.display_name)
                    raise AccessDenied()
                log.warning("%s sent the callback with error=%s", self.provider.display_name, _printable(error))
                raise ProviderError("{provider} refused the login request (%s)." % _printable(error))
            code = params.get("code")
            if not code:
                raise BadRequest("The callback has no authorization code.")
            if not self.flows.redeem(flow):  # only now is the state remembered as used (CSRF-4)
                raise StateError()
            token = self.client.redeem(
                code=code, redirect_uri=flow.redirect_uri, verifier=flow.verifier, nonce=flow.nonce, now=self.clock()
            )
            identity = self.client.identify(token, with_groups=self.policy.needs_groups)
            username = identity.username
            groups = self.policy.keep(identity.groups)
            if not self.policy.admits_identity(identity, groups):
                log.warning(
                    "%s logged in at %s but is not in the allow-lists", for_log(username), self.provider.display_name
                )
                raise NotAllowed(self._not_allowed_help(username))
        except OAuthMiddlewareError as exc:
            exc.headers = tuple(exc.headers) + tuple(consumed)
            raise
        session = Session.new(
            user=identity.profile, token=token, username=username, groups=groups, now=self.clock(), sub=identity.sub
        )
        if isinstance(self.sessions, StoreSessions):
            self.sessions.end(cookies, secure=secure)  # the session this login replaces ends everywhere (SES-3)
        headers = consumed + self.sessions.dump(session, secure=secure, present=cookies)
        log.info("login succeeded for %s", for_log(session.username))
        return Response.redirect(self._safe_next(flow.next_url, environ), headers=headers)

    def _logout(self, environ: WSGIEnvironment) -> Response:
        method = _allow_methods(environ, "GET", "HEAD", "POST")
        if method != "POST":
            next_url = self._safe_next(query(environ).get("next"), environ)
            action = quoted(environ.get("SCRIPT_NAME", "")) + self.logout_path
            everywhere = (
                '<p><label><input type="checkbox" name="everywhere" value="1"> Also log out on every other '
                "device and browser</label></p>"
                if isinstance(self.sessions, StoreSessions)
                else ""
            )
            return Response.page(
                "Log out",
                '<form method="post" action="%s"><input type="hidden" name="next" value="%s">'
                '<p>Log out of this site?</p>%s<button type="submit">Log out</button></form>'
                % (html.escape(action), html.escape(next_url), everywhere),
            )
        if self._is_cross_site(environ):
            log.warning("refused a cross-site logout")
            raise CrossSiteRequest()
        posted = form(environ)
        next_url = self._safe_next(posted.get("next") or query(environ).get("next"), environ)
        secure = self._is_secure(environ)
        cookies = parse_cookie_header(environ.get("HTTP_COOKIE", ""))
        loaded = self.sessions.load(cookies, secure=secure, now=self.clock())
        if self.revoke_on_logout and loaded is not None:
            self._revoke(loaded.session)
        if isinstance(self.sessions, StoreSessions):  # the server-side session ends for every copy of the cookie
            ended = self.sessions.end(cookies, secure=secure, loaded=loaded)
            if ended is not None and posted.get("everywhere") == "1":
                count = self.sessions.revoke_user(user_key(ended))
                log.info("logged %s out everywhere (%d other session(s))", for_log(ended.username), count)
        headers = self.sessions.clear(secure=secure, present=cookies)
        headers += [
            set_cookie(name, None, max_age=0, secure=secure)
            for name in cookies
            if self.flows.is_flow_name(name, secure=secure)
        ]
        log.info("logged out")
        location = self._end_session_url(environ, loaded.session, next_url) if loaded is not None else None
        return Response.redirect(location or next_url, status=303, headers=headers)

    def _end_session_url(self, environ: WSGIEnvironment, session: Session, next_url: str) -> str | None:
        """The provider's logout URL for the ended ``session`` (RP-initiated logout, when the
        provider does it), coming back to ``next_url`` (a local path, validated) on this site."""
        try:
            origin = urlsplit(self.redirect_uri) if self.redirect_uri else urlsplit(self._origin(environ))
            back = "%s://%s%s" % (origin.scheme, origin.netloc, next_url)
            location = self.provider.end_session_url(self.client, session.token, post_logout_redirect_uri=back)
        except Exception:  # our session is over either way: never block the logout
            log.warning(
                "could not log %s out at %s; logged out locally", for_log(session.username), self.provider.display_name
            )
            return None
        if location is not None:
            log.info(
                "logged %s out; ending the session at %s too", for_log(session.username), self.provider.display_name
            )
        return location

    def _revoke(self, session: Session) -> None:
        try:
            self.client.revoke(session.token)
        except Exception:  # documented: a failure is logged and never blocks the logout
            log.warning(
                "could not revoke the token of %s at %s; logged out locally",
                for_log(session.username),
                self.provider.display_name,
            )
        else:
            log.info("revoked the token of %s at %s", for_log(session.username), self.provider.display_name)

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


def _allow_methods(environ: WSGIEnvironment, *methods: str) -> str:
    method = environ.get("REQUEST_METHOD", "GET")
    if method not in methods:
        raise MethodNotAllowed(headers=[("Allow", ", ".join(methods))])
    return str(method)


def _printable(value: str) -> str:
    return "".join(c for c in value[:64] if c.isalnum() or c in "_-.") or "unknown"
