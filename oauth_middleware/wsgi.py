"""The WSGI boundary: one neutral :class:`Response` for everything the middleware answers itself,
and the few facts its endpoints read from a request (query, form, method), parsed defensively.

Every own answer (a redirect, a page, a JSON error) is a :class:`Response` built here and
rendered by calling it, as whitenoise's ``Response`` is rendered by its fronts: one shape for one
idea, and no WebOb object on the request path.
"""

from __future__ import annotations

import dataclasses
import html
import http
import json
import typing as t
from urllib.parse import parse_qsl, quote

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = [
    "SECURITY_HEADERS",
    "Response",
    "allowed_method",
    "first_values",
    "form",
    "html_page",
    "is_browser_navigation",
    "query",
    "quoted",
    "wants_json",
]

Headers = list[tuple[str, str]]

#: Headers on every response the middleware makes itself.
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("Cache-Control", "no-store"),
    ("Pragma", "no-cache"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    ),
)
#: Largest urlencoded form body read (the logout form is a few dozen bytes).
MAX_FORM_BYTES = 16 * 1024
#: A query string re-quoted for a ``Location`` header: CR, LF and spaces are escaped.
QUERY_SAFE = "=&;%+:@/,!$'()*~"


@dataclasses.dataclass
class Response:
    """An answer of the middleware's own: status, headers (the security headers included) and
    body. Call it as a WSGI app to send it.

    .. code-block:: python

        return Response.redirect("/dashboard", status=303)(environ, start_response)

    :param status: the HTTP status code.
    :param headers: the header list, in order.
    :param body: the body; not sent for ``HEAD``.
    """

    status: int
    headers: Headers = dataclasses.field(default_factory=list)
    body: bytes = b""

    @property
    def status_line(self) -> str:
        return "%d %s" % (self.status, http.HTTPStatus(self.status).phrase)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        start_response(self.status_line, self.headers)
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [self.body]

    @classmethod
    def redirect(cls, location: str, *, status: int = 302, headers: t.Iterable[tuple[str, str]] = ()) -> Response:
        """A bare redirect to an already validated ``location``: no body, nothing cached."""
        if "\r" in location or "\n" in location:  # defence in depth: validated values never have them
            raise ValueError("a Location header cannot hold CR or LF")
        return cls(status, [("Location", location), ("Content-Length", "0"), *SECURITY_HEADERS, *headers])

    @classmethod
    def page(
        cls, title: str, body_html: str, *, status: int = 200, headers: t.Iterable[tuple[str, str]] = ()
    ) -> Response:
        """A self-contained HTML page; ``body_html`` must already be escaped."""
        return cls._with_body(status, "text/html; charset=utf-8", html_page(title, body_html).encode(), headers)

    @classmethod
    def json(cls, payload: object, *, status: int, headers: t.Iterable[tuple[str, str]] = ()) -> Response:
        return cls._with_body(status, "application/json", json.dumps(payload).encode(), headers)

    @classmethod
    def _with_body(cls, status: int, content_type: str, body: bytes, headers: t.Iterable[tuple[str, str]]) -> Response:
        own = [("Content-Type", content_type), ("Content-Length", str(len(body))), *SECURITY_HEADERS]
        return cls(status, own + list(headers), body)


def html_page(title: str, body_html: str) -> str:
    """A minimal, self-contained HTML page (no external resources). ``body_html`` must be escaped."""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width">'
        "<title>%s</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:36em;"
        "margin:4em auto;padding:0 1em}button{font:inherit;padding:.4em 1em}</style></head>"
        "<body><h1>%s</h1>%s</body></html>\n"
    ) % (html.escape(title), html.escape(title), body_html)


def wants_json(environ: WSGIEnvironment) -> bool:
    """True when the client asked for JSON rather than an HTML page."""
    accept = environ.get("HTTP_ACCEPT", "")
    return "json" in accept and "text/html" not in accept


def is_browser_navigation(environ: WSGIEnvironment) -> bool:
    """A top-level page load (which a login redirect suits), not an XHR, fetch or API call."""
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        return False
    if "HTTP_X_REQUESTED_WITH" in environ:
        return False
    mode = environ.get("HTTP_SEC_FETCH_MODE")
    if mode is not None and mode != "navigate":
        return False
    return "text/html" in environ.get("HTTP_ACCEPT", "")


def allowed_method(environ: WSGIEnvironment, methods: t.Sequence[str]) -> str | None:
    """The request's method if it is one of ``methods``, else None."""
    method = str(environ.get("REQUEST_METHOD", "GET"))
    return method if method in methods else None


def quoted(wsgi_path: str) -> str:
    """Percent-encode a WSGI path (a latin-1 decoded byte string) for use in a URL; never a
    protocol-relative ``//host``."""
    if wsgi_path.startswith("//"):
        wsgi_path = "/" + wsgi_path.lstrip("/")
    return quote(wsgi_path.encode("latin-1", "replace"), safe="/:@!$&'()*+,;=~")


def query(environ: WSGIEnvironment) -> dict[str, str]:
    """The first value of each query parameter (hostile bytes replaced, never an exception)."""
    return first_values(environ.get("QUERY_STRING", ""))


def form(environ: WSGIEnvironment) -> dict[str, str]:
    """The urlencoded form body, capped at :data:`MAX_FORM_BYTES`; anything else reads as empty."""
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return {}
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return {}
    if not 0 < length <= MAX_FORM_BYTES:
        return {}
    body = environ["wsgi.input"].read(length)
    return first_values(body.decode("latin-1"))


def first_values(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="replace"):
        values.setdefault(name, value)
    return values
