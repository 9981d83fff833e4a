"""OpenID Provider metadata from ``{issuer}/.well-known/openid-configuration`` (Discovery 1.0 §4).

The document is fetched once and cached for ``max_age`` seconds. Its ``issuer`` must equal the
configured issuer **exactly** (OIDC-1, Discovery §4.3: no trailing-slash or case folding), and
every endpoint the code flow uses must be an absolute ``https://`` URL.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import typing as t

import requests

from oauth_middleware.errors import ConfigurationError

from .errors import DiscoveryError
from .fetch import get_json, is_secure_url

log = logging.getLogger(__name__)

#: Path of the discovery document under the issuer (Discovery 1.0 §4).
WELL_KNOWN = "/.well-known/openid-configuration"
#: Largest discovery document accepted, bytes (Google's is 1.2 KB, Entra ID's 1.7 KB).
MAX_DOCUMENT_BYTES = 64 * 1024
#: Endpoints the authorization-code flow cannot do without.
REQUIRED_ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri")
#: Endpoints used when present; checked like the required ones.
OPTIONAL_ENDPOINTS = ("userinfo_endpoint", "end_session_endpoint", "revocation_endpoint")


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


@dataclasses.dataclass(frozen=True)
class ProviderMetadata:
    """The parts of a discovery document the client uses, checked.

    :param issuer: exactly the configured issuer.
    :param authorization_endpoint: where the browser is sent.
    :param token_endpoint: where codes and refresh tokens are redeemed.
    :param jwks_uri: the provider's public keys.
    :param userinfo_endpoint: the UserInfo endpoint, if any.
    :param end_session_endpoint: RP-initiated logout, if any.
    :param id_token_signing_alg_values_supported: as published (``("RS256",)`` when absent: Core §15.1).
    :param code_challenge_methods_supported: as published (empty when absent).
    :param document: the whole document, for extensions.
    """

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None = None
    end_session_endpoint: str | None = None
    revocation_endpoint: str | None = None
    id_token_signing_alg_values_supported: tuple[str, ...] = ("RS256",)
    code_challenge_methods_supported: tuple[str, ...] = ()
    document: t.Mapping[str, t.Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_document(cls, document: object, *, issuer: str, allow_insecure_http: bool = False) -> ProviderMetadata:
        """Check ``document`` against ``issuer`` and return the metadata, or raise DiscoveryError."""
        if not isinstance(document, dict):
            raise DiscoveryError("The identity provider's discovery document is not a JSON object.")
        if document.get("issuer") != issuer:
            log.warning("discovery document names another issuer than the configured one")
            raise DiscoveryError(
                "The identity provider's discovery document names another issuer than the configured one."
            )
        endpoints: dict[str, str | None] = {}
        for name in REQUIRED_ENDPOINTS + OPTIONAL_ENDPOINTS:
            value = document.get(name)
            if value is None and name in OPTIONAL_ENDPOINTS:
                endpoints[name] = None
                continue
            if not isinstance(value, str) or not is_secure_url(value, allow_insecure_http=allow_insecure_http):
                log.warning("discovery document: %s missing or not an https URL", name)
                raise DiscoveryError(
                    "The identity provider's discovery document has no usable %s (an https URL is required)." % name
                )
            endpoints[name] = value
        algs = _strings(document.get("id_token_signing_alg_values_supported")) or ("RS256",)
        return cls(
            issuer=issuer,
            authorization_endpoint=t.cast(str, endpoints["authorization_endpoint"]),
            token_endpoint=t.cast(str, endpoints["token_endpoint"]),
            jwks_uri=t.cast(str, endpoints["jwks_uri"]),
            userinfo_endpoint=endpoints["userinfo_endpoint"],
            end_session_endpoint=endpoints["end_session_endpoint"],
            revocation_endpoint=endpoints["revocation_endpoint"],
            id_token_signing_alg_values_supported=algs,
            code_challenge_methods_supported=_strings(document.get("code_challenge_methods_supported")),
            document=dict(document),
        )


class Discovery:
    """Fetches and caches an issuer's discovery document; thread-safe, one fetch at a time.

    **Security**: the document's ``issuer`` must equal ``issuer`` character for character
    (OIDC-1), so a document served for one tenant or host cannot stand in for another's; every
    endpoint must be ``https://``. Fetches have a total time bound and a size cap.

    .. code-block:: python

        discovery = Discovery("https://accounts.google.com")
        metadata = discovery.get()
        metadata.token_endpoint   # 'https://oauth2.googleapis.com/token'

    :param issuer: the issuer identifier, exactly as the provider writes it (scheme, host, path;
        a trailing slash only if the provider's has one).
    :param http: the session used for fetches (a new one by default).
    :param timeout: seconds a whole fetch may take (default 10).
    :param max_age: seconds a fetched document is reused (default 3600).
    :param allow_insecure_http: accept ``http://`` (local tests only; default False).
    :param clock: a monotonic clock, injectable for tests.
    """

    def __init__(
        self,
        issuer: str,
        *,
        http: requests.Session | None = None,
        timeout: float = 10.0,  # a whole fetch, connect to last byte
        max_age: float = 3600.0,  # providers change endpoints rarely; keys are refreshed separately
        allow_insecure_http: bool = False,  # never in production: metadata over http can be forged
        clock: t.Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(issuer, str) or not is_secure_url(issuer, allow_insecure_http=allow_insecure_http):
            raise ConfigurationError(
                "issuer must be the provider's https:// issuer URL, e.g. 'https://accounts.google.com' "
                "(got %r; http:// needs allow_insecure_http=True, for local tests only)" % (issuer,)
            )
        if "?" in issuer or "#" in issuer:
            raise ConfigurationError("issuer must not have a query or fragment (got %r)" % (issuer,))
        if not (0 < timeout <= 60):
            raise ConfigurationError("timeout must be between 0 and 60 seconds (got %r)" % (timeout,))
        if max_age < 0:
            raise ConfigurationError("max_age must be >= 0 seconds (got %r)" % (max_age,))
        self.issuer = issuer
        self.url = issuer.rstrip("/") + WELL_KNOWN
        self.http = http if http is not None else requests.Session()
        self.timeout = timeout
        self.max_age = max_age
        self.allow_insecure_http = allow_insecure_http
        self.clock = clock
        self._lock = threading.Lock()
        self._metadata: ProviderMetadata | None = None
        self._fetched_at = 0.0

    def get(self) -> ProviderMetadata:
        """The provider metadata: cached, or fetched now. Raises :class:`DiscoveryError`."""
        metadata = self._metadata
        if metadata is not None and self.clock() - self._fetched_at < self.max_age:
            return metadata
        with self._lock:  # one fetch for all waiting threads
            metadata = self._metadata
            if metadata is not None and self.clock() - self._fetched_at < self.max_age:
                return metadata
            document = get_json(
                self.http,
                self.url,
                timeout=self.timeout,
                max_bytes=MAX_DOCUMENT_BYTES,
                error=DiscoveryError,
                what="discovery document",
            )
            metadata = ProviderMetadata.from_document(
                document, issuer=self.issuer, allow_insecure_http=self.allow_insecure_http
            )
            self._metadata, self._fetched_at = metadata, self.clock()
            log.info("discovered OpenID provider %s", self.issuer)
            return metadata
