"""Validation of the ``next`` parameter: where the browser goes after login or logout.

``next`` comes from the query string (or the logout form body), so it is
attacker-controlled. :func:`safe_next` accepts it only when it is a same-site relative
path and otherwise falls back to a default, so the middleware can never be used as an
open redirector and no CR or LF can ever reach a ``Location`` header.

The checks are done on the raw string with our own character rules, never with
:func:`urllib.parse.urlsplit` alone: browsers turn ``\\`` into ``/``, drop TAB/CR/LF and
ignore extra slashes, and different CPython versions strip different characters before
parsing, so ``/\\evil.com`` or ``/<TAB>/evil.com`` look like harmless paths to Python
while a browser goes to ``evil.com``. The same rules are applied again after repeated
percent-decoding, because intermediaries and applications may decode once more.
``tests/data/redirect_cases.json`` (970 vectors from oauth2-proxy, mod_auth_openidc,
Django, flask-admin and advisories) is the judge: exactly its ``safe`` values are
accepted.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

log = logging.getLogger(__name__)

#: Longest ``next`` value accepted, in characters.
MAX_NEXT_LENGTH = 2048

#: Percent-decoding rounds done before a value that keeps changing is refused.
_MAX_DECODE_ROUNDS = 4

#: Longest part of a rejected value written to the log (then escaped with ``repr()``).
_LOG_PREVIEW_LENGTH = 100

#: oauth2-proxy's check: a slash or backslash, then nothing, whitespace, ``.`` or
#: ``..``, then a slash or backslash. Covers ``//``, ``/./``, ``/../`` and
#: slash-whitespace-slash, anywhere (query included).
_SLASH_SEQUENCE_RE = re.compile(r"[/\\](?:[\s\v]*|\.{1,2})[/\\]")

#: A path ending in a dot segment (``/.`` or ``/..``), which a browser resolves upwards.
_TRAILING_DOT_SEGMENT_RE = re.compile(r"/\.{1,2}\Z")

#: mod_auth_openidc's blocklist, matched case-insensitively on raw and decoded forms.
_BLOCKLIST_RE = re.compile(r"/https?:|/javascript:|%01javascript:|/<", re.IGNORECASE)

#: C0 control characters and DEL (a decoded space and decoded non-ASCII text are fine).
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def _path_part(value: str) -> str:
    """Return ``value`` up to (not including) the first ``?`` or ``#``."""
    end = len(value)
    for sep in "?#":
        index = value.find(sep, 0, end)
        if index != -1:
            end = index
    return value[:end]


def _is_safe_form(value: str) -> bool:
    """Check the rules shared by the raw and every percent-decoded form of a value.

    :param value: the raw value or one of its percent-decoded forms.
    """
    return not (
        "\\" in value
        or _SLASH_SEQUENCE_RE.search(value)
        or _TRAILING_DOT_SEGMENT_RE.search(_path_part(value))
        or _BLOCKLIST_RE.search(value)
    )


def is_safe_next(value: str) -> bool:
    """True if ``value`` is a same-site relative path we may redirect to.

    The value is accepted only when all of these hold:

    - it is non-empty and at most :data:`MAX_NEXT_LENGTH` characters long;
    - every character is printable ASCII (``0x21``-``0x7E``): no whitespace, TAB, CR,
      LF, NUL, DEL or non-ASCII look-alikes;
    - it starts with ``/`` and the second character is neither ``/`` nor ``\\``, so it
      is never absolute (``https://...``) nor scheme-relative (``//host``);
    - it contains no ``\\`` and nothing matching ``[/\\](?:[\\s\\v]*|\\.{1,2})[/\\]``
      (``//``, ``/./``, ``/../`` anywhere, query included), and its path does not end
      in ``/.`` or ``/..``;
    - none of ``/http:``, ``/https:``, ``/javascript:``, ``%01javascript:`` or ``/<``
      appears, ignoring case;
    - if it contains ``%``, it is percent-decoded repeatedly until stable (at most four
      rounds, otherwise it is refused) and every decoded form passes the same checks
      and contains no control character (``0x00``-``0x1F``, ``0x7F``). A decoded space
      or non-ASCII character is fine.

    **Security:** this is the only gate between the query string and the ``Location``
    header. Any change must keep ``tests/data/redirect_cases.json`` passing.

    :param value: the ``next`` value, already decoded once by query-string parsing.
    """
    # Cheap raw checks first: this runs on every login.
    if not value or len(value) > MAX_NEXT_LENGTH:
        return False
    if value[0] != "/" or value[1:2] in ("/", "\\"):
        return False
    # isprintable() allows the space, so refuse it separately.
    if not (value.isascii() and value.isprintable()) or " " in value:
        return False
    if not _is_safe_form(value):
        return False
    if "%" not in value:
        return True

    current = value
    for _ in range(_MAX_DECODE_ROUNDS):
        decoded = unquote(current)
        if decoded == current:
            return True
        if _CONTROL_RE.search(decoded) or not _is_safe_form(decoded):
            return False
        current = decoded
    # Still changing after the last allowed round: refuse rather than guess.
    return unquote(current) == current


def _is_forbidden(value: str, forbidden: tuple[str, ...]) -> bool:
    """True if the path of ``value`` equals or lies under a ``forbidden`` path.

    Both the raw path and its percent-decoded form are compared, so ``/auth/%6Cogin``
    cannot slip past a forbidden ``/auth/login``.

    :param value: a value already accepted by :func:`is_safe_next`.
    :param forbidden: paths such as the middleware's own login, callback and logout
        paths.
    """
    raw_path = _path_part(value)
    paths = {raw_path}
    if "%" in raw_path:
        paths.add(unquote(raw_path))
    for entry in forbidden:
        # "/auth/" and "/auth" both forbid "/auth" and everything under it.
        prefix = entry.rstrip("/")
        for path in paths:
            if path == prefix or path.startswith(prefix + "/"):
                return True
    return False


def safe_next(
    value: str | None,
    *,
    default: str = "/",
    forbidden: tuple[str, ...] = (),
) -> str:
    """Return ``value`` if it is a safe redirect target, otherwise ``default``.

    ``value`` is kept only if :func:`is_safe_next` accepts it and its path part (before
    the first ``?`` or ``#``) is neither equal to nor under (``prefix + "/"``) any of
    the ``forbidden`` paths. A rejected non-empty value is logged at ``DEBUG``,
    truncated and escaped with :func:`repr`, never raw, so it cannot forge log lines.

    .. code-block:: python

        location = safe_next(
            request.GET.get("next"),
            forbidden=(login_path, callback_path, logout_path),
        )

    :param value: the ``next`` value from the request, or ``None`` if it was absent.
    :param default: returned when ``value`` is missing or rejected. It is trusted as
        given (normally ``"/"`` or a configured path) and is not validated here.
    :param forbidden: paths ``value`` must not point at or under, normally the
        middleware's own login, callback and logout endpoints (avoids redirect loops
        and logout-CSRF chains). Trailing slashes on these entries are ignored.
    """
    if not value:
        return default
    if is_safe_next(value) and not _is_forbidden(value, forbidden):
        return value
    log.debug(
        "rejected next value (%d chars): %r",
        len(value),
        value[:_LOG_PREVIEW_LENGTH],
    )
    return default
