"""`swarm bench --smoke` runs every benchmark at tiny sizes, so none can rot.

The figures a smoke run prints mean nothing (and no test ever asserts on timing); what
is checked is that every script in benchmarks/ still runs to the end.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHES = sorted(p.stem.removeprefix("bench_") for p in (ROOT / "benchmarks").glob("bench_*.py"))


@pytest.mark.slow
def test_swarm_bench_smoke_runs_every_benchmark(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    proc = subprocess.run(
        [sys.executable, "-m", "scenarios.cli", "bench", "--smoke"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=900,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "Traceback" not in out, out[-4000:]
    for name in BENCHES:
        assert f"== benchmark {name} (smoke)" in proc.stdout


def test_bench_names_an_unknown_benchmark_in_one_line(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "scenarios.cli", "bench", "nosuch", "--smoke"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "unknown benchmark 'nosuch'" in proc.stderr
