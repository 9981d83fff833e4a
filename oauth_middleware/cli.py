"""The ``oauth-middleware`` command (also ``python -m oauth_middleware``).

.. code-block:: text

    oauth-middleware keygen                      # a new secret key on stdout
    oauth-middleware check [--url BASE_URL]      # validate the environment's configuration
    oauth-middleware fake-github [--port 8001]   # a fake GitHub for local development
    oauth-middleware fake-oidc [--port 8002]     # a fake OpenID Connect provider, likewise
    oauth-middleware sessions list [USER]        # server-side sessions (store=): who, how many
    oauth-middleware sessions revoke USER        # log a user out everywhere
    oauth-middleware sessions revoke --all       # log everyone out

``check`` reads the same variables as :func:`oauth_middleware.config.from_env` (warning about
names close to them), builds the
middleware around a dummy app, prints the effective settings (secrets masked) and the callback
URL to register on GitHub, and exits 0; on a configuration error it prints the message on stderr
and exits 2.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import secrets
import sys
import typing as t
import warnings
from collections.abc import Iterator, Mapping, Sequence
from urllib.parse import urlsplit

from . import __version__, env
from .errors import ConfigurationError, ProviderError
from .options import OPTIONS, Option
from .parsers import ID_PREFIX
from .store import StoreUnavailable

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from .middleware import OAuthMiddleware
    from .providers import Provider

PROG = "oauth-middleware"
_FAKE_DESCRIPTION = (
    "Serve a fake GitHub (OAuth consent page, token endpoint, /user API) over plain HTTP for local "
    "development; never expose it to a network. Point the middleware at it with "
    "OAUTH_MIDDLEWARE_GITHUB_URL=http://HOST:PORT OAUTH_MIDDLEWARE_ALLOW_INSECURE_HTTP=1 "
    "GITHUB_OAUTH_CLIENT_ID=fake-client-id GITHUB_OAUTH_CLIENT_SECRET=fake-client-secret."
)


def main(argv: Sequence[str] | None = None, *, prog: str = PROG) -> int:
    """Run the command line and return the exit status.

    .. code-block:: python

        from oauth_middleware.cli import main

        status = main(["check", "--url", "https://app.example.com"])  # 0: valid, 2: not

    :param argv: the arguments (without the program name); ``sys.argv[1:]`` by default.
    :param prog: the program name shown in usage and help texts.
    """
    parser = _parser(prog)
    args, extras = parser.parse_known_args(argv)
    if args.command == "fake-github":
        return _fake_github(extras, prog="%s fake-github" % prog)
    if args.command == "fake-oidc":
        return _fake_oidc(extras, prog="%s fake-oidc" % prog)
    if extras:
        args.parser.error("unrecognized arguments: %s" % " ".join(extras))
    if args.command == "keygen":
        return _keygen()
    if args.command == "sessions":
        return _sessions(os.environ, args)
    return _check(os.environ, url=args.url)


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description='oauth-middleware: "Log in with GitHub" for any WSGI app. Run a command with --help for more.',
    )
    parser.add_argument("--version", action="version", version="%(prog)s " + __version__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    keygen = commands.add_parser(
        "keygen",
        help="print a new random secret key",
        description="Print a new random secret key (32 random bytes, URL-safe base64) on stdout, and how to "
        "use it on stderr. Rotate keys with OAUTH_MIDDLEWARE_SECRET_KEY=NEW,OLD: the first encrypts, all decrypt.",
    )
    keygen.set_defaults(parser=keygen)
    check = commands.add_parser(
        "check",
        help="validate the configuration in the environment",
        description="Read the configuration from the environment (GITHUB_OAUTH_CLIENT_ID, "
        "GITHUB_OAUTH_CLIENT_SECRET, OAUTH_MIDDLEWARE_SECRET_KEY, their _FILE variants and "
        "OAUTH_MIDDLEWARE_<OPTION>), build the middleware, print the effective settings (secrets "
        "masked) and the callback URL to register on GitHub. Exits 0 when the configuration is "
        "valid, 2 when it is not.",
    )
    check.add_argument(
        "--url",
        metavar="BASE_URL",
        help="the site's public base URL, with any prefix the app is mounted under, e.g. "
        "https://app.example.com: print the exact callback URL",
    )
    check.set_defaults(parser=check)
    sessions = commands.add_parser(
        "sessions",
        help="list or revoke server-side sessions (needs OAUTH_MIDDLEWARE_STORE)",
        description="List or revoke the sessions kept in the store named by OAUTH_MIDDLEWARE_STORE (the rest "
        "of the configuration is read as by 'check'). USER is the account id (environ "
        "oauth_middleware.user_id). A revoked session is anonymous on its next request, on every host.",
    )
    sessions.set_defaults(parser=sessions)
    actions = sessions.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="users with sessions, and how many (or one user's session ids)")
    listing.add_argument("user", nargs="?", metavar="USER", help="list this user's session ids")
    revoke = actions.add_parser("revoke", help="end a user's sessions, or everyone's with --all")
    revoke.add_argument("user", nargs="?", metavar="USER", help="the account id whose sessions end")
    revoke.add_argument("--all", action="store_true", help="end every session of every user")
    # its options are the standalone fake's own (oauth_middleware.testing): parsed there
    commands.add_parser("fake-github", help="run a fake GitHub for local development", add_help=False)
    commands.add_parser("fake-oidc", help="run a fake OpenID Connect provider for local development", add_help=False)
    return parser


def _keygen() -> int:
    print(secrets.token_urlsafe(32))
    print(
        "Keep it secret: set it as OAUTH_MIDDLEWARE_SECRET_KEY (or put it in a file named by "
        "OAUTH_MIDDLEWARE_SECRET_KEY_FILE). To rotate, put the new key first (NEW,OLD) and drop the "
        "old one after max_age.",
        file=sys.stderr,
    )
    return 0


def _fake_github(argv: list[str], *, prog: str) -> int:
    from .testing import __main__ as standalone

    # the standalone fake's own parser, under this command's name: --help and usage errors here
    parser = argparse.ArgumentParser(
        prog=prog, description=_FAKE_DESCRIPTION, parents=[standalone._parser()], add_help=False
    )
    parser.parse_args(argv)
    return standalone.main(argv)


def _fake_oidc(argv: list[str], *, prog: str) -> int:
    from .testing import __main__ as standalone

    parser = standalone.oidc_parser()
    parser.prog = prog
    parser.parse_args(argv)  # --help and usage errors under this command's name
    return standalone.oidc_main(argv)


def _dummy_app(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
    start_response("204 No Content", [])
    return []


class _ListHandler(logging.Handler):
    def __init__(self, messages: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.messages = messages

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _collected_warnings(messages: list[str]) -> Iterator[None]:
    """Collect the middleware's warnings (:mod:`warnings` and WARNING log records) in
    ``messages``, once each, instead of letting them reach stderr in two forms."""
    logger = logging.getLogger("oauth_middleware")
    handler = _ListHandler(messages)
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                yield
            finally:
                messages.extend(str(warning.message) for warning in caught)
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
        messages[:] = dict.fromkeys(messages)


def _check(environ: Mapping[str, str], *, url: str | None) -> int:
    from .middleware import OAuthMiddleware

    warned: list[str] = []
    try:
        with _collected_warnings(warned):
            found = env.read(environ, middleware_class=OAuthMiddleware)
            middleware = env.build(OAuthMiddleware, _dummy_app, found)
    except ConfigurationError as exc:
        _print_warnings(warned)
        print("error: %s" % exc, file=sys.stderr)
        return 2
    _print_warnings(warned)
    try:
        callback = _callback_lines(middleware, url)
        discovered = discovery_lines(middleware)
    except (ConfigurationError, ProviderError) as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 2
    print("The configuration is valid. Effective settings:\n")
    rows = [("option", "value", "from")]
    for option in OPTIONS:
        value = _shown(middleware, option, found.options.get(option.name, option.default))
        rows.append((option.name, value, found.sources.get(option.name, "default")))
    width = [max(len(row[i]) for row in rows) for i in range(2)]
    for name, value, source in rows:
        print("  %-*s  %-*s  %s" % (width[0], name, width[1], value, source))
    print()
    if discovered:
        print("\n".join(discovered) + "\n")
    print("\n".join(callback))
    return 0


def _sessions(environ: Mapping[str, str], args: argparse.Namespace) -> int:
    """``sessions list|revoke``: operators' access to server-side sessions (STORE-4)."""
    from .middleware import OAuthMiddleware

    if args.action == "revoke" and bool(args.user) == bool(args.all):
        args.parser.error("revoke takes a USER or --all, not both and not neither")
    warned: list[str] = []
    try:
        with _collected_warnings(warned):
            middleware = env.build(OAuthMiddleware, _dummy_app, env.read(environ, middleware_class=OAuthMiddleware))
        if middleware.store is None:
            raise ConfigurationError(
                "sessions live in the browsers' cookies (OAUTH_MIDDLEWARE_STORE is not set): there is nothing on "
                "the server to list or revoke. Set OAUTH_MIDDLEWARE_STORE=rediss://... for the whole deployment"
            )
        if args.user and not middleware.user_sessions(args.user):
            print(
                "error: no live session for user %r. USER is the account id (environ "
                "oauth_middleware.user_id, e.g. 583231 for GitHub, the sub for OpenID Connect), not the "
                "login; 'oauth-middleware sessions list' shows the ids that have sessions" % args.user,
                file=sys.stderr,
            )
            return 1
        users = [args.user] if args.user else sorted(middleware.sessions_users())
        if args.action == "list":
            if args.user:
                print("\n".join(sorted(middleware.user_sessions(args.user))))
                return 0
            print("user id\tsessions")
            for user in users:
                ids = middleware.user_sessions(user)
                if ids:
                    print("%s\t%d" % (user, len(ids)))
            return 0
        ended = sum(middleware.revoke_user(user) for user in users)
        print("ended %d session(s) of %d user(s)" % (ended, len(users)))
        return 0
    except ConfigurationError as exc:
        _print_warnings(warned)
        print("error: %s" % exc, file=sys.stderr)
        return 2
    except StoreUnavailable as exc:
        print("error: the session store did not answer (%s)" % type(exc).__name__, file=sys.stderr)
        return 1


def discovery_lines(middleware: OAuthMiddleware) -> list[str]:
    """For an OpenID Connect provider: its discovered endpoints (fetched now, through the
    middleware's HTTP session); nothing for other providers. Raises ProviderError when the
    discovery document cannot be fetched or fails its checks."""
    from .oidc.provider import OpenIDConnect

    provider = middleware.provider
    if not isinstance(provider, OpenIDConnect):
        return []
    metadata = provider.metadata(middleware.client)
    lines = ["%s (OpenID Connect) endpoints discovered at %s:" % (provider.display_name, provider.issuer)]
    for name in (
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "userinfo_endpoint",
        "revocation_endpoint",
        "end_session_endpoint",
    ):
        lines.append("  %-22s %s" % (name, getattr(metadata, name) or "(none)"))
    lines.append("  %-22s %s" % ("token auth method", provider.token_auth_method(middleware.client)))
    lines.append("  %-22s %s" % ("scope", " ".join(middleware.scope)))
    if provider.end_session:
        parts = urlsplit(middleware.redirect_uri or "https://<your host>")
        lines.append(
            "  RP-initiated logout is on: register %s://%s/ (or each logout's next on that origin) as a post "
            "logout redirect URI" % (parts.scheme, parts.netloc)
        )
    return lines


def _print_warnings(messages: list[str]) -> None:
    for message in messages:
        print("warning: %s" % message, file=sys.stderr)


def _shown(middleware: OAuthMiddleware, option: Option, given: object) -> str:
    """The effective value of ``option`` as text (in the environment's format), secrets masked."""
    name = option.name
    if name == "client_id":
        return "****" + middleware.client_id[-4:] if len(middleware.client_id) > 8 else "****"
    if name == "secret_key":
        count = len(middleware.secret_keys)
        return "%d key%s" % (count, "" if count == 1 else "s")
    if option.secret:
        return "****"
    if name == "provider":
        issuer = getattr(middleware.provider, "issuer", None)
        return "%s %s" % (middleware.provider.name, issuer) if issuer else _provider_base(middleware.provider)
    if name == "revalidate_after" and given == "auto":
        seconds = middleware.revalidate_after
        return "auto (%s)" % ("never" if seconds is None else "%d seconds" % seconds)
    value: object
    if name == "allowed_users":
        policy = middleware.policy
        value = sorted(policy.users) + ["%s%d" % (ID_PREFIX, user_id) for user_id in sorted(policy.user_ids)]
    elif name in ("allowed_orgs", "allowed_teams"):
        value = sorted(getattr(middleware.policy, name[len("allowed_") :]))
    else:
        value = getattr(middleware, name, given)
    if name == "secure" and value is None:
        return "auto"
    return _text(value)


def _text(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "%g" % value
    if isinstance(value, (list, tuple, frozenset, set)):
        return ",".join(_text(item) for item in value) or "(none)"
    if callable(value):
        return "%s.%s" % (getattr(value, "__module__", "?"), getattr(value, "__qualname__", type(value).__name__))
    return str(value)


def _provider_base(provider: Provider) -> str:
    suffix = "/login/oauth/authorize"
    return provider.authorize_url[: -len(suffix)] if provider.authorize_url.endswith(suffix) else provider.authorize_url


def _callback_lines(middleware: OAuthMiddleware, url: str | None) -> list[str]:
    """What to register on GitHub: redirect_uri, the URL built from ``--url``, or its form."""
    where = "your GitHub OAuth app"
    if middleware.provider.name == "github":
        where += " (%s/settings/developers)" % _provider_base(middleware.provider)
    elif middleware.provider.display_name != "GitHub":
        where = "your client's settings at %s" % middleware.provider.display_name
    built = None
    if url is not None:
        try:
            parts = urlsplit(url)
            valid = parts.scheme in ("https", "http") and bool(parts.hostname)
        except ValueError:
            valid = False
        if not valid or parts.query or parts.fragment:
            raise ConfigurationError("--url must be the site's base URL, such as https://app.example.com; got %r" % url)
        if parts.scheme == "http" and not middleware.allow_insecure_http:
            raise ConfigurationError(
                "--url is plain http: the middleware refuses an http callback URL unless "
                "OAUTH_MIDDLEWARE_ALLOW_INSECURE_HTTP=1 (for local development only). Use https."
            )
        built = "%s://%s%s%s" % (parts.scheme, parts.netloc.lower(), parts.path.rstrip("/"), middleware.callback_path)
    lines = ["Callback URL to register in %s:" % where]
    if middleware.redirect_uri is not None:
        lines.append("  %s" % middleware.redirect_uri)
        if built is not None and built != middleware.redirect_uri:
            lines.append(
                "note: --url gives %s, but redirect_uri is set, so %s is what %s is sent."
                % (built, middleware.redirect_uri, middleware.provider.display_name)
            )
    elif built is not None:
        lines.append("  %s" % built)
        lines.append(
            "note: redirect_uri is not set, so the middleware builds this URL from each request's scheme, "
            "Host and SCRIPT_NAME; in production set %s=%s." % (env.env_variable("redirect_uri"), built)
        )
    else:
        lines.append("  https://<your host><SCRIPT_NAME>%s" % middleware.callback_path)
        lines.append(
            "note: redirect_uri is not set, so the middleware builds the callback URL from each request's "
            "scheme, Host and SCRIPT_NAME (the prefix the app is mounted under, usually empty). Pass "
            "--url https://your.host to print the exact URL; in production set %s." % env.env_variable("redirect_uri")
        )
    return lines
