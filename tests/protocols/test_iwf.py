"""Water-filling and the IWF kernels, against closed forms and independent references."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import brentq

import protocols.iwf.solve as iwf_module
from protocols.checks import ConvergenceWarning
from protocols.iwf import (
    SCHEDULES,
    best_response,
    check_channel,
    interference,
    iterative_waterfill,
    move_gains,
    nash_gap,
    waterfill,
)
from protocols.iwf.blocks import block_plan
from protocols.iwf.single_user import _waterfill_warm_kernel


def _weak_channel(seed, nq=3, nk=5, cross=0.08):
    rng = np.random.default_rng(seed)
    g = rng.uniform(0.0, cross, size=(nq, nq, nk))
    for q in range(nq):
        g[q, q] = rng.uniform(0.5, 1.5, size=nk)
    noise = rng.uniform(0.1, 0.5, size=(nq, nk))
    budget = rng.uniform(0.5, 2.0, size=nq)
    return g, noise, budget


def _brentq_waterfill(a, budget, cap):
    """Independent reference: the water level found by scipy's root finder."""
    if cap.sum() <= budget:
        return cap.copy()

    def excess(mu):
        return np.clip(mu - a, 0.0, cap).sum() - budget

    hi = a.max() + budget + cap[np.isfinite(cap)].max(initial=0.0) + 1.0
    mu = brentq(excess, a.min(), hi, xtol=1e-15, rtol=4 * np.finfo(float).eps)
    return np.clip(mu - a, 0.0, cap)


# ------------------------------------------------------------------ water-filling


def test_waterfill_closed_form():
    # Level mu = (1 + 0.1 + 0.2 + 0.5) / 3 = 0.6 > 0.5 and < 1.0: three carriers active.
    np.testing.assert_allclose(
        waterfill([0.1, 0.2, 0.5, 1.0], 1.0), [0.5, 0.4, 0.1, 0.0], rtol=0, atol=1e-15
    )


def test_waterfill_with_mask_closed_form():
    # Carrier 0 capped at 0.3, carrier 3 masked out: the remaining 0.7 fills carriers
    # 1 and 2 to the level mu = (0.7 + 0.2 + 0.5) / 2 = 0.7.
    np.testing.assert_allclose(
        waterfill([0.1, 0.2, 0.5, 1.0], 1.0, cap=[0.3, 1, 1, 0]),
        [0.3, 0.5, 0.2, 0.0],
        rtol=0,
        atol=1e-15,
    )
    # Caps adding up to less than the budget: every carrier at its cap.
    np.testing.assert_array_equal(waterfill([0.1, 0.2], 5.0, cap=[1.0, 2.0]), [1.0, 2.0])


def test_waterfill_equal_inverse_gains_split_evenly():
    np.testing.assert_allclose(waterfill(np.full(8, 0.3), 2.0), np.full(8, 0.25), atol=1e-15)


@given(
    arrays(np.float64, st.integers(1, 12), elements=st.floats(0.0, 10.0)),
    st.floats(0.01, 20.0),
    st.data(),
)
def test_waterfill_kkt_and_brentq_reference(a, budget, data):
    capped = data.draw(st.booleans())
    if capped:
        cap = data.draw(arrays(np.float64, a.shape, elements=st.floats(0.0, 5.0)))
    else:
        cap = np.full(a.shape, np.inf)
    p = waterfill(a, budget, cap if capped else None)
    used = min(budget, cap.sum())
    assert np.all(p >= 0) and np.all(p <= cap)
    assert p.sum() == pytest.approx(used, rel=1e-12, abs=1e-12)
    # KKT of the concave problem: one water level mu with p = clip(mu - a, 0, cap).
    free = (p > 1e-12) & (p < cap - 1e-12)
    if free.any():
        mu = (p + a)[free]
        assert np.ptp(mu) <= 1e-9 * (1 + abs(mu).max())
        mu = mu.mean()
        assert np.all(a[(p <= 1e-12) & (cap > 1e-12)] >= mu - 1e-9)
        assert np.all((a + cap)[(p >= cap - 1e-12) & (p > 1e-12)] <= mu + 1e-9)
    np.testing.assert_allclose(p, _brentq_waterfill(a, budget, cap), rtol=0, atol=1e-9)


@given(
    arrays(np.float64, st.integers(1, 12), elements=st.floats(0.0, 10.0)),
    st.floats(0.01, 20.0),
    st.one_of(st.floats(-5.0, 30.0), st.just(np.nan), st.just(np.inf)),
    st.booleans(),
    st.data(),
)
def test_warm_started_waterfill_does_not_depend_on_the_guess(a, budget, guess, capped, data):
    if capped:
        cap = data.draw(arrays(np.float64, a.shape, elements=st.floats(0.0, 5.0)))
    else:
        cap = np.full(a.shape, np.inf)
    out = np.empty_like(a)
    state = np.empty(a.shape[0], dtype=np.int8)
    _waterfill_warm_kernel(a, cap, budget, guess, out, state)
    np.testing.assert_allclose(out, _brentq_waterfill(a, budget, cap), rtol=0, atol=1e-9)
    assert out.sum() == pytest.approx(min(budget, cap.sum()), rel=1e-12, abs=1e-12)


def test_waterfill_rejects_bad_input():
    with pytest.raises(ValueError, match="budget"):
        waterfill([0.1, 0.2], 0.0)
    with pytest.raises(ValueError, match="budget"):
        waterfill([0.1, 0.2], -1.0)
    with pytest.raises(ValueError, match="inv_gain"):
        waterfill([0.1, np.nan], 1.0)
    with pytest.raises(ValueError, match="inv_gain"):
        waterfill([0.1, -0.2], 1.0)
    with pytest.raises(ValueError, match="cap"):
        waterfill([0.1, 0.2], 1.0, cap=[1.0])
    with pytest.raises(ValueError, match="cap"):
        waterfill([0.1, 0.2], 1.0, cap=[1.0, np.nan])
    with pytest.raises(TypeError, match="inv_gain"):
        waterfill(["a", "b"], 1.0)


def test_channel_validation_names_the_argument():
    g, noise, budget = _weak_channel(0)
    bad_g = g.copy()
    bad_g[0, 1, 2] = -0.1
    with pytest.raises(ValueError, match="gains must be >= 0"):
        check_channel(bad_g, noise, budget)
    bad_g[0, 1, 2] = np.nan
    with pytest.raises(ValueError, match="gains"):
        check_channel(bad_g, noise, budget)
    bad_g = g.copy()
    bad_g[1, 1, 0] = 0.0
    with pytest.raises(ValueError, match="direct gains"):
        check_channel(bad_g, noise, budget)
    with pytest.raises(ValueError, match="gains"):
        check_channel(g[:, :2], noise, budget)
    with pytest.raises(ValueError, match="noise"):
        check_channel(g, noise[:, :2], budget)
    with pytest.raises(ValueError, match="noise"):
        check_channel(g, 0.0, budget)
    with pytest.raises(ValueError, match="budget"):
        check_channel(g, noise, [1.0, 1.0])
    with pytest.raises(ValueError, match="budget"):
        check_channel(g, noise, [1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match="cap"):
        check_channel(g, noise, budget, cap=np.ones(3))
    with pytest.raises(ValueError, match="schedule"):
        iterative_waterfill(g, noise, budget, schedule="random")
    with pytest.raises(ValueError, match="order"):
        iterative_waterfill(g, noise, budget, order=[0, 0, 1])
    with pytest.raises(ValueError, match="step"):
        iterative_waterfill(g, noise, budget, step=1.5)
    with pytest.raises(ValueError, match="power"):
        nash_gap(g, noise, budget, np.full((3, 5), np.inf))


# --------------------------------------------------------------------- the game


def test_interference_matches_einsum():
    g, noise, _ = _weak_channel(1)
    p = np.random.default_rng(2).uniform(0, 1, size=(3, 5))
    cross = g.copy()
    for q in range(3):
        cross[q, q] = 0.0
    np.testing.assert_allclose(
        interference(g, noise, p), noise + np.einsum("qrk,rk->qk", cross, p), rtol=1e-14
    )


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_zero_cross_gains_converge_in_one_iteration(schedule):
    rng = np.random.default_rng(3)
    nq, nk = 4, 6
    g = np.zeros((nq, nq, nk))
    for q in range(nq):
        g[q, q] = rng.uniform(0.2, 2.0, size=nk)
    noise = rng.uniform(0.1, 1.0, size=(nq, nk))
    budget = np.array([1.0, 2.0, 0.5, 3.0])
    res = iterative_waterfill(g, noise, budget, schedule=schedule, update_prob=1.0)
    assert res.converged and res.iterations == 1
    assert res.nash_gap == 0.0
    for q in range(nq):
        np.testing.assert_allclose(
            res.power[q], waterfill(noise[q] / g[q, q], budget[q]), rtol=0, atol=1e-15
        )


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_equilibrium_is_every_users_own_water_filling(schedule):
    g, noise, budget = _weak_channel(4, nq=4, nk=8)
    cap = np.full((4, 8), np.inf)
    cap[1, :3] = 0.05  # a spectral mask on user 1
    res = iterative_waterfill(
        g, noise, budget, cap, schedule=schedule, tol=1e-11, seed=5, max_delay=2
    )
    assert res.converged and res.nash_gap <= 1e-11
    assert res.nash_gap_history[-1] == res.nash_gap
    assert len(res.nash_gap_history) == res.iterations + 1
    for q in range(4):
        others = noise[q] + sum(g[q, r] * res.power[r] for r in range(4) if r != q)
        np.testing.assert_allclose(
            res.power[q],
            waterfill(others / g[q, q], budget[q], cap[q]),
            rtol=0,
            atol=1e-10 * budget[q],
        )
    assert np.all(res.power[1, :3] <= 0.05)
    np.testing.assert_allclose(res.power.sum(axis=1), budget, rtol=1e-12)
    np.testing.assert_allclose(
        best_response(g, noise, budget, res.power, cap),
        res.power,
        rtol=0,
        atol=1e-10 * budget.max(),
    )


def test_async_is_deterministic_per_seed_and_independent_of_it_at_the_end():
    g, noise, budget = _weak_channel(6, nq=4, nk=6)
    kw = dict(schedule="asynchronous", update_prob=0.3, max_delay=4, tol=1e-12)
    a = iterative_waterfill(g, noise, budget, seed=11, **kw)
    b = iterative_waterfill(g, noise, budget, seed=11, **kw)
    c = iterative_waterfill(g, noise, budget, seed=12, **kw)
    np.testing.assert_array_equal(a.nash_gap_history, b.nash_gap_history)
    np.testing.assert_array_equal(a.power, b.power)
    assert a.iterations != c.iterations or not np.array_equal(
        a.nash_gap_history, c.nash_gap_history
    )
    np.testing.assert_allclose(a.power, c.power, rtol=0, atol=1e-10)


def _plain_gauss_seidel(g, noise, budget, order, step, max_sweeps, tol):
    """Reference Gauss-Seidel IWF: exact interference from the formula at every update."""
    nq = g.shape[0]
    p = np.zeros(noise.shape)
    history = []
    for _ in range(max_sweeps + 1):
        history.append(nash_gap(g, noise, budget, p))
        if history[-1] <= tol:
            break
        for q in order:
            others = noise[q] + sum(g[q, r] * p[r] for r in range(nq) if r != q)
            p[q] = (1 - step) * p[q] + step * waterfill(others / g[q, q], budget[q])
    return p, np.array(history)


@pytest.mark.parametrize(("order", "step"), [(None, 1.0), ([3, 0, 5, 1, 4, 2], 1.0), (None, 0.7)])
def test_sequential_follows_plain_gauss_seidel(order, step):
    # The kernel keeps the interference up to date with float32 increments and measures
    # each sweep's gap during the next one; the iterates must still be Gauss-Seidel's:
    # the same sweep count and final powers, and gaps within 1% (the float32 error is
    # about 6e-8 of the distance moved since the last exact recomputation, which comes
    # after every thousandfold fall of the gap).
    g, noise, budget = _weak_channel(21, nq=6, nk=16, cross=0.6)
    res = iterative_waterfill(g, noise, budget, tol=1e-11, order=order, step=step)
    ref_p, ref_hist = _plain_gauss_seidel(g, noise, budget, order or range(6), step, 500, 1e-11)
    assert res.converged and res.iterations == len(ref_hist) - 1 > 10
    np.testing.assert_allclose(res.nash_gap_history, ref_hist, rtol=1e-2, atol=1e-14)
    np.testing.assert_allclose(res.power, ref_p, rtol=0, atol=1e-12)
    assert res.nash_gap == pytest.approx(nash_gap(g, noise, budget, res.power), abs=1e-15)
    np.testing.assert_allclose(res.interference, interference(g, noise, res.power), rtol=1e-14)


def test_sequential_chunks_and_float64_bookkeeping_agree(monkeypatch):
    g, noise, budget = _weak_channel(22, nq=5, nk=12, cross=0.6)
    whole = iterative_waterfill(g, noise, budget, tol=1e-12)
    assert move_gains(g, noise, budget).dtype == np.float32
    # Scaling gains and noise by 1e35 leaves every SINR, hence the game, unchanged, but
    # puts the gains beyond float32, so the moves are applied in float64.
    scale = 1e35
    assert move_gains(g * scale, noise * scale, budget).dtype == np.float64
    scaled = iterative_waterfill(g * scale, noise * scale, budget, tol=1e-12)
    monkeypatch.setattr(iwf_module, "_CHUNK_DETERMINISTIC", 3)
    chunked = iterative_waterfill(g, noise, budget, tol=1e-12)
    for res in (scaled, chunked):
        assert res.converged and res.iterations == whole.iterations
        np.testing.assert_allclose(res.power, whole.power, rtol=0, atol=1e-13)
        np.testing.assert_allclose(
            res.nash_gap_history, whole.nash_gap_history, rtol=1e-2, atol=1e-15
        )


def test_zero_delay_full_update_async_is_jacobi():
    g, noise, budget = _weak_channel(7)
    a = iterative_waterfill(
        g, noise, budget, schedule="asynchronous", update_prob=1.0, max_delay=0, seed=0
    )
    b = iterative_waterfill(g, noise, budget, schedule="simultaneous")
    np.testing.assert_array_equal(a.nash_gap_history, b.nash_gap_history)
    np.testing.assert_array_equal(a.power, b.power)


def test_zero_measurement_noise_changes_nothing_and_noise_is_averaged_out():
    g, noise, budget = _weak_channel(8)
    budget = 4 * budget  # every carrier active at the equilibrium: WF is affine in I there
    exact = iterative_waterfill(g, noise, budget, schedule="simultaneous", tol=1e-13)
    assert np.all(exact.power > 0.1)
    same = iterative_waterfill(
        g, noise, budget, schedule="simultaneous", tol=1e-13, measurement_noise=0.0, seed=3
    )
    np.testing.assert_array_equal(exact.power, same.power)

    def err(max_iter, decay):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            res = iterative_waterfill(
                g,
                noise,
                budget,
                schedule="simultaneous",
                max_iter=max_iter,
                measurement_noise=0.05,
                step_decay=decay,
                seed=3,
            )
        # Relaxation keeps every iterate on the budget simplex.
        np.testing.assert_allclose(res.power.sum(axis=1), budget, rtol=1e-12)
        return np.abs(res.power - exact.power).max()

    # The noise factor has mean one and WF is affine in the measured interference on a
    # fixed active set, so a step a_n = n^-0.75 (Robbins-Monro: sum a_n = inf,
    # sum a_n^2 < inf) averages the noise out, while constant-step IWF keeps reacting
    # to each fresh draw.
    constant = err(1000, 0.0)
    assert err(1000, 0.75) < 0.1 * constant
    assert err(3000, 0.75) < 0.6 * err(300, 0.75)


def test_not_converging_warns_and_says_so():
    g, noise, budget = _weak_channel(9)
    with pytest.warns(ConvergenceWarning, match="did not reach"):
        res = iterative_waterfill(g, noise, budget, max_iter=1, tol=0.0)
    assert not res.converged and res.iterations == 1
    assert res.nash_gap == pytest.approx(nash_gap(g, noise, budget, res.power), abs=1e-15)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_accelerated_first_sweep_is_exact_gauss_seidel(seed):
    # The first sweep pushes its (large) moves with the float64 gains even when the later
    # sweeps use float32 ones: one sweep from silence must equal a Gauss-Seidel sweep
    # built from the public water-filling to float64 rounding, far below float32's 1e-7.
    rng = np.random.default_rng(seed)
    nq, nk = 6, 16
    g = rng.uniform(0.0, 0.5, size=(nq, nq, nk))
    for q in range(nq):
        g[q, q] = rng.uniform(0.5, 1.5, size=nk)
    noise = rng.uniform(1e-3, 1e-2, size=(nq, nk))
    budget = rng.uniform(0.5, 2.0, size=nq)
    assert move_gains(g, noise, budget).dtype == np.float32
    p = np.zeros((nq, nk))
    for q in range(nq):
        interf = noise[q] + sum(g[q, r] * p[r] for r in range(nq) if r != q)
        p[q] = waterfill(interf / g[q, q], budget[q])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = iterative_waterfill(g, noise, budget, schedule="accelerated", tol=0.0, max_iter=1)
    assert res.iterations == 1
    np.testing.assert_allclose(res.solution, p, rtol=1e-12, atol=1e-15)
    assert res.residuals[0] == pytest.approx(float((p / budget[:, None]).max()), rel=1e-12)


def _channel_with_a_coupled_pair(seed, nq=12, nk=32):
    # Weak cross gains everywhere except users 2 and 7, who hear each other almost as
    # well as themselves: sequential IWF crawls on their exchange.
    rng = np.random.default_rng(seed)
    g = rng.uniform(0.0, 0.02, size=(nq, nq, nk))
    for q in range(nq):
        g[q, q] = rng.uniform(0.5, 1.5, size=nk)
    g[2, 7] = 0.8 * g[2, 2]
    g[7, 2] = 0.7 * g[7, 7]
    noise = rng.uniform(0.05, 0.2, size=(nq, nk))
    budget = rng.uniform(0.5, 2.0, size=nq)
    return g, noise, budget


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_accelerated_solves_a_strongly_coupled_pair_as_a_block(seed):
    # Sequential IWF needs about 30 sweeps here and Anderson extrapolation on plain
    # sweeps 13 to 16; with users 2 and 7 iterated together, the sweeps contract at the
    # weak coupling's rate. The answer is checked with the public water-filling, user by
    # user, and against tight sequential IWF.
    g, noise, budget = _channel_with_a_coupled_pair(seed)
    seq = iterative_waterfill(g, noise, budget, schedule="sequential", tol=1e-9)
    acc = iterative_waterfill(g, noise, budget, schedule="accelerated", tol=1e-9)
    assert seq.converged and acc.converged
    assert acc.iterations <= 8 and seq.iterations >= 3 * acc.iterations
    interf = interference(g, noise, acc.solution)
    for q in range(g.shape[0]):
        br = waterfill(interf[q] / g[q, q], budget[q])
        assert np.abs(acc.solution[q] - br).max() <= 1e-9 * budget[q]
    tight = iterative_waterfill(g, noise, budget, tol=1e-13, max_iter=100_000)
    np.testing.assert_allclose(acc.solution, tight.solution, rtol=0, atol=1e-9 * budget.max())


def test_block_plan_groups_strong_pairs_in_update_order():
    c = np.full((6, 6), 0.01)  # weak everywhere: products 1e-4
    c[4, 1], c[1, 4] = 0.5, 0.5  # 1 - 4 strong
    c[4, 2], c[2, 4] = 0.3, 0.2  # 4 - 2 strong: 1, 2 and 4 form one block
    plan = block_plan(c, np.array([5, 4, 0, 2, 3, 1]))
    # The block updates where its first member (4) comes up, members in the given order.
    assert plan.order.tolist() == [5, 4, 2, 1, 0, 3]
    assert plan.lo.tolist() == [0, 1, 1, 1, 4, 5]
    assert plan.hi.tolist() == [1, 4, 4, 4, 5, 6]
    # Components above max_size, or of every user, stay single users.
    for small in (
        block_plan(c, np.arange(6), max_size=2),
        block_plan(np.ones((3, 3)), np.arange(3)),
    ):
        n = small.order.shape[0]
        assert small.order.tolist() == list(range(n))
        assert small.hi.tolist() == [i + 1 for i in range(n)]
