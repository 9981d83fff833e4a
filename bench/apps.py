"""The WSGI applications under test, for ``bench/run.py`` and for gunicorn.

gunicorn serves them by name (``gunicorn bench.apps:bare``, ``bench.apps:wrapped_anonymous``,
``bench.apps:wrapped_session``, ``'bench.apps:flask_bare()'``, ``'bench.apps:flask_session()'``),
so every process builds its middleware from the same fixed secret below: a session cookie sealed
by the benchmark driver (``session_cookie(make_middleware(hello))``) opens in every worker.

The secret is a benchmark constant, never a real key.
"""

from __future__ import annotations

import typing as t

from oauth_middleware import OAuthMiddleware

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

#: Fixed so the driver and every gunicorn worker share the session keys (benchmark only).
SECRET_KEY = "oauth-middleware-benchmark-only-secret-0123456789"
CLIENT_ID = "bench-client-id"
CLIENT_SECRET = "bench-client-secret"
#: Protected prefixes: ``/`` (the benchmarked path) stays public, so an anonymous request for it
#: still pays the "is this path protected?" check.
PROTECTED = ("/admin",)

HELLO = b"Hello, world!\n"
_HELLO_HEADERS = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(HELLO)))]


def hello(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
    """The bare app: a constant hello; ``/whoami`` answers ``REMOTE_USER`` (for sanity checks)."""
    if environ.get("PATH_INFO") == "/whoami":
        body = str(environ.get("REMOTE_USER") or "-").encode("utf-8")
        start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
        return [body]
    start_response("200 OK", list(_HELLO_HEADERS))
    return [HELLO]


def make_middleware(
    app: WSGIApplication, *, secure: bool | None = None, cache_size: int | None = None, **options: t.Any
) -> OAuthMiddleware:
    """``app`` wrapped the way every benchmark variant wraps it (``/admin`` protected).

    :param secure: the middleware's ``secure`` option (``None`` follows the request's scheme).
    :param cache_size: overrides ``middleware.sessions.cache_size`` (0 disables the cache).
    """
    options.setdefault("client_id", CLIENT_ID)
    options.setdefault("client_secret", CLIENT_SECRET)
    options.setdefault("secret_key", SECRET_KEY)
    options.setdefault("require_login", list(PROTECTED))
    middleware = OAuthMiddleware(app, secure=secure, **options)
    if cache_size is not None:
        middleware.sessions.cache_size = cache_size
    return middleware


# -- served by gunicorn over plain http ------------------------------------------------------------
# ``secure=True``: the cookies are ``__Host-`` prefixed and Secure even though wrk speaks plain
# http, exactly like production behind a TLS-terminating proxy (the README's advice), and the
# same cookie works for the in-process https variants.

bare: WSGIApplication = hello
wrapped_anonymous: OAuthMiddleware = make_middleware(hello, secure=True)
wrapped_session: OAuthMiddleware = make_middleware(hello, secure=True)


def _flask_app(*, wrapped: bool) -> WSGIApplication:
    from flask import Flask

    app = Flask("bench_flask_" + ("wrapped" if wrapped else "bare"))

    @app.route("/")
    def index() -> str:
        return "Hello, world!\n"

    @app.route("/whoami")
    def whoami() -> str:
        from flask import request

        return str(request.environ.get("REMOTE_USER") or "-")

    if wrapped:
        app.wsgi_app = make_middleware(app.wsgi_app, secure=True)  # type: ignore[method-assign]
    return app


def flask_bare() -> WSGIApplication:
    """A Flask hello app (gunicorn: ``'bench.apps:flask_bare()'``)."""
    return _flask_app(wrapped=False)


def flask_session() -> WSGIApplication:
    """The Flask hello app with ``app.wsgi_app`` wrapped (gunicorn: ``'bench.apps:flask_session()'``)."""
    return _flask_app(wrapped=True)


def redis_session() -> WSGIApplication:
    """The hello app wrapped with sessions on the Redis at ``BENCH_REDIS_URL`` (gunicorn:
    ``'bench.apps:redis_session()'``); the driver writes its session to the same Redis."""
    import os

    return make_middleware(hello, secure=True, store=os.environ["BENCH_REDIS_URL"])
