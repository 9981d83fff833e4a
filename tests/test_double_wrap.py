"""Wrapping an app twice is refused with a message that says what happened and what to pass."""

from __future__ import annotations

import logging
import typing as t

import flask
import pytest
import webtest

from oauth_middleware import ConfigurationError, OAuthMiddleware
from oauth_middleware.testing import FakeGitHub, find_middleware

SECRET = "double-wrap-test-key-3Jk8Xq1Lm5Vt9Rw2Zp7Cd4Nh6"
OPTIONS: dict[str, t.Any] = {"client_id": "id", "client_secret": "secret", "secret_key": SECRET}


def quick_start_app(**options: t.Any) -> flask.Flask:
    """A Flask app wrapped the README's Quick start way."""
    app = flask.Flask(__name__)

    @app.route("/")
    def index() -> str:
        return "hello %s" % flask.request.environ.get("REMOTE_USER")

    app.wsgi_app = OAuthMiddleware(app.wsgi_app, **OPTIONS, require_login=True, **options)  # type: ignore[method-assign]
    return app


def test_wrapping_a_flask_app_whose_wsgi_app_is_wrapped_is_an_error() -> None:
    app = quick_start_app()
    with pytest.raises(ConfigurationError) as caught:
        OAuthMiddleware(app, **OPTIONS)
    message = str(caught.value)
    assert "already wrapped in an OAuthMiddleware (found at app.wsgi_app)" in message
    assert "401" in message  # what the user saw
    assert "app.wsgi_app.app" in message and "find_middleware(app)" in message  # what to pass instead


def test_wrapping_a_middleware_again_is_an_error() -> None:
    inner = OAuthMiddleware(flask.Flask(__name__), **OPTIONS)
    with pytest.raises(ConfigurationError, match=r"found at app\) with the same cookie name 'oauth_session'"):
        OAuthMiddleware(inner, **OPTIONS)


def test_the_fixture_factory_refuses_the_wrapped_flask_app_too(
    github_middleware: t.Callable[..., OAuthMiddleware],
) -> None:
    # the natural guess from "Testing your own app": pass the Flask app that is already wrapped
    with pytest.raises(ConfigurationError, match="wrapping it twice"):
        github_middleware(quick_start_app())


def test_the_message_names_the_right_object_to_pass() -> None:
    app = quick_start_app()
    fake = FakeGitHub(auto_approve="octocat")
    # what the message says to pass: the app the existing middleware wraps
    unwrapped = app.wsgi_app.app  # type: ignore[attr-defined]
    middleware = OAuthMiddleware(
        unwrapped,
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        secret_key=SECRET,
        provider=fake.provider(),
        require_login=True,
    )
    fake.mount(middleware.http)
    browser = webtest.TestApp(middleware, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "app.test"})
    authorize = browser.get("/auth/login?next=/").headers["Location"]
    callback = webtest.TestApp(fake).get(authorize[len(fake.base_url) :]).headers["Location"]
    browser.get(callback[len("https://app.test") :], status=302)
    assert browser.get("/").text == "hello octocat"
    assert find_middleware(app) is not middleware


def test_a_second_middleware_with_its_own_cookie_name_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    app = quick_start_app()
    with caplog.at_level(logging.WARNING, "oauth_middleware"), pytest.warns(UserWarning, match="inner one removes"):
        OAuthMiddleware(app, **OPTIONS, cookie_name="other_session", login_path="/other/login")
    assert "at app.wsgi_app, cookie name 'oauth_session'" in caplog.text


def test_an_unrelated_wrapper_chain_is_fine() -> None:
    app = flask.Flask(__name__)
    OAuthMiddleware(app, **OPTIONS)  # no warning (pytest turns warnings into errors)
    OAuthMiddleware(app.wsgi_app, **OPTIONS)
