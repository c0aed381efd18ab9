"""Real training: PPO learns an attack (the rl extra; marked slow, run in CI)."""

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

from envs.sb3 import SB3ConsensusVecEnv, evaluate_attacker, train_attacker

ENV = {"n_robots": 12, "n_byzantine": 2, "max_cycles": 25}


def _random_policy(seed):
    rng = np.random.default_rng(seed)
    dim = ENV["n_robots"] * ENV["n_byzantine"]
    return lambda obs: rng.uniform(-1, 1, (obs.shape[0], dim)).astype(np.float32)


@pytest.mark.slow
def test_ppo_attacker_drags_lcp_far_more_than_random_and_cannot_break_wmsr():
    lcp_model = train_attacker("lcp", total_timesteps=20_000, seed=0, **ENV)
    learned = evaluate_attacker(
        lambda o: lcp_model.predict(o, deterministic=True)[0], protocol="lcp", **ENV
    )
    random = evaluate_attacker(_random_policy(0), protocol="lcp", **ENV)
    assert learned.displacement > 3 * random.displacement
    assert learned.hull_violation > 0.3  # LCP is pushed outside the honest hull

    wmsr_model = train_attacker("wmsr", total_timesteps=10_000, seed=0, **ENV)
    against_wmsr = evaluate_attacker(
        lambda o: wmsr_model.predict(o, deterministic=True)[0], protocol="wmsr", **ENV
    )
    assert against_wmsr.hull_violation == 0.0


@pytest.mark.slow
def test_training_is_seeded_end_to_end():
    obs = SB3ConsensusVecEnv(4, **ENV)
    obs.seed(123)
    probe = obs.reset()

    def actions(seed):
        model = train_attacker("lcp", total_timesteps=2_048, seed=seed, num_envs=4, **ENV)
        return model.predict(probe, deterministic=True)[0]

    a, b, c = actions(1), actions(1), actions(2)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_sb3_vec_env_resets_finished_swarms_at_once_with_terminal_observation():
    venv = SB3ConsensusVecEnv(3, n_robots=9, n_byzantine=1, max_cycles=4)
    venv.seed(0)
    first = venv.reset()
    for _ in range(3):
        venv.step_async(np.zeros((3, 9), dtype=np.float32))
        _, _, dones, _ = venv.step_wait()
        assert not dones.any()
    venv.step_async(np.zeros((3, 9), dtype=np.float32))
    obs, _, dones, infos = venv.step_wait()
    assert dones.all()
    for i in range(3):
        assert infos[i]["TimeLimit.truncated"]
        assert infos[i]["terminal_observation"][-1] == pytest.approx(1.0)  # t = max_cycles
        assert obs[i][-1] == 0.0  # a new episode
    assert not np.array_equal(obs, first)
