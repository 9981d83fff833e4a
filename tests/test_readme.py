"""The README is short, its links lead somewhere, and its test command is real.

The options table lives in the docs now, generated from the code (tests/test_docs.py checks it
against the constructor); the README's example runs as written (tests/test_docs.py too).
"""

from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()


def test_readme_fits_in_two_screens() -> None:
    assert len(README.splitlines()) < 150


def test_readme_links_into_the_docs_lead_to_files_that_exist() -> None:
    targets = re.findall(r"\]\(([^)#:]+)\)", README)
    assert len([target for target in targets if target.startswith("docs/")]) >= 10
    for target in targets:
        assert (ROOT / target).exists(), target


def test_ci_runs_the_readme_test_command() -> None:
    command = re.search(r"```sh\n(python3 -m venv .+ pytest)\n```", README)
    assert command is not None
    assert command.group(1) in (ROOT / ".ci" / "run").read_text()
