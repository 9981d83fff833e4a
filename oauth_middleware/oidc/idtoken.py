"""id_token validation, OpenID Connect Core 1.0 §3.1.3.7, with PyJWT (never hand-rolled crypto).

Checks, in order (the first failure raises its own :class:`~.errors.IdTokenError` subclass):

1. size (``max_token_bytes``, default 16 KiB) before any parsing; a JWE (five parts) is refused;
2. header: ``alg`` on the allow-list (never ``none``; HMAC only when enabled, keyed with the
   client secret), no ``crit`` extension;
3. signature, with the provider's key for ``kid`` (:class:`~.jwks.JWKSCache`, one rate-limited
   refetch for an unknown ``kid``);
4. ``iss`` exactly the issuer; ``aud`` contains the client id; with several audiences ``azp`` is
   required, and whenever present it must be the client id;
5. ``exp`` (past), ``nbf`` (future) and ``iat`` (future) with ``leeway`` seconds (default **60**);
6. ``nonce`` equal to this login's (constant-time); single use is the flow's job;
7. ``at_hash`` equal to the left half of the access token's hash, when present.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import typing as t

from oauth_middleware.errors import ConfigurationError

from ._jwt import require_jwt
from .discovery import Discovery, ProviderMetadata
from .errors import (
    AtHashMismatch,
    BadSignature,
    EncryptedToken,
    Expired,
    IdTokenError,
    IssuedInFuture,
    MalformedToken,
    MissingClaim,
    NonceMismatch,
    NotYetValid,
    TokenTooLarge,
    UnsupportedAlgorithm,
    WrongAudience,
    WrongAuthorizedParty,
    WrongIssuer,
)
from .fetch import printable
from .jwks import JWKSCache

log = logging.getLogger(__name__)

#: Asymmetric JWS algorithms accepted by default (those PyJWT verifies with cryptography).
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
#: HMAC algorithms, accepted only with ``allow_hmac=True`` and keyed with the client secret.
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
#: Claims every id_token must carry (Core §2).
REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp", "iat")
#: Default largest id_token, bytes: real ones are 0.8-2 KB; Entra ID with groups stays under 8 KB.
MAX_TOKEN_BYTES = 16 * 1024
#: Default clock skew allowed on ``exp``, ``nbf`` and ``iat``, seconds.
DEFAULT_LEEWAY = 60


def _b64url_json(part: str) -> t.Any:
    padded = part + "=" * (-len(part) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))


def token_hash(value: str, alg: str) -> str:
    """``at_hash``/``c_hash`` of ``value`` for a token signed with ``alg`` (Core §3.1.3.6): the
    left half of its hash with the algorithm's hash function, base64url without padding."""
    if alg == "EdDSA":  # Ed25519: SHA-512 (OpenID Connect Core errata; Ed448 is not supported)
        digest = hashlib.sha512(value.encode("utf-8")).digest()
    else:
        digest = require_jwt().get_algorithm_by_name(alg).compute_hash_digest(value.encode("utf-8"))
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def _number(claims: t.Mapping[str, t.Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MissingClaim("The id_token's %s claim is not a number." % name)
    return float(value)


class IdTokenValidator:
    """Validates id_tokens from one provider for one client (OpenID Connect Core §3.1.3.7).

    **Security**: the signature is verified by PyJWT over an algorithm allow-list: by default the
    asymmetric algorithms the provider publishes (``id_token_signing_alg_values_supported``);
    ``none`` is never accepted, and HMAC only with ``allow_hmac=True`` and ``client_secret`` (so
    an HS256 token "signed" with the provider's public key fails). Every failure raises a
    subclass of :class:`~.errors.IdTokenError` with a stable ``reason``; messages never contain
    the token.

    .. code-block:: python

        discovery = Discovery("https://accounts.google.com")
        validator = IdTokenValidator(discovery, client_id="1234.apps.googleusercontent.com")
        claims = validator.validate(token["id_token"], nonce=flow.nonce,
                                    access_token=token["access_token"])
        claims["sub"]

    :param discovery: the provider's :class:`Discovery` (issuer, ``jwks_uri``, algorithms).
    :param client_id: our client id, which ``aud`` must contain.
    :param keys: the key cache; built from ``discovery`` (same session and timeout) by default.
    :param algorithms: an explicit allow-list, instead of the published asymmetric ones.
    :param allow_hmac: also accept HS256/384/512 keyed with ``client_secret`` (default False).
    :param client_secret: the HMAC key, required with ``allow_hmac``.
    :param leeway: seconds of clock skew allowed on ``exp``, ``nbf`` and ``iat`` (default 60).
    :param max_token_bytes: longer tokens are refused before parsing (default 16 KiB).
    :param clock: wall-clock seconds since the epoch, injectable for tests.
    """

    def __init__(
        self,
        discovery: Discovery,
        *,
        client_id: str,
        keys: JWKSCache | None = None,
        algorithms: t.Iterable[str] | None = None,  # None: the provider's asymmetric ones
        allow_hmac: bool = False,  # HMAC ties validation to the client secret: off unless asked
        client_secret: str | None = None,
        leeway: int = DEFAULT_LEEWAY,  # clock skew between us and the provider
        max_token_bytes: int = MAX_TOKEN_BYTES,
        clock: t.Callable[[], float] = time.time,
    ) -> None:
        require_jwt()
        if not isinstance(client_id, str) or not client_id:
            raise ConfigurationError("client_id must be the client id registered at the provider (got %r)" % client_id)
        explicit = None if algorithms is None else frozenset(algorithms)
        if explicit is not None:
            unknown = explicit - ASYMMETRIC_ALGORITHMS - HMAC_ALGORITHMS
            if unknown:
                raise ConfigurationError(
                    "algorithms must be JWS signature algorithms from %s; %s cannot be used"
                    % (sorted(ASYMMETRIC_ALGORITHMS | HMAC_ALGORITHMS), sorted(unknown))
                )
            if explicit & HMAC_ALGORITHMS and not allow_hmac:
                raise ConfigurationError("HMAC algorithms in algorithms need allow_hmac=True and client_secret")
            if not explicit:
                raise ConfigurationError("algorithms must not be empty (omit it to use the provider's)")
        if allow_hmac and not client_secret:
            raise ConfigurationError("allow_hmac=True needs client_secret (the HMAC key)")
        if not (0 <= leeway <= 300):
            raise ConfigurationError("leeway must be between 0 and 300 seconds (got %r)" % (leeway,))
        if not (1024 <= max_token_bytes <= 1024 * 1024):
            raise ConfigurationError("max_token_bytes must be between 1 KiB and 1 MiB (got %r)" % (max_token_bytes,))
        self.discovery = discovery
        self.client_id = client_id
        self.algorithms = explicit
        self.allow_hmac = allow_hmac
        self.client_secret = client_secret
        self.leeway = leeway
        self.max_token_bytes = max_token_bytes
        self.clock = clock
        self._keys = keys

    @property
    def issuer(self) -> str:
        return self.discovery.issuer

    def keys(self, metadata: ProviderMetadata) -> JWKSCache:
        """The key cache (built on first use from the discovered ``jwks_uri``)."""
        if self._keys is None:
            self._keys = JWKSCache(
                metadata.jwks_uri,
                http=self.discovery.http,
                timeout=self.discovery.timeout,
                allow_insecure_http=self.discovery.allow_insecure_http,
            )
        return self._keys

    def allowed_algorithms(self, metadata: ProviderMetadata) -> frozenset[str]:
        """The algorithms a token may use: explicit, or published and asymmetric (plus HMAC if enabled)."""
        if self.algorithms is not None:
            return self.algorithms
        published = frozenset(metadata.id_token_signing_alg_values_supported)
        allowed = published & ASYMMETRIC_ALGORITHMS
        if self.allow_hmac:
            allowed |= published & HMAC_ALGORITHMS
        return allowed

    def validate(self, id_token: object, *, nonce: str | None, access_token: str | None) -> dict[str, t.Any]:
        """Validate ``id_token`` and return its claims.

        :param nonce: this login's nonce; ``None`` only for id_tokens from a refresh, which
            carry none (Core §12.2).
        :param access_token: the access token that came with it, to check ``at_hash``; ``None``
            when there is none.
        :raises IdTokenError: a subclass naming the failed check (``reason``).
        :raises KeySetError: the provider's keys cannot be fetched.
        :raises DiscoveryError: the provider's metadata cannot be fetched.
        """
        jwt = require_jwt()
        header = self._header(id_token)
        token = t.cast(str, id_token)
        metadata = self.discovery.get()
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.allowed_algorithms(metadata):
            log.warning("id_token refused: algorithm %s is not allowed", printable(alg))
            raise UnsupportedAlgorithm("The id_token uses a signature algorithm that is not allowed.")
        if "crit" in header:
            raise UnsupportedAlgorithm("The id_token has critical header extensions we do not support.")
        if alg in HMAC_ALGORITHMS:
            key: t.Any = t.cast(str, self.client_secret).encode("utf-8")
        else:
            kid = header.get("kid")
            if kid is not None and not isinstance(kid, str):
                raise MalformedToken("The id_token's key id is not a string.")
            key = self.keys(metadata).get_key(kid, alg)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                options={
                    "verify_signature": True,
                    "verify_aud": False,  # checked below, with azp and clear reasons
                    "verify_iss": False,
                    "verify_exp": False,  # checked below against the injectable clock
                    "verify_nbf": False,
                    "verify_iat": False,
                    "require": [],
                },
            )
        except jwt.exceptions.InvalidSignatureError:
            log.warning("id_token refused: bad signature (kid %s)", printable(header.get("kid")))
            raise BadSignature("The id_token's signature does not verify.") from None
        except jwt.exceptions.InvalidAlgorithmError:
            raise UnsupportedAlgorithm("The id_token uses a signature algorithm that is not allowed.") from None
        except (jwt.exceptions.PyJWTError, ValueError, TypeError):
            raise MalformedToken("The id_token could not be decoded.") from None
        if not isinstance(claims, dict):
            raise MalformedToken("The id_token's payload is not a JSON object.")
        self._check_claims(claims, nonce=nonce)
        self._check_at_hash(claims, alg=alg, access_token=access_token)
        return claims

    def _header(self, id_token: object) -> dict[str, t.Any]:
        if not isinstance(id_token, str) or not id_token:
            raise MalformedToken("The token response has no id_token.")
        if len(id_token) > self.max_token_bytes:
            raise TokenTooLarge("The id_token is larger than %d bytes." % self.max_token_bytes)
        parts = id_token.split(".")
        if len(parts) == 5:
            raise EncryptedToken("The id_token is encrypted (JWE); only signed id_tokens are supported.")
        if len(parts) != 3 or not all(parts[:2]):
            raise MalformedToken("The id_token is not a signed JWT.")
        try:
            header = _b64url_json(parts[0])
        except (ValueError, UnicodeError, RecursionError):
            raise MalformedToken("The id_token's header could not be decoded.") from None
        if not isinstance(header, dict):
            raise MalformedToken("The id_token's header is not a JSON object.")
        if header.get("enc") is not None:
            raise EncryptedToken("The id_token is encrypted (JWE); only signed id_tokens are supported.")
        return header

    def _check_claims(self, claims: dict[str, t.Any], *, nonce: str | None) -> None:
        for name in REQUIRED_CLAIMS:
            if name not in claims:
                raise MissingClaim("The id_token has no %s claim." % name)
        if not isinstance(claims["sub"], str) or not claims["sub"]:
            raise MissingClaim("The id_token's sub claim is not a string.")
        if claims["iss"] != self.issuer:
            log.warning("id_token refused: another issuer")
            raise WrongIssuer("The id_token was issued by another issuer.")
        audience = claims["aud"]
        audiences = [audience] if isinstance(audience, str) else audience
        if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
            raise MissingClaim("The id_token's aud claim is not a string or a list of strings.")
        if self.client_id not in audiences:
            log.warning("id_token refused: not issued for this client")
            raise WrongAudience("The id_token was issued for another client.")
        azp = claims.get("azp")
        if len(audiences) > 1 and azp is None:
            raise WrongAuthorizedParty("The id_token has several audiences and no authorized party (azp).")
        if azp is not None and azp != self.client_id:
            raise WrongAuthorizedParty("The id_token's authorized party (azp) is another client.")
        now = self.clock()
        exp, iat, nbf = _number(claims, "exp"), _number(claims, "iat"), _number(claims, "nbf")
        if exp is None or iat is None:
            raise MissingClaim("The id_token has no exp or iat claim.")
        if now >= exp + self.leeway:
            raise Expired("The id_token has expired.")
        if nbf is not None and now + self.leeway < nbf:
            raise NotYetValid("The id_token is not valid yet.")
        if now + self.leeway < iat:
            raise IssuedInFuture("The id_token claims to be issued in the future.")
        if nonce is not None:
            got = claims.get("nonce")
            if not isinstance(got, str) or not hmac.compare_digest(got.encode(), nonce.encode()):
                log.warning("id_token refused: nonce %s", "missing" if got is None else "mismatch")
                raise NonceMismatch("The id_token does not belong to this login (nonce).")

    def _check_at_hash(self, claims: dict[str, t.Any], *, alg: str, access_token: str | None) -> None:
        at_hash = claims.get("at_hash")
        if at_hash is None or access_token is None:
            return
        expected = token_hash(access_token, alg)
        if not isinstance(at_hash, str) or not hmac.compare_digest(at_hash.encode(), expected.encode()):
            log.warning("id_token refused: at_hash mismatch")
            raise AtHashMismatch("The id_token does not match the access token it came with (at_hash).")


__all__ = ["IdTokenError", "IdTokenValidator", "token_hash"]
