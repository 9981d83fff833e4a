"""Real routers behind the middleware, for tests/test_e2e_routers.py (loaded by gunicorn).

Each factory returns the same site in one framework (Flask, Django, Pyramid): views for ``/``,
``/dash/<section>``, ``/admin``, ``/admin/<path>``, ``/static/<path>``, ``/healthz``, a view with
two variable segments and a catch-all, each answering ``{"view", "user", "path"}`` in JSON. It is
wrapped twice, once per protection set-up of the bypass report, and the request header
``X-Test-Setup`` (``prefixes`` or ``everything``) picks one: test plumbing, not identity.

* ``prefixes``: ``require_login=["/dash", "/admin"]``: protected views are ``dash`` and ``admin``.
* ``everything``: ``require_login=True, public_paths=["/static", "/healthz"]``: every view but
  ``static`` and ``healthz`` is protected.
"""

from __future__ import annotations

import json
import typing as t

from oauth_middleware import OAuthMiddleware

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

SETUPS: dict[str, dict[str, t.Any]] = {
    "prefixes": {"require_login": ["/dash", "/admin"]},
    "everything": {"require_login": True, "public_paths": ["/static", "/healthz"]},
}
#: The views a request may reach anonymously under each set-up.
PUBLIC_VIEWS = {
    "prefixes": {"home", "static", "healthz", "pair", "catchall"},
    "everything": {"static", "healthz"},
}
VIEWS = ("home", "dash", "admin", "static", "healthz", "pair", "catchall")


def answer(view: str, environ: WSGIEnvironment) -> bytes:
    return json.dumps({"view": view, "user": environ.get("REMOTE_USER"), "path": environ.get("PATH_INFO")}).encode()


def wrapped(app: WSGIApplication) -> WSGIApplication:
    """``app`` behind one middleware per set-up, picked by the ``X-Test-Setup`` header."""
    middlewares = {
        name: OAuthMiddleware(
            app,
            client_id="router-test",
            client_secret="router-test-secret",
            secret_key="router-test-key-0123456789abcdefghijklmnop",
            redirect_uri="https://app.example.com/auth/callback",
            **options,
        )
        for name, options in SETUPS.items()
    }

    def dispatch(environ: WSGIEnvironment, start_response: StartResponse) -> t.Iterable[bytes]:
        return middlewares[environ.get("HTTP_X_TEST_SETUP", "prefixes")](environ, start_response)

    return dispatch


def flask_site() -> WSGIApplication:
    import flask

    app = flask.Flask("router_test", static_folder=None)  # its own /static/ route is ours below

    def view(name: str) -> t.Callable[..., flask.Response]:
        def handle(**_: str) -> flask.Response:
            return flask.Response(answer(name, flask.request.environ), content_type="application/json")

        handle.__name__ = name
        return handle

    app.add_url_rule("/", view_func=view("home"))
    app.add_url_rule("/dash/<section>", view_func=view("dash"))
    app.add_url_rule("/admin", view_func=view("admin"))
    app.add_url_rule("/admin/<path:rest>", endpoint="admin_rest", view_func=view("admin"))
    app.add_url_rule("/static/<path:filename>", endpoint="static_files", view_func=view("static"))
    app.add_url_rule("/healthz", view_func=view("healthz"))
    app.add_url_rule("/<a>/<b>", view_func=view("pair"))
    app.add_url_rule("/<path:rest>", view_func=view("catchall"))
    app.wsgi_app = wrapped(app.wsgi_app)  # type: ignore[method-assign]
    return app


def django_site() -> WSGIApplication:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="router-test-django-key-0123456789abcdefghij",
            ROOT_URLCONF=__name__,
            ALLOWED_HOSTS=["*"],
            MIDDLEWARE=[],
            INSTALLED_APPS=[],
            APPEND_SLASH=False,
        )
        django.setup()
    from django.core.wsgi import get_wsgi_application

    return wrapped(get_wsgi_application())


def _django_urlpatterns() -> list[t.Any]:
    from django.http import HttpResponse
    from django.urls import path

    def view(name: str) -> t.Callable[..., HttpResponse]:
        def handle(request: t.Any, **_: str) -> HttpResponse:
            return HttpResponse(answer(name, request.META), content_type="application/json")

        return handle

    return [
        path("", view("home")),
        path("dash/<str:section>", view("dash")),
        path("admin", view("admin")),
        path("admin/<path:rest>", view("admin")),
        path("static/<path:filename>", view("static")),
        path("healthz", view("healthz")),
        path("<str:a>/<str:b>", view("pair")),
        path("<path:rest>", view("catchall")),
    ]


def __getattr__(name: str) -> t.Any:
    if name == "urlpatterns":  # Django's ROOT_URLCONF is this module; built only when Django asks
        return _django_urlpatterns()
    raise AttributeError(name)


def pyramid_site() -> WSGIApplication:
    from pyramid.config import Configurator
    from pyramid.response import Response

    routes = [
        ("home", "/"),
        ("dash", "/dash/{section}"),
        ("admin", "/admin"),
        ("admin_rest", "/admin/*rest"),
        ("static", "/static/*filename"),
        ("healthz", "/healthz"),
        ("pair", "/{a}/{b}"),
        ("catchall", "/*rest"),
    ]
    with Configurator() as config:
        for route, pattern in routes:
            view = route.removesuffix("_rest")
            config.add_route(route, pattern)
            config.add_view(
                lambda request, view=view: Response(answer(view, request.environ), content_type="application/json"),
                route_name=route,
            )
        app = config.make_wsgi_app()
    return wrapped(app)
