"""Server-side sessions behind a ticket cookie (STORE-1..4), on the in-memory store; the Redis
store runs the same tests through tests/test_store.py's contract and its own integration tests."""

from __future__ import annotations

import typing as t

import pytest
from conftest import FakeClock

from oauth_middleware.crypto import Cipher
from oauth_middleware.session import Lifetimes, Session
from oauth_middleware.store import MemoryStore
from oauth_middleware.tickets import SESSION_PREFIX, StoreSessions

KEY = b"ticket-test-key-3Jk8Xq1Lm5Vt9Rw2Zp7Cd4Nh6"
TOKEN = "gho_ticketTestToken0123456789abcdefABCD"


@pytest.fixture
def store(clock: FakeClock) -> MemoryStore:
    return MemoryStore(clock=clock)


@pytest.fixture
def sessions(store: MemoryStore, clock: FakeClock) -> StoreSessions:
    return StoreSessions(
        Cipher([KEY], purpose="ticket"), store, name="oauth_session", lifetimes=Lifetimes(max_age=3600), clock=clock
    )


def new_session(clock: FakeClock, login: str = "octocat", account: int = 583231) -> Session:
    user = {"login": login, "id": account}
    return Session.new(user=user, token={"access_token": TOKEN, "token_type": "bearer"}, username=login, now=clock())


def jar(headers: list[tuple[str, str]]) -> dict[str, str]:
    cookies = {}
    for _, value in headers:
        name, _, rest = value.partition("=")
        cookies[name] = rest.split(";", 1)[0]
    return cookies


def test_the_cookie_is_a_small_ticket_and_the_store_holds_no_token(
    sessions: StoreSessions, store: MemoryStore, clock: FakeClock
) -> None:
    cookies = jar(sessions.dump(new_session(clock), secure=True))
    [(name, value)] = cookies.items()
    assert name == "__Host-oauth_session"
    assert len(value) < 120
    assert TOKEN.encode() not in b"".join(v for v, _ in store._values.values())
    loaded = sessions.load(cookies, secure=True, now=clock())
    assert loaded is not None and loaded.session.token["access_token"] == TOKEN


def test_the_store_entry_lives_as_long_as_the_session(
    sessions: StoreSessions, store: MemoryStore, clock: FakeClock
) -> None:
    cookies = jar(sessions.dump(new_session(clock), secure=True))
    clock.advance(3599)
    assert sessions.load(cookies, secure=True, now=clock()) is not None
    clock.advance(2)
    assert sessions.load(cookies, secure=True, now=clock()) is None
    assert not [key for key in store._values if key.startswith(SESSION_PREFIX) and store.get(key)]


def test_saving_again_keeps_the_ticket(sessions: StoreSessions, clock: FakeClock) -> None:
    cookies = jar(sessions.dump(new_session(clock), secure=True))
    loaded = sessions.load(cookies, secure=True, now=clock())
    assert loaded is not None
    refreshed = Session.new(
        user=loaded.session.user,
        token={"access_token": "gho_new", "token_type": "bearer"},
        username="octocat",
        now=clock(),
    )
    assert sessions.dump(refreshed, secure=True, previous=loaded.value) == []  # no Set-Cookie
    again = sessions.load(cookies, secure=True, now=clock())
    assert again is not None and again.session.token["access_token"] == "gho_new"


def test_logout_ends_the_session_for_every_copy_of_the_cookie(sessions: StoreSessions, clock: FakeClock) -> None:
    cookies = jar(sessions.dump(new_session(clock), secure=True))
    copy = dict(cookies)
    ended = sessions.end(cookies, secure=True)
    assert ended is not None and ended.username == "octocat"
    assert sessions.load(copy, secure=True, now=clock()) is None
    assert sessions.user_sessions("583231") == set()


def test_revoke_user_ends_all_of_that_users_sessions_only(sessions: StoreSessions, clock: FakeClock) -> None:
    laptop = jar(sessions.dump(new_session(clock), secure=True))
    phone = jar(sessions.dump(new_session(clock), secure=True))
    other = jar(sessions.dump(new_session(clock, "hubot", 2), secure=True))
    assert len(sessions.user_sessions("583231")) == 2
    assert sorted(sessions.users()) == ["2", "583231"]
    assert sessions.revoke_user("583231") == 2
    assert sessions.load(laptop, secure=True, now=clock()) is None
    assert sessions.load(phone, secure=True, now=clock()) is None
    assert sessions.load(other, secure=True, now=clock()) is not None


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda v: v[:-2] + ("A" if v[-2] != "A" else "B") + v[-1], id="ticket-changed"),
        pytest.param(lambda v: v[:40], id="truncated"),
        pytest.param(lambda v: "", id="empty"),
    ],
)
def test_a_bad_ticket_is_anonymous(sessions: StoreSessions, clock: FakeClock, tamper: t.Callable[[str], str]) -> None:
    cookies = jar(sessions.dump(new_session(clock), secure=True))
    name = "__Host-oauth_session"
    assert sessions.load({name: tamper(cookies[name])}, secure=True, now=clock()) is None


def test_a_blob_moved_to_another_id_does_not_open(
    sessions: StoreSessions, store: MemoryStore, clock: FakeClock
) -> None:
    first = jar(sessions.dump(new_session(clock), secure=True))
    second = jar(sessions.dump(new_session(clock, "hubot", 2), secure=True))
    ids = [sessions.session_id(c["__Host-oauth_session"], secure=True) for c in (first, second)]
    blob = store.get(SESSION_PREFIX + str(ids[0]))
    assert blob is not None
    store.put(SESSION_PREFIX + str(ids[1]), blob, ttl=100)  # a store-side swap: hubot's ticket, octocat's blob
    assert sessions.load(second, secure=True, now=clock()) is None


def test_a_ticket_is_bound_to_its_cookie_name(sessions: StoreSessions, clock: FakeClock) -> None:
    cookies = jar(sessions.dump(new_session(clock), secure=True))
    assert sessions.load({"oauth_session": cookies["__Host-oauth_session"]}, secure=False, now=clock()) is None
