"""A small Flask app behind oauth-middleware: the whole GitHub login, runnable in one command.

    python demo_app.py                      # http://127.0.0.1:5000
    gunicorn --workers 2 demo_app:app       # the same under gunicorn
    DEMO_PROVIDER=oidc python demo_app.py   # OpenID Connect, against the embedded FakeOIDC

With ``GITHUB_OAUTH_CLIENT_ID`` and ``GITHUB_OAUTH_CLIENT_SECRET`` set it logs in with real GitHub
(register the callback ``http://127.0.0.1:5000/auth/callback`` for local use). Without them it
runs against the embedded fake GitHub (:class:`oauth_middleware.testing.FakeGitHub`): its consent
page is served by this app under ``/_fake_github`` and the server-side calls (token, ``/user``) go
to it in-process, so there is no second server and nothing for a single sync worker to deadlock
on. Every page says which one is in use.

With ``DEMO_PROVIDER=oidc`` it logs in with OpenID Connect against the embedded fake OpenID
Provider (:class:`oauth_middleware.testing.FakeOIDC`, users alice and bob) the same way: its
consent page under ``/_fake_oidc``, discovery, token and keys in-process, and logout ending the
session at the fake too (RP-initiated logout). That fake keeps its keys and codes in memory: run
it in one process (``python demo_app.py``, or ``gunicorn --workers 1``).

``OAUTH_MIDDLEWARE_SECRET_KEY`` is the session key. Without it the demo makes one and keeps it in a
file shared by every worker (a random key per process would split sessions between workers), and
warns: set the variable for anything real. That file lives where only you can write:
``$XDG_RUNTIME_DIR/oauth-middleware/demo-key``, or ``~/.cache/oauth-middleware/demo-key`` (the
directory 0700, the file 0600, created exclusively); a key file or directory owned by someone
else, or open to group or others, is refused rather than used (anyone who can plant the key can
forge sessions).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
import typing as t
import warnings

from flask import Flask, jsonify, render_template_string, request
from markupsafe import Markup
from werkzeug.serving import WSGIRequestHandler

from oauth_middleware import GitHub, OAuthMiddleware
from oauth_middleware.testing import FakeGitHub, FakeOIDC, FakeUser, mount_under

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

log = logging.getLogger("demo_app")

FAKE_PREFIX = "/_fake_github"
FAKE_OIDC_PREFIX = "/_fake_oidc"
#: ``DEMO_PROVIDER``: who the demo logs in with.
DEMO_PROVIDERS = ("github", "oidc")
SITE = "oauth-middleware demo"  # the home page's title, and the suffix of every other page's

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}{% if title != site %} - {{ site }}{% endif %}</title>
<link rel="icon" href="data:,">
<style>
 body { font: 16px/1.5 system-ui, sans-serif; max-width: 40em; margin: 2em auto; padding: 0 1em; }
 .banner { background: #fff3cd; border: 1px solid #e0c36c; padding: .5em 1em; border-radius: 4px; }
 .card { display: flex; gap: 1em; align-items: center; border: 1px solid #ddd; padding: 1em; border-radius: 6px; }
 .card img { width: 80px; height: 80px; border-radius: 50%; }
 nav a { margin-right: 1em; } button { font: inherit; padding: .3em 1em; } form { margin: 1em 0; }
</style></head><body>
{% if fake == "oidc" %}<p class="banner" id="fake-banner">Demo mode: logging in with OpenID Connect against
the <strong>embedded fake OpenID Provider</strong> (FakeOIDC; no real account is used). Unset DEMO_PROVIDER
to use GitHub.</p>{% elif fake %}<p class="banner" id="fake-banner">Demo mode: logging in against the
<strong>embedded fake GitHub</strong> (no real account is used). Set GITHUB_OAUTH_CLIENT_ID and
GITHUB_OAUTH_CLIENT_SECRET to use github.com.</p>{% endif %}
<nav><a href="/">Home</a><a href="/profile">Profile</a><a href="/private">Private page</a><a
 href="/api/me">/api/me</a></nav>
<h1>{{ title }}</h1>
{{ body }}
{% if user %}<form method="post" action="/auth/logout"><input type="hidden" name="next" value="/">
<button type="submit" id="logout">Log out {{ login }}</button></form>
{% else %}<p><a id="login" href="/auth/login?next={{ next_path | urlencode }}">Log in with {{ provider }}</a></p>
{% endif %}
</body></html>"""

PROFILE = """<div class="card" id="profile">
{% if user.avatar_url %}<img src="{{ user.avatar_url }}" alt="avatar of {{ user.login }}">{% endif %}
<div><strong id="name">{{ user.name or user.login }}</strong><br>
<span id="login-name">@{{ login }}</span> &middot; id {{ user_id }}<br>
<span id="email">{{ user.email or "no public email" }}</span><br>
granted scopes: <code>{{ scopes | join(", ") or "(none)" }}</code></div></div>"""


class DemoKeyError(RuntimeError):
    """The demo's key file (or its directory) is not private to this user: refused, not used."""


def key_file(environ: t.Mapping[str, str] = os.environ) -> str:
    """Where the generated demo key is kept: a directory of this user's, never a shared one."""
    runtime = environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime):
        base = runtime
    else:
        cache = environ.get("XDG_CACHE_HOME")
        base = cache if cache and os.path.isabs(cache) else os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "oauth-middleware", "demo-key")


def _check_private(path: str, info: os.stat_result, kind: str) -> None:
    """Refuse ``path`` unless it is this user's and closed to group and others."""
    if info.st_uid != os.getuid():
        raise DemoKeyError(
            "%s %s belongs to uid %d, not to you (uid %d): another user may have planted it to forge "
            "sessions. Remove it, or set OAUTH_MIDDLEWARE_SECRET_KEY." % (kind, path, info.st_uid, os.getuid())
        )
    if info.st_mode & 0o077:
        raise DemoKeyError(
            "%s %s is readable or writable by group or others (mode %o): its key cannot be trusted or kept "
            "secret. Remove it (a new one is made), or set OAUTH_MIDDLEWARE_SECRET_KEY."
            % (kind, path, stat.S_IMODE(info.st_mode))
        )


def _read_key(path: str) -> str:
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)  # a symlink is refused (ELOOP)
    with os.fdopen(descriptor) as handle:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise DemoKeyError("%s is not a regular file. Remove it, or set OAUTH_MIDDLEWARE_SECRET_KEY." % path)
        _check_private(path, info, "the demo key file")
        key = handle.read().strip()
    if len(key) < 32:
        raise DemoKeyError("%s is damaged: remove it and start again" % path)
    return key


def secret_key(environ: t.Mapping[str, str] = os.environ) -> str:
    """The session key: from the environment, or one shared by every worker through a file of
    this user's (see :func:`key_file`)."""
    key = environ.get("OAUTH_MIDDLEWARE_SECRET_KEY")
    if key:
        return key
    path = key_file(environ)
    message = (
        "OAUTH_MIDDLEWARE_SECRET_KEY is not set: the demo uses a key kept in %s. Set the variable "
        "(python -c 'import secrets; print(secrets.token_urlsafe(32))') for anything real." % path
    )
    log.warning(message)  # logged once; a warnings.warn() as well would print it twice
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode):
        raise DemoKeyError("%s is not a directory. Remove it, or set OAUTH_MIDDLEWARE_SECRET_KEY." % directory)
    _check_private(directory, info, "the demo key directory")
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    # the first worker publishes a complete file atomically (link() never replaces); the others read it
    draft = "%s.%d.%s" % (path, os.getpid(), secrets.token_hex(4))
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
        with contextlib.suppress(FileExistsError):  # another worker was first: use its key
            os.link(draft, path)
    finally:
        os.unlink(draft)
    return _read_key(path)


def wrap(app: WSGIApplication, **options: t.Any) -> OAuthMiddleware:
    """The middleware around ``app``. Its allow_insecure_http warning is also logged: print it once."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "allow_insecure_http", UserWarning)
        return OAuthMiddleware(app, **options)


def create_app(environ: t.Mapping[str, str] = os.environ) -> Flask:
    """Build the demo: real GitHub when credentials are in ``environ``, the fake otherwise."""
    flask_app = Flask(__name__)
    client_id = environ.get("GITHUB_OAUTH_CLIENT_ID")
    client_secret = environ.get("GITHUB_OAUTH_CLIENT_SECRET")
    kind = environ.get("DEMO_PROVIDER", "github").strip().lower() or "github"
    if kind not in DEMO_PROVIDERS:
        raise ValueError("DEMO_PROVIDER must be one of %s, got %r" % (", ".join(DEMO_PROVIDERS), kind))
    fake = "oidc" if kind == "oidc" else "github" if not (client_id and client_secret) else ""
    redirect_uri = environ.get("OAUTH_MIDDLEWARE_REDIRECT_URI") or None

    def render(title: str, body: str = "", **context: t.Any) -> str:
        user = request.environ.get("oauth_middleware.user")
        names = {
            "login": request.environ.get("REMOTE_USER"),
            "user_id": request.environ.get("oauth_middleware.user_id"),
        }
        inner = render_template_string(body, user=user, **names, **context)
        return render_template_string(
            PAGE,
            title=title,
            site=SITE,
            body=Markup(inner),
            user=user,
            fake=fake,
            provider="Fake OIDC" if fake == "oidc" else "GitHub",
            next_path=request.full_path.rstrip("?"),
            **names,
        )

    @flask_app.route("/")
    def home() -> str:
        return render(
            SITE,
            "{% if user %}<p>Hello, <strong>{{ user.name or user.login }}</strong>!</p>"
            "{% else %}<p>You are not logged in.</p>{% endif %}",
        )

    @flask_app.route("/profile")
    def profile() -> str:
        if request.environ.get("oauth_middleware.user") is None:
            return render("Profile", "<p>Log in to see your profile.</p>")
        scopes = request.environ["oauth_middleware.token"].get("scope", [])
        return render("Profile", PROFILE, scopes=scopes)

    @flask_app.route("/private")
    def private() -> str:
        # protected by require_login=["/private"]: anonymous browsers never get here
        return render("Private page", "<p id='private'>Only logged-in users see this page.</p>")

    @flask_app.route("/api/me")
    def api_me() -> t.Any:
        user = request.environ.get("oauth_middleware.user")
        if user is None:
            return jsonify(error="login_required", login_url="/auth/login?next=/api/me"), 401
        token = request.environ["oauth_middleware.token"]
        return jsonify(login=request.environ["REMOTE_USER"], user=user, scope=token.get("scope", []))

    @flask_app.route("/healthz")
    def healthz() -> str:
        return "ok"

    @flask_app.errorhandler(404)
    def not_found(_: Exception) -> tuple[str, int]:
        return render("Not found", "<p>There is nothing here.</p>"), 404

    options: dict[str, t.Any] = {
        "secret_key": secret_key(),
        "require_login": ["/private"],
        "public_paths": ["/healthz"],
        "redirect_uri": redirect_uri,
    }
    if fake == "oidc":
        fake_oidc = FakeOIDC(auto_approve=environ.get("DEMO_AUTO_APPROVE") or None)
        if fake_oidc.auto_approve not in (None, *fake_oidc.users):
            fake_oidc.auto_approve = None  # a GitHub login (octocat): show the consent page instead
        middleware = wrap(
            flask_app.wsgi_app,
            client_id=fake_oidc.client_id,
            client_secret=fake_oidc.client_secret,
            provider=fake_oidc.provider(browser_base_url=FAKE_OIDC_PREFIX, end_session=True),
            allow_insecure_http=True,
            **options,
        )
        fake_oidc.mount(middleware.http)
        flask_app.wsgi_app = mount_under(FAKE_OIDC_PREFIX, fake_oidc, middleware)  # type: ignore[method-assign,assignment]
        log.warning("DEMO_PROVIDER=oidc: using the embedded fake OpenID Provider under %s", FAKE_OIDC_PREFIX)
    elif fake:
        fake_github = FakeGitHub(
            client_id="demo-client-id",
            client_secret="demo-client-secret",
            users=[  # octocat's name and email as FakeGitHub's default octocat (GitHub's documented example)
                FakeUser(login="octocat", id=583231, name="monalisa octocat", email="octocat@github.com"),
                FakeUser(login="hubot", id=480938, name="Hubot", email=None),
            ],
            auto_approve=environ.get("DEMO_AUTO_APPROVE") or False,
            sealed=options["secret_key"],
        )
        middleware = wrap(
            flask_app.wsgi_app,
            client_id=fake_github.client_id,
            client_secret=fake_github.client_secret,
            provider=fake_github.provider(browser_base_url=FAKE_PREFIX),
            allow_insecure_http=True,
            **options,
        )
        fake_github.mount(middleware.http)
        flask_app.wsgi_app = mount_under(FAKE_PREFIX, fake_github, middleware)  # type: ignore[method-assign,assignment]
        log.warning("no GitHub credentials: using the embedded fake GitHub under %s", FAKE_PREFIX)
    else:
        insecure = bool(environ.get("OAUTH_MIDDLEWARE_ALLOW_INSECURE_HTTP", "1" if redirect_uri is None else ""))
        middleware = wrap(
            flask_app.wsgi_app,
            client_id=t.cast(str, client_id),
            client_secret=t.cast(str, client_secret),
            provider=GitHub(),
            allow_insecure_http=insecure,
            **options,
        )
        flask_app.wsgi_app = middleware  # type: ignore[method-assign]
    flask_app.config["OAUTH_MIDDLEWARE"] = middleware
    return flask_app


app = create_app()
application: WSGIApplication = app


class PathOnlyRequestHandler(WSGIRequestHandler):
    """The development server's access log, without query strings: the callback's carries the
    authorization code and the state, which have no place in a log."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = getattr(self, "path", None)
        if isinstance(path, str):
            self.path = path.split("?", 1)[0]  # werkzeug builds the line from self.path
        self.requestline = self.requestline.split("?", 1)[0]  # used when the request was malformed
        super().log_request(code, size)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    port = int(os.environ.get("PORT", "5000"))
    print(" * oauth-middleware demo on http://127.0.0.1:%d/ (Ctrl+C to stop)" % port, flush=True)
    app.run(host="127.0.0.1", port=port, threaded=True, request_handler=PathOnlyRequestHandler)


if __name__ == "__main__":
    main()
