"""The ``.. oauth-options::`` directive: the table of :class:`~oauth_middleware.OAuthMiddleware`'s
options, generated at build time so it can never drift from the code.

The rows come from ``oauth_middleware.options.OPTIONS`` (the declarative option table) when that
module exists, and otherwise from the constructor's signature plus the ``:param name:`` lines of
its docstring. The environment variable of each option comes from the table or, failing that,
from ``oauth_middleware.config``.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
import typing as t

if t.TYPE_CHECKING:
    from sphinx.application import Sphinx

HEADER = ("option", "meaning")


@dataclasses.dataclass(frozen=True)
class Row:
    """One option as the table shows it; ``help`` is reStructuredText."""

    name: str
    env: str | None
    type_text: str
    default_text: str
    help: str


def rows() -> list[Row]:
    """The table's rows: from the option table if the package has one, else from the signature."""
    try:
        options = importlib.import_module("oauth_middleware.options")
    except ModuleNotFoundError as error:
        if error.name != "oauth_middleware.options":
            raise
        return rows_from_signature()
    return [
        Row(option.name, option.env, option.type_text, option.default_text, markdown_to_rst(option.help))
        for option in options.OPTIONS
    ]


def rows_from_signature() -> list[Row]:
    """Rows read from ``OAuthMiddleware.__init__``'s signature and the class's ``:param:`` lines."""
    from oauth_middleware import OAuthMiddleware

    documented = param_docs((OAuthMiddleware.__doc__ or "") + "\n" + (OAuthMiddleware.__init__.__doc__ or ""))
    found = []
    for name, parameter in inspect.signature(OAuthMiddleware.__init__).parameters.items():
        if name in ("self", "app"):
            continue
        if name not in documented:
            raise ValueError("OAuthMiddleware's docstring has no ':param %s:' line" % name)
        found.append(Row(name, env_variable(name), type_text(parameter), default_text(parameter), documented[name]))
    return found


def param_docs(docstring: str) -> dict[str, str]:
    """``{name: text}`` of the ``:param name: text`` fields in ``docstring`` (continuation lines joined)."""
    params: dict[str, str] = {}
    current: str | None = None
    for line in inspect.cleandoc(docstring).splitlines():
        match = re.match(r"\s*:param (\w+):\s*(.*)", line)
        if match:
            current = match.group(1)
            params[current] = match.group(2).strip()
        elif current and line.startswith((" ", "\t")) and line.strip():
            params[current] += " " + line.strip()
        else:
            current = None
    return params


def env_variable(name: str) -> str | None:
    """The environment variable of option ``name`` in today's ``oauth_middleware.config``, if any."""
    config = importlib.import_module("oauth_middleware.config")
    text_options = getattr(config, "text_options", None)
    variable = getattr(config, "env_variable", None)
    if text_options is None or variable is None:
        return None
    if name != "provider" and name not in text_options():
        return None
    return str(variable(name))


def type_text(parameter: inspect.Parameter) -> str:
    annotation = parameter.annotation
    text = annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)
    return re.sub(r"\bt\.", "", text)


def default_text(parameter: inspect.Parameter) -> str:
    default = parameter.default
    if default is inspect.Parameter.empty:
        return "required"
    if callable(default):
        return "%s.%s" % (default.__module__, default.__qualname__)
    return repr(default)


def markdown_to_rst(text: str) -> str:
    """The inline Markdown of the option table (code, links, bold) as reStructuredText."""
    text = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", r"`\1 <\2>`__", text)
    return re.sub(r"(?<![`\w])`([^`]+)`(?![`\w])", r"``\1``", text)


def render(table: t.Iterable[Row]) -> list[str]:
    """The rows as a two-column reStructuredText ``list-table`` (narrow enough for the page):
    the option with its type, default and environment variable, then what it does."""
    lines = [".. list-table::", "   :header-rows: 1", "   :widths: 35 65", "   :class: oauth-options", ""]
    lines += ["   * - %s" % HEADER[0], "     - %s" % HEADER[1]]
    for row in table:
        default = row.default_text if row.default_text == "required" else "``%s``" % row.default_text
        lines += [
            "   * - **%s**" % row.name,
            "",
            "       | type: ``%s``" % row.type_text,
            "       | default: %s" % default,
            "       | environment: %s" % ("``%s``" % row.env if row.env else "none (Python only)"),
            "     - %s" % row.help,
        ]
    return lines


def setup(app: Sphinx) -> dict[str, t.Any]:
    # Sphinx is imported here only: the rows and their rendering are plain Python, which the test
    # suite checks against the constructor without Sphinx installed
    from docutils import nodes
    from docutils.statemachine import StringList
    from sphinx.util.docutils import SphinxDirective

    class OptionsTable(SphinxDirective):
        """``.. oauth-options::``: no arguments, no content."""

        def run(self) -> list[nodes.Node]:
            container = nodes.container()
            lines = StringList(render(rows()), source="oauth-options")
            self.state.nested_parse(lines, self.content_offset, container)
            return list(container.children)

    app.add_directive("oauth-options", OptionsTable)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
