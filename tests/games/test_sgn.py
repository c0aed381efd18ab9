"""Small-Gain Nash certificates: closed forms, theorems and measured contraction."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import linalg, optimize

from games.diffgame import Box, DifferentiableGame, Simplex, random_quadratic_game, toy_game
from games.sgn import (
    Certificate,
    MarkovGame,
    QuadraticGame,
    certify,
    certify_entropic,
    entropic_dual_game,
    entropic_npg,
    optimal_weights,
    projected_euler,
    projected_rk4,
    sgn_margin,
    timescale_band,
)
from protocols.checks import ConvergenceWarning

S = math.sqrt(0.5)  # sqrt(l12 l21) for the toy game


def margin_by_hand(mu, L, w):
    """1/2 lambda_min(D^-1/2 C(w) D^-1/2), C built entry by entry as in the issue."""
    n = len(mu)
    C = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            C[i, j] = 2 * w[i] * mu[i] if i == j else -(w[i] * L[i][j] + w[j] * L[j][i])
    Dm = np.diag(1 / np.sqrt(w))
    return 0.5 * np.linalg.eigvalsh(Dm @ C @ Dm)[0]


# ---------------------------------------------------------------------------------------
# the toy game (mu = 1, couplings 10 and 0.05), by hand:
#   D^-1/2 C D^-1/2 = [[2, -s], [-s, 2]], s(r) = 10 / sqrt(r) + 0.05 sqrt(r), r = w2 / w1,
#   minimal at r = 10 / 0.05 = 200 with s = 2 sqrt(0.5): alpha = 1 - sqrt(0.5);
#   W^1/2 J W^-1/2 = [[1, sqrt(.5)], [sqrt(.5), 1]]: beta = 1 + sqrt(0.5);
#   s(r) < 2 <=> 0.05 t^2 - 2 t + 10 < 0 (t = sqrt r) <=> t in 20 (1 -+ sqrt(0.5)).
# ---------------------------------------------------------------------------------------
def test_toy_game_is_not_euclidean_monotone():
    J = toy_game().J
    lam = np.linalg.eigvalsh((J + J.T) / 2)
    assert lam[0] == pytest.approx(1 - (10 + 0.05) / 2)
    assert lam[0] < 0
    assert certify(toy_game()).euclidean_margin == pytest.approx(lam[0])


def test_toy_game_certificate_closed_forms():
    c = certify(toy_game())
    assert c.certified
    np.testing.assert_allclose(c.weights, [1.0, 200.0], rtol=1e-9)
    assert c.margin == pytest.approx(1 - S, rel=1e-12)
    assert c.beta == pytest.approx(1 + S, rel=1e-12)
    assert c.euler_step == pytest.approx(2 * (1 - S) / (1 + S) ** 2, rel=1e-12)
    assert c.euler_step == pytest.approx(0.2010, abs=5e-5)
    lo, hi = c.band
    assert lo == pytest.approx((20 * (1 - S)) ** 2, rel=1e-12)
    assert hi == pytest.approx((20 * (1 + S)) ** 2, rel=1e-12)
    assert (lo, hi) == (pytest.approx(34.31, abs=5e-3), pytest.approx(1165.69, abs=5e-3))
    assert lo * hi == pytest.approx((10 / 0.05) ** 2, rel=1e-12)
    assert c.mu.tolist() == [1.0, 1.0]
    assert c.coupling[0, 1] == 10.0 and c.coupling[1, 0] == 0.05
    assert c.gain_radius == pytest.approx(S)  # sqrt(l12 l21) / mu


def test_toy_game_margin_matches_issue_formula_and_vanishes_on_band_edges():
    c = certify(toy_game())
    L = [[0, 10.0], [0.05, 0]]
    assert margin_by_hand([1, 1], L, c.weights) == pytest.approx(c.margin, rel=1e-12)
    for r in c.band:
        assert margin_by_hand([1, 1], L, [1.0, r]) == pytest.approx(0.0, abs=1e-9)
    lo, hi = c.band
    assert margin_by_hand([1, 1], L, [1.0, 0.99 * lo]) < 0
    assert margin_by_hand([1, 1], L, [1.0, 1.01 * hi]) < 0
    assert margin_by_hand([1, 1], L, [1.0, math.sqrt(lo * hi)]) > 0


def test_toy_game_rk4_step_is_the_root_of_the_rk4_bound():
    c = certify(toy_game())
    h = c.rk4_step
    q = h * c.beta
    bound = math.sqrt(1 - 2 * h * c.margin + q * q) + q * q / 2 + q**3 / 6 + q**4 / 24
    assert bound == pytest.approx(1.0, abs=1e-12)
    assert 0 < c.best_rk4_step < h < c.euler_step
    assert c.rk4_rate(0.5 * h) < 1


def test_toy_game_flow_contracts_at_margin_in_certified_metric():
    """||exp(-t J)||_W <= exp(-alpha t): the margin is the flow's contraction rate."""
    c = certify(toy_game())
    s = np.sqrt(c.metric)
    J = toy_game().J
    for t in (0.1, 1.0, 5.0):
        norm = np.linalg.norm(s[:, None] * linalg.expm(-t * J) / s[None, :], 2)
        assert norm <= math.exp(-c.margin * t) * (1 + 1e-12)
    # ... which the Euclidean norm does not do (it grows first)
    assert np.linalg.norm(linalg.expm(-0.1 * J), 2) > 1


@settings(max_examples=60)
@given(
    mu1=st.floats(0.1, 5),
    mu2=st.floats(0.1, 5),
    l12=st.floats(0.01, 10),
    l21=st.floats(0.01, 10),
    a=st.floats(0, 0.9),
)
def test_two_player_band_by_brute_force(mu1, mu2, l12, l21, a):
    margin = a * min(mu1, mu2)
    band = timescale_band(mu1, mu2, l12, l21, margin)
    L = [[0, l12], [l21, 0]]
    ratios = np.logspace(-8, 8, 400)
    brute = np.array([margin_by_hand([mu1, mu2], L, [1.0, r]) for r in ratios]) > margin + 1e-9
    if band is None:
        assert not brute.any()
        assert (mu1 - margin) * (mu2 - margin) <= l12 * l21 * (1 + 1e-9)
        return
    lo, hi = band
    assert lo * hi == pytest.approx((l12 / l21) ** 2, rel=1e-6)
    inside = (ratios > lo * (1 + 1e-6)) & (ratios < hi * (1 - 1e-6))
    outside = (ratios < lo * (1 - 1e-6)) | (ratios > hi * (1 + 1e-6))
    assert brute[inside].all()
    assert not (brute & outside).any()


@settings(max_examples=40)
@given(mu1=st.floats(0.1, 5), mu2=st.floats(0.1, 5), l12=st.floats(0, 10), l21=st.floats(0, 10))
def test_two_player_certified_iff_small_gain(mu1, mu2, l12, l21):
    g = QuadraticGame([[mu1, l12], [l21, mu2]], [0.0, 0.0], [1, 1])
    c = certify(g)
    product_gap = mu1 * mu2 - l12 * l21
    if abs(product_gap) > 1e-6 * max(1.0, mu1 * mu2):
        assert c.certified == (product_gap > 0)
    if not c.certified:
        assert c.reason and "not certified" in c.reason
        assert c.euler_step == 0.0 and c.rk4_step == 0.0


def test_optimal_weights_reach_the_smallest_eigenvalue_of_the_comparison_matrix():
    rng = np.random.default_rng(5)
    for _ in range(20):
        n = int(rng.integers(2, 7))
        mu = rng.uniform(0.5, 2, n)
        L = rng.uniform(0, 0.6, (n, n)) * (rng.random((n, n)) < 0.7)
        np.fill_diagonal(L, 0)
        tau = np.min(np.linalg.eigvals(np.diag(mu) - L).real)  # theorem: the optimum
        w, m = optimal_weights(mu, L)
        assert m == pytest.approx(margin_by_hand(mu, L, w), abs=1e-10)
        assert m == pytest.approx(tau, abs=1e-7)
        # no weights do better (random search) and scipy's optimiser agrees
        for _ in range(30):
            assert margin_by_hand(mu, L, np.exp(rng.normal(0, 2, n))) <= tau + 1e-9
        best = optimize.minimize(
            lambda z, mu=mu, L=L: -margin_by_hand(mu, L, np.exp(z)),
            np.zeros(n),
            method="Nelder-Mead",
            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000},
        )
        assert -best.fun <= m + 1e-7
        _, m2 = optimal_weights(mu, L, method="optimize")
        assert m2 <= m + 1e-9 and m2 == pytest.approx(m, abs=1e-4)


def test_reducible_coupling_still_gets_the_optimal_margin():
    mu = np.array([1.0, 2.0, 3.0])
    L = np.array([[0, 0.5, 0], [0, 0, 0], [0, 0, 0]])  # triangular: eigenvalues are mu
    w, m = optimal_weights(mu, L)
    assert m == pytest.approx(1.0, abs=1e-6)
    assert sgn_margin(mu, L, w) == pytest.approx(m)


def _games(seed, n_games=24):
    rng = np.random.default_rng(seed)
    for k in range(n_games):
        yield random_quadratic_game(
            int(rng.integers(2, 6)),
            int(rng.integers(1, 4)),
            rng,
            mu=(0.3, 2.0),
            coupling=float(rng.uniform(0.05, 1.2)),
            topology=("dense", "ring")[k % 2],
        )


def test_random_games_certified_step_contracts_at_certified_rate():
    n_cert = 0
    for g in _games(11):
        c = certify(g)
        if not c.certified:
            continue
        n_cert += 1
        xstar = g.equilibrium()
        rng = np.random.default_rng(n_cert)
        x0 = xstar + rng.normal(size=g.dim)
        for method, steps, rate in (
            ("euler", (c.best_euler_step, 0.5 * c.euler_step, c.euler_step), c.euler_rate),
            ("rk4", (c.best_rk4_step, 0.95 * c.rk4_step), c.rk4_rate),
        ):
            for h in steps:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    r = (
                        projected_euler(g, c, step=h, x0=x0, tol=0, max_iter=40, trajectory=True)
                        if method == "euler"
                        else projected_rk4(g, c, step=h, x0=x0, tol=0, max_iter=40, trajectory=True)
                    )
                d = np.array([c.norm(x - xstar) for x in r.trajectory])
                factors = d[1:] / d[:-1]
                assert np.all(factors <= rate(h) + 1e-9), (method, h)
                assert d[-1] < d[0]
    assert n_cert >= 8


def test_certificate_never_claims_a_game_that_diverges_at_its_step():
    seen = 0
    for g in _games(23, n_games=60):
        c = certify(g)
        if not c.certified:
            continue
        seen += 1
        for h in (c.euler_step, c.best_euler_step, 1e-3 * c.euler_step):
            rho = np.max(np.abs(np.linalg.eigvals(np.eye(g.dim) - h * g.J)))
            assert rho <= 1 + 1e-10
        assert np.min(np.linalg.eigvals(g.J).real) >= c.margin - 1e-10
    assert seen >= 10


def test_game_outside_the_band_diverges_and_is_refused():
    g = toy_game(l21=0.2)  # mu^2 = 1 < l12 l21 = 2
    c = certify(g)
    assert not c.certified and c.band is None
    assert "mu_1 mu_2" in c.reason and "L_12 L_21" in c.reason
    with pytest.raises(ValueError, match="no certified step"):
        projected_euler(g, c)
    # J has the eigenvalue 1 - sqrt(2) < 0: gradient play grows along its eigenvector
    for h in (1e-3, 0.05, 0.2010, 0.5):
        with pytest.warns(ConvergenceWarning):
            r = projected_euler(g, c, step=h, x0=[0.3, -0.1], max_iter=int(30 / h), trajectory=True)
        assert np.linalg.norm(r.trajectory[-1]) > 100 * np.linalg.norm(r.trajectory[0])


def test_game_on_the_band_boundary_stalls_and_is_refused():
    g = toy_game(l21=0.1)  # l12 l21 = mu^2: J singular, a line of equilibria
    c = certify(g)
    assert not c.certified
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        r = projected_euler(g, c, step=0.1, x0=[1.0, 1.0], tol=0, max_iter=2000, trajectory=True)
    # J^T has the null vector (1, -10): that component of x never moves, so gradient play
    # stalls on the line of equilibria instead of contracting to x* = 0
    y = np.array([1.0, -10.0])
    np.testing.assert_allclose(r.trajectory @ y, np.array([1.0, 1.0]) @ y, rtol=1e-9)
    assert np.linalg.norm(r.solution) > 0.9


def test_weights_outside_the_band_do_not_contract():
    c = certify(toy_game())
    J = toy_game().J
    for r in (0.5 * c.band[0], 2 * c.band[1]):
        s = np.sqrt([1.0, r])
        M = s[:, None] * J / s[None, :]
        lam, vec = np.linalg.eigh((M + M.T) / 2)
        assert lam[0] < 0
        x = vec[:, 0] / s  # a direction where d/dt ||x||_W^2 = -2 x^T W J x > 0
        xn = x - 1e-3 * J @ x
        assert np.sum(s**2 * xn**2) > np.sum(s**2 * x**2)


def test_projected_solvers_match_a_constrained_potential_reference():
    """Symmetric J: the equilibrium on a product of sets minimises 1/2 x'Jx + b'x there."""
    rng = np.random.default_rng(2)
    g0 = random_quadratic_game(3, 3, rng, mu=(1, 2), coupling=0.3, symmetric_coupling=True)
    sets = [Box(-0.2, 0.2), Simplex(1.0), None]
    g = QuadraticGame(g0.J, 3 * g0.b, g0.blocks, sets=sets)
    c = certify(g)
    assert c.certified
    res = projected_euler(g, c, tol=1e-12)
    res4 = projected_rk4(g, c, tol=1e-12)
    assert res.converged and res4.converged
    cons = [{"type": "eq", "fun": lambda x: np.sum(x[3:6]) - 1.0}]
    bounds = [(-0.2, 0.2)] * 3 + [(0, None)] * 3 + [(None, None)] * 3
    ref = optimize.minimize(
        lambda x: 0.5 * x @ g.J @ x + g.b @ x,
        np.full(9, 1 / 3),
        jac=lambda x: g.J @ x + g.b,
        bounds=bounds,
        constraints=cons,
        method="SLSQP",
        options={"ftol": 1e-14, "maxiter": 500},
    )
    np.testing.assert_allclose(res.solution, ref.x, atol=1e-6)
    np.testing.assert_allclose(res4.solution, ref.x, atol=1e-6)
    # fixed point of the projected step
    x = res.solution
    np.testing.assert_allclose(g.project(x - 0.1 * (g.J @ x + g.b)), x, atol=1e-9)


def _nonlinear_game():
    # f_1 = x1^2/2 + x1^4/12 + 2 x1 sin(x2),  f_2 = x2^2 + 0.1 x2 cos(x1) (+ linear terms)
    costs = [
        lambda x: 0.5 * x[0] ** 2 + x[0] ** 4 / 12 + 2 * x[0] * np.sin(x[1]) - x[0],
        lambda x: x[1] ** 2 + 0.1 * x[1] * np.cos(x[0]) + 0.5 * x[1],
    ]
    return DifferentiableGame([1, 1], costs=costs, sets=[Box(-1, 1), Box(-1, 1)])


def test_nonlinear_game_sampled_certificate_and_solver():
    g = _nonlinear_game()
    c = certify(g, n_samples=200)
    assert not c.exact
    # by hand on [-1, 1]^2: mu_1 = min(1 + x1^2) = 1, mu_2 = 2,
    # L_12 = max |2 cos x2| = 2, L_21 = max |0.1 sin x1| = 0.1 sin 1
    assert c.mu[0] == pytest.approx(1.0, abs=2e-2) and c.mu[0] >= 1 - 1e-6
    assert c.mu[1] == pytest.approx(2.0, abs=1e-5)
    assert c.coupling[0, 1] == pytest.approx(2.0, abs=2e-2)
    assert c.coupling[1, 0] == pytest.approx(0.1 * math.sin(1), abs=2e-3)
    assert c.certified  # 1 * 2 > 2 * 0.1 sin 1
    r = projected_euler(g, c, tol=1e-10)
    F = g.pseudo_gradient(r.solution)
    inside = np.abs(r.solution) < 1 - 1e-9
    np.testing.assert_allclose(F[inside], 0, atol=1e-7)


def test_certify_validates_input():
    with pytest.raises(TypeError):
        certify("not a game")
    g = DifferentiableGame([1, 1], pseudo_gradient=lambda x: x)
    with pytest.raises(ValueError, match="unconstrained"):
        certify(g)
    with pytest.raises(ValueError, match="region"):
        certify(g, np.zeros((3, 5)))
    with pytest.raises(ValueError, match="weights"):
        sgn_margin([1, 1], [[0, 1], [1, 0]], [1, -1])
    with pytest.raises(ValueError, match="method"):
        optimal_weights([1, 1], np.zeros((2, 2)), method="magic")
    assert isinstance(certify(toy_game()), Certificate)


# ---------------------------------------------------------------------------------------
# Fisher / mirror geometry
# ---------------------------------------------------------------------------------------
PENNIES = np.array([[[1, -1], [-1, 1]], [[-1, 1], [1, -1]]], dtype=float)


def test_matching_pennies_entropic_certificate_closed_form():
    # E = (1, -1)/sqrt 2: E^T R_1 E = 2, Fisher norm <= 1/2, so L_12 = L_21 = 1;
    # mu_i = tau: certified iff tau^2 > 1, margin tau - 1.
    mg = MarkovGame.matrix_game(PENNIES)
    for tau, ok in ((0.9, False), (1.0, False), (1.5, True), (3.0, True)):
        c = certify_entropic(mg, tau)
        np.testing.assert_allclose(c.coupling, [[0, 1], [1, 0]], atol=1e-12)
        assert c.certified == ok
        if ok:
            assert c.margin == pytest.approx(tau - 1)
            assert c.beta == pytest.approx(tau + 1)


def test_entropic_analytic_jacobian_matches_finite_differences():
    rng = np.random.default_rng(3)
    mg = MarkovGame.matrix_game(rng.normal(size=(3, 2, 3, 2)))
    dual = entropic_dual_game(mg, 0.7)
    fd = DifferentiableGame(dual.blocks, pseudo_gradient=dual.pseudo_gradient)
    for _ in range(3):
        z = rng.normal(size=dual.dim)
        np.testing.assert_allclose(dual.jacobian(z), fd.jacobian(z), atol=1e-6)


def test_matching_pennies_npg_contracts_to_uniform_at_certified_rate():
    mg = MarkovGame.matrix_game(PENNIES)
    c = certify_entropic(mg, 1.5)
    r = entropic_npg(mg, 1.5, certificate=c, z0=[2.0, -1.0], trajectory=True)
    assert r.converged
    for p in r.policies:  # symmetric game: the regularised equilibrium is uniform
        np.testing.assert_allclose(p, [[0.5, 0.5]], atol=1e-8)
    d = np.array([c.norm(z) for z in r.trajectory])
    ok = d[:-1] > 1e-8
    assert np.all(d[1:][ok] / d[:-1][ok] <= r.rate + 1e-9)


def _soft_best_response(mg, pols, i, tau, iters=3000):
    """Soft value iteration on player i's MDP with the others' policies fixed."""
    n = mg.n_players
    others = np.ones((mg.n_states,) + (1,) * n)
    for k, p in enumerate(pols):
        if k != i:
            shape = [mg.n_states] + [1] * n
            shape[1 + k] = p.shape[1]
            others = others * p.reshape(shape)
    ax = tuple(a for a in range(1, n + 1) if a != i + 1)
    r = np.sum(others * mg.R[i], axis=ax)
    P = np.sum(others[..., None] * mg.P, axis=ax)
    V = np.zeros(mg.n_states)
    for _ in range(iters):
        Q = r + mg.gamma * P @ V
        V = tau * np.log(np.sum(np.exp(Q / tau), axis=1))
    Q = r + mg.gamma * P @ V
    e = np.exp((Q - Q.max(axis=1, keepdims=True)) / tau)
    return e / e.sum(axis=1, keepdims=True)


def test_markov_game_npg_reaches_the_regularised_equilibrium():
    rng = np.random.default_rng(4)
    S, A = 2, (2, 3)
    P = rng.dirichlet(np.ones(S), size=(S, *A))
    R = rng.uniform(-1, 1, size=(2, S, *A))
    mg = MarkovGame(P, R, gamma=0.5)
    tau = 2.0
    c = certify_entropic(mg, tau, logit_bound=2.0, n_samples=24)
    assert c.certified and c.logit_bound is not None
    r = entropic_npg(mg, tau, certificate=c, trajectory=True, tol=1e-11)
    assert r.converged
    assert np.all(np.abs(r.logits) < 2.0)  # stayed in the sampled region
    for i in range(2):
        np.testing.assert_allclose(
            r.policies[i], _soft_best_response(mg, r.policies, i, tau), atol=1e-7
        )
    d = np.array([c.norm(z - r.logits) for z in r.trajectory[:-30]])
    ok = d[:-1] > 1e-7
    assert np.all(d[1:][ok] / d[:-1][ok] <= r.rate + 1e-6)


def test_markov_game_validation():
    with pytest.raises(ValueError, match="rows summing"):
        MarkovGame(np.full((1, 2, 2, 1), 0.5), np.zeros((2, 1, 2, 2)), 0.5)
    with pytest.raises(ValueError, match="gamma"):
        MarkovGame(np.ones((1, 2, 2, 1)), np.zeros((2, 1, 2, 2)), 1.0)
    with pytest.raises(ValueError, match="logit_bound"):
        mg = MarkovGame(np.full((2, 2, 2, 2), 0.5), np.zeros((2, 2, 2, 2)), 0.5)
        certify_entropic(mg, 1.0)
    with pytest.raises(ValueError, match="two actions"):
        MarkovGame.matrix_game(np.zeros((2, 1, 2)))


def test_constrained_random_games_contract_at_certified_rates():
    """Active box constraints: Euler's factor is proved; RK4's (stages projected) measured."""
    n_cert = 0
    for k, g0 in enumerate(_games(31, n_games=16)):
        g = QuadraticGame(g0.J, 3 * g0.b, g0.blocks, sets=[Box(-0.3, 0.3)] * g0.n_players)
        c = certify(g)
        if not c.certified:
            continue
        n_cert += 1
        xstar = projected_euler(g, c, tol=1e-13).solution
        assert np.any(np.abs(np.abs(xstar) - 0.3) < 1e-12)  # some constraint is active
        x0 = np.random.default_rng(k).uniform(-0.3, 0.3, g.dim)
        for solver, h, rate in (
            (projected_euler, c.best_euler_step, c.euler_rate),
            (projected_rk4, c.best_rk4_step, c.rk4_rate),
        ):
            r = solver(g, c, step=h, x0=x0, tol=1e-12, trajectory=True)
            assert r.converged
            np.testing.assert_allclose(r.solution, xstar, atol=1e-9)
            d = np.array([c.norm(x - xstar) for x in r.trajectory])
            ok = d[:-1] > 1e-9
            assert np.all(d[1:][ok] / d[:-1][ok] <= rate(h) + 1e-9)
    assert n_cert >= 5


def test_certificate_must_fit_the_game():
    c = certify(toy_game())
    g = random_quadratic_game(3, 1, np.random.default_rng(0), coupling=0.1)
    with pytest.raises(ValueError, match="blocks"):
        projected_euler(g, c)


def test_results_share_the_common_shape():
    r = projected_euler(toy_game(), tol=1e-10)
    assert r.converged and r.residuals.shape == (r.iterations,) and r.residuals[-1] <= 1e-10
    e = entropic_npg(MarkovGame.matrix_game(PENNIES), 1.5, tol=1e-10)
    assert e.policies is e.solution and len(e.solution) == 2
    assert e.converged and e.residuals.shape == (e.iterations,) and e.residuals[-1] <= 1e-10
    with pytest.raises(AttributeError):
        e.policies = e.solution
