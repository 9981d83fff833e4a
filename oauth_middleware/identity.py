"""Which environ keys and request headers carry identity, and a fast way to find them.

Only the middleware vouches for a user: ``REMOTE_USER``, every ``oauth_middleware.*`` key and the
identity headers auth proxies use are removed from every request before anything else (HDR-1,
HDR-4), and set again only from a valid session.
"""

from __future__ import annotations

import collections.abc as cabc

#: environ keys that only a valid session may set; removed from every request first, so an
#: upstream layer can never pass them off as identity (every ``oauth_middleware.*`` key goes too).
IDENTITY_KEYS = (
    "REMOTE_USER",
    "oauth_middleware.user",
    "oauth_middleware.token",
    "oauth_middleware.groups",
    "oauth_middleware.user_id",
    "oauth_middleware.api",
)
#: request headers through which auth proxies pass identity, as name prefixes (a prefix holds its
#: whole family: ``Remote-`` is ``Remote-User``, ``Remote-Email``, ``Remote-Groups``...). They are
#: removed from every request (HDR-1, HDR-4): behind this middleware only it vouches for a user.
#: Add your own with ``strip_identity_headers``.
IDENTITY_HEADERS = (
    "X-Forwarded-User",  # oauth2-proxy: -User, -Username... and the rest below
    "X-Forwarded-Email",
    "X-Forwarded-Groups",
    "X-Forwarded-Access-Token",
    "X-Forwarded-Preferred-Username",
    "X-Auth-Request-",  # oauth2-proxy's auth_request mode
    "Remote-",  # Authelia, Authentik, Apache's REMOTE_USER as a header
    "X-Remote-",
    "X-WEBAUTH-",  # Grafana's auth proxy convention
    "X-Pomerium-Claim-",
    "X-Pomerium-Jwt-Assertion",
    "Cf-Access-",  # Cloudflare Access
    "X-Goog-Authenticated-User-",  # Google IAP
    "X-Goog-Iap-Jwt-Assertion",
    "X-Ms-Client-Principal",  # Azure App Service authentication
)


class IdentityScrubber:
    """Finds the environ keys a request must lose: the exact :data:`IDENTITY_KEYS`, any
    ``oauth_middleware.*`` key, and any header whose name begins with one of
    :data:`IDENTITY_HEADERS` or ``extra`` (given as ``HTTP_*`` environ key prefixes).

    Keys seen clean before are remembered (a request repeats the last one's keys), so a request
    costs one C-level set difference instead of a prefix test per key; the memory is bounded, and
    past the bound new keys are simply tested each time.

    .. code-block:: python

        scrubber = IdentityScrubber(extra=("HTTP_X_COMPANY_USER",))
        if not scrubber.known_clean(environ):
            for key in scrubber.spoofed(environ):
                del environ[key]
    """

    MAX_REMEMBERED = 4096

    def __init__(self, extra: cabc.Iterable[str] = ()) -> None:
        headers = tuple("HTTP_" + name.upper().replace("-", "_") for name in IDENTITY_HEADERS)
        self.prefixes = (*IDENTITY_KEYS, "oauth_middleware.", *headers, *extra)
        self._clean: set[str] = set()
        #: ``known_clean(environ)``: True when every key was seen clean before (nothing to remove)
        self.known_clean: cabc.Callable[[cabc.Iterable[str]], bool] = self._clean.issuperset

    def spoofed(self, environ: cabc.Mapping[str, object]) -> list[str]:
        """The keys of ``environ`` that must be removed (usually none)."""
        unseen = environ.keys() - self._clean
        if not unseen:
            return []
        found = []
        for key in unseen:
            if key.startswith(self.prefixes):
                found.append(key)
            elif len(self._clean) < self.MAX_REMEMBERED:
                self._clean.add(key)
        return found
