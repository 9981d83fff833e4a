"""Run :class:`~oauth_middleware.testing.fake_github.FakeGitHub` as a local HTTP server.

.. code-block:: text

    python -m oauth_middleware.testing --port 8001 [--host 127.0.0.1] [--auto-approve [LOGIN]]

It prints how to point the middleware at it (plain HTTP, so only for local development), in
environment variables for :meth:`OAuthMiddleware.from_env <oauth_middleware.OAuthMiddleware.from_env>`
and in Python (see :func:`banner`).
"""

from __future__ import annotations

import argparse
import logging
import socket
import socketserver
import sys
import typing as t
from collections.abc import Sequence
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from oauth_middleware.testing.fake_github import FakeGitHub

log = logging.getLogger("oauth_middleware.testing")


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """A :mod:`wsgiref` server answering each connection in its own (daemon) thread, so a
    consent page and the token call it leads to can be in flight at once.
    """

    daemon_threads = True
    allow_reuse_address = True


class ThreadingWSGIServerV6(ThreadingWSGIServer):
    """:class:`ThreadingWSGIServer` for an IPv6 address."""

    address_family = socket.AF_INET6


class QuietRequestHandler(WSGIRequestHandler):
    """Logs method, path (never the query string: it carries ``state`` and PKCE values) and
    status through :mod:`logging` instead of writing raw request lines to stderr.
    """

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        method, _, rest = (self.requestline or "").partition(" ")
        path = rest.split(" ", 1)[0].split("?", 1)[0]
        log.info("%s %s -> %s", method, path, code)

    def log_message(self, format: str, *args: t.Any) -> None:
        log.debug("server: " + format, *args)


def server_url(host: str, port: int) -> str:
    """The ``http://`` base URL of a server bound to ``host`` and ``port``."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def make_server(host: str, port: int, fake: FakeGitHub) -> ThreadingWSGIServer:
    """Bind a threading WSGI server for ``fake`` on ``host``:``port`` and return it (not started).

    ``port`` may be ``0`` to pick a free port. ``fake.base_url`` is set to the server's own URL
    (``http://HOST:PORT``) so that API bodies and :meth:`FakeGitHub.provider` point back at it.

    .. code-block:: python

        server = make_server("127.0.0.1", 0, FakeGitHub(auto_approve=True))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        ...
        server.shutdown(); server.server_close()

    :param host: the address to bind (``127.0.0.1`` keeps it off the network).
    :param port: the TCP port, ``0`` for any free one.
    :param fake: the application to serve.
    """
    server_class = ThreadingWSGIServerV6 if ":" in host else ThreadingWSGIServer
    server = server_class((host, port), QuietRequestHandler)
    server.set_app(fake)
    fake.base_url = server_url(host, server.server_port)
    return server


def banner(fake: FakeGitHub) -> str:
    """What the server prints when it starts: its address and how to point the middleware at it.

    The documentation shows this text for the default port; a test keeps them the same.

    :param fake: the fake being served (its :attr:`~FakeGitHub.base_url` is the server's).
    """
    url = fake.base_url
    return "\n".join(
        [
            f"FakeGitHub listening on {url} (client_id={fake.client_id!r}, client_secret={fake.client_secret!r})",
            "Point the middleware at it (local development only) with these environment variables:",
            f"    OAUTH_MIDDLEWARE_GITHUB_URL={url}",
            "    OAUTH_MIDDLEWARE_ALLOW_INSECURE_HTTP=1",
            f"    GITHUB_OAUTH_CLIENT_ID={fake.client_id}",
            f"    GITHUB_OAUTH_CLIENT_SECRET={fake.client_secret}",
            f'or in Python: OAuthMiddleware(app, provider=GitHub("{url}"), allow_insecure_http=True,',
            f'    client_id="{fake.client_id}", client_secret="{fake.client_secret}", secret_key=...)',
        ]
    )


def serve(host: str, port: int, fake: FakeGitHub) -> None:
    """Serve ``fake`` on ``host``:``port`` until interrupted (Ctrl-C).

    :param host: the address to bind.
    :param port: the TCP port.
    :param fake: the application to serve.
    """
    server = make_server(host, port, fake)
    print(banner(fake), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m oauth_middleware.testing",
        description="Serve a fake GitHub (OAuth consent page, token endpoint, /user API) over "
        "plain HTTP for local development. Never expose it to a network.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8001, help="TCP port (default: %(default)s)")
    parser.add_argument("--client-id", default="fake-client-id", help="OAuth client id (default: %(default)s)")
    parser.add_argument(
        "--client-secret", default="fake-client-secret", help="OAuth client secret (default: %(default)s)"
    )
    parser.add_argument(
        "--auto-approve",
        nargs="?",
        const=True,
        default=False,
        metavar="LOGIN",
        help="skip the consent page and approve as the first user, or as LOGIN (octocat, hubot)",
    )
    parser.add_argument(
        "--redirect-uri",
        action="append",
        dest="redirect_uris",
        metavar="URL",
        help="registered callback URL (repeatable); by default any http(s) redirect_uri is accepted",
    )
    parser.add_argument(
        "--expiring-tokens", action="store_true", help="issue expiring tokens with refresh tokens (GitHub Apps)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log routing decisions too")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(name)s %(message)s"
    )
    try:
        fake = FakeGitHub(
            client_id=args.client_id,
            client_secret=args.client_secret,
            auto_approve=args.auto_approve,
            redirect_uris=args.redirect_uris,
            expiring_tokens=args.expiring_tokens,
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        serve(args.host, args.port, fake)
    except OSError as error:
        print(f"error: cannot listen on {args.host}:{args.port}: {error.strerror or error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
