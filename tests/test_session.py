"""The session cookie: encryption, tampering, expiry, rotation, flags, chunking and the cache."""

from __future__ import annotations

import base64
import hashlib
import json
import string
import typing as t

import pytest
import webtest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import EXAMPLES, HTTPS, SECRET_KEY, TOKEN, FakeClock, log_in, start_login

from oauth_middleware.cookies import MAX_SET_COOKIE_BYTES
from oauth_middleware.crypto import Cipher, InvalidValue
from oauth_middleware.flow import FLOW_TTL, Flow, FlowCookies
from oauth_middleware.session import CLOCK_SKEW, MAX_CHUNKS, Lifetimes, Session, SessionCookie

SESSION = "__Host-oauth_session"
ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
KEY_A = b"A" * 32
KEY_B = b"B" * 40
KEY_C = "C-key-for-rotation-tests-0123456789"  # not a repeated pattern: those are refused


# -- helpers -------------------------------------------------------------------------------------


def parse_set_cookie(header: str) -> tuple[str, str, dict[str, str]]:
    """(name, value, {lower-cased attribute: value}) of one Set-Cookie header."""
    first, *attributes = header.split(";")
    name, _, value = first.partition("=")
    parsed = {}
    for attribute in attributes:
        key, _, val = attribute.strip().partition("=")
        parsed[key.lower()] = val
    return name.strip(), value.strip(), parsed


def set_cookies(response: webtest.TestResponse) -> list[tuple[str, str, dict[str, str]]]:
    return [parse_set_cookie(h) for h in response.headers.getall("Set-Cookie")]


def assert_deletes(response: webtest.TestResponse, name: str = SESSION) -> None:
    deletions = [(value, attrs) for n, value, attrs in set_cookies(response) if n == name]
    assert deletions, "no Set-Cookie for %s in %r" % (name, response.headers.getall("Set-Cookie"))
    value, attrs = deletions[-1]
    assert value == ""
    assert attrs.get("max-age") == "0"


def fresh(app: t.Any) -> webtest.TestApp:
    """A browser without cookies, talking to the same middleware over https."""
    return webtest.TestApp(app, extra_environ=HTTPS)


def get_with_cookie(app: t.Any, header: str, path: str = "/page", **kwargs: t.Any) -> webtest.TestResponse:
    return fresh(app).get(path, headers={"Cookie": header, **kwargs.pop("headers", {})}, **kwargs)


def logged_in_cookie(testapp: webtest.TestApp) -> str:
    log_in(testapp)
    value = testapp.cookies[SESSION]
    assert fresh(testapp.app).get("/page", headers={"Cookie": SESSION + "=" + value}).json["remote_user"] == "octocat"
    return str(value)


def flip(value: str, index: int) -> str:
    """``value`` with the character at ``index`` replaced by a different base64url character.

    The replacement differs in the top bit of the 6-bit group, which always carries data (the
    low bits of the last character may be padding and decode to the same bytes).
    """
    replacement = ALPHABET[(ALPHABET.index(value[index]) + 32) % 64]
    return value[:index] + replacement + value[index + 1 :]


class Sessions:
    """A :class:`SessionCookie` read at the time of a clock, as the middleware reads it."""

    def __init__(self, clock: FakeClock, *, cache_size: int = 4096, max_age: int = 3600) -> None:
        self.clock = clock
        self.cookie = SessionCookie(
            Cipher([SECRET_KEY.encode()], purpose="session"),
            name="oauth_session",
            lifetimes=Lifetimes(max_age=max_age),
            cache_size=cache_size,
        )

    def dump(self, session: Session, *, secure: bool, present: t.Container[str] = ()) -> list[tuple[str, str]]:
        return self.cookie.dump(session, secure=secure, present=present)

    def clear(self, *, secure: bool, present: t.Container[str]) -> list[tuple[str, str]]:
        return self.cookie.clear(secure=secure, present=present)

    def load(self, cookies: t.Mapping[str, str], *, secure: bool) -> Session | None:
        loaded = self.cookie.load(cookies, secure=secure, now=self.clock())
        return None if loaded is None else loaded.session

    @property
    def cache(self) -> t.Sized:
        return self.cookie._cache


def session_cookies(clock: FakeClock, *, cache_size: int = 4096, max_age: int = 3600) -> Sessions:
    return Sessions(clock, cache_size=cache_size, max_age=max_age)


def new_session(user: dict[str, t.Any], *, username: str, now: float) -> Session:
    token = {"access_token": TOKEN, "token_type": "bearer", "scope": ["read:user"]}
    return Session.new(user=user, token=token, username=username, now=now)


def make_session(clock: FakeClock, *, login: str = "octocat", filler: int = 0, seed: str = "") -> Session:
    """A session whose profile carries ``filler`` bytes of incompressible text (no trimming)."""
    noise = "".join(hashlib.sha256(("%s%s%d" % (seed, login, i)).encode()).hexdigest() for i in range(filler // 64 + 1))
    part = max(1, filler // 4)
    user = {
        "login": login,
        "id": 1,
        "name": noise[:part],
        "email": noise[part : 2 * part],
        "avatar_url": noise[2 * part : 3 * part],
        "html_url": noise[3 * part : filler],
    }
    return new_session(user, username=login, now=clock())


def as_request_cookies(headers: list[tuple[str, str]]) -> dict[str, str]:
    cookies = {}
    for _, header in headers:
        name, value, _ = parse_set_cookie(header)
        cookies[name] = value
    return cookies


# -- Cipher --------------------------------------------------------------------------------------


def test_cipher_round_trip() -> None:
    cipher = Cipher([KEY_A], purpose="session")
    for data in (b"", b"payload", bytes(range(256)) * 20):
        assert cipher.open(cipher.seal(data, aad=b"name"), aad=b"name") == data


def test_cipher_value_is_cookie_safe_and_fresh_each_time() -> None:
    cipher = Cipher([KEY_A], purpose="session")
    first, second = cipher.seal(b"same", aad=b"n"), cipher.seal(b"same", aad=b"n")
    assert first != second  # a fresh nonce every time: equal sessions are not linkable
    assert set(first) <= set(ALPHABET)


def test_cipher_value_does_not_reveal_the_token() -> None:
    cipher = Cipher([KEY_A], purpose="session")
    value = cipher.seal(json.dumps({"access_token": TOKEN}).encode(), aad=b"oauth_session")
    assert TOKEN not in value
    decoded = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    assert TOKEN.encode() not in decoded
    assert b"access_token" not in decoded


def test_session_cookie_from_a_real_login_does_not_reveal_the_token(testapp: webtest.TestApp, github: t.Any) -> None:
    value = logged_in_cookie(testapp)
    decoded = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    for secret in (TOKEN, "octocat", "read:user"):
        assert secret not in value
        assert secret.encode() not in decoded


def test_cipher_binds_the_associated_data() -> None:
    cipher = Cipher([KEY_A], purpose="session")
    value = cipher.seal(b"payload", aad=b"oauth_session")
    with pytest.raises(InvalidValue):
        cipher.open(value, aad=b"other_cookie")


def test_cipher_purposes_are_separate() -> None:
    value = Cipher([KEY_A], purpose="flow").seal(b"payload", aad=b"oauth_session")
    with pytest.raises(InvalidValue):
        Cipher([KEY_A], purpose="session").open(value, aad=b"oauth_session")


def test_cipher_rotation() -> None:
    old = Cipher([KEY_A], purpose="session")
    rotated = Cipher([KEY_B, KEY_A], purpose="session")
    new_only = Cipher([KEY_B], purpose="session")

    sealed_by_old = old.seal(b"old session", aad=b"n")
    assert rotated.open(sealed_by_old, aad=b"n") == b"old session"
    with pytest.raises(InvalidValue):
        new_only.open(sealed_by_old, aad=b"n")

    sealed_by_rotated = rotated.seal(b"new session", aad=b"n")  # the first key encrypts
    assert new_only.open(sealed_by_rotated, aad=b"n") == b"new session"
    with pytest.raises(InvalidValue):
        old.open(sealed_by_rotated, aad=b"n")


def test_cipher_without_the_key_refuses() -> None:
    value = Cipher([KEY_A], purpose="session").seal(b"payload", aad=b"n")
    with pytest.raises(InvalidValue):
        Cipher([KEY_C.encode()], purpose="session").open(value, aad=b"n")


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param("A", id="one-char"),
        pytest.param("AAAA" * 7, id="shorter-than-header"),
        pytest.param("%%%%", id="not-base64"),
        pytest.param("é" * 40, id="non-ascii"),
        pytest.param("A" * 200, id="right-shape-wrong-key-id"),
    ],
)
def test_cipher_refuses_junk_with_invalid_value(value: str) -> None:
    with pytest.raises(InvalidValue):
        Cipher([KEY_A], purpose="session").open(value, aad=b"n")


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_cipher_open_only_ever_raises_invalid_value(value: str) -> None:
    with pytest.raises(InvalidValue):
        Cipher([KEY_A], purpose="session").open(value, aad=b"n")


# -- tampering, through the middleware -----------------------------------------------------------


def test_every_single_character_change_is_anonymous_and_cleared(testapp: webtest.TestApp, github: t.Any) -> None:
    value = logged_in_cookie(testapp)
    browser = fresh(testapp.app)
    failures = []
    for index in range(len(value)):
        tampered = flip(value, index)
        response = browser.get("/page", headers={"Cookie": "%s=%s" % (SESSION, tampered)}, expect_errors=True)
        names = [(n, v, a.get("max-age")) for n, v, a in set_cookies(response)]
        if response.status_int != 200 or response.json["remote_user"] is not None or (SESSION, "", "0") not in names:
            failures.append((index, response.status, names))
    assert failures == []
    assert len(value) > 100


def test_truncated_cookies_are_anonymous_and_cleared(testapp: webtest.TestApp, github: t.Any) -> None:
    value = logged_in_cookie(testapp)
    for length in range(0, len(value), 50):
        response = get_with_cookie(testapp.app, "%s=%s" % (SESSION, value[:length]))
        assert response.json["remote_user"] is None, length
        assert_deletes(response)
    response = get_with_cookie(testapp.app, "%s=%s" % (SESSION, value[:-1]))
    assert response.json["remote_user"] is None


def test_flow_cookie_value_in_the_session_cookie_is_refused(testapp: webtest.TestApp, github: t.Any) -> None:
    start_login(testapp)
    (flow_name,) = [name for name in testapp.cookies if ".flow." in name]
    response = get_with_cookie(testapp.app, "%s=%s" % (SESSION, testapp.cookies[flow_name]))
    assert response.json["remote_user"] is None
    assert_deletes(response)


def test_session_of_another_cookie_name_is_refused(make_app: t.Any, make_middleware: t.Any, github: t.Any) -> None:
    other = make_app(cookie_name="other_app")  # same secret key, another app on the host
    log_in(other)
    value = other.cookies["__Host-other_app"]
    response = get_with_cookie(make_middleware(), "%s=%s" % (SESSION, value))
    assert response.json["remote_user"] is None
    assert_deletes(response)


def _seal_session_json(middleware: t.Any, payload: object) -> str:
    return str(
        middleware.sessions.cipher.seal(
            json.dumps(payload).encode(), aad=middleware.sessions.cookie_name(True).encode()
        )
    )


_DROP = object()


def _valid_payload(**changes: t.Any) -> dict[str, t.Any]:
    """A live session in the first format (issued at the fixtures' clock time, still readable),
    with ``changes``."""
    now = int(FakeClock()())
    token = {"access_token": TOKEN, "token_type": "bearer", "scope": []}
    payload = {"v": 1, "iat": now, "s": now, "c": now, "n": "x", "u": {"login": "x", "id": 1}, "t": token, "g": []}
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not _DROP}


def _valid_packed(**changes: t.Any) -> list[t.Any]:
    """A live session in the compact format (2), with fields by position replaced."""
    now = int(FakeClock()())
    payload: list[t.Any] = [2, now, 0, 0, ["x", 1], [TOKEN, ""]]
    for index, value in changes.items():
        payload[int(index.lstrip("p"))] = value
    return payload


GARBAGE: list[t.Any] = [
    pytest.param(lambda mw: "garbage", id="word"),
    pytest.param(lambda mw: "!!!!!!!!", id="punctuation"),
    pytest.param(lambda mw: '"quoted value"', id="quoted"),
    pytest.param(lambda mw: "=====", id="padding"),
    pytest.param(lambda mw: "A" * 65536, id="64KB"),
    pytest.param(lambda mw: "\xe9\xe8\xff" * 10, id="latin-1"),
    pytest.param(lambda mw: "\xb2.abc", id="superscript-two-chunk-count"),
    pytest.param(lambda mw: "\xb9.abc", id="superscript-one-chunk-count"),
    pytest.param(lambda mw: "2.abc", id="chunk-count-2-without-chunks"),
    pytest.param(lambda mw: "9.abc", id="chunk-count-too-large"),
    pytest.param(lambda mw: "1.abc", id="chunk-count-1"),
    pytest.param(lambda mw: "0.abc", id="chunk-count-0"),
    pytest.param(lambda mw: "99999999999999999999.abc", id="chunk-count-huge"),
    pytest.param(lambda mw: _seal_session_json(mw, {"v": 2}), id="sealed-unknown-version"),
    pytest.param(lambda mw: _seal_session_json(mw, [1, 2, 3]), id="sealed-list"),
    pytest.param(lambda mw: _seal_session_json(mw, _valid_payload(iat="now")), id="sealed-iat-string"),
    pytest.param(lambda mw: _seal_session_json(mw, _valid_payload(iat=True)), id="sealed-iat-bool"),
    pytest.param(lambda mw: _seal_session_json(mw, _valid_payload(iat=None)), id="sealed-iat-null"),
    pytest.param(lambda mw: _seal_session_json(mw, _valid_payload(iat=_DROP)), id="sealed-no-iat"),
    pytest.param(lambda mw: _seal_session_json(mw, _valid_payload(t=_DROP)), id="sealed-no-token"),
    pytest.param(lambda mw: _seal_session_json(mw, _valid_payload(u=[])), id="sealed-user-not-a-dict"),
    pytest.param(lambda mw: _seal_session_json(mw, _valid_payload(t="tok")), id="sealed-token-not-a-dict"),
    pytest.param(lambda mw: _seal_session_json(mw, _valid_payload(n=7)), id="sealed-name-not-a-string"),
    pytest.param(lambda mw: _seal_session_json(mw, _valid_payload(v=2)), id="sealed-version-2"),
    pytest.param(lambda mw: _seal_session_json(mw, _valid_packed(p1="now")), id="packed-iat-string"),
    pytest.param(lambda mw: _seal_session_json(mw, _valid_packed(p2=True)), id="packed-seen-bool"),
    pytest.param(lambda mw: _seal_session_json(mw, _valid_packed(p4="x")), id="packed-user-a-string"),
    pytest.param(
        lambda mw: _seal_session_json(mw, _valid_packed(p4=["x", 1, 2, 3, 4, 5, 6, 7, 8])), id="packed-long-user"
    ),
    pytest.param(lambda mw: _seal_session_json(mw, _valid_packed(p5=[TOKEN])), id="packed-token-short"),
    pytest.param(lambda mw: _seal_session_json(mw, _valid_packed(p5=[7, ""])), id="packed-token-not-text"),
    pytest.param(lambda mw: _seal_session_json(mw, _valid_packed(p5="tok")), id="packed-token-a-string"),
    pytest.param(lambda mw: _seal_session_json(mw, _valid_packed() + [7]), id="packed-name-a-number"),
    pytest.param(lambda mw: _seal_session_json(mw, _valid_packed() + [0, "g"]), id="packed-groups-not-a-list"),
    pytest.param(lambda mw: _seal_session_json(mw, _valid_packed() + [0, 0, 0, 0]), id="packed-too-long"),
    pytest.param(
        lambda mw: str(mw.sessions.cipher.seal(b"\xff\xfe not json", aad=mw.sessions.cookie_name(True).encode())),
        id="sealed-bytes",
    ),
    pytest.param(lambda mw: str(mw.sessions.cipher.seal(b"{}", aad=b"other")), id="sealed-other-name"),
]


@pytest.mark.parametrize("make_value", GARBAGE)
def test_garbage_session_cookie_is_anonymous_and_cleared(
    make_middleware: t.Any, make_value: t.Callable[[t.Any], str]
) -> None:
    middleware = make_middleware()
    response = get_with_cookie(middleware, "%s=%s" % (SESSION, make_value(middleware)))
    assert response.status_int == 200
    assert response.json["remote_user"] is None
    assert response.json["user"] is None and response.json["token"] is None
    assert_deletes(response)


def test_hand_sealed_valid_payload_is_accepted(make_middleware: t.Any, clock: FakeClock) -> None:
    """The control for the sealed-* cases above: only the payload made them fail."""
    middleware = make_middleware()
    response = get_with_cookie(middleware, "%s=%s" % (SESSION, _seal_session_json(middleware, _valid_payload())))
    assert response.json["remote_user"] == "x"


def test_empty_session_cookie_is_anonymous_and_cleared(make_middleware: t.Any) -> None:
    response = get_with_cookie(make_middleware(), "%s=" % SESSION)
    assert response.json["remote_user"] is None
    assert_deletes(response)


def test_three_hundred_cookies_in_one_header(testapp: webtest.TestApp, github: t.Any) -> None:
    value = logged_in_cookie(testapp)
    others = "; ".join("c%d=v%d" % (i, i) for i in range(300))
    response = get_with_cookie(testapp.app, "%s; %s=%s" % (others, SESSION, flip(value, 10)))
    assert response.json["remote_user"] is None
    assert_deletes(response)
    # the valid cookie among 300 others still logs in, and the app gets its own cookies intact
    response = get_with_cookie(testapp.app, "%s; %s=%s" % (others, SESSION, value))
    assert response.json["remote_user"] == "octocat"
    assert response.json["cookie"] == others


@pytest.mark.parametrize(
    "index", [pytest.param(0, id="first"), pytest.param(60, id="middle"), pytest.param(-1, id="last")]
)
def test_tampered_cookie_on_protected_path_browser_goes_to_login(make_app: t.Any, github: t.Any, index: int) -> None:
    app = make_app(require_login=True)
    log_in(app)
    value = str(app.cookies[SESSION])
    tampered = flip(value, index % len(value))
    response = get_with_cookie(
        app.app, "%s=%s" % (SESSION, tampered), path="/private?x=1", headers={"Accept": "text/html"}
    )
    assert response.status_int == 302
    assert response.headers["Location"].startswith("/auth/login?next=")
    assert "private" in response.headers["Location"]
    assert_deletes(response)


def test_tampered_cookie_on_protected_path_api_gets_401_json(make_app: t.Any, github: t.Any) -> None:
    app = make_app(require_login=True)
    log_in(app)
    tampered = flip(str(app.cookies[SESSION]), 20)
    response = get_with_cookie(
        app.app, "%s=%s" % (SESSION, tampered), path="/api/x", headers={"Accept": "application/json"}, status=401
    )
    assert response.json["error"] == "login_required"
    assert response.json["login_url"].startswith("/auth/login")
    assert_deletes(response)


# -- expiry --------------------------------------------------------------------------------------


@pytest.mark.parametrize("cached", [pytest.param(False, id="uncached"), pytest.param(True, id="cached")])
def test_session_expires_after_max_age(make_app: t.Any, github: t.Any, clock: FakeClock, cached: bool) -> None:
    app = make_app(max_age=3600)
    log_in(app)
    if cached:
        assert app.get("/page").json["remote_user"] == "octocat"
    clock.advance(3600 - 1)
    assert app.get("/page").json["remote_user"] == "octocat"
    clock.advance(2)
    response = app.get("/page")
    assert response.json["remote_user"] is None
    assert_deletes(response)
    assert SESSION not in app.cookies


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        pytest.param(0, True, id="now"),
        pytest.param(-60, True, id="a-minute-ago"),
        pytest.param(60, True, id="within-clock-skew"),
        pytest.param(CLOCK_SKEW + 60, False, id="beyond-clock-skew"),
        pytest.param(365 * 24 * 3600, False, id="a-year-ahead"),
        pytest.param(-8 * 24 * 3600, False, id="older-than-max-age"),
    ],
)
def test_hand_sealed_session_issue_time(make_middleware: t.Any, clock: FakeClock, offset: int, accepted: bool) -> None:
    middleware = make_middleware()
    session = new_session({"login": "mallory", "id": 9}, username="mallory", now=clock() + offset)
    value = middleware.sessions.cipher.seal(session.to_json(), aad=middleware.sessions.cookie_name(True).encode())
    response = get_with_cookie(middleware, "%s=%s" % (SESSION, value))
    assert response.json["remote_user"] == ("mallory" if accepted else None)
    if not accepted:
        assert_deletes(response)


# -- rotation through the middleware -------------------------------------------------------------


def test_secret_key_rotation(testapp: webtest.TestApp, make_middleware: t.Any, github: t.Any) -> None:
    value = logged_in_cookie(testapp)  # sealed with SECRET_KEY
    cookie = "%s=%s" % (SESSION, value)
    rotated = make_middleware(secret_key=[KEY_C, SECRET_KEY])
    assert get_with_cookie(rotated, cookie).json["remote_user"] == "octocat"
    dropped = make_middleware(secret_key=[KEY_C])
    response = get_with_cookie(dropped, cookie)
    assert response.json["remote_user"] is None
    assert_deletes(response)


def test_new_logins_after_rotation_use_the_new_key(make_app: t.Any, make_middleware: t.Any, github: t.Any) -> None:
    app = make_app(secret_key=[KEY_C, SECRET_KEY])
    log_in(app)
    cookie = "%s=%s" % (SESSION, app.cookies[SESSION])
    assert get_with_cookie(make_middleware(secret_key=KEY_C), cookie).json["remote_user"] == "octocat"
    assert get_with_cookie(make_middleware(secret_key=SECRET_KEY), cookie).json["remote_user"] is None


# -- cookie flags --------------------------------------------------------------------------------


def assert_flags(headers: list[tuple[str, str, dict[str, str]]], *, secure: bool) -> None:
    assert headers
    for name, _, attrs in headers:
        assert "httponly" in attrs, name
        assert attrs.get("samesite", "").lower() == "lax", name
        assert attrs.get("path") == "/", name
        assert "domain" not in attrs, name
        assert ("secure" in attrs) is secure, name
        assert name.startswith("__Host-") is secure, name
        assert "oauth_session" in name


def test_cookie_flags_over_https(testapp: webtest.TestApp, github: t.Any) -> None:
    login = testapp.get("/auth/login", status=302)
    state = dict(p.split("=", 1) for p in login.headers["Location"].split("?", 1)[1].split("&"))["state"]
    callback = testapp.get("/auth/callback", {"code": "c0de", "state": state}, status=302)
    headers = set_cookies(login) + set_cookies(callback)
    assert_flags(headers, secure=True)
    for response in (login, callback):
        for header in response.headers.getall("Set-Cookie"):
            assert len(header.encode("latin-1")) < MAX_SET_COOKIE_BYTES
    (flow,) = [attrs for name, value, attrs in set_cookies(login) if ".flow." in name and value]
    assert 0 < int(flow["max-age"]) <= FLOW_TTL
    (session,) = [attrs for name, value, attrs in set_cookies(callback) if name == SESSION]
    assert 0 < int(session["max-age"]) <= 7 * 24 * 3600
    # the callback deleted the flow cookie with the same flags
    assert any(".flow." in name and attrs.get("max-age") == "0" for name, _, attrs in set_cookies(callback))


def test_logout_deletes_with_the_same_flags(testapp: webtest.TestApp, github: t.Any) -> None:
    log_in(testapp)
    response = testapp.post("/auth/logout", status=303)
    assert_flags(set_cookies(response), secure=True)
    assert_deletes(response)


def test_cookie_flags_over_plain_http_in_development(make_app: t.Any, github: t.Any) -> None:
    with pytest.warns(UserWarning, match="allow_insecure_http"):
        app = make_app(allow_insecure_http=True, extra_environ={"wsgi.url_scheme": "http"})
    login = app.get("/auth/login", status=302)
    params = start_login(app)
    callback = app.get("/auth/callback", {"code": "c0de", "state": params["state"]}, status=302)
    assert_flags(set_cookies(login) + set_cookies(callback), secure=False)
    assert "oauth_session" in app.cookies
    assert app.get("/page").json["remote_user"] == "octocat"


def test_secure_true_forces_secure_cookies_over_http(make_app: t.Any, github: t.Any) -> None:
    app = make_app(
        secure=True, redirect_uri="https://app.example.com/auth/callback", extra_environ={"wsgi.url_scheme": "http"}
    )
    login = app.get("/auth/login", status=302)
    (flow,) = [(name, value) for name, value, _ in set_cookies(login) if value]
    state = dict(p.split("=", 1) for p in login.headers["Location"].split("?", 1)[1].split("&"))["state"]
    # WebTest does not send Secure cookies over http; a TLS-terminating proxy's browser would
    callback = webtest.TestApp(app.app, extra_environ=dict(HTTPS, **{"wsgi.url_scheme": "http"})).get(
        "/auth/callback", {"code": "c0de", "state": state}, headers={"Cookie": "%s=%s" % flow}, status=302
    )
    assert_flags(set_cookies(login) + set_cookies(callback), secure=True)
    assert any(name == SESSION and value for name, value, _ in set_cookies(callback))


def test_secure_false_never_sets_secure(make_app: t.Any, github: t.Any) -> None:
    app = make_app(secure=False)  # https request, but the operator turned Secure off
    login = app.get("/auth/login", status=302)
    assert_flags(set_cookies(login), secure=False)


# -- chunking ------------------------------------------------------------------------------------


def test_large_session_is_chunked_and_read_back(clock: FakeClock) -> None:
    sessions = session_cookies(clock)
    session = make_session(clock, filler=9000)
    assert len(session.to_json()) > 9000
    headers = sessions.dump(session, secure=True)
    assert len(headers) >= 3
    for _, header in headers:
        assert len(header.encode("latin-1")) < MAX_SET_COOKIE_BYTES
    assert_flags([parse_set_cookie(h) for _, h in headers], secure=True)
    cookies = as_request_cookies(headers)
    assert sorted(cookies) == [SESSION] + ["%s.%d" % (SESSION, i) for i in range(1, len(headers))]
    assert session_cookies(clock).load(cookies, secure=True) == session  # a fresh reader, no cache


def test_a_missing_chunk_means_anonymous(clock: FakeClock) -> None:
    sessions = session_cookies(clock)
    cookies = as_request_cookies(sessions.dump(make_session(clock, filler=9000), secure=True))
    for name in cookies:
        partial = {n: v for n, v in cookies.items() if n != name}
        assert session_cookies(clock).load(partial, secure=True) is None, name
        emptied = dict(cookies, **{name: ""})
        assert session_cookies(clock).load(emptied, secure=True) is None, name


def test_chunks_of_two_sessions_do_not_mix(clock: FakeClock) -> None:
    sessions = session_cookies(clock)
    first = as_request_cookies(sessions.dump(make_session(clock, filler=9000, seed="a"), secure=True))
    second = as_request_cookies(sessions.dump(make_session(clock, filler=9000, seed="b"), secure=True))
    assert first.keys() == second.keys()
    for name in first:
        mixed = dict(first, **{name: second[name]})
        assert session_cookies(clock).load(mixed, secure=True) is None, name


def test_clear_deletes_every_chunk(clock: FakeClock) -> None:
    sessions = session_cookies(clock)
    cookies = as_request_cookies(sessions.dump(make_session(clock, filler=9000), secure=True))
    present = dict(cookies, unrelated="x")
    deleted = [parse_set_cookie(h) for _, h in sessions.clear(secure=True, present=present)]
    assert sorted(name for name, _, _ in deleted) == sorted(cookies)
    assert all(value == "" and attrs["max-age"] == "0" for _, value, attrs in deleted)
    assert_flags(deleted, secure=True)


def test_a_smaller_session_deletes_stale_chunks(clock: FakeClock) -> None:
    sessions = session_cookies(clock)
    big = as_request_cookies(sessions.dump(make_session(clock, filler=9000), secure=True))
    small_headers = sessions.dump(make_session(clock, login="hubot"), secure=True, present=big)
    written = [parse_set_cookie(h) for _, h in small_headers]
    assert [name for name, value, _ in written if value] == [SESSION]
    assert sorted(name for name, value, attrs in written if not value and attrs["max-age"] == "0") == sorted(
        name for name in big if name != SESSION
    )
    browser = dict(big)
    for name, value, _ in written:
        if value:
            browser[name] = value
        else:
            browser.pop(name)
    assert session_cookies(clock).load(browser, secure=True).username == "hubot"  # type: ignore[union-attr]


def test_a_session_too_large_for_max_chunks_is_refused(clock: FakeClock) -> None:
    sessions = session_cookies(clock)
    with pytest.raises(ValueError, match="too large"):
        sessions.dump(make_session(clock, filler=MAX_CHUNKS * 4000), secure=True)


def test_chunked_session_through_the_middleware(testapp: webtest.TestApp, github: t.Any) -> None:
    profile = dict(github.user_body)
    for field in ("name", "email", "avatar_url", "html_url", "node_id", "type"):
        profile[field] = hashlib.sha512(field.encode()).hexdigest() * 10  # 1280 chars, trimmed to 512
    github.user_body = profile
    callback = log_in(testapp)
    for header in callback.headers.getall("Set-Cookie"):
        assert len(header.encode("latin-1")) < MAX_SET_COOKIE_BYTES
    assert SESSION + ".1" in testapp.cookies
    response = testapp.get("/page")
    assert response.json["remote_user"] == "octocat"
    assert response.json["user"]["name"] == profile["name"][:512]
    assert response.json["cookie"] is None  # our chunks are not passed to the app
    logout = testapp.post("/auth/logout", status=303)
    deleted = {name for name, value, attrs in set_cookies(logout) if attrs.get("max-age") == "0"}
    assert {SESSION, SESSION + ".1"} <= deleted
    assert testapp.get("/page").json["remote_user"] is None


# -- the decrypted-session cache -----------------------------------------------------------------


def test_cache_hit_after_expiry_is_refused(clock: FakeClock) -> None:
    sessions = session_cookies(clock, max_age=3600)
    cookies = as_request_cookies(sessions.dump(make_session(clock), secure=True))
    assert sessions.load(cookies, secure=True) is not None
    assert len(sessions.cache) == 1  # the next load is a cache hit
    clock.advance(3601)
    assert sessions.load(cookies, secure=True) is None
    assert sessions.load(cookies, secure=True) is None


@pytest.mark.parametrize(
    "offset",
    [
        pytest.param(0, id="fresh"),
        pytest.param(3599, id="just-before-max-age"),
        pytest.param(3601, id="past-max-age"),
        pytest.param(-CLOCK_SKEW, id="at-skew-limit"),
        pytest.param(-CLOCK_SKEW - 1, id="issued-in-the-future"),
    ],
)
def test_cached_and_uncached_agree(clock: FakeClock, offset: int) -> None:
    writer = session_cookies(clock)
    cookies = as_request_cookies(writer.dump(make_session(clock), secure=True))
    cached = session_cookies(clock, max_age=3600)
    assert cached.load(cookies, secure=True) is not None  # warm the cache
    clock.advance(offset)
    uncached = session_cookies(clock, max_age=3600, cache_size=0)
    expected = uncached.load(cookies, secure=True)
    assert cached.load(cookies, secure=True) == expected
    assert (expected is not None) is (-CLOCK_SKEW <= offset <= 3600)


def test_cache_is_bounded(clock: FakeClock) -> None:
    sessions = session_cookies(clock, cache_size=10)
    for index in range(50):
        session = make_session(clock, login="user%d" % index)
        cookies = as_request_cookies(sessions.dump(session, secure=True))
        assert sessions.load(cookies, secure=True) == session
        assert len(sessions.cache) <= 10
    assert len(sessions.cache) == 10


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([SESSION, SESSION + ".1", SESSION + ".2", SESSION + ".4", "oauth_session", "other"]),
        st.one_of(
            st.text(max_size=300),
            st.builds("{}.{}".format, st.integers(-3, 12), st.text(alphabet=ALPHABET, max_size=200)),
            st.builds("{}.{}".format, st.sampled_from("0123456789\xb2\xb3\xb9\u0663"), st.text(max_size=50)),
        ),
    )
)
def test_hostile_cookies_never_raise(cookies: dict[str, str]) -> None:
    sessions = session_cookies(FakeClock())
    assert sessions.load(cookies, secure=True) is None
    assert sessions.load(cookies, secure=False) is None


# -- flow cookies --------------------------------------------------------------------------------


def test_flow_cookie_does_not_reveal_state_or_verifier(clock: FakeClock) -> None:
    flows = FlowCookies(Cipher([KEY_A], purpose="flow"), name="oauth_session", clock=clock)
    flow = Flow.start(next_url="/x", redirect_uri="https://app.example.com/auth/callback", now=clock())
    name, value, attrs = parse_set_cookie(flows.dump(flow, secure=True)[1])
    decoded = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    for secret in (flow.state, flow.verifier):
        assert secret not in value and secret.encode() not in decoded
    assert flow.state not in name
    taken, taken_name = flows.take(flow.state, {name: value}, secure=True)
    assert taken == flow and taken_name == name
    # a different state names a different cookie: nothing to take
    assert flows.take(flow.state + "x", {name: value}, secure=True) == (None, None)
    clock.advance(FLOW_TTL + 1)
    assert flows.take(flow.state, {name: value}, secure=True) == (None, name)


def test_the_full_cookie_name_is_authenticated(make_middleware: t.Any) -> None:
    """A value sealed as ``__Host-oauth_session`` (https) is refused as ``oauth_session`` (http)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        middleware = make_middleware(allow_insecure_http=True)
    from oauth_middleware.testing import session_cookie

    sealed_for_https = session_cookie(middleware, "octocat", secure=True)["__Host-oauth_session"]
    https = webtest.TestApp(middleware, extra_environ={"wsgi.url_scheme": "https"})
    assert (
        https.get("/", headers={"Cookie": "__Host-oauth_session=" + sealed_for_https}).json["remote_user"] == "octocat"
    )
    http = webtest.TestApp(middleware, extra_environ={"wsgi.url_scheme": "http"})
    assert http.get("/", headers={"Cookie": "oauth_session=" + sealed_for_https}).json["remote_user"] is None


# -- the compact format (2): smaller cookies, old ones still open ----------------------------------


def test_a_github_com_session_cookie_fits_in_350_bytes(make_middleware: t.Any) -> None:
    """Issue 12's target: octocat's session as GitHub documents the profile, 637 bytes before."""
    middleware = make_middleware()
    profile = middleware.provider.trim_profile(json.loads((EXAMPLES / "user_public.json").read_text()))
    token = {"access_token": TOKEN, "token_type": "bearer", "scope": ["read:user", "user:email"]}
    session = Session.new(user=profile, token=token, username="octocat", now=FakeClock()())
    [(_, header)] = middleware.sessions.dump(session, secure=True)
    cookie = header.split(";", 1)[0]
    assert len(cookie) <= 350, len(cookie)
    response = get_with_cookie(middleware, cookie)
    assert response.json["user"] == profile  # every field, the derived ones included, as the login gave it
    assert response.json["token"] == token


def test_a_format_1_cookie_from_the_previous_release_still_opens(make_middleware: t.Any) -> None:
    middleware = make_middleware()
    value = _seal_session_json(middleware, _valid_payload(u={"login": "x", "id": 1, "html_url": "h"}))
    response = get_with_cookie(middleware, "%s=%s" % (SESSION, value))
    assert response.json["remote_user"] == "x"
    assert response.json["user"] == {"login": "x", "id": 1, "html_url": "h"}


profile_values = st.one_of(st.none(), st.integers(-(2**40), 2**40), st.text(max_size=12), st.booleans())


@given(
    user=st.dictionaries(
        st.sampled_from(["login", "id", "node_id", "name", "email", "avatar_url", "html_url", "type", "extra"]),
        profile_values,
    ),
    token=st.dictionaries(
        st.sampled_from(["access_token", "token_type", "scope", "expires_at", "refresh_token", "id_token"]),
        st.one_of(st.text(max_size=8), st.integers(0, 2**33), st.lists(st.text(max_size=6), max_size=3), st.none()),
    ),
    name=st.text(max_size=8),
    groups=st.lists(st.text(max_size=6), max_size=3),
    sub=st.text(max_size=6),
)
def test_the_compact_format_round_trips_exactly(
    user: dict[str, t.Any], token: dict[str, t.Any], name: str, groups: list[str], sub: str
) -> None:
    """Whatever the profile and token hold, reading the compact payload gives the same session
    back, with GitHub's derivations (on github.com and on an Enterprise Server)."""
    from oauth_middleware.providers import GitHub

    for provider in (GitHub(), GitHub("https://ghe.example.com")):
        session = Session(user, token, 1.8e9, name, 1.8e9 + 5, 1.8e9 + 9, tuple(groups), sub)
        again = Session.from_json(session.to_json(provider.derived_profile), provider.derived_profile)
        assert again == session


@given(
    login=st.text(min_size=1, max_size=10),
    account=st.one_of(st.integers(0, 2**40), st.none()),
    overrides=st.dictionaries(
        st.sampled_from(["node_id", "name", "email", "avatar_url", "html_url", "type"]),
        st.one_of(st.none(), st.text(max_size=12)),
    ),
    derived=st.sets(st.sampled_from(["node_id", "avatar_url", "html_url", "type"])),
)
def test_a_trimmed_profile_packs_by_position_and_comes_back_the_same(
    login: str, account: int | None, overrides: dict[str, t.Any], derived: set[str]
) -> None:
    """The shape every login produces: all the fields, some equal to what GitHub derives."""
    from oauth_middleware.providers import GitHub

    for provider in (GitHub(), GitHub("https://ghe.example.com")):
        user = dict.fromkeys(("login", "id", "node_id", "name", "email", "avatar_url", "html_url", "type"))
        user.update(login=login, id=account, **overrides)
        user.update({k: v for k, v in provider.derived_profile(user).items() if k in derived})
        session = Session(
            user, {"access_token": TOKEN, "token_type": "bearer", "scope": []}, 1.8e9, login, 1.8e9, 1.8e9
        )
        packed = session.to_json(provider.derived_profile)
        assert json.loads(packed)[4][0] == login  # packed by position
        assert Session.from_json(packed, provider.derived_profile) == session
