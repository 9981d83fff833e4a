"""Logins for Flask's test client and Django's django.test.Client, on a real Flask app and a real
minimal Django project (tests/myproject, whose wsgi.py and auth.py the docs include)."""

from __future__ import annotations

import importlib
import secrets
import typing as t

import flask
import pytest

from oauth_middleware import OAuthMiddleware
from oauth_middleware.testing import django_client, django_login_as, flask_login_as, session_cookie

SECRET = secrets.token_urlsafe(32)


def make_flask_app(**options: t.Any) -> flask.Flask:
    app = flask.Flask(__name__)

    @app.route("/dashboard")
    def dashboard() -> t.Any:
        return {
            "login": flask.request.environ["REMOTE_USER"],
            "name": flask.request.environ["oauth_middleware.user"]["name"],
        }

    @app.post("/notes")
    def notes() -> t.Any:
        return {"groups": flask.request.environ["oauth_middleware.groups"], "text": flask.request.form["text"]}

    app.wsgi_app = OAuthMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, client_id="id", client_secret="secret", secret_key=SECRET, require_login=True, **options
    )
    return app


def test_flask_login_as_logs_the_flask_test_client_in() -> None:
    client = make_flask_app().test_client()
    assert client.get("/dashboard").status_code == 401
    profile = flask_login_as(client, {"login": "octocat", "name": "The Octocat"})
    assert profile["login"] == "octocat"
    assert client.get("/dashboard").json == {"login": "octocat", "name": "The Octocat"}
    answer = client.post("/notes", data={"text": "hi"})
    assert answer.status_code == 200 and answer.json == {"groups": [], "text": "hi"}


def test_flask_login_as_passes_groups_and_works_with_secure_true() -> None:
    client = make_flask_app(secure=True).test_client()
    flask_login_as(client, "hubot", groups=["octo-org"])
    assert client.post("/notes", data={"text": "x"}).json == {"groups": ["octo-org"], "text": "x"}


def test_flask_login_as_secure_true_for_https_requests() -> None:
    client = make_flask_app().test_client()
    flask_login_as(client, "octocat", secure=True)
    assert client.get("/dashboard", base_url="https://localhost").status_code == 200
    assert client.get("/dashboard").status_code == 401  # a __Host- cookie is not the session over http


def test_session_cookie_default_is_for_https_so_flask_needs_the_helper() -> None:
    # the newcomer's trap the helper exists for: session_cookie() names the cookie __Host-... (https)
    app = make_flask_app()
    client = app.test_client()
    for name, value in session_cookie(app.wsgi_app, "octocat").items():  # type: ignore[arg-type]
        client.set_cookie(name, value)
    assert client.get("/dashboard").status_code == 401


@pytest.fixture(scope="module")
def django_application() -> t.Iterator[t.Any]:
    pytest.importorskip("django")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GITHUB_OAUTH_CLIENT_ID", "Iv1.django-test")
        patch.setenv("GITHUB_OAUTH_CLIENT_SECRET", "django-test-secret")
        patch.setenv("OAUTH_MIDDLEWARE_SECRET_KEY", secrets.token_urlsafe(32))
        patch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
        wsgi = importlib.import_module("myproject.wsgi")
        importlib.import_module("django.core.management").call_command("migrate", verbosity=0)
        yield wsgi.application


def test_wsgi_py_sets_django_settings_module(django_application: t.Any) -> None:
    import os

    assert os.environ["DJANGO_SETTINGS_MODULE"] == "myproject.settings"
    assert isinstance(django_application, OAuthMiddleware)


def test_django_client_goes_through_the_middleware(django_application: t.Any) -> None:
    client = django_client(django_application)
    assert client.get("/healthz").content == b"ok"
    refused = client.get("/me/")
    assert refused.status_code == 401 and refused.json()["error"] == "login_required"
    browser = client.get("/me/?x=1", headers={"accept": "text/html"})
    assert browser.status_code == 302 and browser["Location"] == "/auth/login?next=/me/%3Fx%3D1"


def test_django_login_as_makes_a_django_user_keyed_on_the_account_id(django_application: t.Any) -> None:
    client = django_client(django_application)
    profile = django_login_as(client, {"login": "octocat", "id": 583231, "name": "The Octocat"})
    me = client.get("/me/").json()
    assert me == {"username": "583231", "authenticated": True, "login": "octocat", "profile": profile}
    # POSTs work as usual with the test client (Django's CSRF exemption for tests is kept)
    assert client.post("/echo/", {"text": "hello"}).json() == {"posted": "hello"}


def test_django_logout_through_the_middleware_clears_the_session(django_application: t.Any) -> None:
    client = django_client(django_application)
    django_login_as(client, "hubot")
    assert client.get("/me/").status_code == 200
    answer = client.post("/auth/logout")
    assert answer.status_code == 303
    assert client.get("/me/").status_code == 401


def test_django_login_as_refuses_a_plain_client(django_application: t.Any) -> None:
    from django.test import Client

    with pytest.raises(TypeError, match=r"django_client\(application\)"):
        django_login_as(Client(), "octocat")
