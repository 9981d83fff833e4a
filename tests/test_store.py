"""The Store contract (every implementation must pass it) and leases built on it (STORE-5, STORE-6).

Implementations are listed in ``STORES``; a backend that needs a server adds a factory there that
skips, saying why, when the server cannot be started. The Redis store runs the whole contract
against a real redis-server (the ``redis_server`` fixture in conftest.py), flushed before each test;
as Redis has no clock to fake, the test's clock moving also shortens every TTL in Redis by as much.
"""

from __future__ import annotations

import threading
import time
import typing as t

import pytest
from conftest import FakeClock
from support.contention import contend

from oauth_middleware.leases import Lease
from oauth_middleware.store import MemoryStore, Store, StoreUnavailable

if t.TYPE_CHECKING:
    from oauth_middleware.redis_store import RedisStore


def memory_store(request: pytest.FixtureRequest, clock: FakeClock) -> Store:
    return MemoryStore(clock=clock)


def redis_store(request: pytest.FixtureRequest, clock: FakeClock) -> Store:
    from oauth_middleware.redis_store import RedisStore

    server = request.getfixturevalue("redis_server")
    return _on_redis(request, clock, server.client(), RedisStore(url=server.url, prefix="contract:"))


def redis_cluster_store(request: pytest.FixtureRequest, clock: FakeClock) -> Store:
    """On a three-node Redis Cluster: keys of one test land on several nodes."""
    from oauth_middleware.redis_store import RedisStore

    cluster = request.getfixturevalue("redis_cluster")
    client = cluster.client()
    request.addfinalizer(client.close)
    return _on_redis(request, clock, cluster.client(), RedisStore(client, prefix="contract:"))


def _on_redis(request: pytest.FixtureRequest, clock: FakeClock, admin: t.Any, store: RedisStore) -> Store:
    from support.redis_server import age_keys

    admin.flushdb()
    monkeypatch = request.getfixturevalue("monkeypatch")

    def advance(seconds: float) -> None:
        FakeClock.advance(clock, seconds)
        age_keys(admin, store.prefix, seconds)

    monkeypatch.setattr(clock, "advance", advance)
    request.addfinalizer(admin.close)
    request.addfinalizer(store.close)
    return store


STORES: dict[str, t.Callable[[pytest.FixtureRequest, FakeClock], Store]] = {
    "memory": memory_store,
    "redis": redis_store,
    "redis-cluster": redis_cluster_store,
}


@pytest.fixture(params=list(STORES))
def store(request: pytest.FixtureRequest, clock: FakeClock) -> Store:
    return STORES[request.param](request, clock)


def test_values_expire(store: Store, clock: FakeClock) -> None:
    assert store.get("k") is None
    assert store.put("k", b"v", ttl=10)
    assert store.get("k") == b"v"
    clock.advance(11)
    assert store.get("k") is None


def test_set_if_absent_is_one_time_until_expiry(store: Store, clock: FakeClock) -> None:
    assert store.put("state:a", b"1", ttl=600, only_if_absent=True)
    assert not store.put("state:a", b"2", ttl=600, only_if_absent=True)
    assert store.get("state:a") == b"1"
    clock.advance(601)
    assert store.put("state:a", b"3", ttl=600, only_if_absent=True)


def test_delete_counts_what_existed(store: Store) -> None:
    store.put("a", b"1", ttl=10)
    store.put("b", b"1", ttl=10)
    assert store.delete("a", "b", "c") == 2
    assert store.get("a") is None and store.delete("a") == 0


def test_compare_and_delete_and_expire_touch_only_our_value(store: Store, clock: FakeClock) -> None:
    store.put("lock", b"mine", ttl=10)
    assert not store.compare_and_delete("lock", b"theirs")
    assert not store.compare_and_expire("lock", b"theirs", ttl=100)
    assert store.compare_and_expire("lock", b"mine", ttl=100)
    clock.advance(50)
    assert store.get("lock") == b"mine"
    assert store.compare_and_delete("lock", b"mine")
    assert store.get("lock") is None
    assert not store.compare_and_expire("lock", b"mine", ttl=100)


def test_indexes(store: Store, clock: FakeClock) -> None:
    store.index_add("user:1", "s1", ttl=100)
    store.index_add("user:1", "s2", ttl=10)
    store.index_add("user:2", "s3", ttl=100)
    assert store.index_members("user:1") == {"s1", "s2"}
    assert store.indexes("user:") == ["user:1", "user:2"]
    store.index_remove("user:1", "s1")
    assert store.index_members("user:1") == {"s2"}
    clock.advance(101)  # an index lives as long as its longest ttl
    assert store.index_members("user:1") == set()
    assert store.indexes("user:") == []


def test_a_value_and_an_index_may_share_a_name(store: Store) -> None:
    store.put("user:1", b"v", ttl=10)
    store.index_add("user:1", "s1", ttl=10)
    assert store.get("user:1") == b"v" and store.index_members("user:1") == {"s1"}
    assert store.indexes("user:") == ["user:1"]


def test_odd_keys_and_values_round_trip(store: Store) -> None:
    """Glob characters in names (SCAN patterns) and every byte value (NUL, non-UTF-8) survive."""
    value = bytes(range(256))
    assert store.put("k*[?]\\", value, ttl=10)
    assert store.get("k*[?]\\") == value and store.get("k") is None
    store.index_add("u[1]*", "m", ttl=10)
    store.index_add("u1x", "m", ttl=10)
    assert store.indexes("u[1]*") == ["u[1]*"]
    assert store.compare_and_delete("k*[?]\\", value)


def test_memory_store_stays_bounded_under_a_flood_and_forgets_nothing_live(clock: FakeClock) -> None:
    """A flood of login states must not push an earlier one out (a replay would open again)."""
    store = MemoryStore(clock=clock, max_keys=100)
    store.put("state:victim", b"1", ttl=600, only_if_absent=True)
    refused = 0
    for number in range(1000):
        try:
            store.put("state:%d" % number, b"1", ttl=300, only_if_absent=True)
        except StoreUnavailable:
            refused += 1
    assert len(store._values) <= 100 and refused == 901
    assert not store.put("state:victim", b"1", ttl=600, only_if_absent=True)  # still remembered
    clock.advance(301)  # the flood's states expire: room again
    assert store.put("state:new", b"1", ttl=600, only_if_absent=True)


# -- leases ------------------------------------------------------------------------------------------


def test_a_lease_is_exclusive_until_released() -> None:
    store = MemoryStore()
    first = Lease.acquire(store, "refresh:s", seconds=5)
    assert first is not None and first.held
    assert Lease.acquire(store, "refresh:s", seconds=5) is None
    first.release()
    first.release()  # twice is harmless
    second = Lease.acquire(store, "refresh:s", seconds=5)
    assert second is not None
    second.release()


def test_a_lease_is_renewed_while_held_and_never_releases_another_holders() -> None:
    store = MemoryStore()
    with Lease.acquire(store, "refresh:s", seconds=0.3) as lease:  # type: ignore[union-attr]
        time.sleep(0.7)  # more than twice the lease: only the renewal keeps it
        assert lease.held
    assert store.get("refresh:s") is None
    stolen = Lease.acquire(store, "refresh:t", seconds=0.3)
    assert stolen is not None
    stolen._stop.set()  # a holder that stopped renewing (a stuck worker): the lease runs out
    time.sleep(0.5)
    thief = Lease.acquire(store, "refresh:t", seconds=5)
    assert thief is not None
    stolen.release()  # the first holder's late release must not free the new holder's lease
    assert thief.held
    thief.release()


def test_a_waiter_gets_the_lease_when_it_is_released() -> None:
    store = MemoryStore()
    holder = Lease.acquire(store, "refresh:s", seconds=5)
    assert holder is not None
    threading.Timer(0.2, holder.release).start()
    waiter = Lease.acquire(store, "refresh:s", seconds=5, wait=3)
    assert waiter is not None
    waiter.release()
    assert Lease.acquire(store, "refresh:x", seconds=5) is not None


def test_eight_threads_never_hold_one_lease_at_once() -> None:
    assert contend([MemoryStore()], threads=8, rounds=20) == (1, 160)


def test_set_if_present_never_recreates_a_deleted_value(store: Store, clock: FakeClock) -> None:
    """What keeps a logout done while a renewal of that session was under way."""
    assert not store.put("session:s", b"1", ttl=10, only_if_present=True)
    assert store.get("session:s") is None
    store.put("session:s", b"1", ttl=10)
    assert store.put("session:s", b"2", ttl=10, only_if_present=True)
    assert store.get("session:s") == b"2"
    store.delete("session:s")
    assert not store.put("session:s", b"3", ttl=10, only_if_present=True)
    assert store.get("session:s") is None
