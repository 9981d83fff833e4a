"""The provider's signing keys (JWKS), cached, with a rate-limited refetch on an unknown ``kid``.

**Refetch policy** (OIDC-7): keys are fetched on first use and kept. A token whose ``kid`` is not
in the cache triggers one refetch, but at most one fetch per ``refetch_interval`` (default **60
seconds**) whatever the tokens say, so a stream of forged ``kid`` values cannot turn the
middleware into a traffic amplifier against the provider. Concurrent misses are coalesced: N
threads missing the same key at once cause one fetch, and all of them use its result. The cached
set is also refreshed, under the same limit, once it is older than ``max_age`` (default 1 hour),
so a key the provider withdrew stops being trusted; if that refresh fails the old keys stay in
use and a warning is logged. A provider rotating its keys between a login's start and its
callback is handled by the unknown-``kid`` refetch.
"""

from __future__ import annotations

import logging
import threading
import time
import typing as t

import requests

from oauth_middleware.errors import ConfigurationError

from ._jwt import require_jwt
from .errors import KeySetError, UnknownKey
from .fetch import get_json, is_secure_url, printable

log = logging.getLogger(__name__)

#: Largest JWKS document accepted, bytes (Google's is ~1 KB, Entra ID's ~5 KB).
MAX_JWKS_BYTES = 256 * 1024
#: Most keys kept from one JWKS.
MAX_KEYS = 100

#: The key type each asymmetric algorithm family needs.
KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
#: The curve each ECDSA algorithm needs (RFC 7518 §3.4).
EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521", "ES256K": "secp256k1"}


def key_fits(jwk: t.Mapping[str, t.Any], alg: str) -> bool:
    """Whether the JWK ``jwk`` may verify a signature made with ``alg``."""
    if jwk.get("use", "sig") != "sig":
        return False
    ops = jwk.get("key_ops")
    if isinstance(ops, list) and "verify" not in ops:
        return False
    if "alg" in jwk and jwk["alg"] != alg:
        return False
    if jwk.get("kty") != KEY_TYPES.get(alg[:2]):
        return False
    return alg not in EC_CURVES or jwk.get("crv") == EC_CURVES[alg]


class JWKSCache:
    """The signing keys at ``jwks_uri``; thread-safe.

    .. code-block:: python

        keys = JWKSCache(metadata.jwks_uri, http=session)
        key = keys.get_key("2024-06-key", "RS256")  # a cryptography public key

    :param jwks_uri: the provider's JWKS URL (from discovery).
    :param http: the session used for fetches.
    :param timeout: seconds a whole fetch may take (default 10).
    :param refetch_interval: least seconds between two fetches (default 60): the bound on how
        often an unknown ``kid`` can make us fetch.
    :param max_age: seconds after which the cached keys are refreshed on next use (default 3600).
    :param allow_insecure_http: accept an ``http://`` URL (local tests only).
    :param clock: a monotonic clock, injectable for tests.
    """

    def __init__(
        self,
        jwks_uri: str,
        *,
        http: requests.Session | None = None,
        timeout: float = 10.0,  # a whole fetch
        refetch_interval: float = 60.0,  # unknown kids cost the provider at most one fetch a minute
        max_age: float = 3600.0,  # withdrawn keys stop being trusted within an hour
        allow_insecure_http: bool = False,
        clock: t.Callable[[], float] = time.monotonic,
    ) -> None:
        if not is_secure_url(jwks_uri, allow_insecure_http=allow_insecure_http):
            raise ConfigurationError("jwks_uri must be an https:// URL (got %r)" % (jwks_uri,))
        if refetch_interval < 0 or max_age < refetch_interval:
            raise ConfigurationError(
                "refetch_interval must be >= 0 and max_age >= refetch_interval (got %r, %r)"
                % (refetch_interval, max_age)
            )
        require_jwt()
        self.jwks_uri = jwks_uri
        self.http = http if http is not None else requests.Session()
        self.timeout = timeout
        self.refetch_interval = refetch_interval
        self.max_age = max_age
        self.allow_insecure_http = allow_insecure_http
        self.clock = clock
        #: Number of fetches attempted (for tests and metrics).
        self.fetches = 0
        self._keys: list[tuple[dict[str, t.Any], t.Any]] = []  # (jwk, public key object)
        self._fetched_at: float | None = None  # time of the last attempt, successful or not
        self._loaded_at: float | None = None  # time of the last successful fetch
        self._generation = 0  # bumped by every attempt
        self._fetch_lock = threading.Lock()

    def get_key(self, kid: str | None, alg: str) -> t.Any:
        """The public key (a :mod:`cryptography` object) for a token header's ``kid`` and ``alg``.

        Raises :class:`UnknownKey` when no cached key fits even after the allowed refetch, and
        :class:`KeySetError` when the keys cannot be had at all.
        """
        generation = self._generation
        key = self._find(kid, alg)
        stale = self._loaded_at is None or self.clock() - self._loaded_at >= self.max_age
        if key is not None and not stale:
            return key
        self._refresh(generation, reason="stale keys" if key is not None else "unknown kid")
        # a failed or rate-limited refresh left the cached keys in place; a successful one replaced
        # them, and a key the provider withdrew is no longer found
        found = self._find(kid, alg)
        if found is not None:
            return found
        if not self._keys:
            raise KeySetError("The identity provider's signing keys are unavailable.")
        log.warning("no published key for kid %s (%s)", printable(kid), alg)
        raise UnknownKey("The id_token was signed with a key the identity provider does not publish.")

    def _find(self, kid: str | None, alg: str) -> t.Any:
        candidates = [(jwk, key) for jwk, key in self._keys if key_fits(jwk, alg)]
        if kid is not None:
            candidates = [(jwk, key) for jwk, key in candidates if jwk.get("kid") == kid]
        # without a kid, only an unambiguous key will do (Core 10.1)
        return candidates[0][1] if len(candidates) == 1 else None

    def _refresh(self, seen_generation: int, *, reason: str) -> None:
        # Waiters queue on the lock while one thread fetches (each fetch is time-bounded). The
        # generation moves when a fetch *ends*, after the keys are stored: a thread that saw the
        # old generation and then gets the lock uses the keys just fetched instead of fetching.
        if not self._fetch_lock.acquire(timeout=3 * self.timeout):
            raise KeySetError("The identity provider's signing keys are unavailable.")
        attempted = False
        try:
            if self._generation != seen_generation:
                return
            now = self.clock()
            if self._fetched_at is not None and now - self._fetched_at < self.refetch_interval:
                log.debug("JWKS refetch (%s) skipped: last fetch %.0f s ago", reason, now - self._fetched_at)
                return
            self._fetched_at = now
            self.fetches += 1
            attempted = True
            log.info("fetching JWKS (%s)", reason)
            try:
                document = get_json(
                    self.http,
                    self.jwks_uri,
                    timeout=self.timeout,
                    max_bytes=MAX_JWKS_BYTES,
                    error=KeySetError,
                    what="key set",
                )
                keys = self._parse(document)
            except KeySetError:
                if self._keys:
                    log.warning("JWKS refresh failed; keeping the %d cached keys", len(self._keys))
                    return
                raise
            self._keys = keys
            self._loaded_at = self.clock()
        finally:
            if attempted:
                self._generation += 1
            self._fetch_lock.release()

    def _parse(self, document: object) -> list[tuple[dict[str, t.Any], t.Any]]:
        jwt = require_jwt()
        entries = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            log.warning("JWKS is not an object with a 'keys' list")
            raise KeySetError("The identity provider's key set is unreadable.")
        keys: list[tuple[dict[str, t.Any], t.Any]] = []
        for entry in entries[:MAX_KEYS]:
            if not isinstance(entry, dict) or entry.get("kty") not in ("RSA", "EC", "OKP") or "d" in entry:
                continue  # symmetric, private or unknown keys are never used to verify
            try:
                keys.append((entry, jwt.PyJWK(entry).key))
            except (jwt.exceptions.PyJWTError, ValueError, TypeError, KeyError):
                log.warning("skipping an unusable key in the JWKS (kid %s)", printable(entry.get("kid")))
        if not keys:
            log.warning("JWKS holds no usable public key")
            raise KeySetError("The identity provider's key set holds no usable key.")
        return keys
