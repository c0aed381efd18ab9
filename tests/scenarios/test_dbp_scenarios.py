"""The dbp-* scenarios end to end through the CLI (small sizes)."""

import json

import pytest
from matplotlib.image import imread
from PIL import Image

from scenarios.cli import main

SMALL = ["n_robots=50", "ticks=30", "gif_frames=5", "arena=60.0"]


def _run(tmp_path, name, *sets):
    out = tmp_path / name
    args = ["run", name, "--out", str(out), "--quiet"]
    for s in (*SMALL, *sets):
        args += ["--set", s]
    assert main(args) == 0
    return out, json.loads((out / "summary.json").read_text())


def _check_artifacts(out, defences):
    for d in defences:
        img = imread(out / f"error_{d}.png")
        assert img.ndim == 3 and img[..., :3].std() > 0
    assert (out / "viewer.html").read_text().startswith("<!DOCTYPE html>")
    gif = Image.open(out / "swarm.gif")
    assert gif.n_frames == 5 and gif.size[0] <= 400


@pytest.mark.parametrize("name", ["dbp-target-tracking", "dbp-time-sync", "dbp-localization"])
def test_dbp_scenarios_run_and_dbp_blocks_the_attackers(tmp_path, capsys, name):
    out, summary = _run(tmp_path, name, "claims=false")
    res = summary["defences"]
    assert set(res) == {"none", "wmsr_small", "wmsr_large", "dbp"}
    nb = summary["n_byzantine"]
    assert nb == 5
    dbp = res["dbp"]
    # Sound accusations: at most one cooperative robot blocked per Byzantine robot.
    assert dbp["cooperative_wrongly_blocked"] <= dbp["byzantine_blocked"]
    for d in ("none", "wmsr_small", "wmsr_large"):
        assert res[d]["byzantine_blocked"] == 0 and res[d]["all_byzantine_blocked_tick"] is None
        assert len(res[d]["error"]) == 30
    assert res["wmsr_large"]["label"] == "wmsr (F=5)"
    _check_artifacts(out, res)
    assert "all blocked at" in capsys.readouterr().out


def test_claims_in_the_tracking_scenario(tmp_path):
    out, summary = _run(
        tmp_path, "dbp-target-tracking", "claims=true", "claims_f=1", 'defences=["dbp"]'
    )
    claims = summary["claims"]
    assert claims["connectivity"]["dbp"]["final_error"] == 0.0
    assert claims["connectivity"]["wmsr"]["final_error"] == 1.0
    assert claims["single_observer"]["dbp"]["final_error"] == 0.0
    assert claims["single_observer"]["wmsr"]["final_error"] == 1.0
    assert (out / "claims.png").exists()


def test_bad_scenario_values_name_the_key(tmp_path, capsys):
    code = main(["run", "dbp-time-sync", "--out", str(tmp_path / "x"), "--set", "case=weather"])
    assert code == 2
    err = capsys.readouterr().err
    assert "params.case" in err and "dbp-time-sync.toml" in err
