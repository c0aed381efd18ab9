"""differentiable_game_v0: rewards, the certified policy, bad input."""

import json
import math

import numpy as np
import pytest

from envs.differentiable_game_v0 import env, parallel_env
from games.diffgame import QuadraticGame, toy_game


def test_rewards_are_minus_costs_by_hand():
    e = parallel_env(game="toy", max_cycles=5)
    e.reset(seed=0)
    _, rew, term, trunc, info = e.step(
        {"player_0": np.array([2.0], np.float32), "player_1": np.array([3.0], np.float32)}
    )
    assert rew["player_0"] == pytest.approx(-(0.5 * 4 + 10 * 6))
    assert rew["player_1"] == pytest.approx(-(0.5 * 9 + 0.05 * 6))
    assert not any(term.values()) and not any(trunc.values())
    assert info["player_0"]["distance_to_equilibrium"] == pytest.approx(math.hypot(2, 3))


def test_certified_policy_reaches_the_equilibrium_of_the_toy_game():
    e = parallel_env(game="toy", max_cycles=1300)
    obs, _ = e.reset(seed=1)
    c = e.certificate
    assert c.certified
    d0 = c.norm(next(iter(obs.values())))
    for k in range(1, 1201):
        obs, *_ = e.step(e.certified_actions(obs))
        if k % 100 == 0:  # contraction in the certified metric at the certified factor
            d = c.norm(next(iter(obs.values())))
            assert d <= c.euler_rate(c.best_euler_step) ** k * d0 * (1 + 1e-3) + 1e-5
    assert np.abs(next(iter(obs.values()))).max() < 1e-4  # x* = 0 (b = 0)


def test_certified_policy_on_a_random_game_matches_the_linear_solve():
    e = parallel_env(
        game="random", n_players=4, block_size=2, coupling=0.2, bound=50.0, max_cycles=2000
    )
    obs, _ = e.reset(seed=2)
    xstar = np.linalg.solve(e.game.J, -e.game.b)
    assert np.abs(xstar).max() < 50
    for _ in range(1500):
        obs, *_ = e.step(e.certified_actions(obs))
    np.testing.assert_allclose(obs["player_0"], xstar, atol=1e-3)


def test_truncation_and_aec_form():
    e = parallel_env(max_cycles=3)
    e.reset(seed=0)
    for _ in range(3):
        _, _, _, trunc, _ = e.step({a: e.action_space(a).sample() for a in e.agents})
    assert all(trunc.values()) and e.agents == []
    aec = env(max_cycles=3)
    aec.reset(seed=0)
    assert aec.agents == ["player_0", "player_1"]


def test_nan_actions_keep_the_current_decision():
    e = parallel_env(max_cycles=5)
    obs, _ = e.reset(seed=4)
    x = obs["player_0"].copy()
    obs, *_ = e.step(
        {"player_0": np.array([np.nan], np.float32), "player_1": np.array([np.inf], np.float32)}
    )
    np.testing.assert_array_equal(obs["player_0"], x)


def test_bad_arguments():
    with pytest.raises(ValueError, match="game"):
        parallel_env(game="chess")
    with pytest.raises(ValueError, match="bound"):
        parallel_env(bound=0.0)
    with pytest.raises(ValueError, match="render_mode"):
        parallel_env(render_mode="ascii")
    J = np.eye(2)
    J[0, 1] = 1.0
    with pytest.raises(ValueError, match="symmetric own blocks"):
        parallel_env(game=QuadraticGame(J, [0, 0], [2]))
    e = parallel_env(game=toy_game(l21=0.2))
    e.reset(seed=0)
    assert not e.certificate.certified
    with pytest.raises(ValueError, match="no certified policy"):
        e.certified_actions({"player_0": np.zeros(2)})
    assert "not certified" in json.dumps(e.certificate.reason)


def test_size_arguments_are_checked_and_belong_to_the_random_game():
    with pytest.raises(ValueError, match="n_players must be >= 1"):
        parallel_env(n_players=0)
    with pytest.raises(ValueError, match="n_players must be >= 1"):
        parallel_env(game="random", n_players=0)
    with pytest.raises(ValueError, match=r"size the random game .*game='toy'"):
        parallel_env(n_players=3)
    with pytest.raises(ValueError, match="mu must be finite"):
        parallel_env(mu=float("nan"))
    with pytest.raises(ValueError, match="mu must have shape"):
        parallel_env(game="random", mu=1.0)
    assert len(parallel_env(game="random").possible_agents) == 2
