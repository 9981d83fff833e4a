"""Sphinx configuration: ``sphinx-build -W --keep-going -b html docs docs/_build/html``."""

from __future__ import annotations

import pathlib
import sys

HERE = pathlib.Path(__file__).parent
sys.path[:0] = [str(HERE.parent), str(HERE / "_ext")]

import oauth_middleware  # noqa: E402  (after the path is set)

project = "oauth-login-middleware"
author = "the oauth-login-middleware authors"
copyright = "the oauth-login-middleware authors, MIT licence"
version = release = oauth_middleware.__version__

extensions = ["sphinx.ext.autodoc", "myst_parser", "oauth_options"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True}

html_theme = "furo"
html_title = "oauth-login-middleware %s" % release
