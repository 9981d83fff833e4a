"""api_session(environ): the provider's API called as the request's user, end to end through the
middleware and the fake GitHub (a real Flask app in front)."""

from __future__ import annotations

import dataclasses
import logging
import pathlib
import re
import typing as t

import flask
import pytest
import requests
import webtest

from oauth_middleware import (
    GitHub,
    LoginRequired,
    OAuthMiddleware,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    api_session,
)
from oauth_middleware.api import REDACTED, APISession, ForeignURLError
from oauth_middleware.errors import TokenRevoked
from oauth_middleware.session import Session
from oauth_middleware.testing import FakeGitHub, WSGITransportAdapter, login_as

SECRET_KEY = "api-session-test-key-7Hq2Vx9Lm4Rt8Kd3Wp6Zc1Nf5"
HOST = "app.test"
LIFETIME = 28800  # GitHub's expiring user tokens: 8 hours


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """A WSGI wrapper that records what reached the wrapped app (method, path, headers)."""

    def __init__(self, app: t.Any, set_cookie: str | None = None) -> None:
        self.app = app
        self.set_cookie = set_cookie
        self.requests: list[dict[str, t.Any]] = []

    def __call__(self, environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        self.requests.append(
            {
                "method": environ["REQUEST_METHOD"],
                "path": environ["PATH_INFO"],
                "host": environ.get("HTTP_HOST"),
                "authorization": environ.get("HTTP_AUTHORIZATION"),
                "accept": environ.get("HTTP_ACCEPT"),
                "api_version": environ.get("HTTP_X_GITHUB_API_VERSION"),
                "cookie": environ.get("HTTP_COOKIE"),
            }
        )

        def start(status: str, headers: list[tuple[str, str]], exc_info: t.Any = None) -> t.Any:
            if self.set_cookie:
                headers = headers + [("Set-Cookie", self.set_cookie)]
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


class TimeoutRecorder(WSGITransportAdapter):
    def __init__(self, app: t.Any) -> None:
        super().__init__(app)
        self.timeouts: list[t.Any] = []

    def send(self, request: requests.PreparedRequest, *args: t.Any, **kwargs: t.Any) -> requests.Response:
        self.timeouts.append(kwargs.get("timeout"))
        return super().send(request, *args, **kwargs)


@dataclasses.dataclass
class Site:
    fake: FakeGitHub
    middleware: OAuthMiddleware
    recorder: Recorder
    adapter: TimeoutRecorder
    browser: webtest.TestApp
    seen: list[t.Any]

    def log_in(self) -> None:
        """A whole login through the fake, as a browser does it."""
        authorize = self.browser.get("/auth/login?next=/").headers["Location"]
        callback = webtest.TestApp(self.fake).get(authorize[len(self.fake.base_url) :]).headers["Location"]
        self.browser.get(callback[len("https://" + HOST) :], status=302)

    def api_calls(self) -> list[dict[str, t.Any]]:
        return [r for r in self.recorder.requests if r["path"] != "/login/oauth/access_token"]


def flask_app(seen: list[t.Any]) -> flask.Flask:
    app = flask.Flask(__name__)

    @app.route("/me")
    def me() -> t.Any:
        github = api_session(flask.request.environ)
        assert api_session(flask.request.environ) is github  # built once, then reused in the request
        seen.append(github)
        return {"login": github.get("/user").json()["login"], "again": github.get("user").json()["login"]}

    @app.route("/call")
    def call() -> t.Any:
        github = api_session(flask.request.environ)
        try:
            response = github.get(flask.request.args["url"])
        except Exception as exc:
            seen.append(exc)
            return {"error": type(exc).__name__}, 500
        seen.append(response)
        return {"status": response.status_code}

    @app.route("/limited")
    def limited() -> t.Any:
        try:
            api_session(flask.request.environ).get("/user")
        except RateLimited as exc:
            seen.append(exc)
            return {"retry_after": exc.retry_after, "reset_at": exc.reset_at}, 503
        return {}

    @app.route("/anonymous")
    def anonymous() -> t.Any:
        try:
            api_session(flask.request.environ)
        except LoginRequired as exc:
            return {"error": str(exc)}, 401
        return {}

    @app.route("/nothing")
    def nothing() -> t.Any:
        return {"token": flask.request.environ["oauth_middleware.token"]["access_token"]}

    return app


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_site(clock: Clock) -> t.Callable[..., Site]:
    def make(*, expiring_tokens: bool = False, set_cookie: str | None = None, **options: t.Any) -> Site:
        fake = FakeGitHub(auto_approve="octocat", expiring_tokens=expiring_tokens, clock=clock)
        seen: list[t.Any] = []
        app = flask_app(seen)
        options.setdefault("provider", fake.provider())
        app.wsgi_app = OAuthMiddleware(  # type: ignore[method-assign]
            app.wsgi_app,
            client_id=fake.client_id,
            client_secret=fake.client_secret,
            secret_key=SECRET_KEY,
            clock=clock,
            **options,
        )
        middleware: OAuthMiddleware = app.wsgi_app  # type: ignore[assignment]
        recorder = Recorder(fake, set_cookie=set_cookie)
        adapter = TimeoutRecorder(recorder)
        middleware.http.mount(fake.base_url + "/", adapter)
        browser = webtest.TestApp(app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": HOST})
        return Site(fake, middleware, recorder, adapter, browser, seen)

    return make


def test_a_flask_view_calls_the_api_as_the_logged_in_user(make_site: t.Callable[..., Site]) -> None:
    site = make_site(timeout=(2.5, 7.0))
    site.log_in()
    token = site.fake.tokens_for("octocat")[0]
    assert site.browser.get("/me").json == {"login": "octocat", "again": "octocat"}
    calls = site.api_calls()[-2:]
    for call in calls:
        assert call["authorization"] == "Bearer " + token
        assert call["accept"] == "application/vnd.github+json"
        assert call["api_version"] == "2022-11-28"
        assert call["path"] == "/api/v3/user"  # the provider's API base (here Enterprise-shaped)
    assert site.adapter.timeouts[-2:] == [(2.5, 7.0), (2.5, 7.0)]
    assert site.seen[0].base_url == site.fake.base_url + "/api/v3/"


def test_github_com_paths_resolve_against_api_github_com(make_site: t.Callable[..., Site]) -> None:
    site = make_site(provider=GitHub())
    site.middleware.http.mount("https://api.github.com/", WSGITransportAdapter(site.recorder))
    token = site.fake.issue_token("octocat", ["read:user"])
    login_as(site.browser, "octocat", token={"access_token": token, "token_type": "bearer", "scope": ["read:user"]})
    assert site.browser.get("/me").json["login"] == "octocat"
    assert site.seen[0].base_url == "https://api.github.com/"
    assert [(c["host"], c["path"]) for c in site.api_calls()] == [("api.github.com", "/user")] * 2


def test_a_call_passing_timeout_none_still_gets_the_middleware_timeout(make_site: t.Callable[..., Site]) -> None:
    site = make_site(timeout=3.0)
    site.log_in()
    site.browser.get("/me")
    api = site.seen[-1]
    assert isinstance(api, APISession)
    # the object stays usable within the test: a call with timeout=None keeps the bound
    api.get("/user", timeout=None)
    api.get("/user", timeout=1.0)
    assert site.adapter.timeouts[-2:] == [3.0, 1.0]


def test_a_header_given_to_the_call_wins_but_the_token_is_always_the_users(make_site: t.Callable[..., Site]) -> None:
    site = make_site()
    site.log_in()
    site.browser.get("/me")
    api = site.seen[-1]
    api.get("/user", headers={"Accept": "application/vnd.github.raw+json", "Authorization": "Bearer forged"})
    call = site.api_calls()[-1]
    assert call["accept"] == "application/vnd.github.raw+json"
    assert call["authorization"] == "Bearer " + site.fake.tokens_for("octocat")[0]


def test_the_token_is_redacted_from_the_returned_response(make_site: t.Callable[..., Site]) -> None:
    site = make_site()
    site.log_in()
    site.browser.get("/call?url=/user")
    response = site.seen[-1]
    assert response.status_code == 200
    assert response.request.headers["Authorization"] == REDACTED


def test_cookies_set_by_the_api_are_never_sent_back(make_site: t.Callable[..., Site]) -> None:
    site = make_site(set_cookie="tracking=user-octocat; Path=/; Secure")
    site.log_in()
    site.browser.get("/me")  # two calls in one request
    site.browser.get("/me")  # and another request
    cookies = [c["cookie"] for c in site.api_calls()]
    assert len(cookies) == 5 and cookies == [None] * 5  # the login's own /user call, then four of the app's


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://evil.test/user", id="other-host"),
        pytest.param("//evil.test/user", id="scheme-relative"),
        pytest.param("https://github.test.evil.test/api/v3/user", id="suffix-host"),
        pytest.param("https://github.test@evil.test/api/v3/user", id="userinfo"),
        pytest.param("http://github.test/api/v3/user", id="plain-http"),
        pytest.param("https://github.test:8443/api/v3/user", id="other-port"),
        pytest.param("https://github.test/login/oauth/access_token", id="same-host-outside-the-api"),
        pytest.param("https://github.test/api/v3/../../login/oauth/access_token", id="dot-segments"),
        pytest.param(" https://evil.test/user", id="leading-space"),
        pytest.param("https:\\\\evil.test/user", id="backslashes"),
    ],
)
def test_a_url_outside_the_api_is_refused_before_anything_is_sent(make_site: t.Callable[..., Site], url: str) -> None:
    site = make_site()
    evil = Recorder(FakeGitHub())
    site.middleware.http.mount("https://evil.test/", WSGITransportAdapter(evil))
    site.middleware.http.mount("https://github.test.evil.test/", WSGITransportAdapter(evil))
    site.log_in()
    before = len(site.recorder.requests)
    site.browser.get("/call", {"url": url}, status=500)
    error = site.seen[-1]
    assert isinstance(error, ForeignURLError) and isinstance(error, ValueError)
    assert "only calls https://github.test/api/v3/" in str(error)
    assert site.fake.tokens_for("octocat")[0] not in str(error)
    assert evil.requests == [] and len(site.recorder.requests) == before


def test_an_absolute_url_under_the_api_base_is_fine(make_site: t.Callable[..., Site]) -> None:
    site = make_site()
    site.log_in()
    assert site.browser.get("/call", {"url": "https://GITHUB.test/api/v3/user"}).json == {"status": 200}


def test_a_redirect_to_another_host_is_followed_without_the_token(make_site: t.Callable[..., Site]) -> None:
    site = make_site()

    def empty(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]

    elsewhere = Recorder(empty)

    def redirecting(environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        if environ["PATH_INFO"] == "/api/v3/download":
            start_response("302 Found", [("Location", "https://codeload.test/archive.zip"), ("Content-Length", "0")])
            return [b""]
        return site.recorder(environ, start_response)

    site.middleware.http.mount(site.fake.base_url + "/", WSGITransportAdapter(redirecting))
    site.middleware.http.mount("https://codeload.test/", WSGITransportAdapter(elsewhere))
    site.log_in()
    assert site.browser.get("/call?url=/download").json == {"status": 200}
    assert elsewhere.requests and elsewhere.requests[0]["authorization"] is None


def test_a_used_up_rate_limit_raises_rate_limited_with_the_reset_time(
    make_site: t.Callable[..., Site], clock: Clock
) -> None:
    site = make_site()
    site.log_in()
    site.fake.use_up_rate_limit("octocat")
    body = site.browser.get("/limited", status=503).json
    assert body == {"retry_after": 3600, "reset_at": int(clock.now) + 3600}
    error = site.seen[-1]
    assert isinstance(error, ProviderError) and error.error == "rate_limited"
    assert ("Retry-After", "3600") in error.headers
    token = site.fake.tokens_for("octocat")[0]
    assert token not in repr(vars(error)) and token not in str(error)
    assert error.__cause__ is None and error.__context__ is None


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        pytest.param(
            403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1800000060"}, (60, 1800000060), id="primary"
        ),
        pytest.param(429, {"retry-after": "30"}, (30, None), id="secondary-429"),
        pytest.param(403, {"retry-after": "60", "x-ratelimit-remaining": "4000"}, (60, None), id="secondary-403"),
        pytest.param(403, {"x-ratelimit-remaining": "0"}, (None, None), id="no-times"),
        pytest.param(403, {"x-ratelimit-remaining": "12"}, None, id="plain-forbidden"),
        pytest.param(404, {"x-ratelimit-remaining": "0"}, None, id="not-a-limit-status"),
        pytest.param(429, {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, (None, None), id="http-date"),
    ],
)
def test_rate_limit_answers_are_recognised(
    status: int, headers: dict[str, str], expected: tuple[int | None, int | None] | None
) -> None:
    limited = RateLimited.from_response(status, headers, now=1_800_000_000.0)
    assert (None if limited is None else (limited.retry_after, limited.reset_at)) == expected


def test_an_anonymous_request_gets_a_clear_error(make_site: t.Callable[..., Site]) -> None:
    site = make_site()
    message = site.browser.get("/anonymous", status=401).json["error"]
    assert "api_session() needs a logged-in user" in message and "require_login" in message
    with pytest.raises(LoginRequired, match="not wrapped in OAuthMiddleware"):
        api_session({"REMOTE_USER": "admin"})  # an unwrapped app: nothing to call the API with


def test_an_upstream_cannot_plant_an_api_session(make_site: t.Callable[..., Site]) -> None:
    site = make_site()
    session = Session.new(user={"login": "admin"}, token={"access_token": "x"}, username="admin", now=0)
    planted = APISession(site.middleware, session, "v", secure=True, present={}, environ_token={})
    response = site.browser.get("/anonymous", extra_environ={"oauth_middleware.api": planted}, status=401)
    assert "needs a logged-in user" in response.json["error"]


def test_a_request_that_does_not_call_the_api_builds_no_http_session(make_site: t.Callable[..., Site]) -> None:
    site = make_site()
    site.log_in()
    api_calls = len(site.api_calls())
    site.browser.get("/nothing")
    assert len(site.api_calls()) == api_calls
    site.browser.get("/me")
    assert site.seen[-1]._http is not None  # built on first use only


def test_connection_failures_are_mapped_without_the_request(make_site: t.Callable[..., Site]) -> None:
    site = make_site()

    class Down(requests.adapters.BaseAdapter):
        def __init__(self, error: type[Exception]) -> None:
            super().__init__()
            self.error = error

        def send(self, request: requests.PreparedRequest, *args: t.Any, **kwargs: t.Any) -> requests.Response:
            raise self.error("boom", request=request)  # type: ignore[call-arg]

        def close(self) -> None:
            pass

    site.log_in()
    token = site.fake.tokens_for("octocat")[0]
    for error, expected in ((requests.ConnectionError, ProviderError), (requests.ReadTimeout, ProviderTimeout)):
        site.middleware.http.mount(site.fake.base_url + "/api/", Down(error))
        site.browser.get("/call?url=/user", status=500)
        raised = site.seen[-1]
        assert type(raised) is expected
        assert raised.__cause__ is None and raised.__suppress_context__
        assert token not in str(raised) and token not in repr(vars(raised))


# -- expiring tokens ---------------------------------------------------------------------------


def test_an_expiring_token_due_mid_request_is_refreshed_and_reaches_the_cookie(
    make_site: t.Callable[..., Site], clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    site = make_site(expiring_tokens=True)
    site.log_in()
    old_token = site.fake.tokens_for("octocat")[0]
    token_calls = site.fake.token_requests

    @site.browser.app.route("/slow")  # type: ignore[misc]
    def slow() -> t.Any:
        environ = flask.request.environ
        clock.now += LIFETIME  # the token expired while this request was running
        github = api_session(environ)
        first = github.get("/user").json()["login"]
        second = github.get("/user").json()["login"]
        return {"logins": [first, second], "environ_token": environ["oauth_middleware.token"]["access_token"]}

    with caplog.at_level(logging.INFO, "oauth_middleware"):
        response = site.browser.get("/slow")
    new_token = site.fake.tokens_for("octocat")[-1]
    assert new_token != old_token
    assert site.fake.token_requests == token_calls + 1  # one refresh for both calls
    assert response.json == {"logins": ["octocat", "octocat"], "environ_token": new_token}
    assert [c["authorization"] for c in site.api_calls()[-2:]] == ["Bearer " + new_token] * 2
    assert any(h.startswith("__Host-oauth_session=") for h in response.headers.getall("Set-Cookie"))
    assert response.headers["Cache-Control"] == "no-store"
    assert "refreshed the token of octocat" in caplog.text
    # the browser now holds the new session: the next request needs no refresh and uses the new token
    assert site.browser.get("/me").json["login"] == "octocat"
    assert site.fake.token_requests == token_calls + 1
    assert site.api_calls()[-1]["authorization"] == "Bearer " + new_token


def test_a_refused_refresh_raises_token_revoked_and_ends_the_session(
    make_site: t.Callable[..., Site], clock: Clock
) -> None:
    site = make_site(expiring_tokens=True)
    site.log_in()
    for refresh_token in site.fake.refresh_tokens:  # spent elsewhere: GitHub's refresh tokens are single use
        params = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": site.fake.client_id,
            "client_secret": site.fake.client_secret,
        }
        webtest.TestApp(site.fake).post("/login/oauth/access_token", params)

    @site.browser.app.route("/slow")  # type: ignore[misc]
    def slow() -> t.Any:
        clock.now += LIFETIME
        try:
            api_session(flask.request.environ).get("/user")
        except TokenRevoked:
            return {"revoked": True}
        return {"revoked": False}

    response = site.browser.get("/slow")
    assert response.json == {"revoked": True}
    assert any(h.startswith("__Host-oauth_session=;") for h in response.headers.getall("Set-Cookie"))
    site.browser.get("/anonymous", status=401)


def test_a_classic_token_is_never_refreshed_and_its_responses_are_untouched(
    make_site: t.Callable[..., Site], clock: Clock
) -> None:
    site = make_site()
    site.log_in()
    clock.now += 30 * 86400 // 10
    response = site.browser.get("/me")
    assert "Set-Cookie" not in response.headers


# -- the documented example (docs/reference.md), as written ----------------------------------------------------------


def readme_example() -> str:
    readme = (pathlib.Path(__file__).parent.parent / "docs" / "reference.md").read_text()
    section = readme.split("## Calling GitHub's API as the user", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.+?)```", section, flags=re.DOTALL)
    assert code is not None
    return code.group(1)


def test_the_readme_example_runs_as_written(clock: Clock) -> None:
    fake = FakeGitHub(auto_approve="octocat")
    placeholders = "client_id=..., client_secret=..., secret_key=...,"
    code = readme_example()
    assert placeholders in code
    credentials = "client_id=CLIENT_ID, client_secret=CLIENT_SECRET, secret_key=KEY, provider=FAKE,"
    namespace: dict[str, t.Any] = {
        "__name__": "readme_example",
        "CLIENT_ID": fake.client_id,
        "CLIENT_SECRET": fake.client_secret,
        "KEY": SECRET_KEY,
        "FAKE": fake.provider(),
    }
    exec(code.replace(placeholders, credentials), namespace)  # verbatim but for the credentials it leaves out
    app = namespace["app"]
    fake.mount(app.wsgi_app.http)
    browser = webtest.TestApp(app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": HOST})
    login_as(browser, "octocat", token={"access_token": fake.issue_token("octocat"), "token_type": "bearer"})
    assert browser.get("/whoami").json == {"login": "octocat", "public_repos": 2}
    fake.use_up_rate_limit("octocat")
    assert browser.get("/whoami", status=503).json == {"error": "GitHub asks us to wait 3600 seconds"}


def test_a_refresh_after_the_response_started_reaches_the_browser_on_its_next_request(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeGitHub(auto_approve="octocat", expiring_tokens=True, clock=clock)
    logins: list[str] = []

    def streaming(environ: dict[str, t.Any], start_response: t.Any) -> t.Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        if environ.get("PATH_INFO") == "/stream":
            clock.now += LIFETIME  # the token expires while the body is being produced
            logins.append(api_session(environ).get("/user").json()["login"])
        yield b"done"

    middleware = OAuthMiddleware(
        streaming,
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        secret_key=SECRET_KEY,
        provider=fake.provider(),
        clock=clock,
    )
    fake.mount(middleware.http)
    browser = webtest.TestApp(middleware, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": HOST})
    authorize = browser.get("/auth/login").headers["Location"]
    callback = webtest.TestApp(fake).get(authorize[len(fake.base_url) :]).headers["Location"]
    browser.get(callback[len("https://" + HOST) :], status=302)
    with caplog.at_level(logging.WARNING, "oauth_middleware"):
        response = browser.get("/stream")
    assert logins == ["octocat"] and "Set-Cookie" not in response.headers  # too late for this response
    assert "after the response had started" in caplog.text
    # the old cookie's next request (within the renewal's result window) gets the new session
    clock.now += 60
    following = browser.get("/")
    assert any(h.startswith("__Host-oauth_session=") for h in following.headers.getall("Set-Cookie"))
    assert fake.token_requests == 2  # the login's exchange and one refresh, not a second one


@pytest.mark.parametrize("expired", [False, True], ids=["token-still-valid", "token-expired"])
def test_a_store_outage_during_an_api_refresh_is_never_an_unexplained_error(
    make_site: t.Callable[..., Site], clock: Clock, expired: bool
) -> None:
    """Found by the independent review: StoreUnavailable escaped into the app (a 500). A token
    still valid is used as it is; an expired one raises StoreDown (503, Retry-After), which the
    app can answer with, as it answers RateLimited."""
    from support.stores import DownStore

    from oauth_middleware.errors import StoreDown

    store = DownStore(clock=clock)
    site = make_site(expiring_tokens=True, store=store)
    site.log_in()

    @site.browser.app.route("/during-outage")  # type: ignore[misc]
    def during_outage() -> t.Any:
        environ = flask.request.environ
        clock.now += LIFETIME if expired else LIFETIME - 60  # due for a refresh (and maybe past it)
        store.down = True
        try:
            return {"login": api_session(environ).get("/user").json()["login"]}
        except StoreDown as exc:
            return {"error": exc.error}, exc.status, dict(exc.headers)

    response = site.browser.get("/during-outage", expect_errors=True)
    if expired:
        assert (response.status_int, response.json["error"]) == (503, "temporarily_unavailable")
        assert response.headers["Retry-After"] == "5"
    else:
        assert response.json == {"login": "octocat"}
