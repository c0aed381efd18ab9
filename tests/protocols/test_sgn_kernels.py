"""Projected Euler / RK4 kernels for affine pseudo-gradients."""

import math

import numpy as np
import pytest
from scipy import optimize

from protocols.checks import ConvergenceWarning
from protocols.sgn import sgn_iterate


def _stable(n, seed):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, n)) / math.sqrt(n)
    return A @ A.T + np.eye(n) + 0.3 * (A - A.T), rng.normal(size=n)


def test_euler_matches_a_numpy_loop():
    J, b = _stable(5, 0)
    x = np.ones(5)
    r = sgn_iterate(J, b, x, 0.1, tol=0.0, max_iter=25, trajectory=True, warn=False)
    ref = [x]
    for _ in range(25):
        ref.append(ref[-1] - 0.1 * (J @ ref[-1] + b))
    np.testing.assert_allclose(r.trajectory, np.array(ref), rtol=1e-12, atol=1e-12)
    assert r.iterations == 25 and not r.converged


def test_rk4_step_is_the_fourth_order_taylor_polynomial():
    """For linear F, one RK4 step maps e = x - x* to R(-hJ) e, R(z) = 1 + z + ... + z^4/24."""
    J, b = _stable(4, 1)
    xstar = np.linalg.solve(J, -b)
    x0 = xstar + np.arange(1.0, 5.0)
    h = 0.2
    Z = -h * J
    R = np.eye(4) + Z + Z @ Z / 2 + Z @ Z @ Z / 6 + Z @ Z @ Z @ Z / 24
    r = sgn_iterate(J, b, x0, h, method="rk4", tol=0.0, max_iter=1, warn=False)
    np.testing.assert_allclose(r.solution - xstar, R @ (x0 - xstar), atol=1e-12)


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_converges_to_the_solution_of_the_linear_system(method):
    J, b = _stable(6, 2)
    r = sgn_iterate(J, b, np.zeros(6), 0.05, method=method, tol=1e-11, max_iter=100_000)
    assert r.converged
    np.testing.assert_allclose(r.solution, np.linalg.solve(J, -b), atol=1e-9)
    assert r.residuals[-1] <= 1e-11
    # first residual is ||F(x0)||_W when nothing is projected (Euler: exact)
    if method == "euler":
        w = np.arange(1.0, 7.0)
        r2 = sgn_iterate(J, b, np.zeros(6), 0.05, weights=w, tol=0.0, max_iter=1, warn=False)
        assert r2.residuals[0] == pytest.approx(math.sqrt(np.sum(w * b * b)))


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_box_solution_of_a_separable_game_is_the_clipped_target(method):
    c = np.array([2.0, -3.0, 0.5, 0.0])
    r = sgn_iterate(
        np.eye(4),
        -c,
        np.zeros(4),
        0.5,
        method=method,
        lower=np.full(4, -1.0),
        upper=np.full(4, 1.0),
        tol=1e-13,
    )
    np.testing.assert_allclose(r.solution, np.clip(c, -1, 1), atol=1e-12)


def test_simplex_blocks_match_a_qp_reference():
    # F = x - c on two blocks: the projected equilibrium is the projection of c
    rng = np.random.default_rng(4)
    c = rng.normal(size=5) * 2
    r = sgn_iterate(
        np.eye(5),
        -c,
        np.array([1.0, 0, 0, 0.5, 0.5]),
        0.7,
        blocks=[3, 2],
        simplex_radius=[1.0, 0.0],
        lower=np.full(5, -np.inf),
        upper=np.full(5, 0.4),
        tol=1e-13,
    )
    ref = optimize.minimize(
        lambda z: 0.5 * np.sum((z - c[:3]) ** 2),
        np.full(3, 1 / 3),
        bounds=[(0, None)] * 3,
        constraints=[{"type": "eq", "fun": lambda z: z.sum() - 1}],
        method="SLSQP",
        options={"ftol": 1e-15},
    )
    np.testing.assert_allclose(r.solution[:3], ref.x, atol=1e-6)
    np.testing.assert_allclose(r.solution[3:], np.minimum(c[3:], 0.4), atol=1e-12)


def test_divergence_stops_early_and_warns():
    J = np.array([[-1.0, 0.0], [0.0, 1.0]])
    with pytest.warns(ConvergenceWarning):
        r = sgn_iterate(J, np.zeros(2), np.array([1.0, 1.0]), 1.0, max_iter=10_000)
    assert not r.converged and r.iterations < 10_000
    assert not math.isfinite(r.residuals[-1])  # x_1 doubles every step until overflow


def test_same_input_same_output():
    J, b = _stable(5, 6)
    a = sgn_iterate(J, b, np.ones(5), 0.1, method="rk4", max_iter=50, warn=False)
    c = sgn_iterate(J, b, np.ones(5), 0.1, method="rk4", max_iter=50, warn=False)
    np.testing.assert_array_equal(a.solution, c.solution)
    np.testing.assert_array_equal(a.residuals, c.residuals)


def test_bad_input_is_refused():
    J, b = _stable(3, 0)
    x = np.zeros(3)
    with pytest.raises(ValueError, match="step"):
        sgn_iterate(J, b, x, 0.0)
    with pytest.raises(ValueError, match="method"):
        sgn_iterate(J, b, x, 0.1, method="leapfrog")
    with pytest.raises(ValueError, match="square"):
        sgn_iterate(np.zeros((3, 2)), b, x, 0.1)
    with pytest.raises(ValueError, match="x0"):
        sgn_iterate(J, b, [np.nan, 0, 0], 0.1)
    with pytest.raises(ValueError, match="weights"):
        sgn_iterate(J, b, x, 0.1, weights=[1, 0, 1])
    with pytest.raises(ValueError, match="lower"):
        sgn_iterate(J, b, x, 0.1, lower=np.ones(3), upper=np.zeros(3))
    with pytest.raises(ValueError, match="blocks"):
        sgn_iterate(J, b, x, 0.1, blocks=[1, 1])
    with pytest.raises(ValueError, match="max_iter"):
        sgn_iterate(J, b, x, 0.1, max_iter=0)
    with pytest.raises(TypeError, match="max_iter"):
        sgn_iterate(J, b, x, 0.1, max_iter=2.5)


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_sparse_and_dense_products_agree(method):
    rng = np.random.default_rng(8)
    n = 30
    J = (
        np.eye(n) * 2
        + np.diag(rng.normal(size=n - 1) * 0.3, 1)
        + np.diag(rng.normal(size=n - 1) * 0.3, -1)
    )
    b = rng.normal(size=n)
    x0 = rng.normal(size=n)
    kw = dict(
        method=method,
        tol=0.0,
        max_iter=40,
        warn=False,
        lower=np.full(n, -0.5),
        upper=np.full(n, 0.5),
        trajectory=True,
    )
    dense = sgn_iterate(J, b, x0, 0.2, sparse=False, **kw)
    sparse = sgn_iterate(J, b, x0, 0.2, sparse=True, **kw)
    auto = sgn_iterate(J, b, x0, 0.2, **kw)  # 3 diagonals of 30: sparse by default
    np.testing.assert_allclose(sparse.trajectory, dense.trajectory, rtol=0, atol=1e-13)
    np.testing.assert_array_equal(auto.trajectory, sparse.trajectory)
