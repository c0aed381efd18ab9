import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarm.mobility import MobileSwarm, pairs_within, radius_graph


def brute_pairs(pos, r):
    n = len(pos)
    return [
        (i, j) for i in range(n) for j in range(i + 1, n) if np.linalg.norm(pos[i] - pos[j]) <= r
    ]


@given(st.integers(0, 40), st.floats(0.0, 0.6), st.integers(0, 10**6))
def test_radius_graph_equals_brute_force(n, r, seed):
    pos = np.random.default_rng(seed).uniform(0, 1, size=(n, 2))
    expected = brute_pairs(pos, r)
    assert [tuple(p) for p in pairs_within(pos, r).tolist()] == expected
    indptr, indices = radius_graph(pos, r)
    assert indptr.shape == (n + 1,)
    for i in range(n):
        row = indices[indptr[i] : indptr[i + 1]].tolist()
        assert row == sorted(
            {j for a, b in expected for j in ((b,) if a == i else (a,) if b == i else ())}
        )


@pytest.mark.parametrize("motion", ["random_waypoint", "flocking", "static"])
def test_motion_respects_speed_and_arena(motion):
    swarm = MobileSwarm(
        60,
        np.random.default_rng(3),
        arena=50.0,
        radio_range=8.0,
        max_speed=2.0,
        dt=0.5,
        motion=motion,
    )
    for _ in range(40):
        before = swarm.positions.copy()
        swarm.step()
        step = np.linalg.norm(swarm.positions - before, axis=1)
        assert np.all(step <= 2.0 * 0.5 + 1e-9)
        assert np.all((swarm.positions >= 0) & (swarm.positions <= 50.0))
        assert np.allclose(swarm.velocities * 0.5, swarm.positions - before)
    if motion == "static":
        assert np.array_equal(swarm.positions, before)
    else:
        assert np.any(step > 0)


def test_same_seed_same_trajectory_and_graph():
    def run(seed):
        s = MobileSwarm(30, np.random.default_rng(seed), arena=20.0, motion="flocking")
        for _ in range(15):
            s.step()
        return s.positions, s.comm_graph()

    (p1, g1), (p2, g2) = run(5), run(5)
    assert np.array_equal(p1, p2) and all(np.array_equal(a, b) for a, b in zip(g1, g2, strict=True))
    assert not np.array_equal(p1, run(6)[0])


def test_random_waypoint_reaches_its_waypoint():
    s = MobileSwarm(1, np.random.default_rng(0), arena=10.0, max_speed=1.0, positions=[[1.0, 1.0]])
    goal = s.waypoints[0].copy()
    steps = int(np.ceil(np.linalg.norm(goal - [1.0, 1.0])))
    for _ in range(steps):
        s.step()
    assert np.allclose(s.positions[0], goal)


def test_bad_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="motion must be one of"):
        MobileSwarm(3, rng, motion="teleport")
    with pytest.raises(ValueError, match="radio_range must be finite"):
        MobileSwarm(3, rng, radio_range=-1.0)
    with pytest.raises(ValueError, match=r"positions must lie in"):
        MobileSwarm(2, rng, arena=1.0, positions=[[0.5, 0.5], [2.0, 0.0]])
    with pytest.raises(TypeError, match="rng must be"):
        MobileSwarm(3, 42)
    with pytest.raises(ValueError, match="radius must be finite"):
        radius_graph(np.zeros((3, 2)), float("nan"))
