"""The attacker team's observation kernel against a plain numpy reference."""

import numpy as np
import pytest

from protocols.consensus_obs import TeamObservation, TeamSwarms, team_observations


def _swarms(rng, B=3, n=6, nh=4):
    values = rng.normal(0.5, 1.0, (B, n))
    values[0, 1] = np.inf  # a non-finite honest value is observed as 0
    masks = (rng.random((B, (n - nh) * n)) < 0.5).astype(np.float32)
    return TeamSwarms(values, rng.normal(size=B), rng.uniform(0.5, 2.0, B), masks, np.arange(B))


def test_matches_numpy_reference():
    rng = np.random.default_rng(3)
    s = _swarms(rng)
    nh, clip, T = 4, 1.5, 7
    out = team_observations(s, nh, clip, T)
    u = (s.values[:, :nh] - s.lo[:, None]) / s.width[:, None]
    ref_vals = np.clip(np.where(np.isfinite(u), u, 0.0), -clip, 1 + clip)
    B, n = s.values.shape
    ref = np.concatenate(
        [ref_vals, np.zeros((B, n - nh)), s.masks, (s.t / T)[:, None]], axis=1
    ).astype(np.float32)
    np.testing.assert_array_equal(out.obs, ref)
    np.testing.assert_array_equal(out.hmax, u.max(axis=1))
    np.testing.assert_array_equal(out.hmin, u.min(axis=1))
    assert out.hmax[0] == np.inf


def test_unchecked_path_gives_the_same_bits():
    s = _swarms(np.random.default_rng(4))
    B, n = s.values.shape
    out = TeamObservation(np.empty((B, 3 * n + 1), np.float32), np.empty(B), np.empty(B))
    team_observations(s, 4, 2.0, 9, out, check=False)
    ref = team_observations(s, 4, 2.0, 9)
    for a, b in zip(out, ref, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"width": np.zeros(3)}, r"swarms\.width must be > 0"),
        ({"masks": np.ones((3, 12))}, r"swarms\.masks must be a float32 array of shape"),
        ({"t": -np.ones(3, np.int64)}, r"swarms\.t must be an integer array"),
        ({"lo": np.zeros(2)}, r"swarms\.lo must have shape"),
    ],
)
def test_bad_swarms_are_one_clear_error(change, message):
    s = _swarms(np.random.default_rng(5))._replace(**change)
    with pytest.raises(ValueError, match=message):
        team_observations(s, 4, 1.0, 5)


def test_bad_arguments_are_one_clear_error():
    s = _swarms(np.random.default_rng(6))
    with pytest.raises(ValueError, match="max_cycles"):
        team_observations(s, 4, 1.0, 0)
    with pytest.raises(ValueError, match="clip"):
        team_observations(s, 4, -1.0, 5)
    with pytest.raises(TypeError, match="TeamSwarms"):
        team_observations(tuple(s), 4, 1.0, 5)
    bad = TeamObservation(np.empty((3, 5), np.float32), np.empty(3), np.empty(3))
    with pytest.raises(ValueError, match=r"out\.obs must be"):
        team_observations(s, 4, 1.0, 5, bad)
