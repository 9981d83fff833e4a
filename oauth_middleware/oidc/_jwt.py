"""The one place PyJWT is imported: lazily, so ``oauth_middleware`` imports without it."""

from __future__ import annotations

import types

from oauth_middleware.errors import ConfigurationError

INSTALL_HINT = "OpenID Connect support needs PyJWT with cryptography: pip install 'oauth-login-middleware[oidc]'"


def require_jwt() -> types.ModuleType:
    """The :mod:`jwt` module, or a :class:`ConfigurationError` saying how to install it."""
    try:
        import jwt
        import jwt.algorithms  # noqa: F401 - needs cryptography for RSA/EC
    except ImportError as exc:
        raise ConfigurationError(INSTALL_HINT) from exc
    if not getattr(jwt.algorithms, "has_crypto", False):
        raise ConfigurationError(INSTALL_HINT)
    return jwt
