"""Validating and normalising the middleware's options, one function per kind of value.

Each validator takes the value given and a :class:`Context` (the option's name as the user wrote
it, and the options validated before it), returns the normalised value, and raises
:class:`~oauth_middleware.errors.ConfigurationError` with a message that names the option, shows
the bad value (secrets never) and says how to fix it. :mod:`oauth_middleware.options` says which
validator each option uses.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import typing as t
from urllib.parse import urlsplit

from .crypto import MIN_SECRET_BYTES
from .errors import ConfigurationError
from .providers import GitHub, Provider
from .store import MemoryStore, Store

#: How to make a secret key, quoted in every message about one.
KEYGEN_HINT = 'oauth-middleware keygen, or python -c "import secrets; print(secrets.token_urlsafe(32))"'
#: A key with fewer distinct bytes than this is refused as hand-made. A ``token_urlsafe(32)`` key
#: (42 characters uniform over 64, plus one) has fewer with probability below
#: ``C(64, 7) * (7/64) ** 42``, about 2**-104 (``tests/test_validation.py`` computes it).
MIN_DISTINCT_KEY_BYTES = 8

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Context:
    """What a validator knows besides the value.

    :param option: the option being validated, e.g. ``"max_age"``.
    :param done: the normalised values of the options validated before it.
    :param labels: how the user named each option they set another way than in Python, e.g.
        ``{"max_age": "OAUTH_MIDDLEWARE_MAX_AGE"}``: messages use these names.
    """

    option: str
    done: t.Mapping[str, t.Any] = dataclasses.field(default_factory=dict)
    labels: t.Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def name(self) -> str:
        """The option's name as the user wrote it."""
        return self.name_of(self.option)

    def name_of(self, option: str) -> str:
        return self.labels.get(option, option)

    def setting(self, option: str, value: bool) -> str:
        """How the user sets a boolean ``option``: ``allow_insecure_http=True`` in Python,
        ``OAUTH_MIDDLEWARE_ALLOW_INSECURE_HTTP=1`` in the environment."""
        label = self.name_of(option)
        if label == option:
            return "%s=%s" % (option, value)
        return "%s=%s" % (label, "1" if value else "0")

    def error(self, message: str) -> ConfigurationError:
        return ConfigurationError(message, option=self.option)


Validator = t.Callable[[t.Any, Context], t.Any]


def require_text(value: object, ctx: Context, *, hint: str) -> str:
    """A non-empty string without surrounding whitespace."""
    if not isinstance(value, str) or not value.strip():
        raise ctx.error("%s is required: %s" % (ctx.name, hint))
    if value != value.strip():
        raise ctx.error("%s has leading or trailing whitespace: remove it." % ctx.name)
    return value


def credential(hint: str) -> Validator:
    """``client_id``/``client_secret``: required, printable ASCII (``hint`` says where to find it)."""

    def validate(value: object, ctx: Context) -> str:
        text = require_text(value, ctx, hint=hint)
        if not (text.isascii() and text.isprintable()):
            raise ctx.error("%s must be printable ASCII, as GitHub issues it" % ctx.name)
        return text

    return validate


def looks_random(key: bytes) -> str | None:
    """Why ``key`` is obviously not random (a short pattern repeated, too few distinct bytes),
    or None when it may be.

    .. code-block:: python

        looks_random(b"changeme" * 4)  # "it repeats a pattern of 8 bytes"
    """
    for period in range(1, min(len(key) // 2, 64) + 1):
        if key[period:] == key[:-period]:
            return "it repeats a pattern of %d byte%s" % (period, "" if period == 1 else "s")
    distinct = len(set(key))
    if distinct < MIN_DISTINCT_KEY_BYTES:
        return "it has only %d distinct characters" % distinct
    return None


def secret_keys(value: object, ctx: Context) -> tuple[bytes, ...]:
    """``secret_key``: one key or a list; each at least :data:`MIN_SECRET_BYTES` random bytes."""
    keys = [value] if isinstance(value, (str, bytes)) else value
    if not isinstance(keys, (list, tuple)) or not keys:
        raise ctx.error(
            "%s is required: pass a random string of at least %d bytes; generate one with %s"
            % (ctx.name, MIN_SECRET_BYTES, KEYGEN_HINT)
        )
    result = []
    for index, key in enumerate(keys):
        name = ctx.name if isinstance(value, (str, bytes)) else "%s[%d]" % (ctx.name, index)
        if isinstance(key, str):
            key = key.encode("utf-8")
        if not isinstance(key, bytes):
            raise ctx.error("%s must be a str or bytes, not %s" % (name, type(key).__name__))
        if len(key) < MIN_SECRET_BYTES:
            raise ctx.error(
                "%s is %d bytes long; it must be at least %d random bytes. Generate one with %s"
                % (name, len(key), MIN_SECRET_BYTES, KEYGEN_HINT)
            )
        reason = looks_random(key)
        if reason is not None:
            raise ctx.error(
                "%s is not random (%s): anyone who guesses it can forge sessions. Generate one with %s"
                % (name, reason, KEYGEN_HINT)
            )
        result.append(key)
    return tuple(result)


def path(value: object, ctx: Context, *, name: str | None = None) -> str:
    """A path option: starts with ``/``, no trailing slash, no query, fragment or whitespace."""
    name = name or ctx.name
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        raise ctx.error("%s must be a path starting with a single '/', got %r" % (name, value))
    if (
        not (value.isascii() and value.isprintable())
        or any(c in value for c in "?#%\\ \"'<>;")
        or "/./" in value + "/"
        or "/../" in value + "/"
    ):
        raise ctx.error(
            "%s must be a plain ASCII path (no '?', '#', '%%', '\\', quotes, '<', '>', ';', "
            "dot segments or spaces), got %r" % (name, value)
        )
    return value.rstrip("/") or "/"


def own_path(*others: str) -> Validator:
    """``login_path``, ``callback_path``, ``logout_path``: a :func:`path` other than ``/`` and
    other than each of ``others`` (validated before it)."""

    def validate(value: object, ctx: Context) -> str:
        result = path(value, ctx)
        if result == "/":
            raise ctx.error("%s cannot be '/': the app needs its root. Use e.g. '/auth/...'" % ctx.name)
        for other in others:
            if ctx.done[other] == result:
                raise ctx.error(
                    "%s and %s are both %r: give each its own path" % (ctx.name_of(other), ctx.name, result)
                )
        return result

    return validate


def items(value: object, ctx: Context, *, what: str) -> list[t.Any]:
    """The items of a list option (any iterable but a string) of ``what``, e.g. "names"."""
    if isinstance(value, (str, bytes)):
        raise ctx.error("%s must be a list of %s, e.g. [%r], not a string" % (ctx.name, what, value))
    try:
        return list(t.cast(t.Iterable[t.Any], value))
    except TypeError:
        raise ctx.error("%s must be a list of %s, got %r" % (ctx.name, what, value)) from None


def path_prefixes(value: object, ctx: Context) -> tuple[str, ...]:
    """A list of path prefixes (each validated like :func:`path`)."""
    items_ = items(value, ctx, what="path prefixes")
    return tuple(path(item, ctx, name="%s[%d]" % (ctx.name, i)) for i, item in enumerate(items_))


_HEADER_NAME = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9-]{0,99}\Z")


def header_prefixes(value: object, ctx: Context) -> tuple[str, ...]:
    """Request header names (``X-Company-User``) as WSGI environ key prefixes
    (``HTTP_X_COMPANY_USER``): a name also covers longer names it begins."""
    prefixes = []
    for item in items(value, ctx, what="header names"):
        if not isinstance(item, str) or not _HEADER_NAME.match(item):
            raise ctx.error(
                "%s holds %r: give plain header names of letters, digits and '-', such as "
                "'X-Company-User' (a name also covers longer names it begins, like X-Company-User-Id)"
                % (ctx.name, item)
            )
        prefixes.append("HTTP_" + item.upper().replace("-", "_"))
    return tuple(prefixes)


def require_login(value: object, ctx: Context) -> bool | tuple[str, ...]:
    """``require_login``: a boolean, or path prefixes to protect."""
    return value if isinstance(value, bool) else path_prefixes(value, ctx)


def scope(value: object, ctx: Context) -> tuple[str, ...]:
    """``scope``: a space/comma separated string or a list of scope names, adjusted by the
    provider (:meth:`~oauth_middleware.providers.Provider.adjust_scope`: GitHub adds ``read:org``
    when org or team allow-lists need it)."""
    items = value.replace(",", " ").split() if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(
        isinstance(s, str) and s and s.isprintable() and " " not in s for s in items
    ):
        raise ctx.error(
            "%s must be a list of scope names such as ('read:user', 'user:email'), got %r" % (ctx.name, value)
        )
    result = tuple(dict.fromkeys(items))
    needs_groups = any(ctx.done.get(name) for name in ("allowed_orgs", "allowed_teams", "allowed_groups"))
    provider = ctx.done.get("provider")
    return provider.adjust_scope(result, needs_groups=bool(needs_groups)) if provider is not None else result


def positive_number(value: object, ctx: Context, *, name: str | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 86400:
        raise ctx.error("%s must be a positive number of seconds below a day, got %r" % (name or ctx.name, value))
    return float(value)


def timeout(value: object, ctx: Context) -> float | tuple[float, float]:
    """``timeout``: seconds, or a ``(connect, read)`` pair of seconds."""
    if isinstance(value, tuple) and len(value) == 2:
        return (
            positive_number(value[0], ctx, name="%s[0]" % ctx.name),
            positive_number(value[1], ctx, name="%s[1]" % ctx.name),
        )
    return positive_number(value, ctx)


def max_age(value: object, ctx: Context) -> int:
    """``max_age``: whole seconds, at most 400 days (the longest a browser keeps a cookie)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 400 * 24 * 3600:
        raise ctx.error("%s must be a positive whole number of seconds, got %r" % (ctx.name, value))
    return value


def url(value: str, ctx: Context, *, name: str) -> str:
    """An absolute URL: https, or http only with ``allow_insecure_http``; no fragment."""
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ctx.error("%s must be an absolute https:// URL, got %r" % (name, value))
    if parts.fragment or "#" in value:
        raise ctx.error("%s must not have a #fragment, got %r" % (name, value))
    if parts.scheme == "http" and not ctx.done["allow_insecure_http"]:
        raise ctx.error(
            "%s is plain http (%r): OAuth over http exposes codes and tokens. Use https, or set "
            "%s for local development only." % (name, value, ctx.setting("allow_insecure_http", True))
        )
    return value


def redirect_uri(value: object, ctx: Context) -> str | None:
    """``redirect_uri``: None, or the absolute callback URL ending in ``callback_path``."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ctx.error("%s must be an absolute URL string or None, got %r" % (ctx.name, value))
    url(value, ctx, name=ctx.name)
    parts = urlsplit(value)
    if parts.query:
        raise ctx.error("%s must not have a query string, got %r" % (ctx.name, value))
    callback_path = ctx.done["callback_path"]
    if not parts.path.endswith(callback_path):
        raise ctx.error(
            "%s %r does not end with %s %r: the provider would send users to a path the middleware "
            "does not handle. Make them agree." % (ctx.name, value, ctx.name_of("callback_path"), callback_path)
        )
    return value


def provider(value: object, ctx: Context) -> Provider:
    """``provider``: a :class:`~oauth_middleware.Provider`; None means ``GitHub()``."""
    if value is None:
        value = GitHub()
    if not isinstance(value, Provider):
        raise ctx.error("%s must be a Provider such as GitHub(), got %r" % (ctx.name, value))
    for field, address in value.urls().items():
        if field == "authorize_url" and address.startswith("/") and not address.startswith("//"):
            continue  # a path on this site: an embedded provider (the demo's fake GitHub)
        name = "%s.%s" % (ctx.name, field) if ctx.name == ctx.option else "%s (its %s)" % (ctx.name, field)
        url(address, ctx, name=name)
    if not value.api_base_url.endswith("/"):
        raise ctx.error("%s.api_base_url must end with '/', got %r" % (ctx.name, value.api_base_url))
    return value


def store(value: object, ctx: Context) -> Store | None:
    """``store``: None (sessions in the cookie), a :class:`~oauth_middleware.store.Store`, a
    ``redis://`` or ``rediss://`` URL (a :class:`~oauth_middleware.redis_store.RedisStore`), or
    ``"memory"`` (a :class:`~oauth_middleware.store.MemoryStore`: this process only)."""
    if value is None or isinstance(value, Store):
        return value
    if not isinstance(value, str):
        raise ctx.error(
            "%s must be None, a Store (RedisStore(client=...)) or a redis:// or rediss:// URL, got %r"
            % (ctx.name, value)
        )
    if value == "memory":
        log.warning(
            "%s='memory' keeps sessions in this process: with several workers or hosts each has its own "
            "and users appear logged out at random; use a redis:// or rediss:// URL there",
            ctx.name,
        )
        return MemoryStore()
    if not value.startswith(("redis://", "rediss://", "unix://")):
        shown = value.split("@")[-1] if "@" in value else value  # never a password in a message
        raise ctx.error(
            "%s must be a redis://, rediss:// (TLS) or unix:// URL such as rediss://user:PASSWORD@host:6380/0, "
            "or 'memory', got %r" % (ctx.name, shown)
        )
    from .redis_store import RedisStore  # imports redis-py only when a store is made (or says how to install it)

    return RedisStore(url=value)


def cookie_name(value: object, ctx: Context) -> str:
    """``cookie_name``: letters, digits, ``_`` and ``-`` only."""
    if (
        not isinstance(value, str)
        or not value
        or not all(c.isascii() and (c.isalnum() or c in "_-") for c in value)
        or value.startswith("__")
    ):
        raise ctx.error("%s must be letters, digits, '_' or '-' (not starting with '__'), got %r" % (ctx.name, value))
    return value


def optional_seconds(value: object, ctx: Context) -> int | None:
    """``None`` (or 0: off) or a positive whole number of seconds."""
    if value is None or value == 0:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ctx.error("%s must be a positive whole number of seconds or None, got %r" % (ctx.name, value))
    return value


def revalidate_after(value: object, ctx: Context) -> int | None:
    """``revalidate_after``: ``"auto"`` is 600 seconds when an allow-list is set, never otherwise."""
    if value == "auto":
        lists = ("allowed_users", "allowed_orgs", "allowed_teams", "allowed_domains", "allowed_groups")
        restricted = any(ctx.done.get(name) for name in lists)
        return 600 if restricted else None
    return optional_seconds(value, ctx)


def revalidate_grace(value: object, ctx: Context) -> int:
    """``revalidate_grace``: whole seconds, 0 or more; never unbounded (SES-5)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ctx.error(
            "%s must be a whole number of seconds, 0 or more (e.g. 3600), got %r: it bounds how long a "
            "session is kept while GitHub cannot be reached to re-validate it, so None (forever) is not "
            "accepted" % (ctx.name, value)
        )
    return value


def optional_bool(value: object, ctx: Context) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise ctx.error("%s must be True, False or None, got %r" % (ctx.name, value))
    return value


def secure(value: object, ctx: Context) -> bool | None:
    """``secure``: ``None`` follows the request's scheme, except that an https ``redirect_uri``
    means the site is served over https whatever a proxy the server does not trust reports, so
    cookies stay Secure (and ``__Host-``); only an explicit ``False`` turns that off."""
    value = optional_bool(value, ctx)
    redirect = ctx.done.get("redirect_uri")
    if value is None and isinstance(redirect, str) and redirect.startswith("https://"):
        return True
    return value


def flag(value: object, ctx: Context) -> bool:
    """A boolean option: any value, read for its truth."""
    return bool(value)


def clock(value: object, ctx: Context) -> t.Callable[[], float]:
    if not callable(value):
        raise ctx.error("%s must be a callable returning seconds, like time.time" % ctx.name)
    return t.cast(t.Callable[[], float], value)
