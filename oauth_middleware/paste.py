"""PasteDeploy factories (``egg:oauth-login-middleware#github``): options from an ``.ini`` section.

The keys are the option names (``github_url`` for the provider), with values in the formats of
the environment variables; each option's setting and parser come from
:data:`oauth_middleware.options.OPTIONS`.
"""

from __future__ import annotations

import difflib
import os
import typing as t

from . import options as _options
from .env import SECRET_HINTS, SECRET_VARIABLES, EnvOptions, build, from_environ, read_secret, read_secrets
from .errors import ConfigurationError
from .middleware import OAuthMiddleware
from .oidc import config as oidc_config
from .options import OPTIONS

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


def settings() -> list[str]:
    """The keys a filter section takes: option settings, then ``*_file`` for the secrets."""
    keys = [option.setting for option in OPTIONS if option.setting and option.parse is not None]
    return keys + [option.name + "_file" for option in OPTIONS if option.file_variant] + list(oidc_config.SETTINGS)


def read(section: t.Mapping[str, str], *, environ: t.Mapping[str, str], here: str | None) -> EnvOptions:
    """The options from a PasteDeploy section's settings (secrets missing there from
    ``environ``), where each came from and how to name it."""
    valid = settings()
    for key in section:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            raise ConfigurationError(
                "unknown setting %r in the oauth-middleware filter section%s. The settings are %s."
                % (key, " (did you mean %r?)" % close[0] if close else "", ", ".join(valid))
            )

    def from_ini(option: str) -> tuple[str, str] | None:
        return read_secret(section, option, option + "_file", here=here)

    def missing(option: str) -> str:
        variable = SECRET_VARIABLES[option]
        return "%s is not set: %s. Set %s (or %s_file) in the .ini file, or %s (or %s_FILE) in the environment." % (
            option,
            SECRET_HINTS[option],
            option,
            option,
            variable,
            variable,
        )

    found, sources = read_secrets((), [from_ini, from_environ(environ)], missing, from_env=lambda s: s not in valid)
    for option in OPTIONS:
        if option.file_variant or option.setting is None or option.setting not in section:
            continue
        text = section[option.setting]
        if option.name == "provider" and not text.strip():
            continue  # empty: github.com
        found[option.name] = _options.parse(option, text, source=option.setting)
        sources[option.name] = option.setting
    settings_found = {key: section[key] for key in oidc_config.SETTINGS if key in section}
    provider = oidc_config.provider_from_settings(settings_found, names={key: key for key in oidc_config.SETTINGS})
    if provider is not None:
        if "provider" in found:
            raise ConfigurationError("github_url and provider are both set: set only one of them", option="provider")
        found["provider"], sources["provider"] = provider, "provider"
    labels = {option.name: option.setting for option in OPTIONS if option.setting}
    env = {name: source for name, source in sources.items() if source not in valid}
    return EnvOptions(found, sources, {**labels, **sources}, env)


def filter_factory(
    global_conf: t.Mapping[str, str], **local_conf: str
) -> t.Callable[[WSGIApplication], OAuthMiddleware]:
    """PasteDeploy filter factory (entry point ``egg:oauth-middleware#github``).

    The section's keys are the option names, their values text in the formats of
    :func:`~oauth_middleware.config.options_from_env` (lists may also be whitespace-separated,
    across lines), plus ``client_id_file``, ``client_secret_file`` and ``secret_key_file``
    (paths, relative to the .ini file's directory), ``github_url`` (GitHub Enterprise
    Server), and ``provider`` with ``oidc_issuer``, ``oidc_username_claim``, ``oidc_groups_claim``,
    ``oidc_userinfo`` and ``oidc_tenants`` for an OpenID Connect provider (:mod:`oauth_middleware.oidc.config`).
    A secret missing from the section is read from the environment
    (``GITHUB_OAUTH_CLIENT_ID``, ``GITHUB_OAUTH_CLIENT_SECRET``, ``OAUTH_MIDDLEWARE_SECRET_KEY``
    or their ``_FILE`` variants), so it need not be written in the file. ``%(here)s`` and
    ``[DEFAULT]`` values are PasteDeploy's; other environment variables are not read.

    .. code-block:: ini

        [pipeline:main]
        pipeline = github-oauth myapp

        [filter:github-oauth]
        use = egg:oauth-middleware#github
        client_id = Iv1.0123456789abcdef
        client_secret_file = %(here)s/secrets/github-client-secret
        # secret_key: from OAUTH_MIDDLEWARE_SECRET_KEY
        require_login = true
        public_paths = /static /healthz
        allowed_users = octocat id:583231

    Raises :class:`~oauth_middleware.errors.ConfigurationError` naming the setting when one is
    unknown or malformed.

    :param global_conf: PasteDeploy's global configuration (``here``, ``[DEFAULT]``).
    :param local_conf: the section's settings.
    :return: a function wrapping an app in the configured middleware.
    """
    found = read(local_conf, environ=os.environ, here=global_conf.get("here"))

    def oauth_filter(app: WSGIApplication) -> OAuthMiddleware:
        return build(OAuthMiddleware, app, found)

    return oauth_filter


def filter_app_factory(app: WSGIApplication, global_conf: t.Mapping[str, str], **local_conf: str) -> OAuthMiddleware:
    """PasteDeploy filter-app factory: :func:`filter_factory` applied to ``app`` at once.

    .. code-block:: ini

        [filter-app:main]
        use = egg:oauth-middleware#github
        next = myapp
        client_id = Iv1.0123456789abcdef

    :param app: the WSGI application to protect.
    :param global_conf: PasteDeploy's global configuration.
    :param local_conf: the section's settings, as for :func:`filter_factory`.
    """
    return filter_factory(global_conf, **local_conf)(app)
