"""FakeGitHub must answer like GitHub: same bodies, same error codes, same quirks.

Server-side calls go through ``requests`` with :class:`WSGITransportAdapter` (no socket); the
browser side uses WebTest where a form has to be read and submitted. One test runs the standalone
server on a real loopback socket.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import pathlib
import re
import secrets
import threading
import typing as t
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import pytest
import requests
import webtest
from conftest import HTTPS, FakeClock
from requests_oauthlib import OAuth2Session

from oauth_middleware import OAuthMiddleware
from oauth_middleware.providers import Provider
from oauth_middleware.testing.__main__ import main, make_server
from oauth_middleware.testing.fake_github import FakeGitHub, FakeUser, WSGITransportAdapter

EXAMPLES = pathlib.Path(__file__).parent / "data" / "github-examples"
BASE = "https://github.test"
AUTHORIZE_URL = BASE + "/login/oauth/authorize"
TOKEN_URL = BASE + "/login/oauth/access_token"
CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret"
REDIRECT_URI = "https://app.test/auth/callback"
DOCS = "https://docs.github.com"
TOKEN_RE = re.compile(r"\Agho_[A-Za-z0-9]{36}\Z")
CODE_RE = re.compile(r"\A[0-9a-f]{20}\Z")
#: Sealed values: URL-safe base64 of a key id, a nonce, the JSON grant and a tag.
SEALED_TOKEN_RE = re.compile(r"\Agho_[A-Za-z0-9_-]{100,}\Z")
SEALED_REFRESH_RE = re.compile(r"\Aghr_[A-Za-z0-9_-]{100,}\Z")
SEALED_CODE_RE = re.compile(r"\A[A-Za-z0-9_-]{100,}\Z")
SEALED_KEY = "sealed-fake-github-key-0123456789abcdef"  # 39 bytes


def example(name: str) -> t.Any:
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    return json.loads(text) if name.endswith(".json") else text.strip()


@pytest.fixture(params=[None, SEALED_KEY], ids=["memory", "sealed"])
def fake(clock: FakeClock, request: pytest.FixtureRequest) -> FakeGitHub:
    """The default fake, once with in-memory codes and tokens and once in sealed mode: every
    behaviour tested through it must be the same in both."""
    return FakeGitHub(clock=clock, sealed=request.param)


@pytest.fixture
def http(fake: FakeGitHub) -> t.Iterator[requests.Session]:
    with requests.Session() as session:
        fake.mount(session)
        yield session


def verifier_and_challenge() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def approve(
    http: requests.Session,
    *,
    login: str = "octocat",
    scope: str = "read:user user:email",
    state: str = "xyz",
    redirect_uri: str = REDIRECT_URI,
    **extra: str,
) -> str:
    """Post the consent form as the browser would; return the code from the redirect."""
    form = {"client_id": CLIENT_ID, "redirect_uri": redirect_uri, "scope": scope, "state": state, **extra}
    response = http.post(AUTHORIZE_URL, data={**form, "login": login, "authorize": "1"}, allow_redirects=False)
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["state"] == [state]
    return query["code"][0]


def redeem(http: requests.Session, code: str, *, accept: str = "application/json", **extra: str) -> t.Any:
    data = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": code, **extra}
    response = http.post(TOKEN_URL, data=data, headers={"Accept": accept})
    assert response.status_code == 200  # GitHub answers token errors with 200 too
    return response.json()


def login_token(http: requests.Session, **kwargs: str) -> str:
    token = redeem(http, approve(http, **kwargs))["access_token"]
    assert isinstance(token, str)
    return token


def api(http: requests.Session, path: str, token: str, scheme: str = "Bearer", **params: str) -> requests.Response:
    return http.get(BASE + path, headers={"Authorization": f"{scheme} {token}"}, params=params)


def is_token(fake: FakeGitHub, value: str) -> bool:
    return bool((SEALED_TOKEN_RE if fake.sealed else TOKEN_RE).match(value))


def is_code(fake: FakeGitHub, value: str) -> bool:
    return bool((SEALED_CODE_RE if fake.sealed else CODE_RE).match(value))


def token_error(name: str) -> dict[str, str]:
    """The body GitHub sends today for a token error: the observed one when there is one, else
    the documented one with its relative ``error_uri`` made absolute as GitHub now does."""
    observed = EXAMPLES / f"token_error_{name}.observed.json"
    if observed.exists():
        return t.cast("dict[str, str]", json.loads(observed.read_text()))
    body = t.cast("dict[str, str]", example(f"token_error_{name}.json"))
    return {**body, "error_uri": DOCS + body["error_uri"]}


# -- the consent page (browser) -------------------------------------------------------------------


def test_consent_page_renders_and_escapes_hostile_values(fake: FakeGitHub) -> None:
    browser = webtest.TestApp(fake)
    state = '"><script>alert(1)</script>'
    redirect_uri = 'https://app.test/cb?x="><img/src=x/onerror=alert(2)>'
    page = browser.get(
        "/login/oauth/authorize",
        {"client_id": CLIENT_ID, "redirect_uri": redirect_uri, "scope": "read:user <b>", "state": state},
    )
    assert page.status_int == 200
    assert page.content_type == "text/html"
    assert "<script>" not in page.text and "<img" not in page.text and "<b>" not in page.text
    assert "&lt;script&gt;" in page.text and "&lt;img/src=x/onerror=alert(2)&gt;" in page.text
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert re.search(r"""(src|href)=["']?(https?:)?//""", page.text) is None  # no external resources
    form = page.form
    assert form.method.upper() == "POST" and form.action == "/login/oauth/authorize"
    assert form["state"].value == state and form["redirect_uri"].value == redirect_uri
    assert [option[0] for option in form["login"].options] == ["octocat", "hubot"]
    assert "Approve" in page.text and "Deny" in page.text


def test_consent_page_approve_redirects_with_code_and_state(fake: FakeGitHub) -> None:
    browser = webtest.TestApp(fake)
    page = browser.get(
        "/login/oauth/authorize",
        {"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI + "?next=%2Fhome", "state": "s t&u"},
    )
    page.form["login"] = "hubot"
    response = page.form.submit("authorize", value="1", status=302)
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?next=%2Fhome&code=")
    query = parse_qs(urlsplit(location).query)
    assert is_code(fake, query["code"][0])
    assert query["state"] == ["s t&u"]
    assert query["next"] == ["/home"]
    assert fake.codes == [query["code"][0]]


def test_consent_page_deny_redirects_exactly_like_github(fake: FakeGitHub) -> None:
    observed = example("callback_error_access_denied.observed.txt")
    redirect_uri = observed.partition("?")[0]
    browser = webtest.TestApp(fake)
    page = browser.get(
        "/login/oauth/authorize", {"client_id": CLIENT_ID, "redirect_uri": redirect_uri, "state": "mentor"}
    )
    response = page.form.submit("authorize", value="0", status=302)
    assert response.headers["Location"] == observed
    assert fake.codes == []


def test_consent_page_under_a_script_name(fake: FakeGitHub) -> None:
    browser = webtest.TestApp(fake, extra_environ={"SCRIPT_NAME": "/gh"})
    page = browser.get("/login/oauth/authorize", {"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI})
    assert page.form.action == "/gh/login/oauth/authorize"


@pytest.mark.parametrize(("auto_approve", "login"), [(True, "octocat"), ("hubot", "hubot")])
def test_auto_approve(clock: FakeClock, auto_approve: bool | str, login: str) -> None:
    fake = FakeGitHub(auto_approve=auto_approve, clock=clock)
    with requests.Session() as http:
        fake.mount(http)
        params = {"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "state": "abc", "scope": "read:user"}
        response = http.get(AUTHORIZE_URL, params=params, allow_redirects=False)
        assert response.status_code == 302
        query = parse_qs(urlsplit(response.headers["Location"]).query)
        token = redeem(http, query["code"][0])["access_token"]
        assert api(http, "/user", token).json()["login"] == login
        assert fake.tokens_for(login) == [token]


def test_auto_approve_must_name_a_known_user() -> None:
    with pytest.raises(ValueError):
        FakeGitHub(auto_approve="nobody")


def test_unknown_client_id_is_a_404_page(http: requests.Session) -> None:
    response = http.get(AUTHORIZE_URL, params={"client_id": "other", "redirect_uri": REDIRECT_URI})
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")


def test_redirect_uri_must_match_a_registered_one(clock: FakeClock) -> None:
    fake = FakeGitHub(redirect_uris=[REDIRECT_URI], clock=clock)
    browser = webtest.TestApp(fake)
    page = browser.get(
        "/login/oauth/authorize", {"client_id": CLIENT_ID, "redirect_uri": "https://evil.test/cb"}, status=400
    )
    assert "redirect_uri" in page.text and "Location" not in page.headers
    # None given: the registered one is used, as on GitHub.
    page = browser.get("/login/oauth/authorize", {"client_id": CLIENT_ID})
    response = page.form.submit("authorize", value="1", status=302)
    assert response.headers["Location"].startswith(REDIRECT_URI + "?code=")


@pytest.mark.parametrize("redirect_uri", ["javascript:alert(1)", "/relative", "https://app.test/cb\r\nSet-Cookie: x=1"])
def test_redirect_uri_must_be_an_absolute_http_url(fake: FakeGitHub, redirect_uri: str) -> None:
    browser = webtest.TestApp(fake)
    browser.get("/login/oauth/authorize", {"client_id": CLIENT_ID, "redirect_uri": redirect_uri}, status=400)


@pytest.mark.parametrize("method", ["plain", None])
def test_code_challenge_method_must_be_s256(http: requests.Session, method: str | None) -> None:
    _, challenge = verifier_and_challenge()
    params = {"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "code_challenge": challenge}
    if method:
        params["code_challenge_method"] = method
    response = http.get(AUTHORIZE_URL, params=params, allow_redirects=False)
    assert response.status_code == 400
    assert "code_challenge_method" in response.text


# -- the token endpoint ---------------------------------------------------------------------------


def test_code_is_single_use(http: requests.Session, fake: FakeGitHub) -> None:
    code = approve(http)
    assert is_token(fake, redeem(http, code)["access_token"])
    assert redeem(http, code) == token_error("bad_verification_code")
    assert redeem(http, "0" * 20) == token_error("bad_verification_code")
    assert fake.token_requests == 3


def test_code_expires_after_ten_minutes(http: requests.Session, clock: FakeClock) -> None:
    early, late = approve(http), approve(http)
    clock.advance(599)
    assert "access_token" in redeem(http, early)
    clock.advance(1)
    assert redeem(http, late) == token_error("bad_verification_code")


def test_wrong_client_secret(http: requests.Session, fake: FakeGitHub) -> None:
    code = approve(http)
    assert redeem(http, code, client_secret="wrong") == token_error("incorrect_client_credentials")
    wrong_basic = http.post(
        TOKEN_URL, data={"code": code}, auth=(CLIENT_ID, "wrong"), headers={"Accept": "application/json"}
    )
    assert wrong_basic.json() == token_error("incorrect_client_credentials")
    # The credentials are checked before the code is touched: it is still good.
    right_basic = http.post(
        TOKEN_URL, data={"code": code}, auth=(CLIENT_ID, CLIENT_SECRET), headers={"Accept": "application/json"}
    )
    assert is_token(fake, right_basic.json()["access_token"])


def test_pkce_verifier_is_checked(http: requests.Session) -> None:
    verifier, challenge = verifier_and_challenge()
    pkce = {"code_challenge": challenge, "code_challenge_method": "S256"}
    assert "access_token" in redeem(http, approve(http, **pkce), code_verifier=verifier)
    other_verifier, _ = verifier_and_challenge()
    assert redeem(http, approve(http, **pkce), code_verifier=other_verifier) == token_error("bad_verification_code")
    assert redeem(http, approve(http, **pkce)) == token_error("bad_verification_code")
    # Without a challenge a verifier is ignored, like GitHub does.
    assert "access_token" in redeem(http, approve(http), code_verifier=verifier)


def test_redirect_uri_must_match_the_authorize_request(http: requests.Session) -> None:
    mismatch = redeem(http, approve(http), redirect_uri="https://app.test/other")
    assert mismatch == token_error("redirect_uri_mismatch")
    assert "access_token" in redeem(http, approve(http), redirect_uri=REDIRECT_URI)
    assert "access_token" in redeem(http, approve(http))  # optional, as on GitHub


def test_unverified_primary_email_cannot_log_in(clock: FakeClock) -> None:
    unverified = FakeUser("newbie", 3, emails=[{"email": "n@x.test", "verified": False, "primary": True}])
    fake = FakeGitHub(users=[unverified], clock=clock)
    with requests.Session() as http:
        fake.mount(http)
        assert redeem(http, approve(http, login="newbie")) == token_error("unverified_user_email")


def test_answer_is_form_encoded_unless_json_is_accepted(http: requests.Session) -> None:
    form = http.post(TOKEN_URL, data={"code": approve(http, scope="repo gist")}, auth=(CLIENT_ID, CLIENT_SECRET))
    assert form.headers["Content-Type"] == "application/x-www-form-urlencoded; charset=utf-8"
    fields = parse_qsl(form.text)
    assert [k for k, _ in fields] == [k for k, _ in parse_qsl(example("token_success.txt"))]
    assert "scope=repo%2Cgist&" in form.text  # GitHub's quirk: comma-joined scopes

    answer = http.post(
        TOKEN_URL,
        data={"code": approve(http, scope="repo gist")},
        auth=(CLIENT_ID, CLIENT_SECRET),
        headers={"Accept": "application/vnd.github+json, application/json;q=0.9"},
    )
    assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
    assert list(answer.json()) == list(example("token_success.json"))
    assert answer.json()["scope"] == "repo,gist" and answer.json()["token_type"] == "bearer"

    xml = http.post(
        TOKEN_URL,
        data={"code": approve(http, scope="repo gist")},
        auth=(CLIENT_ID, CLIENT_SECRET),
        headers={"Accept": "application/xml"},
    )
    tags = re.findall(r"<(\w+)>", xml.text)
    assert tags == re.findall(r"<(\w+)>", example("token_success.xml"))
    assert "<scope>repo,gist</scope>" in xml.text


def test_error_answers_are_form_encoded_by_default(http: requests.Session) -> None:
    response = http.post(TOKEN_URL, data={"code": "nope"}, auth=(CLIENT_ID, CLIENT_SECRET))
    assert response.status_code == 200
    assert response.text.startswith(example("token_error_bad_verification_code.form.observed-2013.txt"))
    assert dict(parse_qsl(response.text)) == token_error("bad_verification_code")


def test_granted_scope_is_comma_joined_in_request_order(http: requests.Session, fake: FakeGitHub) -> None:
    answer = redeem(http, approve(http, scope="user:email read:org  read:user"))
    assert answer["scope"] == "user:email,read:org,read:user"
    assert api(http, "/user", answer["access_token"]).headers["x-oauth-scopes"] == "user:email, read:org, read:user"
    assert redeem(http, approve(http, scope=""))["scope"] == ""


def test_expiring_tokens_and_single_use_refresh_tokens(clock: FakeClock) -> None:
    fake = FakeGitHub(expiring_tokens=True, clock=clock)
    with requests.Session() as http:
        fake.mount(http)
        form = http.post(TOKEN_URL, data={"code": approve(http, scope="repo gist")}, auth=(CLIENT_ID, CLIENT_SECRET))
        fields = dict(parse_qsl(form.text))
        expected = dict(parse_qsl(example("token_success_expiring.txt")))
        assert list(fields) == list(expected)
        assert fields["expires_in"] == expected["expires_in"] == "28800"
        assert fields["refresh_token_expires_in"] == expected["refresh_token_expires_in"] == "15897600"
        assert TOKEN_RE.match(fields["access_token"])
        assert re.fullmatch("ghr_[A-Za-z0-9]{76}", fields["refresh_token"])

        refresh = {"grant_type": "refresh_token", "refresh_token": fields["refresh_token"]}
        renewed = http.post(
            TOKEN_URL, data=refresh, auth=(CLIENT_ID, CLIENT_SECRET), headers={"Accept": "application/json"}
        )
        body = renewed.json()
        assert body["expires_in"] == 28800 and body["scope"] == "repo,gist"
        assert body["access_token"] != fields["access_token"] and body["refresh_token"] != fields["refresh_token"]
        reused = http.post(
            TOKEN_URL, data=refresh, auth=(CLIENT_ID, CLIENT_SECRET), headers={"Accept": "application/json"}
        )
        assert (
            reused.json() == token_error("bad_refresh_token") == example("token_error_bad_refresh_token.observed.json")
        )

        assert api(http, "/user", body["access_token"]).status_code == 200
        clock.advance(28800)
        expired = api(http, "/user", body["access_token"])
        assert expired.status_code == 401 and expired.json() == example("api_401_bad_credentials.json")
        # The refresh token outlives the access token.
        again = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
        assert "access_token" in http.post(TOKEN_URL, data=again, auth=(CLIENT_ID, CLIENT_SECRET)).text


def test_refresh_tokens_do_not_exist_without_expiring_tokens(http: requests.Session) -> None:
    assert "refresh_token" not in redeem(http, approve(http))
    refresh = {"grant_type": "refresh_token", "refresh_token": "ghr_x"}
    answer = http.post(TOKEN_URL, data=refresh, auth=(CLIENT_ID, CLIENT_SECRET), headers={"Accept": "application/json"})
    assert answer.json() == token_error("bad_refresh_token")


@pytest.mark.parametrize("basic_auth", [False, True], ids=["client-id-in-body", "basic-auth"])
def test_requests_oauthlib_can_redeem_a_code(http: requests.Session, fake: FakeGitHub, basic_auth: bool) -> None:
    verifier, challenge = verifier_and_challenge()
    with OAuth2Session(CLIENT_ID, redirect_uri=REDIRECT_URI, scope=["read:user"]) as oauth:
        fake.mount(oauth)
        url, state = oauth.authorization_url(AUTHORIZE_URL, code_challenge=challenge, code_challenge_method="S256")
        page = webtest.TestApp(fake).get(url[len(BASE) :])
        callback = page.form.submit("authorize", value="1", status=302).headers["Location"]
        assert parse_qs(urlsplit(callback).query)["state"] == [state]
        token = oauth.fetch_token(
            TOKEN_URL,
            authorization_response=callback,
            code_verifier=verifier,
            include_client_id=not basic_auth,
            client_secret=CLIENT_SECRET,
        )
        assert is_token(fake, token["access_token"])
        assert token["scope"] == ["read:user"] and token["token_type"] == "bearer"
        assert oauth.get(BASE + "/user").json()["login"] == "octocat"


# -- the API --------------------------------------------------------------------------------------


def test_user_has_every_key_of_githubs_example(http: requests.Session, fake: FakeGitHub) -> None:
    token = login_token(http)
    response = api(http, "/user", token)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    profile = response.json()
    reference = example("user_private.json")
    assert list(profile) == list(reference)
    for key in ("login", "id", "node_id", "name", "email", "company", "plan", "type", "site_admin"):
        assert profile[key] == reference[key]
    assert profile["url"] == BASE + "/api/v3/users/octocat" and profile["html_url"] == BASE + "/octocat"
    assert len(profile["avatar_url"]) < 512  # fits the middleware's per-field limit untruncated
    headers = response.headers
    assert headers["x-ratelimit-limit"] == "5000"
    assert int(headers["x-ratelimit-remaining"]) + int(headers["x-ratelimit-used"]) == 5000
    assert int(headers["x-ratelimit-reset"]) > fake.clock()
    assert headers["x-oauth-scopes"] == "read:user, user:email"

    hubot = api(http, "/user", login_token(http, login="hubot")).json()
    assert list(hubot) == list(reference)
    assert (hubot["login"], hubot["id"], hubot["name"], hubot["email"]) == ("hubot", 2, None, None)


def test_api_answers_at_the_root_and_under_api_v3(http: requests.Session, fake: FakeGitHub) -> None:
    token = login_token(http)
    for path in ("/user", "/user/emails", "/user/orgs", "/user/teams"):
        root, prefixed = api(http, path, token, scheme="token"), api(http, "/api/v3" + path, token)
        assert root.status_code == prefixed.status_code == 200
        assert root.json() == prefixed.json()
    assert fake.api_requests == 8
    assert http.get(BASE + "/api/v3/login/oauth/authorize").status_code == 404


def test_list_entries_have_githubs_shapes(http: requests.Session) -> None:
    token = login_token(http)
    assert api(http, "/user/emails", token).json() == example("user_emails.json")
    (org,) = api(http, "/user/orgs", token).json()
    assert list(org) == list(example("user_orgs.json")[0]) and org["login"] == "github"
    (team,) = api(http, "/user/teams", token).json()
    reference = example("user_teams.json")[0]
    assert list(team) == list(reference)
    assert list(team["organization"]) == list(reference["organization"])
    assert (team["slug"], team["name"], team["organization"]["login"]) == ("justice-league", "Justice League", "github")

    default_email = api(http, "/user/emails", login_token(http, login="hubot")).json()
    assert default_email == [
        {"email": "hubot@users.fake.test", "verified": True, "primary": True, "visibility": "private"}
    ]


def test_emails_need_the_user_email_scope(http: requests.Session) -> None:
    response = api(http, "/user/emails", login_token(http, scope="read:user"))
    assert response.status_code == 404 and response.json()["message"] == "Not Found"
    assert api(http, "/user/emails", login_token(http, scope="user")).status_code == 200


def test_lists_are_paginated_with_a_link_header(clock: FakeClock) -> None:
    fake = FakeGitHub(users=[FakeUser("dana", 7, orgs=["one", "two", "three"])], clock=clock)
    with requests.Session() as http:
        fake.mount(http)
        token = fake.issue_token("dana", ["read:org"])
        first = api(http, "/api/v3/user/orgs", token, per_page="2")
        assert [org["login"] for org in first.json()] == ["one", "two"]
        page2 = BASE + "/api/v3/user/orgs?page=2&per_page=2"
        assert first.headers["Link"] == f'<{page2}>; rel="next", <{page2}>; rel="last"'
        assert first.links["next"]["url"] == page2

        second = http.get(page2, headers={"Authorization": "Bearer " + token})
        assert [org["login"] for org in second.json()] == ["three"]
        page1 = BASE + "/api/v3/user/orgs?page=1&per_page=2"
        assert second.headers["Link"] == f'<{page1}>; rel="prev", <{page1}>; rel="first"'

        assert "Link" not in api(http, "/user/orgs", token).headers  # 30 per page by default
        assert api(http, "/user/orgs", token, page="3", per_page="2").json() == []
        assert len(api(http, "/user/orgs", token, per_page="1000").json()) == 3  # capped at 100

        # Absolute URLs follow the request's scheme, host and SCRIPT_NAME.
        http.mount("http://gh.local:8080/", WSGITransportAdapter(fake, script_name="/gh"))
        mounted = http.get("http://gh.local:8080/gh/user/orgs?per_page=1", headers={"Authorization": "token " + token})
        assert mounted.links["next"]["url"] == "http://gh.local:8080/gh/user/orgs?page=2&per_page=1"
        assert mounted.links["last"]["url"] == "http://gh.local:8080/gh/user/orgs?page=3&per_page=1"


def test_bad_credentials(http: requests.Session, fake: FakeGitHub) -> None:
    unknown = api(http, "/user", "gho_" + "x" * 36)
    assert unknown.status_code == 401
    assert unknown.json() == example("api_401_bad_credentials.json")
    assert unknown.headers["Content-Type"] == "application/json; charset=utf-8"
    assert http.get(BASE + "/user").status_code == 401
    token = login_token(http)
    assert api(http, "/user", token, scheme="Basic").status_code == 401
    assert fake.revoke(token) is True and fake.revoke(token) is False
    assert api(http, "/user", token).json() == example("api_401_bad_credentials.json")


def test_revocation_endpoint(http: requests.Session, fake: FakeGitHub) -> None:
    token, other = login_token(http), login_token(http)
    url = f"{BASE}/applications/{CLIENT_ID}/token"
    wrong = http.delete(url, json={"access_token": token}, auth=(CLIENT_ID, "wrong"))
    assert wrong.status_code == 404 and wrong.json()["message"] == "Not Found"
    assert api(http, "/user", token).status_code == 200

    revoked = http.delete(url, json={"access_token": token}, auth=(CLIENT_ID, CLIENT_SECRET))
    assert revoked.status_code == 204 and revoked.content == b""
    assert api(http, "/user", token).status_code == 401
    assert api(http, "/user", other).status_code == 200
    assert fake.tokens_for("octocat") == [other]

    assert http.delete(url, json={"access_token": token}, auth=(CLIENT_ID, CLIENT_SECRET)).status_code == 404
    assert (
        http.delete(
            BASE + "/api/v3/applications/" + CLIENT_ID + "/token",
            json={"access_token": other},
            auth=(CLIENT_ID, CLIENT_SECRET),
        ).status_code
        == 204
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/users/octocat"),
        ("POST", "/user"),
        ("GET", "/login/oauth/access_token"),
        ("GET", "/user/"),
    ],
)
def test_anything_else_is_a_json_404(http: requests.Session, method: str, path: str) -> None:
    response = http.request(method, BASE + path)
    assert response.status_code == 404
    assert response.json() == {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}


# -- helpers, wiring, concurrency ----------------------------------------------------------------


def test_provider_points_at_the_fake(fake: FakeGitHub) -> None:
    provider = fake.provider()
    assert isinstance(provider, Provider) and provider.name == "github"
    assert provider.authorize_url == BASE + "/login/oauth/authorize"
    assert provider.token_url == TOKEN_URL
    assert provider.api_base_url == BASE + "/api/v3/"
    assert provider.api_url("user") == BASE + "/api/v3/user"
    browser = fake.provider("http://localhost/fake-github/")
    assert browser.authorize_url == "http://localhost/fake-github/login/oauth/authorize"
    assert browser.token_url == provider.token_url


def test_provider_fetch_profile_through_the_adapter(http: requests.Session, fake: FakeGitHub) -> None:
    token = fake.issue_token("octocat", ["read:user"])
    profile = fake.provider().fetch_profile(http, token, timeout=5)
    assert profile["login"] == "octocat" and profile["id"] == 1


def test_transport_adapter_builds_a_proper_environ() -> None:
    seen: dict[str, t.Any] = {}

    def app(environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]) -> list[bytes]:
        seen.update(environ)
        seen["body"] = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"] or 0))
        start_response(
            "201 Created",
            [
                ("Content-Type", "text/plain; charset=latin-1"),
                ("X-Many", "a"),
                ("X-Many", "b"),
                ("Set-Cookie", "one=1; Path=/"),
                ("Set-Cookie", "two=2; Path=/"),
            ],
        )
        return [b"caf", "é".encode("latin-1")]

    with requests.Session() as http:
        http.mount("https://svc.test/", WSGITransportAdapter(app, script_name="/root"))
        response = http.post(
            "https://svc.test/root/a%20b/c?x=1&y=%2F", json={"k": "v"}, headers={"X-Custom": "yes"}, timeout=1
        )
        assert (response.status_code, response.reason) == (201, "Created")
        assert response.text == "café" and response.encoding == "latin-1"
        assert response.headers["X-Many"] == "a, b"
        assert response.raw.headers.getlist("X-Many") == ["a", "b"]
        assert http.cookies.get_dict() == {"one": "1", "two": "2"}
        assert response.url == "https://svc.test/root/a%20b/c?x=1&y=%2F"
        assert response.request.method == "POST"
    assert seen["REQUEST_METHOD"] == "POST"
    assert (seen["SCRIPT_NAME"], seen["PATH_INFO"], seen["QUERY_STRING"]) == ("/root", "/a b/c", "x=1&y=%2F")
    assert (seen["SERVER_NAME"], seen["SERVER_PORT"], seen["HTTP_HOST"]) == ("svc.test", "443", "svc.test")
    assert seen["wsgi.url_scheme"] == "https"
    assert seen["CONTENT_TYPE"] == "application/json" and seen["CONTENT_LENGTH"] == str(len(seen["body"]))
    assert json.loads(seen["body"]) == {"k": "v"}
    assert seen["HTTP_X_CUSTOM"] == "yes" and "HTTP_CONTENT_TYPE" not in seen


def test_transport_adapter_follows_redirects_and_streams(clock: FakeClock) -> None:
    fake = FakeGitHub(auto_approve=True, clock=clock)
    with requests.Session() as http:
        http.mount(BASE + "/", WSGITransportAdapter(fake))

        def callback(environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]) -> list[bytes]:
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [environ["QUERY_STRING"].encode()]

        http.mount("https://app.test/", WSGITransportAdapter(callback))
        query = urlencode({"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "state": "st"})
        landed = http.get(f"{AUTHORIZE_URL}?{query}")
        assert landed.status_code == 200 and [r.status_code for r in landed.history] == [302]
        assert parse_qs(landed.text)["state"] == ["st"]
        streamed = http.get(BASE + "/nothing", stream=True)
        assert json.loads(streamed.raw.read(10_000))["message"] == "Not Found"
        streamed.close()


def test_sixteen_threads_at_once(http: requests.Session, fake: FakeGitHub) -> None:
    results: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(16)

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            login = "octocat" if index % 2 else "hubot"
            token = login_token(http, login=login, state=f"s{index}")
            assert api(http, "/user", token).json()["login"] == login
            results.append(token)
        except BaseException as error:  # collected and re-raised in the main thread
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors and len(set(results)) == 16
    assert fake.token_requests == 16 and fake.api_requests == 16
    assert fake.codes == [] and len(fake.tokens) == 16
    assert len(fake.tokens_for("octocat")) == len(fake.tokens_for("hubot")) == 8


def test_no_token_code_or_secret_is_logged(http: requests.Session, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    code = approve(http)
    token = redeem(http, code)["access_token"]
    api(http, "/user", token)
    redeem(http, code)
    http.delete(f"{BASE}/applications/{CLIENT_ID}/token", json={"access_token": token}, auth=(CLIENT_ID, CLIENT_SECRET))
    assert any(record.name == "oauth_middleware.testing.fake_github" for record in caplog.records)
    for secret in (code, token, CLIENT_SECRET, "xyz"):
        assert secret not in caplog.text


def test_add_user_and_issue_token(fake: FakeGitHub, http: requests.Session) -> None:
    fake.add_user(FakeUser("carol", 42, name="Carol", email="carol@example.test", teams=["acme/ops"]))
    assert [user.login for user in fake.users] == ["octocat", "hubot", "carol"]
    token = fake.issue_token("carol", ["read:org", "user:email"])
    assert fake.scopes_of(token) == ("read:org", "user:email")
    assert api(http, "/user", token).json()["email"] == "carol@example.test"
    emails = api(http, "/user/emails", token).json()
    assert emails == [{"email": "carol@example.test", "verified": True, "primary": True, "visibility": "public"}]
    (team,) = api(http, "/user/teams", token).json()
    assert team["html_url"] == BASE + "/orgs/acme/teams/ops" and team["organization"]["login"] == "acme"
    with pytest.raises(KeyError):
        fake.issue_token("nobody")


# -- sealed mode: one fake per process, sharing a key -------------------------------------------


def sealed_fake(clock: FakeClock, key: str | bytes = SEALED_KEY, **options: t.Any) -> FakeGitHub:
    """One "worker process"'s fake: same users, client and key as its siblings."""
    return FakeGitHub(sealed=key, auto_approve=True, clock=clock, **options)


def session_for(fake: FakeGitHub) -> requests.Session:
    http = requests.Session()
    fake.mount(http)
    return http


def auto_approve(http: requests.Session, **extra: str) -> str:
    """GET the authorize endpoint of an ``auto_approve`` fake; return the code it redirects with."""
    params = {"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "scope": "read:user user:email", **extra}
    response = http.get(AUTHORIZE_URL, params=params, allow_redirects=False)
    assert response.status_code == 302, response.text
    return parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]


def refresh(http: requests.Session, refresh_token: str) -> t.Any:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    answer = http.post(TOKEN_URL, data=data, auth=(CLIENT_ID, CLIENT_SECRET), headers={"Accept": "application/json"})
    assert answer.status_code == 200
    return answer.json()


def tampered(value: str) -> str:
    """``value`` with one character in the middle of its sealed part changed."""
    index = len(value) // 2
    return value[:index] + ("A" if value[index] != "A" else "B") + value[index + 1 :]


def test_sealed_code_from_one_process_is_redeemed_in_another(clock: FakeClock) -> None:
    fake_a, fake_b = sealed_fake(clock), sealed_fake(clock)
    with session_for(fake_a) as http_a, session_for(fake_b) as http_b:
        verifier, challenge = verifier_and_challenge()
        code = auto_approve(http_a, code_challenge=challenge, code_challenge_method="S256", state="st")
        assert SEALED_CODE_RE.match(code) and fake_a.codes == [code] and fake_b.codes == []

        body = redeem(http_b, code, code_verifier=verifier, redirect_uri=REDIRECT_URI)
        assert list(body) == ["access_token", "scope", "token_type"]
        assert body["scope"] == "read:user,user:email" and body["token_type"] == "bearer"
        token = body["access_token"]
        assert SEALED_TOKEN_RE.match(token)
        assert fake_b.tokens == fake_b.tokens_for("octocat") == [token] and fake_a.tokens == []

        for path in ("/user", "/api/v3/user"):
            answer = http_a.get(BASE + path, headers={"Authorization": f"token {token}"})
            assert answer.status_code == 200 and answer.json()["login"] == "octocat"
            assert answer.headers["x-oauth-scopes"] == "read:user, user:email"
        assert api(http_a, "/user/emails", token).json()[0]["email"] == "octocat@github.com"
        assert fake_a.scopes_of(token) == ("read:user", "user:email")
        assert (fake_a.token_requests, fake_a.api_requests, fake_b.token_requests) == (0, 3, 1)

        # The PKCE verifier and the redirect_uri are bound into the sealed code.
        wrong_verifier, _ = verifier_and_challenge()
        pkce = {"code_challenge": challenge, "code_challenge_method": "S256"}
        assert redeem(http_b, auto_approve(http_a, **pkce), code_verifier=wrong_verifier) == token_error(
            "bad_verification_code"
        )
        assert redeem(
            http_b, auto_approve(http_a, **pkce), code_verifier=verifier, redirect_uri="https://app.test/other"
        ) == token_error("redirect_uri_mismatch")
        assert redeem(http_b, auto_approve(http_a), client_secret="wrong") == token_error(
            "incorrect_client_credentials"
        )


def test_sealed_refresh_token_from_one_process_works_in_another(clock: FakeClock) -> None:
    fake_a, fake_b = sealed_fake(clock, expiring_tokens=True), sealed_fake(clock, expiring_tokens=True)
    with session_for(fake_a) as http_a, session_for(fake_b) as http_b:
        first = redeem(http_a, auto_approve(http_a, scope="repo gist"))
        assert SEALED_TOKEN_RE.match(first["access_token"]) and SEALED_REFRESH_RE.match(first["refresh_token"])
        assert first["expires_in"] == 28800 and first["refresh_token_expires_in"] == 15897600
        assert fake_a.refresh_tokens == [first["refresh_token"]]

        renewed = refresh(http_b, first["refresh_token"])
        fields = ["access_token", "expires_in", "refresh_token", "refresh_token_expires_in", "scope", "token_type"]
        assert list(renewed) == fields
        assert renewed["scope"] == "repo,gist" and renewed["expires_in"] == 28800
        assert api(http_a, "/user", renewed["access_token"]).status_code == 200
        # Single use in the process that redeemed it...
        assert refresh(http_b, first["refresh_token"]) == token_error("bad_refresh_token")
        # ... and, as documented, once more in a process that has not seen it used.
        assert "access_token" in refresh(http_a, first["refresh_token"])
        assert refresh(http_a, first["refresh_token"]) == token_error("bad_refresh_token")

        # Expiry comes from the sealed times: the access token dies after 8 hours everywhere, the
        # refresh token lives on.
        clock.advance(28800)
        for http in (http_a, http_b):
            assert api(http, "/user", renewed["access_token"]).json() == example("api_401_bad_credentials.json")
        assert "access_token" in refresh(http_a, renewed["refresh_token"])
        clock.advance(15897600)
        assert refresh(http_b, first["refresh_token"]) == token_error("bad_refresh_token")


def test_sealed_code_is_single_use_per_process(clock: FakeClock) -> None:
    fake_a, fake_b = sealed_fake(clock), sealed_fake(clock)
    with session_for(fake_a) as http_a, session_for(fake_b) as http_b:
        code = auto_approve(http_a)
        assert "access_token" in redeem(http_b, code)
        assert redeem(http_b, code) == token_error("bad_verification_code")
        # A failed attempt uses the code up too, as in memory mode.
        other = auto_approve(http_a)
        assert redeem(http_b, other, redirect_uri="https://app.test/other") == token_error("redirect_uri_mismatch")
        assert redeem(http_b, other) == token_error("bad_verification_code")
        # In the issuing process, a code redeemed there stays spent after it leaves ``codes``.
        local = auto_approve(http_a)
        assert "access_token" in redeem(http_a, local)
        assert fake_a.codes == [code, other]
        assert redeem(http_a, local) == token_error("bad_verification_code")


def test_sealed_revocation_is_per_process(clock: FakeClock) -> None:
    fake_a, fake_b = sealed_fake(clock), sealed_fake(clock)
    with session_for(fake_a) as http_a, session_for(fake_b) as http_b:
        token = redeem(http_a, auto_approve(http_a))["access_token"]
        url = f"{BASE}/applications/{CLIENT_ID}/token"
        assert http_b.delete(url, json={"access_token": token}, auth=(CLIENT_ID, CLIENT_SECRET)).status_code == 204
        assert api(http_b, "/user", token).status_code == 401
        assert fake_b.revoke(token) is False and fake_b.scopes_of(token) is None
        assert api(http_a, "/user", token).status_code == 200  # documented: not a security boundary
        assert fake_a.revoke(token) is True and fake_a.revoke(token) is False
        assert api(http_a, "/user", token).status_code == 401 and fake_a.tokens == []

        issued = fake_b.issue_token("hubot", ["read:org"])
        assert SEALED_TOKEN_RE.match(issued) and fake_a.scopes_of(issued) == ("read:org",)
        assert api(http_a, "/user", issued).json()["login"] == "hubot"


def test_sealed_values_need_the_same_key_and_must_be_intact(clock: FakeClock) -> None:
    fake_a, fake_b = sealed_fake(clock), sealed_fake(clock)
    stranger = sealed_fake(clock, key=b"another-key-for-another-fake-0123456789")
    in_memory = FakeGitHub(auto_approve=True, clock=clock)
    with (
        session_for(fake_a) as http_a,
        session_for(fake_b) as http_b,
        session_for(stranger) as http_s,
        session_for(in_memory) as http_m,
    ):
        assert redeem(http_b, auto_approve(http_s)) == token_error("bad_verification_code")
        assert redeem(http_b, auto_approve(http_m)) == token_error("bad_verification_code")
        assert redeem(http_b, tampered(auto_approve(http_a))) == token_error("bad_verification_code")
        assert redeem(http_m, auto_approve(http_a)) == token_error("bad_verification_code")

        code = auto_approve(http_a)
        token = redeem(http_a, code)["access_token"]
        bad_credentials = example("api_401_bad_credentials.json")
        for bad in (
            tampered(token),
            token[:-8],
            "ghr_" + token[4:],  # an access token is no refresh token (and back), nor a code
            "gho_" + code,
            redeem(http_s, auto_approve(http_s))["access_token"],
            redeem(http_m, auto_approve(http_m))["access_token"],
        ):
            for http in (http_a, http_b):
                answer = api(http, "/user", bad)
                assert answer.status_code == 401 and answer.json() == bad_credentials
        assert api(http_b, "/user", token).status_code == 200
        assert api(http_m, "/user", token).status_code == 401
        assert redeem(http_b, token[4:]) == token_error("bad_verification_code")


def test_sealed_code_expires_after_ten_minutes(clock: FakeClock) -> None:
    fake_a, fake_b = sealed_fake(clock), sealed_fake(clock)
    with session_for(fake_a) as http_a, session_for(fake_b) as http_b:
        early, late = auto_approve(http_a), auto_approve(http_a)
        clock.advance(599)
        assert "access_token" in redeem(http_b, early)
        clock.advance(1)
        assert redeem(http_b, late) == token_error("bad_verification_code")
        assert redeem(http_a, auto_approve(http_a))["token_type"] == "bearer"  # fresh codes still work


@pytest.mark.parametrize("key", ["x" * 31, b"x" * 31, "", b""])
def test_sealed_key_must_be_long_enough(key: str | bytes) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        FakeGitHub(sealed=key)
    assert FakeGitHub(sealed=b"x" * 32).sealed and FakeGitHub(sealed="é" * 16).sealed  # bytes, not characters
    assert not FakeGitHub().sealed


def test_middleware_login_across_two_sealed_fakes(
    clock: FakeClock, make_middleware: t.Callable[..., OAuthMiddleware]
) -> None:
    """The gunicorn case: the browser meets worker A's fake, the callback runs in worker B."""
    fake_a, fake_b = sealed_fake(clock), sealed_fake(clock)
    middleware = make_middleware(provider=fake_a.provider(), client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    fake_b.mount(middleware.http)
    app = webtest.TestApp(middleware, extra_environ=HTTPS)

    authorize = app.get("/auth/login", status=302).headers["Location"]
    assert authorize.startswith(AUTHORIZE_URL + "?")
    callback = webtest.TestApp(fake_a).get(authorize[len(BASE) :], status=302).headers["Location"]
    assert callback.startswith("https://app.example.com/auth/callback?")
    assert fake_a.codes and not fake_b.codes

    landed = app.get(callback[len("https://app.example.com") :], status=302)
    assert landed.headers["Location"] == "/"
    body = app.get("/").json
    assert body["remote_user"] == "octocat" and body["user"]["login"] == "octocat"
    assert SEALED_TOKEN_RE.match(body["token"]["access_token"])
    assert (fake_a.token_requests, fake_a.api_requests) == (0, 0)
    assert (fake_b.token_requests, fake_b.api_requests) == (1, 1)
    assert fake_b.tokens_for("octocat") == [body["token"]["access_token"]]


# -- the standalone server ------------------------------------------------------------------------


@pytest.mark.e2e
def test_standalone_server_on_a_loopback_port() -> None:
    fake = FakeGitHub(auto_approve=True)
    server = make_server("127.0.0.1", 0, fake)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1" and port != 0
        base = f"http://127.0.0.1:{port}"
        assert fake.base_url == base
        assert fake.provider().api_base_url == base + "/api/v3/"
        with requests.Session() as http:
            query = {"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "state": "e2e"}
            response = http.get(base + "/login/oauth/authorize", params=query, allow_redirects=False, timeout=5)
            assert response.status_code == 302
            code = parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]
            answer = http.post(
                base + "/login/oauth/access_token",
                data={"code": code},
                auth=(CLIENT_ID, CLIENT_SECRET),
                headers={"Accept": "application/json"},
                timeout=5,
            ).json()
            user = http.get(
                base + "/api/v3/user", headers={"Authorization": "Bearer " + answer["access_token"]}, timeout=5
            )
            assert user.json()["login"] == "octocat"
            assert user.json()["url"] == base + "/api/v3/users/octocat"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_command_line_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--port" in out and "--auto-approve" in out and "--client-secret" in out


def test_command_line_refuses_an_unknown_auto_approve_login(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--port", "0", "--auto-approve", "nobody"]) == 2
    assert "unknown user" in capsys.readouterr().err
