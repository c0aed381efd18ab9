"""Heat maps of a sweep metric over two parameters (scenarios/phase.py)."""

import csv
import math

import pytest

from scenarios.config import ScenarioError
from scenarios.phase import heatmap_cells, write_heatmaps
from scenarios.store import RunRecord


def _run(params, value, se=None, seed=0, status="done"):
    metrics = {"m": value}
    if se is not None:
        metrics["m_stderr"] = se
    return RunRecord(
        params=params,
        seed=seed,
        run_seed=seed,
        label="",
        status=status,
        metrics=metrics,
        error=None,
        duration=0.0,
        version="t",
        finished_at="2026-01-01T00:00:00+00:00",
    )


def test_cells_average_runs_and_combine_standard_errors():
    runs = [
        _run({"a": 1, "b": 2, "c": 0}, 0.3, 0.1, seed=0),
        _run({"a": 1, "b": 2, "c": 0}, 0.5, 0.2, seed=1),
        _run({"a": 1, "b": 3, "c": 0}, -0.4, None, seed=0),
        _run({"a": 1, "b": 3, "c": 0}, -0.2, None, seed=1),
        _run({"a": 2, "b": 2, "c": 1}, 1.0, 0.0),
        _run({"a": 2, "b": 2, "c": 1}, float("nan")),  # not numeric: left out
        _run({"a": 2, "b": 3, "c": 1}, 9.0, status="failed"),
    ]  # failed: left out
    cells = heatmap_cells(runs, "m", "a", "b", ["c"])
    c = cells[("0",)][("1", "2")]
    # Independent runs: the mean's variance is sum(se^2) / k^2.
    assert (c.n, c.mean) == (2, pytest.approx(0.4))
    assert c.stderr == pytest.approx(math.sqrt(0.1**2 + 0.2**2) / 2)
    assert c.significant  # 0.4 > 2 * 0.112
    d = cells[("0",)][("1", "3")]
    # No companion: the spread over seeds, std(ddof=1) / sqrt(2) = 0.1.
    assert d.mean == pytest.approx(-0.3) and d.stderr == pytest.approx(0.1)
    assert d.significant
    assert set(cells[("1",)]) == {("2", "2")} and cells[("1",)][("2", "2")].n == 1


def test_write_heatmaps_from_a_sweep_store(tmp_path):
    from scenarios.sweep import load_sweep, run_sweep

    sweep = tmp_path / "s.toml"
    sweep.write_text(
        'scenario = "bavt-budget"\nseeds = 1\n'
        'metrics = ["phase.vs_best_of_n", "phase.vs_best_of_n_stderr"]\n'
        "[params]\nn_questions = 2\nn_entities = 20\nmax_hops = 2\ntool_budgets = [2]\n"
        'methods = ["bavt", "best_of_n"]\n'
        "[grid]\nskill = [0.3, 0.9]\nvalue_noise = [0.0, 0.5]\n"
    )
    out = tmp_path / "out"
    res = run_sweep(load_sweep(sweep), out_dir=out, workers=1, progress=False)
    assert res.failed == 0
    written = write_heatmaps(out, "skill", "value_noise")
    names = sorted(p.name for p in written)
    assert names == [
        "phase_vs_best_of_n-heatmap-skill-value_noise.csv",
        "phase_vs_best_of_n-heatmap-skill-value_noise.png",
    ]
    with written[1 if written[1].suffix == ".csv" else 0].open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 and {r["skill"] for r in rows} == {"0.3", "0.9"}
    with pytest.raises(ScenarioError, match="does not vary"):
        write_heatmaps(out, "skill", "misconception")
    with pytest.raises(ScenarioError, match="two different"):
        write_heatmaps(out, "skill", "skill")
    with pytest.raises(ScenarioError, match=r"no results\.sqlite"):
        write_heatmaps(tmp_path / "nowhere", "skill", "value_noise")
