"""Accelerated sequential IWF: block sweeps and Anderson extrapolation, the same equilibrium.

The sequential (Gauss-Seidel) sweep is a map ``G`` on power profiles whose fixed points
are the Nash equilibria. Two things make it slow, and the accelerated solver removes
both:

- a few strongly coupled users exchange a disturbance that decays slowly while the rest
  of the network settles in a few sweeps. After a first plain sweep, which measures the
  coupling of every pair, the sweeps are block sweeps (:mod:`protocols.iwf.blocks`):
  strongly coupled users are iterated together to near their own equilibrium given the
  rest, so the sweep map contracts about as fast as the weak coupling allows (on 50 x
  256 Rayleigh channels, about a thousandfold per sweep instead of two- to tenfold);
- once the set of carriers each user occupies settles, the sweep map is affine, and
  Anderson acceleration (type II, depth :data:`ANDERSON_MEMORY`) extrapolates from the
  last few sweeps, which on an affine map is GMRES.

Every extrapolated point is an affine combination of sweep outputs, so its interference
is the same combination of theirs: a sweep costs one pass over the gains (each user's
move is pushed to the others' interference, with float32 gains when
:func:`protocols.iwf.move_gains` allows) and no extra interference pass. The float32
gains make the carried interference that of a channel perturbed by float32 rounding in
the displacement since the last exact recomputation. The first sweep, whose moves are the
largest (from the start to near the equilibrium), pushes them with the float64 gains, so
its output carries exact interference and the float32 error only ever acts on the much
smaller later moves; the interference is recomputed exactly when a sweep fails to reduce
the residual after it has fallen :data:`_REFRESH_DROP`-fold since the last exact state
(a stall the float32 error could cause), every :data:`_REFRESH` sweeps, and whenever a
Nash-gap check fails.

Safeguard: when a sweep's residual ``max |G(x) - x| / budget`` does not fall below the
previous one, or the small least-squares problem is singular, the memory is dropped and
the next point is the plain sweep output ``G(x)`` (a feasible profile). Convergence is
only ever declared on the Nash gap of the returned profile, computed on freshly computed
interference: a sweep output whose residual is below the tolerance, or the next point
(the sweep output, or an extrapolated point clipped to ``[0, cap]``) when the last drop
of the residual predicts that it already meets the tolerance (checking it directly
saves its sweep: the residual measures the point a sweep starts from, and with block
sweeps its output is often a thousand times closer).

Examples
--------
>>> import numpy as np
>>> from protocols.iwf import iterative_waterfill
>>> rng = np.random.default_rng(0)
>>> gains = rng.uniform(0.01, 0.1, (6, 6, 16))
>>> for q in range(6):
...     gains[q, q] = rng.uniform(0.5, 1.0, 16)
>>> noise, budget = np.full((6, 16), 0.1), np.ones(6)
>>> seq = iterative_waterfill(gains, noise, budget, schedule="sequential", tol=1e-12)
>>> acc = iterative_waterfill(gains, noise, budget, schedule="accelerated", tol=1e-12)
>>> acc.converged, bool(np.abs(acc.solution - seq.solution).max() < 1e-9)
(True, True)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from protocols.iwf.blocks import (
    COUPLING,
    MAX_BLOCK,
    BlockPlan,
    SweepScratch,
    _block_plan_kernel,
    _block_sweep_kernel,
)
from protocols.iwf.channel import _best_response_gap_kernel, interference_kernel

__all__ = ["ANDERSON_MEMORY", "AcceleratedChannel", "accelerated_channel"]

#: Sweeps remembered by the Anderson extrapolation (measured on ten 50 x 256 Rayleigh
#: channels to a gap of 1e-9, with block sweeps: 47 sweeps in all without extrapolation,
#: 41 with 2, 3, 4 or 6; a longer memory only costs more bookkeeping and memory).
ANDERSON_MEMORY = 2

# The carried interference is recomputed exactly when a sweep does not reduce the residual
# after it has fallen this much since the last exact state (the float32 move gains may be
# what stalls it), and at least every _REFRESH sweeps.
_REFRESH_DROP = 1e-3
_REFRESH = 64

# The next point (extrapolated from at least _EARLY_COUNT sweeps, or the sweep's output)
# is checked directly, without sweeping it first, when the last drop of the residual
# predicts its residual at most _EARLY times tol (measured on the ten channels of
# ANDERSON_MEMORY: 35 sweeps in all with 0.5 and 2, 36 with 0.25 and 2, 41 with 0.25 and
# 3; 1.0 brings checks that fail).
_EARLY = 0.5
_EARLY_COUNT = 2

# A block's inner iterations stop once its moves are below this fraction of tol.
_INNER_FLOOR = 0.1

# Largest |coefficient| accepted from the least-squares solve before the memory is reset.
_MAX_COEF = 1e4


class AcceleratedChannel(NamedTuple):
    """The channel arrays the accelerated kernel reads (none is written).

    Attributes
    ----------
    gains : numpy.ndarray, shape (Q, Q, N)
        Channel gains ``gains[q, r, k]``.
    inv_direct : numpy.ndarray, shape (Q, N)
        ``1 / gains[q, q, k]``.
    noise : numpy.ndarray, shape (Q, N)
        Noise power.
    budget : numpy.ndarray, shape (Q,)
        Power budgets.
    cap : numpy.ndarray, shape (Q, N)
        Per-carrier caps (``inf`` for none).
    move_gains : numpy.ndarray, shape (Q, Q, N)
        The gains moves are pushed to the interference with: float32 or float64 (see
        :func:`protocols.iwf.move_gains`).
    """

    gains: np.ndarray
    inv_direct: np.ndarray
    noise: np.ndarray
    budget: np.ndarray
    cap: np.ndarray
    move_gains: np.ndarray


def accelerated_channel(
    gains: np.ndarray,
    noise: np.ndarray,
    budget: np.ndarray,
    cap: np.ndarray,
    move_gains: np.ndarray,
) -> AcceleratedChannel:
    """Bundle a validated channel for the accelerated kernel.

    Parameters
    ----------
    gains, noise, budget, cap : numpy.ndarray
        As returned by :func:`protocols.iwf.check_channel`.
    move_gains : numpy.ndarray, shape (Q, Q, N)
        :func:`protocols.iwf.move_gains` of the channel.

    Returns
    -------
    AcceleratedChannel
        The arrays, with the inverse direct gains added.
    """
    nq = gains.shape[0]
    inv_direct = 1.0 / gains[np.arange(nq), np.arange(nq)]
    return AcceleratedChannel(
        gains, np.ascontiguousarray(inv_direct), noise, budget, cap, move_gains
    )


@njit(cache=True)
def _exact_gap(ch, p, interf, br, scratch):
    """Exact interference of ``p`` into ``interf`` and the relative Nash gap of ``p``.

    ``p`` (Q, N) is read; ``interf`` and ``br`` (Q, N) and ``scratch.levels``,
    ``scratch.work``, ``scratch.state`` are written.
    """
    interference_kernel(ch.gains, ch.noise, p, interf)
    return _best_response_gap_kernel(
        ch, p, interf, br, scratch.work[0], scratch.state, scratch.levels
    )


@njit(cache=True)
def _small_solve(a, b):
    """Solve the ``m x m`` system ``a x = b`` by Gaussian elimination with pivoting.

    ``a`` (m, m) and ``b`` (m,) are overwritten; returns ``(x, ok)`` with ``ok`` False
    when a pivot is not above ``1e-14`` times the largest diagonal entry.
    """
    m = b.shape[0]
    scale = 0.0
    for i in range(m):
        scale = max(scale, abs(a[i, i]))
    x = np.zeros(m)
    if not scale > 0.0:
        return x, False
    for c in range(m):
        piv = c
        for r in range(c + 1, m):
            if abs(a[r, c]) > abs(a[piv, c]):
                piv = r
        if not abs(a[piv, c]) > 1e-14 * scale:
            return x, False
        if piv != c:
            for j in range(m):
                a[c, j], a[piv, j] = a[piv, j], a[c, j]
            b[c], b[piv] = b[piv], b[c]
        for r in range(c + 1, m):
            f = a[r, c] / a[c, c]
            for j in range(c, m):
                a[r, j] -= f * a[c, j]
            b[r] -= f * b[c]
    for c in range(m - 1, -1, -1):
        s = b[c]
        for j in range(c + 1, m):
            s -= a[c, j] * x[j]
        x[c] = s / a[c, c]
    return x, True


@njit(cache=True, fastmath={"reassoc", "contract", "nsz"})
def _dot(u, v):
    """``sum(u * v)`` over two flat arrays of one length (reassociated to vectorise)."""
    s = 0.0
    for i in range(u.shape[0]):
        s += u[i] * v[i]
    return s


@njit(cache=True)
def _anderson_weights(gram, newest, count):
    """Affine weights of the stored sweep outputs for the next point.

    Parameters
    ----------
    gram : numpy.ndarray, shape (R, R)
        ``gram[s, t]``: inner product of the residuals stored in ring slots ``s``, ``t``
        (``R`` slots, ``R = M + 2`` in the kernel).
    newest, count : int
        Ring slot of the newest entry and number of entries (>= 2), oldest first at
        slot ``newest - count + 1`` (mod ``R``).

    Returns
    -------
    coef : numpy.ndarray, shape (count,)
        Weights (summing to 1) of the entries, oldest first.
    ok : bool
        False when the least-squares problem is singular or its solution huge.
    """
    ring = gram.shape[0]
    slots = np.empty(count, dtype=np.int64)
    for j in range(count):
        slots[j] = (newest - count + 1 + j) % ring
    m = count - 1
    a = np.empty((m, m))
    b = np.empty(m)
    last = slots[count - 1]
    for j in range(m):
        sj, sj1 = slots[j], slots[j + 1]
        b[j] = gram[sj1, last] - gram[sj, last]
        for ll in range(m):
            sl, sl1 = slots[ll], slots[ll + 1]
            a[j, ll] = gram[sj1, sl1] - gram[sj1, sl] - gram[sj, sl1] + gram[sj, sl]
    gamma, ok = _small_solve(a, b)
    coef = np.zeros(count)
    coef[count - 1] = 1.0
    for j in range(m):
        if not abs(gamma[j]) <= _MAX_COEF:
            ok = False
        coef[j] += gamma[j]
        coef[j + 1] -= gamma[j]
    return coef, ok


@njit(cache=True)
def _combine(outs, out_interf, newest, coef, dest):
    """Write the affine combination of the memory into ring slot ``dest``.

    ``outs[dest] = sum_j coef[j] outs[s_j]`` and the same for ``out_interf``, over the
    ``len(coef)`` slots ``s_j`` ending at ``newest`` (oldest first); one carrier row at a
    time, so each stored row is read once. ``outs``, ``out_interf`` (ring, Q, N) are
    written at ``dest`` only.
    """
    ring, nq, nk = outs.shape
    count = coef.shape[0]
    for q in range(nq):
        xo = outs[dest, q]
        xi = out_interf[dest, q]
        for k in range(nk):
            xo[k] = 0.0
            xi[k] = 0.0
        for j in range(count):
            s = (newest - count + 1 + j) % ring
            c = coef[j]
            o = outs[s, q]
            oi = out_interf[s, q]
            for k in range(nk):
                xo[k] += c * o[k]
                xi[k] += c * oi[k]


@njit(cache=True)
def _clip(x, cap):
    """Clip ``x`` (Q, N, written) to ``[0, cap]`` (``cap`` (Q, N), read)."""
    nq, nk = x.shape
    for q in range(nq):
        for k in range(nk):
            x[q, k] = min(max(x[q, k], 0.0), cap[q, k])


@njit(cache=True)
def _anderson_kernel(ch, order, p, tol, history, interf_out):
    """Block sweeps with Anderson extrapolation; returns ``(sweeps, converged)``.

    The first sweep is a plain Gauss-Seidel sweep in ``order`` that also measures the
    coupling of every pair; the later ones are block sweeps in the
    :func:`protocols.iwf.blocks.block_plan` built from it.

    Parameters
    ----------
    ch : AcceleratedChannel
        The channel.
    order : numpy.ndarray of int64, shape (Q,)
        Update order within a sweep (blocks update at their first member's place).
    p : numpy.ndarray, shape (Q, N)
        Written: the starting profile on entry, the answer on return (a sweep output,
        a certified extrapolated point, or ``p`` itself when no sweep was made).
    tol : float
        Target relative Nash gap.
    history : numpy.ndarray, shape (max_iter + 1,)
        Written: ``history[i]`` is the sweep residual ``max |G(x_i) - x_i| / budget`` of
        the ``i``-th point, and ``history[sweeps]`` the exact Nash gap of the answer
        (entries after it are left as they were).
    interf_out : numpy.ndarray, shape (Q, N)
        Written: the exact interference of the answer.
    """
    nq, nk = p.shape
    max_iter = history.shape[0] - 1
    # Memory entries sit in consecutive ring slots; the slot after the newest, never one
    # of them, receives the next point and is swept in place into its output.
    ring = ANDERSON_MEMORY + 2
    # One block for every large work array: freeing several large blocks can make the
    # allocator return the memory to the system, and the next call pays page faults.
    work = np.empty((3 * ring + 2, nq, nk))
    outs = work[:ring]
    out_interf = work[ring : 2 * ring]
    resid = work[2 * ring : 3 * ring]
    gram = np.zeros((ring, ring))
    cur = 0
    outs[cur] = p
    if np.any(p != 0.0):
        interference_kernel(ch.gains, ch.noise, p, out_interf[cur])
    else:
        out_interf[cur] = ch.noise  # the interference of the silent profile, no pass
    br = work[3 * ring]
    scratch = SweepScratch(
        np.full(nq, np.nan),
        np.empty((nq, nk), dtype=ch.move_gains.dtype),
        np.zeros((nq, nk), dtype=np.int8),
        np.empty((2, nk)),
        np.empty(nk, dtype=np.int8),
        np.empty((0, 0)),
    )
    # The first sweep: plain Gauss-Seidel in ``order``, its moves pushed with the
    # float64 gains (exact carried interference), measuring the coupling of every pair.
    exact_ch = AcceleratedChannel(ch.gains, ch.inv_direct, ch.noise, ch.budget, ch.cap, ch.gains)
    exact_scratch = SweepScratch(
        scratch.levels,
        work[3 * ring + 1],
        scratch.wet,
        scratch.work,
        scratch.state,
        np.zeros((nq, nq)),
    )
    positions = np.arange(nq)
    plan = BlockPlan(order, positions, positions + 1)
    floor = _INNER_FLOOR * tol
    count = 0
    prev_res = np.inf
    refresh_res = np.inf  # sweep residual at the last exact recomputation
    last_refresh = 0
    for it in range(max_iter):
        y = outs[cur]
        interf = out_interf[cur]
        if it == 0:
            res, switched = _block_sweep_kernel(
                exact_ch, plan, y, interf, exact_scratch, resid[cur], floor
            )
            refresh_res = res
            plan = _block_plan_kernel(exact_scratch.coupling, order, COUPLING, MAX_BLOCK)
        else:
            res, switched = _block_sweep_kernel(ch, plan, y, interf, scratch, resid[cur], floor)
        history[it] = res
        if res <= tol:
            gap = _exact_gap(ch, y, interf, br, scratch)
            if gap <= tol:
                p[:] = y
                interf_out[:] = interf
                history[it + 1] = gap
                return it + 1, True
            refresh_res = res
            last_refresh = it
        elif (
            not res < prev_res and res <= _REFRESH_DROP * refresh_res
        ) or it - last_refresh >= _REFRESH:
            interference_kernel(ch.gains, ch.noise, y, interf)
            refresh_res = res
            last_refresh = it
        if switched > 0 and it > 0:
            count = 0  # the active set changed: older sweeps belong to another affine map
        if not res < prev_res:
            count = 0  # safeguard: forget the extrapolation, take the plain sweep
        # The next point's residual, extrapolated from the last drop (none yet after the
        # first sweep).
        predicted = res * min(1.0, res / prev_res) if it > 0 else res
        prev_res = res
        count = min(count + 1, ANDERSON_MEMORY + 1)
        r_new = resid[cur].reshape(-1)
        for j in range(count):
            s = (cur - j) % ring
            gram[cur, s] = _dot(r_new, resid[s].reshape(-1))
            gram[s, cur] = gram[cur, s]
        ok = False
        if count >= 2:
            coef, ok = _anderson_weights(gram, cur, count)
        nxt = (cur + 1) % ring
        if ok:
            _combine(outs, out_interf, cur, coef, nxt)
        else:
            if count >= 2:
                count = 1
            outs[nxt] = y
            out_interf[nxt] = interf
        if predicted <= _EARLY * tol and (count >= _EARLY_COUNT or not ok):
            # Convergence expected at the next point (the extrapolated one, or the
            # sweep's output): check it rather than sweep it first (a failed check
            # still leaves its interference exact).
            x = outs[nxt]
            x_interf = out_interf[nxt]
            if ok:
                _clip(x, ch.cap)  # its interference is recomputed for the check
            gap = _exact_gap(ch, x, x_interf, br, scratch)
            if gap <= tol:
                p[:] = x
                interf_out[:] = x_interf
                history[it + 1] = gap
                return it + 1, True
            refresh_res = res
            last_refresh = it
        cur = nxt
    y = outs[cur]
    interf = out_interf[cur]
    gap = _exact_gap(ch, y, interf, br, scratch)
    p[:] = y
    interf_out[:] = interf
    history[max_iter] = gap
    return max_iter, gap <= tol
