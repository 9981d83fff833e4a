"""Helpers for testing an app wrapped by :class:`~oauth_middleware.OAuthMiddleware`.

:func:`login_as` logs a WebTest client in as any user in one line, without any network: it seals a
session cookie with the middleware's own keys, exactly as a real login would.
"""

from __future__ import annotations

import hashlib
import http.cookiejar
import typing as t

from oauth_middleware.middleware import OAuthMiddleware
from oauth_middleware.session import Session

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


def find_middleware(app: object, *, depth: int = 6) -> OAuthMiddleware:
    """Find the :class:`OAuthMiddleware` in ``app`` (a TestApp, a Flask app, a wrapper...)."""
    seen: list[object] = [app]
    for _ in range(depth):
        next_level: list[object] = []
        for candidate in seen:
            if isinstance(candidate, OAuthMiddleware):
                return candidate
            for attribute in ("app", "wsgi_app", "application", "wrapped", "inner"):
                child = getattr(candidate, attribute, None)
                if child is not None and child is not candidate:
                    next_level.append(child)
        seen = next_level
    raise LookupError("no OAuthMiddleware found in %r: pass middleware= explicitly" % (app,))


def make_user(login: str = "octocat", **fields: t.Any) -> dict[str, t.Any]:
    """A GitHub-shaped profile for ``login``; ``fields`` override or add keys."""
    user: dict[str, t.Any] = {
        "login": login,
        "id": int(hashlib.sha256(login.encode()).hexdigest()[:7], 16),
        "node_id": "U_" + login,
        "name": login.capitalize(),
        "email": "%s@users.noreply.github.com" % login,
        "avatar_url": "https://avatars.githubusercontent.com/%s" % login,
        "html_url": "https://github.com/%s" % login,
        "type": "User",
    }
    user.update(fields)
    return user


def make_profile(user: str | t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The profile the app sees for ``user``: a login, or a dict whose missing fields are filled in."""
    return make_user(user) if isinstance(user, str) else make_user(**dict(user))


def session_cookie(
    middleware: OAuthMiddleware,
    user: str | t.Mapping[str, t.Any] = "octocat",
    *,
    token: t.Mapping[str, t.Any] | None = None,
    secure: bool = True,
    issued_at: float | None = None,
    groups: t.Sequence[str] = (),
) -> dict[str, str]:
    """Cookies (name -> value) of a valid session for ``user``, sealed with ``middleware``'s keys.

    .. code-block:: python

        cookies = session_cookie(middleware, {"login": "octocat", "id": 1})
        requests.get(url, cookies=cookies)

    :param user: a login, or a profile dict (``login`` required; missing fields are filled in).
        With an OpenID Connect provider give its username claim and ``sub``:
        ``{"preferred_username": "alice", "sub": "248289761001"}``.
    :param token: the token dict the app will see; a fake bearer token by default.
    :param secure: name the cookies as sent over https (``__Host-`` prefix).
    :param issued_at: the login time; now by default (use it to test expiry).
    :param groups: memberships the app sees in ``oauth_middleware.groups`` (``"org"``,
        ``"org/team-slug"``).
    """
    profile = make_profile(user)
    username = profile.get(middleware.provider.username_field)
    if not isinstance(username, str) or not username:
        raise ValueError("user needs a %r" % middleware.provider.username_field)
    session = Session.new(
        user=profile,
        token=dict(
            token or {"access_token": "gho_test_" + username, "token_type": "bearer", "scope": list(middleware.scope)}
        ),
        username=username,
        groups=groups,
        now=middleware.clock() if issued_at is None else issued_at,
        sub=profile["sub"] if isinstance(profile.get("sub"), str) else "",  # OpenID Connect's stable id
    )
    cookies = {}
    for _, header in middleware.sessions.dump(session, secure=secure):
        name, _, rest = header.partition("=")
        cookies[name] = rest.split(";", 1)[0]
    return cookies


def login_as(
    testapp: t.Any,
    user: str | t.Mapping[str, t.Any] = "octocat",
    *,
    token: t.Mapping[str, t.Any] | None = None,
    groups: t.Sequence[str] = (),
    middleware: OAuthMiddleware | None = None,
) -> dict[str, t.Any]:
    """Log a :class:`webtest.TestApp` in as ``user``, without any network. Returns the profile.

    .. code-block:: python

        from oauth_middleware.testing import login_as

        def test_dashboard(testapp):
            login_as(testapp, {"login": "octocat", "id": 1})
            assert testapp.get("/dashboard").status_int == 200

    The cookie is sealed with the wrapped middleware's keys, so the app sees exactly what a real
    login gives it: ``REMOTE_USER``, ``oauth_middleware.user`` and ``oauth_middleware.token``.

    :param testapp: the WebTest client of your (wrapped) app.
    :param user: a login, or a profile dict (``login`` required; other fields are filled in).
    :param token: the token dict your app will see.
    :param groups: memberships the app sees in ``oauth_middleware.groups``.
    :param middleware: the middleware, if it cannot be found through ``testapp.app``.
    """
    middleware = middleware or find_middleware(testapp.app)
    secure = (
        middleware.secure if middleware.secure is not None else testapp.extra_environ.get("wsgi.url_scheme") == "https"
    )
    cookies = session_cookie(middleware, user, token=token, secure=secure, groups=groups)
    # not testapp.set_cookie(): without HTTP_HOST it files cookies under ".localhost", which the
    # stdlib jar never sends to "localhost" (it compares against "localhost.local")
    host = str(testapp.extra_environ.get("HTTP_HOST") or "localhost").split(":", 1)[0].lower()
    if "." not in host:
        host += ".local"
    for name, value in cookies.items():
        testapp.cookiejar.set_cookie(
            http.cookiejar.Cookie(
                version=0,
                name=name,
                value=value,
                port=None,
                port_specified=False,
                domain=host,
                domain_specified=False,
                domain_initial_dot=False,
                path="/",
                path_specified=True,
                secure=False,
                expires=None,
                discard=False,
                comment=None,
                comment_url=None,
                rest={},
            )
        )
    return make_profile(user)


def logout(testapp: t.Any, *, middleware: OAuthMiddleware | None = None) -> None:
    """Forget the session cookies of ``testapp`` (a local logout, no request made)."""
    middleware = middleware or find_middleware(testapp.app)
    for cookie in list(testapp.cookiejar):
        if cookie.name.removeprefix("__Host-").startswith(middleware.cookie_name):
            testapp.cookiejar.clear(cookie.domain, cookie.path, cookie.name)


def mount_under(prefix: str, mounted: WSGIApplication, app: WSGIApplication) -> WSGIApplication:
    """A WSGI app sending ``prefix`` and paths under it to ``mounted``, everything else to ``app``.

    ``SCRIPT_NAME`` and ``PATH_INFO`` are adjusted, so ``mounted`` sees paths relative to the
    prefix. The demo serves the fake GitHub's consent page this way.
    """
    prefix = prefix.rstrip("/")

    def dispatch(environ: WSGIEnvironment, start_response: StartResponse) -> t.Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == prefix or path.startswith(prefix + "/"):
            environ = dict(environ)
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
            environ["PATH_INFO"] = path[len(prefix) :]
            return mounted(environ, start_response)
        return app(environ, start_response)

    return dispatch
