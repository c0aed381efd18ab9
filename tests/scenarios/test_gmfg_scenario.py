"""The gmfg-convergence scenario, end to end through the CLI (small sizes)."""

import csv
import json

import numpy as np
from matplotlib.image import imread

from scenarios.cli import main

SMALL = [
    'graphons=["ranked_attachment", "sbm", "constant"]',
    "n_steps=40",
    "n_blocks=6",
    "n_players=[10, 200]",
    "sigmas=[0.5]",
    "action_frequencies=[40, 8]",
]


def _run(tmp_path, *sets):
    out = tmp_path / "gmfg"
    args = ["run", "gmfg-convergence", "--out", str(out), "--quiet"]
    for s in (*SMALL, *sets):
        args += ["--set", s]
    assert main(args) == 0
    return out, json.loads((out / "summary.json").read_text())


def test_gmfg_convergence_end_to_end(tmp_path, capsys):
    out, summary = _run(tmp_path)
    res = summary["graphons"]
    assert set(res) == {"ranked_attachment", "sbm", "constant"}
    for r in res.values():
        assert r["converged"]
        assert r["distance"] < 1e-3
        assert r["exploitability"] < 1e-8 < r["initial_exploitability"]
        npx = r["n_player_exploitability"]
        assert npx["200"]["mean"] < npx["10"]["mean"]
    # the slope does not depend on the graphon: -(B/R) P(0) with the closed-form Riccati
    A, B, Q, R, G, T = 0.3, 1.0, 1.0, 0.5, 0.8, 1.0
    r_ = B * B / R
    kap = np.sqrt(A * A + r_ * Q)
    x = np.cosh(kap * T) + (-A + r_ * G) * np.sinh(kap * T) / kap
    y = G * np.cosh(kap * T) + (Q + A * G) * np.sinh(kap * T) / kap
    assert abs(summary["slope_at_0"] - (-(B / R) * y / x)) < 1e-12
    rob = summary["robustness"]
    for fam in res:
        fine, coarse = rob[f"{fam}/sigma=0.5/n_actions=40"], rob[f"{fam}/sigma=0.5/n_actions=8"]
        assert fine["converged"] and coarse["converged"]
        # piecewise-linear policies on 8 intervals cannot match K(t) exactly
        assert fine["distance"] < 1e-3
        assert fine["distance"] < coarse["distance"]
    for name in ("slope.png", "intercepts.png", "means.png", "convergence.png"):
        img = imread(out / name)
        assert img.ndim == 3 and img[..., :3].std() > 0
    with (out / "convergence.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert sum(r["graphon"] == "sbm" for r in rows) == res["sbm"]["iterations"]
    text = capsys.readouterr().out
    assert "Policy optimisation against the exact equilibrium" in text
    assert "N-player" in text


def test_gmfg_errors_name_the_key(tmp_path, capsys):
    base = ["run", "gmfg-convergence", "--out", str(tmp_path / "x"), "--quiet"]
    assert main([*base, "--set", 'graphons=["star"]']) == 2
    err = capsys.readouterr().err
    assert "gmfg-convergence.toml" in err and "params.graphons" in err
    assert main([*base, "--set", "n_actions=7", "--set", "n_steps=40"]) == 2
    assert "params.n_actions" in capsys.readouterr().err
    assert main([*base, "--set", "action_frequencies=[7]", "--set", "n_steps=40"]) == 2
    assert "params.action_frequencies" in capsys.readouterr().err
    assert main([*base, "--set", "R=0"]) == 2
    assert "params.R" in capsys.readouterr().err
