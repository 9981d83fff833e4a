"""The middleware's options, declared once.

:data:`OPTIONS` drives the constructor's validation (:func:`validate`), the environment variables
(:mod:`oauth_middleware.env`), the PasteDeploy settings (:mod:`oauth_middleware.paste`), the
``check`` command and the options tables of the README and the docs (:func:`markdown_table`,
:func:`env_markdown_table`).

.. code-block:: python

    from oauth_middleware.options import OPTIONS, markdown_table

    [option.env for option in OPTIONS][:2]  # ["GITHUB_OAUTH_CLIENT_ID", "GITHUB_OAUTH_CLIENT_SECRET"]
    print(markdown_table())
"""

from __future__ import annotations

import dataclasses
import logging
import time
import typing as t

from . import access, parsers, validation
from .errors import ConfigurationError
from .parsers import Parser
from .validation import Context, Validator


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


log = logging.getLogger(__name__)

#: The default of an option that has none.
REQUIRED: t.Any = _Required()
#: Prefix of the middleware's environment variables (GitHub's client credentials excepted).
ENV_PREFIX = "OAUTH_MIDDLEWARE_"


def _numeric_logins(value: t.Any, source: str) -> list[str]:
    return [
        "%s: %r is read as a login; if it is an account id, write id:%s" % (source, login, login)
        for login in parsers.numeric_logins(value)
    ]


@dataclasses.dataclass(frozen=True)
class Option:
    """One keyword option of :class:`~oauth_middleware.OAuthMiddleware`.

    :param name: the keyword, e.g. ``"max_age"``.
    :param env: the environment variable that sets it, or None when it takes a Python object.
    :param type_text: its type as documented, e.g. ``"int | None"``.
    :param default_text: its default as documented (Python syntax), or ``"required"``.
    :param help: one paragraph of documentation (Markdown inline markup: backticks, ``**``).
    :param default: the default value, :data:`REQUIRED` when there is none.
    :param validate: checks and normalises a value given (raises ConfigurationError).
    :param parse: reads the value from text (environment, .ini), or None when it cannot be.
    :param text_format: how the value is written as text, for the environment table.
    :param example: an example of that text.
    :param setting: the PasteDeploy ``.ini`` key, or None.
    :param needs: options whose normalised values ``validate`` uses (validated first).
    :param secret: never shown, not even in error messages.
    :param file_variant: may also be read from a file named by ``<env>_FILE``/``<setting>_file``.
    :param warn: warnings about a value read from text, given the value and where it came from.
    """

    name: str
    env: str | None
    type_text: str
    default_text: str
    help: str
    default: t.Any
    validate: Validator
    parse: Parser | None = None
    text_format: str = ""
    example: str = ""
    setting: str | None = None
    needs: tuple[str, ...] = ()
    secret: bool = False
    file_variant: bool = False
    warn: t.Callable[[t.Any, str], list[str]] | None = None

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def _option(name: str, *, env: str | None = "", setting: str | None = "", **fields: t.Any) -> Option:
    """An :class:`Option` whose variable is ``OAUTH_MIDDLEWARE_<NAME>`` and setting ``name``
    unless given."""
    return Option(
        name=name,
        env=ENV_PREFIX + name.upper() if env == "" else env,
        setting=name if setting == "" else setting,
        **fields,
    )


_GITHUB_APP = "your GitHub OAuth app's settings"

#: Every option, in the constructor's order.
OPTIONS: tuple[Option, ...] = (
    _option(
        "client_id",
        env="GITHUB_OAUTH_CLIENT_ID",
        type_text="str",
        default_text="required",
        help="The OAuth app's client id.",
        default=REQUIRED,
        validate=validation.credential("copy it from %s" % _GITHUB_APP),
        parse=parsers.verbatim,
        text_format="text, required",
        example="`Iv1.0123456789abcdef`",
        file_variant=True,
    ),
    _option(
        "client_secret",
        env="GITHUB_OAUTH_CLIENT_SECRET",
        type_text="str",
        default_text="required",
        help="The OAuth app's client secret. Sent only in the token request body.",
        default=REQUIRED,
        validate=validation.credential("generate one in %s" % _GITHUB_APP),
        parse=parsers.verbatim,
        text_format="text, required",
        example="`/run/secrets/github` (as `_FILE`)",
        secret=True,
        file_variant=True,
    ),
    _option(
        "secret_key",
        type_text="str | bytes | list",
        default_text="required",
        help="At least 32 random bytes, or a list of them: the **first** encrypts, **all** decrypt (the "
        "`MultiFernet` order; the opposite of itsdangerous, where the last one signs). Rotate by putting a new "
        "key first; drop the old one after `max_age`. A key that is obviously not random (a short pattern "
        "repeated, fewer than 8 distinct characters) is refused: make one with `oauth-middleware keygen`.",
        default=REQUIRED,
        validate=validation.secret_keys,
        parse=parsers.secret_keys,
        text_format="a key, or comma-separated keys (in the file: one a line); the first encrypts, all decrypt; "
        "required",
        example="`NEWKEY,OLDKEY`",
        secret=True,
        file_variant=True,
    ),
    _option(
        "provider",
        env=ENV_PREFIX + "GITHUB_URL",
        setting="github_url",
        type_text="Provider | None",
        default_text="None",
        help='The OAuth provider. `None` means `GitHub()` (github.com); `GitHub("https://ghe.example.com")` for '
        "GitHub Enterprise Server.",
        default=None,
        validate=validation.provider,
        parse=parsers.github_url,
        text_format="a GitHub Enterprise Server address: `GitHub(url)`",
        example="`https://ghe.example.com`",
        needs=("allow_insecure_http",),
    ),
    _option(
        "scope",
        type_text="str | list[str]",
        default_text='("read:user", "user:email")',
        help="Scopes to request (a list, or a space- or comma-separated string).",
        default=("read:user", "user:email"),
        validate=validation.scope,
        parse=parsers.stripped,
        text_format="space- or comma-separated scopes",
        example="`read:user,user:email`",
        needs=("provider", "allowed_orgs", "allowed_teams", "allowed_groups"),
    ),
    _option(
        "login_path",
        type_text="str",
        default_text='"/auth/login"',
        help="Starts a login; `?next=/path` says where to go afterwards.",
        default="/auth/login",
        validate=validation.own_path(),
        parse=parsers.stripped,
        text_format="path",
        example="`/auth/login`",
    ),
    _option(
        "callback_path",
        type_text="str",
        default_text='"/auth/callback"',
        help="GitHub sends the browser back here. Register `https://YOUR-HOST` + `SCRIPT_NAME` + this path.",
        default="/auth/callback",
        validate=validation.own_path("login_path"),
        parse=parsers.stripped,
        text_format="path",
        example="`/auth/callback`",
        needs=("login_path",),
    ),
    _option(
        "logout_path",
        type_text="str",
        default_text='"/auth/logout"',
        help="`POST` logs out; `GET` shows a confirmation form.",
        default="/auth/logout",
        validate=validation.own_path("login_path", "callback_path"),
        parse=parsers.stripped,
        text_format="path",
        example="`/auth/logout`",
        needs=("login_path", "callback_path"),
    ),
    _option(
        "redirect_uri",
        type_text="str | None",
        default_text="None",
        help="The absolute callback URL registered with GitHub. `None` builds it from the request's scheme, "
        "`Host` and `SCRIPT_NAME`; set it in production. Must end with `callback_path`.",
        default=None,
        validate=validation.redirect_uri,
        parse=parsers.optional(parsers.stripped),
        text_format="absolute URL; empty or `none`: built per request",
        example="`https://app.example.com/auth/callback`",
        needs=("callback_path", "allow_insecure_http"),
    ),
    _option(
        "require_login",
        type_text="bool | list[str]",
        default_text="False",
        help="`False`: nothing is protected (log in via `login_path` when you like); `True`: every path; a list: "
        "these path prefixes.",
        default=False,
        validate=validation.require_login,
        parse=parsers.require_login,
        text_format="boolean, or comma-separated path prefixes",
        example="`true`, `/admin,/api`",
    ),
    _option(
        "public_paths",
        type_text="list[str]",
        default_text="()",
        help='Path prefixes never protected, e.g. `["/static", "/healthz"]`.',
        default=(),
        validate=validation.path_prefixes,
        parse=parsers.words,
        text_format="comma-separated path prefixes",
        example="`/static,/healthz`",
    ),
    _option(
        "max_age",
        type_text="int",
        default_text="604800",
        help="Absolute session lifetime in seconds (7 days), enforced server-side from the time sealed in the cookie.",
        default=7 * 24 * 3600,
        validate=validation.max_age,
        parse=parsers.integer,
        text_format="whole seconds",
        example="`86400`",
    ),
    _option(
        "cookie_name",
        type_text="str",
        default_text='"oauth_session"',
        help="Base name of the cookies; `__Host-` is prepended when they are Secure. Flow cookies are "
        "`NAME.flow.<hash>`, chunks `NAME.1`, `NAME.2`...",
        default="oauth_session",
        validate=validation.cookie_name,
        parse=parsers.stripped,
        text_format="letters, digits, `_`, `-`",
        example="`myapp_session`",
    ),
    _option(
        "secure",
        type_text="bool | None",
        default_text="None",
        help="`None`: cookies are `Secure` when the request is https, and always when `redirect_uri` is https; "
        "`True`: always (use behind a TLS proxy); `False`: never.",
        default=None,
        validate=validation.secure,
        parse=parsers.secure,
        text_format="`auto` (or empty), or a boolean",
        example="`true`",
        needs=("redirect_uri",),
    ),
    _option(
        "timeout",
        type_text="float | tuple[float, float]",
        default_text="10.0",
        help="Seconds each call to GitHub may take **in all**: connecting, sending, and reading the whole answer "
        "(a server dripping bytes cannot stretch it), or a `(connect, read)` pair: connecting within the first, "
        "the whole call within their sum. A login or renewal makes several calls, each with this budget (DNS "
        "look-ups are not covered). A timeout is answered with 504 and never retried.",
        default=10.0,
        validate=validation.timeout,
        parse=parsers.timeout,
        text_format="seconds, or `connect,read`",
        example="`10`, `3.05,27`",
    ),
    _option(
        "allow_insecure_http",
        type_text="bool",
        default_text="False",
        help="Permit `http://` URLs for the provider and the callback, for local development only (warns).",
        default=False,
        validate=validation.flag,
        parse=parsers.boolean,
        text_format="boolean (local development only)",
        example="`1`",
    ),
    _option(
        "allowed_users",
        type_text="list[str | int]",
        default_text="()",
        help="GitHub logins (`str`, case-insensitive) or account ids (`int`) admitted. Prefer ids: a login can "
        "be renamed and then registered by someone else; an id never changes (`oauth-middleware check` and the "
        "`/user` API show it).",
        default=(),
        validate=access.validate_users,
        parse=parsers.allowed_users,
        text_format="comma-separated logins, and account ids as `id:` and the digits (an all-digit entry is a "
        "login, and warns)",
        example="`octocat,id:583231`",
        warn=_numeric_logins,
    ),
    _option(
        "allowed_orgs",
        type_text="list[str]",
        default_text="()",
        help="Organisations whose members are admitted (checked with `/user/orgs`, every page); adds `read:org` "
        "to the scope.",
        default=(),
        validate=access.validate_orgs,
        parse=parsers.words,
        text_format="comma-separated organisations",
        example="`octo-org`",
    ),
    _option(
        "allowed_teams",
        type_text="list[str]",
        default_text="()",
        help='Teams, as `"org/team-slug"`, whose members are admitted (`/user/teams`); adds `read:org`. With no '
        "allow-list every GitHub user is admitted; with several, matching any one is enough. Others get 403 and "
        "no session.",
        default=(),
        validate=access.validate_teams,
        parse=parsers.words,
        text_format="comma-separated `org/team-slug`",
        example="`octo-org/ops`",
    ),
    _option(
        "allowed_domains",
        type_text="list[str]",
        default_text="()",
        help="Email domains whose users are admitted: the domain of an email address the provider marked verified "
        "(`email_verified`), or Google Workspace's `hd`. Needs an OpenID Connect provider.",
        default=(),
        validate=access.validate_domains,
        parse=parsers.words,
        text_format="comma-separated domains",
        example="`example.com`",
        needs=("provider",),
    ),
    _option(
        "allowed_groups",
        type_text="list[str]",
        default_text="()",
        help="Groups whose members are admitted: names in the OpenID Connect provider's groups claim (its "
        "`groups_claim`); with GitHub, organisations and `org/team-slug` teams (adds `read:org`). Case-insensitive.",
        default=(),
        validate=access.validate_orgs,
        parse=parsers.words,
        text_format="comma-separated group names",
        example="`engineering`",
    ),
    _option(
        "revalidate_after",
        type_text='int | None | "auto"',
        default_text='"auto"',
        help="Seconds after which a session's profile and memberships are fetched again on its next request: a "
        "user removed from an allowed org, or whose token was revoked, loses access then; GitHub being down keeps "
        "the session (retried a minute later) for up to `revalidate_grace`; a rate limit on the user's own token "
        'ends it. `"auto"`: 600 when allow-lists are set, never otherwise; `None` or `0`: never.',
        default="auto",
        validate=validation.revalidate_after,
        parse=parsers.revalidate_after,
        text_format="`auto`, `none` (or empty), or whole seconds",
        example="`600`",
        needs=("allowed_users", "allowed_orgs", "allowed_teams", "allowed_domains", "allowed_groups"),
    ),
    _option(
        "revalidate_grace",
        type_text="int",
        default_text="3600",
        help="Seconds a due re-validation may keep failing because GitHub cannot be reached before the session "
        "ends (meanwhile it is kept, and retried every minute): a GitHub outage shorter than this logs nobody out, "
        "and a removed member keeps access at most `revalidate_after` + this during one. Never unbounded. "
        "GitHub's answer that *this user's* rate limit is used up (403/429 with `x-ratelimit-remaining: 0` or "
        "`Retry-After`) is no outage: the user can cause it on purpose, so it ends the session at once (a new "
        "login works again when the limit resets).",
        default=3600,
        validate=validation.revalidate_grace,
        parse=parsers.integer,
        text_format="whole seconds",
        example="`3600`",
    ),
    _option(
        "idle_timeout",
        type_text="int | None",
        default_text="None",
        help="Seconds without a request after which the session ends; `None`: never. Activity is recorded in the "
        "cookie at most every quarter of this, so the cookie is not rewritten on every request.",
        default=None,
        validate=validation.optional_seconds,
        parse=parsers.optional(parsers.integer),
        text_format="whole seconds, or `none` (or empty)",
        example="`3600`",
    ),
    _option(
        "revoke_on_logout",
        type_text="bool",
        default_text="False",
        help="Also delete the token at GitHub on logout (`DELETE /applications/{client_id}/token`); a failure is "
        "logged and never blocks the logout.",
        default=False,
        validate=validation.flag,
        parse=parsers.boolean,
        text_format="boolean",
        example="`yes`",
    ),
    _option(
        "strip_identity_headers",
        type_text="list[str]",
        default_text="()",
        help="More request headers to remove from every request, besides the families auth proxies use "
        "(`X-Forwarded-User*`, `-Email`, `-Groups`, `-Access-Token`, `-Preferred-Username`, `X-Auth-Request-*`, "
        "`Remote-*`, `X-Remote-*`, `X-WEBAUTH-*`, ...); a name also covers longer names it begins "
        "(`X-Company-User` covers `X-Company-User-Id`).",
        default=(),
        validate=validation.header_prefixes,
        parse=parsers.words,
        text_format="comma-separated header names",
        example="`X-Company-User,X-Company-Roles`",
    ),
    _option(
        "store",
        type_text="Store | str | None",
        default_text="None",
        help="Where sessions live. `None`: in the encrypted cookie (no server to run). A `Store` "
        '(`RedisStore(client=...)`) or a `"redis://"`/`"rediss://"` URL: on the server, the cookie holding only a '
        "ticket, so logout ends a session on every host, `revoke_user()` logs a user out everywhere, and login "
        'states and token refreshes are single across hosts. `"memory"`: in this process (one worker only; tests).',
        default=None,
        validate=validation.store,
        parse=parsers.stripped,
        text_format="`redis://` or `rediss://` URL, or empty",
        example="`rediss://app:PASSWORD@redis.internal:6380/0`",
        secret=True,
    ),
    _option(
        "clock",
        env=None,
        setting=None,
        type_text="callable",
        default_text="time.time",
        help="Returns the current time in seconds; tests inject a fake clock instead of sleeping.",
        default=time.time,
        validate=validation.clock,
    ),
)
#: The options by name.
BY_NAME: dict[str, Option] = {option.name: option for option in OPTIONS}


def _validation_order(table: t.Sequence[Option]) -> tuple[Option, ...]:
    """``table`` in the order of validation: each option after the options it needs, otherwise
    in table order."""
    order: list[Option] = []
    pending = list(table)
    while pending:  # each round takes one option: bounded by len(table)
        ready = [option for option in pending if all(need in {o.name for o in order} for need in option.needs)]
        if not ready:
            raise RuntimeError("the needs of %s form a cycle" % ", ".join(option.name for option in pending))
        order.append(ready[0])
        pending = [option for option in pending if option is not ready[0]]
    return tuple(order)


_VALIDATION_ORDER = _validation_order(OPTIONS)


def validate(
    given: t.Mapping[str, t.Any],
    *,
    labels: t.Mapping[str, str] | None = None,
    env: t.Mapping[str, str] | None = None,
) -> dict[str, t.Any]:
    """Validate and normalise every option; those not in ``given`` take their defaults.

    .. code-block:: python

        validate({"client_id": "Iv1.x", "client_secret": "s", "secret_key": key})["max_age"]  # 604800

    :param given: option values by name.
    :param labels: how to name options in messages, e.g. the .ini setting they came from.
    :param env: the environment variable each option came from, if any: messages name it and
        :attr:`ConfigurationError.env <oauth_middleware.ConfigurationError.env>` is set.
    :return: the normalised values by name, in :data:`OPTIONS` order.
    :raises ConfigurationError: with :attr:`~oauth_middleware.ConfigurationError.option` set.
    """
    env = env or {}
    names = {**(labels or {}), **env}
    done: dict[str, t.Any] = {}
    for option in _VALIDATION_ORDER:
        value = given.get(option.name, option.default)
        ctx = Context(option.name, done, names)
        try:
            if value is REQUIRED:
                raise ctx.error("%s is required" % ctx.name)
            done[option.name] = option.validate(value, ctx)
        except ConfigurationError as exc:
            exc.option = exc.option or option.name
            exc.env = exc.env or env.get(exc.option)
            raise
    return {option.name: done[option.name] for option in OPTIONS}


def parse(option: Option, text: str, *, source: str, from_env: bool = False) -> t.Any:
    """Read ``option``'s value from ``text`` that came from ``source`` (a variable or setting).

    Raises a ConfigurationError naming ``source`` that never shows a secret; logs a warning for
    a value that is probably not what was meant (an all-digit login in ``allowed_users``).

    :param from_env: ``source`` is an environment variable (set as the error's ``env``).
    """
    value = parse_with(
        option.parse or parsers.verbatim,
        text,
        source=source,
        option=option.name,
        secret=option.secret,
        from_env=from_env,
    )
    for message in option.warn(value, source) if option.warn else ():
        log.warning("%s", message)
    return value


def parse_with(
    parser: Parser, text: str, *, source: str, option: str, secret: bool = False, from_env: bool = False
) -> t.Any:
    """:func:`parse` with an explicit parser (for options outside :data:`OPTIONS`)."""
    try:
        return parser(text)
    except parsers.Unparsable as exc:
        if secret:  # never echo a secret, not even a malformed one
            message = "%s must be %s" % (source, exc.expected)
        else:
            shown = text if len(text) <= 200 else text[:200] + "..."
            message = "%s must be %s; got %r" % (source, exc.expected, shown)
        raise ConfigurationError(message, option=option, env=source if from_env else None) from None


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _code(text: str) -> str:
    return "`%s`" % _cell(text)


def markdown_table() -> str:
    """The README's options table (Markdown), one row per option: name, type, default, meaning.

    .. code-block:: python

        markdown_table().splitlines()[0]  # "| option | type | default | meaning |"
    """
    rows = ["| option | type | default | meaning |", "|---|---|---|---|"]
    for option in OPTIONS:
        default = option.default_text if option.required else _code(option.default_text)
        rows.append(
            "| %s | %s | %s | %s |" % (_code(option.name), _code(option.type_text), default, _cell(option.help))
        )
    return "\n".join(rows) + "\n"


def env_markdown_table() -> str:
    """The README's environment variables table (Markdown): variable, option, format, example."""
    rows = ["| variable | option | format | example |", "|---|---|---|---|"]
    for option in OPTIONS:
        if option.env is None:
            continue
        variable = _code(option.env) + (" (`_FILE`)" if option.file_variant else "")
        rows.append(
            "| %s | %s | %s | %s |" % (variable, _code(option.name), _cell(option.text_format), _cell(option.example))
        )
    return "\n".join(rows) + "\n"
