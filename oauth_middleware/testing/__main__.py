"""Run :class:`~oauth_middleware.testing.fake_github.FakeGitHub` (or
:class:`~oauth_middleware.testing.fake_oidc.FakeOIDC`) as a local HTTP server.

.. code-block:: text

    python -m oauth_middleware.testing --port 8001 [--host 127.0.0.1] [--auto-approve [LOGIN]]
    oauth-middleware fake-oidc --port 8002 [--host 127.0.0.1] [--auto-approve [USER]]

Each prints how to point the middleware at it (plain HTTP, so only for local development), in
environment variables for :meth:`OAuthMiddleware.from_env <oauth_middleware.OAuthMiddleware.from_env>`
and in Python (see :func:`banner` and :func:`oidc_banner`).
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

if t.TYPE_CHECKING:
    from oauth_middleware.testing.fake_oidc import FakeOIDC

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


def make_server(host: str, port: int, fake: FakeGitHub | FakeOIDC) -> ThreadingWSGIServer:
    """Bind a threading WSGI server for ``fake`` on ``host``:``port`` and return it (not started).

    ``port`` may be ``0`` to pick a free port. ``fake.base_url`` is set to the server's own URL
    (``http://HOST:PORT``) so that API bodies and :meth:`FakeGitHub.provider` point back at it
    (for a :class:`FakeOIDC`, its issuer too: discovery and tokens name that URL).

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
    if not isinstance(fake, FakeGitHub):
        fake.issuer = fake.base_url
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


def oidc_banner(fake: FakeOIDC) -> str:
    """What ``oauth-middleware fake-oidc`` prints when it starts: its issuer and how to point
    the middleware at it.

    :param fake: the fake being served (its :attr:`~FakeOIDC.issuer` is the server's URL).
    """
    url = fake.issuer
    return "\n".join(
        [
            f"FakeOIDC listening on {url} (issuer {url}, client_id={fake.client_id!r})",
            "Point the middleware at it (local development only) with these environment variables:",
            "    OAUTH_MIDDLEWARE_PROVIDER=oidc",
            f"    OAUTH_MIDDLEWARE_OIDC_ISSUER={url}",
            "    OAUTH_MIDDLEWARE_ALLOW_INSECURE_HTTP=1",
            f"    GITHUB_OAUTH_CLIENT_ID={fake.client_id}",
            f"    GITHUB_OAUTH_CLIENT_SECRET={fake.client_secret}",
            f'or in Python: OAuthMiddleware(app, provider=OpenIDConnect("{url}"), allow_insecure_http=True,',
            f'    client_id="{fake.client_id}", client_secret="{fake.client_secret}", secret_key=...)',
        ]
    )


def serve(host: str, port: int, fake: FakeGitHub | FakeOIDC) -> None:
    """Serve ``fake`` on ``host``:``port`` until interrupted (Ctrl-C).

    :param host: the address to bind.
    :param port: the TCP port.
    :param fake: the application to serve.
    """
    server = make_server(host, port, fake)
    print(banner(fake) if isinstance(fake, FakeGitHub) else oidc_banner(fake), flush=True)
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


def oidc_parser() -> argparse.ArgumentParser:
    """The options of ``oauth-middleware fake-oidc``."""
    from oauth_middleware.testing.fake_oidc import FakeOIDC

    defaults = FakeOIDC.__init__.__kwdefaults__ or {}
    parser = argparse.ArgumentParser(
        prog="oauth-middleware fake-oidc",
        description="Serve a fake OpenID Connect provider (discovery, JWKS, consent page, token, userinfo, "
        "end_session) over plain HTTP for local development. Never expose it to a network.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8002, help="TCP port (default: %(default)s)")
    parser.add_argument("--client-id", default=defaults["client_id"], help="client id (default: %(default)s)")
    parser.add_argument(
        "--client-secret", default=defaults["client_secret"], help="client secret (default: %(default)s)"
    )
    parser.add_argument(
        "--auto-approve",
        nargs="?",
        const="alice",
        default=None,
        choices=("alice", "bob"),
        metavar="USER",
        help="skip the consent page and log in as USER (alice, the default, or bob)",
    )
    parser.add_argument(
        "--redirect-uri",
        action="append",
        dest="redirect_uris",
        default=[],
        metavar="URL",
        help="registered callback URL (repeatable); by default any redirect_uri is accepted",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log routing decisions too")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    return _run(
        args,
        lambda: FakeGitHub(
            client_id=args.client_id,
            client_secret=args.client_secret,
            auto_approve=args.auto_approve,
            redirect_uris=args.redirect_uris,
            expiring_tokens=args.expiring_tokens,
        ),
    )


def oidc_main(argv: Sequence[str] | None = None) -> int:
    """``oauth-middleware fake-oidc``: serve a :class:`FakeOIDC`; returns the exit status."""
    from oauth_middleware.testing.fake_oidc import FakeOIDC

    args = oidc_parser().parse_args(argv)
    return _run(
        args,
        lambda: FakeOIDC(
            client_id=args.client_id,
            client_secret=args.client_secret,
            auto_approve=args.auto_approve,
            redirect_uris=args.redirect_uris,
        ),
    )


def _run(args: argparse.Namespace, make: t.Callable[[], FakeGitHub | FakeOIDC]) -> int:
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(name)s %(message)s"
    )
    try:
        fake = make()
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
