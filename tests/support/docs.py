"""The documentation's Python blocks, as files a test can write out and run."""

from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
FENCE = re.compile(r"^```python\n(.*?)^```\n", re.DOTALL | re.MULTILINE)
FILE_HEADER = re.compile(r"# (\w+\.py)")


def python_files(page: str) -> dict[str, str]:
    """The page's Python blocks by file name (each must open with a ``# name.py`` line)."""
    files: dict[str, str] = {}
    for block in FENCE.findall((ROOT / page).read_text()):
        header = FILE_HEADER.fullmatch(block.splitlines()[0])
        assert header, "%s: a Python block must start with '# file.py' so a test can run it:\n%s" % (page, block)
        files[header.group(1)] = block
    return files
