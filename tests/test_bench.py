"""Smoke test of the benchmark (bench/run.py): it runs and prints its tables. No timing assertions."""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).parent.parent


def test_quick_benchmark_runs_and_prints_its_tables() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--only", "inprocess,login,memory"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for header in (
        "| in-process variant | us/call (median) | min-max | added vs (a), us | target | met |",
        "| login round trip | ms CPU per login (median) | min-max | target | met |",
        "| memory | requests | sessions | RSS (MiB) | sessions cached |",
        "| target | wanted | measured | met |",
    ):
        assert header in done.stdout, header
    assert "## 2. HTTP" not in done.stdout  # --only is honoured
