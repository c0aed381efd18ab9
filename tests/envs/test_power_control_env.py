"""power_control_v0: the environment's dynamics against the game and closed forms."""

import warnings

import numpy as np
import pytest

from envs.power_control_v0 import iwf_policy, parallel_env
from games.power_control import PowerControlGame
from protocols.checks import ConvergenceWarning
from protocols.iwf import waterfill


def _certified_game(seed=0, nq=3, nk=4):
    rng = np.random.default_rng(seed)
    g = rng.uniform(0.0, 0.1, size=(nq, nq, nk))
    for q in range(nq):
        g[q, q] = rng.uniform(0.5, 1.5, size=nk)
    return PowerControlGame(g, rng.uniform(0.2, 0.6, size=(nq, nk)), [1.0, 2.0, 0.5][:nq])


def test_reset_observes_the_noise_and_own_gains():
    game = _certified_game()
    env = parallel_env(game=game)
    obs, infos = env.reset(seed=0)
    # From silence, each user's best response is water-filling against the noise.
    gap = max(
        waterfill(game.noise[q] / game.gains[q, q], game.budget[q]).max() / game.budget[q]
        for q in range(3)
    )
    for q, agent in enumerate(env.possible_agents):
        np.testing.assert_array_equal(obs[agent][:4], game.noise[q])
        np.testing.assert_array_equal(obs[agent][4:], game.gains[q, q])
        assert infos[agent]["nash_gap"] == pytest.approx(gap, rel=1e-15)


def test_rewards_are_rates_seen_from_the_observations():
    env = parallel_env(n_users=3, n_carriers=5)
    env.reset(seed=4)
    rng = np.random.default_rng(0)
    actions = {a: rng.uniform(0, 1, size=5) for a in env.agents}
    obs, rewards, terms, truncs, infos = env.step(actions)
    budget = env.game.budget
    for q, agent in enumerate(env.possible_agents):
        p = budget[q] * actions[agent] / actions[agent].sum()
        interf, gain = obs[agent][:5], obs[agent][5:]
        assert rewards[agent] == pytest.approx(np.log2(1 + gain * p / interf).sum(), rel=1e-12)
        assert not terms[agent] and not truncs[agent]
        assert infos[agent]["rate_gain"] >= 0.0  # water-filling is the best response


def test_actions_map_onto_the_budget_simplex_and_bad_values_are_tamed():
    game = _certified_game()
    env = parallel_env(game=game)
    env.reset(seed=0)
    acts = {
        "user_0": np.zeros(4),
        "user_1": np.array([np.nan, 1.0, np.inf, -3.0]),
        "user_2": np.array([0.2, 0.2, 0.4, 0.2]),
    }
    env.step(acts)
    np.testing.assert_allclose(env.power[0], np.full(4, 0.25))  # all-zero weights: uniform
    np.testing.assert_allclose(env.power[1], [0.0, 1.0, 1.0, 0.0])  # NaN->0, inf->1, <0->0
    np.testing.assert_allclose(env.power[2], [0.1, 0.1, 0.2, 0.1])
    np.testing.assert_allclose(env.power.sum(axis=1), game.budget)


def test_iwf_policy_is_simultaneous_iwf_and_reaches_the_equilibrium():
    game = _certified_game(1)
    assert game.spectral_radius() < 1
    env = parallel_env(game=game, max_cycles=60)
    obs, _ = env.reset(seed=0)
    for n in range(1, 6):
        obs, _, _, _, infos = env.step(env.iwf_actions(obs))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            jacobi = game.solve("simultaneous", max_iter=n, tol=0.0)
        np.testing.assert_allclose(env.power, jacobi.power, rtol=0, atol=1e-14)
        assert infos["user_0"]["nash_gap"] == pytest.approx(jacobi.nash_gap, abs=1e-14)
    while env.agents:
        obs, _, _, truncs, infos = env.step(env.iwf_actions(obs))
    assert all(truncs.values()) and env.cycles == 60
    eq = game.solve("sequential", tol=1e-13).power
    np.testing.assert_allclose(env.power, eq, rtol=0, atol=1e-10)
    assert infos["user_1"]["nash_gap"] <= 1e-10
    assert max(i["rate_gain"] for i in infos.values()) <= 1e-9


def test_iwf_policy_is_water_filling():
    obs = np.array([0.1, 0.2, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(iwf_policy(obs, 1.0), [0.5, 0.4, 0.1, 0.0], atol=1e-15)
    obs = np.array([0.2, 0.4, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0])  # same inverse gains
    np.testing.assert_allclose(iwf_policy(obs, 2.0), waterfill([0.1, 0.2, 0.5, 1.0], 2.0) / 2)


def test_iwf_policy_oscillates_when_rho_exceeds_one():
    g = np.full((2, 2, 2), 2.0)
    g[0, 0] = g[1, 1] = 1.0
    game = PowerControlGame(g, np.array([[0.1, 0.2], [0.1, 0.2]]), 1.0)
    env = parallel_env(game=game, max_cycles=40)
    obs, _ = env.reset(seed=0)
    gaps = []
    while env.agents:
        obs, _, _, _, infos = env.step(env.iwf_actions(obs))
        gaps.append(infos["user_0"]["nash_gap"])
    assert gaps[-10:] == [1.0] * 10


def test_channel_comes_from_the_reset_seed():
    env = parallel_env(n_users=3, n_carriers=4)
    env.reset(seed=1)
    a = env.game.gains.copy()
    env.reset(seed=2)
    b = env.game.gains.copy()
    env.reset(seed=1)
    np.testing.assert_array_equal(env.game.gains, a)
    assert not np.array_equal(a, b)


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_users"):
        parallel_env(n_users=0)
    with pytest.raises(ValueError, match="n_taps"):
        parallel_env(n_carriers=4, n_taps=8)
    with pytest.raises(ValueError, match="render_mode"):
        parallel_env(render_mode="ascii")
    with pytest.raises(ValueError, match="mask"):
        parallel_env(game=PowerControlGame(np.ones((1, 1, 2)), 0.1, 1.0, mask=[0.5, np.inf]))
    env = parallel_env(n_users=2, n_carriers=3)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step({"user_0": np.ones(2), "user_1": np.ones(3)})
