"""Reading the ``Cookie`` header and writing ``Set-Cookie`` headers with safe flags.

The request side is a small splitter rather than a full parser on purpose: it runs on every
request that carries one of our cookies, must keep every other cookie byte for byte when it
removes ours, and must stay linear on hostile headers (hundreds of cookies, 64 KB).
``Set-Cookie`` values are built by :func:`webob.cookies.make_cookie`.
"""

from __future__ import annotations

from webob.cookies import make_cookie

#: RFC 6265 promises 4096 bytes per cookie (name, value and attributes); 6265bis drops larger
#: ones silently. Stay clear of it, as oauth2-proxy and mod_auth_openidc do.
MAX_SET_COOKIE_BYTES = 4000


def parse_cookie_header(header: str) -> dict[str, str]:
    """Map cookie names to values; the first occurrence of a name wins (RFC 6265 5.4 order)."""
    cookies: dict[str, str] = {}
    for part in header.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            cookies.setdefault(name.strip(), value.strip())
    return cookies


def split_own_cookies(header: str, name: str) -> tuple[dict[str, str], str]:
    """One pass over ``header``: (our cookies, name -> value; the header without them).

    Ours are ``name``, ``name.<anything>`` and their ``__Host-`` forms; the first occurrence of a
    name wins (as in :func:`parse_cookie_header`), and the rest of the header is kept verbatim.
    Only parts that contain ``name`` at all are parsed, so the app's own cookies (analytics,
    consent, CSRF...) cost a substring test each.
    """
    ours: dict[str, str] = {}
    kept: list[str] = []
    dotted = name + "."
    for part in header.split(";"):
        if name in part:
            key, sep, value = part.partition("=")
            key = key.strip()
            base = key[7:] if key.startswith("__Host-") else key
            if base == name or base.startswith(dotted):
                if sep:
                    ours.setdefault(key, value.strip())
                continue
        kept.append(part)
    return ours, ";".join(kept).strip()


def set_cookie(name: str, value: str | None, *, max_age: int, secure: bool) -> tuple[str, str]:
    """A ``Set-Cookie`` header: HttpOnly, SameSite=Lax, Path=/, no Domain; ``None`` deletes.

    Deleting keeps every flag (unlike :meth:`webob.Response.delete_cookie`), which browsers need
    to match ``__Host-`` cookies.
    """
    header = make_cookie(
        name,
        value,
        max_age=None if value is None else max_age,
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )
    return ("Set-Cookie", header.decode("latin-1") if isinstance(header, bytes) else header)
