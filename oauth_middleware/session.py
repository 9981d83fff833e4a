"""The logged-in session: its model, and the encrypted (and if need be chunked) cookie holding it.

The cookie value is the JSON payload sealed by :class:`~oauth_middleware.crypto.Cipher`; the
issue time lives inside it and is checked against ``max_age`` on every request, whatever the
browser does with the cookie's own expiry. Decrypted sessions are kept in a small bounded cache
keyed by the exact cookie value, so a logged-in request costs a dict lookup, and the expiry check
runs on cache hits too.
"""

from __future__ import annotations

import dataclasses
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
    :param token: the token response kept (``access_token``, ``token_type``, ``scope``, ...).
    :param issued_at: when the login completed (seconds since the epoch).
    :param username: the value for ``REMOTE_USER``.
    """

    user: dict[str, t.Any]
    token: dict[str, t.Any]
    issued_at: float
    username: str

    def to_json(self) -> bytes:
        payload = {"v": 1, "iat": int(self.issued_at), "u": self.user, "t": self.token, "n": self.username}
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode("ascii")

    @classmethod
    def from_json(cls, data: bytes) -> Session:
        payload = json.loads(data)
        if not isinstance(payload, dict) or payload.get("v") != 1:
            raise ValueError("unknown session format")
        user, token, iat, name = payload["u"], payload["t"], payload["iat"], payload["n"]
        if not (isinstance(user, dict) and isinstance(token, dict) and isinstance(iat, int) and isinstance(name, str)):
            raise ValueError("malformed session")
        return cls(user=user, token=token, issued_at=float(iat), username=name)


class SessionCookie:
    """Reads and writes the session cookie (and its chunks) for one middleware.

    :param cipher: seals and opens values (purpose ``"session"``).
    :param name: the cookie name, without the ``__Host-`` prefix added when it is Secure.
    :param max_age: absolute session lifetime, seconds, enforced from the sealed issue time.
    :param clock: returns the current time in seconds.
    :param cache_size: how many decrypted sessions to keep (bounded; 0 disables the cache).
    """

    def __init__(
        self,
        cipher: Cipher,
        *,
        name: str,
        max_age: int,
        clock: t.Callable[[], float],
        cache_size: int = 4096,
    ) -> None:
        self.cipher = cipher
        self.name = name
        self.max_age = max_age
        self.clock = clock
        self.cache_size = cache_size
        self._aad = name.encode("ascii")
        self._cache: dict[str, Session] = {}
        self._cache_lock = threading.Lock()

    def cookie_name(self, secure: bool) -> str:
        """The session cookie's name: ``__Host-`` prefixed when the cookie is Secure."""
        return "__Host-" + self.name if secure else self.name

    # -- reading ---------------------------------------------------------------------------------

    def load(self, cookies: t.Mapping[str, str], *, secure: bool) -> Session | None:
        """The valid session in ``cookies``, or ``None`` (absent, bad, expired: all anonymous)."""
        name = self.cookie_name(secure)
        value = cookies.get(name)
        if not value:
            return None
        if value[0].isdigit() and CHUNK_MARK in value[:3]:
            value = self._join_chunks(name, value, cookies)
            if value is None:
                return None
        session = self._cache.get(value)
        if session is None:
            session = self._open(value)
            if session is None:
                return None
            self._remember(value, session)
        if not self._is_fresh(session):
            self._cache.pop(value, None)
            return None
        return session

    def _join_chunks(self, name: str, first: str, cookies: t.Mapping[str, str]) -> str | None:
        count_text, _, head = first.partition(CHUNK_MARK)
        if not count_text.isdigit() or not 2 <= int(count_text) <= MAX_CHUNKS:
            return None
        parts = [head]
        for index in range(1, int(count_text)):
            part = cookies.get("%s.%d" % (name, index))
            if not part:
                return None  # a missing chunk invalidates the whole session
            parts.append(part)
        return "".join(parts)

    def _open(self, value: str) -> Session | None:
        try:
            return Session.from_json(self.cipher.open(value, aad=self._aad))
        except (InvalidValue, ValueError, KeyError, TypeError):
            log.debug("ignoring an invalid session cookie")
            return None

    def _is_fresh(self, session: Session) -> bool:
        age = self.clock() - session.issued_at
        return -CLOCK_SKEW <= age <= self.max_age

    def _remember(self, value: str, session: Session) -> None:
        if not self.cache_size:
            return
        with self._cache_lock:
            if len(self._cache) >= self.cache_size:
                # drop the oldest entry (dicts keep insertion order)
                del self._cache[next(iter(self._cache))]
            self._cache[value] = session

    def forget(self, value: str) -> None:
        """Drop one cookie value from the cache."""
        self._cache.pop(value, None)

    # -- writing ---------------------------------------------------------------------------------

    def dump(self, session: Session, *, secure: bool, present: t.Container[str] = ()) -> list[tuple[str, str]]:
        """``Set-Cookie`` headers storing ``session``, split into chunks if it is too big.

        Stale chunks named in ``present`` (the request's cookie names) are deleted.
        """
        name = self.cookie_name(secure)
        value = self.cipher.seal(session.to_json(), aad=self._aad)
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
