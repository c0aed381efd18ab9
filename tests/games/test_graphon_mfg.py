import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.integrate import solve_bvp, solve_ivp

from games.graphon_mfg import (
    GRAPHON_FAMILIES,
    Graphon,
    LQGraphonMFG,
    make_graphon,
    n_player_exploitability,
    sample_graphon_graph,
)

BASE = dict(A=0.3, B=1.2, Abar=0.5, Q=1.0, R=0.5, G=0.8, H=0.6, Hbar=0.4, sigma=0.3, T=1.5)


def game(graphon="ranked_attachment", m0=None, n_blocks=6, n_steps=60, **over):
    kw = {**BASE, **over}
    if m0 is None:
        m0 = lambda u: 1.0 + np.sin(3.0 * u)  # noqa: E731
    return LQGraphonMFG(graphon=graphon, m0=m0, n_blocks=n_blocks, n_steps=n_steps, **kw)


def riccati_closed_form(A, B, Q, R, G, T, t):
    """P(t) of -P' = 2AP - (B^2/R) P^2 + Q, P(T) = G: P = y/x with exp(N tau)(1, G)."""
    r = B * B / R
    kap = np.sqrt(A * A + r * Q)
    tau = T - t
    x = np.cosh(kap * tau) + (-A + r * G) * np.sinh(kap * tau) / kap
    y = G * np.cosh(kap * tau) + (Q + A * G) * np.sinh(kap * tau) / kap
    return y / x, x


@pytest.mark.parametrize("zero", ["callable", "constant0"])
def test_no_coupling_is_scalar_lq_control(zero):
    W = (
        (lambda u, v: np.zeros(np.broadcast(u, v).shape))
        if zero == "callable"
        else make_graphon("constant", p=0.0)
    )
    g = game(graphon=W, var0=0.25)
    eq = g.equilibrium()
    P, _ = riccati_closed_form(g.A, g.B, g.Q, g.R, g.G, g.T, g.t)
    np.testing.assert_allclose(eq.slope, -(g.B / g.R) * P, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(eq.intercepts, 0.0, atol=1e-13)
    # the mean follows m' = (A - (B^2/R) P) m without any aggregate
    r = g.B**2 / g.R

    def rhs(t, m):
        return (g.A - r * riccati_closed_form(g.A, g.B, g.Q, g.R, g.G, g.T, t)[0]) * m

    ref = solve_ivp(rhs, [0, g.T], g.m0, t_eval=g.t, rtol=1e-12, atol=1e-14).y
    np.testing.assert_allclose(eq.means, ref, rtol=1e-9, atol=1e-11)
    # cost: 1/2 P(0) E[X0^2] + 1/2 sigma^2 int P, with int_0^T P = (ln x(T) + A T) / r
    x_T = riccati_closed_form(g.A, g.B, g.Q, g.R, g.G, g.T, np.array([0.0]))[1][0]
    int_P = (np.log(x_T) + g.A * g.T) / r
    want = 0.5 * P[0] * (g.m0**2 + g.var0) + 0.5 * g.sigma**2 * int_P
    np.testing.assert_allclose(eq.costs, want, rtol=1e-10)


def test_sigma_does_not_change_the_policy_and_shifts_cost_by_half_sigma2_int_P():
    quiet = game(sigma=0.0).equilibrium()
    noisy = game(sigma=1.3).equilibrium()
    np.testing.assert_array_equal(quiet.slope, noisy.slope)
    np.testing.assert_array_equal(quiet.intercepts, noisy.intercepts)
    np.testing.assert_array_equal(quiet.means, noisy.means)
    g = game()
    _, x = riccati_closed_form(g.A, g.B, g.Q, g.R, g.G, g.T, np.array([0.0]))
    int_P = (np.log(x[0]) + g.A * g.T) / (g.B**2 / g.R)
    np.testing.assert_allclose(noisy.costs - quiet.costs, 0.5 * 1.3**2 * int_P, rtol=1e-9)


def test_constant_graphon_is_the_standard_lq_mean_field_game():
    """W = p: every player faces Z = p * mean; solve that MFG by its own Riccati reduction."""
    p = 0.7
    g = game(graphon=make_graphon("constant", p=p), n_blocks=5)
    eq = g.equilibrium()
    A, B, Ab, Q, R, G, H, Hb, T = g.A, g.B, g.Abar, g.Q, g.R, g.G, g.H, g.Hbar, g.T
    r = B * B / R
    # population mean mbar and costate pbar = Pi mbar with the non-symmetric Riccati Pi
    pi = solve_ivp(
        lambda t, x: -A * x - Q * (1 - H * p) - x * (A + Ab * p) + r * x * x,
        [T, 0],
        [G * (1 - Hb * p)],
        dense_output=True,
        rtol=1e-12,
        atol=1e-14,
    ).sol
    P = solve_ivp(
        lambda t, x: -(2 * A * x - r * x * x + Q),
        [T, 0],
        [G],
        dense_output=True,
        rtol=1e-12,
        atol=1e-14,
    ).sol

    def rhs(t, y):  # y = [mbar, m_1..m_M]
        mbar = y[0]
        s = (pi(t)[0] - P(t)[0]) * mbar
        dm = (A + Ab * p - r * pi(t)[0]) * mbar
        dj = (A - r * P(t)[0]) * y[1:] - r * s + Ab * p * mbar
        return np.concatenate(([dm], dj))

    sol = solve_ivp(
        rhs, [0, T], np.concatenate(([g.m0.mean()], g.m0)), t_eval=g.t, rtol=1e-12, atol=1e-14
    ).y
    mbar = sol[0]
    s_ref = (pi(g.t)[0] - P(g.t)[0]) * mbar
    np.testing.assert_allclose(eq.means.mean(axis=0), mbar, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(eq.means, sol[1:], rtol=1e-8, atol=1e-10)
    for j in range(g.n_blocks):
        np.testing.assert_allclose(eq.intercepts[j], -(B / R) * s_ref, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(
        eq.aggregate, np.broadcast_to(p * mbar, eq.aggregate.shape), rtol=1e-8, atol=1e-10
    )


@pytest.mark.parametrize("family", ["sbm", "threshold", "exponential", "uniform_attachment"])
def test_matches_scipy_solve_bvp_on_the_coupled_system(family):
    g = game(graphon=family, n_blocks=6, n_steps=40)
    eq = g.equilibrium()
    M = g.n_blocks
    Wm = g.graphon_matrix / M
    r = g.B**2 / g.R

    def f(t, y):
        m, p = y[:M], y[M:]
        Z = Wm @ m
        return np.vstack([g.A * m - r * p + g.Abar * Z, -g.A * p - g.Q * (m - g.H * Z)])

    def bc(ya, yb):
        return np.concatenate([ya[:M] - g.m0, yb[M:] - g.G * (yb[:M] - g.Hbar * Wm @ yb[:M])])

    mesh = np.linspace(0, g.T, 100)
    sol = solve_bvp(f, bc, mesh, np.zeros((2 * M, mesh.size)), tol=1e-10, max_nodes=200000)
    assert sol.status == 0
    Y = sol.sol(g.t)
    np.testing.assert_allclose(eq.means, Y[:M], atol=1e-8)
    P = solve_ivp(
        lambda t, x: -(2 * g.A * x - r * x * x + g.Q),
        [g.T, 0],
        [g.G],
        t_eval=g.t[::-1],
        rtol=1e-12,
        atol=1e-14,
    ).y[0][::-1]
    np.testing.assert_allclose(eq.riccati, P, rtol=1e-10)
    np.testing.assert_allclose(eq.intercepts, -(g.B / g.R) * (Y[M:] - P * Y[:M]), atol=1e-8)


def test_costs_agree_with_rk4_value_and_nobody_gains_by_deviating():
    g = game(graphon="exponential", n_steps=400, var0=0.1)
    eq = g.equilibrium()
    # policy evaluation by the backward value ODEs on the grid (RK4, O(dt^2))
    np.testing.assert_allclose(g.policy_costs(eq.slope, eq.intercepts), eq.costs, atol=1e-6)
    # best response to the equilibrium aggregate gains (almost) nothing
    gain = eq.costs - g.best_response_costs(eq.aggregate)
    assert np.all(np.abs(gain) < 1e-6)
    # while a perturbed intercept costs 1/2 int R (dk)^2 more (cost-difference lemma)
    dk = 0.05 * np.sin(np.pi * g.t)
    worse = g.policy_costs(eq.slope, eq.intercepts + dk, aggregate=eq.aggregate)
    np.testing.assert_allclose(worse - eq.costs, 0.5 * g.R * np.trapezoid(dk**2, g.t), rtol=1e-3)


def test_conjugate_point_is_reported():
    with pytest.raises(ValueError, match="conjugate point"):
        LQGraphonMFG(
            A=0.5,
            B=1.0,
            Abar=1.0,
            Q=1.0,
            R=1.0,
            G=0.0,
            H=2.0,
            Hbar=0.0,
            sigma=0.0,
            T=1.0,
            graphon=make_graphon("constant", p=1.0),
            m0=1.0,
            n_blocks=3,
            n_steps=50,
        ).equilibrium()


@given(c=st.floats(-5, 5), family=st.sampled_from(sorted(GRAPHON_FAMILIES)))
def test_equilibrium_is_linear_in_the_initial_means(c, family):
    base = game(graphon=family, n_blocks=5, n_steps=20).equilibrium()
    scaled = game(
        graphon=family, n_blocks=5, n_steps=20, m0=lambda u: c * (1.0 + np.sin(3.0 * u))
    ).equilibrium()
    np.testing.assert_allclose(scaled.means, c * base.means, atol=1e-12 * (1 + abs(c)))
    np.testing.assert_allclose(scaled.intercepts, c * base.intercepts, atol=1e-12 * (1 + abs(c)))
    np.testing.assert_array_equal(scaled.slope, base.slope)


def test_graphon_families_values():
    u = np.array([0.1, 0.4, 0.8])
    v = np.array([0.3, 0.9, 0.1])
    np.testing.assert_allclose(Graphon("uniform_attachment")(u, v), 1 - np.maximum(u, v))
    np.testing.assert_allclose(Graphon("ranked_attachment")(u, v), 1 - u * v)
    np.testing.assert_allclose(Graphon("threshold", c=1.0)(u, v), [1, 0, 1])
    np.testing.assert_allclose(Graphon("exponential", decay=2.0)(u, v), np.exp(-2 * np.abs(u - v)))
    np.testing.assert_allclose(Graphon("constant", p=0.3)(u, v), 0.3)
    sbm = Graphon("sbm", sizes=(1, 3), probs=((0.9, 0.1), (0.1, 0.5)))
    np.testing.assert_allclose(
        sbm(np.array([0.1, 0.1, 0.5]), np.array([0.2, 0.5, 0.9])), [0.9, 0.1, 0.5]
    )


@pytest.mark.parametrize(
    "bad, err",
    [
        (dict(R=0.0), ValueError),
        (dict(B=0.0), ValueError),
        (dict(sigma=-1.0), ValueError),
        (dict(T=0.0), ValueError),
        (dict(n_blocks=0), ValueError),
        (dict(n_steps=1.5), TypeError),
        (dict(graphon="nope"), ValueError),
        (dict(graphon=3), TypeError),
        (dict(graphon=lambda u, v: u + 0 * v), ValueError),
        (dict(graphon=lambda u, v: 2 + 0 * u * v), ValueError),
        (dict(m0=np.ones(3)), ValueError),
        (dict(A=float("nan")), ValueError),
    ],
)
def test_bad_arguments(bad, err):
    with pytest.raises(err):
        game(**bad)


def test_bad_graphon_parameters():
    with pytest.raises(TypeError, match="no parameter"):
        Graphon("threshold", p=1.0)
    with pytest.raises(ValueError):
        Graphon("constant", p=1.5)
    with pytest.raises(ValueError):
        Graphon("sbm", sizes=(1, 1), probs=((0.5, 0.1), (0.2, 0.5)))


def test_sampled_graph_is_symmetric_without_loops_and_has_the_graphon_density():
    rng = np.random.default_rng(1)
    n = 400
    labels, indptr, indices, scale = sample_graphon_graph("ranked_attachment", n, rng=rng)
    assert scale == 1 / n
    rows = np.repeat(np.arange(n), np.diff(indptr))
    adj = np.zeros((n, n), dtype=bool)
    adj[rows, indices] = True
    assert np.array_equal(adj, adj.T) and not adj.diagonal().any()
    assert adj.sum() == indices.size  # no duplicate edges
    # expected edges: sum_{i<j} (1 - u_i u_j); the count is a sum of independent Bernoullis
    iu, ju = np.triu_indices(n, 1)
    p = 1 - labels[iu] * labels[ju]
    assert abs(adj.sum() / 2 - p.sum()) < 4 * np.sqrt((p * (1 - p)).sum())
    # sparse sampling keeps the same aggregate limit: degree * scale ~ int W(u, v) dv
    labels, indptr, indices, scale = sample_graphon_graph(
        "ranked_attachment", 3000, rng=rng, mean_degree=60
    )
    deg = np.diff(indptr)
    expected = (60 / 3000) * (1 - labels * 0.5) * 3000  # rho * N * int_0^1 (1 - u v) dv
    assert abs(deg.sum() - expected.sum()) < 4 * np.sqrt(expected.sum())
    np.testing.assert_allclose(scale, 1 / 60)


def test_n_player_exploitability_shrinks_with_n():
    g = game(graphon="ranked_attachment", n_blocks=20, n_steps=40, T=1.0)
    gains = [n_player_exploitability(g, n, seed=3) for n in (10, 100, 1000)]
    means = [r.mean_gain for r in gains]
    assert all(r.gains.min() > -1e-10 for r in gains)
    assert means[0] > 3 * means[1] > 9 * means[2] > 0
    assert gains[0].max_gain > gains[2].max_gain


def test_n_player_gain_matches_cost_difference_lemma():
    """Gain = 1/2 int R (k_i - k_BR_i)^2 dt when the slope is already optimal."""
    from protocols.graphon import graph_means, policy_value

    g = game(graphon="exponential", n_blocks=10, n_steps=200, T=1.0)
    res = n_player_exploitability(g, 30, seed=5)
    eq = g.equilibrium()
    rng = np.random.default_rng(5)
    labels, indptr, indices, scale = sample_graphon_graph(g.graphon, 30, rng=rng)
    k = eq.intercepts_at(labels)
    _, z = graph_means(indptr, indices, scale, g.A, g.B, g.Abar, eq.slope, k, g.m0_at(labels), g.dt)
    _, sb, _ = policy_value(
        g.A, g.B, g.Abar, g.Q, g.R, g.G, g.H, g.Hbar, g.sigma, eq.slope, k, z, g.dt, optimal=True
    )
    lemma = 0.5 * g.R * np.trapezoid((k + g.B / g.R * sb) ** 2, g.t, axis=1)
    np.testing.assert_allclose(res.gains, lemma, rtol=2e-2, atol=1e-9)


# ------------------------------------------------------------- kernels (protocols.graphon)
def test_policy_moments_and_value_match_closed_forms_for_constant_policies():
    from protocols.graphon import policy_moments, policy_value

    A, B, Q, R, G, sigma, T, n = 0.4, 1.5, 2.0, 0.7, 1.1, 0.6, 1.2, 200
    K0, k0 = -0.9, 0.35
    t = np.linspace(0, T, n + 1)
    K = np.full(n + 1, K0)
    k = np.full((2, n + 1), k0)
    Z = np.zeros((2, n + 1))
    mu, var = policy_moments(A, B, 0.7, sigma, K, k, Z, np.array([1.0, -2.0]), 0.3, T / n)
    a = A + B * K0
    e = np.exp(a * t)
    np.testing.assert_allclose(
        mu, np.array([1.0, -2.0])[:, None] * e + B * k0 / a * (e - 1), rtol=1e-9
    )
    np.testing.assert_allclose(var, 0.3 * e**2 + sigma**2 * (e**2 - 1) / (2 * a), rtol=1e-9)
    P, s, c = policy_value(A, B, 0.7, Q, R, G, 0.5, 0.5, sigma, K, np.zeros_like(k), Z, T / n)
    e2 = np.exp(2 * a * (T - t))
    np.testing.assert_allclose(P, e2 * G + (Q + R * K0**2) * (e2 - 1) / (2 * a), rtol=1e-9)
    np.testing.assert_allclose(s, 0.0, atol=1e-15)
    # c = 1/2 sigma^2 int_t^T P
    intP = G * (e2 - 1) / (2 * a) + (Q + R * K0**2) / (2 * a) * ((e2 - 1) / (2 * a) - (T - t))
    np.testing.assert_allclose(c[0], 0.5 * sigma**2 * intP, rtol=1e-8, atol=1e-12)


def test_graphon_step_and_interpolated_policy_checks():
    from protocols.graphon import graphon_step, interpolated_policy

    indptr = np.array([0, 1, 2])
    indices = np.array([1, 0])
    x = np.array([1.0, 2.0])
    z = np.array([2.0, 1.0]) * 0.5
    args = (indptr, indices, 0.5, 0.1, 1.0, 0.2, 1.0, 1.0, 0.5, 0.0, 0.1, np.zeros(2))
    xn, zn, rew = graphon_step(x, np.array([np.nan, 5.0]), z, *args, bound=1.0)
    np.testing.assert_allclose(xn, x + (0.1 * x + np.array([0.0, 1.0]) + 0.2 * z) * 0.1)
    np.testing.assert_allclose(zn, 0.5 * xn[::-1])
    np.testing.assert_allclose(rew, -0.5 * ((x - 0.5 * z) ** 2 + np.array([0.0, 1.0])) * 0.1)
    with pytest.raises(ValueError, match="finite"):
        graphon_step(np.array([np.nan, 1.0]), np.zeros(2), z, *args)
    with pytest.raises(ValueError, match="share memory"):
        graphon_step(x, np.zeros(2), z, *args, x_out=x)
    with pytest.raises(ValueError, match="indices"):
        graphon_step(x, np.zeros(2), z, indptr, np.array([1, 5]), *args[2:])
    labels = (np.arange(5) + 0.5) / 5
    col = np.array([0.0, 1.0, 4.0, 9.0, 16.0])
    u = np.linspace(0, 1, 23)
    from games.graphon_mfg import label_interpolation

    left, w = label_interpolation(labels, u)
    got = interpolated_policy(2.0, col, left, w, np.ones(23))
    np.testing.assert_allclose(got, 2.0 + np.interp(u, labels, col))
    with pytest.raises(ValueError, match="left"):
        interpolated_policy(2.0, col, left + 5, w, np.ones(23))


def test_block_intercepts_read_the_block_holding_the_label():
    g = game(graphon="sbm", n_blocks=10, n_steps=40, T=1.0)
    eq = g.equilibrium()
    u = np.array([0.0, 0.05, 0.099, 0.1, 0.55, 1.0])
    np.testing.assert_array_equal(eq.intercepts_at(u, "block"), eq.intercepts[[0, 0, 0, 1, 5, 9]])
    with pytest.raises(ValueError, match="mode"):
        eq.intercepts_at(u, "cubic")
    with pytest.raises(ValueError, match="read-only"):
        eq.slope[0] = 1.0


# --------------------------------------------------------------------- vector states
def _vector_game(graphon="ranked_attachment", **over):
    from games.graphon_mfg import VectorLQGraphonMFG

    kw = dict(
        A=[[0.2, 0.5], [-0.3, 0.1]],
        B=[[1.0], [0.5]],
        Abar=[[0.3, 0.1], [0.0, 0.2]],
        Q=[[1.0, 0.2], [0.2, 0.5]],
        R=[[0.7]],
        G=np.eye(2) * 0.5,
        H=np.eye(2) * 0.5,
        Hbar=[[0.3, 0.0], [0.1, 0.2]],
        sigma=[[0.3], [0.1]],
        T=1.0,
        graphon=graphon,
        m0=lambda u: np.stack([1 + u, np.cos(3 * u)], axis=1),
        n_blocks=4,
        n_steps=50,
    )
    kw.update(over)
    return VectorLQGraphonMFG(**kw)


def test_vector_game_with_one_dimension_is_the_scalar_game():
    from games.graphon_mfg import VectorLQGraphonMFG

    scalar = game(graphon="exponential", var0=0.2)
    vec = VectorLQGraphonMFG(
        graphon="exponential",
        m0=lambda u: (1.0 + np.sin(3.0 * u))[:, None],
        n_blocks=6,
        n_steps=60,
        cov0=[[0.2]],
        **BASE,
    )
    e, ev = scalar.equilibrium(), vec.equilibrium()
    np.testing.assert_allclose(ev.slope[:, 0, 0], e.slope, rtol=1e-12)
    np.testing.assert_allclose(ev.intercepts[..., 0], e.intercepts, atol=1e-12)
    np.testing.assert_allclose(ev.means[..., 0], e.means, atol=1e-12)
    np.testing.assert_allclose(ev.costs, e.costs, rtol=1e-8)


def test_vector_game_matches_solve_bvp_and_matrix_riccati():
    g = _vector_game()
    eq = g.equilibrium()
    M, d = g.n_blocks, g.d
    A, B, Abar, Q, R, G, H, Hbar = g.A, g.B, g.Abar, g.Q, g.R, g.G, g.H, g.Hbar
    Wm = g.graphon_matrix / M
    S = B @ np.linalg.solve(R, B.T)

    def f(t, y):
        m = y[: M * d].reshape(M, d, -1)
        p = y[M * d :].reshape(M, d, -1)
        Z = np.einsum("jl,ldk->jdk", Wm, m)
        dm = (
            np.einsum("de,jek->jdk", A, m)
            - np.einsum("de,jek->jdk", S, p)
            + np.einsum("de,jek->jdk", Abar, Z)
        )
        dp = -np.einsum("ed,jek->jdk", A, p) - np.einsum(
            "de,jek->jdk", Q, m - np.einsum("de,jek->jdk", H, Z)
        )
        return np.concatenate([dm.reshape(M * d, -1), dp.reshape(M * d, -1)])

    def bc(ya, yb):
        ma, mb, pb = ya[: M * d].reshape(M, d), yb[: M * d].reshape(M, d), yb[M * d :].reshape(M, d)
        return np.concatenate([(ma - g.m0).ravel(), (pb - (mb - (Wm @ mb) @ Hbar.T) @ G.T).ravel()])

    mesh = np.linspace(0, g.T, 80)
    sol = solve_bvp(f, bc, mesh, np.zeros((2 * M * d, mesh.size)), tol=1e-10, max_nodes=100000)
    assert sol.status == 0
    Y = sol.sol(g.t)
    means = Y[: M * d].reshape(M, d, -1).transpose(0, 2, 1)
    np.testing.assert_allclose(eq.means, means, atol=1e-8)
    costate = Y[M * d :].reshape(M, d, -1).transpose(0, 2, 1)
    s = costate - np.einsum("kde,jke->jkd", eq.riccati, eq.means)
    np.testing.assert_allclose(
        eq.intercepts, -np.einsum("pd,jkd->jkp", np.linalg.solve(R, B.T), s), atol=1e-8
    )
    ric = solve_ivp(
        lambda t, x: (
            -(
                A.T @ x.reshape(2, 2)
                + x.reshape(2, 2) @ A
                - x.reshape(2, 2) @ S @ x.reshape(2, 2)
                + Q
            ).ravel()
        ),
        [g.T, 0],
        G.ravel(),
        t_eval=g.t[::-1],
        rtol=1e-12,
        atol=1e-14,
    )
    P = ric.y.T[::-1].reshape(-1, 2, 2)
    np.testing.assert_allclose(eq.riccati, P, atol=1e-9)
    np.testing.assert_allclose(
        eq.slope, -np.einsum("pd,kde->kpe", np.linalg.solve(R, B.T), P), atol=1e-9
    )


@pytest.mark.parametrize(
    "bad",
    [
        dict(R=[[0.0]]),
        dict(Q=[[1.0, 0.3], [0.0, 1.0]]),
        dict(B=[[1.0, 0.0, 1.0]]),
        dict(G=-np.eye(2)),
        dict(m0=np.ones(3)),
    ],
)
def test_vector_game_bad_arguments(bad):
    with pytest.raises(ValueError):
        _vector_game(**bad)


def test_equilibrium_cost_matches_monte_carlo():
    """Simulate the equilibrium policy against the equilibrium aggregate (Euler, fine grid)."""
    g = game(graphon="sbm", n_blocks=2, n_steps=400, sigma=0.8, var0=0.3, T=1.0)
    eq = g.equilibrium()
    rng = np.random.default_rng(7)
    n_paths = 20000
    x = g.m0[:, None] + np.sqrt(g.var0) * rng.standard_normal((2, n_paths))
    cost = np.zeros((2, n_paths))
    for k in range(g.n_steps):
        z = eq.aggregate[:, k : k + 1]
        a = eq.slope[k] * x + eq.intercepts[:, k : k + 1]
        cost += 0.5 * (g.Q * (x - g.H * z) ** 2 + g.R * a * a) * g.dt
        x = (
            x
            + (g.A * x + g.B * a + g.Abar * z) * g.dt
            + g.sigma * np.sqrt(g.dt) * rng.standard_normal((2, n_paths))
        )
    cost += 0.5 * g.G * (x - g.Hbar * eq.aggregate[:, -1:]) ** 2
    se = cost.std(axis=1) / np.sqrt(n_paths)
    # Monte Carlo error (4 standard errors) plus the Euler bias O(dt)
    assert np.all(np.abs(cost.mean(axis=1) - eq.costs) < 4 * se + 2e-3)
    # the noise matters: without it the cost is clearly lower
    assert np.all(
        game(graphon="sbm", n_blocks=2, n_steps=400, sigma=0.0, var0=0.3, T=1.0).equilibrium().costs
        < eq.costs - 20 * se
    )


@pytest.mark.parametrize("H, T", [(2.0, 0.8), (3.0, 1.5)])
def test_oscillating_modes_match_solve_bvp(H, T):
    """H > 1 makes Q (1 - H lambda) < 0 on the top mode: its Hamiltonian rotates."""
    g = game(
        graphon=make_graphon("constant", p=1.0),
        n_blocks=3,
        n_steps=40,
        H=H,
        T=T,
        Abar=0.5,
        A=0.3,
        R=1.0,
        B=1.0,
    )
    lam = np.linalg.eigvalsh(g.graphon_matrix / g.n_blocks).max()
    a, r, q = g.A + g.Abar * lam, g.B**2 / g.R, g.Q * (1 - g.H * lam)
    assert (g.Abar * lam / 2) ** 2 + a * g.A + r * q < 0  # the oscillatory branch
    eq = g.equilibrium()
    M, Wm = g.n_blocks, g.graphon_matrix / g.n_blocks

    def f(t, y):
        m, p = y[:M], y[M:]
        Z = Wm @ m
        return np.vstack([g.A * m - r * p + g.Abar * Z, -g.A * p - g.Q * (m - g.H * Z)])

    def bc(ya, yb):
        return np.concatenate([ya[:M] - g.m0, yb[M:] - g.G * (yb[:M] - g.Hbar * Wm @ yb[:M])])

    mesh = np.linspace(0, g.T, 100)
    sol = solve_bvp(f, bc, mesh, np.zeros((2 * M, mesh.size)), tol=1e-10, max_nodes=100000)
    assert sol.status == 0
    np.testing.assert_allclose(eq.means, sol.sol(g.t)[:M], atol=1e-8)
