"""The logged-in session: its model, and the encrypted (and if need be chunked) cookie holding it.

The cookie value is the JSON payload sealed by :class:`~oauth_middleware.crypto.Cipher`; the
issue time lives inside it and is checked against ``max_age`` on every request, whatever the
browser does with the cookie's own expiry. Decrypted sessions are kept in a small bounded cache
keyed by the exact cookie value, so a logged-in request costs a dict lookup, and the expiry check
runs on cache hits too.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import threading
import typing as t

from .cookies import MAX_SET_COOKIE_BYTES, set_cookie
from .crypto import Cipher, InvalidValue

log = logging.getLogger(__name__)

#: Tolerated clock skew between workers for timestamps in the future, seconds.
CLOCK_SKEW = 300
#: Most cookies one session may be split into.
MAX_CHUNKS = 5
#: Chunked sessions put "<count>." in front of the first chunk's value.
CHUNK_MARK = "."


@dataclasses.dataclass(frozen=True)
class Session:
    """A logged-in user, as carried in the session cookie.

    :param user: the trimmed provider profile (``login``, ``id``, ``name``, ``email``, ...).
    :param token: the token kept (``access_token``, ``token_type``, ``scope``, and
        ``expires_at``/``refresh_token``/``refresh_token_expires_at`` for expiring tokens).
    :param issued_at: when the login completed (seconds since the epoch); fixes the absolute
        lifetime, whatever refreshes happen later.
    :param username: the value for ``REMOTE_USER``.
    :param seen_at: last recorded activity (updated at most every quarter of ``idle_timeout``).
    :param checked_at: when the profile and memberships were last fetched from the provider.
    :param groups: memberships (``"org"``, ``"org/team"``) when allow-lists need them.
    :param sub: the provider's stable account id as text (``Identity.sub``); empty in cookies
        written before it was kept, whose :attr:`user_id` comes from the profile's numeric ``id``.
    """

    user: dict[str, t.Any]
    token: dict[str, t.Any] = dataclasses.field(repr=False)
    issued_at: float
    username: str
    seen_at: float
    checked_at: float
    groups: tuple[str, ...] = ()
    sub: str = ""

    @classmethod
    def new(
        cls,
        *,
        user: dict[str, t.Any],
        token: dict[str, t.Any],
        username: str,
        now: float,
        groups: t.Sequence[str] = (),
        sub: str = "",
    ) -> Session:
        return cls(user, token, now, username, now, now, tuple(groups), sub)

    def to_json(self, derive: Derivation | None = None) -> bytes:
        """The session as the compact payload a cookie or a store seals (format 2).

        :param derive: the profile fields the provider derives from the rest
            (:meth:`~oauth_middleware.providers.Provider.derived_profile`): not stored when equal.
        """
        token = _pack_token(self.token)
        payload: list[t.Any] = [
            2,
            int(self.issued_at),
            int(self.seen_at) - int(self.issued_at),
            int(self.checked_at) - int(self.issued_at),
            _pack_user(self.user, derive),
            token,
        ]
        tail = [
            0 if self.username == self.user.get("login") else self.username,
            list(self.groups) or 0,
            self.sub if self.sub and self.sub != self._profile_id else 0,  # GitHub's sub is its id
        ]
        while tail and tail[-1] == 0:
            tail.pop()
        return json.dumps(payload + tail, separators=(",", ":"), ensure_ascii=True).encode("ascii")

    @classmethod
    def from_json(cls, data: bytes, derive: Derivation | None = None) -> Session:
        """The session sealed by :meth:`to_json` (format 2) or by a release before it (format 1).

        :param derive: as given to :meth:`to_json`: fills in the fields it left out.
        """
        payload = json.loads(data)
        if isinstance(payload, dict) and payload.get("v") == 1:
            return cls._from_v1(payload)
        if not (isinstance(payload, list) and 6 <= len(payload) <= 9 and payload[0] == 2):
            raise ValueError("unknown session format")
        _, issued, seen, checked, packed_user, packed_token, *tail = payload
        tail += [0] * (3 - len(tail))
        name, groups, sub = tail
        user = _unpack_user(packed_user, derive)
        token = _unpack_token(packed_token)
        name = user.get("login") if name == 0 else name
        groups = [] if groups == 0 else groups
        sub = "" if sub == 0 else sub
        times = issued, seen, checked
        if not (
            isinstance(sub, str)
            and isinstance(name, str)
            and isinstance(groups, list)
            and all(isinstance(g, str) for g in groups)
            and all(isinstance(v, int) and not isinstance(v, bool) for v in times)
        ):
            raise ValueError("malformed session")
        return cls(user, token, float(issued), name, float(issued + seen), float(issued + checked), tuple(groups), sub)

    @classmethod
    def _from_v1(cls, payload: dict[str, t.Any]) -> Session:
        user, token, name, groups = payload["u"], payload["t"], payload["n"], payload["g"]
        times = payload["iat"], payload["s"], payload["c"]
        sub = payload.get("i", "")
        if not (
            isinstance(sub, str)
            and isinstance(user, dict)
            and isinstance(token, dict)
            and isinstance(name, str)
            and isinstance(groups, list)
            and all(isinstance(g, str) for g in groups)
            and all(isinstance(v, int) and not isinstance(v, bool) for v in times)
        ):
            raise ValueError("malformed session")
        return cls(user, token, float(times[0]), name, float(times[1]), float(times[2]), tuple(groups), sub)

    @functools.cached_property
    def user_id(self) -> str | None:
        """The provider's stable account id as text (:attr:`sub`: GitHub's numeric id, e.g.
        ``"583231"``; an OpenID Connect ``sub``), for ``REMOTE_USER``-style consumers such as
        Django's ``RemoteUserMiddleware``; ``None`` if there is none."""
        return self.sub or self._profile_id

    @functools.cached_property
    def _profile_id(self) -> str | None:
        value = self.user.get("id")
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else None

    def environ_token(self) -> dict[str, t.Any]:
        """The token as the app sees it: without the refresh token, which only the middleware
        may use (GitHub's refresh tokens are single use). A fresh dict on every call."""
        return {k: list(v) if isinstance(v, list) else v for k, v in self._app_token.items()}

    @functools.cached_property
    def _app_token(self) -> dict[str, t.Any]:
        # filtered once per Session (a cached session serves many requests); callers get copies
        return {k: v for k, v in self.token.items() if not k.startswith("refresh_token")}


@dataclasses.dataclass(frozen=True)
class Lifetimes:
    """When a session ends, and when it needs work before the next request.

    :param max_age: absolute lifetime from the login, seconds.
    :param idle_timeout: seconds without a request before the session ends; ``None``: never.
    :param revalidate_after: seconds after which the profile (and memberships) are fetched again;
        ``None``: never.
    :param refresh_margin: an expiring token is refreshed this many seconds before it expires.
    :param revalidate_grace: seconds a re-validation may stay overdue because GitHub cannot be
        reached before the session ends.
    """

    max_age: int
    idle_timeout: int | None = None
    revalidate_after: int | None = None
    refresh_margin: int = 300
    revalidate_grace: int = 3600

    def past_grace(self, session: Session, now: float) -> bool:
        """Whether ``session``'s re-validation has been overdue for longer than the grace."""
        if self.revalidate_after is None:
            return False
        return now >= session.checked_at + self.revalidate_after + self.revalidate_grace

    def ends_at(self, session: Session) -> float:
        end = session.issued_at + self.max_age
        if self.idle_timeout is not None:
            end = min(end, session.seen_at + self.idle_timeout)
        return end

    def due_at(self, session: Session) -> float:
        """The time from which the next request must refresh, re-validate or touch the session."""
        due = float("inf")
        expires_at = session.token.get("expires_at")
        if isinstance(expires_at, (int, float)) and session.token.get("refresh_token"):
            due = expires_at - self.refresh_margin
        if self.revalidate_after is not None:
            due = min(due, session.checked_at + self.revalidate_after)
        if self.idle_timeout is not None:
            due = min(due, session.seen_at + self.idle_timeout / 4)
        return due


class Loaded(t.NamedTuple):
    """A session read from a request: the session, its sealed cookie value and its due time."""

    session: Session
    value: str
    due_at: float

    def __repr__(self) -> str:
        return "Loaded(session=%r, due_at=%r)" % (self.session, self.due_at)


class SessionCookie:
    """Reads and writes the session cookie (and its chunks) for one middleware.

    :param cipher: seals and opens values (purpose ``"session"``).
    :param name: the cookie name, without the ``__Host-`` prefix added when it is Secure.
    :param lifetimes: when sessions end (checked on every request, cached or not).
    :param cache_size: how many decrypted sessions to keep (bounded; 0 disables the cache).
    :param derive: the profile fields the provider derives from the rest
        (:meth:`~oauth_middleware.providers.Provider.derived_profile`): left out of the cookie.
    """

    def __init__(
        self,
        cipher: Cipher,
        *,
        name: str,
        lifetimes: Lifetimes,
        cache_size: int = 4096,
        derive: Derivation | None = None,
    ) -> None:
        self.cipher = cipher
        self.derive = derive
        self.name = name
        self.lifetimes = lifetimes
        self.max_age = lifetimes.max_age
        self.cache_size = cache_size
        # the full cookie name is authenticated: a value sealed as "__Host-NAME" never opens as "NAME"
        self._aads = {secure: self.cookie_name(secure).encode("ascii") for secure in (True, False)}
        self._cache: dict[str, tuple[Session, float, float, bool]] = {}
        self._cache_lock = threading.Lock()

    def cookie_name(self, secure: bool) -> str:
        """The session cookie's name: ``__Host-`` prefixed when the cookie is Secure."""
        return "__Host-" + self.name if secure else self.name

    # -- reading ---------------------------------------------------------------------------------

    def load(self, cookies: t.Mapping[str, str], *, secure: bool, now: float) -> Loaded | None:
        """The live session in ``cookies``, or ``None`` (absent, bad, expired: all anonymous)."""
        name = self.cookie_name(secure)
        value = cookies.get(name)
        if not value:
            return None
        if value[0] in "0123456789" and CHUNK_MARK in value[:3]:
            value = self._join_chunks(name, value, cookies)
            if value is None:
                return None
        entry = self._cache.get(value)
        if entry is None or entry[3] is not secure:
            session = self._open(value, secure=secure)
            if session is None:
                return None
            entry = (session, self.lifetimes.ends_at(session), self.lifetimes.due_at(session), secure)
            self._remember(value, entry)
        session, ends_at, due_at, _ = entry
        if not (session.issued_at - CLOCK_SKEW <= now < ends_at):
            self._cache.pop(value, None)
            return None
        return Loaded(session, value, due_at)

    def _join_chunks(self, name: str, first: str, cookies: t.Mapping[str, str]) -> str | None:
        count_text, _, head = first.partition(CHUNK_MARK)
        if not (count_text.isascii() and count_text.isdigit()) or not 2 <= int(count_text) <= MAX_CHUNKS:
            return None
        parts = [head]
        for index in range(1, int(count_text)):
            part = cookies.get("%s.%d" % (name, index))
            if not part:
                return None  # a missing chunk invalidates the whole session
            parts.append(part)
        return "".join(parts)

    def _open(self, value: str, *, secure: bool) -> Session | None:
        try:
            return Session.from_json(self.cipher.open(value, aad=self._aads[secure]), self.derive)
        except (InvalidValue, ValueError, KeyError, TypeError):
            log.debug("ignoring an invalid session cookie")
            return None

    def _remember(self, value: str, entry: tuple[Session, float, float, bool]) -> None:
        if not self.cache_size:
            return
        with self._cache_lock:
            if len(self._cache) >= self.cache_size:
                # drop the oldest entry (dicts keep insertion order)
                del self._cache[next(iter(self._cache))]
            self._cache[value] = entry

    # -- writing ---------------------------------------------------------------------------------

    def dump(
        self, session: Session, *, secure: bool, present: t.Container[str] = (), previous: str | None = None
    ) -> list[tuple[str, str]]:
        """``Set-Cookie`` headers storing ``session``, split into chunks if it is too big.

        Stale chunks named in ``present`` (the request's cookie names) are deleted. ``previous``
        (the request's cookie value) is not needed here: the cookie is the whole session.
        """
        name = self.cookie_name(secure)
        value = self.cipher.seal(session.to_json(self.derive), aad=self._aads[secure])
        room = MAX_SET_COOKIE_BYTES - len(set_cookie(name + ".9", "", max_age=self.max_age, secure=secure)[1]) - 4
        chunks = [value[i : i + room] for i in range(0, len(value), room)]
        if len(chunks) > MAX_CHUNKS:
            raise ValueError("the session is too large for %d cookies" % MAX_CHUNKS)
        if len(chunks) > 1:
            log.warning("the session needs %d cookies; consider a smaller scope or profile", len(chunks))
            chunks[0] = "%d%s%s" % (len(chunks), CHUNK_MARK, chunks[0])
        headers = [set_cookie(name, chunks[0], max_age=self.max_age, secure=secure)]
        for index, chunk in enumerate(chunks[1:], start=1):
            headers.append(set_cookie("%s.%d" % (name, index), chunk, max_age=self.max_age, secure=secure))
        for index in range(len(chunks), MAX_CHUNKS):
            stale = "%s.%d" % (name, index)
            if stale in present:
                headers.append(set_cookie(stale, None, max_age=0, secure=secure))
        return headers

    def clear(self, *, secure: bool, present: t.Container[str]) -> list[tuple[str, str]]:
        """``Set-Cookie`` headers deleting the session cookie and every chunk in ``present``."""
        name = self.cookie_name(secure)
        names = [name] + ["%s.%d" % (name, index) for index in range(1, MAX_CHUNKS)]
        return [set_cookie(n, None, max_age=0, secure=secure) for n in names if n in present]


# -- the compact payload (format 2) -----------------------------------------------------------------

#: ``Provider.derived_profile``: the profile fields that follow from the others.
Derivation = t.Callable[[t.Mapping[str, t.Any]], dict[str, t.Any]]
#: Profile fields packed by position (the trimmed profile has exactly these); any other shape keeps
#: the dict form.
PACKED_FIELDS = ("login", "id", "node_id", "name", "email", "avatar_url", "html_url", "type")
#: Token fields packed by position, after ``access_token`` and ``scope``.
PACKED_TOKEN_TAIL = ("expires_at", "refresh_token", "refresh_token_expires_at")


def _pack_user(user: dict[str, t.Any], derive: Derivation | None) -> list[t.Any] | dict[str, t.Any]:
    """A profile of exactly :data:`PACKED_FIELDS` (no booleans) as a list by position, ``false``
    standing for a value ``derive`` gives back; any other profile as it is."""
    if set(user) != set(PACKED_FIELDS) or any(isinstance(v, bool) for v in user.values()):
        return user
    derived = derive(user) if derive else {}
    packed = [False if field in derived and derived[field] == user[field] else user[field] for field in PACKED_FIELDS]
    while packed and packed[-1] is False:
        packed.pop()
    return packed


def _unpack_user(packed: object, derive: Derivation | None) -> dict[str, t.Any]:
    if isinstance(packed, dict):
        return packed
    if not isinstance(packed, list) or len(packed) > len(PACKED_FIELDS):
        raise ValueError("malformed session profile")
    packed = packed + [False] * (len(PACKED_FIELDS) - len(packed))
    user = dict(zip(PACKED_FIELDS, packed, strict=True))
    left_out = [field for field, value in user.items() if value is False]
    if left_out:
        derived = derive(user) if derive else {}
        if not all(field in derived for field in left_out):
            raise ValueError("a session field its provider does not derive")
        user.update((field, derived[field]) for field in left_out)
    return user


def _pack_token(token: dict[str, t.Any]) -> list[t.Any] | dict[str, t.Any]:
    """``[access_token, "scope scope", expires_at, refresh_token, refresh_token_expires_at]`` for
    a bearer token with only those fields (trailing ones left out); the dict otherwise."""
    scope = token.get("scope")
    plain = (
        isinstance(token.get("access_token"), str)
        and token.get("token_type") == "bearer"
        and isinstance(scope, list)
        and all(isinstance(s, str) and s and " " not in s for s in scope)
        and set(token) <= {"access_token", "token_type", "scope", *PACKED_TOKEN_TAIL}
        and all(token.get(k) is not None for k in PACKED_TOKEN_TAIL if k in token)
    )
    if not plain:
        return token
    packed = [token["access_token"], " ".join(t.cast(list[str], scope))]
    packed += [token.get(field, 0) for field in PACKED_TOKEN_TAIL]
    while len(packed) > 2 and packed[-1] == 0:
        packed.pop()
    return packed


def _unpack_token(packed: object) -> dict[str, t.Any]:
    if isinstance(packed, dict):
        return packed
    if not isinstance(packed, list) or not 2 <= len(packed) <= 2 + len(PACKED_TOKEN_TAIL):
        raise ValueError("malformed session token")
    access_token, scope, *tail = packed
    if not (isinstance(access_token, str) and isinstance(scope, str)):
        raise ValueError("malformed session token")
    token: dict[str, t.Any] = {"access_token": access_token, "token_type": "bearer", "scope": scope.split()}
    token.update((field, value) for field, value in zip(PACKED_TOKEN_TAIL, tail, strict=False) if value != 0)
    return token
