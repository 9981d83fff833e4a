"""Processes the end-to-end tests start (tests/test_e2e_redis.py): an app for gunicorn and a fake
GitHub to run as its own process. Real modules rather than source strings, so they are linted.

- ``gunicorn 'support.e2e_apps:make_app()'``: ``/whoami`` (and ``/slow``, which holds its worker 0.3 s)
  answers ``{"user", "token", "pid"}`` as JSON behind :class:`OAuthMiddleware`, on a clock that is
  the real time plus the offset in the file ``E2E_CLOCK_OFFSET_FILE``, logging in against
  ``E2E_FAKE_GITHUB_URL``, on the store ``E2E_STORE`` (unset: cookie sessions).
- ``python -m support.e2e_apps USER...``: a :class:`FakeGitHub` with those users, expiring tokens
  and a consent page (post ``login`` and ``authorize=1``), on a free 127.0.0.1 port it announces as
  ``listening on URL``. ``GET /_test/counts`` answers its token requests so far, by grant type.
"""

from __future__ import annotations

import collections
import json
import os
import sys
import threading
import time
import typing as t

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


def clock() -> float:
    try:
        with open(os.environ["E2E_CLOCK_OFFSET_FILE"]) as handle:
            return time.time() + float(handle.read() or 0)
    except (OSError, ValueError):
        return time.time()


def whoami(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
    if environ.get("PATH_INFO") == "/slow":
        time.sleep(0.3)  # a busy worker: concurrent requests spread over all of them
    token = environ.get("oauth_middleware.token") or {}
    body = json.dumps(
        {"user": environ.get("REMOTE_USER"), "token": token.get("access_token"), "pid": os.getpid()}
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def make_app() -> WSGIApplication:
    from oauth_middleware import GitHub, OAuthMiddleware

    fake = os.environ["E2E_FAKE_GITHUB_URL"]
    return OAuthMiddleware(
        whoami,
        client_id="fake-client-id",
        client_secret="fake-client-secret",
        secret_key=os.environ["OAUTH_MIDDLEWARE_SECRET_KEY"],
        provider=GitHub(fake, api_base_url=fake + "/api/v3/"),
        allow_insecure_http=True,
        require_login=True,
        public_paths=["/healthz"],
        timeout=5,
        clock=clock,
        store=os.environ.get("E2E_STORE") or None,
    )


class CountingFake:
    """In front of a fake GitHub: counts token requests by grant type, ``GET /_test/counts``."""

    def __init__(self, fake: WSGIApplication) -> None:
        self.fake = fake
        self.counts: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> t.Iterable[bytes]:
        from webob import Request

        path = environ.get("PATH_INFO")
        if path == "/_test/counts":
            with self.lock:
                body = json.dumps(self.counts).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        if path == "/login/oauth/access_token":
            request = Request(environ)
            request.make_body_seekable()
            grant = str(request.POST.get("grant_type", "authorization_code"))
            request.body_file.seek(0)
            with self.lock:
                self.counts[grant] += 1
        return self.fake(environ, start_response)


def serve_fake(logins: list[str]) -> None:
    from oauth_middleware.testing import FakeGitHub, FakeUser
    from oauth_middleware.testing.__main__ import QuietRequestHandler, ThreadingWSGIServer, server_url

    class Server(ThreadingWSGIServer):
        request_queue_size = 128  # many browsers and workers at once: no dropped connections

    fake = FakeGitHub(
        users=[FakeUser(login, 5000 + number) for number, login in enumerate(logins)],
        auto_approve=False,
        expiring_tokens=True,
    )
    server = Server(("127.0.0.1", 0), QuietRequestHandler)
    server.set_app(CountingFake(fake))
    fake.base_url = server_url("127.0.0.1", server.server_port)
    print("listening on %s " % fake.base_url, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    serve_fake(sys.argv[1:])
