"""Options from environment variables: ``OAUTH_MIDDLEWARE_<OPTION>`` and GitHub's credentials.

The variable and the parser of each option come from :data:`oauth_middleware.options.OPTIONS`.
Messages about a value read from a variable name the variable, not the Python option.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import logging
import os
import pathlib
import typing as t

from . import options as _options
from . import parsers
from .errors import ConfigurationError
from .oidc import config as oidc_config
from .options import BY_NAME, ENV_PREFIX, OPTIONS
from .parsers import Parser

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from .middleware import OAuthMiddleware

log = logging.getLogger(__name__)

#: The environment variable of each option that has a ``_FILE`` variant (the secrets): a file
#: holding the value (a trailing newline is stripped), for Docker and Kubernetes secrets.
SECRET_VARIABLES: dict[str, str] = {option.name: option.env for option in OPTIONS if option.file_variant and option.env}
#: The web address of a GitHub Enterprise Server; becomes ``provider=GitHub(url)``.
GITHUB_URL_VARIABLE = BY_NAME["provider"].env or ""
#: How close (:func:`difflib.get_close_matches`) an unknown variable must be to one of ours to be
#: reported as a probable typo.
NEAR_MISS_CUTOFF = 0.8
SECRET_HINTS = {
    "client_id": "copy the Client ID from your GitHub OAuth app's settings",
    "client_secret": "generate a client secret in your GitHub OAuth app's settings",
    "secret_key": "generate one with: oauth-middleware keygen",
}


def env_variable(option: str) -> str:
    """The environment variable that sets ``option``.

    .. code-block:: python

        env_variable("max_age")    # "OAUTH_MIDDLEWARE_MAX_AGE"
        env_variable("client_id")  # "GITHUB_OAUTH_CLIENT_ID"

    :param option: an option name of :class:`~oauth_middleware.OAuthMiddleware` (or a subclass).
    """
    known = BY_NAME.get(option)
    return known.env if known is not None and known.env else ENV_PREFIX + option.upper()


_KEYWORD = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def option_parameters(middleware_class: type) -> dict[str, inspect.Parameter]:
    """The options of ``middleware_class`` by name in the constructor's order, ``app`` excluded.

    A subclass whose ``__init__`` passes ``**options`` on also has its bases' options.

    :param middleware_class: :class:`~oauth_middleware.OAuthMiddleware` or a subclass.
    """
    parameters: dict[str, inspect.Parameter] = {}
    for klass in middleware_class.__mro__:
        if "__init__" not in vars(klass):
            continue
        more = False
        for name, parameter in inspect.signature(vars(klass)["__init__"]).parameters.items():
            if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                more = True
            elif parameter.kind in _KEYWORD and name not in ("self", "app"):
                parameters.setdefault(name, parameter)
        if not more:
            break
    return parameters


def text_parsers(middleware_class: type | None = None) -> dict[str, Parser]:
    """The options that can be given as text, each with its parser: those of :data:`OPTIONS`,
    and with ``middleware_class`` a subclass's own too (parsed by their annotations).

    .. code-block:: python

        text_parsers()["max_age"]("3600")  # 3600

    :param middleware_class: a subclass of :class:`~oauth_middleware.OAuthMiddleware`.
    """
    if middleware_class is None:
        return {option.name: option.parse for option in OPTIONS if option.parse is not None}
    result: dict[str, Parser] = {}
    for name, parameter in option_parameters(middleware_class).items():
        known = BY_NAME.get(name)
        parser = known.parse if known is not None else parsers.for_annotation(parameter)
        if parser is not None:
            result[name] = parser
    return result


@dataclasses.dataclass(frozen=True)
class EnvOptions:
    """Options read from the environment.

    :param options: keyword arguments for the middleware (the Python overrides included).
    :param sources: the variable (or .ini setting) each option read from text came from.
    :param labels: how messages name each option: its variable, unless given in Python.
    :param env: the options that came from an environment variable, with the variable.
    """

    options: dict[str, t.Any]
    sources: dict[str, str]
    labels: dict[str, str]
    env: dict[str, str]


def known_variables(middleware_class: type | None = None) -> list[str]:
    """Every variable the middleware reads (with ``middleware_class``: a subclass's too)."""
    names = [option.env for option in OPTIONS if option.env and option.parse is not None]
    names += [variable + "_FILE" for variable in SECRET_VARIABLES.values()]
    names += [env_variable(name) for name in text_parsers(middleware_class) if name not in BY_NAME]
    return names + list(oidc_config.VARIABLES)


def near_misses(environ: t.Mapping[str, str], middleware_class: type | None = None) -> dict[str, str]:
    """Variables set in ``environ`` that are probably misspellings of ours, each with the name
    it is close to (``OAUTH_MIDLEWARE_SECURE`` -> ``OAUTH_MIDDLEWARE_SECURE``). Unknown
    ``OAUTH_MIDDLEWARE_*`` names are not listed: they are errors.

    .. code-block:: python

        near_misses({"GITHUB_OAUTH_CLIENTID": "x"})  # {"GITHUB_OAUTH_CLIENTID": "GITHUB_OAUTH_CLIENT_ID"}
    """
    known = known_variables(middleware_class)
    found = {}
    for name in environ:
        if name in known or name.startswith(ENV_PREFIX):
            continue
        close = difflib.get_close_matches(name.upper(), known, n=1, cutoff=NEAR_MISS_CUTOFF)
        if close:
            found[name] = close[0]
    return found


def read_secret(values: t.Mapping[str, str], key: str, file_key: str, *, here: str | None) -> tuple[str, str] | None:
    """``(name, text)`` of a secret set directly (``key``) or in a file (``file_key``); None if
    neither is set. The file's trailing newline is stripped; a relative path is taken from
    ``here`` when given."""
    direct, path = values.get(key), values.get(file_key)
    if direct is not None and path is not None:
        raise ConfigurationError("%s and %s are both set: set only one of them" % (key, file_key))
    if path is None:
        return None if direct is None else (key, direct)
    file = pathlib.Path(path.strip())
    if here and not file.is_absolute():
        file = pathlib.Path(here) / file
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigurationError("%s: the file %s is not UTF-8 text" % (file_key, file)) from None
    except OSError as exc:
        raise ConfigurationError("%s: cannot read %s (%s)" % (file_key, file, exc.strerror or exc)) from None
    return file_key, text.rstrip("\r\n")


def read_secrets(
    skip: t.Collection[str],
    lookups: t.Sequence[t.Callable[[str], tuple[str, str] | None]],
    missing: t.Callable[[str], str],
    *,
    from_env: t.Callable[[str], bool],
) -> tuple[dict[str, t.Any], dict[str, str]]:
    """Read the options that have a file variant, each from the first lookup that has it;
    ``missing(option)`` is the message for a required one that none has."""
    found_options: dict[str, t.Any] = {}
    sources: dict[str, str] = {}
    for option in OPTIONS:
        if not option.file_variant or option.name in skip:
            continue
        found = next(filter(None, (lookup(option.name) for lookup in lookups)), None)
        if found is None:
            if option.required:
                raise ConfigurationError(missing(option.name), option=option.name)
            continue
        source, text = found
        if not text.strip():
            raise ConfigurationError(
                "%s is empty: %s" % (source, SECRET_HINTS[option.name]),
                option=option.name,
                env=source if from_env(source) else None,
            )
        found_options[option.name] = _options.parse(option, text, source=source, from_env=from_env(source))
        sources[option.name] = source
    return found_options, sources


def from_environ(environ: t.Mapping[str, str]) -> t.Callable[[str], tuple[str, str] | None]:
    """A lookup for :func:`read_secrets`: the option's variable or its ``_FILE`` variant."""

    def lookup(option: str) -> tuple[str, str] | None:
        return read_secret(environ, SECRET_VARIABLES[option], SECRET_VARIABLES[option] + "_FILE", here=None)

    return lookup


def read(
    environ: t.Mapping[str, str],
    *,
    middleware_class: type | None = None,
    overrides: t.Mapping[str, t.Any] | None = None,
) -> EnvOptions:
    """The options from ``environ`` and ``overrides``, where each came from and how to name it.

    Logs a warning for each variable that looks like a misspelling of one of ours
    (:func:`near_misses`); raises ConfigurationError as :func:`options_from_env` says.

    :param environ: the environment.
    :param middleware_class: a subclass whose own options to read too.
    :param overrides: options given in Python; their variables are not read.
    """
    overrides = overrides or {}
    names = list(option_parameters(middleware_class)) if middleware_class else [o.name for o in OPTIONS]
    unknown = sorted(name for name in overrides if name not in names)
    if unknown:
        raise TypeError("unknown option(s) %s; the options are: %s" % (", ".join(unknown), ", ".join(names)))
    valid = known_variables(middleware_class)
    for name in sorted(environ):
        if name.startswith(ENV_PREFIX) and name not in valid:
            raise ConfigurationError(_unknown_variable(name, valid, names))
    misspelt = near_misses(environ, middleware_class)
    for name, close in sorted(misspelt.items()):
        log.warning("environment variable %s is not read: did you mean %s?", name, close)
    meant = {close: name for name, close in misspelt.items()}

    def missing(option: str) -> str:
        variable = SECRET_VARIABLES[option]
        typo = meant.get(variable) or meant.get(variable + "_FILE")
        return "%s is not set: %s. Set %s, or %s_FILE to the path of a file holding it.%s" % (
            variable,
            SECRET_HINTS[option],
            variable,
            variable,
            " (%s is set: did you mean %s?)" % (typo, variable) if typo else "",
        )

    found, sources = read_secrets(overrides, [from_environ(environ)], missing, from_env=lambda source: True)
    for name, parser in text_parsers(middleware_class).items():
        variable = env_variable(name)
        if name in overrides or name in SECRET_VARIABLES or variable not in environ:
            continue
        if name == "provider" and not environ[variable].strip():
            continue  # empty: github.com
        if name in BY_NAME:
            found[name] = _options.parse(BY_NAME[name], environ[variable], source=variable, from_env=True)
        else:
            found[name] = _options.parse_with(parser, environ[variable], source=variable, option=name, from_env=True)
        sources[name] = variable
    if "provider" not in overrides:
        _oidc_provider(environ, found, sources)
    found.update(overrides)
    labels = {name: env_variable(name) for name in names if name not in overrides and env_variable(name) in valid}
    labels.update({name: source for name, source in sources.items() if name == "provider"})
    return EnvOptions(found, sources, labels, env=sources)


def _oidc_provider(values: t.Mapping[str, str], found: dict[str, t.Any], sources: dict[str, str]) -> None:
    """``provider`` from ``OAUTH_MIDDLEWARE_PROVIDER`` and the ``OAUTH_MIDDLEWARE_OIDC_*``
    variables (:mod:`oauth_middleware.oidc.config`), when they name an OpenID Connect provider."""
    names = dict(zip(oidc_config.SETTINGS, oidc_config.VARIABLES, strict=True))
    settings = {key: values[variable] for key, variable in names.items() if variable in values}
    provider = oidc_config.provider_from_settings(settings, names=names)
    if provider is None:
        return
    if "provider" in found:
        raise ConfigurationError(
            "%s and %s are both set: set only one of them" % (sources["provider"], names["provider"]),
            option="provider",
        )
    found["provider"] = provider
    sources["provider"] = names["provider"]


def _unknown_variable(name: str, valid: t.Sequence[str], options: t.Collection[str]) -> str:
    rest = name[len(ENV_PREFIX) :]
    suffix = "_FILE" if rest.endswith("_FILE") else ""
    option = rest[: len(rest) - len(suffix)].lower()
    if option in SECRET_VARIABLES:
        hint = " (did you mean %s%s?)" % (SECRET_VARIABLES[option], suffix)
    elif suffix and ENV_PREFIX + option.upper() in valid:
        hint = " (only the secrets have _FILE variants: set %s%s)" % (ENV_PREFIX, option.upper())
    elif option in options and ENV_PREFIX + option.upper() not in valid:
        hint = " (%s takes a Python object: pass it in code)" % option
    else:
        close = difflib.get_close_matches(name, valid, n=1)
        hint = " (did you mean %s?)" % close[0] if close else ""
    return "unknown environment variable %s%s. The variables are %s, plus %s." % (
        name,
        hint,
        ", ".join(variable for variable in valid if variable.startswith(ENV_PREFIX)),
        " and ".join(variable for variable in SECRET_VARIABLES.values() if not variable.startswith(ENV_PREFIX)),
    )


def build(middleware_class: type[OAuthMiddleware], app: WSGIApplication, found: EnvOptions) -> OAuthMiddleware:
    """Construct the middleware from :func:`read`'s options. A ConfigurationError names the
    variable a refused value came from (and sets :attr:`~oauth_middleware.ConfigurationError.env`)."""
    _options.validate(
        {name: value for name, value in found.options.items() if name in BY_NAME},
        labels=found.labels,
        env=found.env,
    )
    try:
        return middleware_class(app, **found.options)
    except ConfigurationError as exc:  # about a subclass's own option
        source = found.sources.get(exc.option or "")
        if source is None or source == exc.option or exc.env:
            raise
        env = found.env.get(exc.option or "")
        raise ConfigurationError("%s: %s" % (source, exc), option=exc.option, env=env) from None


def options_from_env(environ: t.Mapping[str, str] | None = os.environ, **overrides: t.Any) -> dict[str, t.Any]:
    """Read the middleware's options from environment variables.

    ``GITHUB_OAUTH_CLIENT_ID``, ``GITHUB_OAUTH_CLIENT_SECRET`` and ``OAUTH_MIDDLEWARE_SECRET_KEY``
    hold the secrets (the key may be a comma-separated list: the first encrypts, all decrypt);
    each may instead be read from a file named by the same variable plus ``_FILE`` (a trailing
    newline is stripped; setting both is an error). Every other option has the variable
    :data:`~oauth_middleware.options.OPTIONS` gives it (``OAUTH_MIDDLEWARE_<NAME>``), in the
    format given there: booleans are ``1/true/yes/on`` or ``0/false/no/off``, lists are
    comma-separated, ``allowed_users`` takes account ids as ``id:583231``, and
    ``OAUTH_MIDDLEWARE_GITHUB_URL`` gives ``provider=GitHub(url)`` for GitHub Enterprise Server.

    .. code-block:: python

        # GITHUB_OAUTH_CLIENT_ID=... GITHUB_OAUTH_CLIENT_SECRET_FILE=/run/secrets/github
        # OAUTH_MIDDLEWARE_SECRET_KEY=new-key,old-key OAUTH_MIDDLEWARE_REQUIRE_LOGIN=true
        # OAUTH_MIDDLEWARE_PUBLIC_PATHS=/static,/healthz
        options = options_from_env(max_age=3600)
        app.wsgi_app = OAuthMiddleware(app.wsgi_app, **options)

    Raises :class:`~oauth_middleware.errors.ConfigurationError`, naming the variable and saying
    what it expects, when a secret is missing, a value is malformed, or a variable starting with
    ``OAUTH_MIDDLEWARE_`` is unknown (a typo would otherwise be silently ignored); a variable
    close to one of ours (``GITHUB_OAUTH_CLIENTID``) is logged as a warning. Secret values never
    appear in messages. The values are not validated further here: constructing the middleware
    does that (:func:`from_env` does both).

    :param environ: where to read the variables; :data:`os.environ` by default (None too).
    :param overrides: options given in Python; they win over the environment, whose variable for
        an overridden option is then not read at all.
    :return: keyword arguments for :class:`~oauth_middleware.OAuthMiddleware`.
    """
    return read(os.environ if environ is None else environ, overrides=overrides).options


def from_env(
    app: WSGIApplication,
    environ: t.Mapping[str, str] | None,
    *,
    middleware_class: type[OAuthMiddleware],
    **overrides: t.Any,
) -> OAuthMiddleware:
    """Wrap ``app`` in ``middleware_class`` configured from environment variables, as
    :func:`options_from_env` describes (:func:`oauth_middleware.config.from_env` and
    :meth:`OAuthMiddleware.from_env <oauth_middleware.OAuthMiddleware.from_env>` call this).

    :param app: the WSGI application to protect.
    :param environ: where to read the variables; :data:`os.environ` when None.
    :param middleware_class: :class:`~oauth_middleware.OAuthMiddleware` or a subclass.
    :param overrides: options given in Python; they win over the environment.
    """
    found = read(os.environ if environ is None else environ, middleware_class=middleware_class, overrides=overrides)
    return build(middleware_class, app, found)
