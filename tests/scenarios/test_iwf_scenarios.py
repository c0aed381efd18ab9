"""The iwf-convergence and iwf-divergence scenarios, end to end through the CLI."""

import json

import numpy as np
import pytest
from matplotlib.image import imread

from scenarios.cli import main


def _run(tmp_path, name, *sets):
    out = tmp_path / name
    args = ["run", name, "--out", str(out), "--quiet"]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 0
    return out, json.loads((out / "summary.json").read_text())


def _check_plots(out):
    for name in ("nash_gap.png", "power_allocation.png"):
        img = imread(out / name)
        assert img.ndim == 3 and img[..., :3].std() > 0


def test_iwf_convergence_all_schedules_reach_the_unique_equilibrium(tmp_path, capsys):
    out, summary = _run(tmp_path, "iwf-convergence")
    # rho(S_max) < 1: a unique equilibrium, and every schedule converges to it.
    assert summary["certified"] and summary["spectral_radius"] < 1
    scheds = summary["schedules"]
    assert set(scheds) == {"sequential", "simultaneous", "asynchronous", "damped"}
    for res in scheds.values():
        assert res["converged"] and res["nash_gap"] <= 1e-9
    assert summary["converged_spread"] <= 1e-7
    rates = [res["sum_rate"] for res in scheds.values()]
    assert max(rates) - min(rates) <= 1e-6 * max(rates)
    _check_plots(out)
    assert "rho(S_max)" in capsys.readouterr().out


def test_iwf_divergence_simultaneous_oscillates_sequential_converges(tmp_path):
    out, summary = _run(tmp_path, "iwf-divergence")
    # Cross gains 2, direct gains 1 on both carriers: S_max = [[0, 2], [2, 0]], rho = 2.
    assert summary["spectral_radius"] == pytest.approx(2.0, rel=1e-12)
    assert not summary["certified"]
    sim, seq = summary["schedules"]["simultaneous"], summary["schedules"]["sequential"]
    assert not sim["converged"] and sim["nash_gap"] == 1.0 and sim["iterations"] == 100
    assert seq["converged"] and seq["nash_gap"] == 0.0
    # Orthogonal equilibrium: each user alone on its carrier, SINR = 1 / 0.1 or 1 / 0.2.
    assert seq["sum_rate"] == pytest.approx(np.log2(11) + np.log2(6), rel=1e-12)
    _check_plots(out)


def test_iwf_scenario_errors_name_the_key(tmp_path, capsys):
    assert (
        main(
            [
                "run",
                "iwf-convergence",
                "--out",
                str(tmp_path / "x"),
                "--quiet",
                "--set",
                'schedules=["gradient"]',
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "iwf-convergence.toml" in err and "params.schedules" in err
    assert (
        main(
            [
                "run",
                "iwf-convergence",
                "--out",
                str(tmp_path / "y"),
                "--quiet",
                "--set",
                "link_min=80.0",
            ]
        )
        == 2
    )
    assert "link_min" in capsys.readouterr().err
