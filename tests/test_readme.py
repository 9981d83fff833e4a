"""The README documents every option, with the real defaults, and its test command is real."""

from __future__ import annotations

import ast
import inspect
import pathlib
import re

from oauth_middleware import OAuthMiddleware

ROOT = pathlib.Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()


def options_table() -> dict[str, str]:
    section = README.split("## Options", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| (.+?) \| (.+?) \| (.+) \|$", section, flags=re.MULTILINE)
    return {name: default.strip() for name, _type, default, _meaning in rows}


def test_readme_table_lists_exactly_the_constructor_options() -> None:
    parameters = list(inspect.signature(OAuthMiddleware).parameters)
    assert parameters[0] == "app"
    assert list(options_table()) == parameters[1:]


def test_readme_table_shows_the_real_defaults() -> None:
    table = options_table()
    for name, parameter in inspect.signature(OAuthMiddleware).parameters.items():
        if name == "app":
            continue
        documented = table[name].strip("`")
        if parameter.default is inspect.Parameter.empty:
            assert documented == "required", name
        elif callable(parameter.default):
            assert documented == "%s.%s" % (parameter.default.__module__, parameter.default.__name__), name
        else:
            assert ast.literal_eval(documented) == parameter.default, name


def test_ci_runs_the_readme_test_command() -> None:
    command = re.search(r"```sh\n(python3 -m venv .+ pytest)\n```", README)
    assert command is not None
    assert command.group(1) in (ROOT / ".ci" / "run").read_text()
