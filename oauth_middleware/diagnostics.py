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
import threading
import time
import typing as t
import warnings

from .errors import ConfigurationError

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from .middleware import OAuthMiddleware

log = logging.getLogger(__name__)

#: Attributes under which WSGI wrappers commonly keep the app they wrap (Flask's ``wsgi_app``,
#: werkzeug's and our own ``app``, ...).
WRAPPED_ATTRIBUTES = ("wsgi_app", "app", "application")
#: How deep :func:`find_wrapped` looks for a middleware inside the app being wrapped.
MAX_DEPTH = 4


def find_wrapped(app: object) -> tuple[str, OAuthMiddleware] | None:
    """The :class:`~oauth_middleware.OAuthMiddleware` inside ``app`` (``app`` itself included), as
    ``(expression, middleware)``, e.g. ``("app.wsgi_app", <OAuthMiddleware>)``; ``None`` if none."""
    from .middleware import OAuthMiddleware  # the middleware imports this module

    level: list[tuple[str, object]] = [("app", app)]
    seen: set[int] = set()
    for _ in range(MAX_DEPTH):
        below: list[tuple[str, object]] = []
        for expression, candidate in level:
            if id(candidate) in seen:
                continue
            seen.add(id(candidate))
            if isinstance(candidate, OAuthMiddleware):
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


def check_not_wrapped_twice(app: WSGIApplication, *, cookie_name: str) -> None:
    """Refuse to wrap an app that already has an :class:`~oauth_middleware.OAuthMiddleware`
    with the same cookie name; warn when the names differ.

    Two middlewares with one cookie name cannot work: the outer one takes the login and removes
    its session cookie from the request, so the inner one sees every request as anonymous (401
    or a login redirect right after a successful login). With different cookie names each one
    keeps its own session, but the inner one removes the outer one's ``REMOTE_USER``, so the app
    only ever sees the inner one's user.
    """
    found = find_wrapped(app)
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
