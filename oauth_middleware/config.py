"""Normalising and validating the middleware's options.

Each helper takes the option's name and the value given, returns the normalised value, and raises
:class:`~oauth_middleware.errors.ConfigurationError` with a message that names the option, shows
the bad value (secrets redacted) and says how to fix it.
"""

from __future__ import annotations

import difflib
import inspect
import math
import os
import pathlib
import re
import typing as t
from urllib.parse import urlsplit

from .crypto import MIN_SECRET_BYTES
from .errors import ConfigurationError

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from .middleware import OAuthMiddleware
    from .providers import Provider

KEYGEN_HINT = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


def require_text(option: str, value: object, *, hint: str) -> str:
    """A non-empty string without surrounding whitespace."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError("%s is required: %s" % (option, hint))
    if value != value.strip():
        raise ConfigurationError("%s has leading or trailing whitespace: remove it." % option)
    return value


def secret_keys(value: object) -> tuple[bytes, ...]:
    """``secret_key``: one key or a list; each at least :data:`MIN_SECRET_BYTES` bytes."""
    keys = [value] if isinstance(value, (str, bytes)) else value
    if not isinstance(keys, (list, tuple)) or not keys:
        raise ConfigurationError(
            "secret_key is required: pass a random string of at least %d bytes, e.g. from %s"
            % (MIN_SECRET_BYTES, KEYGEN_HINT)
        )
    result = []
    for index, key in enumerate(keys):
        if isinstance(key, str):
            key = key.encode("utf-8")
        if not isinstance(key, bytes):
            raise ConfigurationError("secret_key[%d] must be a str or bytes, not %s" % (index, type(key).__name__))
        if len(key) < MIN_SECRET_BYTES:
            raise ConfigurationError(
                "secret_key%s is %d bytes long; it must be at least %d random bytes. Generate one with %s"
                % ("" if isinstance(value, (str, bytes)) else "[%d]" % index, len(key), MIN_SECRET_BYTES, KEYGEN_HINT)
            )
        result.append(key)
    return tuple(result)


def path(option: str, value: object) -> str:
    """A path option: starts with ``/``, no trailing slash, no query, fragment or whitespace."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        raise ConfigurationError("%s must be a path starting with a single '/', got %r" % (option, value))
    if (
        not (value.isascii() and value.isprintable())
        or any(c in value for c in "?#%\\ \"'<>;")
        or "/./" in value + "/"
        or "/../" in value + "/"
    ):
        raise ConfigurationError(
            "%s must be a plain ASCII path (no '?', '#', '%%', '\\', quotes, '<', '>', ';', "
            "dot segments or spaces), got %r" % (option, value)
        )
    return value.rstrip("/") or "/"


def distinct_paths(paths: dict[str, str]) -> None:
    """The login, callback and logout paths must differ (and ``/`` is not allowed for them)."""
    seen: dict[str, str] = {}
    for option, value in paths.items():
        if value == "/":
            raise ConfigurationError("%s cannot be '/': the app needs its root. Use e.g. '/auth/...'" % option)
        if value in seen:
            raise ConfigurationError("%s and %s are both %r: give each its own path" % (seen[value], option, value))
        seen[value] = option


def path_prefixes(option: str, value: object) -> tuple[str, ...]:
    """A list of path prefixes (each validated like :func:`path`)."""
    if isinstance(value, str):
        raise ConfigurationError("%s must be a list of path prefixes, e.g. [%r], not a string" % (option, value))
    try:
        items = list(value)  # type: ignore[call-overload]
    except TypeError:
        raise ConfigurationError("%s must be a list of path prefixes, got %r" % (option, value)) from None
    return tuple(path("%s[%d]" % (option, i), item) for i, item in enumerate(items))


def scope(value: object) -> tuple[str, ...]:
    """``scope``: a space/comma separated string or a list of scope names."""
    items = value.replace(",", " ").split() if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(
        isinstance(s, str) and s and s.isprintable() and " " not in s for s in items
    ):
        raise ConfigurationError(
            "scope must be a list of scope names such as ('read:user', 'user:email'), got %r" % (value,)
        )
    return tuple(dict.fromkeys(items))


def positive_number(option: str, value: object, *, unit: str = "seconds") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 86400:
        raise ConfigurationError("%s must be a positive number of %s below a day, got %r" % (option, unit, value))
    return float(value)


def timeout(value: object) -> float | tuple[float, float]:
    """``timeout``: seconds, or a ``(connect, read)`` pair of seconds."""
    if isinstance(value, tuple) and len(value) == 2:
        return (positive_number("timeout[0]", value[0]), positive_number("timeout[1]", value[1]))
    return positive_number("timeout", value)


def url(option: str, value: str, *, allow_insecure_http: bool) -> str:
    """An absolute URL: https, or http only with ``allow_insecure_http=True``; no fragment."""
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ConfigurationError("%s must be an absolute https:// URL, got %r" % (option, value))
    if parts.fragment or "#" in value:
        raise ConfigurationError("%s must not have a #fragment, got %r" % (option, value))
    if parts.scheme == "http" and not allow_insecure_http:
        raise ConfigurationError(
            "%s is plain http (%r): OAuth over http exposes codes and tokens. Use https, or pass "
            "allow_insecure_http=True for local development only." % (option, value)
        )
    return value


def redirect_uri(value: object, *, callback_path: str, allow_insecure_http: bool) -> str | None:
    """``redirect_uri``: None, or the absolute callback URL ending in ``callback_path``."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigurationError("redirect_uri must be an absolute URL string or None, got %r" % (value,))
    url("redirect_uri", value, allow_insecure_http=allow_insecure_http)
    parts = urlsplit(value)
    if parts.query:
        raise ConfigurationError("redirect_uri must not have a query string, got %r" % value)
    if not parts.path.endswith(callback_path):
        raise ConfigurationError(
            "redirect_uri %r does not end with callback_path %r: the provider would send users "
            "to a path the middleware does not handle. Make them agree." % (value, callback_path)
        )
    return value


def provider(value: object, *, allow_insecure_http: bool) -> Provider:
    from .providers import Provider

    if not isinstance(value, Provider):
        raise ConfigurationError("provider must be a Provider such as GitHub(), got %r" % (value,))
    for option, address in value.urls().items():
        if option == "authorize_url" and address.startswith("/") and not address.startswith("//"):
            continue  # a path on this site: an embedded provider (the demo's fake GitHub)
        url("provider.%s" % option, address, allow_insecure_http=allow_insecure_http)
    if not value.api_base_url.endswith("/"):
        raise ConfigurationError("provider.api_base_url must end with '/', got %r" % value.api_base_url)
    return value


def cookie_name(value: object) -> str:
    """``cookie_name``: letters, digits, ``_`` and ``-`` only."""
    if (
        not isinstance(value, str)
        or not value
        or not all(c.isascii() and (c.isalnum() or c in "_-") for c in value)
        or value.startswith("__")
    ):
        raise ConfigurationError(
            "cookie_name must be letters, digits, '_' or '-' (not starting with '__'), got %r" % (value,)
        )
    return value


def optional_seconds(option: str, value: object) -> int | None:
    """``None`` (or 0: off) or a positive whole number of seconds."""
    if value is None or value == 0:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError("%s must be a positive whole number of seconds or None, got %r" % (option, value))
    return value


def revalidate_grace(value: object) -> int:
    """``revalidate_grace``: whole seconds, 0 or more; never unbounded (security.md SES-5)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(
            "revalidate_grace must be a whole number of seconds, 0 or more (e.g. 3600), got %r: it bounds how "
            "long a session is kept while GitHub cannot be reached to re-validate it, so None (forever) is "
            "not accepted" % (value,)
        )
    return value


def optional_bool(option: str, value: object) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise ConfigurationError("%s must be True, False or None, got %r" % (option, value))
    return value


# -- options from text: environment variables and PasteDeploy .ini files ------------------------

#: Prefix of the middleware's environment variables (GitHub's client credentials excepted).
ENV_PREFIX = "OAUTH_MIDDLEWARE_"
#: The environment variable of each secret option. Each also has a ``*_FILE`` variant that names
#: a file holding the value (a trailing newline is stripped), for Docker and Kubernetes secrets.
SECRET_VARIABLES: dict[str, str] = {
    "client_id": "GITHUB_OAUTH_CLIENT_ID",
    "client_secret": "GITHUB_OAUTH_CLIENT_SECRET",
    "secret_key": "OAUTH_MIDDLEWARE_SECRET_KEY",
}
#: The web address of a GitHub Enterprise Server; becomes ``provider=GitHub(url)``.
GITHUB_URL_VARIABLE = ENV_PREFIX + "GITHUB_URL"
#: Options whose values are never shown, not even in error messages.
SECRET_OPTIONS = frozenset({"client_secret", "secret_key"})
#: Options that take Python objects, so cannot be written as text (``provider`` comes from
#: :data:`GITHUB_URL_VARIABLE` or the ``github_url`` .ini setting instead).
NOT_FROM_TEXT = frozenset({"app", "provider", "clock"})

Parser = t.Callable[[str], t.Any]
_SECRET_HINTS = {
    "client_id": "copy the Client ID from your GitHub OAuth app's settings",
    "client_secret": "generate a client secret in your GitHub OAuth app's settings",
    "secret_key": "generate one with: python -m oauth_middleware keygen",
}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_BOOLEAN = "a boolean (1, true, yes, on or 0, false, no, off)"
_KEYWORD = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


class _Unparsable(ValueError):
    """A text value that does not parse; ``expected`` says what would."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def _words(text: str) -> list[str]:
    return [item for item in re.split(r"[\s,]+", text) if item]


def _text(text: str) -> str:
    return text.strip()


def _verbatim(text: str) -> str:
    return text


def _bool(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise _Unparsable(_BOOLEAN)


def _int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise _Unparsable("a whole number, e.g. 3600") from None


def _float(text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise _Unparsable("a number, e.g. 10 or 2.5")
    return value


def _optional(parser: Parser) -> Parser:
    """``parser``, with an empty value or ``none`` meaning None."""

    def parse(text: str) -> t.Any:
        if text.strip().lower() in ("", "none"):
            return None
        try:
            return parser(text)
        except _Unparsable as exc:
            raise _Unparsable("%s, or none" % exc.expected) from None

    return parse


def _require_login(text: str) -> bool | list[str]:
    word = text.strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    prefixes = _words(text)
    if not prefixes or not all(prefix.startswith("/") for prefix in prefixes):
        raise _Unparsable("%s, or a comma-separated list of path prefixes such as /admin,/api" % _BOOLEAN)
    return prefixes


def _revalidate_after(text: str) -> int | str | None:
    word = text.strip().lower()
    if word == "auto":
        return "auto"
    if word in ("", "none"):
        return None
    try:
        return int(word)
    except ValueError:
        raise _Unparsable("auto, none, or a whole number of seconds such as 600") from None


def _timeout(text: str) -> float | tuple[float, float]:
    parts = _words(text)
    try:
        if len(parts) == 1:
            return _float(parts[0])
        if len(parts) == 2:
            return (_float(parts[0]), _float(parts[1]))
    except _Unparsable:
        pass
    raise _Unparsable("seconds such as 10, or a connect,read pair of seconds such as 3.05,27")


def _secure(text: str) -> bool | None:
    word = text.strip().lower()
    if word in ("", "auto"):
        return None
    try:
        return _bool(word)
    except _Unparsable:
        raise _Unparsable("auto, or %s" % _BOOLEAN) from None


def _secret_keys(text: str) -> str | list[str]:
    keys = [key.strip() for key in re.split(r"[,\n]", text) if key.strip()]
    return keys[0] if len(keys) == 1 else keys


def _github_url(text: str) -> Provider:
    from .providers import GitHub

    value = text.strip().rstrip("/")
    try:
        parts = urlsplit(value)
        valid = parts.scheme in ("https", "http") and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid or parts.path or parts.query or parts.fragment:
        raise _Unparsable("the web address of the GitHub server, such as https://github.example.com")
    return GitHub(value)


#: Parsers of the options whose text form is more than their type says.
_PARSERS_BY_NAME: dict[str, Parser] = {
    "client_id": _verbatim,
    "client_secret": _verbatim,
    "secret_key": _secret_keys,
    "require_login": _require_login,
    "revalidate_after": _revalidate_after,
    "timeout": _timeout,
    "secure": _secure,
}
#: Parsers by annotation (``typing.``/``t.`` prefixes, spaces and ``| None`` removed).
_PARSERS_BY_TYPE: dict[str, Parser] = {
    "bool": _bool,
    "int": _int,
    "float": _float,
    "str": _text,
    "str|Sequence[str]": _text,  # scope: the option splits the string itself
    "Sequence[str]": _words,
    "Iterable[str]": _words,
    "Collection[str]": _words,
    "list[str]": _words,
    "tuple[str,...]": _words,
}


def _parser_for(parameter: inspect.Parameter) -> Parser | None:
    """How to read ``parameter`` from text, from its name, annotation or default; None if it
    takes a Python object."""
    if parameter.name in _PARSERS_BY_NAME:
        return _PARSERS_BY_NAME[parameter.name]
    if parameter.name in NOT_FROM_TEXT or parameter.kind not in _KEYWORD:
        return None
    annotation = parameter.annotation
    if not isinstance(annotation, str):
        annotation = inspect.formatannotation(annotation)
    annotation = re.sub(r"\b(?:typing|t|collections\.abc)\.", "", annotation).replace(" ", "")
    members = annotation.split("|")
    parser = _PARSERS_BY_TYPE.get("|".join(member for member in members if member != "None"))
    default = parameter.default
    if parser is None and "Callable" not in annotation:
        if isinstance(default, bool):
            parser = _bool
        elif isinstance(default, int):
            parser = _int
        elif isinstance(default, float):
            parser = _float
        elif isinstance(default, str):
            parser = _text
        elif isinstance(default, (tuple, list, frozenset)):
            parser = _words
    if parser is None:
        return None
    return _optional(parser) if "None" in members else parser


def _middleware_class(middleware_class: type[OAuthMiddleware] | None) -> type[OAuthMiddleware]:
    if middleware_class is not None:
        return middleware_class
    from .middleware import OAuthMiddleware  # here: the middleware module imports this one

    return OAuthMiddleware


def option_parameters(middleware_class: type[OAuthMiddleware] | None = None) -> dict[str, inspect.Parameter]:
    """The options of :class:`~oauth_middleware.OAuthMiddleware` (or of ``middleware_class``),
    by name in the constructor's order, ``app`` excluded.

    A subclass whose ``__init__`` passes ``**options`` on also has its bases' options.

    .. code-block:: python

        list(option_parameters())[:3]  # ["client_id", "client_secret", "secret_key"]

    :param middleware_class: a subclass whose options to list instead.
    """
    cls = _middleware_class(middleware_class)
    parameters: dict[str, inspect.Parameter] = {}
    for klass in cls.__mro__:
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


def text_options(middleware_class: type[OAuthMiddleware] | None = None) -> dict[str, Parser]:
    """The options that can be given as text, in the constructor's order, each with its parser.

    Derived from the signature of :class:`~oauth_middleware.OAuthMiddleware` (or of
    ``middleware_class``), so a new option is covered as soon as it exists.

    .. code-block:: python

        parsers = text_options()
        parsers["max_age"]("3600")  # 3600

    :param middleware_class: a subclass whose signature to use instead.
    """
    parsers: dict[str, Parser] = {}
    for name, parameter in option_parameters(middleware_class).items():
        parser = _parser_for(parameter)
        if parser is not None:
            parsers[name] = parser
    return parsers


def env_variable(option: str) -> str:
    """The environment variable that sets ``option``.

    .. code-block:: python

        env_variable("max_age")    # "OAUTH_MIDDLEWARE_MAX_AGE"
        env_variable("client_id")  # "GITHUB_OAUTH_CLIENT_ID"

    :param option: an option name of :class:`~oauth_middleware.OAuthMiddleware`.
    """
    if option == "provider":
        return GITHUB_URL_VARIABLE
    return SECRET_VARIABLES.get(option, ENV_PREFIX + option.upper())


def _parse(parser: Parser, text: str, *, source: str, secret: bool) -> t.Any:
    try:
        return parser(text)
    except _Unparsable as exc:
        if secret:  # never echo a secret, not even a malformed one
            raise ConfigurationError("%s must be %s" % (source, exc.expected)) from None
        shown = text if len(text) <= 200 else text[:200] + "..."
        raise ConfigurationError("%s must be %s; got %r" % (source, exc.expected, shown)) from None


def _read_secret(values: t.Mapping[str, str], key: str, file_key: str, *, here: str | None) -> tuple[str, str] | None:
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


def _secrets(
    parsers: t.Mapping[str, Parser],
    required: t.Collection[str],
    skip: t.Collection[str],
    lookups: t.Sequence[t.Callable[[str], tuple[str, str] | None]],
    where: t.Callable[[str], str],
) -> tuple[dict[str, t.Any], dict[str, str]]:
    """Read the secret options, each from the first lookup that has it."""
    options: dict[str, t.Any] = {}
    sources: dict[str, str] = {}
    for option in SECRET_VARIABLES:
        if option in skip or option not in parsers:
            continue
        found = next(filter(None, (lookup(option) for lookup in lookups)), None)
        if found is None:
            if option in required:
                raise ConfigurationError("%s is not set: %s. %s" % (option, _SECRET_HINTS[option], where(option)))
            continue
        source, text = found
        if not text.strip():
            raise ConfigurationError("%s is empty: %s" % (source, _SECRET_HINTS[option]))
        options[option] = _parse(parsers[option], text, source=source, secret=option in SECRET_OPTIONS)
        sources[option] = source
    return options, sources


def _env_options(
    middleware_class: type[OAuthMiddleware], environ: t.Mapping[str, str], overrides: t.Mapping[str, t.Any]
) -> tuple[dict[str, t.Any], dict[str, str]]:
    """The options from ``environ`` and ``overrides``, and which variable each came from."""
    parameters = option_parameters(middleware_class)
    unknown = sorted(name for name in overrides if name not in parameters)
    if unknown:
        raise TypeError("unknown option(s) %s; the options are: %s" % (", ".join(unknown), ", ".join(parameters)))
    parsers = text_options(middleware_class)
    variables = {env_variable(name): name for name in parsers if name not in SECRET_VARIABLES}
    valid = [variable + suffix for variable in SECRET_VARIABLES.values() for suffix in ("", "_FILE")]
    valid = [name for name in valid if name.startswith(ENV_PREFIX)] + [GITHUB_URL_VARIABLE, *variables]
    for name in sorted(environ):
        if name.startswith(ENV_PREFIX) and name not in valid:
            raise ConfigurationError(_unknown_variable(name, valid, parameters))

    def from_environ(option: str) -> tuple[str, str] | None:
        return _read_secret(environ, SECRET_VARIABLES[option], SECRET_VARIABLES[option] + "_FILE", here=None)

    options, sources = _secrets(
        parsers,
        required={name for name, p in parameters.items() if p.default is inspect.Parameter.empty},
        skip=overrides,
        lookups=[from_environ],
        where=lambda option: (
            "Set %s, or %s_FILE to the path of a file holding it."
            % (SECRET_VARIABLES[option], SECRET_VARIABLES[option])
        ),
    )
    github_url = environ.get(GITHUB_URL_VARIABLE, "")
    if "provider" in parameters and "provider" not in overrides and github_url.strip():
        options["provider"] = _parse(_github_url, github_url, source=GITHUB_URL_VARIABLE, secret=False)
        sources["provider"] = GITHUB_URL_VARIABLE
    for variable, option in variables.items():
        if option not in overrides and variable in environ:
            options[option] = _parse(
                parsers[option], environ[variable], source=variable, secret=option in SECRET_OPTIONS
            )
            sources[option] = variable
    options.update(overrides)
    return options, sources


def _unknown_variable(name: str, valid: t.Sequence[str], parameters: t.Mapping[str, inspect.Parameter]) -> str:
    rest = name[len(ENV_PREFIX) :]
    suffix = "_FILE" if rest.endswith("_FILE") else ""
    option = rest[: len(rest) - len(suffix)].lower()
    if option in SECRET_VARIABLES:
        hint = " (did you mean %s%s?)" % (SECRET_VARIABLES[option], suffix)
    elif option == "provider":
        hint = " (for GitHub Enterprise Server, set %s to its address)" % GITHUB_URL_VARIABLE
    elif suffix and ENV_PREFIX + option.upper() in valid:
        hint = " (only the secrets have _FILE variants: set %s%s)" % (ENV_PREFIX, option.upper())
    elif option in parameters and ENV_PREFIX + option.upper() not in valid:
        hint = " (%s takes a Python object: pass it in code)" % option
    else:
        close = difflib.get_close_matches(name, valid, n=1)
        hint = " (did you mean %s?)" % close[0] if close else ""
    return "unknown environment variable %s%s. The variables are %s, plus %s." % (
        name,
        hint,
        ", ".join(valid),
        " and ".join(variable for variable in SECRET_VARIABLES.values() if not variable.startswith(ENV_PREFIX)),
    )


def _build(
    middleware_class: type[OAuthMiddleware],
    app: WSGIApplication,
    options: t.Mapping[str, t.Any],
    sources: t.Mapping[str, str],
) -> OAuthMiddleware:
    """Construct the middleware; a ConfigurationError about an option read from text is
    prefixed with the variable or setting it came from."""
    try:
        return middleware_class(app, **options)
    except ConfigurationError as exc:
        option = re.split(r"\W", str(exc), maxsplit=1)[0]  # "secret_key[1] is ..." -> secret_key
        if option not in sources:
            raise
        raise ConfigurationError("%s: %s" % (sources[option], exc)) from None


def options_from_env(environ: t.Mapping[str, str] | None = os.environ, **overrides: t.Any) -> dict[str, t.Any]:
    """Read the middleware's options from environment variables.

    ``GITHUB_OAUTH_CLIENT_ID``, ``GITHUB_OAUTH_CLIENT_SECRET`` and ``OAUTH_MIDDLEWARE_SECRET_KEY``
    hold the secrets (the key may be a comma-separated list: the first encrypts, all decrypt);
    each may instead be read from a file named by the same variable plus ``_FILE`` (a trailing
    newline is stripped; setting both is an error). Every other option ``name`` is read from
    ``OAUTH_MIDDLEWARE_<NAME>``: booleans are ``1/true/yes/on`` or ``0/false/no/off``, lists are
    comma-separated, ``require_login`` is a boolean or a list of path prefixes,
    ``revalidate_after`` is ``auto``, ``none`` or seconds, ``timeout`` is seconds or
    ``connect,read``, ``secure`` is ``auto`` or a boolean, and ``OAUTH_MIDDLEWARE_GITHUB_URL``
    gives ``provider=GitHub(url)`` for GitHub Enterprise Server. The list of options comes from
    :class:`~oauth_middleware.OAuthMiddleware`'s signature, so new options are covered.

    .. code-block:: python

        # GITHUB_OAUTH_CLIENT_ID=... GITHUB_OAUTH_CLIENT_SECRET_FILE=/run/secrets/github
        # OAUTH_MIDDLEWARE_SECRET_KEY=new-key,old-key OAUTH_MIDDLEWARE_REQUIRE_LOGIN=true
        # OAUTH_MIDDLEWARE_PUBLIC_PATHS=/static,/healthz
        options = options_from_env(max_age=3600)
        app.wsgi_app = OAuthMiddleware(app.wsgi_app, **options)

    Raises :class:`~oauth_middleware.errors.ConfigurationError`, naming the variable and saying
    what it expects, when a secret is missing, a value is malformed, or a variable starting with
    ``OAUTH_MIDDLEWARE_`` is unknown (a typo would otherwise be silently ignored). Secret values
    never appear in messages. The values are not validated further here: constructing the
    middleware does that (:func:`from_env` does both).

    :param environ: where to read the variables; :data:`os.environ` by default (None too).
    :param overrides: options given in Python; they win over the environment, whose variable for
        an overridden option is then not read at all.
    :return: keyword arguments for :class:`~oauth_middleware.OAuthMiddleware`.
    """
    environ = os.environ if environ is None else environ
    return _env_options(_middleware_class(None), environ, overrides)[0]


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

    A :class:`~oauth_middleware.errors.ConfigurationError` raised by the middleware about an
    option that came from a variable is prefixed with the variable's name.

    :param app: the WSGI application to protect.
    :param environ: where to read the variables; :data:`os.environ` by default (None too).
    :param middleware_class: a subclass of :class:`~oauth_middleware.OAuthMiddleware` to build.
    :param overrides: options given in Python; they win over the environment.
    """
    cls = _middleware_class(middleware_class)
    options, sources = _env_options(cls, os.environ if environ is None else environ, overrides)
    return _build(cls, app, options, sources)


def _ini_options(
    middleware_class: type[OAuthMiddleware],
    settings: t.Mapping[str, str],
    *,
    environ: t.Mapping[str, str],
    here: str | None,
) -> tuple[dict[str, t.Any], dict[str, str]]:
    """The options from a PasteDeploy section's settings, and which setting each came from."""
    parsers = text_options(middleware_class)
    parameters = option_parameters(middleware_class)
    valid = list(parsers) + [option + "_file" for option in SECRET_VARIABLES if option in parsers] + ["github_url"]
    for key in settings:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            raise ConfigurationError(
                "unknown setting %r in the oauth-middleware filter section%s. The settings are %s."
                % (key, " (did you mean %r?)" % close[0] if close else "", ", ".join(valid))
            )

    def from_ini(option: str) -> tuple[str, str] | None:
        return _read_secret(settings, option, option + "_file", here=here)

    def from_environ(option: str) -> tuple[str, str] | None:
        return _read_secret(environ, SECRET_VARIABLES[option], SECRET_VARIABLES[option] + "_FILE", here=None)

    options, sources = _secrets(
        parsers,
        required={name for name, p in parameters.items() if p.default is inspect.Parameter.empty},
        skip=(),
        lookups=[from_ini, from_environ],
        where=lambda option: (
            "Set %s (or %s_file) in the .ini file, or %s (or %s_FILE) in the environment."
            % (option, option, SECRET_VARIABLES[option], SECRET_VARIABLES[option])
        ),
    )
    if settings.get("github_url", "").strip():
        options["provider"] = _parse(_github_url, settings["github_url"], source="github_url", secret=False)
        sources["provider"] = "github_url"
    for key, text in settings.items():
        if key in parsers and key not in SECRET_VARIABLES:
            options[key] = _parse(parsers[key], text, source=key, secret=key in SECRET_OPTIONS)
            sources[key] = key
    return options, sources


def filter_factory(
    global_conf: t.Mapping[str, str], **local_conf: str
) -> t.Callable[[WSGIApplication], OAuthMiddleware]:
    """PasteDeploy filter factory (entry point ``egg:oauth-middleware#github``).

    The section's keys are the option names, their values text in the formats of
    :func:`options_from_env` (lists may also be whitespace-separated, across lines), plus
    ``client_id_file``, ``client_secret_file`` and ``secret_key_file`` (paths, relative to the
    .ini file's directory) and ``github_url`` (GitHub Enterprise Server). A secret missing from
    the section is read from the environment (``GITHUB_OAUTH_CLIENT_ID``,
    ``GITHUB_OAUTH_CLIENT_SECRET``, ``OAUTH_MIDDLEWARE_SECRET_KEY`` or their ``_FILE``
    variants), so it need not be written in the file. ``%(here)s`` and ``[DEFAULT]`` values are
    PasteDeploy's; other environment variables are not read.

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

    Raises :class:`~oauth_middleware.errors.ConfigurationError` naming the setting when one is
    unknown or malformed.

    :param global_conf: PasteDeploy's global configuration (``here``, ``[DEFAULT]``).
    :param local_conf: the section's settings.
    :return: a function wrapping an app in the configured middleware.
    """
    cls = _middleware_class(None)
    options, sources = _ini_options(cls, local_conf, environ=os.environ, here=global_conf.get("here"))

    def oauth_filter(app: WSGIApplication) -> OAuthMiddleware:
        return _build(cls, app, options, sources)

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
