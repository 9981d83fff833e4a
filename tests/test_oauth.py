"""The OAuth client steps through the middleware: code exchange, profile fetch, their failures."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import typing as t
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import webtest
from requests.adapters import HTTPAdapter
from support import CLIENT_ID, CLIENT_SECRET, TOKEN, TOKEN_URL, USER_URL, example, log_in, start_login

from oauth_middleware import GitHub, Provider
from oauth_middleware.providers import GitHubProvider
from oauth_middleware.testing import FaultAdapter
from oauth_middleware.testing.faults import Rule
from oauth_middleware.transport import make_http_session

SESSION = "__Host-oauth_session"
CODE = "a1b2c3d4e5f6a7b8c9d0"
JSON = "application/json; charset=utf-8"
FORM = "application/x-www-form-urlencoded"


def callback(app: webtest.TestApp, *, status: int | str = "*", **headers: str) -> webtest.TestResponse:
    params = start_login(app)
    return app.get("/auth/callback", {"code": CODE, "state": params["state"]}, headers=headers, status=status)


def session_cookies_set(response: webtest.TestResponse) -> list[str]:
    return [h for h in response.headers.getall("Set-Cookie") if h.startswith(SESSION) and "Max-Age=0" not in h]


def flow_cookie_deleted(response: webtest.TestResponse) -> bool:
    return any(".flow." in h and "Max-Age=0" in h for h in response.headers.getall("Set-Cookie"))


def assert_no_session(app: webtest.TestApp, response: webtest.TestResponse) -> None:
    assert session_cookies_set(response) == []
    assert SESSION not in app.cookies
    assert app.get("/page").json["remote_user"] is None


def assert_no_secrets(text: str) -> None:
    for secret in (CODE, CLIENT_SECRET, TOKEN, "error_uri", "troubleshooting", "docs.github.com", "Traceback"):
        assert secret not in text


def token_is(app: webtest.TestApp) -> dict[str, t.Any]:
    token = app.get("/page").json["token"]
    assert isinstance(token, dict)
    return token


# -- successful exchanges ------------------------------------------------------------------------


def test_form_encoded_token_response(testapp: webtest.TestApp, github: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OAUTHLIB_RELAX_TOKEN_SCOPE", raising=False)
    github.token_body = (200, {"Content-Type": FORM}, example("token_success.txt"))
    response = log_in(testapp)
    assert response.headers["Location"] == "/"
    token = token_is(testapp)
    assert token["access_token"] == TOKEN
    assert token["token_type"] == "bearer"
    assert token["scope"] == ["repo", "gist"]  # granted, not the requested read:user user:email


def test_json_token_with_changed_scope(
    testapp: webtest.TestApp, github: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OAUTHLIB_RELAX_TOKEN_SCOPE", raising=False)
    github.token_body = example("token_success.json")
    log_in(testapp)
    assert token_is(testapp)["scope"] == ["repo", "gist"]


@pytest.mark.parametrize(
    ("granted", "expected"),
    [
        pytest.param("read:user,user:email", ["read:user", "user:email"], id="comma-joined"),
        pytest.param("read:user user:email", ["read:user", "user:email"], id="space-joined"),
        pytest.param("user:email,read:user", ["user:email", "read:user"], id="reordered"),
        pytest.param("read:user", ["read:user"], id="narrowed"),
        pytest.param("", [], id="none-granted"),
    ],
)
def test_granted_scope_is_a_list(
    testapp: webtest.TestApp, github: t.Any, monkeypatch: pytest.MonkeyPatch, granted: str, expected: list[str]
) -> None:
    monkeypatch.delenv("OAUTHLIB_RELAX_TOKEN_SCOPE", raising=False)
    github.token_body = {"access_token": TOKEN, "scope": granted, "token_type": "bearer"}
    log_in(testapp)
    assert token_is(testapp)["scope"] == expected


def test_expiring_token_has_expires_at(
    testapp: webtest.TestApp, github: t.Any, clock: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The contract: ``expires_at`` (seconds since the epoch) when the token expires."""
    monkeypatch.delenv("OAUTHLIB_RELAX_TOKEN_SCOPE", raising=False)
    github.token_body = (200, {"Content-Type": FORM}, example("token_success_expiring.txt"))
    logged_in_at = clock()
    log_in(testapp)
    token = token_is(testapp)
    assert token["access_token"] == TOKEN
    assert token["scope"] == ["repo", "gist"]
    assert token["expires_at"] == pytest.approx(logged_in_at + 28800, abs=1)


def test_github_app_token_with_empty_scope(
    testapp: webtest.TestApp, github: t.Any, clock: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GitHub App user tokens come with ``"scope": ""`` and ``expires_in`` as a string."""
    monkeypatch.delenv("OAUTHLIB_RELAX_TOKEN_SCOPE", raising=False)
    github.token_body = example("token_github_app_expiring_2020_changelog.json")
    logged_in_at = clock()
    log_in(testapp)
    token = token_is(testapp)
    assert token["access_token"] == "accesstoken"
    assert token["scope"] == []
    assert token["expires_at"] == pytest.approx(logged_in_at + 28800, abs=1)


def test_token_type_is_case_insensitive(testapp: webtest.TestApp, github: t.Any) -> None:
    github.token_body = {"access_token": TOKEN, "scope": "read:user", "token_type": "Bearer"}
    log_in(testapp)
    assert token_is(testapp)["token_type"] == "bearer"


# -- the token endpoint's HTTP-200 errors --------------------------------------------------------


def _json_example(name: str) -> tuple[int, dict[str, str], str]:
    return (200, {"Content-Type": JSON}, json.dumps(example(name)))


@pytest.mark.parametrize(
    ("body", "hint"),
    [
        pytest.param(_json_example("token_error_bad_verification_code.json"), "start the login again", id="bad-code"),
        pytest.param(
            _json_example("token_error_bad_verification_code.observed.json"),
            "start the login again",
            id="bad-code-2024",
        ),
        pytest.param(
            (200, {"Content-Type": FORM}, example("token_error_bad_verification_code.form.observed-2013.txt")),
            "start the login again",
            id="bad-code-form-2013",
        ),
        pytest.param(
            _json_example("token_error_incorrect_client_credentials.json"), "administrator", id="client-credentials"
        ),
        pytest.param(_json_example("token_error_redirect_uri_mismatch.json"), "administrator", id="redirect-uri"),
        pytest.param(_json_example("token_error_unverified_user_email.json"), "verified", id="unverified-email"),
        pytest.param(
            _json_example("token_error_bad_refresh_token.observed.json"), "GitHub refused", id="unexpected-code"
        ),
    ],
)
def test_token_error_bodies_are_502(
    testapp: webtest.TestApp, github: t.Any, body: tuple[int, dict[str, str], str], hint: str
) -> None:
    github.token_body = body
    response = callback(testapp, status=502)
    assert hint in response.text
    assert "text/html" in response.headers["Content-Type"]
    assert_no_secrets(response.text)
    assert flow_cookie_deleted(response)
    assert len(github.token_calls) == 1
    assert github.user_calls == []
    assert_no_session(testapp, response)


def test_token_error_as_json_for_api_clients(testapp: webtest.TestApp, github: t.Any) -> None:
    github.token_body = _json_example("token_error_bad_verification_code.json")
    response = callback(testapp, status=502, Accept="application/json")
    assert response.json["error"] == "provider_error"
    assert "start the login again" in response.json["error_description"]
    assert_no_secrets(response.text)


def test_a_hostile_error_code_is_not_echoed(testapp: webtest.TestApp, github: t.Any) -> None:
    github.token_body = (200, {"Content-Type": JSON}, json.dumps({"error": "<script>alert(1)</script>"}))
    response = callback(testapp, status=502)
    assert "<script>" not in response.text
    assert "alert" not in response.text


# -- unusable token responses --------------------------------------------------------------------


TOKEN_FAILURES: list[t.Any] = [
    pytest.param((200, {"Content-Type": "text/html"}, "<html><body>Sign in</body></html>"), 502, id="html"),
    pytest.param((200, {"Content-Type": JSON}, ""), 502, id="empty-json"),
    pytest.param((200, {}, ""), 502, id="empty-no-type"),
    pytest.param((200, {"Content-Type": JSON}, '{"access_token": '), 502, id="invalid-json"),
    pytest.param((200, {"Content-Type": JSON}, '["access_token"]'), 502, id="json-list"),
    pytest.param((200, {"Content-Type": JSON}, '"gho_x"'), 502, id="json-string"),
    pytest.param((200, {"Content-Type": JSON}, '{"token_type": "bearer"}'), 502, id="missing-access-token"),
    pytest.param((200, {"Content-Type": JSON}, '{"access_token": "", "token_type": "bearer"}'), 502, id="empty-token"),
    pytest.param((200, {"Content-Type": JSON}, '{"access_token": 5, "token_type": "bearer"}'), 502, id="int-token"),
    pytest.param((200, {"Content-Type": JSON}, '{"access_token": "x", "token_type": "mac"}'), 502, id="mac"),
    pytest.param((200, {"Content-Type": JSON}, '{"access_token": "x"}'), 502, id="no-token-type"),
    pytest.param(
        (
            200,
            {"Content-Type": JSON},
            json.dumps({"access_token": TOKEN, "token_type": "bearer", "expires_in": "soon"}),
        ),
        502,
        id="expires-in-word",
    ),
    pytest.param(
        (
            200,
            {"Content-Type": JSON},
            json.dumps({"access_token": TOKEN, "token_type": "bearer", "expires_in": "\u00b2"}),
        ),
        502,
        id="expires-in-superscript",
    ),
    pytest.param((200, {"Content-Type": "application/xml"}, example("token_success.xml")), 502, id="xml"),
    pytest.param((500, {"Content-Type": "text/html"}, "<h1>500</h1>"), 502, id="500"),
    pytest.param((503, {"Content-Type": "text/html"}, "unavailable"), 502, id="503"),
    pytest.param((404, {"Content-Type": JSON}, '{"message": "Not Found"}'), 502, id="404"),
    pytest.param(
        (401, {"Content-Type": JSON}, json.dumps({"access_token": TOKEN, "token_type": "bearer"})),
        502,
        id="token-in-a-401",
    ),
    pytest.param(
        (
            200,
            {"Content-Type": JSON},
            json.dumps({"access_token": TOKEN, "token_type": "bearer", "p": "x" * (2 << 20)}),
        ),
        502,
        id="2MB",
    ),
    pytest.param((200, {}, requests.exceptions.ConnectTimeout("connect timed out")), 504, id="connect-timeout"),
    pytest.param((200, {}, requests.exceptions.ReadTimeout("read timed out")), 504, id="read-timeout"),
    pytest.param((200, {}, requests.exceptions.ConnectionError("refused")), 502, id="connection-error"),
    pytest.param((200, {}, requests.exceptions.SSLError("bad certificate")), 502, id="ssl-error"),
    pytest.param((200, {}, requests.exceptions.ChunkedEncodingError("broken")), 502, id="chunked-encoding"),
    pytest.param((200, {}, requests.exceptions.TooManyRedirects("loop")), 502, id="too-many-redirects"),
]


@pytest.mark.parametrize(("body", "status"), TOKEN_FAILURES)
def test_unusable_token_responses(testapp: webtest.TestApp, github: t.Any, body: t.Any, status: int) -> None:
    github.token_body = body
    response = callback(testapp, status=status)
    assert len(github.token_calls) == 1  # a code is redeemed once, never retried
    assert github.user_calls == []
    assert flow_cookie_deleted(response)
    assert_no_secrets(response.text)
    assert_no_session(testapp, response)
    if status == 504:
        assert "did not answer in time" in response.text


def test_a_failed_callback_cannot_be_replayed(testapp: webtest.TestApp, github: t.Any) -> None:
    github.token_body = (503, {}, "")
    params = start_login(testapp)
    testapp.get("/auth/callback", {"code": CODE, "state": params["state"]}, status=502)
    github.token_body = {"access_token": TOKEN, "scope": "read:user", "token_type": "bearer"}
    testapp.get("/auth/callback", {"code": CODE, "state": params["state"]}, status=400)
    assert len(github.token_calls) == 1


# -- /user failures ------------------------------------------------------------------------------


def _rate_limit_headers() -> dict[str, str]:
    lines = example("api_403_rate_limit_headers.txt").splitlines()[1:]
    return {name.strip(): value.strip() for name, _, value in (line.partition(":") for line in lines) if name.strip()}


USER_FAILURES: list[t.Any] = [
    pytest.param((401, {"Content-Type": JSON}, json.dumps(example("api_401_bad_credentials.json"))), id="401"),
    pytest.param((200, {"Content-Type": JSON}, "{not json"), id="invalid-json"),
    pytest.param((200, {"Content-Type": JSON}, json.dumps({"id": 1, "name": "No Login"})), id="no-login"),
    pytest.param((200, {"Content-Type": JSON}, json.dumps({"login": "", "id": 1})), id="empty-login"),
    pytest.param((200, {"Content-Type": JSON}, json.dumps({"login": 7, "id": 1})), id="int-login"),
    pytest.param((200, {"Content-Type": JSON}, json.dumps({"login": "x" * 600, "id": 1})), id="long-login"),
    pytest.param((200, {"Content-Type": JSON}, json.dumps([example("user_private.json")])), id="json-list"),
    pytest.param((200, {"Content-Type": JSON}, "null"), id="null"),
    pytest.param((200, {"Content-Type": JSON}, json.dumps({"login": "x", "p": "y" * (2 << 20)})), id="2MB"),
    pytest.param((500, {"Content-Type": "text/html"}, "oops"), id="500"),
    pytest.param((302, {"Location": "https://evil.example/user"}, ""), id="redirect"),
    pytest.param((403, {"Content-Type": JSON}, json.dumps(example("api_403_login_attempts.json"))), id="403"),
    pytest.param((200, {}, requests.exceptions.ConnectionError("reset")), id="connection-error"),
]


@pytest.mark.parametrize("body", USER_FAILURES)
def test_profile_failures_are_502(testapp: webtest.TestApp, github: t.Any, body: t.Any) -> None:
    github.user_body = body
    response = callback(testapp, status=502)
    assert len(github.token_calls) == 1
    assert len(github.user_calls) == 1
    assert flow_cookie_deleted(response)
    assert_no_secrets(response.text)
    assert_no_session(testapp, response)


def test_profile_timeout_is_504(testapp: webtest.TestApp, github: t.Any) -> None:
    github.user_body = (200, {}, requests.exceptions.ReadTimeout("slow"))
    response = callback(testapp, status=504)
    assert_no_session(testapp, response)


def test_rate_limited_profile_fetch(testapp: webtest.TestApp, github: t.Any) -> None:
    headers = dict(_rate_limit_headers(), **{"Content-Type": JSON})
    assert headers["x-ratelimit-remaining"] == "0"
    github.user_body = (403, headers, json.dumps(example("api_403_rate_limit_unauthenticated.json")))
    response = callback(testapp, status=502)
    assert "rate limit" in response.text
    assert response.headers["Retry-After"].isdigit()
    assert int(response.headers["Retry-After"]) >= 1
    assert_no_session(testapp, response)


def test_secondary_rate_limit_keeps_retry_after(testapp: webtest.TestApp, github: t.Any) -> None:
    github.user_body = (
        403,
        {"Content-Type": JSON, "retry-after": "60"},
        json.dumps(example("api_403_secondary_rate_limit.json")),
    )
    response = callback(testapp, status=502, Accept="application/json")
    assert response.headers["Retry-After"] == "60"
    assert "rate limit" in response.json["error_description"]


# -- what is sent to GitHub ----------------------------------------------------------------------


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def test_token_and_profile_requests(testapp: webtest.TestApp, github: t.Any) -> None:
    login = testapp.get("/auth/login", status=302)
    authorize = urlsplit(login.headers["Location"])
    query = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    assert authorize.scheme + "://" + authorize.netloc + authorize.path == "https://github.com/login/oauth/authorize"
    assert query["response_type"] == "code"
    assert query["client_id"] == CLIENT_ID
    assert query["code_challenge_method"] == "S256"
    assert query["scope"] == "read:user user:email"
    assert CLIENT_SECRET not in login.headers["Location"]
    testapp.get("/auth/callback", {"code": CODE, "state": query["state"]}, status=302)

    (token_call, user_call) = [call.request for call in github.calls]
    assert token_call.method == "POST"
    assert token_call.url == TOKEN_URL
    body = {k: v[0] for k, v in parse_qs(token_call.body).items()}
    assert body["grant_type"] == "authorization_code"
    assert body["code"] == CODE
    assert body["client_id"] == CLIENT_ID
    assert body["client_secret"] == CLIENT_SECRET
    assert body["redirect_uri"] == query["redirect_uri"] == "https://app.example.com/auth/callback"
    verifier = body["code_verifier"]
    assert 43 <= len(verifier) <= 128
    assert set(verifier) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    assert s256(verifier) == query["code_challenge"]
    assert "state" not in body
    assert token_call.headers["Accept"] == "application/json"
    assert "application/x-www-form-urlencoded" in token_call.headers["Content-Type"]

    assert user_call.method == "GET"
    assert user_call.url == USER_URL
    assert user_call.headers["Authorization"] == "Bearer " + TOKEN
    assert user_call.headers["Accept"] == "application/vnd.github+json"
    assert user_call.headers["X-GitHub-Api-Version"] == "2022-11-28"
    for call in (token_call, user_call):
        assert CLIENT_SECRET not in call.url and CODE not in call.url and TOKEN not in call.url
        assert CLIENT_SECRET not in str(call.headers)


def test_each_login_gets_its_own_verifier(testapp: webtest.TestApp, github: t.Any) -> None:
    first, second = start_login(testapp), start_login(testapp)
    assert first["code_challenge"] != second["code_challenge"]
    assert first["state"] != second["state"]
    testapp.get("/auth/callback", {"code": CODE, "state": second["state"]}, status=302)
    assert s256(github.token_calls[0]["code_verifier"][0]) == second["code_challenge"]


def test_redirect_uri_of_a_mounted_app(make_app: t.Any, github: t.Any) -> None:
    app = make_app(extra_environ={"SCRIPT_NAME": "/tools"})
    params = start_login(app)
    assert params["redirect_uri"] == "https://app.example.com/tools/auth/callback"
    app.get("/auth/callback", {"code": CODE, "state": params["state"]}, status=302)
    assert github.token_calls[0]["redirect_uri"] == [params["redirect_uri"]]


# -- providers -----------------------------------------------------------------------------------


def test_github_endpoints() -> None:
    provider = GitHub()
    assert provider.authorize_url == "https://github.com/login/oauth/authorize"
    assert provider.token_url == "https://github.com/login/oauth/access_token"
    assert provider.api_url("user") == "https://api.github.com/user"


@pytest.mark.parametrize(
    "base", [pytest.param("https://ghe.example.com", id="plain"), pytest.param("https://ghe.example.com/", id="slash")]
)
def test_github_enterprise_endpoints(base: str) -> None:
    provider = GitHub(base)
    assert provider.authorize_url == "https://ghe.example.com/login/oauth/authorize"
    assert provider.token_url == "https://ghe.example.com/login/oauth/access_token"
    assert provider.api_url("user") == "https://ghe.example.com/api/v3/user"


def test_github_is_the_public_name_of_the_github_provider() -> None:
    """``GitHub(...)`` builds a GitHubProvider that dataclasses.replace() can copy (FakeGitHub does)."""
    provider = GitHub("https://ghe.example.com")
    assert isinstance(provider, GitHubProvider) and provider == GitHubProvider.create("https://ghe.example.com")
    assert dataclasses.replace(provider, name="ghe").token_url == provider.token_url


def test_one_pooled_adapter_serves_http_and_https() -> None:
    http = make_http_session(pool_size=3)
    adapter = http.get_adapter("https://github.com/")
    assert http.get_adapter("http://127.0.0.1:8765/") is adapter
    assert isinstance(adapter, HTTPAdapter) and adapter.max_retries.total == 0


def _mock_provider(faults: FaultAdapter, token_url: str, user_url: str, login: str) -> list[Rule]:
    token = faults.answer(
        token_url, method="POST", json={"access_token": "gho_ghe", "scope": "read:user", "token_type": "bearer"}
    )
    user = faults.answer(user_url, method="GET", json={"login": login, "id": 42, "name": None, "email": None})
    return [token, user]


def test_login_against_github_enterprise(make_app: t.Any, faults: FaultAdapter) -> None:
    app = make_app(provider=GitHub("https://ghe.example.com"))
    rules = _mock_provider(
        faults, "https://ghe.example.com/login/oauth/access_token", "https://ghe.example.com/api/v3/user", "ent"
    )
    params = start_login(app)
    assert app.get("/auth/login").headers["Location"].startswith("https://ghe.example.com/login/oauth/authorize?")
    app.get("/auth/callback", {"code": CODE, "state": params["state"]}, status=302)
    assert [call.request.url for call in faults.calls] == [
        "https://ghe.example.com/login/oauth/access_token",
        "https://ghe.example.com/api/v3/user",
    ]
    assert [rule.call_count for rule in rules] == [1, 1]
    page = app.get("/page").json
    assert page["remote_user"] == "ent"
    assert page["token"]["access_token"] == "gho_ghe"


def test_login_with_a_custom_provider(make_app: t.Any, faults: FaultAdapter) -> None:
    gitea = Provider(
        name="gitea",
        authorize_url="https://gitea.example.com/login/oauth/authorize",
        token_url="https://gitea.example.com/login/oauth/access_token",
        api_base_url="https://gitea.example.com/api/v1/",
        profile_path="user",
        username_field="login",
    )
    app = make_app(provider=gitea, scope="read:user")
    rules = _mock_provider(faults, gitea.token_url, "https://gitea.example.com/api/v1/user", "tea")
    params = start_login(app)
    app.get("/auth/callback", {"code": CODE, "state": params["state"]}, status=302)
    assert "X-GitHub-Api-Version" not in faults.calls[1].request.headers
    assert [rule.call_count for rule in rules] == [1, 1]
    assert app.get("/page").json["remote_user"] == "tea"


def test_insecure_http_provider_for_local_development(
    make_app: t.Any, monkeypatch: pytest.MonkeyPatch, faults: FaultAdapter
) -> None:
    monkeypatch.delenv("OAUTHLIB_INSECURE_TRANSPORT", raising=False)
    provider = GitHub("http://127.0.0.1:8765", api_base_url="http://127.0.0.1:8765/api/v3/")
    with pytest.warns(UserWarning, match="allow_insecure_http"):
        app = make_app(provider=provider, allow_insecure_http=True)
    rules = _mock_provider(
        faults, "http://127.0.0.1:8765/login/oauth/access_token", "http://127.0.0.1:8765/api/v3/user", "dev"
    )
    params = start_login(app)
    app.get("/auth/callback", {"code": CODE, "state": params["state"]}, status=302)
    assert [call.request.url for call in faults.calls] == [
        "http://127.0.0.1:8765/login/oauth/access_token",
        "http://127.0.0.1:8765/api/v3/user",
    ]
    assert [rule.call_count for rule in rules] == [1, 1]
    assert app.get("/page").json["remote_user"] == "dev"
    assert "OAUTHLIB_INSECURE_TRANSPORT" not in os.environ


def test_insecure_http_is_only_for_the_opted_in_middleware(make_app: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another OAuth client in the same process still refuses http (no process-wide switch)."""
    from oauthlib.oauth2 import InsecureTransportError
    from requests_oauthlib import OAuth2Session

    monkeypatch.delenv("OAUTHLIB_INSECURE_TRANSPORT", raising=False)
    with pytest.warns(UserWarning):
        make_app(provider=GitHub("http://127.0.0.1:8765"), allow_insecure_http=True)
    with pytest.raises(InsecureTransportError):
        OAuth2Session("other").fetch_token("http://127.0.0.1:8765/token", code="x", client_secret="s")
