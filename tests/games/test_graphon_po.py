import warnings

import numpy as np
import pytest

from games.graphon_mfg import LQGraphonMFG
from games.graphon_po import policy_optimization
from protocols import graphon as kern
from protocols.checks import ConvergenceWarning


def game(graphon="ranked_attachment", sigma=0.3, n_steps=100, n_blocks=8, var0=0.0, **over):
    kw = dict(A=0.3, B=1.0, Abar=0.5, Q=1.0, R=0.5, G=0.8, H=0.6, Hbar=0.4, T=1.0)
    kw.update(over)
    return LQGraphonMFG(
        sigma=sigma,
        graphon=graphon,
        m0=lambda u: 1.0 + np.sin(3.0 * u),
        n_blocks=n_blocks,
        n_steps=n_steps,
        var0=var0,
        **kw,
    )


@pytest.mark.parametrize("family", ["ranked_attachment", "exponential", "sbm"])
@pytest.mark.parametrize("sigma", [0.2, 1.0])
def test_converges_to_the_exact_equilibrium(family, sigma):
    g = game(family, sigma)
    eq = g.equilibrium()
    res = policy_optimization(g, max_iter=60, tol=1e-9)
    assert res.converged
    np.testing.assert_allclose(res.slope, eq.slope, rtol=1e-3, atol=1e-3 * abs(eq.slope).max())
    scale = np.abs(eq.intercepts).max()
    assert np.abs(res.intercepts - eq.intercepts).max() < 1e-3 * scale
    assert np.abs(res.means - eq.means).max() < 1e-3 * np.abs(eq.means).max()
    h = res.history
    assert h["distance"][-1] < 1e-3
    assert h["exploitability"][0] > 1e-3
    assert abs(h["exploitability"][-1]) < 1e-8
    assert h["exploitability"][-1] < 1e-6 * h["exploitability"][0]
    assert len(h["distance"]) == res.iterations


def test_coarser_action_frequency_still_converges_with_a_larger_gap():
    g = game("exponential", 0.5)
    fine = policy_optimization(g, max_iter=60, tol=1e-9)
    coarse = policy_optimization(g, n_actions=20, max_iter=60, tol=1e-9)
    assert coarse.converged
    # piecewise-linear policies on 20 intervals: O(h^2) away from the exact one
    assert fine.history["distance"][-1] < coarse.history["distance"][-1] < 1e-3
    very = policy_optimization(g, n_actions=4, max_iter=60, tol=1e-9)
    assert very.history["distance"][-1] > coarse.history["distance"][-1]
    # the slope is piecewise linear on the action grid
    nodes = very.slope[::25]
    np.testing.assert_allclose(very.slope, np.interp(g.t, g.t[::25], nodes), atol=1e-12)


def test_vanilla_gradient_converges_too():
    g = game("ranked_attachment", sigma=0.8, n_steps=50, var0=0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = policy_optimization(
            g, method="vanilla", max_iter=25, tol=1e-8, inner_max_iter=150, inner_tol=1e-9
        )
    assert res.history["distance"][-1] < 1e-3
    assert res.history["exploitability"][-1] < 1e-7


def test_sampled_coefficients_estimate_the_exact_gradient():
    """The pathwise-adjoint regression estimates (R K + B P_K) and (R k + B s_K)."""
    g = game("exponential", sigma=0.7, n_steps=100, n_blocks=2, var0=0.5)
    eq = g.equilibrium()
    K = 0.5 * eq.slope
    k = np.full((2, g.n_steps + 1), 0.3)
    Z = eq.aggregate
    args = (g.A, g.B, g.Abar, g.Q, g.R, g.G, g.H, g.Hbar, g.sigma)
    P, s, _ = kern.policy_value(*args, K, k, Z, g.dt)
    rng = np.random.default_rng(0)
    npath = 20000
    x0 = g.m0[:, None] + np.sqrt(g.var0) * rng.standard_normal((2, npath))
    cK, ck = kern.sampled_regression(
        *args, K, k, Z, g.dt, x0, rng.standard_normal((2, npath, g.n_steps))
    )
    gK = g.R * K + g.B * P
    gk = g.R * k + g.B * s
    # Euler bias O(dt) plus Monte Carlo noise (standard error ~ 0.005 here)
    assert np.abs(cK - gK)[:-1].mean() < 0.03 * np.abs(gK).max()
    assert np.abs(ck - gk)[:, :-1].mean() < 0.05 * np.abs(gk).max()
    # and it is not trivially small: the policy is far from a best response
    assert np.abs(gk).max() > 0.1 and np.abs(gK).max() > 0.1


def test_sampled_gradients_reduce_exploitability():
    g = game("sbm", sigma=0.5, n_steps=50, n_blocks=4, var0=0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = policy_optimization(
            g, gradient="sampled", max_iter=8, inner_max_iter=3, n_paths=300, lr=0.5, seed=1
        )
    h = res.history
    assert not res.converged
    assert h["exploitability"][-1] < 1e-2 * h["exploitability"][0]
    assert h["distance"][-1] < 0.25 * h["distance"][0]


def test_not_converging_warns_and_says_so():
    g = game(n_steps=20)
    with pytest.warns(ConvergenceWarning):
        res = policy_optimization(g, max_iter=1)
    assert not res.converged and res.iterations == 1


@pytest.mark.parametrize(
    "kw, err",
    [
        (dict(n_actions=7), ValueError),
        (dict(n_actions=0), ValueError),
        (dict(method="adam"), ValueError),
        (dict(gradient="zeroth"), ValueError),
        (dict(gradient="sampled", method="vanilla"), ValueError),
        (dict(damping=1.5), ValueError),
        (dict(lr=-1.0), ValueError),
        (dict(max_iter=0), ValueError),
        (dict(tol=0.0), ValueError),
    ],
)
def test_bad_arguments(kw, err):
    with pytest.raises(err):
        policy_optimization(game(n_steps=20), **kw)


def test_sampled_needs_spreading_paths():
    with pytest.raises(ValueError, match="sigma > 0"):
        policy_optimization(game(sigma=0.0, n_steps=20), gradient="sampled")
    with pytest.raises(TypeError):
        policy_optimization("not a game")


def test_result_has_the_common_shape_and_old_names():
    res = policy_optimization(game("sbm", 0.5, n_steps=40, n_blocks=4), max_iter=60, tol=1e-9)
    assert res.converged
    assert res.slope is res.solution.slope and res.intercepts is res.solution.intercepts
    assert res.residuals is res.history["aggregate_change"]
    assert res.residuals.shape == (res.iterations,)
    # converged means the last aggregate change fell below tol (and not before).
    assert res.residuals[-1] < 1e-9 <= res.residuals[:-1].min()
    with pytest.raises(AttributeError):
        res.slope = res.slope
