"""Server-side sessions: the session lives in a :class:`~oauth_middleware.store.Store`, the
browser holds only a *ticket* (STORE-1..4).

The ticket is a session id (128 random bits) and a per-session key (256 random bits), sealed with
the middleware's secret key as the session cookie used to be (AES-256-GCM, bound to the cookie
name). The store holds the session AES-256-GCM encrypted under the per-session key, with the
session id as associated data, so a dump of the store reveals no token and a blob cannot be moved
to another id. The store entry lives as long as the session's remaining absolute lifetime; a
per-user index (user id -> session ids) lets an operator or a "log out everywhere" end them all.
Deleting the entry ends the session on its very next request, on every host: a copied cookie is
anonymous from then on.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
import typing as t

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .cookies import set_cookie
from .crypto import Cipher, InvalidValue
from .session import CLOCK_SKEW, Derivation, Lifetimes, Loaded, Session

if t.TYPE_CHECKING:
    from .store import Store

log = logging.getLogger(__name__)

__all__ = ["SessionEnded", "StoreSessions"]

SESSION_ID_BYTES = 16
SESSION_KEY_BYTES = 32
NONCE_BYTES = 12
#: Store key prefixes (a store may add its own namespace in front).
SESSION_PREFIX = "session:"
USER_PREFIX = "user:"


class SessionEnded(Exception):
    """The session was ended (logout, revocation) while it was being renewed: it is not saved again."""


class StoreSessions:
    """Reads and writes ticket cookies and the sessions they point to in ``store``.

    The same interface as :class:`~oauth_middleware.session.SessionCookie` (``load``, ``dump``,
    ``clear``), plus :meth:`end` (logout), :meth:`revoke_user` and :meth:`user_sessions`.

    .. code-block:: python

        sessions = StoreSessions(Cipher(keys, purpose="ticket"), MemoryStore(), name="oauth_session",
                                 lifetimes=Lifetimes(max_age=3600), clock=time.time)
        headers = sessions.dump(session, secure=True)   # Set-Cookie: the ticket
        sessions.revoke_user("583231")                  # every session of that user ends

    :param cipher: seals the ticket (purpose ``"ticket"``).
    :param store: where sessions live.
    :param name: the cookie name, without the ``__Host-`` prefix added when it is Secure.
    :param lifetimes: when sessions end.
    :param clock: the current time in seconds.
    :param namespace: put in front of the user index keys: the provider and app the account ids
        belong to (two apps sharing one store never revoke each other's users).
    """

    def __init__(
        self,
        cipher: Cipher,
        store: Store,
        *,
        name: str,
        lifetimes: Lifetimes,
        clock: t.Callable[[], float],
        derive: Derivation | None = None,
        namespace: str = "",
    ) -> None:
        self.cipher = cipher
        self.derive = derive
        self.store = store
        self.namespace = namespace
        self.name = name
        self.lifetimes = lifetimes
        self.max_age = lifetimes.max_age
        self.clock = clock
        self._aads = {secure: self.cookie_name(secure).encode("ascii") for secure in (True, False)}

    def _index(self, user: str) -> str:
        return USER_PREFIX + self.namespace + user

    def cookie_name(self, secure: bool) -> str:
        return "__Host-" + self.name if secure else self.name

    # -- tickets -------------------------------------------------------------------------------------

    def _open_ticket(self, value: str, *, secure: bool) -> tuple[str, bytes] | None:
        try:
            raw = self.cipher.open(value, aad=self._aads[secure])
        except InvalidValue:
            return None
        if len(raw) != SESSION_ID_BYTES + SESSION_KEY_BYTES:
            return None
        session_id = base64.urlsafe_b64encode(raw[:SESSION_ID_BYTES]).rstrip(b"=").decode("ascii")
        return session_id, raw[SESSION_ID_BYTES:]

    def _new_ticket(self, *, secure: bool) -> tuple[str, str, bytes]:
        raw_id, key = secrets.token_bytes(SESSION_ID_BYTES), secrets.token_bytes(SESSION_KEY_BYTES)
        value = self.cipher.seal(raw_id + key, aad=self._aads[secure])
        return value, base64.urlsafe_b64encode(raw_id).rstrip(b"=").decode("ascii"), key

    def session_id(self, value: str, *, secure: bool) -> str | None:
        """The session id inside a ticket cookie value (None if it does not open)."""
        ticket = self._open_ticket(value, secure=secure)
        return ticket[0] if ticket else None

    # -- reading -------------------------------------------------------------------------------------

    def load(self, cookies: t.Mapping[str, str], *, secure: bool, now: float) -> Loaded | None:
        """The live session the request's ticket points to, or None (no ticket, a bad one, or a
        session that was ended, revoked or expired). Raises
        :class:`~oauth_middleware.store.StoreUnavailable` when the store cannot answer."""
        value = cookies.get(self.cookie_name(secure))
        if not value:
            return None
        ticket = self._open_ticket(value, secure=secure)
        if ticket is None:
            return None
        session_id, key = ticket
        blob = self.store.get(SESSION_PREFIX + session_id)
        if blob is None or len(blob) <= NONCE_BYTES:
            return None
        try:
            data = AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], session_id.encode("ascii"))
            session = Session.from_json(data, self.derive)
        except (InvalidTag, ValueError, KeyError, TypeError):
            log.warning("a stored session did not open with its ticket; treated as anonymous")
            return None
        if not (session.issued_at - CLOCK_SKEW <= now < self.lifetimes.ends_at(session)):
            return None
        return Loaded(session, value, self.lifetimes.due_at(session))

    # -- writing -------------------------------------------------------------------------------------

    def dump(
        self, session: Session, *, secure: bool, present: t.Container[str] = (), previous: str | None = None
    ) -> list[tuple[str, str]]:
        """Save ``session``; ``Set-Cookie`` headers for a new ticket, or none when ``previous``
        (the request's ticket) still points to it (a refresh or re-validation of the same login).
        """
        ticket = self._open_ticket(previous, secure=secure) if previous else None
        if ticket is None:
            value, session_id, key = self._new_ticket(secure=secure)
        else:
            value, (session_id, key) = previous or "", ticket
        ttl = self.lifetimes.ends_at(session) - self.clock()
        if ttl <= 0:
            return self.clear(secure=secure, present=present)
        nonce = os.urandom(NONCE_BYTES)
        blob = nonce + AESGCM(key).encrypt(nonce, session.to_json(self.derive), session_id.encode("ascii"))
        # an existing session is only updated, never re-created: a logout or revocation that
        # landed while it was being renewed (on any host) stays done
        if not self.store.put(SESSION_PREFIX + session_id, blob, ttl=ttl, only_if_present=ticket is not None):
            raise SessionEnded()
        self.store.index_add(self._index(user_key(session)), session_id, ttl=self.max_age)
        if ticket is not None:
            return []
        headers = [set_cookie(self.cookie_name(secure), value, max_age=self.max_age, secure=secure)]
        # chunks of an earlier cookie session are no longer needed
        name = self.cookie_name(secure)
        headers += [set_cookie(n, None, max_age=0, secure=secure) for n in _chunk_names(name) if n in present]
        return headers

    def clear(self, *, secure: bool, present: t.Container[str]) -> list[tuple[str, str]]:
        """``Set-Cookie`` headers deleting the ticket (and any chunks of an old cookie session)."""
        name = self.cookie_name(secure)
        return [set_cookie(n, None, max_age=0, secure=secure) for n in (name, *_chunk_names(name)) if n in present]

    def end(self, cookies: t.Mapping[str, str], *, secure: bool, loaded: Loaded | None = None) -> Session | None:
        """Delete the session the request's ticket points to (logout); returns it if it was live.

        :param loaded: the session the caller already read from these cookies (saves a read).
        """
        value = cookies.get(self.cookie_name(secure))
        if loaded is None and value:
            loaded = self.load(cookies, secure=secure, now=self.clock())
        session_id = self.session_id(value, secure=secure) if value else None
        if session_id is not None:
            self.store.delete(SESSION_PREFIX + session_id)
            if loaded is not None:
                self.store.index_remove(self._index(user_key(loaded.session)), session_id)
        return loaded.session if loaded else None

    # -- operators -----------------------------------------------------------------------------------

    def user_sessions(self, user: str) -> set[str]:
        """The ids of ``user``'s sessions that are still live (``user``: the account id)."""
        index = self._index(user)
        members = self.store.index_members(index)
        gone = {sid for sid in members if self.store.get(SESSION_PREFIX + sid) is None}
        if gone:
            self.store.index_remove(index, *gone)
        return members - gone

    def users(self) -> list[str]:
        """Users with an index entry (some of whose sessions may have ended)."""
        prefix = self._index("")
        return [name[len(prefix) :] for name in self.store.indexes(prefix)]

    def revoke_user(self, user: str) -> int:
        """End every session of ``user`` at once, on every host; returns how many were live."""
        index = self._index(user)
        members = self.store.index_members(index)
        ended = self.store.delete(*(SESSION_PREFIX + sid for sid in members)) if members else 0
        if members:
            self.store.index_remove(index, *members)
        log.info("revoked %d session(s) of user %s", ended, user)
        return ended

    def revoke_session(self, session_id: str) -> bool:
        """End one session by id (as listed by :meth:`user_sessions`)."""
        return self.store.delete(SESSION_PREFIX + session_id) > 0


def user_key(session: Session) -> str:
    """What the per-user index is keyed on: the immutable account id, else the user name."""
    return session.user_id or session.username


def _chunk_names(name: str) -> tuple[str, ...]:
    from .session import MAX_CHUNKS

    return tuple("%s.%d" % (name, index) for index in range(1, MAX_CHUNKS))
