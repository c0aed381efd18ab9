import gymnasium
import numpy as np
import pytest

import envs  # noqa: F401  (registers the Gymnasium ids)
from envs.target_tracking_v0 import parallel_env, pursue_policy


def _run(defence, policy, seed=3, cycles=80):
    env = parallel_env(
        n_robots=30, byzantine_fraction=0.1, defence=defence, arena=60.0, max_cycles=cycles
    )
    obs, _ = env.reset(seed=seed)
    errors, infos = [], None
    while env.agents:
        obs, _, _, _, infos = env.step({a: policy(o) for a, o in obs.items()})
        errors.append(next(iter(infos.values()))["tracking_error"])
    return np.array(errors), next(iter(infos.values()))


def _stay(obs):
    return np.zeros(2, dtype=np.float32)


def test_dbp_blocks_the_liars_and_tracks_better_than_no_defence():
    # Robots that hold still rely on what others flood: the decoy reports matter.
    err_dbp, info_dbp = _run("dbp", _stay)
    err_none, info_none = _run("none", _stay)
    assert info_dbp["byzantine_blocked"] == 3 and info_none["byzantine_blocked"] == 0
    assert err_dbp[-20:].mean() < 0.5 * err_none[-20:].mean()


def test_pursuing_the_estimate_beats_holding_still():
    err_pursue, _ = _run("dbp", pursue_policy)
    err_stay, _ = _run("dbp", _stay)
    assert err_pursue[-20:].mean() < 0.5 * err_stay[-20:].mean()


def test_commanded_velocity_moves_the_cooperative_robots():
    env = parallel_env(n_robots=12, arena=200.0, max_speed=2.0, max_cycles=5)
    env.reset(seed=0)
    before = env.positions[env.coop_idx].copy()
    env.step({a: np.array([1.0, 0.0], dtype=np.float32) for a in env.agents})
    moved = env.positions[env.coop_idx] - before
    inside = before[:, 0] < 198.0
    np.testing.assert_allclose(moved[inside], [[2.0, 0.0]] * int(inside.sum()), atol=1e-12)


def test_reward_is_tracking_error_and_connectivity_penalty():
    env = parallel_env(n_robots=15, connectivity_weight=2.0, max_cycles=5)
    env.reset(seed=1)
    _, rew, _, _, infos = env.step({a: np.zeros(2, dtype=np.float32) for a in env.agents})
    info = next(iter(infos.values()))
    want = -info["tracking_error"] / 60.0 - 2.0 * (1.0 - info["connected_fraction"])
    assert all(r == pytest.approx(want) for r in rew.values())
    assert 0.0 < info["connected_fraction"] <= 1.0


def test_agents_are_the_cooperative_robots():
    env = parallel_env(n_robots=20, byzantine_fraction=0.25, max_cycles=3)
    env.reset(seed=0)
    assert len(env.agents) == 15
    assert not env.byzantine[env.coop_idx].any() and env.byzantine.sum() == 5


def test_team_view_steps_with_one_controller():
    env = gymnasium.make("swarmgym/TargetTrackingTeam-v0", n_robots=12, max_cycles=4)
    obs, _ = env.reset(seed=0)
    assert obs.shape == env.observation_space.shape
    steps = 0
    while True:
        obs, _, term, trunc, _ = env.step(env.action_space.sample())
        steps += 1
        if term or trunc:
            break
    assert steps == 4 and trunc and not term


def test_bad_arguments():
    with pytest.raises(ValueError, match="defence must be one of"):
        parallel_env(defence="prayer")
    with pytest.raises(ValueError, match=r"byzantine_fraction must be finite and in \[0, 0.5\)"):
        parallel_env(byzantine_fraction=0.7)
