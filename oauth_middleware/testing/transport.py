"""A public, generic transport adapter: any WSGI application in a :class:`requests.Session`.

.. code-block:: python

    http = requests.Session()
    http.mount("https://app.test/", WSGITransportAdapter(flask_app, script_name="/prefix"))
    http.get("https://app.test/prefix/hello")  # the app sees PATH_INFO /hello

:func:`make_response` builds a :class:`requests.Response` as the real stack would (headers,
cookies, a streamable ``raw``); :class:`~oauth_middleware.testing.FaultAdapter` uses it too.
"""

from __future__ import annotations

import http.client
import io
import sys
import typing as t
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import unquote_to_bytes, urlsplit

import requests
import requests.adapters
import requests.cookies
import requests.utils
from requests.structures import CaseInsensitiveDict
from urllib3.response import HTTPResponse

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


class _Body(io.RawIOBase):
    """A response body that closes itself once read to its end, as :mod:`http.client`'s does:
    urllib3 streams (``iter_content(None)``, ``raw.stream()``) until the body is closed.
    """

    def __init__(self, source: t.IO[bytes]) -> None:
        super().__init__()
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: t.Any) -> int:
        if self.closed:
            return 0
        data = self._source.read(len(buffer))
        if not data:
            self.close()
            return 0
        buffer[: len(data)] = data
        return len(data)

    def read1(self, size: int = -1) -> bytes:
        """What one read of a socket would give (urllib3's ``read1`` streaming asks for it)."""
        if self.closed:
            return b""
        data = self._source.read(size if size is not None and size >= 0 else io.DEFAULT_BUFFER_SIZE)
        if not data:
            self.close()
        return data

    def close(self) -> None:
        if not self.closed:
            self._source.close()
        super().close()


class _OriginalResponse:
    """The bits of :class:`http.client.HTTPResponse` that requests and urllib3 read."""

    def __init__(self, msg: http.client.HTTPMessage) -> None:
        self.msg = msg
        self._closed = False

    def close(self) -> None:
        self._closed = True

    def isclosed(self) -> bool:
        return self._closed


def make_response(
    request: requests.PreparedRequest,
    status: int | str,
    headers: Mapping[str, str] | Sequence[tuple[str, str]] = (),
    body: bytes | t.IO[bytes] = b"",
    *,
    adapter: requests.adapters.BaseAdapter | None = None,
) -> requests.Response:
    """A :class:`requests.Response` to ``request``, built the way requests builds a real one.

    Repeated headers are joined with ``", "``, ``Set-Cookie`` headers reach the response's (and
    the session's) cookie jar, and ``raw`` is a urllib3 response over ``body``, so
    ``stream=True``, ``iter_content`` and ``raw.read`` behave as over a socket.

    .. code-block:: python

        make_response(request, 200, {"Content-Type": "application/json"}, b"{}")

    :param request: the request being answered.
    :param status: a status code, or a status line such as ``"404 Not Found"``.
    :param headers: the answer's headers, a mapping or ``(name, value)`` pairs.
    :param body: the body, as bytes or as a binary file-like object read on demand.
    :param adapter: the adapter answering (``response.connection``).
    """
    if isinstance(status, str):
        code_text, _, reason = status.partition(" ")
        code = int(code_text)
    else:
        code, reason = status, http.client.responses.get(status, "")
    header_list = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    message = http.client.HTTPMessage()
    for name, value in header_list:
        message[name] = value
    url = request.url or "/"
    raw = HTTPResponse(
        body=_Body(io.BytesIO(body) if isinstance(body, bytes) else body),
        headers=t.cast(t.Any, header_list),  # urllib3 builds its own header dict from the pairs
        status=code,
        reason=reason,
        preload_content=False,
        decode_content=False,
        request_method=request.method,
        request_url=url,
        # requests' Session copies cookies from ``raw._original_response.msg``.
        original_response=t.cast(t.Any, _OriginalResponse(message)),
    )
    response = requests.Response()
    response.status_code = code
    response.reason = reason
    # Repeated headers are joined with ", ", as requests does for real answers.
    response.headers = CaseInsensitiveDict(raw.headers)
    response.raw = raw
    response.encoding = requests.utils.get_encoding_from_headers(response.headers)
    response.url = url
    response.request = request
    if adapter is not None:
        response.connection = t.cast(t.Any, adapter)  # typed as HTTPAdapter; any adapter works
    response.cookies.extract_cookies(
        t.cast(t.Any, requests.cookies.MockResponse(message)),
        t.cast(t.Any, requests.cookies.MockRequest(request)),
    )
    return response


class WSGITransportAdapter(requests.adapters.BaseAdapter):
    """Route :mod:`requests` calls into a WSGI application in-process, without a socket.

    Like ``wsgiadapter``/``requests-wsgi-adapter``: each request becomes a WSGI environ (method,
    path, query, headers as ``HTTP_*``, body as ``wsgi.input``, scheme/host/port from the URL),
    the application is called, and its answer becomes a :class:`requests.Response`.

    .. code-block:: python

        http = requests.Session()
        http.mount("https://app.test/", WSGITransportAdapter(flask_app, script_name="/prefix"))
        http.get("https://app.test/prefix/hello")  # PATH_INFO is /hello

    ``timeout``, ``verify``, ``cert`` and ``proxies`` are accepted and ignored.

    :param app: the WSGI application to call.
    :param script_name: a mount prefix; URL paths under it are split into ``SCRIPT_NAME`` and
        ``PATH_INFO``.
    :param remote_addr: the ``REMOTE_ADDR`` the application sees.
    """

    def __init__(self, app: WSGIApplication, *, script_name: str = "", remote_addr: str = "127.0.0.1") -> None:
        super().__init__()
        self.app = app
        self.script_name = script_name.rstrip("/")
        self.remote_addr = remote_addr

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Call the application with ``request`` and return its answer."""
        url = request.url or "/"
        environ = self._environ(request, url)
        status_line = "500 Internal Server Error"
        header_list: list[tuple[str, str]] = []
        written: list[bytes] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: t.Any = None
        ) -> Callable[[bytes], object]:
            nonlocal status_line, header_list
            status_line = status
            header_list = list(headers)
            return written.append

        result = self.app(environ, start_response)
        try:
            for chunk in result:
                written.append(chunk)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return make_response(request, status_line, header_list, b"".join(written), adapter=self)

    def _environ(self, request: requests.PreparedRequest, url: str) -> dict[str, t.Any]:
        parts = urlsplit(url)
        scheme = parts.scheme or "http"
        port = parts.port or (443 if scheme == "https" else 80)
        path = unquote_to_bytes(parts.path or "/").decode("latin-1")
        script_name = ""
        if self.script_name and (path == self.script_name or path.startswith(self.script_name + "/")):
            script_name, path = self.script_name, path[len(self.script_name) :]
        body = request.body
        if body is None:
            data = b""
        elif isinstance(body, str):
            data = body.encode("utf-8")
        elif isinstance(body, bytes):
            data = body
        elif hasattr(body, "read"):
            data = body.read()
        else:
            data = b"".join(chunk.encode("utf-8") if isinstance(chunk, str) else chunk for chunk in body)
        environ: dict[str, t.Any] = {
            "REQUEST_METHOD": request.method or "GET",
            "SCRIPT_NAME": script_name,
            "PATH_INFO": path,
            "QUERY_STRING": parts.query,
            "SERVER_NAME": parts.hostname or "localhost",
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": self.remote_addr,
            "HTTP_HOST": parts.netloc.rpartition("@")[2],
            "CONTENT_LENGTH": str(len(data)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": scheme,
            "wsgi.input": io.BytesIO(data),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in request.headers.items():
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = value
            elif key == "CONTENT_LENGTH":
                continue  # the real length of the body is set above
            else:
                environ["HTTP_" + key] = value
        return environ

    def close(self) -> None:
        """Nothing to release: no connection is ever opened."""
