"""Regression tests from an adversarial review of the core (issue 5 hardening).

Each fixes a way GitHub, a client or an operator could make the middleware answer 500, leak a
secret into a repr, log an active user out during an outage, or accept configuration that only
fails at request time.
"""

from __future__ import annotations

import typing as t

import pytest
from support import TOKEN, log_in, start_login

from oauth_middleware import ConfigurationError
from oauth_middleware.flow import Flow
from oauth_middleware.session import Loaded, Session


# -- from review: test_renewal_failures.py ----------------------------------------
def stall_mid_body(site: t.Any) -> None:
    """Headers arrive, then the body read times out (what a slow GitHub does with stream=True):
    urllib3 raises ReadTimeoutError from response.raw.read(), which requests does not wrap."""
    site.faults.drip(site.fake.base_url + "/api/", b'{"login": "octocat"}', stall_after=0)


def test_mid_body_timeout_at_revalidation_keeps_the_session_and_does_not_leak_a_lock(make_site: t.Any, clock):
    site = make_site(allowed_orgs=["octo-org"])
    site.log_in()
    stall_mid_body(site)
    clock.advance(601)
    r = site.app.get("/x", expect_errors=True)
    assert r.status_int == 200, r.status
    assert not site.middleware.renewals._locks


def test_mid_body_timeout_at_the_callback_is_504_and_clears_the_flow_cookie(make_site: t.Any):
    site = make_site()
    stall_mid_body(site)
    from urllib.parse import urlsplit

    loc = urlsplit(str(site.app.get("/auth/login?next=/x", status=302).location))
    cb = urlsplit(str(site.github.get(loc.path + "?" + loc.query, status=302).location))
    r = site.app.get(cb.path + "?" + cb.query, expect_errors=True)
    assert r.status_int == 504, r.status
    assert any("Max-Age=0" in h and ".flow." in h for h in r.headers.getall("Set-Cookie"))


def test_github_outage_longer_than_idle_timeout_does_not_log_out_an_active_user(make_site: t.Any, clock):
    site = make_site(allowed_orgs=["octo-org"], idle_timeout=1800)  # revalidate_after auto = 600
    site.log_in()
    site.take_down("/api/")
    for _ in range(40):  # an active user, a request every minute, for 40 minutes
        clock.advance(61)
        r = site.app.get("/x")
        assert r.json["remote_user"] == "octocat", "logged out after %s s of outage" % (_ * 61)


# -- from review: test_config_gaps.py ----------------------------------------
def test_huge_max_age_is_refused_at_construction(make_site: t.Any):
    # webob computes Expires = now + max_age: anything past year 9999 raises OverflowError
    with pytest.raises(ConfigurationError):
        site = make_site(max_age=10**12)
        site.log_in()


def test_infinite_timeout_is_refused_at_construction(make_site: t.Any):
    with pytest.raises(ConfigurationError):
        make_site(timeout=float("inf"))


def test_non_ascii_login_path_is_refused_at_construction(make_site: t.Any):
    with pytest.raises(ConfigurationError):
        make_site(login_path="/auth/anmelden-\u00fc", require_login=True)


def test_non_latin1_client_secret_does_not_break_logout(make_site: t.Any):
    site = make_site(revoke_on_logout=True)
    site.log_in()
    site.middleware.client.client_secret = "s\u20ac"  # as if configured so (require_text accepts it)
    r = site.app.post("/auth/logout", expect_errors=True)
    assert r.status_int == 303, r.status


def test_non_ascii_client_secret_is_refused_at_construction():
    from oauth_middleware import OAuthMiddleware

    with pytest.raises(ConfigurationError):
        OAuthMiddleware(lambda e, s: [], client_id="id", client_secret="s\u20ac-secret", secret_key="k" * 32)


# -- from review: test_environ_copies.py ----------------------------------------
def test_changing_the_environ_token_scope_affects_nothing_else(make_app, github):
    seen = []

    def app(environ, start_response):
        token = environ["oauth_middleware.token"]
        seen.append(list(token["scope"]))
        token["scope"].append("admin:org")  # an app bug, or a helper that "adds" a scope
        environ["oauth_middleware.user"]["login"] = "x"
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    testapp = make_app(app)
    log_in(testapp)
    testapp.get("/a")
    testapp.get("/b")
    assert seen[0] == seen[1], seen  # the first request's change must not leak


# -- from review: test_junk_flow_cookie.py ----------------------------------------
@pytest.mark.parametrize(
    "cookie",
    [
        "oauth_session.flow.x y=1",
        "oauth_session.flow.a,b=1",
        "__Host-oauth_session.flow.a,b=1",
        "__Host-oauth_session.flow.(x)=1",
    ],
)
def test_junk_flow_cookie_names_do_not_break_login_or_logout(make_app, cookie):
    testapp = make_app()
    assert testapp.post("/auth/logout", headers={"Cookie": cookie}, expect_errors=True).status_int == 303
    assert testapp.get("/auth/login", headers={"Cookie": cookie}, expect_errors=True).status_int == 302


# -- from review: test_repr.py ----------------------------------------
def test_repr_shows_no_token_state_or_verifier():
    s = Session.new(user={"login": "o"}, token={"access_token": "gho_x", "refresh_token": "ghr_y"}, username="o", now=0)
    f = Flow.start(next_url="/", redirect_uri="https://a/cb", now=0)
    text = repr(s) + repr(Loaded(s, "sealed", 0.0)) + repr(f)
    for secret in ("gho_x", "ghr_y", "sealed", f.state, f.verifier):
        assert secret not in text


# -- from review: test_token_lifetime_overflow.py ----------------------------------------
@pytest.mark.parametrize("lifetime", ["Infinity", "1e999", "-Infinity"])
def test_absurd_expires_in_is_502(make_app, github, lifetime):
    testapp = make_app()
    body = '{"access_token": "%s", "token_type": "bearer", "scope": "read:user", "expires_in": %s}' % (TOKEN, lifetime)
    github.token_body = (200, {"Content-Type": "application/json"}, body)
    state = start_login(testapp)["state"]
    r = testapp.get("/auth/callback", {"code": "c0de", "state": state}, expect_errors=True)
    assert r.status_int == 502, r.status
