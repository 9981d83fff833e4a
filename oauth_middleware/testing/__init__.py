"""Testing support: a fake GitHub, one-line logins for WebTest, Flask's and Django's test
clients, and opt-in pytest fixtures.

.. code-block:: python

    # conftest.py
    pytest_plugins = ["oauth_middleware.testing"]   # fixtures: fake_github, github_middleware

    # test_app.py
    from oauth_middleware.testing import login_as

    def test_dashboard(testapp):
        login_as(testapp, "octocat")
        assert testapp.get("/dashboard").status_int == 200

Run the fake as a server with ``python -m oauth_middleware.testing --port 8001``.
"""

from __future__ import annotations

from .clients import django_client as django_client
from .clients import django_login_as as django_login_as
from .clients import flask_login_as as flask_login_as
from .fake_github import FakeGitHub as FakeGitHub
from .fake_github import FakeUser as FakeUser
from .fake_github import WSGITransportAdapter as WSGITransportAdapter
from .fake_oidc import FakeOIDC as FakeOIDC
from .helpers import find_middleware as find_middleware
from .helpers import login_as as login_as
from .helpers import logout as logout
from .helpers import make_user as make_user
from .helpers import mount_under as mount_under
from .helpers import session_cookie as session_cookie

try:  # the fixtures need pytest; the fake and the helpers do not (the demo imports them)
    import pytest as _pytest  # noqa: F401
except ImportError:  # pragma: no cover - pytest not installed
    pass
else:
    from .fixtures import fake_github as fake_github
    from .fixtures import github_middleware as github_middleware

__all__ = [
    "FakeGitHub",
    "FakeUser",
    "WSGITransportAdapter",
    "django_client",
    "django_login_as",
    "find_middleware",
    "flask_login_as",
    "login_as",
    "logout",
    "make_user",
    "mount_under",
    "session_cookie",
]
