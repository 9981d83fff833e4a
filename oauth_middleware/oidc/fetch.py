"""Bounded JSON fetches for the discovery document and the JWKS.

Every fetch has a **total** time bound, not only a per-read one: the body is read as it arrives
(``read1``) and the fetch is abandoned once ``timeout`` seconds have passed since it started, so
a provider dripping one byte at a time cannot hold a login thread. A single socket wait is also
bounded by ``timeout``, so a fetch never takes more than about twice ``timeout``. Bodies are capped
(``max_bytes``), redirects are not followed, and no cookie is kept between fetches.
"""

from __future__ import annotations

import json
import logging
import time
import typing as t
from urllib.parse import urlsplit

import requests
import urllib3

from .errors import OIDCError

log = logging.getLogger(__name__)

_CHUNK = 16384


def printable(value: object, limit: int = 64) -> str:
    """``value`` fit for one log line: a bounded string of printable characters (or its type)."""
    text = value if isinstance(value, str) else type(value).__name__
    return "".join(c if c.isprintable() else "?" for c in text[:limit])


def is_secure_url(url: str, *, allow_insecure_http: bool) -> bool:
    """True for an absolute ``https://`` URL with a host (``http://`` too when allowed)."""
    parts = urlsplit(url)
    schemes = ("https", "http") if allow_insecure_http else ("https",)
    return parts.scheme in schemes and bool(parts.hostname) and not parts.username and not parts.password


def get_json(
    http: requests.Session,
    url: str,
    *,
    timeout: float,
    max_bytes: int,
    error: type[OIDCError],
    what: str,
) -> t.Any:
    """GET ``url`` and return its parsed JSON, or raise ``error`` with a safe message.

    :param timeout: seconds for the whole fetch (connect, headers and body).
    :param max_bytes: largest body accepted.
    :param error: the exception class to raise on any failure.
    :param what: a short name for messages and logs (``"discovery document"``).
    """
    host = urlsplit(url).hostname or "?"
    deadline = time.monotonic() + timeout
    try:
        response = http.get(
            url,
            timeout=(timeout, timeout),
            stream=True,
            allow_redirects=False,
            headers={"Accept": "application/json"},
        )
        try:
            body = _read_bounded(response, deadline=deadline, max_bytes=max_bytes, what=what, error=error)
        finally:
            response.close()
            http.cookies.clear()  # a provider's cookies never travel to the next fetch
    except (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError):
        log.warning("%s at %s: no answer in time", what, host)
        raise error("The identity provider did not answer in time (%s)." % what) from None
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        log.warning("%s at %s could not be fetched: %s", what, host, type(exc).__name__)
        raise error("The identity provider could not be reached (%s)." % what) from None
    if response.status_code != 200:
        log.warning("%s at %s answered HTTP %d", what, host, response.status_code)
        raise error("The identity provider answered HTTP %d for its %s." % (response.status_code, what))
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        log.warning("%s at %s is not JSON", what, host)
        raise error("The identity provider's %s is not valid JSON." % what) from None


def _read_bounded(
    response: requests.Response, *, deadline: float, max_bytes: int, what: str, error: type[OIDCError]
) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise error("The identity provider's %s is larger than %d bytes." % (what, max_bytes))
    raw = response.raw
    read = getattr(raw, "read1", None) or raw.read  # urllib3 >= 2 returns as soon as bytes arrive
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        chunk = read(_CHUNK, decode_content=True)
        if not chunk:
            break
        size += len(chunk)
        if size > max_bytes:
            raise error("The identity provider's %s is larger than %d bytes." % (what, max_bytes))
        chunks.append(chunk)
    return b"".join(chunks)
