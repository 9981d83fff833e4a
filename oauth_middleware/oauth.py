"""The OAuth 2 client steps, on requests-oauthlib: authorization URL, code exchange, API calls.

No WebOb and no environ here: these functions take plain values and raise
:class:`~oauth_middleware.errors.ProviderError` (or :class:`~oauth_middleware.errors.ProviderTimeout`)
with a safe description when the provider fails.

The provider's quirks (GitHub's, first of all) are handled per call, never through process-wide
state:

- the token endpoint answers form-encoded unless asked for JSON (we ask, and parse both);
- it reports errors (``bad_verification_code``, ...) with HTTP 200;
- it returns granted scopes comma-joined, which oauthlib would read as one unknown scope and
  answer with ``Warning("Scope has changed")``: a compliance hook on our session normalises them;
- oauthlib refuses ``http://`` unless ``OAUTHLIB_INSECURE_TRANSPORT`` is set in the environment:
  we never touch that variable. With ``allow_insecure_http=True`` an ``http://`` token URL is
  handed to requests-oauthlib under an ``https://`` alias that a transport adapter, mounted on
  this middleware's own HTTP session only, sends over plain http.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import time
import typing as t
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from oauthlib.oauth2 import OAuth2Error, WebApplicationClient
from requests_oauthlib import OAuth2Session

from .errors import ProviderError, TokenRefused, TokenRevoked
from .text import for_log
from .transport import PlainHTTPAlias, forget_cookies, provider_call, request_timeout

if t.TYPE_CHECKING:
    from .providers import Identity, Provider

log = logging.getLogger(__name__)

#: Largest provider response body read, bytes (a profile is ~1.5 KB).
MAX_BODY_BYTES = 1 << 20

#: The unreadable-answer description (``{provider}`` is filled when rendered).
UNREADABLE_TOKEN_ANSWER = "{provider} answered the token request with something unreadable."


# -- the client ----------------------------------------------------------------------------------


class OAuthClient:
    """The confidential-client side of the authorization-code flow with PKCE (S256).

    :param provider: endpoints and profile hook.
    :param client_id: the OAuth app's client id.
    :param client_secret: the OAuth app's client secret (sent in the token request body only).
    :param scope: scopes to request.
    :param http: the pooled session all provider calls go through.
    :param timeout: seconds each provider call may take in all (connecting, sending, reading
        the whole answer), or a ``(connect, read)`` pair: connecting within the first, the whole
        call within their sum.
    :param allow_insecure_http: permit ``http://`` provider URLs (local development).
    :param clock: returns the current time in seconds.
    """

    def __init__(
        self,
        provider: Provider,
        *,
        client_id: str,
        client_secret: str,
        scope: tuple[str, ...],
        http: requests.Session,
        timeout: float | tuple[float, float],
        allow_insecure_http: bool = False,
        clock: t.Callable[[], float] = time.time,
    ) -> None:
        self.provider = provider
        #: wall-clock seconds (the middleware's ``clock``), e.g. for id_token times
        self.clock = clock
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = scope
        self.http = http
        self.timeout = timeout
        self.allow_insecure_http = allow_insecure_http
        self._oauthlib_client = WebApplicationClient(client_id)
        self._token_urls: dict[str, str] = {}
        if provider.token_url:  # a discovering provider (OpenID Connect) has none yet
            self.token_url = self._usable_token_url(provider.token_url)

    def _usable_token_url(self, url: str) -> str:
        """``url``, or for an allowed ``http://`` one the ``https://`` alias that requests-oauthlib
        accepts, with the adapter that sends it over http mounted (once per host)."""
        usable = self._token_urls.get(url)
        if usable is not None:
            return usable
        usable = url
        if self.allow_insecure_http and url.startswith("http://"):
            real = url[: url.index("/", len("http://"))] + "/"
            alias = "https://" + real[len("http://") :]
            usable = "https://" + url[len("http://") :]
            self.http.mount(alias, PlainHTTPAlias(alias, real))
        self._token_urls[url] = usable
        return usable

    @property
    def display_name(self) -> str:
        return self.provider.display_name

    def current_token_url(self) -> str:
        """The token endpoint as requests-oauthlib is given it (discovered first if need be)."""
        return self._usable_token_url(self.provider.token_endpoint(self))

    def code_challenge(self, verifier: str) -> str:
        """The S256 challenge of ``verifier`` (computed by oauthlib)."""
        return str(self._oauthlib_client.create_code_challenge(verifier, "S256"))

    def authorization_url(self, *, redirect_uri: str, state: str, verifier: str, nonce: str | None = None) -> str:
        """The provider URL the browser is sent to, with state, an S256 PKCE challenge and, for
        a provider that uses one, the login's ``nonce``."""
        params = self.provider.authorization_params(
            client_id=self.client_id,
            redirect_uri=redirect_uri,
            scope=self.scope,
            state=state,
            code_challenge=self.code_challenge(verifier),
            nonce=nonce,
        )
        endpoint = self.provider.authorization_endpoint(self)
        return endpoint + ("&" if "?" in endpoint else "?") + urlencode(params)

    def redeem(self, *, code: str, redirect_uri: str, verifier: str, nonce: str | None, now: float) -> dict[str, t.Any]:
        """The provider's :meth:`~oauth_middleware.providers.Provider.redeem` of ``code``."""
        return self.provider.redeem(self, code=code, redirect_uri=redirect_uri, verifier=verifier, nonce=nonce, now=now)

    def exchange_code(self, *, code: str, redirect_uri: str, verifier: str, now: float) -> dict[str, t.Any]:
        """Redeem ``code`` once (never retried) and return the validated token dict.

        The token has ``access_token``, ``token_type`` (``"bearer"``), ``scope`` (the granted
        scopes, a list) and, for expiring tokens, ``expires_at``, ``refresh_token`` and
        ``refresh_token_expires_at`` (seconds since the epoch).
        """
        token_url = self.current_token_url()  # first: it may mount the http alias the session copies
        oauth = self._oauth_session(redirect_uri=redirect_uri)
        return self._token_call(
            lambda: oauth.fetch_token(
                token_url,
                code=code,
                code_verifier=verifier,
                **self._client_auth(),
                timeout=request_timeout(self.timeout),
                headers=_TOKEN_HEADERS,
            ),
            now=now,
        )

    def refresh(
        self, refresh_token: str, *, now: float, previous: t.Mapping[str, t.Any] | None = None
    ) -> dict[str, t.Any]:
        """The provider's :meth:`~oauth_middleware.providers.Provider.refresh`: a new token
        dict for a (maybe single-use) refresh token of the token ``previous``; never retried."""
        return self.provider.refresh(self, refresh_token, now=now, previous=previous)

    def _client_auth(self) -> dict[str, t.Any]:
        """How the token request authenticates this client: in the body (GitHub's way, the
        default) or with HTTP Basic (``client_secret_basic``)."""
        if self.provider.token_auth_method(self) == "client_secret_basic":
            return {"include_client_id": False, "client_secret": self.client_secret}
        return {"include_client_id": True, "client_secret": self.client_secret}

    def refresh_grant(self, refresh_token: str, *, now: float) -> dict[str, t.Any]:
        """The ``refresh_token`` grant at the token endpoint; never retried."""
        token_url = self.current_token_url()  # first: it may mount the http alias the session copies
        oauth = self._oauth_session()
        if self.provider.token_auth_method(self) == "client_secret_basic":
            credentials: dict[str, t.Any] = {"auth": requests.auth.HTTPBasicAuth(self.client_id, self.client_secret)}
        else:
            credentials = {"client_id": self.client_id, "client_secret": self.client_secret}
        return self._token_call(
            lambda: oauth.refresh_token(
                token_url,
                refresh_token=refresh_token,
                timeout=request_timeout(self.timeout),
                headers=_TOKEN_HEADERS,
                **credentials,
            ),
            now=now,
        )

    def revoke(self, token: str | t.Mapping[str, t.Any]) -> None:
        """Revoke a token (the session's token dict, or an access token) at the provider."""
        self.provider.revoke(self, {"access_token": token} if isinstance(token, str) else token)

    def _oauth_session(self, redirect_uri: str | None = None) -> OAuth2Session:
        oauth = OAuth2Session(self.client_id, redirect_uri=redirect_uri, scope=list(self.scope))
        forget_cookies(oauth)
        for prefix, adapter in self.http.adapters.items():
            oauth.mount(prefix, adapter)
        oauth.headers.update(self.http.headers)
        oauth.hooks["response"].append(_read_capped)  # runs before requests reads the whole body
        oauth.max_redirects = 0  # a redirect would re-send the code and secret elsewhere: refuse it
        normalise = functools.partial(_normalise_token_response, provider=self.provider)
        oauth.register_compliance_hook("access_token_response", normalise)
        oauth.register_compliance_hook("refresh_token_response", normalise)
        return oauth

    def _token_call(self, call: t.Callable[[], t.Any], *, now: float) -> dict[str, t.Any]:
        with provider_call(self.timeout, self.provider.display_name):
            try:
                token = call()
            except Warning as warning:
                # granted scopes differ from the requested ones: keep what was granted
                granted = getattr(warning, "token", None)
                if not isinstance(granted, dict):
                    raise ProviderError() from None
                token = granted
            except OAuth2Error as exc:
                raise ProviderError("{provider} refused the token request (%s)." % _safe_code(exc.error)) from None
            except (ValueError, TypeError, OverflowError):
                raise ProviderError(UNREADABLE_TOKEN_ANSWER) from None
        return _clean_token(dict(token), now=now)

    def identify(self, token: t.Mapping[str, t.Any], *, with_groups: bool) -> Identity:
        """The provider's :class:`~oauth_middleware.providers.Identity` of ``token``'s owner;
        ``with_groups``: memberships filled in (fetched if the identity brought none)."""
        identity = self.provider.identity(self, token)
        if with_groups and not identity.groups:
            identity = dataclasses.replace(identity, groups=tuple(self.provider.groups(self, token)))
        return identity

    def fetch_profile(self, token: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        """The trimmed profile of the user owning ``token``."""
        return self.provider.fetch_profile(
            self.http, token["access_token"], scopes=token.get("scope", ()), timeout=self.timeout
        )

    def fetch_groups(self, token: t.Mapping[str, t.Any]) -> list[str]:
        """The user's memberships, e.g. ``["octo-org", "octo-org/ops"]``."""
        return self.provider.fetch_groups(self.http, token["access_token"], timeout=self.timeout)


def _safe_code(code: object) -> str:
    text = str(code)
    return text if text.replace("_", "").isalnum() and len(text) <= 64 else "unknown error"


def _read_capped(response: requests.Response, *args: t.Any, **kwargs: t.Any) -> requests.Response:
    """Response hook on token calls: read at most :data:`MAX_BODY_BYTES` of the body."""
    body = response.raw.read(MAX_BODY_BYTES + 1, decode_content=True)
    if len(body) > MAX_BODY_BYTES:
        response.close()
        log.warning("token endpoint answered more than %d bytes", MAX_BODY_BYTES)
        raise ProviderError(UNREADABLE_TOKEN_ANSWER)
    response._content = body
    return response


def _normalise_token_response(response: requests.Response, *, provider: Provider) -> requests.Response:
    """Compliance hook: validate the token answer (GitHub's errors come with HTTP 200) and hand
    oauthlib clean JSON. Error codes become ``provider``'s messages."""
    if response.status_code != 200:
        log.warning("token endpoint answered HTTP %d", response.status_code)
        raise ProviderError()
    if len(response.content) > MAX_BODY_BYTES:
        raise ProviderError(UNREADABLE_TOKEN_ANSWER)
    content_type = response.headers.get("Content-Type", "")
    data: object
    try:
        if "json" in content_type:
            data = json.loads(response.content)
        elif "x-www-form-urlencoded" in content_type:
            data = dict(parse_qsl(response.content.decode("utf-8"), keep_blank_values=True))
        else:
            raise ValueError(content_type)
    except ValueError:
        log.warning(
            "token endpoint answered an unreadable body (%s)", for_log(content_type.split(";")[0], 64) or "no type"
        )
        raise ProviderError(UNREADABLE_TOKEN_ANSWER) from None
    if not isinstance(data, dict):
        raise ProviderError(UNREADABLE_TOKEN_ANSWER)
    if "error" in data:
        code = _safe_code(data["error"])
        if provider.is_misconfiguration(code):
            log.error("token request refused: %s (check client_id, client_secret and the callback URL)", code)
        else:
            log.warning("token request refused: %s", code)
        raise TokenRefused(provider.token_error(code), code=code)
    access_token = data.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        log.warning("token response without an access_token")
        raise ProviderError()
    token_type = data.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        log.warning("token response with an unsupported token_type")
        raise ProviderError()
    if isinstance(data.get("scope"), str):
        data["scope"] = " ".join(s for s in data["scope"].replace(",", " ").split() if s)
    response._content = json.dumps(data).encode()
    response.headers["Content-Type"] = "application/json"
    return response


_TOKEN_HEADERS = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}


def _clean_token(token: dict[str, t.Any], *, now: float) -> dict[str, t.Any]:
    """The token fields worth keeping: ``scope`` as the list of granted scopes, lifetimes
    (GitHub may send them as strings) turned into absolute ``expires_at`` times, and an OpenID
    Connect ``id_token`` (shown to the app; validated by the provider that asked for it)."""
    scope = token.get("scope") or []
    if isinstance(scope, str):
        scope = scope.replace(",", " ").split()
    kept: dict[str, t.Any] = {
        "access_token": token["access_token"],
        "token_type": "bearer",
        "scope": [s for s in scope if isinstance(s, str) and s],
    }
    refresh_token = token.get("refresh_token")
    if isinstance(refresh_token, str) and refresh_token:
        kept["refresh_token"] = refresh_token
    id_token = token.get("id_token")
    if isinstance(id_token, str) and id_token:
        kept["id_token"] = id_token
    for lifetime, deadline in (("expires_in", "expires_at"), ("refresh_token_expires_in", "refresh_token_expires_at")):
        seconds = _seconds(token.get(lifetime))
        if seconds is not None:
            kept[deadline] = int(now + seconds)
    return kept


def _seconds(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and value > 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit() and int(value) > 0:
        return int(value)
    return None


#: Most pages followed through ``Link: rel="next"`` for one list (100 items each).
MAX_PAGES = 10


def api_get(
    provider: Provider,
    http: requests.Session,
    path: str,
    access_token: str,
    *,
    timeout: float | tuple[float, float],
) -> t.Any:
    """GET an API path with a Bearer token; return the parsed JSON or raise ProviderError."""
    return api_request(provider, http, "GET", provider.api_url(path), access_token, timeout=timeout)[0]


def api_get_all(
    provider: Provider,
    http: requests.Session,
    path: str,
    access_token: str,
    *,
    timeout: float | tuple[float, float],
) -> list[t.Any]:
    """GET a paginated list (``per_page=100``), following ``Link: rel="next"`` on the API's own host."""
    url = provider.api_url(path) + ("&" if "?" in path else "?") + "per_page=100"
    items: list[t.Any] = []
    for _ in range(MAX_PAGES):
        page, response = api_request(provider, http, "GET", url, access_token, timeout=timeout)
        if not isinstance(page, list):
            raise ProviderError("{provider} answered with something unreadable.")
        items.extend(page)
        next_url = response.links.get("next", {}).get("url")
        if not next_url:
            return items
        if not next_url.startswith(provider.api_base_url):  # never send the token elsewhere
            log.warning("ignoring a pagination link to another host")
            return items
        url = next_url
    log.warning("stopped following %s after %d pages", for_log(path), MAX_PAGES)
    return items


def api_request(
    provider: Provider,
    http: requests.Session,
    method: str,
    url: str,
    access_token: str | None,
    *,
    timeout: float | tuple[float, float],
    auth: tuple[str, str] | None = None,
    json_body: t.Any = None,
    form_body: t.Mapping[str, str] | None = None,
) -> tuple[t.Any, requests.Response]:
    """One API call; returns (parsed JSON or None for an empty body, response).

    Raises :class:`TokenRevoked` on 401, :class:`ProviderError` on any other non-2xx answer,
    unreadable or oversized body (with ``Retry-After`` when rate limited).
    """
    headers = dict(provider.api_headers)
    if access_token is not None:
        headers["Authorization"] = "Bearer " + access_token
    name = provider.display_name
    with provider_call(timeout, name):
        response = http.request(
            method,
            url,
            headers=headers,
            timeout=request_timeout(timeout),
            stream=True,
            allow_redirects=False,
            auth=auth,
            json=json_body,
            data=form_body,
        )
        try:
            body = response.raw.read(MAX_BODY_BYTES + 1, decode_content=True)
        finally:
            response.close()
    status = response.status_code
    path = urlsplit(url).path
    if not 200 <= status < 300:
        limited = provider.rate_limit(status, response.headers, now=time.time())
        if limited is not None:
            log.warning("%s API rate limit reached (%s %s)", name, status, for_log(path))
            raise limited
        log.warning("%s API answered HTTP %d for %s", name, status, for_log(path))
        if status == 401:
            raise TokenRevoked()
        raise ProviderError()
    if len(body) > MAX_BODY_BYTES:
        log.warning("%s API answered more than %d bytes for %s", name, MAX_BODY_BYTES, for_log(path))
        raise ProviderError("{provider} answered with an unexpectedly large response.")
    if not body.strip():
        return None, response
    try:
        return json.loads(body), response
    except ValueError:
        log.warning("%s API answered unreadable JSON for %s", name, for_log(path))
        raise ProviderError("{provider} answered with something unreadable.") from None
