"""Test support: the helpers, constants and doubles the test modules share.

Test modules import from here (``from support import log_in``), never from one another; the
fixtures built on these live in conftest.py. ``tests/test_suite_layout.py`` enforces it.
"""

from __future__ import annotations

import importlib
import typing as t

from .common import (
    CLIENT_ID,
    CLIENT_SECRET,
    DATA,
    EXAMPLES,
    HTTPS,
    SECRET_KEY,
    TOKEN,
    TOKEN_URL,
    USER_URL,
    FakeClock,
    cookie_names,
    downstream,
    example,
    log_in,
    start_login,
)

if t.TYPE_CHECKING:
    from .github import GitHubDouble, GitHubMock, route_requests
    from .sites import Call, Recorder, Site, session_cleared, session_set, site_factory

# conftest.py imports this package before pytest loads oauth_middleware.testing as a plugin
# (``pytest_plugins``); had these modules imported it already, pytest could not rewrite its
# asserts (a warning, an error here). So they load on first use.
_LAZY = {
    "GitHubDouble": "github",
    "GitHubMock": "github",
    "route_requests": "github",
    "Call": "sites",
    "Recorder": "sites",
    "Site": "sites",
    "session_cleared": "sites",
    "session_set": "sites",
    "site_factory": "sites",
}


def __getattr__(name: str) -> t.Any:
    if name in _LAZY:
        return getattr(importlib.import_module("." + _LAZY[name], __name__), name)
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


__all__ = [
    "CLIENT_ID",
    "CLIENT_SECRET",
    "DATA",
    "EXAMPLES",
    "HTTPS",
    "SECRET_KEY",
    "TOKEN",
    "TOKEN_URL",
    "USER_URL",
    "Call",
    "FakeClock",
    "GitHubDouble",
    "GitHubMock",
    "Recorder",
    "Site",
    "cookie_names",
    "downstream",
    "example",
    "log_in",
    "route_requests",
    "session_cleared",
    "session_set",
    "site_factory",
    "start_login",
]
