"""Keeping sessions current (issue 4, items 4-8): expiring tokens and their refresh (one refresh
per session, even under a race), re-validation of memberships and tokens, GitHub outages, idle
timeout, and token revocation on logout.

Logins are real, against an in-process FakeGitHub driven by the injected clock: nothing sleeps.
"""

from __future__ import annotations

import base64
import concurrent.futures
import json
import logging
import threading
import typing as t

import pytest
import webob
import webtest
from support import (
    Call,
    FakeClock,
    GitHubMock,
    Site,
    downstream,
    example,
    log_in,
    session_cleared,
    session_set,
)

from oauth_middleware.renewal import RETRY_AFTER

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
JSON = {"Accept": "application/json"}
SESSION = "__Host-oauth_session"
LIFETIME = 28800  # GitHub's expiring user tokens: 8 hours
MARGIN = 300  # refreshed this long before they expire
DAY = 24 * 3600
TOKEN_PATH = "/login/oauth/access_token"


echo = downstream  # the shared echo app: identity, token and memberships as JSON


def warnings_in(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


# -- expiring tokens and their refresh ---------------------------------------------------------


def test_expiring_token_expires_at_login_time_plus_its_lifetime(make_site: t.Any, clock: FakeClock) -> None:
    site = make_site(expiring_tokens=True)
    login_time = clock()
    site.log_in()
    token = site.whoami()["token"]
    assert token["expires_at"] == int(login_time) + LIFETIME
    assert token["token_type"] == "bearer"
    assert set(token) == {"access_token", "token_type", "scope", "expires_at"}  # no refresh token


def test_refresh_token_is_never_shown_to_the_app(make_site: t.Any) -> None:
    site = make_site(expiring_tokens=True)
    site.log_in()
    [refresh_token] = site.fake.refresh_tokens
    response = site.app.get("/x")
    assert refresh_token not in response.text
    assert not any(key.startswith("refresh_token") for key in response.json["token"])


def test_string_lifetimes_from_github_work(make_app: t.Any, github: GitHubMock, clock: FakeClock) -> None:
    github.token_body = example("token_github_app_expiring_2020_changelog.json")  # "expires_in": "28800"
    app = make_app(echo)
    login_time = clock()
    log_in(app)
    assert app.get("/x").json["token"] == {
        "access_token": "accesstoken",
        "token_type": "bearer",
        "scope": [],
        "expires_at": int(login_time) + LIFETIME,
    }
    github.token_body = dict(github.token_body, access_token="accesstoken-2", refresh_token="r2.refreshme")
    clock.advance(LIFETIME - MARGIN + 1)
    token = app.get("/x").json["token"]
    assert token["access_token"] == "accesstoken-2"
    assert token["expires_at"] == int(clock()) + LIFETIME
    assert len(github.token_calls) == 2
    refresh = github.token_calls[1]
    assert refresh["grant_type"] == ["refresh_token"]
    assert refresh["refresh_token"] == ["r1.refreshme"]


def test_token_is_refreshed_before_it_expires(make_site: t.Any, clock: FakeClock) -> None:
    site = make_site(expiring_tokens=True)
    site.log_in()
    old = site.access_token()
    before = site.fake.token_requests

    clock.advance(LIFETIME - MARGIN - 1)  # not due yet
    response = site.app.get("/x")
    assert response.json["token"]["access_token"] == old
    assert not session_set(response)
    assert site.fake.token_requests == before

    clock.advance(2)  # within 300 s of expiry: this very request refreshes first
    response = site.app.get("/x")
    new = response.json["token"]["access_token"]
    assert new != old
    assert site.fake.token_requests == before + 1
    assert site.fake.tokens_for("octocat")[-1] == new and site.works_at_github(new)
    assert response.json["token"]["expires_at"] == int(clock()) + LIFETIME
    assert session_set(response)  # the updated session goes back to the browser

    clock.advance(60)
    response = site.app.get("/x")  # the new cookie: no second refresh
    assert response.json["token"]["access_token"] == new
    assert site.fake.token_requests == before + 1
    assert not session_set(response)


def test_an_already_expired_token_is_refreshed_too(make_site: t.Any, clock: FakeClock) -> None:
    site = make_site(expiring_tokens=True)
    site.log_in()
    old = site.access_token()
    clock.advance(LIFETIME + 3600)  # the user was away: the access token is dead, the grant is not
    new = site.access_token()
    assert new != old and site.works_at_github(new)


# -- the race: one refresh for many concurrent requests -----------------------------------------


class Gate:
    """In front of the middleware: counts the requests that have arrived."""

    def __init__(self, app: t.Any) -> None:
        self.app = app
        self.arrived = 0
        self.condition = threading.Condition()

    def __call__(self, environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]) -> t.Iterable[bytes]:
        with self.condition:
            self.arrived += 1
            self.condition.notify_all()
        return t.cast(t.Iterable[bytes], self.app(environ, start_response))

    def wait_for(self, count: int) -> None:
        with self.condition:
            self.condition.wait_for(lambda: self.arrived >= count, timeout=5)


def concurrently(gate: Gate, cookie: str, threads: int) -> list[webob.Response]:
    """``threads`` requests for /x with the same cookie, started together on real threads."""
    barrier = threading.Barrier(threads)

    def one(_: int) -> webob.Response:
        request = webob.Request.blank("/x", base_url="https://app.example.com", headers={"Cookie": cookie, **JSON})
        barrier.wait(timeout=5)
        return request.get_response(gate)

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(threads)))


def cookie_header(app: webtest.TestApp) -> str:
    return "; ".join("%s=%s" % item for item in app.cookies.items())


@pytest.mark.parametrize("round_", range(5))
def test_concurrent_requests_refresh_exactly_once(make_site: t.Any, clock: FakeClock, round_: int) -> None:
    threads = 8
    site = make_site(expiring_tokens=True)
    site.log_in()
    old = site.access_token()
    gate = Gate(site.middleware)
    # the refresh is held at GitHub until all the requests are inside the middleware
    site.recorder.before_token = lambda: gate.wait_for(threads)
    clock.advance(LIFETIME - 100)
    before = site.fake.token_requests

    responses = concurrently(gate, cookie_header(site.app), threads)

    assert site.fake.token_requests - before == 1
    assert [r.status_int for r in responses] == [200] * threads
    seen = {json.loads(r.body)["token"]["access_token"] for r in responses}
    assert len(seen) == 1 and old not in seen
    [new] = seen
    assert site.works_at_github(new)
    assert all(session_set(r) for r in responses)
    # any of the cookies handed out carries the new token, with no further refresh
    later = webob.Request.blank(
        "/x", base_url="https://app.example.com", headers={"Cookie": responses[-1].headers["Set-Cookie"].split(";")[0]}
    ).get_response(site.middleware)
    assert json.loads(later.body)["token"]["access_token"] == new
    assert site.fake.token_requests - before == 1


def test_concurrent_requests_during_an_outage_call_github_once(make_site: t.Any, clock: FakeClock) -> None:
    threads = 8
    site = make_site(expiring_tokens=True)
    site.log_in()
    old = site.access_token()
    gate = Gate(site.middleware)
    down = site.take_down(TOKEN_PATH, before=lambda: gate.wait_for(threads))
    clock.advance(LIFETIME - 100)

    responses = concurrently(gate, cookie_header(site.app), threads)

    assert down.call_count == 1
    assert [r.status_int for r in responses] == [200] * threads
    assert {json.loads(r.body)["token"]["access_token"] for r in responses} == {old}


# -- a refresh GitHub refuses ends the session ---------------------------------------------------


def _use_the_refresh_token_elsewhere(site: Site) -> None:
    [refresh_token] = site.fake.refresh_tokens
    form = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": site.fake.client_id,
        "client_secret": site.fake.client_secret,
    }
    assert "access_token" in site.github.post(TOKEN_PATH, form, headers=JSON).json


@pytest.mark.parametrize(
    ("headers", "status"), [pytest.param(BROWSER, 302, id="browser"), pytest.param(JSON, 401, id="api")]
)
def test_refused_refresh_ends_the_session(
    make_site: t.Any, clock: FakeClock, caplog: pytest.LogCaptureFixture, headers: dict[str, str], status: int
) -> None:
    site = make_site(expiring_tokens=True, require_login=True)
    site.log_in()
    _use_the_refresh_token_elsewhere(site)  # single use: this one is spent now
    before = site.fake.token_requests
    clock.advance(LIFETIME + 1)  # expired: a refused refresh before that keeps the session (SES-6)
    response = site.app.get("/x", headers=headers, status=status)
    assert site.fake.token_requests == before + 1
    assert session_cleared(response)
    if status == 302:
        assert response.location == "/auth/login?next=/x"
    else:
        assert response.json["error"] == "login_required"
    assert any("no longer accepts" in message for message in warnings_in(caplog))
    assert SESSION not in site.app.cookies
    assert site.app.get("/x", headers=JSON, status=401).json["error"] == "login_required"
    assert site.fake.token_requests == before + 1


def test_bad_refresh_token_answer_from_github_ends_the_session(
    make_app: t.Any, github: GitHubMock, clock: FakeClock
) -> None:
    github.token_body = example("token_github_app_expiring_2020_changelog.json")
    app = make_app(echo, require_login=True)
    log_in(app)
    assert app.get("/x").json["remote_user"] == "octocat"
    bad = json.dumps(example("token_error_bad_refresh_token.observed.json"))
    github.token_body = (200, {"Content-Type": "application/json; charset=utf-8"}, bad)  # GitHub: errors with 200
    clock.advance(LIFETIME + 1)  # expired: a refused refresh before that keeps the session (SES-6)
    response = app.get("/x", headers=BROWSER, status=302)
    assert response.location == "/auth/login?next=/x"
    assert session_cleared(response)


# -- GitHub unreachable during a renewal ---------------------------------------------------------


@pytest.fixture(params=["refresh", "revalidation"])
def renewal(request: pytest.FixtureRequest, make_site: t.Any) -> tuple[Site, str, int]:
    """A logged-in site whose session is due for a renewal after ``due`` seconds, and the path
    prefix on the fake that renewal calls."""
    if request.param == "refresh":
        site = make_site(expiring_tokens=True)
        prefix, due = TOKEN_PATH, LIFETIME - 200
    else:
        site = make_site(allowed_orgs=["octo-org"])
        prefix, due = "/api/", 601
    site.log_in()
    return site, prefix, due


def test_github_down_during_renewal_keeps_the_session(
    renewal: tuple[Site, str, int], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    site, prefix, due = renewal
    token = site.access_token()
    down = site.take_down(prefix)
    clock.advance(due)
    with caplog.at_level(logging.WARNING, logger="oauth_middleware"):
        body = site.whoami()
    assert body["remote_user"] == "octocat" and body["token"]["access_token"] == token
    assert down.call_count == 1
    assert any("could not renew the session of octocat" in message for message in warnings_in(caplog))
    for _ in range(RETRY_AFTER // 10 - 1):  # not retried on every request for the next minute
        clock.advance(10)
        assert site.whoami()["remote_user"] == "octocat"
    assert down.call_count == 1


def test_renewal_is_retried_a_minute_after_github_was_down(renewal: tuple[Site, str, int], clock: FakeClock) -> None:
    site, prefix, due = renewal
    token = site.access_token()
    down = site.take_down(prefix)
    clock.advance(due)
    assert site.whoami()["remote_user"] == "octocat"
    assert down.call_count == 1
    clock.advance(RETRY_AFTER + 1)
    assert site.whoami()["remote_user"] == "octocat"
    assert down.call_count == 2  # retried after RETRY_AFTER (and GitHub is still down)
    site.bring_up(prefix)
    clock.advance(RETRY_AFTER + 1)
    calls = len(site.recorder.calls)
    response = site.app.get("/x")
    assert len(site.recorder.calls) > calls  # GitHub is back: the renewal goes through
    assert session_set(response)
    if prefix == TOKEN_PATH:
        assert response.json["token"]["access_token"] != token


# -- re-validation -------------------------------------------------------------------------------


def test_user_removed_from_an_allowed_org_loses_access_within_revalidate_after(
    make_site: t.Any, clock: FakeClock
) -> None:
    site = make_site(allowed_orgs=["octo-org"])  # revalidate_after: 600 by default with allow-lists
    site.log_in()
    octocat = site.users[0]
    octocat.orgs = []
    octocat.teams = []
    calls = len(site.recorder.calls)
    for _ in range(3):
        clock.advance(199)
        assert site.whoami()["remote_user"] == "octocat"  # 597 s: not re-validated yet
    assert len(site.recorder.calls) == calls  # and no call to GitHub meanwhile
    clock.advance(4)
    response = site.app.get("/x", headers=BROWSER, status=403)
    assert "not allowed" in response.text
    assert session_cleared(response)
    assert site.whoami()["remote_user"] is None


def test_removal_found_at_revalidation_answers_api_clients_in_json(make_site: t.Any, clock: FakeClock) -> None:
    site = make_site(allowed_orgs=["octo-org"])
    site.log_in()
    site.users[0].orgs = ["another-org"]
    clock.advance(601)
    response = site.app.get("/x", headers=JSON, status=403)
    assert response.json["error"] == "not_allowed"
    assert session_cleared(response)


@pytest.mark.parametrize(
    ("headers", "status"), [pytest.param(BROWSER, 302, id="browser"), pytest.param(JSON, 401, id="api")]
)
def test_revoked_token_ends_the_session_at_revalidation(
    make_site: t.Any, clock: FakeClock, headers: dict[str, str], status: int
) -> None:
    site = make_site(allowed_orgs=["octo-org"], require_login=True)
    site.log_in()
    assert site.fake.revoke(site.access_token())  # e.g. the user revoked the app on GitHub
    clock.advance(599)
    assert site.whoami()["remote_user"] == "octocat"
    clock.advance(2)
    response = site.app.get("/x", headers=headers, status=status)
    assert session_cleared(response)
    if status == 302:
        assert response.location == "/auth/login?next=/x"
    else:
        assert response.json["error"] == "login_required"
    assert SESSION not in site.app.cookies


def test_profile_and_membership_changes_are_picked_up_at_revalidation(make_site: t.Any, clock: FakeClock) -> None:
    site = make_site(allowed_orgs=["octo-org"])
    site.log_in()
    octocat = site.users[0]
    octocat.name = "Mona Lisa Octocat"
    octocat.teams = ["octo-org/ops", "octo-org/sre"]
    clock.advance(599)
    assert site.whoami()["user"]["name"] == "Mona"
    clock.advance(2)
    response = site.app.get("/x")
    assert response.json["user"]["name"] == "Mona Lisa Octocat"
    assert response.json["groups"] == ["octo-org", "octo-org/ops", "octo-org/sre"]
    assert session_set(response)
    calls = len(site.recorder.calls)
    clock.advance(10)
    assert site.whoami()["user"]["name"] == "Mona Lisa Octocat"  # from the new cookie
    assert len(site.recorder.calls) == calls
    clock.advance(600)
    site.whoami()
    assert len(site.recorder.calls) > calls  # and re-validated again 600 s after that


@pytest.mark.parametrize("revalidate_after", [None, 0])
def test_revalidation_can_be_turned_off(make_site: t.Any, clock: FakeClock, revalidate_after: int | None) -> None:
    site = make_site(allowed_orgs=["octo-org"], revalidate_after=revalidate_after)
    site.log_in()
    site.users[0].orgs = []
    calls = len(site.recorder.calls)
    for _ in range(6):
        clock.advance(DAY)
        assert site.whoami()["remote_user"] == "octocat"
    assert len(site.recorder.calls) == calls


def test_auto_revalidation_without_allow_lists_means_never(make_site: t.Any, clock: FakeClock) -> None:
    site = make_site()
    site.log_in()
    site.users[0].name = "Renamed"
    calls = len(site.recorder.calls)
    for _ in range(6):
        clock.advance(DAY)
        assert site.whoami()["user"]["name"] == "Mona"
    assert len(site.recorder.calls) == calls


def test_explicit_revalidation_without_allow_lists_refreshes_the_profile(make_site: t.Any, clock: FakeClock) -> None:
    site = make_site(revalidate_after=3600)
    site.log_in()
    site.users[0].name = "Renamed"
    clock.advance(3601)
    body = site.whoami()
    assert body["user"]["name"] == "Renamed" and body["groups"] == []
    assert "/api/v3/user/orgs" not in site.recorder.api_calls()


# -- cached sessions end exactly like uncached ones ----------------------------------------------

CACHED = [pytest.param(False, id="uncached"), pytest.param(True, id="cached")]


@pytest.mark.parametrize("cached", CACHED)
def test_session_ends_at_max_age_cached_or_not(make_site: t.Any, clock: FakeClock, cached: bool) -> None:
    site = make_site(max_age=3600)
    site.log_in()
    if cached:
        assert site.whoami()["remote_user"] == "octocat"  # the decrypted session is cached now
        clock.advance(3599)
        assert site.whoami()["remote_user"] == "octocat"  # a cache hit
        clock.advance(2)
    else:
        clock.advance(3601)  # the cookie is opened for the first time after it expired
    response = site.app.get("/x")
    assert response.json["remote_user"] is None
    assert session_cleared(response)


@pytest.mark.parametrize("cached", CACHED)
@pytest.mark.parametrize("reason", ["revoked", "removed"])
def test_revalidation_ends_cached_sessions_too(make_site: t.Any, clock: FakeClock, cached: bool, reason: str) -> None:
    site = make_site(allowed_orgs=["octo-org"])
    site.log_in()
    token = site.fake.tokens_for("octocat")[-1]
    if cached:
        assert site.whoami()["remote_user"] == "octocat"
    if reason == "revoked":
        site.fake.revoke(token)
    else:
        site.users[0].orgs = []
    clock.advance(601)
    response = site.app.get("/x", headers=JSON, expect_errors=True)
    assert response.status_int == (200 if reason == "revoked" else 403)
    if reason == "revoked":  # not a protected path: served, anonymously
        assert response.json["remote_user"] is None
    assert session_cleared(response)
    assert site.whoami()["remote_user"] is None


# -- idle timeout ---------------------------------------------------------------------------------


def test_idle_timeout_slides_with_activity(make_site: t.Any, clock: FakeClock) -> None:
    site = make_site(idle_timeout=1000)
    site.log_in()
    for _ in range(18):  # 5400 s in all, never 1000 s apart
        clock.advance(300)
        assert site.whoami()["remote_user"] == "octocat"


def test_activity_is_recorded_at_most_every_quarter_of_the_idle_timeout(make_site: t.Any, clock: FakeClock) -> None:
    site = make_site(idle_timeout=1000)
    site.log_in()
    written = 0
    for _ in range(20):
        clock.advance(10)
        response = site.app.get("/x")
        assert response.json["remote_user"] == "octocat"
        written += session_set(response)
    assert written <= 1
    for _ in range(80):  # 1000 s more: a cookie written about every 250 s, never on every request
        clock.advance(10)
        written += session_set(site.app.get("/x"))
    assert 3 <= written <= 5
    assert len(site.recorder.calls) == 2  # login only: recording activity calls nobody


@pytest.mark.parametrize(("gap", "alive"), [(999, True), (1001, False)])
def test_a_gap_longer_than_idle_timeout_ends_the_session(
    make_site: t.Any, clock: FakeClock, gap: int, alive: bool
) -> None:
    site = make_site(idle_timeout=1000, require_login=True)
    site.log_in()
    for _ in range(4):  # some activity first
        clock.advance(260)
        site.app.get("/x")
    site.app.get("/x", headers=BROWSER)  # the last request, with the cookie it left
    clock.advance(gap)
    response = site.app.get("/x", headers=BROWSER, status=200 if alive else 302)
    if not alive:
        assert response.location == "/auth/login?next=/x"
        assert session_cleared(response)


def test_max_age_caps_a_session_kept_alive_by_activity(make_site: t.Any, clock: FakeClock) -> None:
    site = make_site(idle_timeout=1000, max_age=3000)
    site.log_in()
    for _ in range(9):  # up to 2700 s
        clock.advance(300)
        assert site.whoami()["remote_user"] == "octocat"
    clock.advance(300)  # 3000 s after the login
    response = site.app.get("/x")
    assert response.json["remote_user"] is None
    assert session_cleared(response)


# -- revoke_on_logout ----------------------------------------------------------------------------


def _revocations(site: Site) -> list[Call]:
    return [call for call in site.recorder.calls if call.method == "DELETE"]


def test_logout_revokes_the_token_at_github(make_site: t.Any) -> None:
    site = make_site(revoke_on_logout=True)
    site.log_in()
    token = site.access_token()
    response = site.app.post("/auth/logout", {"next": "/bye"}, status=303)
    assert response.location == "/bye"
    assert session_cleared(response)
    [call] = _revocations(site)
    assert call.path == "/api/v3/applications/%s/token" % site.fake.client_id
    credentials = "%s:%s" % (site.fake.client_id, site.fake.client_secret)
    assert call.authorization == "Basic " + base64.b64encode(credentials.encode()).decode()
    assert json.loads(call.body) == {"access_token": token}
    assert not site.works_at_github(token)
    assert site.whoami()["remote_user"] is None


@pytest.mark.parametrize("failure", ["already-revoked", "unreachable"])
def test_logout_succeeds_when_revocation_fails(
    make_site: t.Any, caplog: pytest.LogCaptureFixture, failure: str
) -> None:
    site = make_site(revoke_on_logout=True)
    site.log_in()
    token = site.access_token()
    if failure == "already-revoked":
        site.fake.revoke(token)  # GitHub answers 404
    else:
        down = site.take_down("/api/v3/applications/")
    response = site.app.post("/auth/logout", status=303)
    assert response.location == "/"
    assert session_cleared(response)
    assert any("could not revoke the token of octocat" in message for message in warnings_in(caplog))
    if failure == "unreachable":
        assert down.call_count == 1
    else:
        assert len(_revocations(site)) == 1
    assert site.whoami()["remote_user"] is None


def test_no_revocation_by_default(make_site: t.Any) -> None:
    site = make_site()
    site.log_in()
    token = site.access_token()
    calls = len(site.recorder.calls)
    site.app.post("/auth/logout", status=303)
    assert len(site.recorder.calls) == calls
    assert site.works_at_github(token)


def test_revocation_sends_the_refreshed_token(make_site: t.Any, clock: FakeClock) -> None:
    site = make_site(expiring_tokens=True, revoke_on_logout=True)
    site.log_in()
    clock.advance(LIFETIME - 100)
    token = site.access_token()  # refreshed
    site.app.post("/auth/logout", status=303)
    [call] = _revocations(site)
    assert json.loads(call.body) == {"access_token": token}
    assert not site.works_at_github(token)
