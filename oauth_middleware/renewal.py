"""Keeping a session current: token refresh, re-validation with the provider, idle tracking.

Runs only on the (rare) request that finds its session *due* (see
:meth:`~oauth_middleware.session.Lifetimes.due_at`); every other request is untouched.

GitHub's refresh tokens are single use, so two requests of one session refreshing at once would
destroy it: per process, one renewal per session runs at a time, and requests that lose the race
wait for it and take the winner's result instead of failing. Results are kept briefly for
requests still carrying the old cookie. Across processes (gunicorn workers) there is no shared
lock: a worker whose refresh is refused while the access token it holds is still valid goes on
with that token until it expires, since another worker most likely won the race and the browser
will carry its cookie next (security.md SES-6).

Provider outages do not log anyone out at once: the session is kept and the renewal retried
after :data:`RETRY_AFTER` seconds, but only for ``revalidate_grace`` seconds past a due
re-validation; then the session ends. A rate limit on the user's own token is no outage (the
user can cause it): a re-validation it stops ends the session (SES-5).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
import typing as t

from .errors import ProviderError, RateLimited, TokenRefused, TokenRevoked
from .leases import Lease
from .text import for_log

if t.TYPE_CHECKING:
    from .access import AccessPolicy
    from .oauth import OAuthClient
    from .session import Lifetimes, Loaded, Session
    from .store import Store

log = logging.getLogger(__name__)

#: Seconds before retrying a renewal that failed because the provider was unreachable.
RETRY_AFTER = 60
#: Seconds a renewal's result is kept for concurrent requests carrying the old cookie.
RESULT_TTL = 120
#: Store key prefix of renewal leases (with a shared store).
LEASE_PREFIX = "renew:"
#: Most results and locks kept (bounded memory whatever the number of sessions).
MAX_ENTRIES = 4096


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What a renewal decided.

    :param session: the session to use (``None`` when it ended).
    :param changed: the cookie must be rewritten with ``session``.
    :param ended: why the session ended: ``"revoked"`` (token refused or revoked),
        ``"not_allowed"`` (no longer admitted by the allow-lists) or ``"unverified"`` (the
        re-validation could not be done: rate limited, or GitHub unreachable past the grace);
        ``None`` if it goes on.
    """

    session: Session | None
    changed: bool = False
    ended: str | None = None


class Renewals:
    """Renews due sessions, at most one at a time per session in this process.

    :param client: the OAuth client (refresh, profile, memberships).
    :param lifetimes: refresh margin, re-validation interval, idle timeout.
    :param policy: the allow-lists a re-validated user must still pass.
    """

    def __init__(
        self,
        client: OAuthClient,
        *,
        lifetimes: Lifetimes,
        policy: AccessPolicy,
        store: Store | None = None,
        budget: float = 10.0,
    ) -> None:
        self.client = client
        self.lifetimes = lifetimes
        self.policy = policy
        #: with a shared store, one renewal per session at a time across hosts (STORE-6)
        self.store = store
        #: seconds a lease holds (renewed every third of it while the provider is called)
        self.lease_seconds = 3 * budget
        #: seconds a request waits for another host's renewal: one provider call's budget, well
        #: below gunicorn's 30 s worker timeout; then it goes on with what is stored
        self.lease_wait = budget
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._results: dict[str, tuple[float, Outcome]] = {}
        self._retry_at: dict[str, float] = {}
        # cookie values whose refresh GitHub refused while their access token was still valid:
        # served as they are until that token expires (the value), never refreshed again
        self._refused: dict[str, float] = {}

    def renew(
        self, session: Session, value: str, *, now: float, reload: t.Callable[[], Loaded | None] | None = None
    ) -> Outcome:
        """Bring ``session`` (sealed as ``value``) up to date; see :class:`Outcome`.

        :param reload: reads the session again from the store (server-side sessions): the lease
            holder renews what is stored now, and a request that waited uses what the holder saved.
        """
        if self.store is not None and reload is not None:
            return self._renew_shared(session, value, now, reload)
        done = self._result(value, now) or self._held(session, value, now)
        if done is not None:
            return done
        with self._guard:
            lock = self._locks.setdefault(value, threading.Lock())
        with lock:  # the losers of a race wait here, then take the winner's result
            try:
                done = self._result(value, now) or self._held(session, value, now)
                if done is not None:
                    return done
                outcome = self._renew(session, value, now)
                with self._guard:
                    # a stand-in result (an outage, a lost refresh) is not remembered, so the
                    # renewal is retried after RETRY_AFTER, or ended when its token expires
                    standing_in = self._retry_at.get(value, 0.0) > now or value in self._refused
                    if outcome.changed or outcome.session is None or not standing_in:
                        _bounded_put(self._results, value, (now, outcome))
            finally:
                with self._guard:
                    self._locks.pop(value, None)
        return outcome

    def _renew_shared(self, session: Session, value: str, now: float, reload: t.Callable[[], Loaded | None]) -> Outcome:
        """One renewal per session across every host sharing the store: a lease on the ticket,
        renewed while the provider is called and released at the end; the others wait for it
        (bounded) and then read what the holder saved. No result is cached in this process: the
        store holds the truth."""
        assert self.store is not None
        key = LEASE_PREFIX + hashlib.sha256(value.encode("ascii", "replace")).hexdigest()[:32]
        lease = Lease.acquire(self.store, key, seconds=self.lease_seconds, wait=self.lease_wait)
        if lease is None:  # the holder is still at it: go on with what is stored now
            fresh = reload()
            return Outcome(fresh.session) if fresh is not None else Outcome(None, ended="revoked")
        with lease:
            fresh = reload()
            if fresh is None:  # ended meanwhile (logout, revocation, another host's refused renewal)
                return Outcome(None, ended="revoked")
            if now < fresh.due_at:  # another host renewed it while we waited
                return Outcome(fresh.session)
            return self._held(fresh.session, value, now) or self._renew(fresh.session, value, now)

    def _held(self, session: Session, value: str, now: float) -> Outcome | None:
        """The outcome without calling GitHub, when a recent attempt for ``value`` decided it."""
        refused_until = self._refused.get(value)
        if refused_until is not None:
            if now < refused_until:
                return Outcome(session)  # another worker refreshed: its cookie takes over
            log.warning(
                "the token of %s expired and its refresh was refused; ending the session", for_log(session.username)
            )
            return Outcome(None, ended="revoked")
        if self._retry_at.get(value, 0.0) > now and not self.lifetimes.past_grace(session, now):
            return Outcome(session)  # the provider was down a moment ago: keep going as is
        return None

    def _result(self, value: str, now: float) -> Outcome | None:
        entry = self._results.get(value)
        if entry is None or now - entry[0] > RESULT_TTL:
            return None
        return entry[1]

    def _renew(self, session: Session, value: str, now: float) -> Outcome:
        lifetimes = self.lifetimes
        changed = False
        try:
            token = session.token
            expires_at = token.get("expires_at")
            refresh_token = token.get("refresh_token")
            if refresh_token and isinstance(expires_at, (int, float)) and now >= expires_at - lifetimes.refresh_margin:
                try:
                    new_token = self.client.refresh(refresh_token, now=now, previous=token)
                except TokenRefused:
                    if now >= expires_at:
                        raise
                    # most likely another worker used this single-use refresh token a moment ago
                    # and its Set-Cookie is on the way: no cookie from here, or it would replace
                    # the winner's with a session whose refresh token is spent
                    log.info(
                        "the refresh of %s was refused while its token is valid for %d s more; going on with it",
                        for_log(session.username),
                        expires_at - now,
                    )
                    with self._guard:
                        _bounded_put(self._refused, value, float(expires_at))
                    return Outcome(session)
                session = dataclasses.replace(session, token=new_token)
                changed = True
                log.info("refreshed the token of %s", for_log(session.username))
            if lifetimes.revalidate_after is not None and now >= session.checked_at + lifetimes.revalidate_after:
                identity = self.client.identify(session.token, with_groups=self.policy.needs_groups)
                groups = self.policy.keep(identity.groups)
                if identity.username != session.username or identity.sub != (session.user_id or identity.sub):
                    log.info(
                        "%s was renamed at %s; ending the session so they log in again",
                        for_log(session.username),
                        self.client.display_name,
                    )
                    return Outcome(None, ended="revoked")
                if not self.policy.admits_identity(identity, groups):
                    log.warning("%s is no longer admitted; ending the session", for_log(session.username))
                    return Outcome(None, ended="not_allowed")
                session = dataclasses.replace(
                    session, user=identity.profile, groups=tuple(groups), checked_at=now, sub=identity.sub
                )
                changed = True
                log.debug("re-validated %s", for_log(session.username))
        except (TokenRefused, TokenRevoked):
            log.warning(
                "%s no longer accepts the grant of %s; ending the session",
                self.client.display_name,
                for_log(session.username),
            )
            return Outcome(None, ended="revoked")
        except RateLimited:
            log.warning(
                "%s's rate limit for %s stopped the re-validation; ending the session (a user's own "
                "rate limit never extends access)",
                self.client.display_name,
                for_log(session.username),
            )
            return Outcome(None, ended="unverified")
        except Exception as exc:
            if lifetimes.past_grace(session, now):
                log.warning(
                    "could not re-validate %s for over %d s past due (%s unavailable); ending the session",
                    for_log(session.username),
                    lifetimes.revalidate_grace,
                    self.client.display_name,
                )
                return Outcome(None, ended="unverified")
            if isinstance(exc, ProviderError):
                log.warning(
                    "could not renew the session of %s (%s unavailable); retrying later",
                    for_log(session.username),
                    self.client.display_name,
                )
            else:
                log.exception("unexpected error renewing the session of %s; retrying later", for_log(session.username))
            with self._guard:
                _bounded_put(self._retry_at, value, now + RETRY_AFTER)
        # activity is recorded even when GitHub is down: an outage must not end active sessions
        if lifetimes.idle_timeout is not None and now >= session.seen_at + lifetimes.idle_timeout / 4:
            session = dataclasses.replace(session, seen_at=now)
            changed = True
        return Outcome(session, changed=changed)


def _bounded_put(mapping: dict[str, t.Any], key: str, value: t.Any) -> None:
    """Insert into a dict kept under :data:`MAX_ENTRIES` (oldest dropped). Hold the guard."""
    while len(mapping) >= MAX_ENTRIES:
        del mapping[next(iter(mapping))]
    mapping[key] = value
