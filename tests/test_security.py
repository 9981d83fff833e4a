"""Security properties, driven with hostile input straight through the WSGI interface.

The property tests build WSGI environs by hand (so raw latin-1 bytes, lying ``CONTENT_LENGTH``
values, hundreds of cookies and odd methods really arrive) and check invariants on every answer:
no 5xx (beyond the contract's deliberate ones), no traceback, ``Location`` only ever a same-site
path or the provider's authorize URL, no CR/LF in a header, no secret in a body, and a wrapped app
that sees identity only when a valid session cookie was sent, and never our own cookies.

The example tests below them cover replay, provider faults over the real ``requests``/``urllib3``
stack, downstream isolation and the headers of the middleware's own answers. Each test is cited
by a requirement id (security.md section 5) in SECURITY.md.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import pathlib
import re
import socket
import string
import time
import typing as t
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import pytest
import requests
import urllib3.util.connection
import webtest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from support import (
    CLIENT_ID,
    CLIENT_SECRET,
    HTTPS,
    SECRET_KEY,
    TOKEN,
    FakeClock,
    GitHubMock,
    cookie_names,
    downstream,
    start_login,
)

from oauth_middleware import GitHub, OAuthMiddleware
from oauth_middleware.flow import Flow
from oauth_middleware.middleware import IDENTITY_HEADERS
from oauth_middleware.oauth import MAX_BODY_BYTES
from oauth_middleware.paths import canonical_path, is_canonical, merge_slashes
from oauth_middleware.redirects import safe_next
from oauth_middleware.testing import FakeGitHub, FakeUser, FaultAdapter, WSGITransportAdapter, login_as, session_cookie
from oauth_middleware.testing.faults import Handler

ROOT = pathlib.Path(__file__).parent.parent
SESSION = "__Host-oauth_session"
AUTHORIZE_URL = "https://github.com/login/oauth/authorize"
CODE = "code-5e1f0c2b9d8a7e6f"
OWN_PATHS = ("/auth/login", "/auth/callback", "/auth/logout")
STATIC_SECRETS = (CLIENT_SECRET, SECRET_KEY, TOKEN, "gho_test_octocat", "gho_test_hubot")

#: Bounded for a 2-core machine: ~150 examples per property, no per-example deadline. Set
#: SECURITY_MAX_EXAMPLES for a deeper run (e.g. 5000 before a release).
BOUNDED = settings(
    max_examples=int(os.environ.get("SECURITY_MAX_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# -- driving the WSGI interface by hand --------------------------------------------------------------


@dataclasses.dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v for n, v in self.headers if n.lower() == name.lower()]
        return values[-1] if values else None

    def set_cookies(self) -> dict[str, str]:
        """name -> value of every Set-Cookie ("" for deletions)."""
        found = {}
        for name, value in self.headers:
            if name.lower() == "set-cookie":
                first = value.split(";", 1)[0]
                cookie, _, cookie_value = first.partition("=")
                found[cookie.strip()] = "" if "Max-Age=0" in value else cookie_value
        return found


class Recorder:
    """The wrapped app: remembers the environ of every request it receives."""

    def __init__(self, headers: t.Sequence[tuple[str, str]] = ()) -> None:
        self.seen: list[dict[str, t.Any]] = []
        self.headers = list(headers)

    def __call__(self, environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]) -> list[bytes]:
        self.seen.append(dict(environ))
        body = json.dumps({"remote_user": environ.get("REMOTE_USER")}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), *self.headers])
        return [body]


def environ_for(
    path: str,
    *,
    method: str = "GET",
    query: str = "",
    headers: t.Mapping[str, str] | None = None,
    body: bytes = b"",
    content_length: str | None = None,
    script_name: str = "",
    **extra: t.Any,
) -> dict[str, t.Any]:
    environ: dict[str, t.Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "app.example.com",
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "app.example.com",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if body or content_length is not None:
        environ["CONTENT_LENGTH"] = str(len(body)) if content_length is None else content_length
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        else:
            environ["HTTP_" + key] = value
    environ.update(extra)
    return environ


def call(app: t.Callable[..., t.Iterable[bytes]], environ: dict[str, t.Any]) -> Answer:
    """Call a WSGI app like a strict server would, checking the protocol on the way."""
    started: list[tuple[str, list[tuple[str, str]]]] = []
    written: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: t.Any = None) -> t.Callable[..., t.Any]:
        assert exc_info is None or not started
        started.append((status, headers))
        return written.append

    result = app(environ, start_response)
    try:
        chunks = list(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    assert started, "start_response was never called"
    status, headers = started[-1]
    assert isinstance(status, str) and re.fullmatch(r"[1-5][0-9][0-9] [^\r\n]+", status), status
    for chunk in chunks:
        assert isinstance(chunk, bytes)
    return Answer(int(status[:3]), list(headers), b"".join(written + chunks))


def cookie_header(cookies: t.Mapping[str, str] | t.Iterable[tuple[str, str]]) -> str:
    items = cookies.items() if isinstance(cookies, t.Mapping) else cookies
    return "; ".join("%s=%s" % item for item in items)


# -- invariants -------------------------------------------------------------------------------------

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]+")


def is_same_site_path(location: str) -> bool:
    return (
        location.startswith("/")
        and not location.startswith("//")
        and "\\" not in location
        and bool(_PRINTABLE_ASCII.fullmatch(location))
    )


def check_answer(
    answer: Answer,
    *,
    secrets: t.Iterable[str] = (),
    allowed_5xx: t.Container[int] = (),
    authorize_url: str = AUTHORIZE_URL,
) -> None:
    """The invariants every answer keeps, whatever the request."""
    assert answer.status < 500 or answer.status in allowed_5xx, (answer.status, answer.body[:300])
    assert b"Traceback" not in answer.body
    for name, value in answer.headers:
        assert isinstance(name, str) and isinstance(value, str)
        assert _HEADER_NAME.fullmatch(name), name
        assert "\r" not in value and "\n" not in value, (name, value)
        value.encode("latin-1")  # a WSGI header value must be latin-1
    location = answer.header("Location")
    if location is not None:
        assert is_same_site_path(location) or (
            location.startswith(authorize_url + "?") and _PRINTABLE_ASCII.fullmatch(location)
        ), location
    for secret in (*STATIC_SECRETS, *secrets):
        assert secret.encode() not in answer.body, secret


def check_downstream(seen: dict[str, t.Any], *, user: str | None) -> None:
    """What the wrapped app received: identity only from a valid session, never our cookies."""
    assert seen.get("REMOTE_USER") == user
    ours = {key for key in seen if key.startswith("oauth_middleware.")}
    if user is None:
        assert ours == set()
    else:
        assert {"oauth_middleware.user", "oauth_middleware.token"} <= ours
        assert seen["oauth_middleware.user"]["login"] == user
    families = tuple("HTTP_" + name.upper().replace("-", "_") for name in IDENTITY_HEADERS)
    assert not [key for key in seen if key.startswith(families)]
    for part in seen.get("HTTP_COOKIE", "").split(";"):
        name = part.partition("=")[0].strip()
        assert not name.removeprefix("__Host-").startswith(("oauth_session.", "oauth_session=")), name
        assert name.removeprefix("__Host-") != "oauth_session", name


# -- hypothesis strategies ----------------------------------------------------------------------------

latin1_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=255), max_size=80)
raw_latin1 = st.binary(max_size=120).map(lambda raw: raw.decode("latin-1"))
param_names = st.one_of(
    st.sampled_from(["next", "state", "code", "error", "error_description", "error_uri", "scope", "x"]),
    latin1_text,
)
param_values = st.one_of(
    latin1_text,
    st.text(max_size=60),
    st.sampled_from(
        [
            "//evil.com",
            "/\\evil.com",
            "https://evil.com",
            "/%0d%0aSet-Cookie:x=1",
            "/\r\nLocation: //evil.com",
            "javascript:alert(1)",
            "/auth/logout",
            "/ok?x=1",
            "\x00",
            "%",
            "%%32%65",
        ]
    ),
)


@st.composite
def query_strings(draw: st.DrawFn) -> str:
    """Raw latin-1 bytes as a WSGI server hands them over, or encoded/unencoded name=value pairs."""
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return draw(raw_latin1)
    pairs = draw(st.lists(st.tuples(param_names, param_values), max_size=6))
    if kind == 1:
        return "&".join("%s=%s" % pair for pair in pairs).encode("utf-8", "surrogatepass").decode("latin-1")
    encoded = urlencode([(n.encode("utf-8", "surrogatepass"), v.encode("utf-8", "surrogatepass")) for n, v in pairs])
    return encoded.encode("ascii").decode("latin-1")


our_cookie_names = st.sampled_from(
    [
        SESSION,
        "oauth_session",
        SESSION + ".1",
        SESSION + ".2",
        SESSION + ".flow.0123456789abcdef",
        "oauth_session.flow.0123456789abcdef",
        SESSION + ".flow.",
        "__Host-oauth_session_x",
    ]
)
base64ish = st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=0, max_size=120)
cookie_values = st.one_of(
    latin1_text.map(lambda v: v.replace(";", "")),
    base64ish,
    st.builds("{}.{}".format, st.integers(-2, 9), base64ish),
)
cookie_names_any = st.one_of(our_cookie_names, latin1_text.map(lambda v: v.replace(";", "").replace("=", "")))


@st.composite
def cookie_headers(draw: st.DrawFn) -> str | None:
    if draw(st.booleans()):
        return None
    pairs = draw(st.lists(st.tuples(cookie_names_any, cookie_values), max_size=12))
    if draw(st.integers(0, 4)) == 0:  # hundreds of cookies
        pairs += [("c%d" % i, "v%d" % i) for i in range(draw(st.integers(100, 400)))]
    separator = draw(st.sampled_from(["; ", ";", " ; "]))
    return separator.join("%s=%s" % pair for pair in pairs)


methods = st.one_of(
    st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"]),
    st.text(alphabet=string.ascii_letters + "!#$%&'*+-.^_`|~", min_size=1, max_size=12),
)
hosts = st.one_of(
    st.just("app.example.com"),
    st.sampled_from(["APP.example.com:8443", "[::1]:443", "evil.com", "", "a b", "x/y", "x\\y", "h\r\nx: y"]),
    latin1_text,
)


@st.composite
def request_headers(draw: st.DrawFn) -> dict[str, str]:
    headers = {}
    choices = {
        "Accept": st.one_of(
            st.sampled_from(["text/html", "application/json", "*/*", "text/html, application/json"]), latin1_text
        ),
        "Origin": st.one_of(
            st.sampled_from(["https://app.example.com", "https://evil.com", "null", "http://[", "https://x@evil.com"]),
            latin1_text,
        ),
        "Sec-Fetch-Site": st.one_of(st.sampled_from(["same-origin", "same-site", "cross-site", "none"]), latin1_text),
        "Sec-Fetch-Mode": st.one_of(st.sampled_from(["navigate", "cors", "no-cors"]), latin1_text),
        "Sec-Fetch-Dest": st.sampled_from(["document", "image", "empty"]),
        "X-Requested-With": st.just("XMLHttpRequest"),
        "Referer": latin1_text,
        "Remote-User": st.just("admin"),
        "X-Forwarded-User": st.just("admin"),
        "X-Forwarded-Host": st.just("evil.com"),
        "X-Forwarded-Proto": st.sampled_from(["http", "https"]),
        "Oauth-Middleware-User": st.just("admin"),
    }
    for name, values in choices.items():
        if draw(st.booleans()):
            headers[name] = draw(values)
    return headers


path_segments = st.sampled_from(
    ["", ".", "..", "admin", "static", "auth", "login", "callback", "%2e%2e", "%2F", "caf\xe9", "\xff", "a b", ";x"]
)


@st.composite
def paths(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 3)) == 0:
        return draw(latin1_text)
    segments = draw(st.lists(path_segments, max_size=6))
    separators = draw(st.lists(st.sampled_from(["/", "//", "///"]), min_size=len(segments), max_size=len(segments)))
    return "/" + "".join(sep + seg for sep, seg in zip(separators, segments, strict=True)).lstrip("/")


# -- the properties -----------------------------------------------------------------------------------


def make(app: t.Any = downstream, **options: t.Any) -> OAuthMiddleware:
    options.setdefault("client_id", CLIENT_ID)
    options.setdefault("client_secret", CLIENT_SECRET)
    options.setdefault("secret_key", SECRET_KEY)
    return OAuthMiddleware(app, **options)


MIDDLEWARE = make(require_login=["/admin"], public_paths=["/static"])


@BOUNDED
@given(
    method=methods,
    query=query_strings(),
    cookies=cookie_headers(),
    headers=request_headers(),
    host=hosts,
    script_name=st.sampled_from(["", "/app", "/caf\xc3\xa9"]),
)
def test_login_endpoint_survives_hostile_requests(
    method: str, query: str, cookies: str | None, headers: dict[str, str], host: str, script_name: str
) -> None:
    headers = dict(headers, Host=host)
    if cookies is not None:
        headers["Cookie"] = cookies
    answer = call(
        MIDDLEWARE, environ_for("/auth/login", method=method, query=query, headers=headers, script_name=script_name)
    )
    check_answer(answer)
    if method not in ("GET", "HEAD"):
        assert answer.status == 405
    elif answer.status == 302:
        location = answer.header("Location") or ""
        assert location.startswith(AUTHORIZE_URL + "?")
        params = parse_qs(urlsplit(location).query)
        expected_host = (host or "app.example.com:443").lower()
        callback = "https://%s%s/auth/callback" % (expected_host, quote(script_name.encode("latin-1")))
        assert params["redirect_uri"] == [callback]
        assert "next" not in params
        assert any(name.startswith(SESSION + ".flow.") for name in answer.set_cookies())
    else:
        assert answer.status == 400  # a Host header that cannot make a callback URL
        assert answer.set_cookies() == {}


@BOUNDED
@given(method=methods, query=query_strings(), cookies=cookie_headers(), headers=request_headers())
def test_callback_without_a_valid_flow_never_calls_github(
    github: GitHubMock, method: str, query: str, cookies: str | None, headers: dict[str, str]
) -> None:
    if cookies is not None:
        headers = dict(headers, Cookie=cookies)
    before = len(github.token_calls), len(github.user_calls)
    answer = call(MIDDLEWARE, environ_for("/auth/callback", method=method, query=query, headers=headers))
    check_answer(answer)
    assert (len(github.token_calls), len(github.user_calls)) == before  # CSRF-3: no network without a flow
    assert answer.status in (400, 405)
    assert all(value == "" for value in answer.set_cookies().values())  # at most deletions
    if answer.status == 400:
        assert answer.header("Referrer-Policy") == "no-referrer"


def begin_login(middleware: OAuthMiddleware, next_url: str | None = None) -> tuple[str, dict[str, str]]:
    """(state, flow cookies) of a login started on ``middleware``."""
    query = urlencode({"next": next_url}) if next_url is not None else ""
    answer = call(middleware, environ_for("/auth/login", query=query))
    assert answer.status == 302
    state = parse_qs(urlsplit(answer.header("Location") or "").query)["state"][0]
    return state, {name: value for name, value in answer.set_cookies().items() if value}


@BOUNDED
@given(
    code=st.one_of(st.just(CODE), st.text(min_size=1, max_size=40).map(lambda s: CODE + s)),
    extra=st.lists(st.tuples(param_names, param_values), max_size=4),
    next_url=st.one_of(st.none(), param_values, st.sampled_from(["/reports?year=2026", "/a/b#c"])),
    cookies=cookie_headers(),
    headers=request_headers(),
)
@example(code=CODE, extra=[("error", "server_error")], next_url=None, cookies=None, headers={})
def test_callback_with_a_valid_flow_and_hostile_extras(
    github: GitHubMock,
    code: str,
    extra: list[tuple[str, str]],
    next_url: str | None,
    cookies: str | None,
    headers: dict[str, str],
) -> None:
    state, flow = begin_login(MIDDLEWARE, next_url)
    header = cookie_header(flow) + ("; " + cookies if cookies else "")
    query = urlencode([("state", state), ("code", code), *extra])
    calls = len(github.token_calls)
    answer = call(MIDDLEWARE, environ_for("/auth/callback", query=query, headers=dict(headers, Cookie=header)))
    provider_error = any(name == "error" for name, _ in extra)
    # the contract's 502: GitHub reported a failure through the browser (error=... with a valid state)
    check_answer(answer, secrets=(state, code), allowed_5xx=(502,) if provider_error else ())
    assert answer.header("Referrer-Policy") == "no-referrer"
    assert answer.header("Cache-Control") == "no-store"
    deleted = [
        name for name, value in answer.set_cookies().items() if name.startswith(SESSION + ".flow.") and not value
    ]
    assert deleted == list(flow)  # consumed in every outcome
    if provider_error:
        assert len(github.token_calls) == calls and answer.status in (403, 502)
        assert SESSION not in answer.set_cookies()
        return
    assert answer.status == 302 and answer.body == b""
    assert len(github.token_calls) == calls + 1  # exactly one exchange
    assert github.token_calls[-1]["code"] == [code]
    assert answer.set_cookies()[SESSION]
    assert answer.header("Location") == safe_next(next_url, forbidden=OWN_PATHS)


@BOUNDED
@given(
    method=methods,
    query=query_strings(),
    form=query_strings(),
    content_type=st.sampled_from(["application/x-www-form-urlencoded", "multipart/form-data", "text/plain", ""]),
    content_length=st.one_of(st.none(), st.sampled_from(["-1", "abc", "99999999", "0", "17", " 3"])),
    cookies=cookie_headers(),
    headers=request_headers(),
    logged_in=st.booleans(),
)
def test_logout_endpoint_survives_hostile_requests(
    method: str,
    query: str,
    form: str,
    content_type: str,
    content_length: str | None,
    cookies: str | None,
    headers: dict[str, str],
    logged_in: bool,
) -> None:
    jar = session_cookie(MIDDLEWARE, "octocat") if logged_in else {}
    header = "; ".join(x for x in (cookie_header(jar), cookies) if x)
    headers = dict(headers, Cookie=header, **{"Content-Type": content_type})
    environ = environ_for(
        "/auth/logout",
        method=method,
        query=query,
        headers=headers,
        body=form.encode("latin-1"),
        content_length=content_length,
    )
    answer = call(MIDDLEWARE, environ)
    check_answer(answer, secrets=tuple(jar.values()))
    assert answer.header("Cache-Control") == "no-store"
    if method in ("GET", "HEAD"):
        assert answer.status == 200 and answer.set_cookies() == {}  # a form, never a logout
    elif method != "POST":
        assert answer.status == 405
    elif answer.status == 403:  # cross-site
        assert answer.set_cookies() == {}
        site, origin = headers.get("Sec-Fetch-Site"), headers.get("Origin")
        assert site not in (None, "same-origin", "none") or origin is not None
    else:
        assert answer.status == 303
        if logged_in:
            assert answer.set_cookies().get(SESSION) == ""


@BOUNDED
@given(
    path=paths(),
    method=methods,
    query=query_strings(),
    cookies=cookie_headers(),
    headers=request_headers(),
    upstream=st.dictionaries(
        st.sampled_from(["REMOTE_USER", "oauth_middleware.user", "oauth_middleware.token", "oauth_middleware.groups"]),
        st.sampled_from(["admin", {"login": "admin"}]),
    ),
)
def test_anonymous_pass_through_carries_no_identity(
    path: str,
    method: str,
    query: str,
    cookies: str | None,
    headers: dict[str, str],
    upstream: dict[str, t.Any],
) -> None:
    if path in OWN_PATHS:
        return
    recorder = Recorder()
    middleware = make(recorder, require_login=["/admin"], public_paths=["/static"])
    if cookies is not None:
        headers = dict(headers, Cookie=cookies)
    answer = call(middleware, environ_for(path, method=method, query=query, headers=headers, **upstream))
    check_answer(answer)
    if recorder.seen:
        assert answer.status == 200
        check_downstream(recorder.seen[0], user=None)
        assert is_canonical(recorder.seen[0]["PATH_INFO"])  # PATH-1: the app routes only canonical paths
        if cookies is not None and SESSION in cookies:
            assert all(value == "" for value in answer.set_cookies().values())  # bad cookies are cleared
    elif not is_canonical(path):
        check_not_canonical(answer, path, method)
    else:
        assert answer.status in (302, 401)
        if answer.status == 302:
            assert (answer.header("Location") or "").startswith("/auth/login?next=/")


def check_not_canonical(answer: Answer, path: str, method: str) -> None:
    """A path with dot segments (or no leading slash) is redirected to its canonical form or refused."""
    if method in ("GET", "HEAD"):
        assert answer.status == 308
        location = answer.header("Location") or ""
        assert location.split("?")[0] == quote(canonical_path(path).encode("latin-1"), safe="/:@!$&'()*+,;=~")
        assert not location.startswith("//")
    else:
        assert answer.status == 400


@BOUNDED
@given(
    path=paths(),
    method=methods,
    cookies=cookie_headers(),
    headers=request_headers(),
    user=st.sampled_from(["octocat", "hubot"]),
)
def test_authenticated_pass_through_carries_only_the_session_identity(
    path: str, method: str, cookies: str | None, headers: dict[str, str], user: str
) -> None:
    if path in OWN_PATHS:
        return
    recorder = Recorder()
    middleware = make(recorder, require_login=True)
    jar = session_cookie(middleware, user)
    # ours first: the same name sent again later (a sibling subdomain tossing cookies) does not win
    header = "; ".join(x for x in (cookie_header(jar), cookies) if x)
    answer = call(middleware, environ_for(path, method=method, headers=dict(headers, Cookie=header)))
    check_answer(answer, secrets=tuple(jar.values()))
    if not is_canonical(path):
        assert recorder.seen == []
        check_not_canonical(answer, path, method)
        return
    assert answer.status == 200
    [seen] = recorder.seen
    check_downstream(seen, user=user)
    assert seen["oauth_middleware.token"]["access_token"] == "gho_test_" + user
    assert all(value not in seen.get("HTTP_COOKIE", "") for value in jar.values())


def under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def router_readings(path: str) -> set[str]:
    """The paths a router may act on for ``PATH_INFO``: as sent, with a missing leading slash added
    (Werkzeug), with ``//`` merged (Werkzeug's redirect, Pyramid's traversal), with dot segments
    resolved (a proxy), and both."""
    slashed = path if path.startswith("/") else "/" + path
    merged = merge_slashes(slashed)
    return {path, slashed, merged, canonical_path(slashed), canonical_path(merged)}


@BOUNDED
@given(path=paths(), leading_slash=st.booleans())
@example(path="//admin", leading_slash=True)
@example(path="//admin/users", leading_slash=True)
@example(path="//static/../admin", leading_slash=True)
@example(path="/static//../admin", leading_slash=True)
@example(path="/admin", leading_slash=False)
def test_protected_prefixes_hold_for_every_path_spelling(path: str, leading_slash: bool) -> None:
    """PATH-1: whatever the spelling, an anonymous request never reaches the app with a path that
    any router could read as protected; following the middleware's own redirect changes nothing."""
    if not leading_slash:
        path = path.lstrip("/")  # gunicorn with SCRIPT_NAME=/app gives "/appadmin" as "admin"
    recorder = Recorder()
    middleware = make(recorder, require_login=["/admin"], public_paths=["/static"])
    answer = call(middleware, environ_for(path, headers={"Accept": "text/html"}))
    final = path
    if answer.status == 308:  # dot segments or no leading slash: to the canonical spelling, decided again
        assert recorder.seen == []
        final = unquote(answer.header("Location") or "", encoding="latin-1")
        answer = call(middleware, environ_for(final, headers={"Accept": "text/html"}))
    for seen in recorder.seen:
        assert is_canonical(seen["PATH_INFO"])
        for reading in router_readings(seen["PATH_INFO"]):
            assert not under(reading, "/admin"), "anonymous %r reached the app as %r" % (path, seen["PATH_INFO"])
    if any(under(reading, "/admin") for reading in router_readings(final)):
        assert answer.status == 302 and recorder.seen == []


def error_page(state_and_flow: tuple[str, dict[str, str]], accept: str, **params: str) -> Answer:
    state, flow = state_and_flow
    query = urlencode(dict(params, state=state))
    return call(
        MIDDLEWARE,
        environ_for("/auth/callback", query=query, headers={"Cookie": cookie_header(flow), "Accept": accept}),
    )


@BOUNDED
@given(error=st.one_of(st.text(max_size=80), latin1_text), description=st.text(max_size=200), uri=latin1_text)
@example(error="<script>alert(1)</script>", description="<img src=x onerror=alert(1)>", uri="javascript:alert(1)")
@example(error="access_denied", description="</p><script>x</script>", uri="https://evil.com/")
def test_provider_error_text_is_never_echoed(github: GitHubMock, error: str, description: str, uri: str) -> None:
    """``error``, ``error_description`` and ``error_uri`` come from whoever crafted the callback URL."""
    baseline = error_page(begin_login(MIDDLEWARE), "text/html", error="server_error").body.decode("utf-8")
    pages = []
    for accept in ("text/html", "application/json"):
        state_and_flow = begin_login(MIDDLEWARE)
        answer = error_page(state_and_flow, accept, error=error, error_description=description, error_uri=uri)
        check_answer(answer, secrets=(state_and_flow[0],), allowed_5xx=(502,))
        assert answer.status in (403, 502)
        assert answer.header("X-Content-Type-Options") == "nosniff"
        pages.append(answer)
    html_page, json_page = pages
    text = html_page.body.decode("utf-8")
    tags = re.compile(r"<[a-z/!]")
    # the page's own tags only: every "<" opens one of them, as many as on a page with a known error
    assert text.count("<") == len(tags.findall(text)) == len(tags.findall(baseline))
    baseline_json = error_page(begin_login(MIDDLEWARE), "application/json", error="server_error").body.decode()
    for hostile in (description, uri):
        if hostile in baseline or hostile in baseline_json:
            continue  # a piece of our own page (e.g. '"/au' of the login link), not an echo
        if len(hostile) > 3 and any(c in hostile for c in "<>&\"'"):
            assert hostile not in text and hostile not in json_page.body.decode("utf-8")
    assert set(json.loads(json_page.body)) == {"error", "error_description", "login_url"}
    assert github.token_calls == []


# -- replay -------------------------------------------------------------------------------------------


@pytest.fixture
def fake() -> FakeGitHub:
    return FakeGitHub(auto_approve="octocat")


@pytest.fixture
def fake_app(fake: FakeGitHub) -> webtest.TestApp:
    middleware = make(
        provider=fake.provider(), client_id=fake.client_id, client_secret=fake.client_secret, clock=FakeClock()
    )
    fake.mount(middleware.http)
    return webtest.TestApp(middleware, extra_environ=HTTPS)


def consent(fake: FakeGitHub, testapp: t.Any) -> tuple[str, dict[str, str]]:
    """Start a login and approve it at the fake: (callback path and query, flow cookies)."""
    authorize = testapp.get("/auth/login", status=302).headers["Location"]
    flow = {c.name: str(c.value) for c in testapp.cookiejar if ".flow." in c.name}
    callback = webtest.TestApp(fake).get(authorize[len(fake.base_url) :], status=302).headers["Location"]
    parts = urlsplit(callback)
    return parts.path + "?" + parts.query, flow


def test_replayed_callback_url_never_reaches_github_again(fake: FakeGitHub, fake_app: webtest.TestApp) -> None:
    url, _ = consent(fake, fake_app)
    fake_app.get(url, status=302)
    assert fake.token_requests == 1
    # the same, logged-in browser (back button, refresh): on to "/", no error, no exchange
    again = fake_app.get(url, status=303)
    assert again.headers["Location"] == "/"
    assert SESSION not in cookie_names(again)
    # a fresh browser (the URL from history, a shared link): 400, no exchange
    stranger = webtest.TestApp(fake_app.app, extra_environ=HTTPS)
    stranger.get(url, status=400)
    assert fake.token_requests == 1
    assert stranger.get("/x").json["remote_user"] is None


def test_replayed_flow_cookie_gets_no_second_session(fake: FakeGitHub, fake_app: webtest.TestApp) -> None:
    """Someone holding a copy of the flow cookie (and the callback URL) replays both after the login.

    Today the stateless middleware cannot tell the copy from the original and redeems the code a
    second time, which GitHub's single-use codes refuse (502); with a memory of used states it
    would be a 400 without the second call. Either way no second session comes of it, and the
    original session is untouched (SECURITY.md, Known limitations).
    """
    url, flow = consent(fake, fake_app)
    fake_app.get(url, status=302)
    thief = webtest.TestApp(fake_app.app, extra_environ=HTTPS)
    response = thief.get(url, headers={"Cookie": cookie_header(flow)}, expect_errors=True)
    assert response.status_int in (400, 502)
    assert SESSION not in cookie_names(response)
    assert any(".flow." in name for name in cookie_names(response))  # consumed again
    assert thief.get("/x").json["remote_user"] is None
    assert fake_app.get("/x").json["remote_user"] == "octocat"


def test_a_code_is_never_exchanged_twice_even_with_a_replayed_flow_cookie(
    testapp: webtest.TestApp, github: GitHubMock
) -> None:
    params = start_login(testapp)
    flow = {c.name: str(c.value) for c in testapp.cookiejar if ".flow." in c.name}
    url = "/auth/callback?" + urlencode({"code": CODE, "state": params["state"]})
    testapp.get(url, status=302)
    thief = webtest.TestApp(testapp.app, extra_environ=HTTPS)
    response = thief.get(url, headers={"Cookie": cookie_header(flow)}, expect_errors=True)
    assert len(github.token_calls) == 1
    assert response.status_int == 400
    assert SESSION not in cookie_names(response)


# -- provider faults over the real requests/urllib3 stack --------------------------------------------


def canned(handler: Handler) -> FaultAdapter:
    """A transport adapter answering every request from ``handler``, with any body (bytes or a
    file-like stream read on demand)."""
    faults = FaultAdapter()
    faults.respond("https://", handler)
    return faults


def token_answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
    body = {"access_token": TOKEN, "token_type": "bearer", "scope": "read:user,user:email"}
    return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


def failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("oauth_middleware") and r.levelno >= logging.WARNING]


def run_callback(app: webtest.TestApp, caplog: pytest.LogCaptureFixture, status: int) -> webtest.TestResponse:
    """Start a login, then GET its callback and expect ``status``; only the callback's records are kept."""
    state = start_login(app)["state"]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        response = app.get("/auth/callback", {"code": CODE, "state": state}, status=status)
    assert SESSION not in cookie_names(response)
    assert CODE not in response.text and TOKEN not in response.text and "Traceback" not in response.text
    return response


@pytest.fixture
def silent_port() -> t.Iterator[int]:
    """A loopback port that accepts connections (the kernel's backlog) and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on: connecting is refused."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return int(port)


def local_provider_app(port: int, **options: t.Any) -> tuple[OAuthMiddleware, webtest.TestApp]:
    with pytest.warns(UserWarning, match="allow_insecure_http"):
        middleware = make(provider=GitHub("http://127.0.0.1:%d" % port), allow_insecure_http=True, **options)
    return middleware, webtest.TestApp(middleware, extra_environ=HTTPS)


@pytest.mark.parametrize("step", ["token", "profile"])
def test_connect_timeout_is_504_and_logged_once(
    step: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """urllib3 itself raises ConnectTimeoutError (the socket connect timed out)."""
    seen: list[tuple[str, t.Any]] = []

    def connect(address: tuple[str, int], timeout: t.Any = None, *args: t.Any, **kwargs: t.Any) -> socket.socket:
        seen.append((address[0], timeout))
        raise TimeoutError("timed out")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", connect)
    middleware = make(timeout=(1.5, 4.0))
    if step == "profile":
        middleware.http.mount("https://github.com/", canned(token_answer))
    response = run_callback(webtest.TestApp(middleware, extra_environ=HTTPS), caplog, 504)
    assert "did not answer in time" in response.text
    assert seen == [("github.com" if step == "token" else "api.github.com", 1.5)]  # one attempt, no retry
    assert len(failures(caplog)) == 1
    middleware.http.close()


@pytest.mark.parametrize("step", ["token", "profile"])
def test_read_timeout_is_504_and_logged_once(step: str, silent_port: int, caplog: pytest.LogCaptureFixture) -> None:
    """A real socket that connects and never answers; the configured read timeout (0.3 s) applies."""
    middleware, app = local_provider_app(silent_port, timeout=(2.0, 0.3))
    if step == "profile":
        middleware.http.mount("https://127.0.0.1:%d/login/" % silent_port, canned(token_answer))
    started = time.monotonic()
    run_callback(app, caplog, 504)
    assert time.monotonic() - started < 5  # not the 10 s default: the option reached the socket
    assert len(failures(caplog)) == 1
    middleware.http.close()


def test_dns_failure_is_502_and_logged_once(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """requests.ConnectionError wrapping urllib3's NameResolutionError, raised by the real stack."""

    def getaddrinfo(*args: t.Any, **kwargs: t.Any) -> t.NoReturn:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    middleware = make()
    with pytest.raises(requests.ConnectionError) as raised:  # the control: what the stack raises
        middleware.http.get("https://github.com/", timeout=1)
    assert "NameResolutionError" in repr(raised.value)
    response = run_callback(webtest.TestApp(middleware, extra_environ=HTTPS), caplog, 502)
    assert "could not be reached" in response.text
    assert len(failures(caplog)) == 1
    middleware.http.close()


def test_connection_refused_is_502_and_logged_once(closed_port: int, caplog: pytest.LogCaptureFixture) -> None:
    middleware, app = local_provider_app(closed_port)
    response = run_callback(app, caplog, 502)
    assert "could not be reached" in response.text
    assert len(failures(caplog)) == 1
    middleware.http.close()


def test_every_provider_call_gets_the_timeout_and_verified_tls() -> None:
    """Token, refresh, /user, /user/emails, /user/orgs, /user/teams and the revocation: each call
    carries the configured connect timeout and the rest of its total budget (connect + read) as the
    read timeout, and TLS verification is never turned off."""
    clock = FakeClock()
    mona = FakeUser("mona", 3, email=None, orgs=["acme"], teams=["acme/ops"])
    fake = FakeGitHub(users=[mona], auto_approve="mona", expiring_tokens=True)
    middleware = make(
        provider=fake.provider(),
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        clock=clock,
        timeout=(2.5, 7.5),
        allowed_orgs=["acme"],
        revoke_on_logout=True,
    )
    transport = FaultAdapter(WSGITransportAdapter(fake))  # the fake, recording the arguments of each call
    middleware.http.mount(fake.base_url + "/", transport)
    app = webtest.TestApp(middleware, extra_environ=HTTPS)
    url, _ = consent(fake, app)
    app.get(url, status=302)
    clock.advance(8 * 3600)  # the token is due for a refresh, the memberships for re-validation
    assert app.get("/x").json["remote_user"] == "mona"
    app.post("/auth/logout", status=303)
    paths = [(call.method, call.path) for call in transport.calls]
    for call_ in [
        ("POST", "/login/oauth/access_token"),
        ("GET", "/api/v3/user"),
        ("GET", "/api/v3/user/emails"),
        ("GET", "/api/v3/user/orgs"),
        ("GET", "/api/v3/user/teams"),
        ("DELETE", "/api/v3/applications/%s/token" % fake.client_id),
    ]:
        assert call_ in paths
    assert paths.count(("POST", "/login/oauth/access_token")) == 2  # the code, then the refresh
    for call in transport.calls:  # read: what is left of the call's 10 s (ERR-9)
        connect, read = call.timeout
        assert connect == 2.5 and 0 < read <= 2.5 + 7.5
    assert all(call.verify is not False for call in transport.calls)


class Endless(io.RawIOBase):
    """A body of ``size`` bytes made on demand; ``served`` says how much was read."""

    def __init__(self, head: bytes, size: int) -> None:
        self.head = head
        self.size = size
        self.served = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: t.Any) -> int:
        n = min(len(buffer), self.size - self.served)
        if n <= 0:
            return 0
        start = self.served
        chunk = self.head[start : start + n] if start < len(self.head) else b""
        chunk += b"x" * (n - len(chunk))
        buffer[:n] = chunk
        self.served += n
        return n


FIVE_MB = 5 << 20


def test_huge_profile_body_is_not_read_in_full(caplog: pytest.LogCaptureFixture) -> None:
    body = Endless(b'{"login": "octocat", "id": 1, "pad": "', FIVE_MB)

    def answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], t.Any]:
        return token_answer(request) if "access_token" in (request.url or "") else (200, JSON_TYPE, body)

    middleware = make()
    middleware.http.mount("https://", canned(answer))
    response = run_callback(webtest.TestApp(middleware, extra_environ=HTTPS), caplog, 502)
    assert "unexpectedly large" in response.text
    assert body.served <= MAX_BODY_BYTES + 64 * 1024  # stopped reading soon after the cap
    assert len(failures(caplog)) == 1


JSON_TYPE = {"Content-Type": "application/json"}


def test_huge_token_body_is_not_read_in_full(caplog: pytest.LogCaptureFixture) -> None:
    body = Endless(b'{"access_token": "gho_x", "token_type": "bearer", "pad": "', FIVE_MB)
    middleware = make()
    middleware.http.mount("https://", canned(lambda request: (200, JSON_TYPE, body)))
    run_callback(webtest.TestApp(middleware, extra_environ=HTTPS), caplog, 502)
    assert body.served <= MAX_BODY_BYTES + 64 * 1024
    assert len(failures(caplog)) == 1


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_token_endpoint_redirect_is_not_followed(caplog: pytest.LogCaptureFixture, status: int) -> None:
    """A redirect from the token endpoint (a hostile or misconfigured provider or proxy) must not
    carry the code, verifier and client secret elsewhere, nor bring a token back from elsewhere."""
    collected: list[str] = []

    def answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], t.Any]:
        if (request.url or "").startswith("https://github.com/login/oauth/access_token"):
            return status, {"Location": "https://collector.example/steal"}, b""
        collected.append(str(request.body))
        return token_answer(request)

    middleware = make()
    middleware.http.mount("https://", canned(answer))
    run_callback(webtest.TestApp(middleware, extra_environ=HTTPS), caplog, 502)
    assert collected == []
    assert len(failures(caplog)) == 1


@pytest.mark.parametrize(
    "token_type",
    [
        pytest.param("DPoP", id="dpop"),
        pytest.param("token", id="token"),
        pytest.param("bearer ", id="trailing-space"),
        pytest.param("bearer\x00", id="nul"),
        pytest.param(["bearer"], id="list"),
        pytest.param(None, id="null"),
    ],
)
def test_token_type_other_than_bearer_is_502_and_logged_once(
    make_app: t.Any, github: GitHubMock, caplog: pytest.LogCaptureFixture, token_type: t.Any
) -> None:
    github.token_body = {"access_token": TOKEN, "token_type": token_type, "scope": "read:user"}
    run_callback(make_app(), caplog, 502)
    assert github.user_calls == []  # the token was never used
    assert len(failures(caplog)) == 1


# -- downstream isolation and the headers of our own answers -----------------------------------------


IDENTITY_SPELLINGS = [
    pytest.param({"HTTP_REMOTE_USER": "admin"}, id="Remote-User"),
    pytest.param({"HTTP_X_REMOTE_USER": "admin"}, id="X-Remote-User"),
    pytest.param({"HTTP_X_FORWARDED_USER": "admin"}, id="X-Forwarded-User/X_Forwarded_User"),
    pytest.param({"HTTP_X_FORWARDED_EMAIL": "admin@example.com"}, id="X-Forwarded-Email"),
    pytest.param({"HTTP_X_FORWARDED_PREFERRED_USERNAME": "admin"}, id="X-Forwarded-Preferred-Username"),
    pytest.param({"HTTP_X_AUTH_REQUEST_USER": "admin"}, id="X-Auth-Request-User"),
    pytest.param({"HTTP_X_AUTH_REQUEST_EMAIL": "admin@example.com"}, id="X-Auth-Request-Email"),
    pytest.param({"HTTP_OAUTH_MIDDLEWARE_USER": "admin"}, id="Oauth-Middleware-User"),
    pytest.param({"HTTP_OAUTH_MIDDLEWARE.USER": "admin"}, id="Oauth-Middleware.User"),
    pytest.param({"REMOTE_USER": "admin", "oauth_middleware.user": {"login": "admin"}}, id="upstream-environ"),
    pytest.param({"oauth_middleware.token": {"access_token": "x"}}, id="upstream-token"),
]


@pytest.mark.parametrize("spoofed", IDENTITY_SPELLINGS)
@pytest.mark.parametrize("logged_in", [False, True], ids=["anonymous", "logged-in"])
def test_identity_headers_never_become_identity(spoofed: dict[str, t.Any], logged_in: bool) -> None:
    recorder = Recorder()
    middleware = make(recorder)
    headers = {"Cookie": cookie_header(session_cookie(middleware, "hubot"))} if logged_in else {}
    answer = call(middleware, environ_for("/page", headers=headers, **spoofed))
    assert answer.status == 200
    [seen] = recorder.seen
    check_downstream(seen, user="hubot" if logged_in else None)
    assert "admin" not in json.dumps({k: v for k, v in seen.items() if k.startswith("oauth_middleware.")}, default=repr)


def test_forwarded_headers_are_ignored() -> None:
    """X-Forwarded-* are not read: proxies are trusted only through the WSGI server or ProxyFix."""
    forwarded = {
        "X-Forwarded-Host": "evil.com",
        "X-Forwarded-Proto": "http",
        "X-Forwarded-Prefix": "/evil",
        "X-Forwarded-For": "10.0.0.1",
        "Forwarded": "host=evil.com;proto=http",
    }
    answer = call(MIDDLEWARE, environ_for("/auth/login", headers=forwarded))
    params = parse_qs(urlsplit(answer.header("Location") or "").query)
    assert params["redirect_uri"] == ["https://app.example.com/auth/callback"]
    # and over plain http a forwarded "https" does not make the callback https
    forwarded["X-Forwarded-Proto"] = "https"
    plain = environ_for("/auth/login", headers=forwarded)
    plain["wsgi.url_scheme"] = "http"
    assert call(MIDDLEWARE, plain).status == 500


def callback_outcomes() -> list[t.Any]:
    def bad_state(app: webtest.TestApp, github: GitHubMock) -> webtest.TestResponse:
        start_login(app)
        return app.get("/auth/callback", {"code": CODE, "state": "forged"}, status=400)

    def denied(app: webtest.TestApp, github: GitHubMock) -> webtest.TestResponse:
        state = start_login(app)["state"]
        return app.get("/auth/callback", {"error": "access_denied", "state": state}, status=403)

    def provider_error(app: webtest.TestApp, github: GitHubMock) -> webtest.TestResponse:
        github.token_body = (500, {}, "")
        state = start_login(app)["state"]
        return app.get("/auth/callback", {"code": CODE, "state": state}, status=502)

    def timeout(app: webtest.TestApp, github: GitHubMock) -> webtest.TestResponse:
        github.token_body = (200, {}, requests.exceptions.ReadTimeout())
        state = start_login(app)["state"]
        return app.get("/auth/callback", {"code": CODE, "state": state}, status=504)

    def success(app: webtest.TestApp, github: GitHubMock) -> webtest.TestResponse:
        state = start_login(app)["state"]
        return app.get("/auth/callback", {"code": CODE, "state": state}, status=302)

    def replay(app: webtest.TestApp, github: GitHubMock) -> webtest.TestResponse:
        state = start_login(app)["state"]
        app.get("/auth/callback", {"code": CODE, "state": state}, status=302)
        return app.get("/auth/callback", {"code": CODE, "state": state}, status=303)

    def wrong_method(app: webtest.TestApp, github: GitHubMock) -> webtest.TestResponse:
        return app.post("/auth/callback", {"code": CODE, "state": "x"}, status=405)

    def json_error(app: webtest.TestApp, github: GitHubMock) -> webtest.TestResponse:
        return app.get("/auth/callback", {"state": "x"}, headers={"Accept": "application/json"}, status=400)

    return [
        pytest.param(f, id=f.__name__.replace("_", "-"))
        for f in (success, bad_state, denied, provider_error, timeout, replay, wrong_method, json_error)
    ]


@pytest.mark.parametrize("outcome", callback_outcomes())
def test_callback_responses_carry_security_headers(
    testapp: webtest.TestApp, github: GitHubMock, outcome: t.Any
) -> None:
    response = outcome(testapp, github)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "//" not in response.text  # no third-party resource or link


@pytest.mark.parametrize("case", ["renewed", "cleared"])
def test_pass_through_answers_that_set_our_cookies_are_not_cacheable(case: str) -> None:
    """A cookie rewritten on an ordinary request (idle-timeout touch, refresh, a bad cookie cleared)
    rides on the app's own answer; a shared cache must not keep it, whatever the app said."""
    clock = FakeClock()
    recorder = Recorder(headers=[("Cache-Control", "public, max-age=3600")])
    middleware = make(recorder, clock=clock, idle_timeout=3600)
    jar = session_cookie(middleware, "octocat") if case == "renewed" else {SESSION: "tampered"}
    clock.advance(1000)  # past a quarter of the idle timeout: the activity time is rewritten
    answer = call(middleware, environ_for("/page", headers={"Cookie": cookie_header(jar)}))
    assert SESSION in answer.set_cookies()
    cache_control = [v.lower() for n, v in answer.headers if n.lower() == "cache-control"]
    assert any("no-store" in v for v in cache_control) and not any("public" in v for v in cache_control)


# -- more of the bar ------------------------------------------------------------------------------------


def test_next_is_validated_again_when_used(github: GitHubMock) -> None:
    """RED-2: a flow record holding a bad ``next`` (sealed by an older version, say) still lands on /."""
    clock = FakeClock()
    middleware = make(clock=clock)
    for bad in ("//evil.com", "/\\evil.com", "https://evil.com", "/auth/logout", "/x\r\nSet-Cookie: a=b"):
        flow = Flow.start(next_url=bad, redirect_uri="https://app.example.com/auth/callback", now=clock())
        name, value = middleware.flows.dump(flow, secure=True)[1].split(";", 1)[0].split("=", 1)
        query = urlencode({"code": CODE, "state": flow.state})
        answer = call(middleware, environ_for("/auth/callback", query=query, headers={"Cookie": name + "=" + value}))
        assert answer.status == 302
        assert answer.header("Location") == "/"


def test_login_replaces_an_existing_session(testapp: webtest.TestApp, github: GitHubMock) -> None:
    """SES-3/SES-4: a login while logged in (as someone else, with groups) starts a new session;
    nothing of the old one is carried over."""
    middleware = t.cast(OAuthMiddleware, testapp.app)
    login_as(testapp, "hubot", groups=["acme", "acme/ops"])
    old = testapp.cookies[SESSION]
    assert testapp.get("/x").json["remote_user"] == "hubot"
    state = start_login(testapp)["state"]
    assert testapp.get("/x").json["remote_user"] == "hubot"  # starting a login changes nothing yet
    testapp.get("/auth/callback", {"code": CODE, "state": state}, status=302)
    new_value = str(testapp.cookies[SESSION])
    assert new_value != old
    loaded = middleware.sessions.load({SESSION: new_value}, secure=True, now=middleware.clock())
    assert loaded is not None
    assert loaded.session.username == "octocat" and loaded.session.groups == ()
    assert loaded.session.token["access_token"] == TOKEN


def test_failed_login_keeps_the_old_identity_unmixed(testapp: webtest.TestApp, github: GitHubMock) -> None:
    """SES-4/ERR-5: a failed login while logged in leaves the old session exactly as it was."""
    login_as(testapp, "hubot")
    github.user_body = (500, {}, "")
    state = start_login(testapp)["state"]
    response = testapp.get("/auth/callback", {"code": CODE, "state": state}, status=502)
    assert SESSION not in cookie_names(response)
    body = testapp.get("/x").json
    assert body["remote_user"] == "hubot" and body["token"]["access_token"] == "gho_test_hubot"


def test_session_cookie_is_small(testapp: webtest.TestApp, github: GitHubMock) -> None:
    """CK-6: a full GitHub profile is trimmed; the session fits one cookie with room to spare."""
    state = start_login(testapp)["state"]
    response = testapp.get("/auth/callback", {"code": CODE, "state": state}, status=302)
    [header] = [h for h in response.headers.getall("Set-Cookie") if h.startswith(SESSION + "=")]
    assert len(header) < 1500
    user = testapp.get("/x").json["user"]
    assert "followers_url" not in user and "plan" not in user


# -- SECURITY.md -------------------------------------------------------------------------------------

REQUIREMENT_IDS = (
    ["CSRF-%d" % i for i in range(1, 7)]
    + ["PKCE-1", "PKCE-2", "RURI-1", "RURI-2", "MIX-1"]
    + ["URL-%d" % i for i in range(1, 5)]
    + ["CODE-1", "TLS-1", "TLS-2", "TLS-3", "TOK-1", "SCOPE-1"]
    + ["RED-%d" % i for i in range(1, 7)]
    + ["CK-%d" % i for i in range(1, 8)]
    + ["SES-%d" % i for i in range(1, 7)]
    + ["OUT-%d" % i for i in range(1, 4)]
    + ["HDR-%d" % i for i in range(1, 5)]
    + ["PATH-%d" % i for i in range(1, 4)]
    + ["ERR-%d" % i for i in range(1, 12)]
    + ["TAB-%d" % i for i in range(1, 7)]
    + ["OIDC-%d" % i for i in range(1, 11)]
    + ["STORE-%d" % i for i in range(1, 9)]
)


def test_security_md_lists_every_requirement_with_tests_that_exist() -> None:
    text = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    rows = {}
    for line in text.splitlines():
        match = re.match(r"\|\s*\*\*([A-Z]+-\d+)\*\*\s*\|", line)
        if match:
            assert match.group(1) not in rows, "duplicate row %s" % match.group(1)
            rows[match.group(1)] = line
    assert sorted(rows) == sorted(REQUIREMENT_IDS)
    for requirement, row in rows.items():
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert len(cells) == 5, row
        assert re.match(r"(met|partly|not met|not applicable)\b", cells[4]), row
        if not cells[4].startswith("met"):
            assert len(cells[4]) > len("partly") + 10, "%s: say why" % requirement
        references = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", cells[3])
        assert references, "%s cites no test" % requirement
        for path, name in references:
            source = (ROOT / path).read_text(encoding="utf-8")
            assert re.search(r"^def %s\(" % name, source, re.M), "%s: %s::%s does not exist" % (requirement, path, name)


def test_security_md_tells_operators_to_register_the_exact_callback() -> None:
    """RURI-2 is a documentation requirement."""
    text = (ROOT / "SECURITY.md").read_text(encoding="utf-8").lower()
    assert "wildcard" in text and "exact" in text and "redirect_uri" in text
    assert "private vulnerability reporting" in text


def test_security_md_names_only_code_that_exists() -> None:
    """The "where" column names ``module:object`` references; each must still be there (a moved
    function leaves SECURITY.md pointing at nothing)."""
    import importlib

    text = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if re.match(r"\|\s*\*\*[A-Z]+-\d+\*\*", line)]
    references = {ref for row in rows for ref in re.findall(r"`([a-z_.]+):([A-Za-z_][A-Za-z_.]*)`", row.split("|")[3])}
    assert len(references) > 50
    for module_name, dotted in sorted(references):
        target: object = importlib.import_module("oauth_middleware." + module_name)
        for part in dotted.split("."):
            assert hasattr(target, part), "SECURITY.md names %s:%s, which does not exist" % (module_name, dotted)
            target = getattr(target, part)
