"""Locks with a lease on a :class:`~oauth_middleware.store.Store`: one refresh per session at a
time, in every worker that shares the store (STORE-6).

A lease is a random token written with *set if absent* and an expiry. While it is held, a timer
renews it (compare-and-expire, so only our own token is renewed), so a slow provider call never
outlives the lock; it is always released with compare-and-delete, so a lease that expired and was
taken by another worker is never deleted by us. A worker that crashes holding it frees it when the
lease runs out.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
import typing as t

from .store import StoreUnavailable

if t.TYPE_CHECKING:
    from .store import Store

__all__ = ["Lease"]


class Lease:
    """A held lock; use :meth:`acquire` to get one.

    .. code-block:: python

        lease = Lease.acquire(store, "refresh:" + session_id, seconds=15, wait=10)
        if lease is None:
            ...  # another worker refreshes: use its result
        else:
            with lease:
                ...  # refresh; the lease is renewed every 5 s meanwhile, released at the end
    """

    def __init__(self, store: Store, key: str, token: bytes, seconds: float) -> None:
        self.store = store
        self.key = key
        self.token = token
        self.seconds = seconds
        self._stop = threading.Event()
        self._renewer = threading.Thread(target=self._renew, name="oauth-middleware-lease", daemon=True)
        self._renewer.start()

    @classmethod
    def acquire(
        cls,
        store: Store,
        key: str,
        *,
        seconds: float,
        wait: float = 0.0,
        poll: float = 0.05,
        sleep: t.Callable[[float], None] = time.sleep,
    ) -> Lease | None:
        """The lease on ``key`` for ``seconds`` (renewed while held), or None if another holder
        keeps it for ``wait`` seconds more.

        :param poll: seconds between attempts while waiting.
        """
        token = secrets.token_bytes(16)
        deadline = time.monotonic() + wait
        while True:
            if store.put(key, token, ttl=seconds, only_if_absent=True):
                return cls(store, key, token, seconds)
            if time.monotonic() >= deadline:
                return None
            sleep(min(poll, max(0.0, deadline - time.monotonic())))

    def _renew(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            try:
                if not self.store.compare_and_expire(self.key, self.token, ttl=self.seconds):
                    return  # lost it (expired and taken): nothing of ours to renew
            except StoreUnavailable:  # the store is down: the lease simply runs out
                return

    @property
    def held(self) -> bool:
        """Whether the store still holds our token (a lease can be lost when the store restarts)."""
        return self.store.get(self.key) == self.token

    def release(self) -> None:
        """Stop renewing and delete the lease if it is still ours; safe to call twice."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._renewer.join(timeout=1.0)
        with contextlib.suppress(StoreUnavailable):  # down: the lease runs out by itself
            self.store.compare_and_delete(self.key, self.token)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
