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

log = logging.getLogger(__name__)

#: Lifetime of a login flow, seconds: GitHub's codes live 10 minutes too.
FLOW_TTL = 600
#: Most login flows one browser may have in progress (oldest evicted first).
MAX_FLOWS = 5
#: Infix between the cookie name and the state hash.
FLOW_INFIX = ".flow."
#: Most consumed states remembered per process (each for FLOW_TTL seconds).
MAX_CONSUMED = 50_000
_HASH = re.compile(r"[0-9a-f]{16}")


@dataclasses.dataclass(frozen=True)
class Flow:
    """One authorization request in progress.

    :param state: the ``state`` sent to the provider (>= 256 random bits).
    :param verifier: the PKCE ``code_verifier``.
    :param next_url: where to go after login (validated again before use).
    :param redirect_uri: the exact callback URL sent in the authorization request.
    :param created_at: when the login started, seconds since the epoch.
    """

    state: str = dataclasses.field(repr=False)
    verifier: str = dataclasses.field(repr=False)
    next_url: str
    redirect_uri: str
    created_at: float

    @classmethod
    def start(cls, *, next_url: str, redirect_uri: str, now: float) -> Flow:
        return cls(
            state=secrets.token_urlsafe(32),
            verifier=secrets.token_urlsafe(64),
            next_url=next_url,
            redirect_uri=redirect_uri,
            created_at=now,
        )


class FlowCookies:
    """Reads and writes the per-login flow cookies.

    :param cipher: seals and opens records (purpose ``"flow"``, never the session's keys).
    :param name: the session cookie name; flow cookies are ``NAME.flow.<hash of state>``.
    :param clock: returns the current time in seconds.
    """

    def __init__(self, cipher: Cipher, *, name: str, clock: t.Callable[[], float]) -> None:
        self.cipher = cipher
        self.prefix = name + FLOW_INFIX
        self.clock = clock
        # states already used at the callback, so a copied flow cookie cannot make this process
        # redeem a code twice (stateless cookies alone cannot stop that; other processes can)
        self._consumed: dict[bytes, float] = {}
        self._consumed_lock = threading.Lock()

    def cookie_name(self, state: str, *, secure: bool) -> str:
        digest = hashlib.sha256(state.encode("utf-8", "surrogateescape")).hexdigest()[:16]
        return ("__Host-" if secure else "") + self.prefix + digest

    def dump(self, flow: Flow, *, secure: bool) -> tuple[str, str]:
        name = self.cookie_name(flow.state, secure=secure)
        payload = json.dumps(
            {
                "s": flow.state,
                "v": flow.verifier,
                "n": flow.next_url,
                "r": flow.redirect_uri,
                "t": int(flow.created_at),
            },
            separators=(",", ":"),
        ).encode()
        return set_cookie(name, self.cipher.seal(payload, aad=name.encode()), max_age=FLOW_TTL, secure=secure)

    def take(self, state: str, cookies: t.Mapping[str, str], *, secure: bool) -> tuple[Flow | None, str | None]:
        """The flow named by ``state`` if it is intact, fresh and matches, and its cookie name.

        The name is returned whenever such a cookie was sent, so the caller always deletes it
        (single use), whether the flow turned out valid or not.
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
        if not self._consume(flow):
            log.warning("login state used twice (a replayed flow cookie)")
            return None, name
        return flow, name

    def _consume(self, flow: Flow) -> bool:
        """Mark ``flow``'s state used; False if it already was (in this process)."""
        key = hashlib.sha256(flow.state.encode()).digest()
        now = self.clock()
        with self._consumed_lock:
            if key in self._consumed:
                return False
            while self._consumed:
                oldest = next(iter(self._consumed))
                if self._consumed[oldest] > now and len(self._consumed) < MAX_CONSUMED:
                    break
                del self._consumed[oldest]  # expired (its flow cookie is refused anyway) or over the cap
            self._consumed[key] = flow.created_at + FLOW_TTL
        return True

    def _open(self, name: str, value: str) -> Flow | None:
        try:
            data = json.loads(self.cipher.open(value, aad=name.encode()))
            flow = Flow(
                state=data["s"],
                verifier=data["v"],
                next_url=data["n"],
                redirect_uri=data["r"],
                created_at=float(data["t"]),
            )
        except (InvalidValue, ValueError, KeyError, TypeError):
            log.debug("ignoring an invalid login flow cookie")
            return None
        if not all(isinstance(v, str) for v in (flow.state, flow.verifier, flow.next_url, flow.redirect_uri)):
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
