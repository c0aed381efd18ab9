"""The IPPO example's code path at tiny sizes (not its learning curve, not a timing)."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

_PATH = Path(__file__).resolve().parents[2] / "examples" / "ippo_target_tracking.py"


def _example():
    spec = importlib.util.spec_from_file_location("ippo_target_tracking", _PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_ippo_example_runs_and_is_seeded(capsys):
    ex = _example()
    argv = [
        "--iterations",
        "2",
        "--num-envs",
        "2",
        "--n-robots",
        "8",
        "--max-cycles",
        "5",
        "--eval-envs",
        "2",
        "--epochs",
        "1",
        "--minibatches",
        "2",
    ]
    first = ex.main(argv)
    out = capsys.readouterr().out
    assert set(first) == {"random", "pursue_policy", "IPPO"}
    assert all(f"{name:14s}" in out for name in first)
    assert all(np.isfinite(v) and v >= 0 for v in first.values())
    # Seeded end to end: the same seed trains the same policy.
    assert ex.main(argv) == first
    args = ex.Args(iterations=1, num_envs=2, n_robots=8, max_cycles=5, epochs=1, minibatches=2)
    a, b = ex.train(args), ex.train(args)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert np.array_equal(p.detach().numpy(), q.detach().numpy())
    c = ex.train(ex.Args(**{**vars(args), "seed": 1}))
    assert not np.array_equal(
        a.actor[0].weight.detach().numpy(), c.actor[0].weight.detach().numpy()
    )
