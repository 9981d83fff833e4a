"""Path rules (PATH-1, PATH-3), identity header families (HDR-4) and Secure cookies implied by an
https ``redirect_uri``: fixes for findings 1, 2, 8 and 11 of the second hostile review.
The same path rules under gunicorn with real routers: tests/test_e2e_routers.py."""

from __future__ import annotations

import typing as t

import pytest
import webob
import webtest
from conftest import HTTPS, downstream
from hypothesis import given
from hypothesis import strategies as st

from oauth_middleware import ConfigurationError
from oauth_middleware.paths import PrefixSet, canonical_path, is_canonical, merge_slashes
from oauth_middleware.testing import login_as

JSON = {"Accept": "application/json"}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("/", "/", id="root"),
        pytest.param("/a/b", "/a/b", id="plain"),
        pytest.param("/a/b/..", "/a/", id="trailing-dotdot"),
        pytest.param("/a/.", "/a/", id="trailing-dot"),
        pytest.param("/a/./b", "/a/b", id="dot"),
        pytest.param("/../../x", "/x", id="above-root"),
        pytest.param("admin", "/admin", id="no-leading-slash"),
        pytest.param("../admin", "/admin", id="relative-dotdot"),
        pytest.param("/a//b", "/a//b", id="empty-segments-kept"),
        pytest.param("//evil.com/./x", "/evil.com/x", id="never-protocol-relative"),
        pytest.param("/static//../admin", "/static/admin", id="rfc3986-with-empty-segment"),
        pytest.param("/.well-known/x", "/.well-known/x", id="dot-in-a-name"),
    ],
)
def test_canonical_path(path: str, expected: str) -> None:
    assert canonical_path(path) == expected
    assert is_canonical(path) == (path == expected)


@given(st.text(alphabet="/.ab%", max_size=30))
def test_canonical_path_is_canonical_idempotent_and_never_another_host(path: str) -> None:
    result = canonical_path(path)
    assert is_canonical(result)
    assert canonical_path(result) == result
    assert not result.startswith("//")
    assert merge_slashes(result) == merge_slashes(result.replace("//", "/"))


def test_prefix_set_matches_on_segment_boundaries() -> None:
    protected = PrefixSet(["/admin"])
    assert "/admin" in protected and "/admin/x" in protected
    assert "/administrator" not in protected and "/" not in protected
    assert "/anything" in PrefixSet(["/"])


class Recorder:
    """The wrapped app: keeps the environ of the last request."""

    def __init__(self) -> None:
        self.seen: dict[str, t.Any] = {}

    def __call__(self, environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]) -> list[bytes]:
        self.seen = dict(environ)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]


@pytest.fixture
def make_app(make_middleware: t.Any) -> t.Callable[..., webtest.TestApp]:
    def make(app: t.Any = downstream, extra_environ: dict[str, str] | None = None, **options: t.Any) -> webtest.TestApp:
        return webtest.TestApp(make_middleware(app, **options), extra_environ={**HTTPS, **(extra_environ or {})})

    return make


# -- finding 1: dot segments never reach the app ---------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_dot_segments_are_redirected_to_the_canonical_path(make_app: t.Any, method: str) -> None:
    app = make_app(require_login=["/dash"])
    answer = app.request("/dash/..?x=1&y=%2F", method=method, headers=JSON, status=308)
    assert answer.headers["Location"] == "/?x=1&y=%2F"
    assert answer.body == b""
    assert answer.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_dot_segments_in_other_methods_are_refused(make_app: t.Any, method: str) -> None:
    app = make_app(require_login=["/dash"])
    answer = app.request("/dash/x/..", method=method, headers=JSON, status=400)
    assert answer.json["error"] == "invalid_request"
    assert "canonical" in answer.json["error_description"]


def test_a_redirect_keeps_the_mount_point_and_never_leaves_the_site(make_app: t.Any) -> None:
    app = make_app(extra_environ={"SCRIPT_NAME": "/tools"})
    assert app.get("/a/./b", status=308).headers["Location"] == "/tools/a/b"
    assert app.get("//evil.com/./x", status=308).headers["Location"] == "/tools/evil.com/x"
    root = make_app()
    assert root.get("//evil.com/./x", status=308).headers["Location"] == "/evil.com/x"
    assert root.get("/\\evil.com/.", status=308).headers["Location"] == "/%5Cevil.com/"


def test_own_endpoints_are_reached_only_by_their_canonical_path(make_app: t.Any) -> None:
    app = make_app()
    assert app.get("/x/../auth/login", status=308).headers["Location"] == "/auth/login"
    assert app.get("/auth/login", status=302).headers["Location"].startswith("https://github.com/")


# -- finding 2: a PATH_INFO without its leading slash ---------------------------------------------


def raw(middleware: t.Any, path_info: str, *, script_name: str, method: str = "GET") -> webob.Response:
    """A request as a WSGI server hands it over, ``PATH_INFO`` as given (WebTest's lint refuses it)."""
    request = webob.Request.blank("/", environ={**HTTPS, "REQUEST_METHOD": method}, headers=JSON)
    request.environ.update(SCRIPT_NAME=script_name, PATH_INFO=path_info)
    return request.get_response(middleware)


def test_path_info_without_a_leading_slash_is_redirected_under_the_mount(make_middleware: t.Any) -> None:
    """gunicorn, SCRIPT_NAME=/app, ``GET /appadmin``: PATH_INFO is ``admin``, Flask routes ``/admin``."""
    middleware = make_middleware(require_login=["/admin"])
    answer = raw(middleware, "admin", script_name="/app")
    assert (answer.status_int, answer.headers["Location"]) == (308, "/app/admin")
    assert raw(middleware, "admin", script_name="/app", method="POST").status_int == 400
    assert raw(middleware, "/admin", script_name="/app").status_int == 401


def test_a_script_name_of_slash_cannot_hide_a_protected_path(make_middleware: t.Any) -> None:
    middleware = make_middleware(require_login=["/admin"])
    answer = raw(middleware, "admin/x", script_name="/")
    assert (answer.status_int, answer.headers["Location"]) == (308, "/admin/x")


def test_empty_segments_are_protected_in_either_reading(make_app: t.Any) -> None:
    app = make_app(require_login=True, public_paths=["/static"])
    app.get("//static/x", headers=JSON, status=401)  # Django reads "/static/x" as a catch-all's argument
    assert app.get("/static//x", headers=JSON, status=200).json["path"] == "/static//x"
    prefixes = make_app(require_login=["/admin"])
    prefixes.get("//admin", headers=JSON, status=401)  # Pyramid's traversal and Werkzeug read "/admin"
    prefixes.get("/x//admin", headers=JSON, status=200)
    assert prefixes.get("/go/https://example.com/", headers=JSON, status=200).json["path"] == "/go/https://example.com/"


# -- finding 8: an https redirect_uri means Secure cookies -----------------------------------------


def cookie_lines(answer: webtest.TestResponse) -> list[str]:
    return [value for name, value in answer.headerlist if name.lower() == "set-cookie"]


def test_https_redirect_uri_keeps_cookies_secure_behind_an_untrusted_proxy(make_middleware: t.Any) -> None:
    middleware = make_middleware(redirect_uri="https://app.example.com/auth/callback")
    # the proxy's X-Forwarded-Proto is not trusted by the server: the request looks like http
    app = webtest.TestApp(middleware, extra_environ={"wsgi.url_scheme": "http", "HTTP_HOST": "app.example.com"})
    [flow] = cookie_lines(app.get("/auth/login", status=302))
    assert flow.startswith("__Host-") and "; secure" in flow.lower()
    assert middleware.secure is True


def test_secure_false_is_still_honoured_with_an_https_redirect_uri(make_middleware: t.Any) -> None:
    middleware = make_middleware(redirect_uri="https://app.example.com/auth/callback", secure=False)
    app = webtest.TestApp(middleware, extra_environ={"wsgi.url_scheme": "http", "HTTP_HOST": "app.example.com"})
    [flow] = cookie_lines(app.get("/auth/login", status=302))
    assert not flow.startswith("__Host-") and "secure" not in flow.lower()


# -- finding 11: whole families of identity headers ------------------------------------------------

FAMILY_MEMBERS = [
    "X-Forwarded-User",
    "X-Forwarded-Username",
    "X-Forwarded-Email",
    "X-Forwarded-Groups",
    "X-Forwarded-Access-Token",
    "X-Forwarded-Preferred-Username",
    "X-Auth-Request-User",
    "X-Auth-Request-Groups",
    "X-Auth-Request-Access-Token",
    "Remote-User",
    "Remote-Groups",
    "Remote-Email",
    "Remote-Name",
    "X-Remote-User",
    "X-Remote-Groups",
    "X-WEBAUTH-USER",
    "X-Webauth-Email",
    "Cf-Access-Authenticated-User-Email",
    "X-Goog-Authenticated-User-Email",
    "X-Pomerium-Claim-Email",
    "X-Ms-Client-Principal-Name",
]


ORDINARY_HEADERS = ["X-Forwarded-For", "X-Forwarded-Proto", "X-Request-Id", "X-User-Agent", "Remoteness"]


def environ_key(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


@pytest.mark.parametrize("header", FAMILY_MEMBERS)
@pytest.mark.parametrize("logged_in", [False, True], ids=["anonymous", "logged-in"])
def test_identity_header_families_never_reach_the_app(make_app: t.Any, header: str, logged_in: bool) -> None:
    recorder = Recorder()
    app = make_app(recorder)
    if logged_in:
        login_as(app, "octocat")
    app.get("/page", headers={header: "admin"}, status=200)
    assert environ_key(header) not in recorder.seen
    assert recorder.seen.get("REMOTE_USER") == ("octocat" if logged_in else None)


@pytest.mark.parametrize(
    "header", ["X-Forwarded-For", "X-Forwarded-Proto", "X-Request-Id", "X-User-Agent", "Remoteness"]
)
def test_ordinary_headers_still_reach_the_app(make_app: t.Any, header: str) -> None:
    recorder = Recorder()
    make_app(recorder).get("/page", headers={header: "kept"}, status=200)
    assert recorder.seen[environ_key(header)] == "kept"


def test_strip_identity_headers_adds_an_apps_own_names(make_app: t.Any) -> None:
    recorder = Recorder()
    app = make_app(recorder, strip_identity_headers=["X-Company-User"])
    app.get("/", headers={"X-Company-User": "admin", "X-Company-User-Id": "1", "X-Company-Team": "kept"})
    assert "HTTP_X_COMPANY_USER" not in recorder.seen and "HTTP_X_COMPANY_USER_ID" not in recorder.seen
    assert recorder.seen["HTTP_X_COMPANY_TEAM"] == "kept"
    make_app(recorder).get("/", headers={"X-Company-User": "admin"})
    assert recorder.seen["HTTP_X_COMPANY_USER"] == "admin"  # kept unless named: the option does the work


def test_upstream_oauth_middleware_keys_are_all_removed(make_app: t.Any) -> None:
    recorder = Recorder()
    make_app(recorder).get("/", extra_environ={"oauth_middleware.api": "fake", "oauth_middleware.anything": "1"})
    assert not [key for key in recorder.seen if key.startswith("oauth_middleware.")]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("X-Company-User", id="a-string"),
        pytest.param(["X Company"], id="space"),
        pytest.param(["X-Company-User\r\n"], id="crlf"),
        pytest.param([42], id="int"),
    ],
)
def test_bad_strip_identity_headers_are_refused(make_middleware: t.Any, value: object) -> None:
    with pytest.raises(ConfigurationError, match="strip_identity_headers") as refused:
        make_middleware(strip_identity_headers=value)
    assert "X-Company-User" in str(refused.value)


def test_the_scrubber_remembers_clean_keys_but_never_a_spoofed_one() -> None:
    """The fast path (a set difference against keys seen clean) never lets a spoofed key through,
    not on the second request, nor once its memory is full."""
    from oauth_middleware.identity import IdentityScrubber

    scrubber = IdentityScrubber(extra=("HTTP_X_COMPANY_USER",))
    environ = {"PATH_INFO": "/", "HTTP_HOST": "h", "HTTP_REMOTE_USER": "admin", "HTTP_X_COMPANY_USER_ID": "1"}
    for _ in range(2):
        assert sorted(scrubber.spoofed(environ)) == ["HTTP_REMOTE_USER", "HTTP_X_COMPANY_USER_ID"]
    scrubber.MAX_REMEMBERED = 3
    crowd = {"HTTP_X_%d" % i: "" for i in range(10)}
    assert scrubber.spoofed(crowd) == []
    assert len(scrubber._clean) == 3
    assert scrubber.spoofed({**crowd, "REMOTE_USER": "x", "oauth_middleware.user": {}}) != []
