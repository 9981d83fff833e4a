"""Diagnostics that name the cause of the failures a newcomer meets.

A login that ends in "invalid, expired or already used" has three usual causes that look alike
from the browser: the login started on another host than the callback's (``localhost`` vs
``127.0.0.1``), the workers do not share one secret key (each one refuses the others' cookies),
or the app is wrapped twice. This module spots each of them and says what to change, in a
WARNING log line (rate limited: the inputs are the client's) and, at the callback, in a hint on the
error page. None of it changes a decision: a cookie that does not open is refused either way.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import typing as t
import warnings
from urllib.parse import urlsplit

from .errors import ConfigurationError, StateError

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from .crypto import Cipher
    from .flow import FlowCookies
    from .middleware import OAuthMiddleware

log = logging.getLogger(__name__)

#: Attributes under which WSGI wrappers commonly keep the app they wrap (Flask's ``wsgi_app``,
#: werkzeug's and our own ``app``, ...).
WRAPPED_ATTRIBUTES = ("wsgi_app", "app", "application")
#: How deep :func:`find_wrapped` looks for a middleware inside the app being wrapped.
MAX_DEPTH = 4


def find_wrapped(app: object, kind: type[OAuthMiddleware]) -> tuple[str, OAuthMiddleware] | None:
    """The instance of ``kind`` (:class:`~oauth_middleware.OAuthMiddleware`) inside ``app``
    (``app`` itself included), as ``(expression, middleware)``, e.g.
    ``("app.wsgi_app", <OAuthMiddleware>)``; ``None`` if none. The class is passed in: the
    middleware imports this module, never the other way round."""
    level: list[tuple[str, object]] = [("app", app)]
    seen: set[int] = set()
    for _ in range(MAX_DEPTH):
        below: list[tuple[str, object]] = []
        for expression, candidate in level:
            if id(candidate) in seen:
                continue
            seen.add(id(candidate))
            if isinstance(candidate, kind):
                return expression, candidate
            for attribute in WRAPPED_ATTRIBUTES:
                try:
                    child = getattr(candidate, attribute, None)
                except Exception:  # a property that fails is no wrapped app of ours
                    continue
                if child is not None and callable(child):
                    below.append(("%s.%s" % (expression, attribute), child))
        level = below
    return None


def check_not_wrapped_twice(app: WSGIApplication, *, cookie_name: str, kind: type[OAuthMiddleware]) -> None:
    """Refuse to wrap an app that already has an :class:`~oauth_middleware.OAuthMiddleware`
    with the same cookie name; warn when the names differ.

    Two middlewares with one cookie name cannot work: the outer one takes the login and removes
    its session cookie from the request, so the inner one sees every request as anonymous (401
    or a login redirect right after a successful login). With different cookie names each one
    keeps its own session, but the inner one removes the outer one's ``REMOTE_USER``, so the app
    only ever sees the inner one's user.
    """
    found = find_wrapped(app, kind)
    if found is None:
        return
    expression, inner = found
    if inner.cookie_name == cookie_name:
        raise ConfigurationError(
            "app is already wrapped in an OAuthMiddleware (found at %s) with the same cookie name %r: "
            "wrapping it twice makes the outer one take every login and hide the session from the inner "
            "one, so requests fail with 401 right after a successful login. Wrap the app once: pass the "
            "unwrapped WSGI app (here %s.app), or use the middleware you already have "
            "(oauth_middleware.testing.find_middleware(app) finds it)" % (expression, cookie_name, expression)
        )
    message = (
        "app already contains an OAuthMiddleware (at %s, cookie name %r): the inner one removes this one's "
        "REMOTE_USER and oauth_middleware.* keys, so the app only sees users logged in through the inner one. "
        "Wrap the app once unless that is what you want" % (expression, inner.cookie_name)
    )
    warnings.warn(message, stacklevel=3)
    log.warning("%s", message)


class RateLimitedLog:
    """At most one WARNING per ``interval`` seconds per topic; the lines in between are counted
    and the count is given with the next one. The inputs come from clients, so an attacker must
    not be able to flood the log with them.

    :param interval: seconds between two lines of one topic.
    :param clock: returns the current time in seconds (monotonic by default).
    """

    def __init__(self, *, interval: float = 600.0, clock: t.Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, topic: str, message: str, *args: object) -> bool:
        """Log ``message % args`` at WARNING unless ``topic`` was logged less than ``interval``
        seconds ago; True if it was logged."""
        now = self.clock()
        with self._lock:
            if now < self._next.get(topic, float("-inf")):
                self._suppressed[topic] = self._suppressed.get(topic, 0) + 1
                return False
            self._next[topic] = now + self.interval
            suppressed = self._suppressed.pop(topic, 0)
        if suppressed:
            message += " (%d more like this since the last report)"
            args += (suppressed,)
        log.warning(message, *args)
        return True


#: Added to the callback's 400 page when its flow cookie was sealed with a key this process lacks.
KEY_MISMATCH_HINT = (
    "This server could not read the record of your login: it was sealed with a secret key this "
    "server does not have. If the site runs several workers or hosts, they must all share one "
    "secret key (OAUTH_MIDDLEWARE_SECRET_KEY)."
)
#: Added to the callback's 400 page when no login record came back and ``redirect_uri`` is fixed.
HOST_MISMATCH_HINT = (
    "If you started the login at another address than %s (localhost instead of 127.0.0.1, say), "
    "open %s and log in from there: your browser keeps the record of a login for the address "
    "where it started."
)
_HOSTNAME = re.compile(r"\A(?:[a-z0-9](?:[a-z0-9.-]{0,252})|[0-9a-f:.]{2,45})\Z")


class Diagnostics:
    """Spots a secret key that differs between workers and a login host that differs from the
    callback's, and says how to fix them (rate-limited log lines, hints for the callback page).

    :param clock: returns the current time in seconds (the middleware's clock).
    :param interval: seconds between two log lines about the same cause.
    """

    def __init__(self, *, clock: t.Callable[[], float], interval: float = 600.0) -> None:
        self.log = RateLimitedLog(interval=interval, clock=clock)

    def foreign_key(self, kind: str, cipher: Cipher, value: str | None) -> bool:
        """True (and a WARNING, rate limited) if the ``kind`` cookie ``value`` was refused because
        it was sealed with a key ``cipher`` does not have; False for anything else (tampered,
        expired, absent). The cookie is refused either way."""
        if not value:
            return False
        if value[0] in "0123456789" and "." in value[:3]:
            value = value.partition(".")[2]  # the first chunk of a chunked session: the key id leads it
        foreign = cipher.foreign_key_id(value)
        if foreign is None:
            return False
        self.log.warning(
            "key:" + kind,
            "refused a %s cookie sealed with a secret key this process does not have (key id %s; this "
            "process seals with %s): all workers and hosts must share one OAUTH_MIDDLEWARE_SECRET_KEY "
            "(secret_key). A random key per worker makes half the logins fail and logged-in users "
            "flicker to anonymous. (Expected for a while for cookies sealed with a key you removed.)",
            kind,
            foreign,
            cipher.key_id,
        )
        return True

    def store_down(self, exc: Exception) -> None:
        """A WARNING (rate limited) that the session store did not answer."""
        self.log.warning(
            "store",
            "the session store did not answer (%s): protected paths answer 503 and public ones pass "
            "anonymously until it is back",
            type(exc).__name__,
        )

    def login_host(self, request_host: str, redirect_uri: str) -> bool:
        """True (and a WARNING, rate limited) if a login started at ``request_host`` (the request's
        ``Host``) will come back to another host, named by ``redirect_uri``: the browser then has
        no flow cookie there and the callback answers 400."""
        host, target = _hostname(request_host), _hostname(redirect_uri, url=True)
        if host is None or target is None or host == target:
            return False
        self.log.warning(
            "host",
            "a login started at host %s, but redirect_uri sends the browser back to %s: browsers keep "
            "the login's cookie per host, so the callback will find none and answer 400 (invalid, "
            "expired or already used). Browse the site at %s, or set redirect_uri to the host you use "
            "(behind a proxy, pass the original Host header on: ProxyFix, proxy_set_header Host)",
            host,
            target,
            target,
        )
        return True

    @staticmethod
    def host_hint(redirect_uri: str) -> str:
        """The callback page's hint for a missing login record when ``redirect_uri`` is fixed."""
        netloc = urlsplit(redirect_uri).netloc
        return HOST_MISMATCH_HINT % (netloc, netloc)


def _hostname(value: str, *, url: bool = False) -> str | None:
    """The lower-case host name of a ``Host`` header (or of a URL), without the port; ``None``
    if it is not a plausible host name (nothing from a client is logged unchecked)."""
    if not (value.isascii() and value.isprintable() and " " not in value and len(value) <= 300):
        return None  # checked before parsing: urlsplit silently drops tabs and line breaks
    try:
        parts = urlsplit(value if url else "//" + value)
        host = parts.hostname if parts.port is None or parts.port > 0 else None  # .port checks the port
    except ValueError:
        return None
    return host if host and _HOSTNAME.match(host) else None


def callback_hint(
    diagnostics: Diagnostics,
    cookies: t.Mapping[str, str],
    flow_cookie: str | None,
    *,
    flows: FlowCookies,
    secure: bool,
    redirect_uri: str | None,
) -> str | None:
    """The callback's 400 description with a hint naming the likely cause, or ``None`` for the
    plain one: the flow cookie sent was sealed with another key, or no flow cookie came back at
    all while ``redirect_uri`` is fixed (the login started on another host)."""
    if flow_cookie is not None:
        if diagnostics.foreign_key("flow", flows.cipher, cookies.get(flow_cookie)):
            return "%s %s" % (StateError.description, KEY_MISMATCH_HINT)
        return None
    if redirect_uri and not any(flows.is_flow_name(name, secure=secure) for name in cookies):
        return "%s %s" % (StateError.description, diagnostics.host_hint(redirect_uri))
    return None
