"""A minimal Django project behind the middleware: docs/recipes.md includes its wsgi.py and auth.py."""

from __future__ import annotations
