"""Reading option values from text: environment variables and PasteDeploy ``.ini`` settings.

Each parser takes the text and returns the Python value the constructor takes, or raises
:class:`Unparsable` saying what text would do. The values are validated afterwards, by the same
validators as values given in Python. :mod:`oauth_middleware.options` says which parser each
option uses; options outside that table (a subclass's own) get one from their annotation
(:func:`for_annotation`).
"""

from __future__ import annotations

import inspect
import math
import re
import typing as t
from urllib.parse import urlsplit

from .providers import GitHub, Provider

Parser = t.Callable[[str], t.Any]

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
BOOLEAN = "a boolean (1, true, yes, on or 0, false, no, off)"
#: The prefix that marks an account id in ``allowed_users`` text: ``id:583231``.
ID_PREFIX = "id:"


class Unparsable(ValueError):
    """A text value that does not parse; ``expected`` says what would."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def words(text: str) -> list[str]:
    """A list: items separated by commas or whitespace (newlines too, for .ini files)."""
    return [item for item in re.split(r"[\s,]+", text) if item]


def stripped(text: str) -> str:
    return text.strip()


def verbatim(text: str) -> str:
    return text


def boolean(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise Unparsable(BOOLEAN)


def integer(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise Unparsable("a whole number, e.g. 3600") from None


def number(text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise Unparsable("a number, e.g. 10 or 2.5")
    return value


def optional(parser: Parser) -> Parser:
    """``parser``, with an empty value or ``none`` meaning None."""

    def parse(text: str) -> t.Any:
        if text.strip().lower() in ("", "none"):
            return None
        try:
            return parser(text)
        except Unparsable as exc:
            raise Unparsable("%s, or none" % exc.expected) from None

    return parse


def require_login(text: str) -> bool | list[str]:
    word = text.strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    prefixes = words(text)
    if not prefixes or not all(prefix.startswith("/") for prefix in prefixes):
        raise Unparsable("%s, or a comma-separated list of path prefixes such as /admin,/api" % BOOLEAN)
    return prefixes


def revalidate_after(text: str) -> int | str | None:
    word = text.strip().lower()
    if word == "auto":
        return "auto"
    if word in ("", "none"):
        return None
    try:
        return int(word)
    except ValueError:
        raise Unparsable("auto, none, or a whole number of seconds such as 600") from None


def timeout(text: str) -> float | tuple[float, float]:
    parts = words(text)
    try:
        if len(parts) == 1:
            return number(parts[0])
        if len(parts) == 2:
            return (number(parts[0]), number(parts[1]))
    except Unparsable:
        pass
    raise Unparsable("seconds such as 10, or a connect,read pair of seconds such as 3.05,27")


def secure(text: str) -> bool | None:
    word = text.strip().lower()
    if word in ("", "auto"):
        return None
    try:
        return boolean(word)
    except Unparsable:
        raise Unparsable("auto, or %s" % BOOLEAN) from None


def secret_keys(text: str) -> str | list[str]:
    """One key, or several separated by commas or lines (the first encrypts)."""
    keys = [key.strip() for key in re.split(r"[,\n]", text) if key.strip()]
    return keys[0] if len(keys) == 1 else keys


def github_url(text: str) -> Provider:
    """The web address of a GitHub Enterprise Server: ``GitHub(url)``."""
    value = text.strip().rstrip("/")
    try:
        parts = urlsplit(value)
        valid = parts.scheme in ("https", "http") and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid or parts.path or parts.query or parts.fragment:
        raise Unparsable("the web address of the GitHub server, such as https://github.example.com")
    return GitHub(value)


def allowed_users(text: str) -> list[str | int]:
    """Logins, and account ids written ``id:583231``.

    .. code-block:: python

        allowed_users("octocat, id:583231")  # ["octocat", 583231]
    """
    result: list[str | int] = []
    for item in words(text):
        if item.lower().startswith(ID_PREFIX):
            digits = item[len(ID_PREFIX) :]
            if not (digits.isascii() and digits.isdigit() and int(digits) > 0):
                raise Unparsable(
                    "logins and account ids separated by commas, an id written as id: and its digits, "
                    "such as octocat,id:583231"
                )
            result.append(int(digits))
        else:
            result.append(item)
    return result


def numeric_logins(value: t.Iterable[object]) -> list[str]:
    """The all-digit logins in a parsed ``allowed_users``: most likely meant as account ids."""
    return [item for item in value if isinstance(item, str) and item.isdigit()]


#: Parsers by annotation (``typing.``/``t.`` prefixes, spaces and ``| None`` removed).
_BY_TYPE: dict[str, Parser] = {
    "bool": boolean,
    "int": integer,
    "float": number,
    "str": stripped,
    "Sequence[str]": words,
    "Iterable[str]": words,
    "Collection[str]": words,
    "list[str]": words,
    "tuple[str,...]": words,
}


def for_annotation(parameter: inspect.Parameter) -> Parser | None:
    """How to read an option that is not in :data:`oauth_middleware.options.OPTIONS` (a
    subclass's own) from text, guessed from its annotation or default; None if it takes a Python
    object."""
    annotation = parameter.annotation
    if not isinstance(annotation, str):
        annotation = inspect.formatannotation(annotation)
    annotation = re.sub(r"\b(?:typing|t|collections\.abc)\.", "", annotation).replace(" ", "")
    members = annotation.split("|")
    parser = _BY_TYPE.get("|".join(member for member in members if member != "None"))
    default = parameter.default
    if parser is None and "Callable" not in annotation:
        if isinstance(default, bool):
            parser = boolean
        elif isinstance(default, int):
            parser = integer
        elif isinstance(default, float):
            parser = number
        elif isinstance(default, str):
            parser = stripped
        elif isinstance(default, (tuple, list, frozenset)):
            parser = words
    if parser is None:
        return None
    return optional(parser) if "None" in members else parser
