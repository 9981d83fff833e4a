"""The public contract, row by row: every endpoint of design.md's table, driven with WebTest."""

from __future__ import annotations

import hashlib
import json
import typing as t
from base64 import urlsafe_b64encode
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import webtest
from support import (
    CLIENT_SECRET,
    DATA,
    HTTPS,
    TOKEN,
    GitHubMock,
    cookie_names,
    log_in,
    start_login,
)

from oauth_middleware.flow import FLOW_TTL, MAX_FLOWS

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
JSON = {"Accept": "application/json"}


def session_cookie(app: webtest.TestApp) -> str | None:
    return app.cookies.get("__Host-oauth_session")


def flow_cookies(app: webtest.TestApp) -> list[str]:
    return [name for name in app.cookies if ".flow." in name]


# -- GET login_path ----------------------------------------------------------------------------


def test_login_redirects_to_github_authorize_with_state_and_pkce(testapp: webtest.TestApp) -> None:
    response = testapp.get("/auth/login?next=/dashboard", status=302)
    location = urlsplit(response.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == ("https", "github.com", "/login/oauth/authorize")
    params = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert params["response_type"] == "code"
    assert params["client_id"] == "Iv1.test-client-id"
    assert params["redirect_uri"] == "https://app.example.com/auth/callback"
    assert params["scope"] == "read:user user:email"
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43  # base64url(SHA-256) without padding
    assert len(params["state"]) >= 22  # >= 128 bits of base64url
    assert "next" not in params and "dashboard" not in params["state"]  # no data in state (CSRF-6)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.body == b""


def test_each_login_gets_a_fresh_state_and_verifier(testapp: webtest.TestApp) -> None:
    first, second = start_login(testapp), start_login(testapp)
    assert first["state"] != second["state"]
    assert first["code_challenge"] != second["code_challenge"]


def test_login_sets_a_short_lived_flow_cookie_named_by_state(testapp: webtest.TestApp) -> None:
    response = testapp.get("/auth/login", status=302)
    [header] = response.headers.getall("Set-Cookie")
    assert header.startswith("__Host-oauth_session.flow.")
    assert "Max-Age=%d" % FLOW_TTL in header and FLOW_TTL <= 600
    assert "HttpOnly" in header and "secure" in header.lower() and "samesite=lax" in header.lower()
    state = parse_qs(urlsplit(response.headers["Location"]).query)["state"][0]
    assert state not in header  # the state (and verifier) travel sealed, never in clear


def test_login_builds_redirect_uri_from_scheme_host_and_script_name(make_app: t.Callable[..., webtest.TestApp]) -> None:
    app = make_app(extra_environ={"HTTP_HOST": "example.org:8443", "SCRIPT_NAME": "/tools"})
    params = start_login(app)
    assert params["redirect_uri"] == "https://example.org:8443/tools/auth/callback"


def test_login_uses_fixed_redirect_uri_when_given(make_app: t.Callable[..., webtest.TestApp]) -> None:
    app = make_app(redirect_uri="https://login.example.com/auth/callback")
    assert start_login(app)["redirect_uri"] == "https://login.example.com/auth/callback"


def test_login_refuses_plain_http_callback_unless_allowed(make_app: t.Callable[..., webtest.TestApp]) -> None:
    app = make_app(extra_environ={"wsgi.url_scheme": "http"})
    response = app.get("/auth/login", status=500)
    assert b"misconfigured" in response.body
    assert "Set-Cookie" not in response.headers


def test_login_rejects_a_hostile_host_header(make_app: t.Callable[..., webtest.TestApp]) -> None:
    app = make_app(extra_environ={"HTTP_HOST": "evil.com/<script>"})
    response = app.get("/auth/login", status=400)
    assert b"<script>" not in response.body


def test_login_rejects_other_methods(testapp: webtest.TestApp) -> None:
    response = testapp.post("/auth/login", status=405)
    assert response.headers["Allow"] == "GET, HEAD"


# -- GET callback_path (valid) -----------------------------------------------------------------


def test_callback_logs_in_and_redirects_to_next(testapp: webtest.TestApp, github: GitHubMock) -> None:
    params = start_login(testapp, "/reports?year=2026")
    response = testapp.get("/auth/callback", {"code": "c0de", "state": params["state"]}, status=302)
    assert response.headers["Location"] == "/reports?year=2026"
    assert response.body == b""  # a bare redirect (URL-3)
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    names = cookie_names(response)
    assert "__Host-oauth_session" in names
    assert any(".flow." in n for n in names)  # the flow cookie is cleared...
    assert flow_cookies(testapp) == []  # ...so the browser drops it
    assert len(github.token_calls) == 1 and len(github.user_calls) == 1
    body = testapp.get("/reports").json
    assert body["remote_user"] == "octocat"


def test_callback_default_next_is_root(testapp: webtest.TestApp, github: GitHubMock) -> None:
    assert log_in(testapp).headers["Location"] == "/"


# -- environ injection -------------------------------------------------------------------------


def test_authenticated_request_gets_user_and_token(testapp: webtest.TestApp, github: GitHubMock) -> None:
    log_in(testapp)
    body = testapp.get("/anything").json
    assert body["remote_user"] == "octocat"
    user = body["user"]
    for key in ("login", "id", "name", "email", "avatar_url", "html_url"):
        assert key in user
    assert user["id"] == 1 and user["login"] == "octocat"
    assert body["token"] == {"access_token": TOKEN, "token_type": "bearer", "scope": ["read:user", "user:email"]}


def test_own_cookies_are_removed_before_the_app_sees_them(testapp: webtest.TestApp, github: GitHubMock) -> None:
    log_in(testapp)
    testapp.set_cookie("theme", "dark")
    start_login(testapp)  # a flow cookie in flight too
    body = testapp.get("/x").json
    assert body["remote_user"] == "octocat"
    assert body["cookie"] == 'theme="dark"'  # WebTest quotes values; kept as sent
    assert "oauth_session" not in json.dumps(body)


def test_other_cookies_are_kept_verbatim(testapp: webtest.TestApp, github: GitHubMock) -> None:
    log_in(testapp)
    session = session_cookie(testapp)
    header = 'a=1; __Host-oauth_session=%s; b="x y";c=; __Host-oauth_session.flow.00=zz; d' % session
    testapp.reset()
    body = testapp.get("/x", headers={"Cookie": header}).json
    assert body["remote_user"] == "octocat"
    assert body["cookie"] == 'a=1; b="x y";c=; d'


def test_anonymous_requests_pass_through_untouched(testapp: webtest.TestApp) -> None:
    testapp.set_cookie("theme", "dark")
    body = testapp.get("/public?q=1").json
    assert body == {
        "path": "/public",
        "remote_user": None,
        "user": None,
        "token": None,
        "groups": None,
        "cookie": 'theme="dark"',
        "identity_headers": {},
    }


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("Remote-User", id="remote-user"),
        pytest.param("X-Forwarded-User", id="x-forwarded-user"),
        pytest.param("X_Forwarded_User", id="underscore-variant"),
        pytest.param("X-Remote-User", id="x-remote-user"),
    ],
)
def test_client_identity_headers_never_become_identity(testapp: webtest.TestApp, header: str) -> None:
    body = testapp.get("/x", headers={header: "admin"}).json
    assert body["remote_user"] is None
    assert body["identity_headers"] == {}


def test_upstream_remote_user_is_removed_when_anonymous(testapp: webtest.TestApp) -> None:
    body = testapp.get("/x", extra_environ={"REMOTE_USER": "admin", "oauth_middleware.user": {"login": "x"}}).json
    assert body["remote_user"] is None and body["user"] is None


def test_downstream_mutation_does_not_leak_into_the_next_request(github: GitHubMock, make_app: t.Any) -> None:
    def mutating(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
        environ["oauth_middleware.user"]["login"] = "mallory"
        environ["oauth_middleware.token"]["access_token"] = "x"
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["REMOTE_USER"].encode()]

    app = make_app(mutating)
    log_in(app)
    assert app.get("/a").text == "octocat"
    assert app.get("/b").text == "octocat"


# -- callback failures -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        pytest.param({"code": "c0de"}, id="no-state"),
        pytest.param({"code": "c0de", "state": "forged-state-value"}, id="forged-state"),
        pytest.param({"code": "c0de", "state": ""}, id="empty-state"),
        pytest.param({"state": "x" * 5000}, id="huge-state"),
    ],
)
def test_callback_with_bad_state_is_400_without_network(
    testapp: webtest.TestApp, github: GitHubMock, query: dict[str, str]
) -> None:
    start_login(testapp)
    response = testapp.get("/auth/callback?" + urlencode(query), status=400, headers=BROWSER)
    assert "__Host-oauth_session" not in cookie_names(response)
    assert github.token_calls == [] and github.user_calls == []
    assert b"start the login again" in response.body
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_callback_without_flow_cookie_is_400(testapp: webtest.TestApp, github: GitHubMock) -> None:
    params = start_login(testapp)
    testapp.reset()  # another browser: no flow cookie
    testapp.get("/auth/callback", {"code": "c0de", "state": params["state"]}, status=400)
    assert github.token_calls == []


def test_callback_with_swapped_state_is_400(testapp: webtest.TestApp, github: GitHubMock) -> None:
    """The attacker's own (valid) state, replayed in the victim's browser, matches no flow there."""
    attacker = webtest.TestApp(testapp.app, extra_environ=HTTPS)
    attacker_state = start_login(attacker)["state"]
    start_login(testapp)
    testapp.get("/auth/callback", {"code": "attacker-code", "state": attacker_state}, status=400)
    assert github.token_calls == []


def test_callback_after_flow_expiry_is_400(testapp: webtest.TestApp, github: GitHubMock, clock: t.Any) -> None:
    params = start_login(testapp)
    clock.advance(FLOW_TTL + 1)
    response = testapp.get("/auth/callback", {"code": "c0de", "state": params["state"]}, status=400)
    assert github.token_calls == []
    assert any(".flow." in n for n in cookie_names(response))  # consumed anyway


def test_state_is_single_use(testapp: webtest.TestApp, github: GitHubMock) -> None:
    params = start_login(testapp)
    url = "/auth/callback?" + urlencode({"code": "c0de", "state": params["state"]})
    testapp.get(url, status=302)
    testapp.reset()  # even if the old session is gone, a replay never reaches GitHub again
    testapp.get(url, status=400)
    assert len(github.token_calls) == 1


def test_replayed_callback_of_a_logged_in_browser_redirects(testapp: webtest.TestApp, github: GitHubMock) -> None:
    params = start_login(testapp, "/x")
    url = "/auth/callback?" + urlencode({"code": "c0de", "state": params["state"]})
    testapp.get(url, status=302)
    response = testapp.get(url, status=303)  # back button / refresh: no error, no second exchange
    assert response.headers["Location"] == "/"
    assert len(github.token_calls) == 1


def test_access_denied_is_403_and_says_cancelled(testapp: webtest.TestApp, github: GitHubMock) -> None:
    params = start_login(testapp)
    query = parse_qs(
        urlsplit((DATA / "github-examples" / "callback_error_access_denied.txt").read_text().strip()).query
    )
    query["state"] = [params["state"]]
    response = testapp.get("/auth/callback?" + urlencode(query, doseq=True), status=403, headers=BROWSER)
    assert b"cancelled" in response.body
    assert github.token_calls == []
    assert "__Host-oauth_session" not in cookie_names(response)
    assert flow_cookies(testapp) == []
    assert b"/auth/login" in response.body  # a way to start over
    assert b"docs.github.com" not in response.body and b"troubleshooting" not in response.body  # error_uri not echoed


def test_access_denied_json(testapp: webtest.TestApp, github: GitHubMock) -> None:
    params = start_login(testapp)
    response = testapp.get(
        "/auth/callback", {"error": "access_denied", "state": params["state"]}, status=403, headers=JSON
    )
    assert response.json["error"] == "access_denied"
    assert "cancelled" in response.json["error_description"]


def test_other_callback_errors_are_escaped(testapp: webtest.TestApp, github: GitHubMock) -> None:
    params = start_login(testapp)
    query = {"error": "<script>alert(1)</script>", "error_description": "<b>x</b>", "state": params["state"]}
    response = testapp.get("/auth/callback", query, status=502, headers=BROWSER)
    assert b"<script>" not in response.body and b"<b>x" not in response.body
    assert github.token_calls == []


def test_error_callback_with_forged_state_is_400(testapp: webtest.TestApp) -> None:
    """Validate state first, so nobody can show error pages inside other people's flows."""
    testapp.get("/auth/callback", {"error": "access_denied", "state": "forged"}, status=400)


def test_callback_without_code_is_400(testapp: webtest.TestApp, github: GitHubMock) -> None:
    params = start_login(testapp)
    testapp.get("/auth/callback", {"state": params["state"]}, status=400)
    assert github.token_calls == []


def test_provider_failure_is_502(testapp: webtest.TestApp, github: GitHubMock) -> None:
    github.token_body = (500, {"Content-Type": "text/html"}, "<html>Unicorn!</html>")
    params = start_login(testapp)
    response = testapp.get("/auth/callback", {"code": "c0de", "state": params["state"]}, status=502, headers=BROWSER)
    assert b"Unicorn" not in response.body
    assert "__Host-oauth_session" not in cookie_names(response)


def test_provider_failure_json(testapp: webtest.TestApp, github: GitHubMock) -> None:
    github.token_body = {
        "error": "bad_verification_code",
        "error_description": "The code passed is incorrect or expired.",
    }
    params = start_login(testapp)
    response = testapp.get("/auth/callback", {"code": "c0de", "state": params["state"]}, status=502, headers=JSON)
    assert set(response.json) == {"error", "error_description", "login_url"}
    assert response.json["error"] == "provider_error"
    assert "c0de" not in response.text and CLIENT_SECRET not in response.text


def test_provider_timeout_is_504(testapp: webtest.TestApp, github: GitHubMock) -> None:
    github.faults.timeout("https://github.com/login/oauth/access_token", method="POST")
    params = start_login(testapp)
    response = testapp.get("/auth/callback", {"code": "c0de", "state": params["state"]}, status=504, headers=BROWSER)
    assert b"did not answer in time" in response.body


# -- two tabs ----------------------------------------------------------------------------------


def test_two_tabs_can_log_in_at_once(testapp: webtest.TestApp, github: GitHubMock) -> None:
    tab1 = start_login(testapp, "/one")
    tab2 = start_login(testapp, "/two")
    assert len(flow_cookies(testapp)) == 2
    r1 = testapp.get("/auth/callback", {"code": "c1", "state": tab1["state"]}, status=302)
    assert r1.headers["Location"] == "/one"
    assert len(flow_cookies(testapp)) == 1  # only tab 1's record was consumed
    r2 = testapp.get("/auth/callback", {"code": "c2", "state": tab2["state"]}, status=302)
    assert r2.headers["Location"] == "/two"
    assert flow_cookies(testapp) == []


def test_flow_cookies_are_capped(testapp: webtest.TestApp, clock: t.Any) -> None:
    states = []
    for _ in range(MAX_FLOWS + 3):
        states.append(start_login(testapp)["state"])
        clock.advance(1)
    assert len(flow_cookies(testapp)) == MAX_FLOWS
    # the newest flows survive, the oldest were evicted
    from oauth_middleware.flow import FlowCookies

    names = {FlowCookies.cookie_name(t.cast(t.Any, testapp.app).flows, s, secure=True) for s in states}
    newest = {FlowCookies.cookie_name(t.cast(t.Any, testapp.app).flows, s, secure=True) for s in states[-MAX_FLOWS:]}
    assert set(flow_cookies(testapp)) == newest and newest < names


# -- next --------------------------------------------------------------------------------------


def test_redirect_corpus_through_a_whole_login(testapp: webtest.TestApp, github: GitHubMock) -> None:
    """All 970 vectors of redirect_cases.json, each through login and callback."""
    cases = json.loads((DATA / "redirect_cases.json").read_text())
    accepted = []
    for case in cases:
        testapp.reset()
        params = start_login(testapp, case["next"])
        response = testapp.get("/auth/callback", {"code": "c", "state": params["state"]}, status=302)
        location = response.headers["Location"]
        if case["safe"]:
            assert location == case["next"], case
            accepted.append(location)
        else:
            assert location == "/", case
    assert len(accepted) == 17


@pytest.mark.parametrize("target", ["/auth/login", "/auth/callback?x=1", "/auth/logout"])
def test_next_into_own_endpoints_falls_back(testapp: webtest.TestApp, github: GitHubMock, target: str) -> None:
    assert log_in(testapp, target).headers["Location"] == "/"


# -- protection --------------------------------------------------------------------------------


def test_protected_path_redirects_browsers_to_login(make_app: t.Callable[..., webtest.TestApp]) -> None:
    app = make_app(require_login=["/admin"])
    response = app.get("/admin/users?page=2", headers=BROWSER, status=302)
    assert response.headers["Location"] == "/auth/login?next=/admin/users%3Fpage%3D2"
    assert app.get("/administrator", headers=BROWSER).status_int == 200  # prefix on a segment boundary
    assert app.get("/", headers=BROWSER).status_int == 200


def test_protected_path_gives_401_json_to_other_clients(make_app: t.Callable[..., webtest.TestApp]) -> None:
    app = make_app(require_login=True)
    for kwargs in (
        {"headers": JSON},
        {"headers": {"Accept": "*/*"}},
        {"headers": dict(BROWSER, **{"X-Requested-With": "XMLHttpRequest"})},
        {"headers": dict(BROWSER, **{"Sec-Fetch-Mode": "cors"})},
    ):
        response = app.get("/api/data", status=401, **kwargs)
        assert response.json == {
            "error": "login_required",
            "error_description": "You must log in to see this page.",
            "login_url": "/auth/login?next=/api/data",
        }
    assert app.post("/form", headers=BROWSER, status=401).json["error"] == "login_required"


def test_login_then_protected_path_round_trip(make_app: t.Callable[..., webtest.TestApp], github: GitHubMock) -> None:
    app = make_app(require_login=True, public_paths=["/static"])
    first = app.get("/reports/42?full=1", headers=BROWSER, status=302)
    login = app.get(first.headers["Location"], status=302)
    state = parse_qs(urlsplit(login.headers["Location"]).query)["state"][0]
    back = app.get("/auth/callback", {"code": "c", "state": state}, status=302)
    assert back.headers["Location"] == "/reports/42?full=1"
    assert app.get(back.headers["Location"]).json["remote_user"] == "octocat"


def test_public_paths_stay_open_and_cannot_be_escaped(make_app: t.Callable[..., webtest.TestApp]) -> None:
    app = make_app(require_login=True, public_paths=["/static", "/healthz"])
    assert app.get("/static/app.css").status_int == 200
    assert app.get("/healthz").status_int == 200
    # dot segments never reach the app: redirected to the canonical path, which is decided again
    assert app.get("/static/../admin", headers=BROWSER, status=308).headers["Location"] == "/admin"
    app.get("/admin", headers=BROWSER, status=302)
    assert app.get("/static//../admin", headers=BROWSER, status=308).headers["Location"] == "/static/admin"
    app.post("/static/../admin", headers=BROWSER, status=400)
    app.get("/staticfoo", headers=BROWSER, status=302)


def test_mounted_under_script_name(make_app: t.Callable[..., webtest.TestApp], github: GitHubMock) -> None:
    app = make_app(require_login=True, extra_environ={"SCRIPT_NAME": "/tools"})
    first = app.get("/page", headers=BROWSER, status=302)
    assert first.headers["Location"] == "/tools/auth/login?next=/tools/page"
    login = app.get("/auth/login", {"next": "/tools/page"}, status=302)
    params = {k: v[0] for k, v in parse_qs(urlsplit(login.headers["Location"]).query).items()}
    assert params["redirect_uri"] == "https://app.example.com/tools/auth/callback"
    back = app.get("/auth/callback", {"code": "c", "state": params["state"]}, status=302)
    assert back.headers["Location"] == "/tools/page"


# -- logout ------------------------------------------------------------------------------------


def test_get_logout_shows_a_form_and_does_not_log_out(testapp: webtest.TestApp, github: GitHubMock) -> None:
    log_in(testapp)
    page = testapp.get("/auth/logout?next=/bye", status=200)
    form = page.forms[0]
    assert form.method.lower() == "post" and form.action == "/auth/logout"
    assert form["next"].value == "/bye"
    assert page.headers["Cache-Control"] == "no-store"
    assert testapp.get("/x").json["remote_user"] == "octocat"
    response = form.submit(status=303)
    assert response.headers["Location"] == "/bye"
    assert testapp.get("/x").json["remote_user"] is None


def test_post_logout_clears_session_and_flows(testapp: webtest.TestApp, github: GitHubMock) -> None:
    log_in(testapp)
    start_login(testapp)
    response = testapp.post("/auth/logout", {"next": "/goodbye"}, status=303)
    assert response.headers["Location"] == "/goodbye"
    assert response.headers["Cache-Control"] == "no-store"
    deleted = [h for h in response.headers.getall("Set-Cookie") if "Max-Age=0" in h]
    assert any(h.startswith("__Host-oauth_session=") for h in deleted)
    assert all("HttpOnly" in h and "secure" in h and "SameSite=lax" in h for h in deleted)  # flags kept
    assert session_cookie(testapp) is None and flow_cookies(testapp) == []


def test_logout_next_is_validated(testapp: webtest.TestApp) -> None:
    for hostile in ("//evil.com", "https://evil.com", "/\\evil.com", "/%0d%0aSet-Cookie:x"):
        assert testapp.post("/auth/logout", {"next": hostile}, status=303).headers["Location"] == "/"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Origin": "https://evil.com"}, id="foreign-origin"),
        pytest.param({"Origin": "null"}, id="null-origin"),
        pytest.param({"Sec-Fetch-Site": "cross-site"}, id="sec-fetch-cross-site"),
        pytest.param({"Sec-Fetch-Site": "same-site"}, id="sec-fetch-sibling-subdomain"),
    ],
)
def test_cross_site_logout_is_403(testapp: webtest.TestApp, github: GitHubMock, headers: dict[str, str]) -> None:
    log_in(testapp)
    response = testapp.post("/auth/logout", headers=headers, status=403)
    assert "Set-Cookie" not in response.headers
    assert testapp.get("/x").json["remote_user"] == "octocat"


def test_same_origin_logout_is_allowed(testapp: webtest.TestApp, github: GitHubMock) -> None:
    log_in(testapp)
    testapp.post(
        "/auth/logout", headers={"Origin": "https://app.example.com", "Sec-Fetch-Site": "same-origin"}, status=303
    )
    assert testapp.get("/x").json["remote_user"] is None


def test_logout_rejects_other_methods(testapp: webtest.TestApp) -> None:
    testapp.put("/auth/logout", status=405)


# -- responses of the middleware itself ------------------------------------------------------------


def test_own_responses_carry_security_headers(testapp: webtest.TestApp, github: GitHubMock) -> None:
    responses = [
        testapp.get("/auth/login", status=302),
        testapp.get("/auth/callback?state=x", status=400),
        testapp.get("/auth/logout", status=200),
        testapp.post("/auth/logout", status=303),
        testapp.delete("/auth/login", status=405),
    ]
    for response in responses:
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_code_challenge_is_s256_of_the_verifier_sent(testapp: webtest.TestApp, github: GitHubMock) -> None:
    params = start_login(testapp)
    testapp.get("/auth/callback", {"code": "c", "state": params["state"]}, status=302)
    verifier = github.token_calls[0]["code_verifier"][0]
    assert 43 <= len(verifier) <= 128
    digest = urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert digest == params["code_challenge"]
    assert github.token_calls[0]["redirect_uri"] == [params["redirect_uri"]]


def test_consumed_states_are_remembered_boundedly(
    testapp: webtest.TestApp, github: GitHubMock, clock: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copied flow cookie is refused by this process; the memory of used states stays bounded."""
    import oauth_middleware.flow as flow_module

    monkeypatch.setattr(flow_module, "MAX_CONSUMED", 3)
    params = start_login(testapp)
    saved = {name: value for name, value in testapp.cookies.items() if ".flow." in name}
    url = "/auth/callback?" + urlencode({"code": "c", "state": params["state"]})
    testapp.get(url, status=302)
    testapp.reset()  # the attacker's copy, taken before the callback (WebTest's set_cookie would quote it)
    testapp.get(url, headers={"Cookie": "; ".join("%s=%s" % item for item in saved.items())}, status=400)
    assert len(github.token_calls) == 1
    for _ in range(2):
        testapp.reset()
        log_in(testapp)
    flows = t.cast(t.Any, testapp.app).flows
    assert len(flows._consumed) == 3
    testapp.reset()
    params = start_login(testapp)  # full: this exchange is refused, no remembered state is dropped
    testapp.get("/auth/callback", {"code": "c", "state": params["state"]}, status=503)
    assert len(flows._consumed) == 3 and len(github.token_calls) == 3
    clock.advance(FLOW_TTL + 1)
    testapp.reset()
    log_in(testapp)
    assert len(flows._consumed) == 1  # expired entries are dropped


def test_logout_form_posted_with_origin_null_by_a_same_origin_page(
    testapp: webtest.TestApp, github: GitHubMock
) -> None:
    """Chromium posts a form from a no-referrer page with ``Origin: null``; Sec-Fetch-Site decides."""
    log_in(testapp)
    testapp.post("/auth/logout", headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"}, status=303)
    assert testapp.get("/x").json["remote_user"] is None
