"""Opt-in pytest fixtures: ``pytest_plugins = ["oauth_middleware.testing"]`` in your conftest.py.

Opt-in on purpose (not a ``pytest11`` entry point): a plugin registered by entry point would load
into every pytest run of every project that has this package installed.
"""

from __future__ import annotations

import secrets
import typing as t

import pytest

from oauth_middleware.middleware import OAuthMiddleware

from .fake_github import FakeGitHub

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


@pytest.fixture
def fake_github() -> FakeGitHub:
    """A :class:`FakeGitHub` that approves at once as ``octocat`` (its default users: octocat, hubot)."""
    return FakeGitHub(auto_approve="octocat")


@pytest.fixture
def github_middleware(fake_github: FakeGitHub) -> t.Callable[..., OAuthMiddleware]:
    """A factory wrapping an app in :class:`OAuthMiddleware` wired to ``fake_github`` in-process.

    .. code-block:: python

        def test_login(github_middleware, fake_github):
            app = webtest.TestApp(github_middleware(my_app, require_login=True),
                                  extra_environ={"wsgi.url_scheme": "https"})
    """

    def make(app: WSGIApplication, **options: t.Any) -> OAuthMiddleware:
        options.setdefault("client_id", fake_github.client_id)
        options.setdefault("client_secret", fake_github.client_secret)
        options.setdefault("secret_key", secrets.token_urlsafe(32))
        options.setdefault("provider", fake_github.provider())
        middleware = OAuthMiddleware(app, **options)
        fake_github.mount(middleware.http)
        return middleware

    return make
