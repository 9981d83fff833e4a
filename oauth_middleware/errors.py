"""Exceptions and the one renderer that turns them into HTML or JSON responses.

Every page text comes from class constants or from values the middleware escaped itself; nothing
here ever echoes a provider body, a token, a code, a state or a verifier. A description may hold
the placeholder ``{provider}``, filled with the provider's display name when the error is
rendered (``"GitHub"``, ``"Google"``...), so that these texts name no provider themselves.
"""

from __future__ import annotations

import html
import typing as t

from .wsgi import SECURITY_HEADERS as SECURITY_HEADERS
from .wsgi import Response, wants_json
from .wsgi import html_page as html_page

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment


#: Stands for the provider's display name in error descriptions.
PROVIDER_PLACEHOLDER = "{provider}"


class OAuthMiddlewareError(Exception):
    """Base class of every error this package raises.

    :attr error: an OAuth-style error code, used as ``error`` in JSON bodies.
    :attr status: the HTTP status the middleware answers with.
    :attr title: the heading of the HTML page.
    :attr description: safe, human text; never contains secrets or provider bodies. May hold
        ``{provider}``: see :meth:`describe`.
    """

    error: t.ClassVar[str] = "server_error"
    status: t.ClassVar[int] = 500
    title: t.ClassVar[str] = "Login failed"
    description: str = "Something went wrong while logging you in. Please try again."

    def __init__(self, description: str | None = None, *, headers: t.Sequence[tuple[str, str]] = ()):
        if description is not None:
            self.description = description
        self.headers = tuple(headers)
        super().__init__(self.describe())

    def describe(self, provider: str = "the identity provider") -> str:
        """:attr:`description` with ``{provider}`` replaced by the provider's display name."""
        return self.description.replace(PROVIDER_PLACEHOLDER, provider)


class ConfigurationError(OAuthMiddlewareError, ValueError):
    """An option passed to :class:`~oauth_middleware.OAuthMiddleware` is missing or invalid.

    Raised at construction time; the message names the option and says how to fix it.

    .. code-block:: python

        try:
            OAuthMiddleware.from_env(app)
        except ConfigurationError as exc:
            print(exc.option, exc.env)  # "max_age", "OAUTH_MIDDLEWARE_MAX_AGE"

    :param description: the message.
    :param option: the name of the option at fault, e.g. ``"max_age"`` (None when no single
        option is).
    :param env: the environment variable the faulty value came from, when it came from one.
    """

    error = "configuration_error"

    def __init__(
        self,
        description: str | None = None,
        *,
        option: str | None = None,
        env: str | None = None,
        headers: t.Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(description, headers=headers)
        #: the option's name, e.g. ``"max_age"``
        self.option = option
        #: the environment variable the value came from, e.g. ``"OAUTH_MIDDLEWARE_MAX_AGE"``
        self.env = env


class StateError(OAuthMiddlewareError):
    """The callback's ``state`` is missing, unknown, expired or does not match (login CSRF)."""

    error = "invalid_state"
    status = 400
    description = "This login link is invalid, expired or was already used. Please start the login again."


class BadRequest(OAuthMiddlewareError):
    """The request to one of the middleware's own endpoints is malformed."""

    error = "invalid_request"
    status = 400
    title = "Bad request"
    description = "The request was malformed."


class MethodNotAllowed(OAuthMiddlewareError):
    """A method the endpoint does not support."""

    error = "method_not_allowed"
    status = 405
    title = "Method not allowed"
    description = "This endpoint does not support that HTTP method."


class AccessDenied(OAuthMiddlewareError):
    """The user declined the authorization at the provider (``error=access_denied``)."""

    error = "access_denied"
    status = 403
    title = "Login cancelled"
    description = "Login was cancelled: access was not granted on {provider}."


class NotAllowed(OAuthMiddlewareError):
    """The user is not admitted by the configured allow-lists."""

    error = "not_allowed"
    status = 403
    title = "Access denied"
    description = "Your {provider} account is not allowed to use this application."


class CrossSiteRequest(OAuthMiddlewareError):
    """A state-changing request (logout) came from another site."""

    error = "cross_site_request"
    status = 403
    title = "Forbidden"
    description = "This request came from another site and was refused."


class LoginRequired(OAuthMiddlewareError):
    """An anonymous request reached a protected path."""

    error = "login_required"
    status = 401
    title = "Login required"
    description = "You must log in to see this page."


class Busy(OAuthMiddlewareError):
    """Too many logins are being completed at once in this process; try again shortly."""

    error = "temporarily_unavailable"
    status = 503
    title = "Try again in a minute"
    description = "Too many logins are in progress right now. Please try again in a minute."


class StoreDown(OAuthMiddlewareError):
    """The session store (Redis) did not answer: protected paths fail closed (STORE-7)."""

    error = "temporarily_unavailable"
    status = 503
    title = "Try again in a moment"
    description = "Sessions cannot be checked right now. Please try again in a moment."

    def __init__(self, description: str | None = None, *, headers: t.Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(description, headers=(*headers, ("Retry-After", "5")))


class ProviderError(OAuthMiddlewareError):
    """The provider failed or answered something unusable (token exchange or profile)."""

    error = "provider_error"
    status = 502
    title = "Login failed"
    description = "{provider} could not complete the login. Please try again in a moment."


class TokenRefused(ProviderError):
    """The provider refused a code or refresh token (``bad_verification_code``,
    ``bad_refresh_token``, ...): the grant is gone, retrying cannot help.

    :attr code: the provider's error code (letters, digits and ``_`` only).
    """

    def __init__(self, description: str | None = None, *, code: str = "unknown") -> None:
        super().__init__(description)
        self.code = code


class TokenRevoked(ProviderError):
    """The provider answered 401 to an API call: the token was revoked or expired."""

    description = "{provider} did not accept the access token. Please log in again."


class RateLimited(ProviderError):
    """The provider's API refused a call because a rate limit was reached (as GitHub says it: 403
    or 429 with ``x-ratelimit-remaining: 0`` or ``Retry-After``). Carries no part of the request. The
    limit is the user's own (shared with their personal access tokens), so the user can cause it
    on purpose: re-validation never treats it as an outage.

    :attr retry_after: seconds to wait before trying again (``Retry-After``, else the time left
        until ``reset_at``), or ``None`` when the provider said neither.
    :attr reset_at: when the limit resets, seconds since the epoch (``x-ratelimit-reset``), or
        ``None``.
    """

    error = "rate_limited"
    description = "{provider}'s API rate limit was reached. Please try again later."

    def __init__(
        self,
        description: str | None = None,
        *,
        retry_after: int | None = None,
        reset_at: int | None = None,
        headers: t.Sequence[tuple[str, str]] = (),
    ) -> None:
        if retry_after is not None:
            headers = (*headers, ("Retry-After", str(retry_after)))
        super().__init__(description, headers=headers)
        self.retry_after = retry_after
        self.reset_at = reset_at

    @classmethod
    def from_response(cls, status: int, headers: t.Mapping[str, str], *, now: float) -> RateLimited | None:
        """The error for an API answer that is a rate limit, or ``None`` if it is not one.

        :param headers: the answer's headers (a case-insensitive mapping, as requests gives).
        """
        if status not in (403, 429):
            return None
        retry = _header_number(headers.get("retry-after"))
        if headers.get("x-ratelimit-remaining") != "0" and "retry-after" not in headers:
            return None
        reset_at = _header_number(headers.get("x-ratelimit-reset"))
        if retry is None and reset_at is not None:
            retry = max(1, reset_at - int(now))
        return cls(retry_after=retry, reset_at=reset_at)


def _header_number(value: str | None) -> int | None:
    """A whole number of at most 10 digits from a header value, or ``None``."""
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 10 else None


class ProviderTimeout(ProviderError):
    """The provider did not answer in time."""

    error = "provider_timeout"
    status = 504
    description = "{provider} did not answer in time. Please try the login again."


def render_error(
    environ: WSGIEnvironment,
    exc: OAuthMiddlewareError,
    *,
    login_url: str | None = None,
    provider: str = "the identity provider",
) -> Response:
    """The one renderer of errors: ``exc`` as JSON for clients asking for it, an HTML page
    otherwise, with the security headers and the exception's own (``Allow``, ``Retry-After``,
    cookies to clear).

    :param login_url: where a new login starts; linked from the page and given in the JSON.
    :param provider: the provider's display name, for ``{provider}`` in the description.
    """
    description = exc.describe(provider)
    if wants_json(environ):
        payload = {"error": exc.error, "error_description": description}
        if login_url:
            payload["login_url"] = login_url
        return Response.json(payload, status=exc.status, headers=exc.headers)
    link = '<p><a href="%s">Log in again</a></p>' % html.escape(login_url) if login_url else ""
    body = "<p>%s</p>%s" % (html.escape(description), link)
    return Response.page(exc.title, body, status=exc.status, headers=exc.headers)
