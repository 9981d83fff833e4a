"""Normalising and validating the middleware's options.

Each helper takes the option's name and the value given, returns the normalised value, and raises
:class:`~oauth_middleware.errors.ConfigurationError` with a message that names the option, shows
the bad value (secrets redacted) and says how to fix it.
"""

from __future__ import annotations

import typing as t
from urllib.parse import urlsplit

from .crypto import MIN_SECRET_BYTES
from .errors import ConfigurationError

if t.TYPE_CHECKING:
    from .providers import Provider

KEYGEN_HINT = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


def require_text(option: str, value: object, *, hint: str) -> str:
    """A non-empty string without surrounding whitespace."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError("%s is required: %s" % (option, hint))
    if value != value.strip():
        raise ConfigurationError("%s has leading or trailing whitespace: remove it." % option)
    return value


def secret_keys(value: object) -> tuple[bytes, ...]:
    """``secret_key``: one key or a list; each at least :data:`MIN_SECRET_BYTES` bytes."""
    keys = [value] if isinstance(value, (str, bytes)) else value
    if not isinstance(keys, (list, tuple)) or not keys:
        raise ConfigurationError(
            "secret_key is required: pass a random string of at least %d bytes, e.g. from %s"
            % (MIN_SECRET_BYTES, KEYGEN_HINT)
        )
    result = []
    for index, key in enumerate(keys):
        if isinstance(key, str):
            key = key.encode("utf-8")
        if not isinstance(key, bytes):
            raise ConfigurationError("secret_key[%d] must be a str or bytes, not %s" % (index, type(key).__name__))
        if len(key) < MIN_SECRET_BYTES:
            raise ConfigurationError(
                "secret_key%s is %d bytes long; it must be at least %d random bytes. Generate one with %s"
                % ("" if isinstance(value, (str, bytes)) else "[%d]" % index, len(key), MIN_SECRET_BYTES, KEYGEN_HINT)
            )
        result.append(key)
    return tuple(result)


def path(option: str, value: object) -> str:
    """A path option: starts with ``/``, no trailing slash, no query, fragment or whitespace."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        raise ConfigurationError("%s must be a path starting with a single '/', got %r" % (option, value))
    if any(c in value for c in "?#\\ \t\r\n") or "/./" in value + "/" or "/../" in value + "/":
        raise ConfigurationError(
            "%s must be a plain path (no '?', '#', '\\', dot segments or spaces), got %r" % (option, value)
        )
    return value.rstrip("/") or "/"


def distinct_paths(paths: dict[str, str]) -> None:
    """The login, callback and logout paths must differ (and ``/`` is not allowed for them)."""
    seen: dict[str, str] = {}
    for option, value in paths.items():
        if value == "/":
            raise ConfigurationError("%s cannot be '/': the app needs its root. Use e.g. '/auth/...'" % option)
        if value in seen:
            raise ConfigurationError("%s and %s are both %r: give each its own path" % (seen[value], option, value))
        seen[value] = option


def path_prefixes(option: str, value: object) -> tuple[str, ...]:
    """A list of path prefixes (each validated like :func:`path`)."""
    if isinstance(value, str):
        raise ConfigurationError("%s must be a list of path prefixes, e.g. [%r], not a string" % (option, value))
    try:
        items = list(value)  # type: ignore[call-overload]
    except TypeError:
        raise ConfigurationError("%s must be a list of path prefixes, got %r" % (option, value)) from None
    return tuple(path("%s[%d]" % (option, i), item) for i, item in enumerate(items))


def scope(value: object) -> tuple[str, ...]:
    """``scope``: a space/comma separated string or a list of scope names."""
    items = value.replace(",", " ").split() if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(
        isinstance(s, str) and s and s.isprintable() and " " not in s for s in items
    ):
        raise ConfigurationError(
            "scope must be a list of scope names such as ('read:user', 'user:email'), got %r" % (value,)
        )
    return tuple(dict.fromkeys(items))


def positive_number(option: str, value: object, *, unit: str = "seconds") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigurationError("%s must be a positive number of %s, got %r" % (option, unit, value))
    return float(value)


def timeout(value: object) -> float | tuple[float, float]:
    """``timeout``: seconds, or a ``(connect, read)`` pair of seconds."""
    if isinstance(value, tuple) and len(value) == 2:
        return (positive_number("timeout[0]", value[0]), positive_number("timeout[1]", value[1]))
    return positive_number("timeout", value)


def url(option: str, value: str, *, allow_insecure_http: bool) -> str:
    """An absolute URL: https, or http only with ``allow_insecure_http=True``; no fragment."""
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ConfigurationError("%s must be an absolute https:// URL, got %r" % (option, value))
    if parts.fragment or "#" in value:
        raise ConfigurationError("%s must not have a #fragment, got %r" % (option, value))
    if parts.scheme == "http" and not allow_insecure_http:
        raise ConfigurationError(
            "%s is plain http (%r): OAuth over http exposes codes and tokens. Use https, or pass "
            "allow_insecure_http=True for local development only." % (option, value)
        )
    return value


def redirect_uri(value: object, *, callback_path: str, allow_insecure_http: bool) -> str | None:
    """``redirect_uri``: None, or the absolute callback URL ending in ``callback_path``."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigurationError("redirect_uri must be an absolute URL string or None, got %r" % (value,))
    url("redirect_uri", value, allow_insecure_http=allow_insecure_http)
    parts = urlsplit(value)
    if parts.query:
        raise ConfigurationError("redirect_uri must not have a query string, got %r" % value)
    if not parts.path.endswith(callback_path):
        raise ConfigurationError(
            "redirect_uri %r does not end with callback_path %r: the provider would send users "
            "to a path the middleware does not handle. Make them agree." % (value, callback_path)
        )
    return value


def provider(value: object, *, allow_insecure_http: bool) -> Provider:
    from .providers import Provider

    if not isinstance(value, Provider):
        raise ConfigurationError("provider must be a Provider such as GitHub(), got %r" % (value,))
    for option, address in value.urls().items():
        if option == "authorize_url" and address.startswith("/") and not address.startswith("//"):
            continue  # a path on this site: an embedded provider (the demo's fake GitHub)
        url("provider.%s" % option, address, allow_insecure_http=allow_insecure_http)
    if not value.api_base_url.endswith("/"):
        raise ConfigurationError("provider.api_base_url must end with '/', got %r" % value.api_base_url)
    return value


def cookie_name(value: object) -> str:
    """``cookie_name``: letters, digits, ``_`` and ``-`` only."""
    if (
        not isinstance(value, str)
        or not value
        or not all(c.isascii() and (c.isalnum() or c in "_-") for c in value)
        or value.startswith("__")
    ):
        raise ConfigurationError(
            "cookie_name must be letters, digits, '_' or '-' (not starting with '__'), got %r" % (value,)
        )
    return value


def optional_seconds(option: str, value: object) -> int | None:
    """``None`` (or 0: off) or a positive whole number of seconds."""
    if value is None or value == 0:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError("%s must be a positive whole number of seconds or None, got %r" % (option, value))
    return value


def optional_bool(option: str, value: object) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise ConfigurationError("%s must be True, False or None, got %r" % (option, value))
    return value
