"""oauth-middleware: "Log in with GitHub" for any WSGI application.

.. code-block:: python

    from oauth_middleware import OAuthMiddleware

    app.wsgi_app = OAuthMiddleware(app.wsgi_app, client_id=..., client_secret=..., secret_key=...)
"""

from __future__ import annotations

from .api import APISession as APISession
from .api import api_session as api_session
from .errors import AccessDenied as AccessDenied
from .errors import ConfigurationError as ConfigurationError
from .errors import LoginRequired as LoginRequired
from .errors import NotAllowed as NotAllowed
from .errors import OAuthMiddlewareError as OAuthMiddlewareError
from .errors import ProviderError as ProviderError
from .errors import ProviderTimeout as ProviderTimeout
from .errors import RateLimited as RateLimited
from .errors import StateError as StateError
from .middleware import OAuthMiddleware as OAuthMiddleware
from .providers import GitHub as GitHub
from .providers import Provider as Provider

__version__ = "1.0.0.dev0"

__all__ = [
    "APISession",
    "AccessDenied",
    "ConfigurationError",
    "GitHub",
    "LoginRequired",
    "NotAllowed",
    "OAuthMiddleware",
    "OAuthMiddlewareError",
    "Provider",
    "ProviderError",
    "ProviderTimeout",
    "RateLimited",
    "StateError",
    "api_session",
]
