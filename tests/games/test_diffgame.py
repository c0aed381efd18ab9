"""The differentiable game API: layout, derivatives, feasible sets, game families."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize

from games.diffgame import (
    Box,
    DifferentiableGame,
    QuadraticGame,
    Simplex,
    finite_difference_jacobian,
    project_simplex,
    random_quadratic_game,
    toy_game,
)


def _cost_game(**kw):
    # f_1 = x1'x1/2 + x1[0] * sin(x2),  f_2 = exp(x2) + x2 * (x1[0] * x1[1])
    costs = [
        lambda x: 0.5 * x[0] ** 2 + 0.5 * x[1] ** 2 + x[0] * np.sin(x[2]),
        lambda x: np.exp(x[2]) + x[2] * x[0] * x[1],
    ]
    return DifferentiableGame([2, 1], costs=costs, **kw)


def _analytic_F(x):
    return np.array([x[0] + np.sin(x[2]), x[1], np.exp(x[2]) + x[0] * x[1]])


def _analytic_J(x):
    return np.array([[1, 0, np.cos(x[2])], [0, 1, 0], [x[1], x[0], np.exp(x[2])]])


def test_layout():
    g = _cost_game()
    assert g.n_players == 2 and g.dim == 3 and g.blocks == (2, 1)
    assert g.block(0) == slice(0, 2) and g.block(1) == slice(2, 3)
    a, b = g.split(np.arange(3.0))
    assert a.tolist() == [0, 1] and b.tolist() == [2]


def test_pseudo_gradient_and_jacobian_from_costs_match_calculus():
    g = _cost_game()
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = rng.normal(size=3)
        np.testing.assert_allclose(g.pseudo_gradient(x), _analytic_F(x), atol=1e-8)
        np.testing.assert_allclose(g.jacobian(x), _analytic_J(x), atol=1e-5)
        np.testing.assert_allclose(g.jacobian_block(x, 1, 0), _analytic_J(x)[2:, :2], atol=1e-5)


def test_given_gradients_and_jacobian_are_used():
    g = DifferentiableGame(
        [2, 1],
        gradients=[lambda x: _analytic_F(x)[:2], lambda x: _analytic_F(x)[2:]],
        jacobian=_analytic_J,
    )
    x = np.array([0.3, -1.0, 0.5])
    np.testing.assert_array_equal(g.pseudo_gradient(x), _analytic_F(x))
    np.testing.assert_array_equal(g.jacobian(x), _analytic_J(x))
    g2 = DifferentiableGame([2, 1], pseudo_gradient=_analytic_F)
    np.testing.assert_allclose(g2.jacobian(x), _analytic_J(x), atol=1e-8)


def test_finite_difference_jacobian_is_second_order():
    f = lambda x: np.array([np.sin(x[0]) * x[1], x[0] ** 3])  # noqa: E731
    x = np.array([0.7, 1.3])
    exact = np.array([[np.cos(0.7) * 1.3, np.sin(0.7)], [3 * 0.49, 0]])
    np.testing.assert_allclose(finite_difference_jacobian(f, x), exact, atol=1e-9)


def test_quadratic_game_costs_have_the_pseudo_gradient_as_own_gradients():
    g = random_quadratic_game(3, 2, np.random.default_rng(1), coupling=0.7)
    x = np.random.default_rng(2).normal(size=g.dim)
    for i in range(3):
        sl = g.block(i)

        def fi(xi, i=i, sl=sl):
            y = x.copy()
            y[sl] = xi
            return np.array([g.cost(i, y)])

        grad = finite_difference_jacobian(fi, x[sl])[0]
        np.testing.assert_allclose(grad, (g.J @ x + g.b)[sl], atol=1e-7)
    np.testing.assert_allclose(g.jacobian(x), g.J)
    np.testing.assert_allclose(g.J @ g.equilibrium() + g.b, 0, atol=1e-10)


def test_toy_game_costs_by_hand():
    g = toy_game(b=(0.5, -1.0))
    x = np.array([2.0, 3.0])
    assert g.cost(0, x) == pytest.approx(0.5 * 4 + 10 * 6 + 0.5 * 2)
    assert g.cost(1, x) == pytest.approx(0.5 * 9 + 0.05 * 6 - 3)
    np.testing.assert_array_equal(g.J, [[1, 10], [0.05, 1]])


def test_quadratic_game_without_symmetric_own_blocks_has_no_costs():
    J = np.eye(4)
    J[0, 1] = 1.0
    g = QuadraticGame(J, np.zeros(4), [2, 2])
    assert not g.has_costs
    with pytest.raises(ValueError, match="costs"):
        g.cost(0, np.zeros(4))


def test_random_family_structure():
    rng = np.random.default_rng(3)
    g = random_quadratic_game(5, 3, rng, mu=(0.5, 1.5), topology="ring")
    for i in range(5):
        D = g.J[g.block(i), g.block(i)]
        np.testing.assert_allclose(D, D.T, atol=1e-12)
        ev = np.linalg.eigvalsh(D)
        assert ev.min() >= 0.5 - 1e-9 and ev.max() <= 1.5 + 1e-9
        for j in range(5):
            if (j - i) % 5 not in (0, 1, 4):
                assert not g.J[g.block(i), g.block(j)].any()
    gs = random_quadratic_game(4, 2, rng, symmetric_coupling=True)
    np.testing.assert_allclose(gs.J, gs.J.T, atol=1e-12)
    a = random_quadratic_game(3, 2, np.random.default_rng(9))
    b = random_quadratic_game(3, 2, np.random.default_rng(9))
    np.testing.assert_array_equal(a.J, b.J)
    np.testing.assert_array_equal(a.b, b.b)


@settings(max_examples=50)
@given(x=st.lists(st.floats(-10, 10), min_size=1, max_size=6), r=st.floats(0.1, 5))
def test_simplex_projection_matches_a_qp_solver(x, r):
    x = np.array(x)
    y = project_simplex(x, r)
    assert np.all(y >= 0) and y.sum() == pytest.approx(r)
    ref = optimize.minimize(
        lambda z: 0.5 * np.sum((z - x) ** 2),
        np.full(x.size, r / x.size),
        jac=lambda z: z - x,
        bounds=[(0, None)] * x.size,
        constraints=[{"type": "eq", "fun": lambda z: z.sum() - r}],
        method="SLSQP",
        options={"ftol": 1e-14, "maxiter": 200},
    )
    np.testing.assert_allclose(y, ref.x, atol=1e-6)


def test_sets_project_and_sample():
    rng = np.random.default_rng(0)
    box = Box([-1, 0], [1, 2])
    np.testing.assert_array_equal(box.project(np.array([-3.0, 5.0])), [-1, 2])
    pts = box.sample(rng, 2, 100)
    assert pts.shape == (100, 2) and np.all(pts >= [-1, 0]) and np.all(pts <= [1, 2])
    sp = Simplex(2.0).sample(rng, 3, 10)
    np.testing.assert_allclose(sp.sum(axis=1), 2.0)
    g = toy_game(sets=[Box(-1, 1), None])
    np.testing.assert_array_equal(g.project([5.0, 5.0]), [1.0, 5.0])


def test_bad_input_is_refused_with_clear_errors():
    with pytest.raises(ValueError, match="low must be <= high"):
        Box(1, 0)
    with pytest.raises(ValueError, match="radius"):
        Simplex(0.0)
    with pytest.raises(ValueError, match="blocks"):
        DifferentiableGame([2, 0], pseudo_gradient=lambda x: x)
    with pytest.raises(ValueError, match="give costs"):
        DifferentiableGame([1, 1])
    with pytest.raises(ValueError, match="one entry per player"):
        DifferentiableGame([1, 1], pseudo_gradient=lambda x: x, sets=[None])
    with pytest.raises(TypeError, match="sets"):
        DifferentiableGame([1, 1], pseudo_gradient=lambda x: x, sets=[None, "box"])
    with pytest.raises(ValueError, match="shape"):
        QuadraticGame(np.eye(3), np.zeros(3), [1, 1])
    with pytest.raises(ValueError, match="finite"):
        QuadraticGame([[np.nan, 0], [0, 1]], [0, 0], [1, 1])
    with pytest.raises(ValueError, match="x must have shape"):
        toy_game().pseudo_gradient([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="topology"):
        random_quadratic_game(2, 2, np.random.default_rng(0), topology="star")
    with pytest.raises(ValueError, match="singular"):
        toy_game(l21=0.1).equilibrium()


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"mu": float("nan")}, "mu"),
        ({"l12": float("inf")}, "l12"),
        ({"l21": float("nan")}, "l21"),
    ],
)
def test_toy_game_errors_name_the_users_argument(kwargs, name):
    # Issue 14: a NaN curvature used to surface as "J must be finite".
    with pytest.raises(ValueError, match=rf"^{name} must be finite"):
        toy_game(**kwargs)
    with pytest.raises(ValueError, match=r"^mu must be finite"):
        random_quadratic_game(2, 1, np.random.default_rng(0), mu=(1.0, float("nan")))
