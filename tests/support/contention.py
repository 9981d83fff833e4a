"""Threads fighting over one lease (STORE-6), on one store or several clients of a shared one."""

from __future__ import annotations

import threading
import time
import typing as t

from oauth_middleware.leases import Lease

if t.TYPE_CHECKING:
    from oauth_middleware.store import Store


def contend(stores: t.Sequence[Store], *, threads: int = 8, rounds: int = 20, wait: float = 10) -> tuple[int, int]:
    """``threads`` threads (spread over ``stores`` in turn) each take the lease on one key
    ``rounds`` times; returns (most holders at once, leases taken). Exclusive: (1, threads * rounds).
    An error in a thread (no lease within ``wait`` seconds, the store down) is raised here."""
    inside, most, acquired = 0, 0, 0
    guard = threading.Lock()
    errors: list[BaseException] = []

    def worker(store: Store) -> None:
        nonlocal inside, most, acquired
        try:
            for _ in range(rounds):
                lease = Lease.acquire(store, "refresh:s", seconds=5, wait=wait, poll=0.001)
                assert lease is not None, "no lease within %s s" % wait
                with lease:
                    with guard:
                        inside += 1
                        most = max(most, inside)
                        acquired += 1
                    time.sleep(0.001)
                    with guard:
                        inside -= 1
        except BaseException as exc:  # an assert in a thread would otherwise be lost
            errors.append(exc)

    workers = [threading.Thread(target=worker, args=(stores[number % len(stores)],)) for number in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=wait * rounds)
    if errors:
        raise errors[0]
    return most, acquired
