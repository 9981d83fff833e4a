"""The `github` fixture's object: FakeGitHub answering as github.com, behind a FaultAdapter.

While the fixture is active every request the real HTTP stack would send
(``requests.adapters.HTTPAdapter.send``) goes to :attr:`GitHubDouble.faults` instead, as with
`responses`: ``https://github.com/`` and ``https://api.github.com/`` reach the fake, anything
else is a connection error. Tests shape the answers with the attributes GitHubMock had:

- ``token_body``: the token endpoint's answer, a dict (JSON) or ``(status, headers, body)``
  (the body may be an exception to raise). It is always this canned answer: the tests redeem
  codes the fake never issued. The fake learns the access token handed out, so its API accepts it.
- ``user_body``: ``/user``. While it equals the fake's own answer (GitHub's documented example,
  ``user_private.json``) the fake serves it; set anything else and that is served instead.
- ``token_calls`` (each token request's form) and ``user_calls`` (each ``/user`` request's headers).
- ``faults`` for anything else (``github.faults.timeout(TOKEN_URL)``...), ``calls`` for every request.
- ``rsps``: ``add``/``add_callback``/``replace``/``calls`` as on the old `responses` mock.
"""

from __future__ import annotations

import copy
import json
import re
import typing as t
from urllib.parse import parse_qs

import pytest
import requests
import requests.adapters

from oauth_middleware.testing import FakeGitHub, FakeUser, FaultAdapter, WSGITransportAdapter
from oauth_middleware.testing.faults import Answer, Call, Rule

from .common import CLIENT_ID, CLIENT_SECRET, TOKEN, TOKEN_URL, USER_URL, example

JSON = {"Content-Type": "application/json; charset=utf-8"}
HOSTS = ("https://github.com/", "https://api.github.com/")


def route_requests(monkeypatch: pytest.MonkeyPatch, adapter: requests.adapters.BaseAdapter) -> None:
    """Send what every ``HTTPAdapter`` would send over the network to ``adapter`` instead."""

    def send(_: requests.adapters.HTTPAdapter, request: requests.PreparedRequest, **kwargs: t.Any) -> t.Any:
        return adapter.send(request, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)


def documented_octocat() -> FakeUser:
    """octocat, whose ``/user`` answer is GitHub's documented example body."""
    profile = example("user_private.json")
    return FakeUser(
        profile["login"], profile["id"], name=profile["name"], email=profile["email"], profile_extra=profile
    )


class ResponsesStyle:
    """``github.rsps``: the few calls tests made on the `responses` mock GitHubMock wrapped
    (``add``, ``add_callback``, ``replace``, ``calls``), as rules on the FaultAdapter. A string
    URL matches without its query string, as in `responses`; the newest rule wins, so
    ``replace`` is ``add``. New tests should use ``github.faults`` directly."""

    def __init__(self, faults: FaultAdapter) -> None:
        self.faults = faults

    @property
    def calls(self) -> list[Call]:
        return self.faults.calls

    @staticmethod
    def _match(url: str | re.Pattern[str]) -> t.Any:
        if isinstance(url, str):
            return lambda request: (request.url or "").split("?")[0] == url.split("?")[0]
        return url

    def add(
        self,
        method: str,
        url: str | re.Pattern[str],
        body: t.Any = b"",
        *,
        json: t.Any = None,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Rule:
        if isinstance(body, BaseException):
            return self.faults.fail(self._match(url), body, method=method)
        return self.faults.answer(self._match(url), method=method, status=status, headers=headers, body=body, json=json)

    replace = add

    def add_callback(self, method: str, url: str | re.Pattern[str], callback: t.Callable[..., Answer]) -> Rule:
        return self.faults.respond(self._match(url), callback, method=method)


class GitHubDouble:
    """github.com and api.github.com, in-process; see the module docstring."""

    def __init__(self) -> None:
        self.fake = FakeGitHub(
            base_url="https://github.com",
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            users=[documented_octocat()],
        )
        self.faults = FaultAdapter(WSGITransportAdapter(self.fake))
        self.token_body: t.Any = {"access_token": TOKEN, "scope": "read:user,user:email", "token_type": "bearer"}
        self._served_user = self.fake.users[0].profile()
        self.user_body: t.Any = copy.deepcopy(self._served_user)
        self.token_calls: list[dict[str, list[str]]] = []
        self.user_calls: list[dict[str, str]] = []
        # tried last: a request for any other host never reaches the network
        self.faults.respond(lambda request: not (request.url or "").startswith(HOSTS), self._elsewhere)
        self.faults.respond(TOKEN_URL, self._token, method="POST")
        self.faults.respond(lambda request: (request.url or "").split("?")[0] == USER_URL, self._user, method="GET")

    @property
    def calls(self) -> list[Call]:
        """Every request sent while the fixture was active, oldest first."""
        return self.faults.calls

    @property
    def rsps(self) -> ResponsesStyle:
        """The old GitHubMock's `responses` calls, kept for tests written against it."""
        return ResponsesStyle(self.faults)

    def _elsewhere(self, request: requests.PreparedRequest) -> Answer:
        return 0, {}, requests.ConnectionError("not faked: %s %s" % (request.method, request.url))

    def _token(self, request: requests.PreparedRequest) -> Answer:
        self.token_calls.append(Call(request, None, None).form())
        body = self.token_body
        answer = t.cast(Answer, body) if isinstance(body, tuple) else (200, JSON, json.dumps(body))
        self._learn(answer[2])
        return answer

    def _learn(self, body: t.Any) -> None:
        """Let the fake's API accept the access token a canned answer hands out (JSON, form or XML)."""
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        if not isinstance(body, str):
            return
        try:
            data = json.loads(body)
        except ValueError:
            data = {key: values[0] for key, values in parse_qs(body).items()}
            data.update(re.findall(r"<(access_token|scope)>([^<]*)</", body))
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token or self.fake.scopes_of(token) is not None:
            return
        scope = data.get("scope")
        scopes = [item for item in re.split(r"[\s,]+", scope) if item] if isinstance(scope, str) else []
        self.fake.issue_token(self.fake.users[0].login, scopes, token=token)

    def _user(self, request: requests.PreparedRequest) -> Answer | None:
        self.user_calls.append(dict(request.headers))
        body = self.user_body
        if isinstance(body, tuple):
            return t.cast(Answer, body)
        if body == self._served_user:
            return None  # the fake answers, with its rate-limit headers and all
        return 200, JSON, json.dumps(body)


#: The old name, for tests that annotate the fixture with it.
GitHubMock = GitHubDouble
