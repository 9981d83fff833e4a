"""The store seam: where state that every worker (and host) must agree on lives.

A :class:`Store` is a small key-value interface with expiry, in the spirit of oauth2-proxy's
session store: byte values under string keys, an atomic *set if absent* (one-time login states,
lock leases), compare-and-delete and compare-and-expire (releasing and renewing a lease only if it
is still ours), and per-user indexes (log a user out everywhere). Everything above it (sealed
sessions, consumed states, refresh locks) is built once, in the middleware's own modules, so a
backend has no security logic to get wrong.

:class:`MemoryStore` keeps it in this process (``store="memory"``: one worker, or tests); the
Redis store (:mod:`oauth_middleware.redis_store`) implements the same methods with Redis commands.
With ``store=None`` sessions live in the cookie and one-time states and refresh locks stay in
each process (``flow.py``, ``renewal.py``).
"""

from __future__ import annotations

import threading
import time
import typing as t

__all__ = ["MemoryStore", "Store", "StoreUnavailable"]


class StoreUnavailable(Exception):
    """The store could not be reached or did not answer in time (never raised by MemoryStore).

    The middleware fails closed on it: protected paths answer 503 with ``Retry-After``, public
    paths pass anonymously (STORE-7).
    """


@t.runtime_checkable
class Store(t.Protocol):
    """Shared state with expiry. Keys are short ASCII strings chosen by the middleware; a store
    may prefix them (a namespace). Every ``ttl`` is in seconds and positive.

    Implementations must make :meth:`put` with ``only_if_absent=True``, :meth:`compare_and_delete`
    and :meth:`compare_and_expire` atomic, and raise :class:`StoreUnavailable` (never anything
    else) when the backend cannot answer.
    """

    def get(self, key: str) -> bytes | None:
        """The value under ``key``, or None when absent or expired."""

    def put(
        self, key: str, value: bytes, *, ttl: float, only_if_absent: bool = False, only_if_present: bool = False
    ) -> bool:
        """Store ``value`` for ``ttl`` seconds; with ``only_if_absent``, only if no live value is
        there (then False means someone else holds it); with ``only_if_present``, only if one is
        (then False means it was deleted meanwhile: a logout must not be undone)."""

    def delete(self, *keys: str) -> int:
        """Remove the keys; returns how many existed."""

    def compare_and_delete(self, key: str, value: bytes) -> bool:
        """Remove ``key`` only if it still holds ``value`` (release a lease that is ours)."""

    def compare_and_expire(self, key: str, value: bytes, *, ttl: float) -> bool:
        """Give ``key`` a new ``ttl`` only if it still holds ``value`` (renew our lease)."""

    def index_add(self, index: str, member: str, *, ttl: float) -> None:
        """Add ``member`` to the set ``index``, which lives at least ``ttl`` seconds more."""

    def index_members(self, index: str) -> set[str]:
        """The members of the set ``index`` (empty when absent)."""

    def index_remove(self, index: str, *members: str) -> None:
        """Remove members from the set ``index``."""

    def indexes(self, prefix: str) -> list[str]:
        """The names of the live sets whose name starts with ``prefix`` (for operators' tools)."""


class MemoryStore:
    """A :class:`Store` in this process's memory: thread-safe, bounded, with expiry.

    .. code-block:: python

        store = MemoryStore()
        assert store.put("state:abc", b"1", ttl=600, only_if_absent=True)
        assert not store.put("state:abc", b"1", ttl=600, only_if_absent=True)

    :param clock: returns the current time in seconds (tests inject a fake one).
    :param max_keys: values kept at most; when full, expired entries are dropped, and if that is
        not enough a new value is refused with :class:`StoreUnavailable` (the middleware answers
        503) rather than a live one forgotten: memory stays bounded under a flood.
    """

    def __init__(self, *, clock: t.Callable[[], float] = time.time, max_keys: int = 100_000) -> None:
        self.clock = clock
        self.max_keys = max_keys
        self._values: dict[str, tuple[bytes, float]] = {}
        self._indexes: dict[str, tuple[set[str], float]] = {}
        self._lock = threading.Lock()

    def _live(self, key: str, now: float) -> bytes | None:
        entry = self._values.get(key)
        if entry is None:
            return None
        if entry[1] <= now:
            del self._values[key]
            return None
        return entry[0]

    def _make_room(self, now: float) -> None:
        if len(self._values) < self.max_keys:
            return
        for key in [key for key, (_, expires) in self._values.items() if expires <= now]:
            del self._values[key]
        if len(self._values) >= self.max_keys:
            # never drop a live value: a one-time login state or a session forgotten early would
            # re-open a replay or undo nothing safely; the middleware answers 503 instead
            raise StoreUnavailable("the memory store holds max_keys=%d live values" % self.max_keys)

    def get(self, key: str) -> bytes | None:
        with self._lock:
            return self._live(key, self.clock())

    def put(
        self, key: str, value: bytes, *, ttl: float, only_if_absent: bool = False, only_if_present: bool = False
    ) -> bool:
        with self._lock:
            now = self.clock()
            live = self._live(key, now)
            if (only_if_absent and live is not None) or (only_if_present and live is None):
                return False
            if key not in self._values:
                self._make_room(now)
            self._values[key] = (bytes(value), now + ttl)
            return True

    def delete(self, *keys: str) -> int:
        with self._lock:
            now = self.clock()
            found = 0
            for key in keys:
                if self._live(key, now) is not None:
                    found += 1
                self._values.pop(key, None)
            return found

    def compare_and_delete(self, key: str, value: bytes) -> bool:
        with self._lock:
            if self._live(key, self.clock()) != value:
                return False
            del self._values[key]
            return True

    def compare_and_expire(self, key: str, value: bytes, *, ttl: float) -> bool:
        with self._lock:
            now = self.clock()
            if self._live(key, now) != value:
                return False
            self._values[key] = (value, now + ttl)
            return True

    def index_add(self, index: str, member: str, *, ttl: float) -> None:
        with self._lock:
            now = self.clock()
            members, expires = self._indexes.get(index, (set(), 0.0))
            if expires <= now:
                members = set()
            members.add(member)
            self._indexes[index] = (members, max(expires, now + ttl))

    def index_members(self, index: str) -> set[str]:
        with self._lock:
            members, expires = self._indexes.get(index, (set(), 0.0))
            if expires <= self.clock():
                self._indexes.pop(index, None)
                return set()
            return set(members)

    def index_remove(self, index: str, *members: str) -> None:
        with self._lock:
            entry = self._indexes.get(index)
            if entry is not None:
                entry[0].difference_update(members)
                if not entry[0]:
                    del self._indexes[index]

    def indexes(self, prefix: str) -> list[str]:
        with self._lock:
            now = self.clock()
            return sorted(
                name for name, (_, expires) in self._indexes.items() if name.startswith(prefix) and expires > now
            )
