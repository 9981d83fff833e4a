# myproject/wsgi.py
from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from oauth_middleware import OAuthMiddleware

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "myproject.settings")

# GITHUB_OAUTH_CLIENT_ID, GITHUB_OAUTH_CLIENT_SECRET and OAUTH_MIDDLEWARE_SECRET_KEY come from the environment
application = OAuthMiddleware.from_env(get_wsgi_application(), require_login=True, public_paths=["/static", "/healthz"])
