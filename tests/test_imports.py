"""No import cycle anywhere in the package: every module imports on its own, and the graph of
the package's imports (read with ``ast``, lazy imports inside functions included) is acyclic."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

import oauth_middleware

PACKAGE = pathlib.Path(oauth_middleware.__file__).parent
NAME = "oauth_middleware"


def modules() -> dict[str, pathlib.Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = (NAME, *path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """The import statements that run: all of them, anywhere, except under ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    known = modules()
    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                # "from . import config" imports the module config; "from . import __version__" and
                # "from .errors import X" import the package and the module errors
                targets = [
                    prefix + "." + alias.name if prefix + "." + alias.name in known else prefix for alias in node.names
                ]
            for target in targets:
                while target and target not in known and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target in known and target != module:
                    edges.add(target)
        graph[module] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_package_import_graph_has_no_cycle() -> None:
    graph = import_graph()
    assert (
        "oauth_middleware.config" in graph["oauth_middleware.cli"]
        or "oauth_middleware.env" in graph["oauth_middleware.cli"]
    )
    assert "oauth_middleware.options" in graph["oauth_middleware.middleware"]  # the graph sees real edges
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_the_old_config_middleware_cycle() -> None:
    """The check would have failed before the split: config imported middleware (in a function)
    and middleware imported config."""
    graph = {"a.config": {"a.errors"}, "a.middleware": {"a.config"}, "a.errors": set()}
    assert find_cycle(graph) is None
    graph["a.config"].add("a.middleware")
    assert find_cycle(graph) == ["a.config", "a.middleware", "a.config"]
    tree = ast.parse("import typing as t\nif t.TYPE_CHECKING:\n    from .x import y\ndef f():\n    from .z import w\n")
    assert [node.module for node in _imports(tree) if isinstance(node, ast.ImportFrom)] == ["z"]


@pytest.mark.parametrize("module", sorted(modules()))
def test_every_module_imports_alone_in_a_fresh_interpreter(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import %s" % module], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
