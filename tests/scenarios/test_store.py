import json
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from scenarios.store import ResultStore, RunRecord, canonical_params


def _rec(params, seed, status="done", **kw):
    return RunRecord(params=params, seed=seed, run_seed=1000 + seed, label="", status=status, **kw)


def test_wal_mode_and_each_run_committed_as_it_is_recorded(tmp_path):
    path = tmp_path / "r.sqlite"
    store = ResultStore(path)
    assert store.journal_mode == "wal"
    store.record(_rec({"n": 3}, 0, metrics={"a.b": 1.5}))
    # A second connection sees the run at once: it was committed, not held open.
    other = sqlite3.connect(path)
    assert other.execute("SELECT COUNT(*), MAX(status) FROM runs").fetchone() == (1, "done")
    store.record(_rec({"n": 3}, 1, metrics={"a.b": 2.5}))
    assert other.execute("SELECT COUNT(*) FROM runs").fetchone() == (2,)
    other.close()
    store.close()


def test_one_row_per_params_and_seed_whatever_the_key_order(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.record(_rec({"a": 1, "b": [1, 2]}, 0, status="failed", error="ValueError: x"))
        store.record(_rec({"b": [1, 2], "a": 1}, 0, metrics={"m": 7}))  # same run, retried
        store.record(_rec({"a": 1, "b": [1, 2]}, 1, metrics={"m": 8}))
        store.record(_rec({"a": 2, "b": [1, 2]}, 0, metrics={"m": 9}))
        assert store.count() == 3
        runs = {(canonical_params(r.params), r.seed): r for r in store.runs()}
        retried = runs[(canonical_params({"a": 1, "b": [1, 2]}), 0)]
        assert retried.status == "done" and retried.metrics == {"m": 7}
        assert retried.error is None
        assert store.count("done") == 3 and store.count("failed") == 0
    # The uniqueness is the database's own constraint, not only the code's care.
    conn = sqlite3.connect(tmp_path / "r.sqlite")
    row = conn.execute(
        "SELECT params, seed, run_seed, label, status, duration, version, "
        "finished_at FROM runs LIMIT 1"
    ).fetchone()
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO runs (params, seed, run_seed, label, status, duration, "
            "version, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            row,
        )
    conn.close()


def _pyproject_version() -> str:
    root = Path(__file__).resolve().parents[2]
    return tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]


def test_row_holds_params_seed_metrics_status_error_duration_version(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.record(
            _rec({"x": 0.1, "s": "two_faced"}, 4, metrics={"wmsr.f": None, "k": 3}, duration=0.25)
        )
        store.record(
            _rec(
                {"x": 0.2, "s": "two_faced"},
                4,
                status="failed",
                error="ScenarioError: bad\ntraceback",
                duration=0.5,
            )
        )
    conn = sqlite3.connect(tmp_path / "r.sqlite")
    rows = conn.execute(
        "SELECT params, seed, run_seed, status, metrics, error, duration, "
        "version FROM runs ORDER BY id"
    ).fetchall()
    assert json.loads(rows[0][0]) == {"x": 0.1, "s": "two_faced"}
    assert rows[0][1:4] == (4, 1004, "done")
    assert json.loads(rows[0][4]) == {"wmsr.f": None, "k": 3}
    assert rows[0][5] is None and rows[0][6] == 0.25
    assert rows[1][3] == "failed" and rows[1][5].startswith("ScenarioError: bad")
    assert {r[7] for r in rows} == {_pyproject_version()}
    conn.close()


def test_finished_runs_survive_a_process_that_dies_without_closing(tmp_path):
    path = tmp_path / "r.sqlite"
    code = (
        "import os, sys\n"
        "from scenarios.store import ResultStore, RunRecord\n"
        f"s = ResultStore({str(path)!r})\n"
        "for i in range(3):\n"
        "    s.record(RunRecord({'i': i}, 0, 1, '', 'done', {'m': i}))\n"
        "os._exit(9)\n"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 9
    with ResultStore(path, create=False) as store:
        assert sorted(r.metrics["m"] for r in store.runs()) == [0, 1, 2]


def test_meta_and_missing_store(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.set_meta({"sweep": "a", "metrics": "[]"})
        store.set_meta({"sweep": "b"})
        assert store.meta() == {"sweep": "b", "metrics": "[]"}
    with pytest.raises(FileNotFoundError):
        ResultStore(tmp_path / "nope.sqlite", create=False)
    assert not (tmp_path / "nope.sqlite").exists()


def test_canonical_params_is_order_free_and_refuses_nan():
    assert canonical_params({"b": 1, "a": [2, 3]}) == canonical_params({"a": [2, 3], "b": 1})
    assert canonical_params({"a": 1}) != canonical_params({"a": 1.0})
    with pytest.raises(ValueError):
        canonical_params({"a": float("nan")})
