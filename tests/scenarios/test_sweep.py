import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scenarios.cli import main
from scenarios.config import ScenarioError
from scenarios.store import ResultStore
from scenarios.sweep import (
    available_sweeps,
    derive_seed,
    load_sweep,
    run_sweep,
    run_tasks_inline,
)

TINY = """
name = "tiny"
scenario = "byzantine-consensus"
seeds = 2
metrics = ["lcp.final_spread", "wmsr.final_spread", "wmsr.hull_violation",
           "wmsr.converged_round"]
[params]
n_robots = 12
rounds = 30
[grid]
n_byzantine = [1, 2]
"""


def _write(tmp_path: Path, text: str, name: str = "sweep.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _by_key(records):
    return {r.key: (r.status, r.run_seed, r.metrics) for r in records}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny sweep, its in-process reference runs, and a 2-worker local sweep of it."""
    d = tmp_path_factory.mktemp("tiny")
    sweep = load_sweep(_write(d, TINY))
    reference = _by_key(run_tasks_inline(sweep))
    result = run_sweep(sweep, d / "two", workers=2, progress=False)
    with ResultStore(result.store, create=False) as store:
        two = _by_key(store.runs())
    return sweep, reference, result, two


# ---------------------------------------------------------------------------- seeding
def test_run_seed_depends_on_sweep_params_and_seed_only(tmp_path):
    a = load_sweep(_write(tmp_path, TINY, "a.toml"))
    # Same sweep name, another grid and order: the shared combinations keep their seeds.
    b = load_sweep(
        _write(
            tmp_path,
            TINY.replace("[1, 2]", "[3, 2, 1]").replace("seeds = 2", "seeds = 3"),
            "b.toml",
        )
    )
    seeds_a = {r.key: r.run_seed for r in a.runs}
    seeds_b = {r.key: r.run_seed for r in b.runs}
    assert len(seeds_a) == 4 and len(seeds_b) == 9
    assert all(seeds_b[k] == s for k, s in seeds_a.items())
    # Any change of name, parameters or seed index changes the seed.
    r = a.runs[0]
    assert (
        len(
            {
                derive_seed("tiny", r.params, 0),
                derive_seed("tiny2", r.params, 0),
                derive_seed("tiny", {**r.params, "rounds": 31}, 0),
                derive_seed("tiny", r.params, 1),
            }
        )
        == 4
    )
    assert derive_seed("tiny", dict(reversed(r.params.items())), 0) == derive_seed(
        "tiny", r.params, 0
    )
    assert all(0 <= s < 2**63 for s in seeds_b.values())


def test_run_seed_is_the_same_in_another_process_with_another_hash_seed():
    params = {"n_robots": 12, "attack": "two_faced", "radio_range": 0.15, "protocols": ["lcp"]}
    code = (
        f"from scenarios.sweep import derive_seed; print(derive_seed('wmsr-vs-f', {params!r}, 3))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    ).stdout
    assert int(out) == derive_seed("wmsr-vs-f", params, 3)


# ---------------------------------------------------------------------------- backends
def test_local_two_workers_equals_in_process_runs(tiny):
    sweep, reference, result, two = tiny
    assert result.done == 4 and result.failed == 0 and result.skipped == 0
    assert two == reference
    assert set(two) == {r.key for r in sweep.runs}


def test_local_one_worker_equals_two_workers(tiny, tmp_path):
    sweep, _, _, two = tiny
    result = run_sweep(sweep, tmp_path, workers=1, progress=False)
    with ResultStore(result.store, create=False) as store:
        one = _by_key(store.runs())
    assert one == two
    # Honest metrics, not just equal ones: W-MSR on a (2F+1)-robust graph stays in the hull.
    assert all(m["wmsr.hull_violation"] == 0 for _, _, m in one.values())


def test_ray_equals_local(tiny, tmp_path):
    ray = pytest.importorskip("ray")
    sweep, _, _, two = tiny
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        result = run_sweep(sweep, tmp_path, backend="ray", progress=False)
    finally:
        ray.shutdown()
    with ResultStore(result.store, create=False) as store:
        assert _by_key(store.runs()) == two


# ---------------------------------------------------------------------------- failures
def test_failing_run_is_recorded_and_the_sweep_goes_on(tmp_path, capsys):
    # n_byzantine = 12 of 12 robots passes each param's range but the kind refuses it.
    text = TINY.replace("[1, 2]", "[1, 12]")
    path = _write(tmp_path, text)
    out = tmp_path / "out"
    # Failed runs make the sweep exit non-zero, saying how many and where the errors are.
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1", "--quiet"]) == 1
    captured = capsys.readouterr()
    assert "2 ok, 2 failed" in captured.out
    assert f"2 of 4 runs failed; their errors are in {out / 'results.sqlite'}" in captured.err
    with ResultStore(out / "results.sqlite", create=False) as store:
        runs = store.runs()
    failed = [r for r in runs if r.status == "failed"]
    done = [r for r in runs if r.status == "done"]
    assert sorted(r.params["n_byzantine"] for r in failed) == [12, 12]
    assert sorted(r.params["n_byzantine"] for r in done) == [1, 1]
    assert all("n_byzantine must be < params.n_robots" in r.error for r in failed)
    assert all(r.metrics == {} for r in failed)
    assert all(r.metrics["wmsr.hull_violation"] == 0 for r in done)
    # Re-run: nothing to do. With --retry-failed: the failed runs again, still once each.
    assert main(["sweep", str(path), "--out", str(out), "--quiet"]) == 0
    assert "ran 0 (0 ok, 0 failed), skipped 4" in capsys.readouterr().out
    assert (
        main(["sweep", str(path), "--out", str(out), "--retry-failed", "--workers", "1", "--quiet"])
        == 1
    )
    assert "ran 2 (0 ok, 2 failed), skipped 2" in capsys.readouterr().out
    with ResultStore(out / "results.sqlite", create=False) as store:
        assert store.count() == 4 and store.count("failed") == 2


# ---------------------------------------------------------------------------- resume
KILL = """
name = "resume"
scenario = "byzantine-consensus"
seeds = 6
metrics = ["wmsr.final_spread", "lcp.final_spread"]
[params]
n_robots = 30
rounds = 600
[grid]
n_byzantine = [1, 2, 3, 4, 5]
"""


def _sweep_cmd(path, out):
    return [
        sys.executable,
        "-m",
        "scenarios.cli",
        "sweep",
        str(path),
        "--out",
        str(out),
        "--workers",
        "1",
        "--quiet",
    ]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_resume_after_a_signal_runs_each_run_exactly_once(tmp_path, sig):
    path = _write(tmp_path, KILL)
    out = tmp_path / "out"
    db = out / "results.sqlite"
    total = len(load_sweep(path).runs)
    proc = subprocess.Popen(
        _sweep_cmd(path, out),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if db.is_file():
                try:
                    with sqlite3.connect(db) as conn:
                        if conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] >= 3:
                            break
                except sqlite3.OperationalError:  # the table is being created
                    pass
            time.sleep(0.05)
        proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        try:  # a worker left behind: it is ours, in the session we started
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    err = proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    if sig == signal.SIGTERM:
        assert proc.returncode == 143
        assert "interrupted by SIGTERM" in err
    else:
        assert proc.returncode == -signal.SIGKILL
    with ResultStore(db, create=False) as store:
        before = {r.key: r for r in store.runs()}
    assert 3 <= len(before) < total

    again = subprocess.run(_sweep_cmd(path, out), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert f"ran {total - len(before)} " in again.stdout
    assert f"skipped {len(before)} already recorded" in again.stdout
    with ResultStore(db, create=False) as store:
        after = store.runs()
    keys = [r.key for r in after]
    assert len(keys) == len(set(keys)) == total
    assert set(keys) == {r.key for r in load_sweep(path).runs}
    # The runs finished before the signal were not run again: same rows, same times.
    now = {r.key: r for r in after}
    assert all(
        now[k].finished_at == r.finished_at and now[k].duration == r.duration
        for k, r in before.items()
    )


# ---------------------------------------------------------------------------- files
@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t + "\n[[oops", "malformed TOML"),
        (lambda t: "bogus = 1\n" + t, "unknown key bogus"),
        (lambda t: t.replace('name = "tiny"', 'name = "../tiny"'), "name = '../tiny' is not"),
        (lambda t: t.replace('scenario = "byzantine-consensus"', ""), "missing key scenario"),
        (
            lambda t: t.replace('"byzantine-consensus"', '"no-such"'),
            "scenario = 'no-such': unknown scenario",
        ),
        (lambda t: t.replace("seeds = 2", "seeds = 0"), "seeds = 0 is not allowed"),
        (lambda t: t.replace("seeds = 2", "seeds = 2.5"), "seeds = 2.5 is not allowed"),
        (lambda t: t.replace('"wmsr.hull_violation"', '"wmsr..hull"'), "metrics[2]"),
        (
            lambda t: t.replace('"wmsr.hull_violation"', '"lcp.final_spread"'),
            "metrics lists 'lcp.final_spread' twice",
        ),
        (lambda t: t.replace("n_robots = 12", "n_robot = 12"), "unknown key params.n_robot"),
        (lambda t: t.replace("[1, 2]", "[1, -2]"), "grid.n_byzantine[1] = -2 is not allowed"),
        (lambda t: t.replace("[1, 2]", "3"), "grid.n_byzantine must be a non-empty list"),
        (lambda t: t.replace("[1, 2]", "[]"), "grid.n_byzantine must be a non-empty list"),
        (
            lambda t: t.replace("rounds = 30", "rounds = 30\nn_byzantine = 1"),
            "grid.n_byzantine is also set in [params]",
        ),
        (lambda t: t + '\n[[cases]]\nattack = "shout"\n', "cases[0].attack = 'shout'"),
        (lambda t: t + "\n[[cases]]\nn_byzantine = 1\n", "cases[0].n_byzantine is also a grid"),
        (lambda t: t + "\n[[cases]]\nlabel = 3\n", "cases[0].label must be a string"),
        (lambda t: t.replace("[1, 2]", "[1, 1]"), "gives the same parameters"),
    ],
)
def test_malformed_sweep_files_give_clear_errors_and_write_nothing(
    tmp_path, capsys, change, message
):
    path = _write(tmp_path, change(TINY))
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and message in err, err
    assert "Traceback" not in err
    assert not out.exists()


def test_unknown_sweep_and_bad_options(tmp_path, capsys):
    assert main(["sweep", "no-such-sweep"]) == 2
    err = capsys.readouterr().err
    assert "unknown sweep 'no-such-sweep'" in err and "wmsr-vs-f" in err
    path = _write(tmp_path, TINY)
    assert main(["sweep", str(path), "--out", str(tmp_path / "o"), "--address", "auto"]) == 2
    assert "--backend ray" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    with pytest.raises(SystemExit):
        main(["sweep", str(path), "--workers", "0"])


def test_a_folder_of_another_sweep_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    with ResultStore(out / "results.sqlite") as store:
        store.set_meta({"sweep": "other"})
    path = _write(tmp_path, TINY)
    assert main(["sweep", str(path), "--out", str(out)]) == 2
    assert "holds the results of sweep 'other'" in capsys.readouterr().err
    with ResultStore(out / "results.sqlite", create=False) as store:
        assert store.count() == 0 and store.meta() == {"sweep": "other"}


def test_a_second_sweep_into_a_busy_folder_is_refused(tmp_path):
    fcntl = pytest.importorskip("fcntl")
    out = tmp_path / "out"
    out.mkdir()
    sweep = load_sweep(_write(tmp_path, TINY))
    with (out / "sweep.lock").open("w") as held:  # as a running sweep holds it
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(ScenarioError, match="another sweep is writing to this folder"):
            run_sweep(sweep, out, workers=1, progress=False)
    assert not (out / "results.sqlite").exists()


def test_shipped_wmsr_vs_f_sweep():
    assert "wmsr-vs-f" in available_sweeps()
    sweep = load_sweep("wmsr-vs-f")
    assert sweep.kind == "consensus"
    lines = {}
    for r in sweep.runs:
        p = r.params
        assert p["robustness"] == 0 and p["n_byzantine"] < p["n_robots"]
        if r.label:  # W-MSR with F one below the number of Byzantine robots
            assert p["protocols"] == ["wmsr"] and p["wmsr_f"] == p["n_byzantine"] - 1
        else:  # LCP and W-MSR with F = n_byzantine
            assert p["protocols"] == ["lcp", "wmsr"] and p["wmsr_f"] == -1
        lines.setdefault(r.label, set()).add(p["n_byzantine"])
    assert lines[""] == {0, 1, 2, 3, 4, 5} and lines["F too small"] == {1, 2, 3, 4, 5}
    assert {
        "lcp.final_spread",
        "wmsr.final_spread",
        "lcp.hull_violation",
        "wmsr.hull_violation",
    } <= set(sweep.metrics)


def test_shipped_dbp_scaling_sweep_keeps_density_constant():
    sweep = load_sweep("dbp-scaling")
    assert sweep.kind == "dbp"
    sizes = set()
    for r in sweep.runs:
        p = r.params
        assert p["defences"] == ["dbp"] and p["byzantine_fraction"] == 0.1
        # 100 robots in the 100-unit arena: the same robots per unit area at every size.
        assert p["n_robots"] / p["arena"] ** 2 == pytest.approx(0.01, rel=1e-3)
        sizes.add(p["n_robots"])
    assert sizes == {25, 50, 100, 200, 400, 800}
    assert "defences.dbp.all_byzantine_blocked_tick" in sweep.metrics


@pytest.mark.parametrize("name", available_sweeps())
def test_every_shipped_sweep_loads_and_names_only_metrics_its_kind_reports(name):
    """A shipped sweep whose metrics its kind does not declare would be refused at load."""
    sweep = load_sweep(name)
    assert sweep.runs and sweep.metrics
