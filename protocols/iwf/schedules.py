"""The three IWF schedules of the paper as Numba kernels: sequential, simultaneous, asynchronous.

Each kernel runs a chunk of iterations in place on the power profile and records the
Nash gap after each; :func:`protocols.iwf.iterative_waterfill` drives them.

Examples
--------
The kernels are driven through :func:`protocols.iwf.iterative_waterfill`; all three
schedules reach the same equilibrium:

>>> import numpy as np
>>> from protocols.iwf import iterative_waterfill
>>> rng = np.random.default_rng(0)
>>> gains = rng.uniform(0.05, 0.2, (3, 3, 4))
>>> gains[np.arange(3), np.arange(3)] = 1.0
>>> noise, budget = np.full((3, 4), 0.1), np.ones(3)
>>> runs = {s: iterative_waterfill(gains, noise, budget, schedule=s, seed=0)
...         for s in ("sequential", "simultaneous", "asynchronous")}
>>> [r.converged for r in runs.values()]
[True, True, True]
>>> bool(np.allclose(runs["sequential"].solution, runs["asynchronous"].solution, atol=1e-8))
True
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from protocols.iwf.channel import _best_response_gap_kernel, _max_move, interference_kernel
from protocols.iwf.single_user import _waterfill_warm_kernel

__all__ = ["AsyncDraws", "Run"]


class Run(NamedTuple):
    """Scalars of one chunk of a schedule kernel.

    Attributes
    ----------
    step, decay : float
        Relaxation ``a_n = step / (n + 1) ** decay``.
    n0 : int
        Index of the chunk's first update (for the step decay).
    n_steps : int
        Updates to perform at most in this chunk.
    tol : float
        Target relative Nash gap.
    """

    step: float
    decay: float
    n0: int
    n_steps: int
    tol: float


class AsyncDraws(NamedTuple):
    """Random draws of one chunk of the asynchronous schedule (read only).

    Attributes
    ----------
    noise_factor : numpy.ndarray, shape (n_steps, Q, N) or (0, Q, N)
        Multiplies the measured interference (empty: exact measurements).
    update : numpy.ndarray of bool, shape (n_steps, Q)
        Whether user ``q`` updates at tick ``s`` of the chunk.
    delay : numpy.ndarray of int64, shape (n_steps, Q)
        Age of the interference it acts on.
    """

    noise_factor: np.ndarray
    update: np.ndarray
    delay: np.ndarray


@njit(cache=True)
def _relax(p_row, target, alpha):
    """``p_row <- (1 - alpha) p_row + alpha target`` (a copy when ``alpha == 1``).

    ``p_row`` (N,) is written; ``target`` (N,) is read.
    """
    if alpha == 1.0:
        for k in range(p_row.shape[0]):
            p_row[k] = target[k]
    else:
        for k in range(p_row.shape[0]):
            p_row[k] = (1.0 - alpha) * p_row[k] + alpha * target[k]


@njit(cache=True)
def _simultaneous_kernel(ch, p, run, noise_factor, history, interf):
    """Jacobi IWF from iteration ``run.n0``; returns ``(updates_done, converged)``.

    Parameters
    ----------
    ch : Channel
        The channel (read).
    p : numpy.ndarray, shape (Q, N)
        Written: the profile, updated in place.
    run : Run
        Step, decay, first index, updates and tolerance of this chunk.
    noise_factor : numpy.ndarray, shape (n_steps, Q, N) or (0, Q, N)
        Multiplies the measured interference (empty: exact measurements).
    history : numpy.ndarray, shape (n_steps + 1,)
        Written: ``history[s]`` is the Nash gap of the profile after ``n0 + s`` updates.
    interf : numpy.ndarray, shape (Q, N)
        Written: on return the interference of ``p``.
    """
    gains, noise, budget, cap = ch.gains, ch.noise, ch.budget, ch.cap
    step, decay, n0, n_steps, tol = run.step, run.decay, run.n0, run.n_steps, run.tol
    nq, nk = p.shape
    br = np.empty((nq, nk))
    a = np.empty(nk)
    state = np.empty(nk, dtype=np.int8)
    levels = np.full(nq, np.nan)
    noisy = noise_factor.shape[0] > 0
    for s in range(n_steps + 1):
        n = n0 + s
        interference_kernel(gains, noise, p, interf)
        gap = _best_response_gap_kernel(ch, p, interf, br, a, state, levels)
        history[s] = gap
        if gap <= tol:
            return s, True
        if s == n_steps:
            break
        alpha = step / (n + 1.0) ** decay
        for q in range(nq):
            if noisy:
                for k in range(nk):
                    a[k] = interf[q, k] * noise_factor[s, q, k] / gains[q, q, k]
                levels[q] = _waterfill_warm_kernel(a, cap[q], budget[q], levels[q], br[q], state)
            _relax(p[q], br[q], alpha)
    return n_steps, False


@njit(cache=True)
def _pull_moves(move_gains, moved, q, order, lo, hi, acc, row):
    """``row += sum_{lo <= j < hi} move_gains[q, order[j]] * moved[order[j]]``.

    In float32 when ``move_gains`` is (see :func:`protocols.iwf.move_gains`): ``moved``
    holds every user's last move rounded the same way, so the error this adds to the
    interference ``row`` is proportional to the moves, not to the interference.

    Parameters
    ----------
    move_gains : numpy.ndarray, shape (Q, Q, N), float32 or float64
        Gains the moves are applied with (read).
    moved : numpy.ndarray, shape (Q, N), dtype of ``move_gains``
        Every user's last move (read).
    q : int
        The receiving user.
    order : numpy.ndarray of int64, shape (Q,)
        Update order; users ``order[lo:hi]`` are pulled.
    lo, hi : int
        Range of positions in ``order``.
    acc : numpy.ndarray, shape (N,), dtype of ``move_gains``
        Written: scratch accumulator.
    row : numpy.ndarray, shape (N,)
        Written: user ``q``'s interference, incremented.
    """
    nk = acc.shape[0]
    for k in range(nk):
        acc[k] = 0.0
    for j in range(lo, hi):
        r = order[j]
        g_row = move_gains[q, r]
        m_row = moved[r]
        for k in range(nk):
            acc[k] += g_row[k] * m_row[k]
    for k in range(nk):
        row[k] += acc[k]


@njit(cache=True)
def _exact_gap_kernel(ch, inv_direct, p, interf, br, a, state, levels):
    """Exact interference of ``p`` into ``interf`` and the relative Nash gap of ``p``.

    :func:`_best_response_gap_kernel` for the sequential kernel: it multiplies by the
    inverse direct gains, as the sweep does, so a sweep's measured gap and its exact
    confirmation agree bit for bit when nothing moved.

    Parameters
    ----------
    ch : Channel
        The channel (read).
    inv_direct : numpy.ndarray, shape (Q, N)
        ``1 / gains[q, q, k]`` (read).
    p : numpy.ndarray, shape (Q, N)
        The profile (read).
    interf : numpy.ndarray, shape (Q, N)
        Written: the exact interference of ``p``.
    br, a : numpy.ndarray, shape (N,)
        Written: scratch.
    state : numpy.ndarray of int8, shape (N,)
        Written: scratch.
    levels : numpy.ndarray, shape (Q,)
        Written: water-level guesses, updated.
    """
    gains, noise, budget, cap = ch.gains, ch.noise, ch.budget, ch.cap
    nq, nk = p.shape
    interference_kernel(gains, noise, p, interf)
    gap = 0.0
    for q in range(nq):
        for k in range(nk):
            a[k] = interf[q, k] * inv_direct[q, k]
        levels[q] = _waterfill_warm_kernel(a, cap[q], budget[q], levels[q], br, state)
        gap = max(gap, _max_move(p[q], br) / budget[q])
    return gap


@njit(cache=True)
def _sequential_kernel(ch, move_gains, p, order, run, noise_factor, history, interf):
    """Gauss-Seidel IWF from sweep ``run.n0``; returns ``(sweeps_done, converged)``.

    Pass ``s`` of the loop measures the Nash gap of profile ``P_s`` and performs sweep
    ``s + 1`` in one stream over the gains: when user ``q`` comes up, the moves made
    since its last update by the users after it (still in ``P_s``) are added to its
    interference, giving its best response to ``P_s`` (its share of the gap); then the
    moves of the users before it in this sweep are added and it updates. Moves are
    applied in float32 (``move_gains``), so the interference carries an error of about
    float32's precision times how far the powers moved since its last exact
    recomputation. It is recomputed exactly every time the gap falls a thousandfold,
    which keeps the gaps measured within about 1% of exact Gauss-Seidel's, and
    the gap is always confirmed on exact interference before convergence is declared or
    a chunk ends.

    Parameters
    ----------
    ch : Channel
        The channel (read).
    move_gains : numpy.ndarray, shape (Q, Q, N), float32 or float64
        :func:`protocols.iwf.move_gains` of the channel (read).
    p : numpy.ndarray, shape (Q, N)
        Written: the profile, updated in place (``P_s`` when converged).
    order : numpy.ndarray of int64, shape (Q,)
        Update order within a sweep.
    run : Run
        Step, decay, first sweep, sweeps and tolerance of this chunk.
    noise_factor : numpy.ndarray, shape (n_steps, Q, N) or (0, Q, N)
        Multiplies the measured interference (empty: exact measurements).
    history : numpy.ndarray, shape (n_steps + 1,)
        Written: the Nash gap of every profile measured.
    interf : numpy.ndarray, shape (Q, N)
        Written: on return the exact interference of ``p``.
    """
    gains, noise, budget, cap = ch.gains, ch.noise, ch.budget, ch.cap
    step, decay, n0, n_steps, tol = run.step, run.decay, run.n0, run.n_steps, run.tol
    nq, nk = p.shape
    inv_direct = np.empty((nq, nk))
    for q in range(nq):
        for k in range(nk):
            inv_direct[q, k] = 1.0 / gains[q, q, k]
    prev = np.empty((nq, nk))
    moved = np.zeros((nq, nk), dtype=move_gains.dtype)
    acc = np.empty(nk, dtype=move_gains.dtype)
    scratch = np.empty((nq, nk))
    br = np.empty(nk)
    a = np.empty(nk)
    new = np.empty(nk)
    state = np.empty(nk, dtype=np.int8)
    levels = np.full(nq, np.nan)
    noisy = noise_factor.shape[0] > 0
    interference_kernel(gains, noise, p, interf)
    exact_gap = np.inf  # gap at the last exact recomputation of the interference
    for s in range(n_steps + 1):
        if s == n_steps:
            gap = _exact_gap_kernel(ch, inv_direct, p, interf, br, a, state, levels)
            history[s] = gap
            return s, gap <= tol
        alpha = step / (n0 + s + 1.0) ** decay
        gap = 0.0
        for i in range(nq):
            q = order[i]
            row = interf[q]
            _pull_moves(move_gains, moved, q, order, i + 1, nq, acc, row)
            for k in range(nk):
                a[k] = row[k] * inv_direct[q, k]
            levels[q] = _waterfill_warm_kernel(a, cap[q], budget[q], levels[q], br, state)
            gap = max(gap, _max_move(p[q], br) / budget[q])
            _pull_moves(move_gains, moved, q, order, 0, i, acc, row)
            for k in range(nk):
                a[k] = row[k] * inv_direct[q, k]
                if noisy:
                    a[k] *= noise_factor[s, q, k]
            levels[q] = _waterfill_warm_kernel(a, cap[q], budget[q], levels[q], new, state)
            for k in range(nk):
                old = p[q, k]
                prev[q, k] = old
                p[q, k] = new[k] if alpha == 1.0 else (1.0 - alpha) * old + alpha * new[k]
                moved[q, k] = p[q, k] - old
        history[s] = gap
        if s == 0:
            exact_gap = gap
        refresh = gap <= 1e-3 * exact_gap
        if gap <= tol:
            # Confirm on exact interference; then P_s, not the profile after the sweep,
            # is the answer.
            gap = _exact_gap_kernel(ch, inv_direct, prev, scratch, br, a, state, levels)
            history[s] = gap
            if gap <= tol:
                p[:] = prev
                interf[:] = scratch
                return s, True
            refresh = True
        if refresh:
            interference_kernel(gains, noise, p, interf)
            moved[:] = 0.0
            exact_gap = gap
    return n_steps, False


@njit(cache=True)
def _asynchronous_kernel(ch, p, past, run, draws, history, interf):
    """Totally asynchronous IWF from tick ``n0``; returns ``(ticks_done, converged)``.

    ``past`` is a ring of the last ``D + 1`` profiles (``past[n % (D + 1)]`` is the
    profile at tick ``n``). At tick ``n`` user ``q`` updates if ``update[s, q]``, against
    the interference it measured at tick ``n - min(delay[s, q], n)``; all updates of a
    tick are applied together.

    Parameters
    ----------
    ch : Channel
        The channel (read).
    p : numpy.ndarray, shape (Q, N)
        Written: the profile, updated in place.
    past : numpy.ndarray, shape (D + 1, Q, N)
        Written: ring of the last profiles.
    run : Run
        Step, decay, first tick, ticks and tolerance of this chunk.
    draws : AsyncDraws
        Measurement noise, update flags and delays of every tick (read).
    history : numpy.ndarray, shape (n_steps + 1,)
        Written: the Nash gap of the profile at every tick.
    interf : numpy.ndarray, shape (Q, N)
        Written: on return the interference of ``p``.
    """
    gains, noise, budget, cap = ch.gains, ch.noise, ch.budget, ch.cap
    step, decay, n0, n_steps, tol = run.step, run.decay, run.n0, run.n_steps, run.tol
    noise_factor, update, delay = draws.noise_factor, draws.update, draws.delay
    nq, nk = p.shape
    ring = past.shape[0]
    br = np.empty((nq, nk))
    a = np.empty(nk)
    state = np.empty(nk, dtype=np.int8)
    levels = np.full(nq, np.nan)
    noisy = noise_factor.shape[0] > 0
    for s in range(n_steps + 1):
        n = n0 + s
        slot = n % ring
        for q in range(nq):
            for k in range(nk):
                past[slot, q, k] = p[q, k]
        interference_kernel(gains, noise, p, interf)
        gap = _best_response_gap_kernel(ch, p, interf, br, a, state, levels)
        history[s] = gap
        if gap <= tol:
            return s, True
        if s == n_steps:
            break
        alpha = step / (n + 1.0) ** decay
        for q in range(nq):
            if not update[s, q]:
                continue
            d = min(delay[s, q], n)
            view = past[(n - d) % ring]
            for k in range(nk):
                a[k] = noise[q, k]
            for r in range(nq):
                if r != q:
                    for k in range(nk):
                        a[k] += gains[q, r, k] * view[r, k]
            for k in range(nk):
                a[k] /= gains[q, q, k]
                if noisy:
                    a[k] *= noise_factor[s, q, k]
            levels[q] = _waterfill_warm_kernel(a, cap[q], budget[q], levels[q], br[q], state)
        for q in range(nq):
            if update[s, q]:
                _relax(p[q], br[q], alpha)
    return n_steps, False
