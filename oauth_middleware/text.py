"""Text from outside (the provider, the request) made safe for log lines and our own pages.

Every log argument that did not come from this package's own constants goes through
:func:`for_log`, so a provider answer or a request can never forge a log line, hide one behind
terminal escapes, or flood the log. Pages name a user only through :func:`display_login`, which
accepts identifiers shaped like GitHub logins and nothing else (security.md ERR-10).
"""

from __future__ import annotations

import re

#: Most characters of one outside value kept in a log line.
MAX_LOG_CHARS = 100
#: What a login must look like to be shown on a page: GitHub's logins (letters, digits, ``-``),
#: plus ``_`` and ``.`` of Enterprise Managed Users and GHES, at most 64 characters.
_LOGIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def for_log(value: object, limit: int = MAX_LOG_CHARS) -> str:
    """``value`` as one bounded line: control, format and line-separator characters escaped
    (``\\n``, ``\\x1b``, ``\\u2028``), at most ``limit`` characters of it kept, and a cut marked.

    .. code-block:: python

        log.info("login succeeded for %s", for_log(username))
    """
    text = value if isinstance(value, str) else str(value)
    length = len(text)
    text = text[:limit]
    if not text.isprintable():
        text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
    return text if length <= limit else "%s...(%d chars)" % (text, length)


def display_login(value: object) -> str | None:
    """``value`` if it is shaped like a login and safe to show as is, else ``None``."""
    if isinstance(value, str) and _LOGIN.fullmatch(value):
        return value
    return None
