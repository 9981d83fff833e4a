"""A :class:`~oauth_middleware.store.Store` on Redis, for several hosts.

redis-py is an optional dependency (``pip install 'oauth-login-middleware[redis]'``): it is
imported when a :class:`RedisStore` is made, never when the package is.

Every operation touches one key, so sessions spread freely over the slots of a Redis Cluster and
nothing needs a hash tag: ``SET ... NX PX`` for *set if absent*, and three small Lua scripts
(compare-and-delete, compare-and-expire, add-to-index-and-extend) that each read and write a single
key, run with ``EVALSHA`` and loaded again with ``SCRIPT LOAD`` when the server answers
``NOSCRIPT`` (after a restart or a failover), as redis-py's ``register_script`` does.

Keys live under the store's prefix: values at ``<prefix>v:<key>``, per-user indexes (Redis sets) at
``<prefix>i:<name>``, so a value and an index never collide and an ACL user can be limited to
``~<prefix>*``.

redis-py's client-side caching (RESP3, server-assisted invalidation) is not used: redis-py enables
it only for Redis >= 7.4, and without it every :meth:`RedisStore.get` is a round trip, so a session
deleted on one host is gone for every other host at once.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import math
import typing as t
from urllib.parse import unquote, urlsplit

from .errors import ConfigurationError
from .store import StoreUnavailable

if t.TYPE_CHECKING:
    import types

    import redis
    import redis.cluster
    from redis.commands.core import Script

log = logging.getLogger(__name__)

__all__ = ["RedisStore"]

INSTALL_HINT = "pip install 'oauth-login-middleware[redis]'"
SCHEMES = ("redis", "rediss", "unix")

#: The commands the store sends: all an ACL user needs (``AUTH``/``HELLO`` are always allowed;
#: redis-py's ``CLIENT SETINFO`` on connect may be refused, it ignores that).
ACL_COMMANDS = (
    "GET",
    "SET",
    "DEL",
    "EVALSHA",
    "SCRIPT|LOAD",
    "SADD",
    "SREM",
    "SMEMBERS",
    "PEXPIRE",
    "PTTL",
    "SCAN",
    "PING",
)

#: Release a lease only if it is still ours.
COMPARE_AND_DELETE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
#: Renew a lease only if it is still ours (ARGV[2]: milliseconds).
COMPARE_AND_EXPIRE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
#: Add a member to a set that then lives at least ARGV[2] milliseconds more (never shortened).
INDEX_ADD = """
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
"""


def import_redis() -> types.ModuleType:
    """redis-py, or a :class:`~oauth_middleware.ConfigurationError` saying how to install it."""
    try:
        import redis
    except ImportError as exc:
        raise ConfigurationError(
            "the Redis store needs redis-py, which is not installed: %s" % INSTALL_HINT, option="store"
        ) from exc
    return redis


class RedisStore:
    """Sessions, one-time login states and refresh leases in Redis, shared by every host.

    Give it a URL and it builds a client with bounded timeouts, or give it a client you built
    (``redis.Redis``, a Sentinel ``master_for(...)`` client, ``redis.cluster.RedisCluster``):

    .. code-block:: python

        store = RedisStore(url="rediss://oauth:s3cret@redis.internal:6380/0")

        # a client you build: give it bounded timeouts and retries (docs/deployment.md shows how)
        sentinel = redis.sentinel.Sentinel([("sentinel-1", 26379)], socket_timeout=0.5)
        once = Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))  # never after a timeout
        store = RedisStore(sentinel.master_for("mymaster", socket_timeout=0.5, retry=once))

    Every redis-py error (refused, timed out, a server restarting or loading, a wrong password,
    an ACL refusal) becomes :class:`~oauth_middleware.store.StoreUnavailable`, whose message never
    contains the password.

    :param client: a redis-py client you built; it must not decode responses. The timeouts and
        retries below then do not apply: set them on your client (the docs say how).
    :param url: ``redis://[user:password@]host[:port][/db]``, ``rediss://...`` (TLS, the server's
        certificate and host name verified) or ``unix:///path/to/socket``. Exactly one of
        ``client`` and ``url``.
    :param prefix: put in front of every key, so several apps (or tests) can share one Redis.
    :param socket_timeout: seconds to wait for any answer; a slow Redis costs a request at most
        about this much, then the middleware answers 503. Loopback and a LAN answer in well under
        a millisecond.
    :param socket_connect_timeout: seconds to wait for a new connection (default: the same as
        ``socket_timeout``).
    :param health_check_interval: seconds after which an idle pooled connection is checked with
        ``PING`` before use, so a connection the server dropped is replaced, not failed on.
    :param ssl_ca_certs: a CA bundle file for ``rediss://`` when the server's certificate is
        signed by a private CA (default: the system's trust store).
    """

    def __init__(
        self,
        client: redis.Redis | redis.cluster.RedisCluster | None = None,
        *,
        url: str | None = None,
        prefix: str = "oauth_middleware:",  # several apps can share one Redis
        socket_timeout: float = 0.5,  # seconds; bounds what a slow Redis costs a request
        socket_connect_timeout: float | None = None,  # None: socket_timeout
        health_check_interval: int = 30,  # seconds; an idle connection is PINGed before use
        ssl_ca_certs: str | None = None,  # None: the system's trust store
    ) -> None:
        if (client is None) == (url is None):
            raise ConfigurationError(
                "RedisStore needs exactly one of client= (a redis-py client) and url= (redis://, rediss:// or unix://)",
                option="store",
            )
        if not isinstance(prefix, str) or not prefix or not prefix.isascii() or not prefix.isprintable():
            raise ConfigurationError(
                "RedisStore prefix must be a non-empty printable ASCII string such as 'myapp:', not %r" % (prefix,),
                option="store",
            )
        for name, value in (("socket_timeout", socket_timeout), ("socket_connect_timeout", socket_connect_timeout)):
            if value is not None and not (isinstance(value, (int, float)) and 0 < value <= 60):
                raise ConfigurationError(
                    "RedisStore %s must be a number of seconds above 0 and at most 60 (a request waits that "
                    "long for a slow Redis), not %r" % (name, value),
                    option="store",
                )
        if not (isinstance(health_check_interval, int) and health_check_interval >= 0):
            raise ConfigurationError(
                "RedisStore health_check_interval must be whole seconds >= 0 (0 turns it off), not %r"
                % (health_check_interval,),
                option="store",
            )
        if ssl_ca_certs is not None and not (isinstance(url, str) and url.startswith("rediss://")):
            raise ConfigurationError(
                "RedisStore ssl_ca_certs applies to a rediss:// url only (for a client you build, pass it to "
                "the client)",
                option="store",
            )
        redis_py = import_redis()
        self.prefix = prefix
        self._secrets: tuple[str, ...] = ()
        self._owns_client = client is None
        if url is not None:
            self.location, self._secrets = _describe(url)
            client = _client_from_url(
                redis_py,
                url,
                location=self.location,
                socket_timeout=float(socket_timeout),
                socket_connect_timeout=float(socket_connect_timeout or socket_timeout),
                health_check_interval=health_check_interval,
                ssl_ca_certs=ssl_ca_certs,
            )
        else:
            if not isinstance(client, (redis_py.Redis, redis_py.cluster.RedisCluster)):
                raise ConfigurationError(
                    "RedisStore client must be a redis.Redis or redis.cluster.RedisCluster (for Sentinel: "
                    "sentinel.master_for(...)), not %s" % type(client).__name__,
                    option="store",
                )
            if client.get_encoder().decode_responses:
                raise ConfigurationError(
                    "RedisStore needs a client made with decode_responses=False (the store keeps bytes)",
                    option="store",
                )
            self.location = type(client).__name__
        assert client is not None
        self.client: redis.Redis | redis.cluster.RedisCluster = client
        self._compare_and_delete: Script = client.register_script(COMPARE_AND_DELETE)
        self._compare_and_expire: Script = client.register_script(COMPARE_AND_EXPIRE)
        self._index_add: Script = client.register_script(INDEX_ADD)
        # RedisClusterException (a slot no node serves, ...) is not a RedisError
        self._errors: tuple[type[BaseException], ...] = (
            redis_py.RedisError,
            redis_py.exceptions.RedisClusterException,
            OSError,
        )

    def __repr__(self) -> str:
        return "<RedisStore %s prefix=%r>" % (self.location, self.prefix)

    # -- errors --------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _unavailable(self, operation: str) -> t.Iterator[None]:
        try:
            yield
        except self._errors as exc:
            message = "Redis (%s) did not answer %s: %s: %s" % (self.location, operation, type(exc).__name__, exc)
            for secret in self._secrets:
                message = message.replace(secret, "***")
            # from None: the cause's text is in the message, scrubbed; its own could hold what we hid
            raise StoreUnavailable(message) from None

    # -- keys ----------------------------------------------------------------------------------------

    def _value(self, key: str) -> str:
        return self.prefix + "v:" + key

    def _index(self, name: str) -> str:
        return self.prefix + "i:" + name

    # -- the Store protocol --------------------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        with self._unavailable("GET"):
            value = self.client.get(self._value(key))
        return t.cast("bytes | None", value)

    def put(
        self, key: str, value: bytes, *, ttl: float, only_if_absent: bool = False, only_if_present: bool = False
    ) -> bool:
        with self._unavailable("SET"):
            done = self.client.set(
                self._value(key), value, px=_milliseconds(ttl), nx=only_if_absent, xx=only_if_present
            )
        return bool(done)

    def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        with self._unavailable("DEL"):
            # RedisCluster splits a DEL of keys in several slots into one DEL per slot
            return int(self.client.delete(*(self._value(key) for key in keys)))

    def compare_and_delete(self, key: str, value: bytes) -> bool:
        with self._unavailable("compare-and-delete"):
            return bool(self._compare_and_delete(keys=[self._value(key)], args=[value]))

    def compare_and_expire(self, key: str, value: bytes, *, ttl: float) -> bool:
        with self._unavailable("compare-and-expire"):
            return bool(self._compare_and_expire(keys=[self._value(key)], args=[value, _milliseconds(ttl)]))

    def index_add(self, index: str, member: str, *, ttl: float) -> None:
        with self._unavailable("index add"):
            self._index_add(keys=[self._index(index)], args=[member, _milliseconds(ttl)])

    def index_members(self, index: str) -> set[str]:
        with self._unavailable("SMEMBERS"):
            members = t.cast("set[bytes]", self.client.smembers(self._index(index)))
        return {member.decode("utf-8") for member in members}

    def index_remove(self, index: str, *members: str) -> None:
        if members:
            with self._unavailable("SREM"):
                self.client.srem(self._index(index), *members)

    def indexes(self, prefix: str) -> list[str]:
        start = self._index("")
        # SCAN, never KEYS: it walks the key space in small steps without blocking the server
        with self._unavailable("SCAN"):
            names = {
                t.cast(bytes, name).decode("utf-8")[len(start) :]
                for name in self.client.scan_iter(match=_glob_escape(start + prefix) + "*", count=1000)
            }
        return sorted(names)

    # -- for operators and tests ---------------------------------------------------------------------

    def ping(self) -> None:
        """Raise :class:`~oauth_middleware.store.StoreUnavailable` unless Redis answers now."""
        with self._unavailable("PING"):
            self.client.ping()

    def close(self) -> None:
        """Close the connections of a client this store made from a URL (a client you gave it is
        yours to close)."""
        if self._owns_client:
            self.client.close()


def _milliseconds(ttl: float) -> int:
    return max(1, math.ceil(ttl * 1000))


def _glob_escape(text: str) -> str:
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)


def _describe(url: str) -> tuple[str, tuple[str, ...]]:
    """The URL without its password (for messages and logs), and the secrets to scrub."""
    if not isinstance(url, str):
        raise ConfigurationError("RedisStore url must be a string such as 'rediss://host:6380/0'", option="store")
    parts = urlsplit(url)
    secrets = tuple(secret for secret in {parts.password or "", unquote(parts.password or "")} if secret)
    netloc = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        port, netloc = None, netloc + ":<not a port>"
    if port is not None:
        netloc += ":%d" % port
    if parts.username:
        netloc = "%s:***@%s" % (parts.username, netloc) if parts.password else parts.username + "@" + netloc
    elif parts.password:
        netloc = ":***@" + netloc
    location = "%s://%s%s" % (parts.scheme, netloc, parts.path)
    if parts.scheme not in SCHEMES or netloc.endswith(":<not a port>"):
        raise ConfigurationError(
            "RedisStore url must be redis://[user:password@]host[:port][/db], rediss://... (TLS) or "
            "unix:///path, not %r" % location,
            option="store",
        )
    return location, secrets


def _client_from_url(
    redis_py: types.ModuleType,
    url: str,
    *,
    location: str,
    socket_timeout: float,
    socket_connect_timeout: float,
    health_check_interval: int,
    ssl_ca_certs: str | None,
) -> redis.Redis:
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    host = urlsplit(url).hostname or ""
    if url.startswith("redis://") and not _is_loopback(host):
        log.warning(
            "the Redis store at %s is reached without TLS: use rediss:// unless the network is private", location
        )
    options: dict[str, t.Any] = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": socket_connect_timeout,
        "health_check_interval": health_check_interval,
        # one immediate retry, on a dropped connection only (a restarted server, an idle
        # connection closed by a proxy); never on a timeout, so a slow Redis costs one timeout
        "retry": Retry(NoBackoff(), 1, supported_errors=(redis_py.ConnectionError,)),
    }
    if ssl_ca_certs is not None:
        options["ssl_ca_certs"] = ssl_ca_certs
    try:
        client: redis.Redis = redis_py.Redis.from_url(url, **options)
        return client
    except ValueError:
        raise ConfigurationError(
            "RedisStore url %s is not a valid Redis URL (redis://[user:password@]host[:port][/db])" % location,
            option="store",
        ) from None  # redis-py's message may quote the URL, password included


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
