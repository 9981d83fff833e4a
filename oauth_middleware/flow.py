"""Login flows in progress: one short-lived encrypted cookie per authorization request.

Each login gets a fresh ``state`` and PKCE verifier. They are kept in the browser, sealed, in a
cookie whose name carries a hash of the state, so two tabs can log in at once and a callback
reads only the record named by its own ``state`` (security.md BAR-TAB-1). Records expire after
:data:`FLOW_TTL` seconds, are single use, and a browser keeps at most :data:`MAX_FLOWS`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import typing as t

from .cookies import set_cookie
from .crypto import Cipher, InvalidValue
from .errors import Busy
from .session import CLOCK_SKEW

if t.TYPE_CHECKING:
    from .store import Store

log = logging.getLogger(__name__)

#: Lifetime of a login flow, seconds: GitHub's codes live 10 minutes too.
FLOW_TTL = 600
#: Most login flows one browser may have in progress (oldest evicted first).
MAX_FLOWS = 5
#: Infix between the cookie name and the state hash.
FLOW_INFIX = ".flow."
#: Store key prefix of redeemed login states (with a shared store).
STATE_PREFIX = "state:"
#: Most redeemed states remembered per process. Each is kept until its flow expires (FLOW_TTL),
#: never evicted early: when this many logins reached the token exchange within FLOW_TTL seconds,
#: further exchanges are refused (503) until the oldest expire, rather than forgetting a state.
MAX_CONSUMED = 100_000
_HASH = re.compile(r"[0-9a-f]{16}")


@dataclasses.dataclass(frozen=True)
class Flow:
    """One authorization request in progress.

    :param state: the ``state`` sent to the provider (>= 256 random bits).
    :param verifier: the PKCE ``code_verifier``.
    :param next_url: where to go after login (validated again before use).
    :param redirect_uri: the exact callback URL sent in the authorization request.
    :param created_at: when the login started, seconds since the epoch.
    :param nonce: the OpenID Connect ``nonce`` sent with this login (``None`` for providers that
        use none, and in flow cookies written before nonces existed). Single use with the flow.
    """

    state: str = dataclasses.field(repr=False)
    verifier: str = dataclasses.field(repr=False)
    next_url: str
    redirect_uri: str
    created_at: float
    nonce: str | None = dataclasses.field(default=None, repr=False)

    @classmethod
    def start(cls, *, next_url: str, redirect_uri: str, now: float, nonce: bool = False) -> Flow:
        """A new flow; with ``nonce=True`` it gets a fresh 256-bit nonce as well."""
        return cls(
            state=secrets.token_urlsafe(32),
            verifier=secrets.token_urlsafe(64),
            next_url=next_url,
            redirect_uri=redirect_uri,
            created_at=now,
            nonce=secrets.token_urlsafe(32) if nonce else None,
        )


class FlowCookies:
    """Reads and writes the per-login flow cookies.

    :param cipher: seals and opens records (purpose ``"flow"``, never the session's keys).
    :param name: the session cookie name; flow cookies are ``NAME.flow.<hash of state>``.
    :param clock: returns the current time in seconds.
    """

    def __init__(self, cipher: Cipher, *, name: str, clock: t.Callable[[], float], store: Store | None = None) -> None:
        self.cipher = cipher
        self.prefix = name + FLOW_INFIX
        self.clock = clock
        #: with a shared store, redeemed states are recorded there: once across all hosts (STORE-5)
        self.store = store
        # states that reached the token exchange, so a copied flow cookie cannot make this process
        # redeem a code twice (stateless cookies alone cannot stop that; other processes can)
        self._consumed: dict[bytes, float] = {}
        self._consumed_lock = threading.Lock()

    def cookie_name(self, state: str, *, secure: bool) -> str:
        digest = hashlib.sha256(state.encode("utf-8", "surrogateescape")).hexdigest()[:16]
        return ("__Host-" if secure else "") + self.prefix + digest

    def dump(self, flow: Flow, *, secure: bool) -> tuple[str, str]:
        name = self.cookie_name(flow.state, secure=secure)
        record: dict[str, str | int] = {
            "s": flow.state,
            "v": flow.verifier,
            "n": flow.next_url,
            "r": flow.redirect_uri,
            "t": int(flow.created_at),
        }
        if flow.nonce is not None:
            record["o"] = flow.nonce
        payload = json.dumps(record, separators=(",", ":")).encode()
        return set_cookie(name, self.cipher.seal(payload, aad=name.encode()), max_age=FLOW_TTL, secure=secure)

    def take(self, state: str, cookies: t.Mapping[str, str], *, secure: bool) -> tuple[Flow | None, str | None]:
        """The flow named by ``state`` if it is intact, fresh, matches and was not redeemed yet,
        and its cookie name.

        The name is returned whenever such a cookie was sent, so the caller always deletes it
        (single use), whether the flow turned out valid or not. Call :meth:`redeem` before
        exchanging a code for it.
        """
        name = self.cookie_name(state, secure=secure)
        value = cookies.get(name)
        if not value:
            return None, None
        flow = self._open(name, value)
        if flow is None:
            return None, name
        if not hmac.compare_digest(flow.state.encode(), state.encode("utf-8", "surrogateescape")):
            log.warning("login state mismatch")
            return None, name
        if self._key(flow) in self._consumed:
            log.warning("login state used twice (a replayed flow cookie)")
            return None, name
        return flow, name

    def redeem(self, flow: Flow) -> bool:
        """Mark ``flow``'s state used, just before its code is exchanged; False if it already was
        (in this process). Only states that get this far are remembered, each until its flow
        expires, so callbacks that never reach the exchange (``error=access_denied``, no code)
        cannot push a redeemed state out of memory.

        :raises Busy: :data:`MAX_CONSUMED` states are remembered already (none is ever dropped
            before it expires).
        """
        key = self._key(flow)
        now = self.clock()
        if self.store is not None:
            ttl = max(1.0, flow.created_at + FLOW_TTL + CLOCK_SKEW - now)  # hosts' clocks differ
            if not self.store.put(STATE_PREFIX + key.hex(), b"1", ttl=ttl, only_if_absent=True):
                log.warning("login state used twice (a replayed flow cookie, seen by the shared store)")
                return False
            return True
        with self._consumed_lock:
            if key in self._consumed:
                log.warning("login state used twice (a replayed flow cookie)")
                return False
            while self._consumed:
                oldest = next(iter(self._consumed))
                if self._consumed[oldest] > now:
                    break
                del self._consumed[oldest]  # expired: its flow cookie is refused anyway
            if len(self._consumed) >= MAX_CONSUMED:  # sweep all: an early one may outlive later ones
                self._consumed = {k: expiry for k, expiry in self._consumed.items() if expiry > now}
            if len(self._consumed) >= MAX_CONSUMED:
                log.error("%d logins reached the token exchange within %d s; refusing more", MAX_CONSUMED, FLOW_TTL)
                raise Busy(headers=[("Retry-After", "60")])
            self._consumed[key] = max(flow.created_at + FLOW_TTL, now)
        return True

    @staticmethod
    def _key(flow: Flow) -> bytes:
        return hashlib.sha256(flow.state.encode("utf-8", "surrogateescape")).digest()

    def _open(self, name: str, value: str) -> Flow | None:
        try:
            data = json.loads(self.cipher.open(value, aad=name.encode()))
            flow = Flow(
                state=data["s"],
                verifier=data["v"],
                next_url=data["n"],
                redirect_uri=data["r"],
                created_at=float(data["t"]),
                nonce=data.get("o"),
            )
        except (InvalidValue, ValueError, KeyError, TypeError, AttributeError):
            log.debug("ignoring an invalid login flow cookie")
            return None
        if not all(isinstance(v, str) for v in (flow.state, flow.verifier, flow.next_url, flow.redirect_uri)):
            return None
        if flow.nonce is not None and not isinstance(flow.nonce, str):
            return None
        if not 0 <= self.clock() - flow.created_at <= FLOW_TTL:
            log.info("login flow expired")
            return None
        return flow

    def is_flow_name(self, name: str, *, secure: bool) -> bool:
        """True for names this class writes (``[__Host-]NAME.flow.<16 hex>``) for this scheme."""
        prefix = ("__Host-" if secure else "") + self.prefix
        return name.startswith(prefix) and _HASH.fullmatch(name[len(prefix) :]) is not None

    def evictions(self, cookies: t.Mapping[str, str], *, secure: bool) -> list[tuple[str, str]]:
        """Deletions that make room for one more flow: invalid ones, then the oldest, beyond the cap."""
        live: list[tuple[float, str]] = []
        headers = []
        for name, value in cookies.items():
            if not self.is_flow_name(name, secure=secure):
                continue
            flow = self._open(name, value)
            if flow is None:
                headers.append(set_cookie(name, None, max_age=0, secure=secure))
            else:
                live.append((flow.created_at, name))
        live.sort()
        for _, name in live[: max(0, len(live) - (MAX_FLOWS - 1))]:
            headers.append(set_cookie(name, None, max_age=0, secure=secure))
        return headers
