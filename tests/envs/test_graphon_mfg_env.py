import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envs import graphon_mfg_v0 as mod

KW = dict(n_players=40, n_steps=20, n_blocks=8, sigma=0.4, var0=0.1)


def _adjacency(env):
    n = env.n_players
    adj = np.zeros((n, n))
    rows = np.repeat(np.arange(n), np.diff(env.indptr))
    adj[rows, env.indices] = 1.0
    return adj


def test_dict_and_batched_modes_give_the_same_trajectory():
    a = mod.parallel_env(**KW)
    b = mod.parallel_env(**KW)
    obs_a, _ = a.reset(seed=4)
    b.reset(seed=4)
    for _ in range(KW["n_steps"]):
        acts = a.equilibrium_policy(obs_a)
        obs_a, rew_a, term_a, trunc_a, _ = a.step(acts)
        obs_b, rew_b, term_b, trunc_b = b.step_batch(b.equilibrium_actions())
        for i, agent in enumerate(b.possible_agents):
            np.testing.assert_array_equal(obs_a[agent], obs_b[i])
            assert rew_a[agent] == rew_b[i]
            assert term_a[agent] == term_b and trunc_a[agent] == trunc_b
    assert term_b and not trunc_b and a.agents == [] and b.agents == []


def test_step_follows_the_model_and_the_reward_is_minus_the_cost():
    env = mod.parallel_env(**{**KW, "sigma": 0.0})
    env.reset(seed=1)
    g = env.game
    adj = _adjacency(env)
    assert np.array_equal(adj, adj.T) and not adj.diagonal().any()
    rng = np.random.default_rng(0)
    for k in range(g.n_steps):
        x, z = env.x.copy(), env.z.copy()
        np.testing.assert_allclose(z, adj @ x / env.n_players, rtol=1e-12, atol=1e-14)
        a = rng.uniform(-1, 1, env.n_players)
        obs, rew, term, _ = env.step_batch(a)
        cost = 0.5 * (g.Q * (x - g.H * z) ** 2 + g.R * a**2) * g.dt
        want_x = x + (g.A * x + g.B * a + g.Abar * z) * g.dt
        np.testing.assert_allclose(obs[:, 0], want_x, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(obs[:, 2], (k + 1) * g.dt)
        if k == g.n_steps - 1:
            zT = adj @ want_x / env.n_players
            cost = cost + 0.5 * g.G * (want_x - g.Hbar * zT) ** 2
            assert term
        np.testing.assert_allclose(rew, -cost, rtol=1e-12, atol=1e-15)


def test_large_population_tracks_the_graphon_equilibrium_means():
    """Law of large numbers on a dense graphon sample: block averages follow m_j(t)."""
    env = mod.parallel_env(
        n_players=2000, n_steps=100, n_blocks=10, sigma=0.3, m0=lambda u: 1.0 + np.sin(3.0 * u)
    )
    env.reset(seed=0)
    eq = env.equilibrium
    blocks = np.minimum((env.labels * 10).astype(int), 9)
    worst = 0.0
    for k in range(1, 101):
        env.step_batch(env.equilibrium_actions())
        avg = np.bincount(blocks, weights=env.x) / np.bincount(blocks)
        worst = max(worst, np.abs(avg - eq.means[:, k]).max())
    # Euler O(dt) + within-block label spread + noise/sqrt(200) + graph sampling
    assert worst < 0.08


def test_actions_are_clipped_and_nan_is_zero():
    env = mod.parallel_env(**{**KW, "sigma": 0.0, "action_bound": 2.0})
    env.reset(seed=2)
    x, z = env.x.copy(), env.z.copy()
    a = np.full(env.n_players, np.nan)
    a[0] = 1e9
    obs, _, _, _ = env.step_batch(a)
    g = env.game
    want = x + (g.A * x + g.Abar * z) * g.dt
    want[0] += g.B * 2.0 * g.dt
    np.testing.assert_allclose(obs[:, 0], want, rtol=1e-12)
    with pytest.raises(ValueError, match="shape"):
        env.step_batch(np.zeros(3))
    with pytest.raises(ValueError, match="no action for live agent"):
        env.step({"nobody": np.zeros(1)})


def test_max_cycles_truncates_before_the_horizon():
    env = mod.parallel_env(**{**KW, "max_cycles": 5})
    env.reset(seed=0)
    for _ in range(4):
        _, _, term, trunc = env.step_batch(np.zeros(env.n_players))
        assert not term and not trunc
    _, _, term, trunc = env.step_batch(np.zeros(env.n_players))
    assert trunc and not term and env.agents == []
    with pytest.raises(RuntimeError):
        env.step_batch(np.zeros(env.n_players))


def test_sparse_mode_scales_to_many_players():
    env = mod.parallel_env(n_players=20000, mean_degree=20, n_steps=10, n_blocks=10)
    env.reset(seed=0)
    deg = np.diff(env.indptr)
    # expected degree rho N int_0^1 (1 - u v) dv with rho N = 20
    assert abs(deg.mean() - 20 * 0.75) < 0.5
    obs, rew, _, _ = env.step_batch(env.equilibrium_actions())
    assert obs.shape == (20000, 4) and np.all(np.isfinite(rew))


@pytest.mark.parametrize(
    "bad, err",
    [
        (dict(n_players=0), ValueError),
        (dict(mean_degree=-1.0), ValueError),
        (dict(render_mode="ansi"), ValueError),
        (dict(action_bound=0.0), ValueError),
        (dict(n_players=9000), ValueError),
        (dict(graphon="nope"), ValueError),
        (dict(max_cycles=0), ValueError),
        (dict(intercepts="cubic"), ValueError),
    ],
)
def test_bad_arguments(bad, err):
    with pytest.raises(err):
        mod.parallel_env(**{**KW, **bad})


_ENV = mod.parallel_env(**KW)


@settings(max_examples=30)
@given(
    st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=40, max_size=40),
    st.integers(0, 2**16),
)
def test_any_actions_give_finite_states_and_nonpositive_rewards(acts, seed):
    _ENV.reset(seed=seed)
    for _ in range(3):
        obs, rew, _, _ = _ENV.step_batch(np.array(acts))
        assert np.all(np.isfinite(obs)) and np.all(np.isfinite(rew))
        assert np.all(rew <= 0)
