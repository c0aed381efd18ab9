"""The sgn-certificate scenario end to end through the CLI."""

import json
import math

import pytest

from scenarios.cli import main


def test_sgn_certificate_scenario(tmp_path, capsys):
    out = tmp_path / "sgn"
    assert (
        main(["run", "sgn-certificate", "--out", str(out), "--quiet", "--set", "iterations=80"])
        == 0
    )
    printed = capsys.readouterr().out
    assert "SGN certificate of the toy game" in printed
    for name in ("phase_portrait.png", "band.png", "distance.png", "summary.json"):
        assert (out / name).stat().st_size > 1000 or name == "summary.json"
    s = json.loads((out / "summary.json").read_text())
    c = s["certificate"]
    r = math.sqrt(0.5)
    assert c["certified"] is True
    assert c["weights"][1] / c["weights"][0] == pytest.approx(200)
    assert c["margin"] == pytest.approx(1 - r)
    assert c["euler_step"] == pytest.approx(2 * (1 - r) / (1 + r) ** 2)
    assert c["band"] == [pytest.approx((20 * (1 - r)) ** 2), pytest.approx((20 * (1 + r)) ** 2)]
    assert c["euclidean_margin"] < 0
    # measured: the certified metric shrinks at least at the certified factor every step,
    # while the Euclidean distance grows at some step
    assert s["measured_worst_factor_metric"] <= s["certified_factor"] + 1e-12
    assert s["measured_worst_factor_euclidean"] > 1
    o = s["outside"]
    assert o["certified"] is False and o["min_real_eigenvalue"] < 0
    assert o["final_distance"] > 10 * o["initial_distance"]


def test_uncertifiable_parameters_are_a_scenario_error(tmp_path, capsys):
    assert (
        main(["run", "sgn-certificate", "--out", str(tmp_path), "--quiet", "--set", "l21=0.2"]) == 2
    )
    assert "not certified" in capsys.readouterr().err
