"""The test suite's own layout: shared helpers live in tests/support/ (and conftest.py fixtures),
never in a test module that others import; the testing package imports nothing private; the
`github` fixture still takes the calls tests made on the old `responses`-based mock."""

from __future__ import annotations

import ast
import json
import pathlib
import re
import typing as t

import requests
from support import TOKEN, TOKEN_URL, USER_URL, log_in, start_login

ROOT = pathlib.Path(__file__).parent.parent
TESTS = ROOT / "tests"


def imported_modules(path: pathlib.Path) -> list[str]:
    """Every module name ``path`` imports, anywhere in it (``from . import x`` gives ``.x``)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names.append(base)
            names.extend(
                base.rstrip(".") + "." + alias.name if node.module else base + alias.name for alias in node.names
            )
    return names


def imports_a_test_module(names: list[str]) -> list[str]:
    return [name for name in names if any(part.startswith("test_") for part in name.lstrip(".").split("."))]


def test_no_test_module_imports_another() -> None:
    offenders = {
        path.name: found
        for path in sorted(TESTS.glob("test_*.py"))
        if (found := imports_a_test_module(imported_modules(path)))
    }
    assert offenders == {}, "move shared helpers to tests/support/ or a conftest.py fixture: %r" % offenders


def test_the_layout_check_catches_each_spelling(tmp_path: pathlib.Path) -> None:
    spellings = [
        "from test_renewal import make_site",
        "import test_renewal",
        "from tests.test_renewal import Site",
        "from tests import test_renewal",
        "from . import test_renewal",
        "def f():\n    from test_renewal import Site",
    ]
    for source in spellings:
        module = tmp_path / "test_x.py"
        module.write_text(source + "\n")
        assert imports_a_test_module(imported_modules(module)), source
    module.write_text("from support import log_in\nimport conftest\nfrom hypothesis import strategies\n")
    assert imports_a_test_module(imported_modules(module)) == []


def test_testing_package_imports_nothing_private_from_other_packages() -> None:
    """A private module of a dependency (``urllib3._collections``) may move in any release."""
    private = {
        path.name: name
        for path in sorted((ROOT / "oauth_middleware" / "testing").glob("*.py"))
        for name in imported_modules(path)
        if not name.startswith((".", "oauth_middleware"))
        and any(p.startswith("_") for p in name.split(".")[1:])
        and not name.startswith("__future__")
    }
    assert private == {}


def test_the_github_fixture_still_takes_the_old_responses_style_calls(make_app: t.Any, github: t.Any) -> None:
    """Tests written against the old `responses`-based GitHubMock (``github.rsps``) still run."""
    github.rsps.add("GET", "https://api.github.com/user/orgs", json=[{"login": "octo-org"}])
    github.rsps.add("GET", re.compile(r"https://api\.github\.com/user/teams(\?.*)?$"), json=[])
    profiles: list[str] = []

    def profile(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        profiles.append(str(request.headers["Authorization"]))
        return 200, {"Content-Type": "application/json"}, json.dumps({"login": "mona", "id": 7})

    github.rsps.add_callback("GET", USER_URL, profile)
    app = make_app(allowed_orgs=["octo-org"])
    log_in(app)
    assert app.get("/x").json["groups"] == ["octo-org"] and profiles == ["Bearer " + TOKEN]
    assert [call.request.url.split("?")[0] for call in github.rsps.calls][:2] == [TOKEN_URL, USER_URL]
    github.rsps.replace("POST", TOKEN_URL, body=requests.ReadTimeout())
    state = start_login(app)["state"]
    assert app.get("/auth/callback", {"code": "c0de", "state": state}, expect_errors=True).status_int == 504
