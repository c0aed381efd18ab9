"""The power-control game: certificate, equilibria, schedules, and an independent VI solver."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from games.power_control import (
    PowerControlGame,
    interference_matrix,
    rayleigh_channel,
    spectral_radius,
)
from protocols.checks import ConvergenceWarning
from protocols.iwf import iterative_waterfill, waterfill


def _weak_game(seed, nq=3, nk=4, cross=0.1, mask=None):
    rng = np.random.default_rng(seed)
    g = rng.uniform(0.0, cross, size=(nq, nq, nk))
    for q in range(nq):
        g[q, q] = rng.uniform(0.5, 1.5, size=nk)
    noise = rng.uniform(0.2, 0.6, size=(nq, nk))
    budget = rng.uniform(0.5, 2.0, size=nq)
    return PowerControlGame(g, noise, budget, mask)


def _oscillating_game():
    """Two users, two carriers, cross gains twice the direct ones: rho(S_max) = 2."""
    g = np.full((2, 2, 2), 2.0)
    g[0, 0] = g[1, 1] = 1.0
    noise = np.array([[0.1, 0.2], [0.1, 0.2]])
    return PowerControlGame(g, noise, 1.0)


# ------------------------------------------------------- independent VI reference


def _project(y, budget, cap):
    """Euclidean projection onto {0 <= x <= cap, sum x = budget} via scipy's brentq."""

    def excess(lam):
        return np.clip(y - lam, 0.0, cap).sum() - budget

    lo = y.min() - budget - 1.0
    hi = y.max() + 1.0
    lam = brentq(excess, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps)
    return np.clip(y - lam, 0.0, cap)


def _vi_equilibrium(game, tau=0.2, tol=1e-13, max_iter=20_000):
    """Extragradient (Korpelevich) projection method on the game's VI.

    A Nash equilibrium of this concave game is a solution of VI(K, F) with K the product
    of the users' budget sets and F(p)[q, k] = -d R_q / d p[q, k] (up to ln 2)
    = -g_qq,k / (I_qk + g_qq,k p_qk). No water-filling is involved.
    """
    g, noise, budget, cap = game.gains, game.noise, game.budget, game.mask
    nq = g.shape[0]
    direct = g[np.arange(nq), np.arange(nq)]
    cross = g.copy()
    cross[np.arange(nq), np.arange(nq)] = 0.0

    def field(p):
        interf = noise + np.einsum("qrk,rk->qk", cross, p)
        return -direct / (interf + direct * p)

    def proj(y):
        return np.array([_project(y[q], budget[q], cap[q]) for q in range(nq)])

    p = proj(np.zeros_like(noise))
    for _ in range(max_iter):
        mid = proj(p - tau * field(p))
        new = proj(p - tau * field(mid))
        if np.abs(new - p).max() < tol:
            return new
        p = new
    raise AssertionError("the VI reference did not converge")


# --------------------------------------------------------------------- the model


def test_interference_matrix_and_spectral_radius_by_hand():
    g = _weak_game(0).gains
    s = np.zeros((3, 3))
    for q in range(3):
        for r in range(3):
            if r != q:
                s[q, r] = max(g[q, r, k] / g[q, q, k] for k in range(4))
    np.testing.assert_allclose(interference_matrix(g), s, rtol=1e-15)
    # Perron-Frobenius: for a nonnegative matrix, rho = lim ||S^n||^(1/n).
    sn = np.linalg.matrix_power(s / np.abs(s).max(), 200)
    rho_power = np.abs(s).max() * np.linalg.norm(sn, 2) ** (1 / 200)
    assert spectral_radius(g) == pytest.approx(rho_power, rel=0.05)
    # The symmetric 2x2 case: S = [[0, 2], [2, 0]] has eigenvalues +-2.
    assert _oscillating_game().spectral_radius() == pytest.approx(2.0, rel=1e-12)


def test_rates_by_hand():
    game = _weak_game(1)
    p = np.random.default_rng(0).uniform(0.0, 0.5, size=(3, 4))
    g, noise = game.gains, game.noise
    rates = np.zeros(3)
    for q in range(3):
        for k in range(4):
            i = noise[q, k] + sum(g[q, r, k] * p[r, k] for r in range(3) if r != q)
            rates[q] += np.log2(1 + g[q, q, k] * p[q, k] / i)
    np.testing.assert_allclose(game.rates(p), rates, rtol=1e-13)


def test_best_response_maximises_own_rate():
    game = _weak_game(2)
    p = np.random.default_rng(1).dirichlet(np.ones(4), size=3) * game.budget[:, None]
    br = game.best_response(p)
    rng = np.random.default_rng(2)
    for q in range(3):
        best = p.copy()
        best[q] = br[q]
        r_best = game.rates(best)[q]
        for _ in range(50):  # no other feasible deviation does better
            other = p.copy()
            other[q] = rng.dirichlet(np.ones(4)) * game.budget[q]
            assert game.rates(other)[q] <= r_best + 1e-12


def test_rayleigh_channel_statistics_and_determinism():
    gains, tx, rx = rayleigh_channel(20, 64, np.random.default_rng(0), n_taps=8)
    again, _, _ = rayleigh_channel(20, 64, np.random.default_rng(0), n_taps=8)
    np.testing.assert_array_equal(gains, again)
    assert gains.shape == (20, 20, 64) and np.all(gains > 0)
    dist = np.linalg.norm(rx[:, None] - tx[None], axis=2)
    path = (1.0 / np.maximum(dist, 1.0)) ** 3.5
    # Parseval: the carrier-average of |H_k|^2 is sum_l |h_l|^2, of mean 1 (8 taps of
    # variance 1/8) and standard deviation 1/sqrt(8) per link; 400 links give a mean
    # within 5% of 1 (about 3 standard errors).
    fading = gains.mean(axis=2) / path
    assert fading.mean() == pytest.approx(1.0, abs=0.05)
    length = np.linalg.norm(rx - tx, axis=1)
    assert np.all((length >= 10.0) & (length <= 50.0))


def test_bad_input_is_refused():
    g = _weak_game(3).gains
    with pytest.raises(ValueError, match="budget"):
        PowerControlGame(g, 0.1, 0.0)
    with pytest.raises(ValueError, match="gains"):
        PowerControlGame(-g, 0.1, 1.0)
    bad = g.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="gains"):
        PowerControlGame(bad, 0.1, 1.0)
    with pytest.raises(ValueError, match="noise"):
        PowerControlGame(g, np.ones((2, 4)), 1.0)
    with pytest.raises(ValueError, match="mask"):
        PowerControlGame(g, 0.1, 1.0, mask=-np.ones(4))
    game = PowerControlGame(g, 0.1, 1.0)
    with pytest.raises(TypeError, match="unexpected keyword"):
        game.solve(no_such_option=1)
    with pytest.raises(ValueError, match="schedule"):
        game.solve("jacobi")


# ------------------------------------------------------------------- equilibria


@pytest.mark.parametrize("masked", [False, True])
def test_equilibrium_agrees_with_independent_vi_solver(masked):
    mask = None
    if masked:
        mask = np.full((3, 4), np.inf)
        mask[0, 1] = 0.05
        mask[2, 3] = 0.0
    game = _weak_game(4, mask=mask)
    assert game.spectral_radius() < 1
    res = game.solve("sequential", tol=1e-12)
    assert res.converged and res.certified
    ref = _vi_equilibrium(game)
    np.testing.assert_allclose(res.power, ref, rtol=0, atol=1e-8)
    assert game.is_feasible(res.power)
    np.testing.assert_allclose(res.rates, game.rates(res.power), rtol=1e-15)
    assert res.spectral_radius == game.spectral_radius()


def test_all_schedules_reach_the_same_point_when_certified():
    game = _weak_game(5, nq=5, nk=8, cross=0.15)
    assert game.spectral_radius() < 1
    results = {
        s: game.solve(s, tol=1e-12, seed=1, max_delay=3, update_prob=0.4)
        for s in ("sequential", "simultaneous", "asynchronous")
    }
    damped = game.solve("simultaneous", tol=1e-12, step=0.5)
    ref = results["sequential"].power
    for res in [*results.values(), damped]:
        assert res.converged and res.nash_gap <= 1e-12
        np.testing.assert_allclose(res.power, ref, rtol=0, atol=1e-10)
    # The unique equilibrium does not depend on where IWF starts either.
    rng = np.random.default_rng(6)
    p0 = rng.dirichlet(np.ones(8), size=5) * game.budget[:, None]
    np.testing.assert_allclose(
        game.solve("simultaneous", tol=1e-12, p0=p0).power, ref, rtol=0, atol=1e-10
    )


@settings(max_examples=15)
@given(st.integers(0, 2**32 - 1), st.integers(2, 5), st.integers(1, 6))
def test_certified_games_converge_to_an_equilibrium(seed, nq, nk):
    game = _weak_game(seed, nq=nq, nk=nk, cross=0.5 / nq)
    # Cross gains < 0.5 / nq over direct gains >= 0.5: every row of S_max sums to less
    # than (nq - 1) / nq, and rho is at most the largest row sum.
    assert game.spectral_radius() < 1
    res = game.solve("simultaneous", tol=1e-10)
    assert res.converged
    assert game.is_feasible(res.power)
    np.testing.assert_allclose(
        game.best_response(res.power), res.power, rtol=0, atol=1e-10 * game.budget.max()
    )
    # Contraction (Banach): the history falls below tol and never blows up.
    assert res.nash_gap_history[-1] <= 1e-10


def test_oscillating_case_regression():
    """rho(S_max) = 2: simultaneous IWF oscillates for ever, sequential converges."""
    game = _oscillating_game()
    assert game.spectral_radius() > 1
    with pytest.warns(ConvergenceWarning):
        sim = game.solve("simultaneous", max_iter=200)
    assert not sim.converged and sim.iterations == 200
    # Both users jump together between the carriers: the Nash gap stays at 1 (each
    # would move its whole budget) and the profile has period two.
    assert np.all(sim.nash_gap_history[20:] == 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        odd = game.solve("simultaneous", max_iter=201).power
    assert {tuple(sim.power.ravel()), tuple(odd.ravel())} == {
        (0.0, 1.0, 0.0, 1.0),
        (1.0, 0.0, 1.0, 0.0),
    }

    seq = game.solve("sequential")
    assert seq.converged and seq.nash_gap == 0.0 and seq.iterations <= 5
    np.testing.assert_array_equal(seq.power, [[1.0, 0.0], [0.0, 1.0]])
    rev = game.solve("sequential", order=[1, 0])
    assert rev.converged
    np.testing.assert_array_equal(rev.power, [[0.0, 1.0], [1.0, 0.0]])


def test_oscillating_case_has_several_equilibria():
    game = _oscillating_game()
    # Two orthogonal equilibria, and a symmetric one: with both users at (x, 1 - x)
    # each sees I = (0.1 + 2x, 0.2 + 2(1 - x)), and water-filling over two active
    # carriers gives x = (1 + I_2 - I_1) / 2, so x = 3.1 / 6.
    x = 3.1 / 6
    for eq in ([[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]], [[x, 1 - x], [x, 1 - x]]):
        assert game.nash_gap(eq) <= 1e-15
    assert game.nash_gap([[1.0, 0.0], [1.0, 0.0]]) == 1.0


def test_rayleigh_defaults_work_with_few_carriers():
    # The default number of channel taps adapts to the number of carriers.
    game = PowerControlGame.rayleigh(3, 4, seed=0)
    assert game.gains.shape == (3, 3, 4)
    with pytest.raises(ValueError, match="n_taps must be <= 4"):
        PowerControlGame.rayleigh(3, 4, seed=0, n_taps=8)


# ------------------------------------------------------------ accelerated solver


def _independent_gap(game, power):
    """Nash gap from the public single-user water-filling, user by user."""
    interf = game.interference(power)
    nq = game.n_users
    gap = 0.0
    for q in range(nq):
        br = waterfill(interf[q] / game.gains[q, q], game.budget[q], game.mask[q])
        gap = max(gap, float(np.abs(power[q] - br).max() / game.budget[q]))
    return gap


@pytest.mark.parametrize("masked", [False, True])
def test_accelerated_matches_sequential_and_the_vi_reference(masked):
    mask = None
    if masked:
        mask = np.full((3, 4), np.inf)
        mask[0, 1] = 0.05
        mask[2, 3] = 0.0
    game = _weak_game(4, mask=mask)
    res = game.solve("accelerated", tol=1e-12)
    assert res.converged and res.schedule == "accelerated"
    assert game.is_feasible(res.solution)
    assert _independent_gap(game, res.solution) <= 1e-12
    seq = game.solve("sequential", tol=1e-13)
    np.testing.assert_allclose(res.solution, seq.solution, rtol=0, atol=1e-9)
    np.testing.assert_allclose(res.solution, _vi_equilibrium(game), rtol=0, atol=1e-8)


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 6), st.integers(1, 12))
def test_accelerated_on_certified_rayleigh_channels(seed, nq, nk):
    game = PowerControlGame.rayleigh(nq, nk, seed=seed, area=2000.0, noise=1e-6)
    if game.spectral_radius() >= 1:
        return
    res = game.solve("accelerated", tol=1e-11)
    assert res.converged
    assert res.residuals[-1] == res.nash_gap
    assert game.nash_gap(res.solution) <= 1e-11
    assert _independent_gap(game, res.solution) <= 1e-11
    seq = game.solve("sequential", tol=1e-13, max_iter=100_000)
    np.testing.assert_allclose(res.solution, seq.solution, rtol=0, atol=1e-9 * game.budget.max())


def test_accelerated_needs_fewer_sweeps_than_sequential():
    # The benchmark's channel, smaller: strong interference (rho(S_max) >> 1) but IWF
    # converges; Anderson extrapolation must reach the same gap in fewer sweeps.
    game = PowerControlGame.rayleigh(20, 64, seed=0, area=1500.0)
    seq = game.solve("sequential", tol=1e-9)
    acc = game.solve("accelerated", tol=1e-9)
    assert seq.converged and acc.converged
    assert acc.iterations < seq.iterations
    assert _independent_gap(game, acc.solution) <= 1e-9


def test_accelerated_on_rho_above_one_converges_or_says_so():
    # rho = 2: simultaneous IWF oscillates; the accelerated solver must either reach a
    # true equilibrium (checked independently) or report that it did not.
    for cross in (2.0, 1.3, 5.0):
        g = np.full((2, 2, 2), cross)
        g[0, 0] = g[1, 1] = 1.0
        game = PowerControlGame(g, np.array([[0.1, 0.2], [0.1, 0.2]]), 1.0)
        assert game.spectral_radius() > 1
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = game.solve("accelerated", tol=1e-12, max_iter=50)
        gap = _independent_gap(game, res.solution)
        assert res.nash_gap == pytest.approx(gap, abs=1e-15)
        if res.converged:
            assert gap <= 1e-12 and not caught
        else:
            assert gap > 1e-12
            assert any(issubclass(w.category, ConvergenceWarning) for w in caught)
    # Strong interference among many users (rho >> 1), stopped early: never a silent
    # wrong answer.
    game = PowerControlGame.rayleigh(8, 16, seed=3, area=60.0)
    assert game.spectral_radius() > 1
    with pytest.warns(ConvergenceWarning, match=r"max_iter=2.*converged=False"):
        res = game.solve("accelerated", tol=1e-14, max_iter=2)
    assert not res.converged and res.iterations == 2
    assert res.nash_gap == pytest.approx(_independent_gap(game, res.solution), abs=1e-15)
    assert res.nash_gap > 1e-14
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = game.solve("accelerated", tol=1e-10, max_iter=2000)
    gap = _independent_gap(game, res.solution)
    assert (res.converged and gap <= 1e-10) or (not res.converged and gap > 1e-10)
    assert game.is_feasible(res.solution)


def test_accelerated_order_and_refused_options():
    game = _weak_game(5, nq=4, nk=6, cross=0.2)
    a = game.solve("accelerated", tol=1e-12)
    b = game.solve("accelerated", tol=1e-12, order=[3, 1, 0, 2])
    np.testing.assert_allclose(a.solution, b.solution, rtol=0, atol=1e-10)
    for opt in ({"step": 0.5}, {"step_decay": 0.7}, {"measurement_noise": 0.1}):
        with pytest.raises(ValueError, match="accelerated"):
            game.solve("accelerated", **opt)
    # p0 is honoured: starting at the equilibrium needs one sweep.
    c = game.solve("accelerated", tol=1e-12, p0=a.solution)
    assert c.converged and c.iterations == 1


def test_result_aliases_keep_the_old_names():
    game = _weak_game(6)
    res = game.solve("sequential", tol=1e-12)
    assert res.power is res.solution
    assert res.nash_gap_history is res.residuals
    assert res.residuals.shape == (res.iterations + 1,)
    with pytest.raises(AttributeError):
        res.power = np.zeros_like(res.solution)
    low = iterative_waterfill(game.gains, game.noise, game.budget, tol=1e-12)
    assert low.power is low.solution and low.nash_gap_history is low.residuals
    np.testing.assert_array_equal(low.solution, res.solution)


@pytest.mark.parametrize("seed", [1, 4])
def test_accelerated_certifies_a_point_it_did_not_sweep(seed):
    # On these channels the last sweep's residual is still above tol, so convergence was
    # declared on the next point without sweeping it (an extrapolated point clipped to
    # [0, cap], or the sweep's output): it must be feasible, an equilibrium by the public
    # water-filling, and the one tight sequential IWF finds.
    game = PowerControlGame.rayleigh(20, 64, seed=seed, area=3000.0)
    res = game.solve("accelerated", tol=1e-9)
    assert res.converged and res.residuals[-2] > 1e-9
    assert game.is_feasible(res.solution, atol=1e-12)
    assert _independent_gap(game, res.solution) <= 1e-9
    tight = game.solve("sequential", tol=1e-13, max_iter=100_000)
    np.testing.assert_allclose(res.solution, tight.solution, rtol=0, atol=1e-9 * game.budget.max())
