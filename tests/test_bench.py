"""Smoke test of the benchmark (bench/run.py): it runs and prints its tables. No timing assertions."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).parent.parent


def run_bench(script: str, *options: str) -> subprocess.CompletedProcess[str]:
    """``python bench/SCRIPT OPTIONS...``, bounded at 120 s."""
    command = [sys.executable, str(ROOT / "bench" / script), *options]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def test_quick_benchmark_runs_and_prints_its_tables() -> None:
    done = run_bench("run.py", "--quick", "--only", "inprocess,login,memory")
    assert done.returncode == 0, done.stderr[-3000:]
    for header in (
        "| in-process variant | us/call (median) | min-max | added vs (a), us | target | met |",
        "| login round trip | ms CPU per login (median) | min-max | target | met |",
        "| memory | requests | sessions | RSS (MiB) | sessions cached |",
        "| target | wanted | measured | met |",
    ):
        assert header in done.stdout, header
    assert "## 2. HTTP" not in done.stdout  # --only is honoured


def test_quick_redis_overhead_benchmark_runs_and_prints_its_tables() -> None:
    """bench/redis_overhead.py --quick (real redis-server, gunicorn): its tables, never its timings."""
    pytest.importorskip("redis", reason="redis-py is not installed: pip install -e '.[test]'")
    pytest.importorskip("gunicorn", reason="the HTTP section serves the apps with gunicorn")
    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server on PATH (.ci/run installs Debian's redis-server package)")
    done = run_bench("redis_overhead.py", "--quick", "--python-load")
    assert done.returncode == 0, done.stderr[-3000:]
    for header in (
        "| variant | us/call | min-max | added vs (a), us | added vs (b), us | target | met |",
        "| http variant | requests/s (median) | min-max | ratio to bare | target | met | server CPU us/request ",
        "| `MEMORY USAGE` of a session key (octocat's profile and a token, AES-GCM encrypted) |",
        "| `MEMORY USAGE` of the user's index (one session) |",
    ):
        assert header in done.stdout, header
    rows = [line for line in done.stdout.splitlines() if line.startswith("| wrapped, logged in")]
    assert len(rows) == 2 and all(row.endswith("| 0 |") for row in rows), rows  # no errors under load
