import csv
import json
import math

import numpy as np
import pytest

from scenarios.cli import main
from scenarios.report import aggregate, t_band
from scenarios.store import ResultStore, RunRecord

# Student-t quantiles t(0.975, df) from printed tables (3 decimals).
T975 = {1: 12.706, 2: 4.303}


def test_t_band_matches_the_table_value():
    mean, low, high = t_band([1.0, 2.0, 3.0])  # mean 2, s = 1, n = 3
    half = T975[2] * 1.0 / math.sqrt(3)
    assert mean == 2.0
    assert low == pytest.approx(2.0 - half, abs=1e-3)
    assert high == pytest.approx(2.0 + half, abs=1e-3)
    mean, low, high = t_band([0.5, 0.7])  # s = 0.1414.., s / sqrt(2) = 0.1
    assert (low, high) == pytest.approx((0.6 - T975[1] * 0.1, 0.6 + T975[1] * 0.1), abs=1e-3)


def test_t_band_degenerate_cases():
    mean, low, high = t_band([3.5])
    assert mean == 3.5 and math.isnan(low) and math.isnan(high)
    assert t_band([4.0, 4.0, 4.0]) == (4.0, 4.0, 4.0)
    with pytest.raises(ValueError):
        t_band([])


def test_t_band_covers_the_true_mean_95_percent_of_the_time():
    # For normal samples the t-interval has exact coverage; 4000 trials of n = 4 put the
    # observed rate within 0.95 +- 3 standard errors (0.0103).
    rng = np.random.default_rng(0)
    samples = rng.normal(5.0, 2.0, size=(4000, 4))
    hits = 0
    for row in samples:
        _, low, high = t_band(row)
        hits += low <= 5.0 <= high
    assert abs(hits / 4000 - 0.95) < 0.0103


def _run(x, seed, label, metrics, **params):
    base = {"n_byzantine": x, "wmsr_f": -1, "protocols": ["lcp", "wmsr"], "n_robots": 10}
    base.update(params)
    return RunRecord(
        params=base, seed=seed, run_seed=seed, label=label, status="done", metrics=metrics
    )


@pytest.fixture
def sweep_dir(tmp_path):
    d = tmp_path / "sweep"
    lcp = {1: [1.0, 2.0, 3.0], 2: [4.0, 4.0, 4.0]}
    wmsr = {1: [0.5, None, 0.7], 2: [0.0, 0.0, 0.0]}
    with ResultStore(d / "results.sqlite") as store:
        store.set_meta(
            {
                "sweep": "hand",
                "metrics": json.dumps(
                    ["lcp.final_spread", "wmsr.final_spread", "wmsr.hull_violation"]
                ),
                "varying": json.dumps(["n_byzantine", "wmsr_f", "protocols"]),
            }
        )
        for x in (1, 2):
            for s in range(3):
                store.record(
                    _run(
                        x,
                        s,
                        "",
                        {
                            "lcp.final_spread": lcp[x][s],
                            "wmsr.final_spread": wmsr[x][s],
                            "wmsr.hull_violation": 0.0,
                        },
                    )
                )
        # W-MSR with F one too small: a single seed at x = 2, and a failed run.
        store.record(
            _run(
                2,
                0,
                "F too small",
                {"lcp.final_spread": None, "wmsr.final_spread": 9.0, "wmsr.hull_violation": 0.25},
                wmsr_f=1,
                protocols=["wmsr"],
            )
        )
        store.record(
            RunRecord(
                params={"n_byzantine": 1, "wmsr_f": 0, "protocols": ["wmsr"], "n_robots": 10},
                seed=0,
                run_seed=0,
                label="F too small",
                status="failed",
                error="Boom: x",
            )
        )
    return d


def _csv(path):
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_report_writes_png_and_csv_one_line_per_protocol(sweep_dir, capsys):
    assert main(["report", str(sweep_dir), "--metric", "final_spread"]) == 0
    png = sweep_dir / "final_spread-vs-n_byzantine.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    rows = _csv(sweep_dir / "final_spread-vs-n_byzantine.csv")
    by = {(r["line"], r["n_byzantine"]): r for r in rows}
    assert set(by) == {
        ("lcp", "1"),
        ("lcp", "2"),
        ("wmsr", "1"),
        ("wmsr", "2"),
        ("wmsr (F too small)", "2"),
    }
    r = by[("lcp", "1")]
    assert (r["metric"], r["n"], float(r["mean"])) == ("lcp.final_spread", "3", 2.0)
    assert float(r["ci95_low"]) == pytest.approx(2 - T975[2] / math.sqrt(3), abs=1e-3)
    assert float(r["std"]) == pytest.approx(1.0)
    assert (by[("lcp", "2")]["ci95_low"], by[("lcp", "2")]["ci95_high"]) == ("4.0", "4.0")
    # The seed whose metric is null is left out: n = 2 at x = 1.
    r = by[("wmsr", "1")]
    assert r["n"] == "2" and float(r["mean"]) == pytest.approx(0.6)
    assert float(r["ci95_high"]) == pytest.approx(0.6 + T975[1] * 0.1, abs=1e-3)
    r = by[("wmsr (F too small)", "2")]
    assert (r["n"], float(r["mean"]), r["ci95_low"], r["ci95_high"]) == ("1", 9.0, "", "")
    assert "final_spread-vs-n_byzantine.png" in capsys.readouterr().out


def test_report_without_metric_writes_one_report_per_metric(sweep_dir):
    assert main(["report", str(sweep_dir), "--logy"]) == 0
    names = sorted(p.name for p in sweep_dir.iterdir() if p.suffix in (".png", ".csv"))
    assert names == [
        "final_spread-vs-n_byzantine.csv",
        "final_spread-vs-n_byzantine.png",
        "hull_violation-vs-n_byzantine.csv",
        "hull_violation-vs-n_byzantine.png",
    ]
    rows = _csv(sweep_dir / "hull_violation-vs-n_byzantine.csv")
    assert {(r["line"], r["n_byzantine"], r["mean"]) for r in rows} == {
        ("wmsr", "1", "0.0"),
        ("wmsr", "2", "0.0"),
        ("wmsr (F too small)", "2", "0.25"),
    }


def test_a_full_metric_path_draws_one_line(sweep_dir):
    assert main(["report", str(sweep_dir), "--metric", "lcp.final_spread"]) == 0
    rows = _csv(sweep_dir / "lcp_final_spread-vs-n_byzantine.csv")
    assert {r["line"] for r in rows} == {"lcp"}


def test_a_parameter_not_fixed_by_the_case_splits_the_lines(tmp_path):
    runs = [
        _run(x, s, "", {"lcp.final_spread": float(x * n + s)}, n_robots=n)
        for x in (1, 2)
        for n in (10, 20)
        for s in range(2)
    ]
    series = aggregate(runs, ["lcp.final_spread"], "n_byzantine", ["n_byzantine", "n_robots"])
    got = {s.name: (s.x, s.mean) for s in series}
    assert got == {
        "lcp, n_robots=10": ([1, 2], [10.5, 20.5]),
        "lcp, n_robots=20": ([1, 2], [20.5, 40.5]),
    }
    # Against n_robots instead, n_byzantine splits.
    series = aggregate(runs, ["lcp.final_spread"], "n_robots", ["n_byzantine", "n_robots"])
    assert {s.name for s in series} == {"lcp, n_byzantine=1", "lcp, n_byzantine=2"}


def test_report_errors_name_what_is_wrong(sweep_dir, tmp_path, capsys):
    assert main(["report", str(sweep_dir), "--metric", "spread"]) == 2
    err = capsys.readouterr().err
    assert "metric 'spread' was not recorded" in err and "lcp.final_spread" in err
    assert main(["report", str(sweep_dir), "--param", "nope"]) == 2
    assert "param 'nope'" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "no results.sqlite" in err and "Traceback" not in err
