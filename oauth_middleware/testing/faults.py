"""A fault-injecting transport adapter for :mod:`requests`: outages, slow bodies, canned answers.

:class:`FaultAdapter` sits in a :class:`requests.Session` in front of another adapter (a
:class:`~oauth_middleware.testing.WSGITransportAdapter` serving a fake, say, or nothing). Rules
decide what a request gets instead of the real answer: a timeout, a connection error, a canned
answer (any status, headers and body, a 5xx included), a body that drips in slowly or stalls
part-way. Every request is recorded, whoever answers it.

.. code-block:: python

    fake = FakeGitHub(auto_approve=True)
    faults = FaultAdapter(WSGITransportAdapter(fake))
    middleware.http.mount(fake.base_url + "/", faults)

    faults.timeout("/login/oauth/access_token")        # the token call times out
    faults.answer("/api/v3/user", status=503)          # the API is down
    rule = faults.refuse("/api/v3/user/orgs", times=1)  # one connection error, then the fake
    ...
    assert rule.call_count == 1 and faults.calls[-1].path == "/api/v3/user/orgs"
"""

from __future__ import annotations

import dataclasses
import io
import json as jsonlib
import re
import threading
import time
import typing as t
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import parse_qs, urlsplit

import requests
import requests.adapters

from .transport import make_response

#: What a handler returns: ``(status, headers, body)``; the body may be bytes, text, a binary
#: file-like object, or an exception instance to raise instead of answering.
Answer = tuple[int, Mapping[str, str] | Sequence[tuple[str, str]], t.Any]
#: A handler: an :data:`Answer` for the request, or ``None`` to let the request through.
Handler = Callable[[requests.PreparedRequest], "Answer | None"]
#: What a rule matches: a URL prefix (``https://host/path``), a path prefix (``/path``), a
#: compiled pattern searched in the whole URL, or a predicate on the request.
Match = t.Union[str, "re.Pattern[str]", Callable[[requests.PreparedRequest], bool]]


@dataclasses.dataclass
class Call:
    """One request that reached a :class:`FaultAdapter`, with the arguments requests gave it."""

    request: requests.PreparedRequest
    timeout: t.Any
    verify: t.Any
    #: the rule that answered it, or ``None`` when it went through to the inner adapter.
    rule: Rule | None = None

    @property
    def method(self) -> str:
        return self.request.method or ""

    @property
    def url(self) -> str:
        return self.request.url or ""

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def headers(self) -> Mapping[str, str]:
        return self.request.headers

    @property
    def body(self) -> bytes:
        body = self.request.body
        if body is None:
            return b""
        return body.encode("utf-8") if isinstance(body, str) else bytes(body)

    def form(self) -> dict[str, list[str]]:
        """The body parsed as a form (``application/x-www-form-urlencoded``)."""
        return parse_qs(self.body.decode("utf-8"))


@dataclasses.dataclass(eq=False)
class Rule:
    """A fault in force on a :class:`FaultAdapter`; returned by its methods to inspect or remove."""

    match: Match
    handler: Handler
    method: str | None = None
    #: how many more requests it applies to (``None``: no limit).
    times: int | None = None
    #: runs before the rule acts (for example to hold a request at a barrier).
    before: Callable[[], None] | None = None
    calls: list[Call] = dataclasses.field(default_factory=list)

    @property
    def call_count(self) -> int:
        """How many requests this rule has answered."""
        return len(self.calls)

    def matches(self, request: requests.PreparedRequest) -> bool:
        if self.method is not None and (request.method or "").upper() != self.method.upper():
            return False
        if self.times is not None and self.times <= 0:
            return False
        url = request.url or ""
        if isinstance(self.match, str):
            if self.match.startswith("/"):
                return urlsplit(url).path.startswith(self.match)
            return url.startswith(self.match)
        if isinstance(self.match, re.Pattern):
            return self.match.search(url) is not None
        return bool(self.match(request))


class Drip(io.RawIOBase):
    """A body served ``chunk_size`` bytes per read, ``delay`` seconds apart; after
    ``stall_after`` bytes every read times out, as a socket whose peer went silent does.
    """

    def __init__(self, body: bytes, *, chunk_size: int, delay: float, stall_after: int | None) -> None:
        self.body = body
        self.chunk_size = chunk_size
        self.delay = delay
        self.stall_after = stall_after
        #: bytes handed out so far.
        self.served = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: t.Any) -> int:
        if self.stall_after is not None and self.served >= self.stall_after:
            raise TimeoutError("timed out")  # urllib3 turns it into ReadTimeoutError, as for a socket
        if self.delay:
            time.sleep(self.delay)
        limit = len(self.body) if self.stall_after is None else min(len(self.body), self.stall_after)
        n = min(len(buffer), self.chunk_size, limit - self.served)
        if n <= 0:
            return 0
        buffer[:n] = self.body[self.served : self.served + n]
        self.served += n
        return n


class FaultAdapter(requests.adapters.BaseAdapter):
    """A :mod:`requests` transport adapter that injects faults in front of ``inner``.

    Rules are tried newest first; the first that matches answers. A request no rule matches goes
    to ``inner``, or, without one, fails with a :class:`requests.ConnectionError` naming it (so a
    test never reaches the network by accident). Thread-safe.

    .. code-block:: python

        faults = FaultAdapter()                      # canned answers only
        session.mount("https://api.example/", faults)
        faults.answer("https://api.example/user", json={"login": "octocat"})
        faults.drip("https://api.example/big", b"x" * 100, chunk_size=10, stall_after=50)
        assert faults.calls[0].headers["Authorization"] == "Bearer ..."

    :param inner: the adapter that answers requests no rule takes.
    """

    def __init__(self, inner: requests.adapters.BaseAdapter | None = None) -> None:
        super().__init__()
        self.inner = inner
        self.rules: list[Rule] = []
        #: every request received, oldest first.
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    # -- rules ---------------------------------------------------------------------------------

    def respond(
        self,
        match: Match,
        handler: Handler,
        *,
        method: str | None = None,
        times: int | None = None,
        before: Callable[[], None] | None = None,
    ) -> Rule:
        """Answer matching requests from ``handler(request)``; ``None`` from it lets one through.

        :param match: which URLs (see :data:`Match`).
        :param handler: returns an :data:`Answer` or ``None``.
        :param method: only this HTTP method.
        :param times: only this many requests, then the rule lapses.
        :param before: called before each answer.
        """
        rule = Rule(match, handler, method=method, times=times, before=before)
        with self._lock:
            self.rules.append(rule)
        return rule

    def answer(
        self,
        match: Match,
        *,
        status: int = 200,
        headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        body: bytes | str | t.IO[bytes] = b"",
        json: t.Any = None,
        **options: t.Any,
    ) -> Rule:
        """A canned answer: ``status`` with ``headers`` and ``body``, or ``json`` serialised (with a
        JSON ``Content-Type`` unless ``headers`` has one).

        A 5xx is ``answer(match, status=503)``. Takes ``method``, ``times`` and ``before`` too.
        """
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers or ())
        if json is not None:
            body = jsonlib.dumps(json)
            if not any(name.lower() == "content-type" for name, _ in pairs):
                pairs.append(("Content-Type", "application/json; charset=utf-8"))
        answer: Answer = (status, pairs, body)
        return self.respond(match, lambda request: answer, **options)

    def fail(self, match: Match, error: BaseException, **options: t.Any) -> Rule:
        """Raise ``error`` instead of answering (a :mod:`requests` exception, typically)."""
        return self.respond(match, lambda request: (0, {}, error), **options)

    def timeout(self, match: Match, *, connect: bool = False, **options: t.Any) -> Rule:
        """Time out: :class:`requests.ReadTimeout` (no answer in time), or
        :class:`requests.ConnectTimeout` with ``connect=True``."""
        error = requests.ConnectTimeout("connect timed out") if connect else requests.ReadTimeout("read timed out")
        return self.fail(match, error, **options)

    def refuse(self, match: Match, **options: t.Any) -> Rule:
        """Fail to connect: :class:`requests.ConnectionError` (the service is down)."""
        return self.fail(match, requests.ConnectionError("connection refused"), **options)

    def drip(
        self,
        match: Match,
        body: bytes,
        *,
        status: int = 200,
        headers: Mapping[str, str] | Sequence[tuple[str, str]] = (("Content-Type", "application/json"),),
        chunk_size: int = 1,
        delay: float = 0.0,
        stall_after: int | None = None,
        **options: t.Any,
    ) -> Rule:
        """Answer at once with headers, then deliver ``body`` slowly: ``chunk_size`` bytes per
        read, ``delay`` seconds apart; with ``stall_after``, reading past that many bytes times
        out (urllib3's ``ReadTimeoutError`` from ``raw.read``, as a stalled socket gives).
        """

        def handler(request: requests.PreparedRequest) -> Answer:
            stream = Drip(body, chunk_size=chunk_size, delay=delay, stall_after=stall_after)
            return status, headers, stream

        return self.respond(match, handler, **options)

    def remove(self, rule: Rule) -> None:
        """Lift ``rule``: matching requests reach ``inner`` again."""
        with self._lock:
            if rule in self.rules:
                self.rules.remove(rule)

    def clear(self) -> None:
        """Lift every rule (the record of calls is kept)."""
        with self._lock:
            self.rules.clear()

    # -- transport -----------------------------------------------------------------------------

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Answer ``request`` by the first matching rule, else through ``inner``."""
        call = Call(request, timeout, verify)
        with self._lock:
            self.calls.append(call)
            rules = list(reversed(self.rules))
        for rule in rules:
            with self._lock:
                if not rule.matches(request):
                    continue
                if rule.times is not None:
                    rule.times -= 1  # taken now, so that two threads cannot both use the last one
            if rule.before is not None:
                rule.before()
            answer = rule.handler(request)
            with self._lock:
                if answer is None:
                    if rule.times is not None:
                        rule.times += 1
                    continue
                rule.calls.append(call)
                call.rule = rule
            status, headers, body = answer
            if isinstance(body, BaseException):
                raise body
            if isinstance(body, str):
                body = body.encode("utf-8")
            return make_response(request, status, headers, body, adapter=self)
        if self.inner is None:
            raise requests.ConnectionError("FaultAdapter: nothing answers %s %s" % (request.method, request.url))
        return self.inner.send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies)

    def close(self) -> None:
        """Close ``inner``."""
        if self.inner is not None:
            self.inner.close()
