"""The dbp-* scenarios end to end through the CLI (small sizes)."""

import json

import numpy as np
import pytest
from matplotlib.image import imread
from PIL import Image

from scenarios.cli import main
from scenarios.kinds import dbp as dbp_kind
from scenarios.runner import load_scenario

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


def test_frame_accusations_splits_by_tick_issued():
    acc = np.array([[0, 1, 1], [2, 3, 3], [4, 5, 5], [6, 7, 7]])
    earlier, recent = dbp_kind.frame_accusations(acc, 5, 2)
    assert earlier.tolist() == [[0, 1], [2, 3]] and recent.tolist() == [[4, 5]]
    earlier, recent = dbp_kind.frame_accusations(acc, 0, 3)
    assert earlier.shape == recent.shape == (0, 2)


@pytest.mark.parametrize("name", ["dbp-target-tracking", "dbp-time-sync", "dbp-localization"])
def test_gif_frames_draw_the_accusations_issued_so_far(name):
    sets = ["n_robots=40", "ticks=12", "gif_frames=6", "arena=60.0", "claims=false"]
    sc = load_scenario(name, [*sets, 'defences=["dbp"]'])
    d = dbp_kind.run(sc.params, seed=sc.seed).data
    r = d["results"]["dbp"]
    acc = d["recordings"]["dbp"].accusations
    # The recorder saw every accusation the case counts.
    assert len(acc) == r.accusations > 0
    window = d["recent"]
    seen_recent = seen_earlier = 0
    assert len(r.frames) == 6
    for frame in r.frames:
        tick, pos = frame["tick"], frame["positions"]
        fig = dbp_kind.swarm_frame(frame, r.byzantine, d["arena"], "t", acc, window)
        (lines,) = [c for c in fig.axes[0].collections if c.get_gid() == "accusations-earlier"]
        (arrows,) = [c for c in fig.axes[0].collections if c.get_gid() == "accusations-recent"]
        issued = acc[acc[:, 2] <= tick]
        new = issued[issued[:, 2] > tick - window]
        old = issued[issued[:, 2] <= tick - window]
        assert len(lines.get_segments()) + arrows.N == len(issued)
        assert arrows.N == len(new)
        # Each accusation runs from the accuser to the accused at the frame's positions.
        np.testing.assert_array_equal(np.column_stack([arrows.X, arrows.Y]), pos[new[:, 0]])
        np.testing.assert_allclose(
            np.column_stack([arrows.U, arrows.V]), pos[new[:, 1]] - pos[new[:, 0]]
        )
        np.testing.assert_array_equal(
            np.array(lines.get_segments()).reshape(-1, 2, 2), pos[old[:, :2]]
        )
        texts = [t.get_text() for t in fig.legends[0].get_texts()]
        blocked = frame["blocked"]
        assert f"last {window} ticks: {len(new)}" in texts[3]
        assert texts[4] == f"accusation, earlier: {len(old)}"
        assert texts[2] == (
            f"blocked (ring): {(blocked & r.byzantine).sum()} Byz, "
            f"{(blocked & ~r.byzantine).sum()} coop"
        )
        assert texts[1] == f"Byzantine: {r.byzantine.sum()}"
        seen_recent += len(new)
        seen_earlier += len(old)
    assert seen_recent > 0 and seen_earlier > 0
