"""Configuration from outside Python code: the public names of the environment and PasteDeploy
readers, kept here for ``oauth_middleware.config:filter_factory`` (the entry points) and the
documented ``oauth_middleware.config.from_env``.

The work is done by :mod:`oauth_middleware.options` (the option table),
:mod:`oauth_middleware.validation`, :mod:`oauth_middleware.parsers`, :mod:`oauth_middleware.env`
and :mod:`oauth_middleware.paste`.
"""

from __future__ import annotations

import inspect
import os
import typing as t

from . import env
from .env import GITHUB_URL_VARIABLE as GITHUB_URL_VARIABLE
from .env import SECRET_VARIABLES as SECRET_VARIABLES
from .env import env_variable as env_variable
from .env import options_from_env as options_from_env
from .middleware import OAuthMiddleware
from .options import ENV_PREFIX as ENV_PREFIX
from .options import OPTIONS
from .parsers import Parser
from .paste import filter_app_factory as filter_app_factory
from .paste import filter_factory as filter_factory

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

#: Options whose values are never shown, not even in error messages.
SECRET_OPTIONS = frozenset(option.name for option in OPTIONS if option.secret)
#: Options that cannot be written as text under their own name (``provider`` comes from
#: :data:`GITHUB_URL_VARIABLE` or the ``github_url`` .ini setting instead).
NOT_FROM_TEXT = frozenset(
    {"app"} | {option.name for option in OPTIONS if option.parse is None or option.name == "provider"}
)

__all__ = [
    "ENV_PREFIX",
    "GITHUB_URL_VARIABLE",
    "NOT_FROM_TEXT",
    "SECRET_OPTIONS",
    "SECRET_VARIABLES",
    "env_variable",
    "filter_app_factory",
    "filter_factory",
    "from_env",
    "option_parameters",
    "options_from_env",
    "text_options",
]


def from_env(
    app: WSGIApplication,
    environ: t.Mapping[str, str] | None = os.environ,
    *,
    middleware_class: type[OAuthMiddleware] | None = None,
    **overrides: t.Any,
) -> OAuthMiddleware:
    """Wrap ``app`` in an :class:`~oauth_middleware.OAuthMiddleware` configured from environment
    variables, as described in :func:`options_from_env`; also
    :meth:`OAuthMiddleware.from_env <oauth_middleware.OAuthMiddleware.from_env>`.

    .. code-block:: python

        from oauth_middleware.config import from_env

        app.wsgi_app = from_env(app.wsgi_app, public_paths=["/static"])

    A :class:`~oauth_middleware.errors.ConfigurationError` about an option that came from a
    variable names the variable (and sets its ``env``).

    :param app: the WSGI application to protect.
    :param environ: where to read the variables; :data:`os.environ` by default (None too).
    :param middleware_class: a subclass of :class:`~oauth_middleware.OAuthMiddleware` to build.
    :param overrides: options given in Python; they win over the environment.
    """
    return env.from_env(app, environ, middleware_class=middleware_class or OAuthMiddleware, **overrides)


def option_parameters(middleware_class: type[OAuthMiddleware] | None = None) -> dict[str, inspect.Parameter]:
    """The options of :class:`~oauth_middleware.OAuthMiddleware` (or of ``middleware_class``),
    by name in the constructor's order, ``app`` excluded.

    .. code-block:: python

        list(option_parameters())[:3]  # ["client_id", "client_secret", "secret_key"]

    :param middleware_class: a subclass whose options to list instead.
    """
    return env.option_parameters(middleware_class or OAuthMiddleware)


def text_options(middleware_class: type[OAuthMiddleware] | None = None) -> dict[str, Parser]:
    """The options that can be given as text under their own name, in the constructor's order,
    each with its parser (:func:`oauth_middleware.env.text_parsers`).

    .. code-block:: python

        parsers = text_options()
        parsers["max_age"]("3600")  # 3600

    :param middleware_class: a subclass whose signature to use instead.
    """
    return {
        name: parser
        for name, parser in env.text_parsers(middleware_class or OAuthMiddleware).items()
        if name not in NOT_FROM_TEXT
    }
