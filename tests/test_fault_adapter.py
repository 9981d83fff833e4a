"""The testing package's transport adapters: FaultAdapter (outages, slow bodies, canned answers,
a record of every request) and WSGITransportAdapter, as a test sees them through requests."""

from __future__ import annotations

import json
import threading
import typing as t

import pytest
import requests
import urllib3

from oauth_middleware.testing import FakeGitHub, FaultAdapter, WSGITransportAdapter

BASE = "https://api.test"


def echo(environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]) -> list[bytes]:
    """A WSGI app answering with its path, and two cookies and a repeated header."""
    body = json.dumps({"path": environ["PATH_INFO"]}).encode()
    start_response(
        "200 OK",
        [
            ("Content-Type", "application/json"),
            ("X-Seen", "one"),
            ("X-Seen", "two"),
            ("Set-Cookie", "a=1; Path=/"),
            ("Set-Cookie", "b=2; Path=/"),
        ],
    )
    return [body]


def session_with(faults: FaultAdapter) -> requests.Session:
    session = requests.Session()
    session.mount(BASE + "/", faults)
    return session


def test_canned_answers_any_status_headers_and_body() -> None:
    faults = FaultAdapter()
    faults.answer(BASE + "/user", json={"login": "octocat"}, headers={"Link": '<https://x>; rel="next"'})
    faults.answer("/down", status=503, body="maintenance")
    http = session_with(faults)
    user = http.get(BASE + "/user", timeout=1)
    assert (user.status_code, user.json(), user.headers["Link"]) == (
        200,
        {"login": "octocat"},
        '<https://x>; rel="next"',
    )
    assert user.headers["Content-Type"].startswith("application/json")
    down = http.get(BASE + "/down/now", timeout=1)
    assert (down.status_code, down.text) == (503, "maintenance")


@pytest.mark.parametrize(
    ("inject", "raised"),
    [
        (lambda f: f.timeout("/"), requests.ReadTimeout),
        (lambda f: f.timeout("/", connect=True), requests.ConnectTimeout),
        (lambda f: f.refuse("/"), requests.ConnectionError),
        (lambda f: f.fail("/", requests.exceptions.SSLError("bad certificate")), requests.exceptions.SSLError),
    ],
)
def test_outages_raise_what_requests_raises(inject: t.Callable[[FaultAdapter], object], raised: type) -> None:
    faults = FaultAdapter(WSGITransportAdapter(echo))
    inject(faults)
    with pytest.raises(raised):
        session_with(faults).get(BASE + "/user", timeout=1)


def test_a_request_nobody_answers_is_a_connection_error_naming_it() -> None:
    with pytest.raises(requests.ConnectionError, match="GET https://api.test/nothing"):
        session_with(FaultAdapter()).get(BASE + "/nothing", timeout=1)


def test_rules_lapse_after_times_and_can_be_lifted() -> None:
    faults = FaultAdapter(WSGITransportAdapter(echo))
    http = session_with(faults)
    faults.refuse("/flaky", times=1)
    with pytest.raises(requests.ConnectionError):
        http.get(BASE + "/flaky", timeout=1)
    assert http.get(BASE + "/flaky", timeout=1).json() == {"path": "/flaky"}  # the inner app again
    outage = faults.refuse("/", method="POST")
    assert http.get(BASE + "/x", timeout=1).status_code == 200  # only POST is down
    with pytest.raises(requests.ConnectionError):
        http.post(BASE + "/x", timeout=1)
    faults.remove(outage)
    assert http.post(BASE + "/x", timeout=1).status_code == 200


def test_the_newest_rule_wins_and_a_handler_may_let_a_request_through() -> None:
    faults = FaultAdapter(WSGITransportAdapter(echo))
    faults.answer("/", status=500)
    faults.respond("/", lambda request: None if "pass" in (request.url or "") else (418, {}, b"teapot"))
    http = session_with(faults)
    assert http.get(BASE + "/brew", timeout=1).status_code == 418
    assert http.get(BASE + "/pass", timeout=1).status_code == 500  # through to the older rule
    faults.clear()
    assert http.get(BASE + "/pass", timeout=1).status_code == 200


def test_every_request_is_recorded_with_its_arguments() -> None:
    faults = FaultAdapter(WSGITransportAdapter(echo))
    rule = faults.answer("/token", method="POST", json={})
    order: list[str] = []
    faults.respond(
        "/slow", lambda request: (order.append("answer"), (200, {}, b""))[1], before=lambda: order.append("before")
    )
    http = session_with(faults)
    http.post(BASE + "/token", data={"code": "c0de"}, headers={"Accept": "application/json"}, timeout=(1.5, 4.0))
    http.get(BASE + "/user", timeout=2, verify=False)
    http.get(BASE + "/slow", timeout=1)
    token, user, slow = faults.calls
    assert (token.method, token.url, token.path, token.form()) == (
        "POST",
        BASE + "/token",
        "/token",
        {"code": ["c0de"]},
    )
    assert token.headers["Accept"] == "application/json" and token.timeout == (1.5, 4.0)
    assert token.rule is rule and rule.calls == [token] and rule.call_count == 1
    assert (user.rule, user.timeout, user.verify, user.body) == (None, 2, False, b"")  # went through
    assert slow.rule is not None and order == ["before", "answer"]


def test_a_dripping_body_arrives_whole_a_few_bytes_per_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    pauses: list[float] = []
    monkeypatch.setattr("oauth_middleware.testing.faults.time.sleep", pauses.append)  # no real waiting
    faults = FaultAdapter()
    body = json.dumps({"login": "octocat", "pad": "x" * 200}).encode()
    faults.drip("/user", body, chunk_size=7, delay=0.5)
    response = session_with(faults).get(BASE + "/user", stream=True, timeout=1)
    assert pauses == []  # the headers come at once
    assert b"".join(response.iter_content(chunk_size=None)) == body
    assert len(pauses) >= -(-len(body) // 7) and set(pauses) == {0.5}  # a pause before every 7 bytes


def test_a_body_that_stalls_times_out_mid_read() -> None:
    """The headers arrive, then the body stops: urllib3 raises ReadTimeoutError from raw.read()."""
    faults = FaultAdapter()
    faults.drip("/user", b'{"login": "octocat"}', stall_after=5)
    http = session_with(faults)
    response = http.get(BASE + "/user", stream=True, timeout=1)
    assert response.status_code == 200
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        response.raw.read()
    with pytest.raises(requests.ConnectionError):  # requests wraps it when it reads the body itself
        http.get(BASE + "/user", timeout=1)


def test_wsgi_transport_answers_like_the_network() -> None:
    http = requests.Session()
    http.mount(BASE + "/", WSGITransportAdapter(echo, script_name="/prefix"))
    response = http.get(BASE + "/prefix/hello", timeout=1)
    assert response.json() == {"path": "/hello"}
    assert response.headers["X-Seen"] == "one, two"  # repeated headers joined, as requests does
    assert response.raw.headers.getlist("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert http.cookies.get_dict() == {"a": "1", "b": "2"}


def test_a_fixed_token_issued_by_the_fake_is_accepted_by_its_api() -> None:
    fake = FakeGitHub()
    token = fake.issue_token("hubot", ["read:user"], token="gho_fixed_for_this_test")
    assert token == "gho_fixed_for_this_test" and fake.scopes_of(token) == ("read:user",)
    http = requests.Session()
    fake.mount(http)
    answer = http.get(fake.base_url + "/user", headers={"Authorization": "Bearer " + token}, timeout=1)
    assert answer.json()["login"] == "hubot"
    assert fake.revoke(token)
    assert http.get(fake.base_url + "/user", headers={"Authorization": "Bearer " + token}, timeout=1).status_code == 401


def test_a_streamed_wsgi_answer_ends_at_the_end_of_its_body() -> None:
    """urllib3 streams until the body is closed; it used to be never (iter_content(None) spun forever)."""
    http = requests.Session()
    http.mount(BASE + "/", WSGITransportAdapter(echo))
    pieces: list[bytes] = []
    reader = threading.Thread(
        target=lambda: pieces.extend(http.get(BASE + "/s", stream=True, timeout=1).iter_content(None)), daemon=True
    )
    reader.start()
    reader.join(timeout=10)
    assert not reader.is_alive(), "the stream never ended"
    assert json.loads(b"".join(pieces)) == {"path": "/s"}
