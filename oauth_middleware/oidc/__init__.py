"""OpenID Connect core: discovery, the provider's keys, id_token validation and identity mapping.

Protocol pieces, plugged into :class:`~oauth_middleware.OAuthMiddleware` by
:class:`OpenIDConnect` and its presets (``Google()``, ``GitLab()``, ``MicrosoftEntra(tenant)``,
``Keycloak(base_url, realm)``, ``Okta(domain)``). Needs PyJWT with cryptography, imported lazily:
``pip install 'oauth-login-middleware[oidc]'``.

.. code-block:: python

    from oauth_middleware.oidc import Discovery, IdTokenValidator, IdentityMapper

    discovery = Discovery("https://accounts.google.com")
    validator = IdTokenValidator(discovery, client_id=CLIENT_ID)
    claims = validator.validate(token["id_token"], nonce=nonce, access_token=token["access_token"])
    identity = IdentityMapper(username_claim="email").identity(claims)
"""

from __future__ import annotations

from .discovery import Discovery as Discovery
from .discovery import ProviderMetadata as ProviderMetadata
from .errors import DiscoveryError as DiscoveryError
from .errors import IdentityError as IdentityError
from .errors import IdTokenError as IdTokenError
from .errors import KeySetError as KeySetError
from .errors import OIDCError as OIDCError
from .identity import Identity as Identity
from .identity import IdentityMapper as IdentityMapper
from .identity import merge_userinfo as merge_userinfo
from .identity import verified_email as verified_email
from .idtoken import IdTokenValidator as IdTokenValidator
from .idtoken import token_hash as token_hash
from .jwks import JWKSCache as JWKSCache
from .presets import GitLab as GitLab
from .presets import Google as Google
from .presets import Keycloak as Keycloak
from .presets import MicrosoftEntra as MicrosoftEntra
from .presets import Okta as Okta
from .provider import OpenIDConnect as OpenIDConnect

__all__ = [
    "Discovery",
    "GitLab",
    "Google",
    "Keycloak",
    "MicrosoftEntra",
    "Okta",
    "OpenIDConnect",
    "DiscoveryError",
    "IdTokenError",
    "IdTokenValidator",
    "Identity",
    "IdentityError",
    "IdentityMapper",
    "JWKSCache",
    "KeySetError",
    "OIDCError",
    "ProviderMetadata",
    "merge_userinfo",
    "token_hash",
    "verified_email",
]
