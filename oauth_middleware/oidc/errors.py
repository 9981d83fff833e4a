"""Errors of the OpenID Connect core: one class per failure kind, each with a stable ``reason``.

All are :class:`~oauth_middleware.errors.ProviderError` subclasses (HTTP 502 when rendered): the
identity provider, or something pretending to be it, answered something we must not trust. The
messages come from class constants plus, at most, a claim or algorithm name: they never contain
the token, a code, a key or a provider body.
"""

from __future__ import annotations

import typing as t

from oauth_middleware.errors import ProviderError


class OIDCError(ProviderError):
    """Base class of the OpenID Connect errors.

    :attr reason: a stable, machine-readable code (``"bad_aud"``, ``"jwks_unavailable"``, ...),
        for tests, metrics and log lines.
    """

    reason: t.ClassVar[str] = "oidc_error"
    description = "The identity provider could not complete the login. Please try again in a moment."


class DiscoveryError(OIDCError):
    """The discovery document could not be fetched, was unreadable, or failed a check (OIDC-1)."""

    reason = "discovery_failed"


class KeySetError(OIDCError):
    """The provider's JWKS could not be fetched or held no usable key (down, garbage, too large)."""

    reason = "jwks_unavailable"


class IdTokenError(OIDCError):
    """The id_token failed validation (OpenID Connect Core 3.1.3.7). Never accept the login."""

    reason = "invalid_id_token"
    description = "The identity provider's answer could not be verified. Please start the login again."


class TokenTooLarge(IdTokenError):
    """Longer than the configured cap: refused before any parsing."""

    reason = "too_large"


class MalformedToken(IdTokenError):
    """Not a compact JWS (three base64url parts with a JSON header and payload)."""

    reason = "malformed"


class EncryptedToken(IdTokenError):
    """A JWE (five parts): encrypted id_tokens are not supported, so never decoded."""

    reason = "encrypted"


class UnsupportedAlgorithm(IdTokenError):
    """The header's ``alg`` is not on the allow-list (``none``, HMAC not enabled, ...) or has a
    ``crit`` extension we do not understand."""

    reason = "bad_alg"


class UnknownKey(IdTokenError):
    """No key in the provider's JWKS matches the header's ``kid`` and ``alg``, even after a refetch."""

    reason = "unknown_kid"


class BadSignature(IdTokenError):
    """The signature does not verify with the selected key."""

    reason = "bad_signature"


class MissingClaim(IdTokenError):
    """A required claim (``iss``, ``sub``, ``aud``, ``exp``, ``iat``) is absent or of the wrong type."""

    reason = "missing_claim"


class WrongIssuer(IdTokenError):
    """``iss`` is not exactly the configured issuer."""

    reason = "bad_iss"


class WrongAudience(IdTokenError):
    """``aud`` does not contain our client id."""

    reason = "bad_aud"


class WrongAuthorizedParty(IdTokenError):
    """Several audiences and no ``azp``, or an ``azp`` that is not our client id."""

    reason = "bad_azp"


class Expired(IdTokenError):
    """``exp`` is past (beyond the leeway)."""

    reason = "expired"


class NotYetValid(IdTokenError):
    """``nbf`` is in the future (beyond the leeway)."""

    reason = "not_yet_valid"


class IssuedInFuture(IdTokenError):
    """``iat`` is in the future (beyond the leeway)."""

    reason = "iat_future"


class NonceMismatch(IdTokenError):
    """``nonce`` missing or not this login's."""

    reason = "bad_nonce"


class AtHashMismatch(IdTokenError):
    """``at_hash`` does not match the access token it came with."""

    reason = "bad_at_hash"


class IdentityError(OIDCError):
    """The validated claims cannot be mapped to a user (no ``sub``, no username claim, ...)."""

    reason = "no_identity"
    description = "The identity provider did not say who you are. Please tell the site's administrator."
