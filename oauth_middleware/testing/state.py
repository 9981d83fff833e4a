"""The state of :class:`~oauth_middleware.testing.FakeGitHub`: users, codes and tokens.

Codes and tokens live in memory, or (``sealed`` mode) are self-contained values sealed with
AES-GCM that any fake given the same secret accepts. The endpoints (``pages``,
``token_endpoint``, ``api``) are mixins over :class:`FakeState`.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import threading
import time
import typing as t
from collections.abc import Callable, Sequence

from webob import Response

from oauth_middleware.crypto import MIN_SECRET_BYTES, Cipher, InvalidValue

from .models import (
    _ACCESS,
    _CODE,
    _PREFIXES,
    _REFRESH,
    _SPENT_SWEEP,
    ACCESS_TOKEN_LIFETIME,
    BASE_URL,
    RATE_LIMIT,
    REFRESH_TOKEN_LIFETIME,
    UNAUTHENTICATED_RATE_LIMIT,
    FakeUser,
    _Grant,
    _random_alnum,
    default_users,
)


class FakeState:
    """Users, codes, tokens and counters of a fake GitHub; see :class:`FakeGitHub` for the options."""

    def __init__(
        self,
        *,
        client_id: str = "fake-client-id",
        client_secret: str = "fake-client-secret",
        users: Sequence[FakeUser] | None = None,
        auto_approve: bool | str = False,
        redirect_uris: Sequence[str] | None = None,
        expiring_tokens: bool = False,
        base_url: str = BASE_URL,
        clock: Callable[[], float] = time.time,
        sealed: str | bytes | None = None,
    ) -> None:
        self._cipher: Cipher | None = None
        if sealed is not None:
            key = sealed.encode("utf-8") if isinstance(sealed, str) else bytes(sealed)
            if len(key) < MIN_SECRET_BYTES:
                raise ValueError(f"sealed needs a secret of at least {MIN_SECRET_BYTES} bytes")
            self._cipher = Cipher([key], purpose="fake-github")
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris = None if redirect_uris is None else tuple(redirect_uris)
        self.expiring_tokens = expiring_tokens
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self._lock = threading.Lock()
        self._users: dict[str, FakeUser] = {}
        for user in default_users() if users is None else users:
            self._users[user.login] = user
        if auto_approve is not False and auto_approve is not True and auto_approve not in self._users:
            raise ValueError("auto_approve names an unknown user")
        if auto_approve is True and not self._users:
            raise ValueError("auto_approve=True needs at least one user")
        self.auto_approve = auto_approve
        self._codes: dict[str, _Grant] = {}
        self._tokens: dict[str, _Grant] = {}
        self._refresh_tokens: dict[str, _Grant] = {}
        self._stores = {_CODE: self._codes, _ACCESS: self._tokens, _REFRESH: self._refresh_tokens}
        #: Sealed mode: nonces of used codes and refresh tokens and of revoked access tokens, with
        #: the time after which the value would be refused anyway (``None``: never).
        self._spent: dict[str, float | None] = {}
        self._sweep_at = _SPENT_SWEEP
        self._rate_used: dict[str, tuple[int, int]] = {}
        self.token_requests = 0
        self.api_requests = 0

    @property
    def sealed(self) -> bool:
        """Whether codes and tokens are self-contained sealed values (the ``sealed`` option)."""
        return self._cipher is not None

    # -- state helpers for tests ------------------------------------------------------------

    @property
    def users(self) -> list[FakeUser]:
        """The known users, in the order they were added."""
        with self._lock:
            return list(self._users.values())

    def add_user(self, user: FakeUser) -> None:
        """Add ``user`` (or replace the user with the same login)."""
        with self._lock:
            self._users[user.login] = user

    @property
    def codes(self) -> list[str]:
        """Authorization codes issued (by this process) and not redeemed yet (expired ones included)."""
        with self._lock:
            return list(self._codes)

    @property
    def tokens(self) -> list[str]:
        """Access tokens issued (by this process) and not revoked (expired ones included), oldest first."""
        with self._lock:
            return list(self._tokens)

    @property
    def refresh_tokens(self) -> list[str]:
        """Refresh tokens issued (by this process) and not used yet (``expiring_tokens`` mode)."""
        with self._lock:
            return list(self._refresh_tokens)

    def tokens_for(self, login: str) -> list[str]:
        """The live access tokens of the user ``login`` issued by this process, oldest first."""
        with self._lock:
            return [token for token, grant in self._tokens.items() if grant.login == login]

    def scopes_of(self, token: str) -> tuple[str, ...] | None:
        """The scopes granted to ``token``, or ``None`` when it is unknown or revoked."""
        with self._lock:
            grant = self._find(_ACCESS, token, consume=False)
            return None if grant is None else grant.scopes

    def revoke(self, token: str) -> bool:
        """Revoke an access token; return whether it was live.

        In sealed mode the revocation holds in this process only.
        """
        with self._lock:
            return self._find(_ACCESS, token, consume=True) is not None

    def use_up_rate_limit(self, login: str) -> None:
        """Spend ``login``'s API rate limit: until it resets (an hour later, by :attr:`clock`)
        their API calls are refused as GitHub refuses them, with 403, ``x-ratelimit-remaining: 0``
        and ``x-ratelimit-reset``.

        :param login: a known user's login.
        """
        with self._lock:
            if login not in self._users:
                raise KeyError(login)
            self._rate_used[login] = (RATE_LIMIT, int(self.clock()) + 3600)

    def issue_token(self, login: str, scopes: Sequence[str] = (), *, token: str | None = None) -> str:
        """Issue an access token for ``login`` directly, skipping the browser and the code.

        .. code-block:: python

            fake.issue_token("octocat", ["read:user"], token="gho_fixed_for_this_test")

        :param login: a known user's login.
        :param scopes: the scopes the token carries.
        :param token: the value to issue, when a test fixes it in advance (it never expires); a
            new value, as the token endpoint would issue, by default.
        """
        with self._lock:
            if login not in self._users:
                raise KeyError(login)
            grant = _Grant(self.client_id, login, tuple(scopes), None)
            if token is None:
                token, _ = self._issue(grant)
            else:
                self._store(_ACCESS, grant, value=token)
        return token

    def _issue(self, grant: _Grant) -> tuple[str, str | None]:
        """Store a new access token (and refresh token when expiring); hold the lock."""
        if not self.expiring_tokens:
            return self._store(_ACCESS, grant), None
        now = self.clock()
        token = self._store(_ACCESS, dataclasses.replace(grant, expires_at=now + ACCESS_TOKEN_LIFETIME))
        refresh_token = self._store(_REFRESH, dataclasses.replace(grant, expires_at=now + REFRESH_TOKEN_LIFETIME))
        return token, refresh_token

    # -- storage of grants: in memory, or sealed into the value itself -----------------------

    def _store(self, kind: str, grant: _Grant, *, value: str | None = None) -> str:
        """Make a new code or token of ``kind`` standing for ``grant`` (``value`` when given, kept
        in memory); hold the lock."""
        grant = dataclasses.replace(grant, issued_at=self.clock(), nonce=secrets.token_urlsafe(16))
        if value is not None:
            pass
        elif self._cipher is not None:
            value = _PREFIXES[kind] + self._cipher.seal(grant.dump(kind), aad=kind.encode())
        elif kind == _CODE:
            value = secrets.token_hex(10)
        elif kind == _ACCESS:
            value = "gho_" + _random_alnum(36)
        else:
            value = "ghr_" + _random_alnum(76)
        self._stores[kind][value] = grant
        return value

    def _find(self, kind: str, value: str, *, consume: bool) -> _Grant | None:
        """The grant behind a code or token of ``kind``, or ``None``; hold the lock.

        ``consume`` uses it up (a code or refresh token) or revokes it (an access token). In
        sealed mode a value missing from memory (issued by another process, or already used
        here) is opened, and refused when its nonce is spent in this process.
        """
        store = self._stores[kind]
        grant = store.pop(value, None) if consume else store.get(value)
        if self._cipher is None:
            return grant
        if grant is None:
            grant = self._unseal(kind, value)
            if grant is None:
                return None
        if grant.nonce in self._spent:
            return None
        if consume:
            self._spend(grant)
        return grant

    def _unseal(self, kind: str, value: str) -> _Grant | None:
        assert self._cipher is not None
        prefix = _PREFIXES[kind]
        if not value.startswith(prefix):
            return None
        try:
            data = self._cipher.open(value[len(prefix) :], aad=kind.encode())
        except InvalidValue:
            return None
        return _Grant.load(kind, data)

    def _spend(self, grant: _Grant) -> None:
        """Remember that ``grant``'s value is used up; hold the lock."""
        if len(self._spent) >= self._sweep_at:
            # Forget values that have expired since: they are refused on their expiry anyway.
            now = self.clock()
            self._spent = {nonce: end for nonce, end in self._spent.items() if end is None or end > now}
            self._sweep_at = max(_SPENT_SWEEP, 2 * len(self._spent))
        self._spent[grant.nonce] = grant.expires_at

    # -- REST API --------------------------------------------------------------------------

    def _json(self, body: t.Any, status: int = 200, headers: Sequence[tuple[str, str]] = ()) -> Response:
        response = Response(json.dumps(body, separators=(",", ":")).encode("utf-8"), status=status)
        response.headers["Content-Type"] = "application/json; charset=utf-8"
        for name, value in headers:
            response.headers[name] = value
        return response

    def _rate_headers(self, login: str | None) -> list[tuple[str, str]]:
        now = int(self.clock())
        with self._lock:
            if login is None:
                limit, used, reset = UNAUTHENTICATED_RATE_LIMIT, 0, now + 3600
            else:
                used, reset = self._rate_used.get(login, (0, now + 3600))
                if now >= reset:
                    used, reset = 0, now + 3600
                used += 1
                self._rate_used[login] = (used, reset)
                limit = RATE_LIMIT
        return [
            ("x-ratelimit-limit", str(limit)),
            ("x-ratelimit-remaining", str(max(0, limit - used))),
            ("x-ratelimit-reset", str(reset)),
            ("x-ratelimit-used", str(used)),
            ("x-ratelimit-resource", "core"),
        ]
