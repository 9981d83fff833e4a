"""Log in Flask's and Django's test clients, as :func:`~oauth_middleware.testing.login_as` does for WebTest.

Both test clients speak plain ``http`` unless told otherwise, so the cookies are named and sealed
for http (no ``__Host-`` prefix) unless the middleware was built with ``secure=True`` or you pass
``secure=True``: a ``__Host-`` cookie sent over http is not the middleware's cookie, and the app
would see an anonymous request.

Flask's test client runs the app's whole ``wsgi_app``, middleware included. Django's
``django.test.Client`` calls Django's handler directly and never runs ``wsgi.py``, so
:func:`django_client` builds a client whose requests pass through the middleware that wraps
your ``wsgi.py`` application first.
"""

from __future__ import annotations

import copy
import importlib
import threading
import typing as t
from http.cookies import SimpleCookie

from oauth_middleware.middleware import OAuthMiddleware

from .helpers import find_middleware, make_profile, session_cookie

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def _secure(middleware: OAuthMiddleware, secure: bool | None) -> bool:
    """Cookies for https only when asked to, or when the middleware always makes them Secure."""
    if secure is not None:
        return secure
    return bool(middleware.secure)


def flask_login_as(
    client: t.Any,
    user: str | t.Mapping[str, t.Any] = "octocat",
    *,
    token: t.Mapping[str, t.Any] | None = None,
    groups: t.Sequence[str] = (),
    secure: bool | None = None,
    domain: str = "localhost",
    middleware: OAuthMiddleware | None = None,
) -> dict[str, t.Any]:
    """Log Flask's test client (``app.test_client()``) in as ``user``, without any network.

    Returns the profile the app will see in ``oauth_middleware.user``.

    .. code-block:: python

        from oauth_middleware.testing import flask_login_as

        def test_dashboard():
            client = create_app().test_client()
            flask_login_as(client, {"login": "octocat", "id": 1})
            assert client.get("/dashboard").status_code == 200

    :param client: a :class:`flask.testing.FlaskClient` (or any Werkzeug test client) of the
        wrapped app.
    :param user: a login, or a profile dict (``login`` required; other fields are filled in).
    :param token: the token dict your app will see.
    :param groups: memberships the app sees in ``oauth_middleware.groups``.
    :param secure: seal the cookies for https; by default only when the middleware has
        ``secure=True``, as the test client speaks http.
    :param domain: the host your test requests go to (Werkzeug's default: ``localhost``).
    :param middleware: the middleware, if it cannot be found through ``client.application``.
    """
    middleware = middleware or find_middleware(client.application)
    cookies = session_cookie(middleware, user, token=token, groups=groups, secure=_secure(middleware, secure))
    for name, value in cookies.items():
        client.set_cookie(name, value, domain=domain, path="/")
    return make_profile(user)


def django_client(application: object, **client_options: t.Any) -> t.Any:
    """A ``django.test.Client`` whose requests pass through the middleware wrapping ``application``.

    ``application`` is what your ``wsgi.py`` exports (``OAuthMiddleware(get_wsgi_application(),
    ...)``); its middleware runs in front of Django's test handler, so CSRF exemption,
    ``response.context`` and the rest of the test client keep working.

    .. code-block:: python

        from myproject.wsgi import application
        from oauth_middleware.testing import django_client, django_login_as

        def test_dashboard():
            client = django_client(application)
            django_login_as(client, "octocat")
            assert client.get("/dashboard/").status_code == 200

    :param application: the wrapped WSGI application (or the :class:`OAuthMiddleware` itself).
    :param client_options: passed on to ``django.test.Client``.
    """
    client = importlib.import_module("django.test").Client(**client_options)
    client.handler = _ThroughMiddleware(find_middleware(application), client.handler)
    return client


def django_login_as(
    client: t.Any,
    user: str | t.Mapping[str, t.Any] = "octocat",
    *,
    token: t.Mapping[str, t.Any] | None = None,
    groups: t.Sequence[str] = (),
    secure: bool | None = None,
) -> dict[str, t.Any]:
    """Log a client made by :func:`django_client` in as ``user``, without any network.

    Returns the profile the app will see in ``request.META["oauth_middleware.user"]``.

    :param client: a client from :func:`django_client`.
    :param user: a login, or a profile dict (``login`` required; other fields are filled in).
    :param token: the token dict your app will see.
    :param groups: memberships the app sees in ``oauth_middleware.groups``.
    :param secure: seal the cookies for https (requests made with ``secure=True``); by default
        only when the middleware has ``secure=True``.
    """
    handler = getattr(client, "handler", None)
    if not isinstance(handler, _ThroughMiddleware):
        raise TypeError(
            "django_login_as() needs a client from django_client(application): a plain "
            "django.test.Client never runs wsgi.py, so the middleware would not see the cookie"
        )
    middleware = handler.middleware
    cookies = session_cookie(middleware, user, token=token, groups=groups, secure=_secure(middleware, secure))
    for name, value in cookies.items():
        client.cookies[name] = value
    return make_profile(user)


class _ThroughMiddleware:
    """A ``django.test.Client`` handler: the middleware first, then Django's test handler.

    :param middleware: the middleware to run; a copy whose inner app is ``handler`` is used.
    :param handler: Django's ``ClientHandler`` (takes an environ, returns an ``HttpResponse``).
    """

    def __init__(self, middleware: OAuthMiddleware, handler: t.Callable[[WSGIEnvironment], t.Any]) -> None:
        self.middleware = middleware
        self.handler = handler
        self._front = copy.copy(middleware)
        self._front.app = self._django
        self._local = threading.local()

    def _django(self, environ: WSGIEnvironment, start_response: StartResponse) -> t.Iterable[bytes]:
        response = self.handler(environ)
        self._local.response = response
        start_response("%d %s" % (response.status_code, response.reason_phrase), [])
        return []  # the body stays in the response object

    def __call__(self, environ: WSGIEnvironment) -> t.Any:
        self._local.response = None
        started: list[tuple[str, list[tuple[str, str]]]] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: t.Any = None) -> t.Any:
            started.append((status, headers))
            return lambda data: None

        result = self._front(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, headers = started[-1]
        response = self._local.response
        if response is None:  # the middleware answered itself (login, callback, 401, redirect...)
            django_http = importlib.import_module("django.http")
            response = django_http.HttpResponse(body, status=int(status.split(" ", 1)[0]))
            response.wsgi_request = importlib.import_module("django.core.handlers.wsgi").WSGIRequest(environ)
        for name, value in headers:
            if name.lower() == "set-cookie":
                cookie: SimpleCookie = SimpleCookie()
                cookie.load(value)
                response.cookies.update(cookie)
            else:
                response[name] = value
        return response
