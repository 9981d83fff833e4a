# myproject/auth.py (its own module: wsgi.py imports before Django is set up)
from __future__ import annotations

from django.contrib.auth.middleware import RemoteUserMiddleware


class GitHubIdMiddleware(RemoteUserMiddleware):
    header = "oauth_middleware.user_id"  # Django's username becomes the account id, e.g. "583231"
