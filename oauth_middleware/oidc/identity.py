"""Who the user is, from validated id_token (and UserInfo) claims (OIDC-8).

``sub`` is the stable id: names and emails change and get reassigned, ``sub`` never does (Core
§5.7). An ``email`` is trusted only when ``email_verified`` is true, so an allow-list by domain
cannot be passed with an address the provider never checked.
"""

from __future__ import annotations

import dataclasses
import logging
import typing as t

from oauth_middleware.errors import ConfigurationError

from .errors import IdentityError
from .fetch import printable

log = logging.getLogger(__name__)

#: Most groups kept from one claim, and the longest group name kept.
MAX_GROUPS = 1000
MAX_GROUP_LENGTH = 256


@dataclasses.dataclass(frozen=True)
class Identity:
    """A user as the middleware sees them.

    :param user_id: the ``sub`` claim (``oauth_middleware.user_id``).
    :param username: the configured username claim (``REMOTE_USER``).
    :param email: the email address, only when the provider says it is verified.
    :param groups: from the configured groups claim.
    :param claims: all validated claims.
    """

    user_id: str
    username: str
    email: str | None
    groups: tuple[str, ...]
    claims: t.Mapping[str, t.Any] = dataclasses.field(repr=False)


def verified_email(claims: t.Mapping[str, t.Any]) -> str | None:
    """The ``email`` claim if ``email_verified`` is true (a JSON ``true``, or the string
    ``"true"`` that Amazon Cognito sends), else ``None``."""
    email = claims.get("email")
    verified = claims.get("email_verified")
    if verified is not True and not (isinstance(verified, str) and verified.lower() == "true"):
        return None
    return email if isinstance(email, str) and "@" in email else None


def claim_path(claims: t.Mapping[str, t.Any], name: str) -> t.Any:
    """``claims[name]``, or a nested value for a dotted name (Keycloak's ``realm_access.roles``)
    when no claim has that literal name."""
    if name in claims:
        return claims[name]
    value: t.Any = claims
    for part in name.split("."):
        if not isinstance(value, t.Mapping) or part not in value:
            return None
        value = value[part]
    return value


def groups_from(claims: t.Mapping[str, t.Any], claim: str | None) -> tuple[str, ...]:
    """Group names from ``claim``: a list of strings or one string; anything else gives none."""
    if not claim:
        return ()
    value = claim_path(claims, claim)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        if value is not None:
            log.warning("groups claim %s is neither a string nor a list; ignored", printable(claim))
        return ()
    groups: list[str] = []
    for item in value[:MAX_GROUPS]:
        if isinstance(item, str) and item and len(item) <= MAX_GROUP_LENGTH and item not in groups:
            groups.append(item)
    return tuple(groups)


def merge_userinfo(claims: t.Mapping[str, t.Any], userinfo: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """id_token claims completed with UserInfo claims (Core §5.3.2: ``sub`` must match, or the
    UserInfo answer is not about this user and raises :class:`IdentityError`). The id_token's
    ``iss``, ``aud`` and time claims are never overridden."""
    if userinfo.get("sub") != claims.get("sub"):
        log.warning("userinfo answer is about another subject; refused")
        raise IdentityError("The identity provider's user information is about another user.")
    merged = dict(claims)
    for name, value in userinfo.items():
        if name not in ("iss", "aud", "azp", "exp", "iat", "nbf", "nonce", "at_hash", "c_hash", "auth_time"):
            merged[name] = value
    return merged


class IdentityMapper:
    """Turns validated claims into an :class:`Identity`.

    .. code-block:: python

        mapper = IdentityMapper(username_claim="email", groups_claim="groups")
        identity = mapper.identity(claims)
        identity.user_id, identity.username, identity.groups

    :param username_claim: the claim that becomes ``REMOTE_USER`` (default
        ``preferred_username``). ``"email"`` uses the verified email only. A missing or empty
        username claim refuses the login rather than falling back to ``sub``, which could equal
        another user's name.
    :param groups_claim: the claim holding group names (``groups``, ``roles``,
        ``realm_access.roles``), or ``None`` for no groups.
    """

    def __init__(
        self,
        *,
        username_claim: str = "preferred_username",  # the OIDC standard claim for a short name
        groups_claim: str | None = None,  # providers disagree on the name: opt in
    ) -> None:
        if not isinstance(username_claim, str) or not username_claim:
            raise ConfigurationError("username_claim must be a claim name such as 'preferred_username' or 'email'")
        if groups_claim is not None and (not isinstance(groups_claim, str) or not groups_claim):
            raise ConfigurationError("groups_claim must be a claim name such as 'groups', or None")
        self.username_claim = username_claim
        self.groups_claim = groups_claim

    def identity(self, claims: t.Mapping[str, t.Any]) -> Identity:
        """The :class:`Identity` in ``claims``; raises :class:`IdentityError` if there is none."""
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > 255:
            raise IdentityError("The identity provider did not give a usable subject (sub).")
        email = verified_email(claims)
        if self.username_claim == "email":
            username: object = email
        elif self.username_claim == "sub":
            username = sub
        else:
            username = claim_path(claims, self.username_claim)
        if not isinstance(username, str) or not username.strip() or not username.isprintable():
            log.warning("no usable %s claim for sub %s", printable(self.username_claim), printable(sub))
            raise IdentityError()
        return Identity(
            user_id=sub,
            username=username,
            email=email,
            groups=groups_from(claims, self.groups_claim),
            claims=dict(claims),
        )
