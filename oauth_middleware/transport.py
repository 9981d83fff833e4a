"""The HTTP transport to the provider: one pooled session that keeps no cookies, a total
deadline per call (not only per socket read), and requests-oauthlib's DEBUG records kept out of
the logs while a call runs (security.md ERR-9, ERR-11, URL-4).

:func:`make_http_session` builds the session every provider call of a middleware goes through;
:func:`provider_call` wraps one call: it sets the deadline the adapters enforce and turns requests'
failures into :class:`~oauth_middleware.errors.ProviderError` / ``ProviderTimeout`` without the
request (which holds the code) attached.
"""

from __future__ import annotations

import contextlib
import contextvars
import http.client
import io
import logging
import socket
import time
import typing as t
from http.cookiejar import Cookie, DefaultCookiePolicy

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .errors import ProviderError, ProviderTimeout

log = logging.getLogger("oauth_middleware.oauth")  # the provider-call lines keep their logger name

# -- keeping requests-oauthlib's DEBUG records (bodies, headers, tokens) out of the logs ----------

_quiet = contextvars.ContextVar("oauth_middleware_quiet", default=False)


class _DropDuringProviderCalls(logging.Filter):
    """Drops requests-oauthlib's records while this package is talking to the provider.

    requests-oauthlib logs the token request body (code, client secret, verifier), the request
    headers (Basic credentials) and the token response at DEBUG. Only records emitted inside our
    own calls are dropped; the library logs normally for anyone else in the process.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not _quiet.get()


_FILTER = _DropDuringProviderCalls()
for _name in ("requests_oauthlib.oauth2_session", "oauthlib"):
    _logger = logging.getLogger(_name)
    if not any(isinstance(f, _DropDuringProviderCalls) for f in _logger.filters):
        _logger.addFilter(_FILTER)


# -- one deadline per provider call (security.md ERR-9) --------------------------------------------

#: ``time.monotonic()`` by which the provider call running in this context must be done.
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("oauth_middleware_deadline", default=None)


def call_budget(timeout: float | tuple[float, float]) -> float:
    """Seconds one provider call may take in all: ``timeout``, or ``connect + read`` for a pair."""
    return float(timeout) if isinstance(timeout, (int, float)) else float(timeout[0] + timeout[1])


def request_timeout(timeout: float | tuple[float, float]) -> tuple[float, float]:
    """requests' ``(connect, read)`` for the rest of the current call: both within its deadline."""
    deadline = _deadline.get()
    left = call_budget(timeout) if deadline is None else max(0.001, deadline - time.monotonic())
    connect = float(timeout) if isinstance(timeout, (int, float)) else float(timeout[0])
    return (min(connect, left), left)


class _DeadlineReader(io.RawIOBase):
    """A provider answer's socket, read only until the current call's deadline: each read waits
    at most for the time left, so a server dripping bytes cannot stretch the call."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self._sock = sock
        # the socket's own reader: it keeps the socket open while the answer is read, as
        # http.client expects of makefile() (the connection may close its end first)
        self._raw = sock.makefile("rb", buffering=0)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: t.Any) -> int | None:
        deadline = _deadline.get()
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the provider call ran out of time")  # socket.timeout
            self._sock.settimeout(left)
        return self._raw.readinto(buffer)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class _DeadlineSocket:
    """What :class:`http.client.HTTPResponse` needs of a socket: ``makefile("rb")``."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def makefile(self, mode: str, *args: t.Any, **kwargs: t.Any) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock))


class _DeadlineResponse(http.client.HTTPResponse):
    """Reads the status line, headers and body through :class:`_DeadlineReader`."""

    def __init__(self, sock: socket.socket, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(t.cast(socket.socket, _DeadlineSocket(sock)), *args, **kwargs)


class _DeadlineHTTPConnection(HTTPConnection):
    response_class = _DeadlineResponse


class _DeadlineHTTPSConnection(HTTPSConnection):
    response_class = _DeadlineResponse


class _DeadlineHTTPPool(HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


_DEADLINE_POOLS = {"http": _DeadlineHTTPPool, "https": _DeadlineHTTPSPool}


class _DeadlineAdapter(HTTPAdapter):
    """requests' adapter, with connections whose answers are read within the call's deadline."""

    def init_poolmanager(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _DEADLINE_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: t.Any) -> t.Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS managers bring their own pool classes
            manager.pool_classes_by_scheme = _DEADLINE_POOLS
        return manager


@contextlib.contextmanager
def _provider_call(timeout: float | tuple[float, float], provider: str = "the provider") -> t.Iterator[None]:
    """One call to the provider: quiet requests-oauthlib, a deadline of ``timeout`` in all
    (:func:`call_budget`), and requests' failures turned into our errors.

    :param provider: the provider's display name, for log lines."""
    token = _quiet.set(True)
    deadline = _deadline.set(time.monotonic() + call_budget(timeout))
    try:
        yield
    # requests' exceptions carry the request, and so the body with the code: never chain them
    except (requests.Timeout, urllib3.exceptions.TimeoutError):
        log.warning("%s did not answer in time", provider)
        raise ProviderTimeout() from None
    except (requests.ConnectionError, urllib3.exceptions.ProtocolError):
        log.warning("%s could not be reached", provider)
        raise ProviderError("{provider} could not be reached. Please try again in a moment.") from None
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        log.warning("request to %s failed: %s", provider, type(exc).__name__)
        raise ProviderError() from None
    finally:
        _deadline.reset(deadline)
        _quiet.reset(token)


# -- transport -----------------------------------------------------------------------------------


class PlainHTTPAlias(_DeadlineAdapter):
    """Sends requests for ``https://ALIAS/...`` to ``http://HOST/...`` (local development only)."""

    def __init__(self, alias_prefix: str, real_prefix: str) -> None:
        super().__init__()
        self.alias_prefix = alias_prefix
        self.real_prefix = real_prefix

    def send(self, request: requests.PreparedRequest, *args: t.Any, **kwargs: t.Any) -> requests.Response:
        if request.url and request.url.startswith(self.alias_prefix):
            request.url = self.real_prefix + request.url[len(self.alias_prefix) :]
        return super().send(request, *args, **kwargs)


class _NoCookies(DefaultCookiePolicy):
    """A cookie policy that neither stores nor sends any cookie (security.md ERR-11)."""

    def set_ok(self, cookie: Cookie, request: t.Any) -> bool:
        return False

    def return_ok(self, cookie: Cookie, request: t.Any) -> bool:
        return False


def forget_cookies(session: requests.Session) -> None:
    """Make ``session``'s cookie jar refuse every cookie, so no call carries another's state."""
    session.cookies.set_policy(_NoCookies())


def make_http_session(pool_size: int = 10) -> requests.Session:
    """One pooled HTTP session per middleware, shared by all threads for provider calls.

    Its connections are shared; its cookie jar is not a jar: a cookie a provider sets on one
    user's call is never stored, so it can never ride along with another user's call.
    """
    http = requests.Session()
    forget_cookies(http)
    adapter = _DeadlineAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    http.mount("https://", adapter)
    http.mount("http://", adapter)  # one pool manager serves both schemes (pools are keyed by scheme)
    http.headers["User-Agent"] = "oauth-middleware"
    return http


provider_call = _provider_call
