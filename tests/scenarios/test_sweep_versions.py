"""A sweep file edited between two runs into one folder: the two versions never mix."""

import csv

import pytest

from scenarios.cli import main
from scenarios.store import ResultStore, RunRecord
from scenarios.sweep import derive_seed, load_sweep

V1 = """
name = "edited"
scenario = "byzantine-consensus"
seeds = 3
metrics = ["wmsr.final_spread"]
[params]
n_robots = 12
rounds = 20
protocols = ["wmsr"]
[grid]
n_byzantine = [1, 2]
"""
V2 = V1.replace("rounds = 20", "rounds = 30")


def _report(out):
    assert main(["report", str(out), "--metric", "final_spread"]) == 0
    with (out / "final_spread-vs-n_byzantine.csv").open() as fh:
        return {
            row["n_byzantine"]: (int(row["n"]), float(row["mean"])) for row in csv.DictReader(fh)
        }


def _sweep(path, out, *extra):
    return main(["sweep", str(path), "--out", str(out), "--workers", "1", "--quiet", *extra])


def test_an_edited_sweep_never_shares_a_report_with_its_earlier_version(tmp_path, capsys):
    path, out = tmp_path / "edited.toml", tmp_path / "out"
    path.write_text(V1)
    assert _sweep(path, out) == 0
    first = _report(out)
    assert first.keys() == {"1", "2"} and all(n == 3 for n, _ in first.values())

    # A comment or the key order changes nothing: the same spec resumes, all skipped.
    (tmp_path / "v1.toml").write_text(V1)
    path.write_text(
        "# a comment\n"
        + V1.replace("n_robots = 12\nrounds = 20", "rounds = 20  # same\nn_robots = 12")
    )
    assert load_sweep(path).fingerprint == load_sweep(tmp_path / "v1.toml").fingerprint
    capsys.readouterr()
    assert _sweep(path, out) == 0
    assert "ran 0 (0 ok, 0 failed), skipped 6" in capsys.readouterr().out

    # Edited: refused, naming the key that changed; the store and the report as they were.
    path.write_text(V2)
    assert _sweep(path, out) == 2
    err = capsys.readouterr().err
    assert "another version of sweep 'edited' (changed: params.rounds)" in err
    assert "--restart" in err
    with ResultStore(out / "results.sqlite", create=False) as store:
        assert store.count() == 6
        assert {r.params["rounds"] for r in store.runs()} == {20}
    assert _report(out) == first

    # --restart moves the first version aside; the report now holds the second alone.
    assert _sweep(path, out, "--restart") == 0
    assert "moved the previous results aside" in capsys.readouterr().out
    aside = [p for p in out.iterdir() if p.name.startswith("replaced-")]
    assert len(aside) == 1 and (aside[0] / "results.sqlite").is_file()
    with ResultStore(aside[0] / "results.sqlite", create=False) as old:
        assert {r.params["rounds"] for r in old.runs()} == {20} and old.count() == 6
        stray = old.runs()[0]
    with ResultStore(out / "results.sqlite", create=False) as store:
        runs = store.runs()
        assert len(runs) == 6 and {r.params["rounds"] for r in runs} == {30}
        assert len({r.spec_fp for r in runs}) == 1
        # Even a row of the first version slipped into the store (by hand) stays out.
        store.record(
            RunRecord(
                params=stray.params,
                seed=99,
                run_seed=1,
                label="",
                status="done",
                metrics={"wmsr.final_spread": 1e9},
                spec_fp=stray.spec_fp,
            )
        )
    second = _report(out)
    assert all(n == 3 for n, _ in second.values())
    # Each point is the mean over exactly the second version's three runs.
    for x, (_, mean) in second.items():
        own = [r.metrics["wmsr.final_spread"] for r in runs if r.params["n_byzantine"] == int(x)]
        assert len(own) == 3 and mean == pytest.approx(sum(own) / 3, rel=1e-12)


def test_a_million_seeds_are_derived_lazily(tmp_path):
    path = tmp_path / "big.toml"
    path.write_text(V1.replace("seeds = 3", "seeds = 1000000"))
    sweep = load_sweep(path)
    assert sweep.n_runs == 2_000_000
    assert "runs" not in sweep.__dict__  # nothing spelled out yet
    runs = sweep.iter_runs()
    first = [next(runs) for _ in range(3)]
    # Seed-major order: both combinations at seed 0, then seed 1; seeds as derive_seed says.
    assert [r.seed for r in first] == [0, 0, 1]
    assert [r.params["n_byzantine"] for r in first] == [1, 2, 1]
    assert all(r.run_seed == derive_seed("edited", r.params, r.seed) for r in first)
