"""Iterative water-filling (IWF) for the multi-carrier power-control game.

``Q`` users share ``N`` carriers. User ``q`` spreads a budget ``budget[q]`` over the
carriers, ``p[q, k] >= 0`` with ``sum_k p[q, k] = budget[q]`` and optional per-carrier
caps ``p[q, k] <= cap[q, k]`` (spectral masks), and maximises its rate
``sum_k log2(1 + gains[q, q, k] p[q, k] / I[q, k])`` where
``I[q, k] = noise[q, k] + sum_{r != q} gains[q, r, k] p[r, k]`` is the
interference-plus-noise it sees. Its best response is water-filling against
``I[q, k] / gains[q, q, k]``; IWF repeats best responses until no user wants to move.

Three schedules are provided, each as an ``@njit(cache=True)`` kernel:

``"sequential"``
    Gauss-Seidel: users update one after another within a sweep, each seeing the
    powers the previous ones just chose.
``"simultaneous"``
    Jacobi: every user updates at once against the previous profile.
``"asynchronous"``
    Totally asynchronous: at every tick a random subset of users updates, each against
    its own stale view of the interference, measured ``d <= max_delay`` ticks ago.

All schedules take a relaxation ``step`` (damped IWF,
``p <- (1 - a_n) p + a_n WF(p)`` with ``a_n = step / (n + 1) ** step_decay``; a decay
in (0.5, 1] gives the averaged variant that rides out measurement noise) and a
multiplicative, mean-one log-normal measurement noise on the interference each user
sees. Random numbers are drawn outside the kernels from a ``numpy.random.Generator``
and passed in.

The Nash gap of a profile is ``max_q max_k |p[q, k] - WF_q(p)[k]| / budget[q]``: the
largest move any user would make to its best response, relative to its budget (zero
exactly at a Nash equilibrium).
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from protocols._checks import ConvergenceWarning, check_float_array, check_int, check_nonneg_float

__all__ = [
    "OPTION_DEFAULTS",
    "SCHEDULES",
    "IWFResult",
    "best_response",
    "check_channel",
    "interference",
    "iterative_waterfill",
    "nash_gap",
    "waterfill",
]

#: Update schedules accepted by :func:`iterative_waterfill`.
SCHEDULES = ("sequential", "simultaneous", "asynchronous")

# The kernels run in chunks of iterations (random draws for the stochastic schedules are
# made a chunk at a time), so memory stays bounded whatever ``max_iter`` is.
_CHUNK = 256
_CHUNK_DETERMINISTIC = 4096


# ---------------------------------------------------------------------------- kernels


@njit(cache=True)
def _waterfill_kernel(a, cap, budget, out, state):
    """Exact water-filling by variable fixing; returns the water level.

    ``p[k] = clip(mu - a[k], 0, cap[k])`` with ``sum p = budget`` (or ``p = cap`` when
    the caps sum to at most the budget). Each pass solves for ``mu`` on the carriers
    not yet fixed, then fixes at 0 the carriers below the water (if clipping would
    overshoot the budget) or at their cap the carriers above it (if it would fall
    short). Every pass fixes at least one carrier, so it ends in at most ``N`` passes
    with the exact level on the final active set.
    """
    n = a.shape[0]
    total_cap = 0.0
    for k in range(n):
        total_cap += cap[k]
    if total_cap <= budget:
        for k in range(n):
            out[k] = cap[k]
        return np.inf
    for k in range(n):
        state[k] = 0
    fixed_power = 0.0
    mu = 0.0
    while True:
        nfree = 0
        s = 0.0
        for k in range(n):
            if state[k] == 0:
                nfree += 1
                s += a[k]
        if nfree == 0:
            break
        mu = (budget - fixed_power + s) / nfree
        below = 0.0
        above = 0.0
        for k in range(n):
            if state[k] == 0:
                x = mu - a[k]
                if x < 0.0:
                    below -= x
                elif x > cap[k]:
                    above += x - cap[k]
        if below == above:
            break
        if below > above:
            for k in range(n):
                if state[k] == 0 and mu - a[k] <= 0.0:
                    state[k] = 1
        else:
            for k in range(n):
                if state[k] == 0 and mu - a[k] >= cap[k]:
                    state[k] = 2
                    fixed_power += cap[k]
    for k in range(n):
        if state[k] == 1:
            out[k] = 0.0
        elif state[k] == 2:
            out[k] = cap[k]
        else:
            x = mu - a[k]
            out[k] = 0.0 if x < 0.0 else (cap[k] if x > cap[k] else x)
    return mu


# Reassociation lets the carrier sums of the warm water-filling vectorise; nothing in
# those loops is NaN or infinite except masks (``inf``), which only meet comparisons and
# ``min``.
_FASTMATH = {"reassoc", "contract", "nsz"}


@njit(cache=True, fastmath=_FASTMATH)
def _split_level(a, cap, budget, guess):
    """Water level that spends ``budget`` on the split of the carriers by ``guess``.

    Carriers with ``guess - a <= 0`` are empty, those with ``guess - a >= cap`` (and
    above the water) sit at their cap, the rest are free. Returns ``inf`` when no
    carrier is free.
    """
    s = 0.0
    nfree = 0.0
    capped = 0.0
    for k in range(a.shape[0]):
        x = guess - a[k]
        c = cap[k]
        wet = 1.0 if x > 0.0 else 0.0
        full = wet if x >= c else 0.0
        s += (wet - full) * a[k]
        nfree += wet - full
        capped += full * min(c, 1e308)
    if nfree == 0.0:
        return np.inf
    return (budget - capped + s) / nfree


@njit(cache=True, fastmath=_FASTMATH)
def _fill_if_same_split(a, cap, guess, mu, out):
    """``out = clip(mu - a, 0, cap)``; True if ``mu`` splits the carriers as ``guess``."""
    changed = 0.0
    for k in range(a.shape[0]):
        x0 = guess - a[k]
        x = mu - a[k]
        c = cap[k]
        changed += abs((1.0 if x0 > 0.0 else 0.0) - (1.0 if x > 0.0 else 0.0))
        changed += abs((1.0 if x0 >= c else 0.0) - (1.0 if x >= c else 0.0))
        out[k] = min(max(x, 0.0), c)
    return changed == 0.0


@njit(cache=True)
def _waterfill_warm_kernel(a, cap, budget, guess, out, state):
    """Exact water-filling started from a guessed water level; returns the level.

    The guess splits the carriers into empty, capped and free ones; the level that
    spends the budget on that split is computed, and if it splits the carriers the same
    way it is the exact solution (the KKT conditions hold). Otherwise the new level
    becomes the guess (a Newton step on the piecewise-linear budget equation), up to
    four times, before falling back on :func:`_waterfill_kernel`. Between IWF
    iterations the split rarely changes, so this costs two vectorised passes over the
    carriers.
    """
    if np.isfinite(guess):
        for _ in range(4):
            mu = _split_level(a, cap, budget, guess)
            if not np.isfinite(mu):
                break
            if _fill_if_same_split(a, cap, guess, mu, out):
                return mu
            guess = mu
    return _waterfill_kernel(a, cap, budget, out, state)


@njit(cache=True)
def _interference_kernel(gains, noise, p, out):
    """``out[q, k] = noise[q, k] + sum_{r != q} gains[q, r, k] p[r, k]``."""
    nq, nk = p.shape
    acc = np.empty(nk)  # a private accumulator lets the inner loop vectorise
    for q in range(nq):
        for k in range(nk):
            acc[k] = noise[q, k]
        for r in range(nq):
            if r != q:
                g_row = gains[q, r]
                p_row = p[r]
                for k in range(nk):
                    acc[k] += g_row[k] * p_row[k]
        for k in range(nk):
            out[q, k] = acc[k]


@njit(cache=True)
def _max_move(p_row, br):
    """``max_k |p_row[k] - br[k]|``."""
    m = 0.0
    for k in range(p_row.shape[0]):
        m = max(m, abs(p_row[k] - br[k]))
    return m


@njit(cache=True)
def _best_response_gap_kernel(gains, budget, cap, p, interf, br, a, state, levels):
    """Best responses of every user to ``interf``; returns the relative Nash gap.

    ``levels[q]`` is a guess of user ``q``'s water level (NaN for none), updated.
    """
    nq, nk = p.shape
    gap = 0.0
    for q in range(nq):
        for k in range(nk):
            a[k] = interf[q, k] / gains[q, q, k]
        levels[q] = _waterfill_warm_kernel(a, cap[q], budget[q], levels[q], br[q], state)
        gap = max(gap, _max_move(p[q], br[q]) / budget[q])
    return gap


@njit(cache=True)
def _relax(p_row, target, alpha):
    if alpha == 1.0:
        for k in range(p_row.shape[0]):
            p_row[k] = target[k]
    else:
        for k in range(p_row.shape[0]):
            p_row[k] = (1.0 - alpha) * p_row[k] + alpha * target[k]


@njit(cache=True)
def _simultaneous_kernel(gains, noise, budget, cap, p, step, decay, noise_factor,
                         n0, n_steps, tol, history, interf):
    """Jacobi IWF from iteration ``n0``; returns ``(updates_done, converged)``.

    ``history[s]`` receives the Nash gap of the profile after ``n0 + s`` updates.
    ``noise_factor`` has shape ``(n_steps, Q, N)`` (multiplies the measured
    interference) or ``(0, Q, N)`` for exact measurements. On return ``interf`` is the
    interference of ``p``.
    """
    nq, nk = p.shape
    br = np.empty((nq, nk))
    a = np.empty(nk)
    state = np.empty(nk, dtype=np.int8)
    levels = np.full(nq, np.nan)
    noisy = noise_factor.shape[0] > 0
    for s in range(n_steps + 1):
        n = n0 + s
        _interference_kernel(gains, noise, p, interf)
        gap = _best_response_gap_kernel(gains, budget, cap, p, interf, br, a, state,
                                        levels)
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

    In float32 when ``move_gains`` is (see :func:`_move_gains`): ``moved`` holds every
    user's last move rounded the same way, so the error this adds to the interference
    ``row`` is proportional to the moves, not to the interference.
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
def _exact_gap_kernel(gains, noise, budget, cap, inv_direct, p, interf, br, a, state, levels):
    """Exact interference of ``p`` into ``interf`` and the relative Nash gap of ``p``.

    :func:`_best_response_gap_kernel` for the sequential kernel: it multiplies by the
    inverse direct gains, as the sweep does, so a sweep's measured gap and its exact
    confirmation agree bit for bit when nothing moved.
    """
    nq, nk = p.shape
    _interference_kernel(gains, noise, p, interf)
    gap = 0.0
    for q in range(nq):
        for k in range(nk):
            a[k] = interf[q, k] * inv_direct[q, k]
        levels[q] = _waterfill_warm_kernel(a, cap[q], budget[q], levels[q], br, state)
        gap = max(gap, _max_move(p[q], br) / budget[q])
    return gap


@njit(cache=True)
def _sequential_kernel(gains, move_gains, noise, budget, cap, p, order, step, decay,
                       noise_factor, n0, n_steps, tol, history, interf):
    """Gauss-Seidel IWF from sweep ``n0``; returns ``(sweeps_done, converged)``.

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
    a chunk ends. On return ``interf`` is the exact interference of ``p``.
    """
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
    _interference_kernel(gains, noise, p, interf)
    exact_gap = np.inf  # gap at the last exact recomputation of the interference
    for s in range(n_steps + 1):
        if s == n_steps:
            gap = _exact_gap_kernel(gains, noise, budget, cap, inv_direct, p, interf, br, a,
                                    state, levels)
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
            gap = _exact_gap_kernel(gains, noise, budget, cap, inv_direct, prev, scratch, br,
                                    a, state, levels)
            history[s] = gap
            if gap <= tol:
                p[:] = prev
                interf[:] = scratch
                return s, True
            refresh = True
        if refresh:
            _interference_kernel(gains, noise, p, interf)
            moved[:] = 0.0
            exact_gap = gap
    return n_steps, False


@njit(cache=True)
def _asynchronous_kernel(gains, noise, budget, cap, p, past, step, decay, noise_factor,
                         update, delay, n0, n_steps, tol, history, interf):
    """Totally asynchronous IWF from tick ``n0``; returns ``(ticks_done, converged)``.

    ``past`` is a ring of the last ``D + 1`` profiles (``past[n % (D + 1)]`` is the
    profile at tick ``n``). At tick ``n`` user ``q`` updates if ``update[s, q]``, against
    the interference it measured at tick ``n - min(delay[s, q], n)``; all updates of a
    tick are applied together. On return ``interf`` is the interference of ``p``.
    """
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
        _interference_kernel(gains, noise, p, interf)
        gap = _best_response_gap_kernel(gains, budget, cap, p, interf, br, a, state,
                                        levels)
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


# ------------------------------------------------------------------------ validation


def check_channel(gains, noise, budget, cap=None, *, cap_name: str = "cap"):
    """Validate and broadcast a power-control channel.

    Parameters
    ----------
    gains : array_like, shape (Q, Q, N)
        ``gains[q, r, k]``: power gain from transmitter ``r`` to receiver ``q`` on
        carrier ``k``; finite and >= 0, with direct gains ``gains[q, q, k] > 0``.
    noise : float or array_like, shape (Q, N)
        Noise power at each receiver on each carrier, finite and > 0.
    budget : float or array_like, shape (Q,)
        Power budget of each user, finite and > 0.
    cap : None, float or array_like, shape (N,) or (Q, N)
        Spectral mask: per-carrier power caps, >= 0 (``inf`` allowed, NaN not).
    cap_name : str
        Name given to ``cap`` in error messages.

    Returns
    -------
    gains, noise, budget, cap : numpy.ndarray
        float64 arrays of shapes (Q, Q, N), (Q, N), (Q,) and (Q, N) (``inf`` where
        there is no cap).
    """
    g = check_float_array("gains", gains, ndim=3, finite=True)
    nq, nq2, nk = g.shape
    if nq != nq2 or nq == 0 or nk == 0:
        raise ValueError(f"gains must have shape (Q, Q, N) with Q, N >= 1, got {g.shape}")
    if np.any(g < 0):
        raise ValueError("gains must be >= 0")
    direct = g[np.arange(nq), np.arange(nq)]
    if np.any(direct <= 0):
        raise ValueError("direct gains gains[q, q, k] must be > 0")
    if np.ndim(noise) == 0:
        noise_a = np.full((nq, nk), check_nonneg_float("noise", noise, positive=True))
    else:
        noise_a = check_float_array("noise", noise, finite=True)
    if noise_a.shape != (nq, nk):

        raise ValueError(f"noise must be a scalar or have shape (Q, N) = {(nq, nk)}, "
                         f"got {noise_a.shape}")
    if np.any(noise_a <= 0):
        raise ValueError("noise must be > 0")
    if np.ndim(budget) == 0:
        budget_a = np.full(nq, check_nonneg_float("budget", budget, positive=True))
    else:
        budget_a = check_float_array("budget", budget, finite=True)
    if budget_a.shape != (nq,):
        raise ValueError(f"budget must be a scalar or have shape (Q,) = ({nq},), "
                         f"got {budget_a.shape}")
    if np.any(budget_a <= 0):
        raise ValueError("budget must be > 0")
    if cap is None:
        cap_a = np.full((nq, nk), np.inf)
    else:
        cap_a = np.asarray(check_float_array(cap_name, cap)).reshape(np.shape(cap))
        if np.any(np.isnan(cap_a)):
            raise ValueError(f"{cap_name} must not contain NaN")
        if cap_a.ndim not in (0, 1, 2) or (cap_a.ndim == 1 and cap_a.shape != (nk,)) or (
                cap_a.ndim == 2 and cap_a.shape != (nq, nk)):
            raise ValueError(f"{cap_name} must be a scalar or have shape (N,) = ({nk},) or "
                             f"(Q, N) = {(nq, nk)}, got {cap_a.shape}")
        if np.any(cap_a < 0):
            raise ValueError(f"{cap_name} must be >= 0")
        cap_a = np.array(np.broadcast_to(cap_a, (nq, nk)), dtype=np.float64)
    # Writeable C arrays only, so that the kernels keep a single compiled signature.
    out = []
    for arr in (g, noise_a, budget_a, cap_a):
        arr = np.ascontiguousarray(arr)
        out.append(arr if arr.flags.writeable else arr.copy())
    return tuple(out)


def _check_power(power, nq, nk):
    p = check_float_array("power", power, shape=(nq, nk), finite=True)
    if np.any(p < 0):
        raise ValueError("power must be >= 0")
    return p if p.flags.writeable else p.copy()


# ------------------------------------------------------------------------ public API


def waterfill(inv_gain, budget, cap=None) -> np.ndarray:
    """Single-user water-filling, exactly, with optional spectral mask.

    Maximises ``sum_k log(1 + p[k] / inv_gain[k])`` subject to ``sum_k p[k] <= budget``
    and ``0 <= p[k] <= cap[k]``. The solution is ``p[k] = clip(mu - inv_gain[k], 0,
    cap[k])`` with the water level ``mu`` set so that the whole budget is used (or
    ``p = cap`` when the caps add up to less than the budget).

    Parameters
    ----------
    inv_gain : array_like, shape (N,)
        Interference-plus-noise over direct gain on each carrier, finite and >= 0.
    budget : float
        Total power, > 0.
    cap : None, float or array_like, shape (N,)
        Per-carrier power caps, >= 0 (``inf`` for no cap).

    Returns
    -------
    numpy.ndarray, shape (N,)
        Power on each carrier.

    Examples
    --------
    >>> waterfill([0.1, 0.2, 0.5, 1.0], 1.0)
    array([0.5, 0.4, 0.1, 0. ])
    """
    a = check_float_array("inv_gain", inv_gain, ndim=1, finite=True)
    if a.shape[0] == 0:
        raise ValueError("inv_gain must have at least one carrier")
    if np.any(a < 0):
        raise ValueError("inv_gain must be >= 0")
    budget = check_nonneg_float("budget", budget, positive=True)
    if cap is None:
        c = np.full(a.shape[0], np.inf)
    else:
        c = check_float_array("cap", cap)
        if np.ndim(cap) == 0:
            c = np.full(a.shape[0], float(c[0]))
        if c.shape != a.shape:
            raise ValueError(f"cap must be a scalar or have shape {a.shape}, got {c.shape}")
        if np.any(np.isnan(c)) or np.any(c < 0):
            raise ValueError("cap must be >= 0 (inf allowed, NaN not)")
    out = np.empty_like(a)
    _waterfill_kernel(a, c, budget, out, np.empty(a.shape[0], dtype=np.int8))
    return out


def interference(gains, noise, power) -> np.ndarray:
    """Interference-plus-noise seen by every user on every carrier.

    Parameters
    ----------
    gains : array_like, shape (Q, Q, N)
        Channel gains (see :func:`check_channel`).
    noise : float or array_like, shape (Q, N)
        Noise power.
    power : array_like, shape (Q, N)
        Transmit powers.

    Returns
    -------
    numpy.ndarray, shape (Q, N)
        ``noise[q, k] + sum_{r != q} gains[q, r, k] power[r, k]``.
    """
    g, nz, _, _ = check_channel(gains, noise, 1.0)
    p = _check_power(power, g.shape[0], g.shape[2])
    out = np.empty_like(p)
    _interference_kernel(g, nz, p, out)
    return out


def best_response(gains, noise, budget, power, cap=None) -> np.ndarray:
    """Every user's water-filling response to the others' powers in ``power``.

    Parameters
    ----------
    gains, noise, budget, cap
        The channel (see :func:`check_channel`).
    power : array_like, shape (Q, N)
        Current powers.

    Returns
    -------
    numpy.ndarray, shape (Q, N)
        Row ``q`` is user ``q``'s best response to the other rows.
    """
    g, nz, b, c = check_channel(gains, noise, budget, cap)
    p = _check_power(power, g.shape[0], g.shape[2])
    return _best_response(g, nz, b, c, p)[0]


def nash_gap(gains, noise, budget, power, cap=None) -> float:
    """Relative Nash gap of a power profile.

    Parameters
    ----------
    gains, noise, budget, cap
        The channel (see :func:`check_channel`).
    power : array_like, shape (Q, N)
        Powers.

    Returns
    -------
    float
        ``max_q max_k |power[q, k] - WF_q(power)[k]| / budget[q]``; 0 exactly at a Nash
        equilibrium.
    """
    g, nz, b, c = check_channel(gains, noise, budget, cap)
    p = _check_power(power, g.shape[0], g.shape[2])
    return _best_response(g, nz, b, c, p)[1]


def _best_response(g, nz, b, c, p):
    nk = p.shape[1]
    interf = np.empty_like(p)
    _interference_kernel(g, nz, p, interf)
    br = np.empty_like(p)
    gap = _best_response_gap_kernel(g, b, c, p, interf, br, np.empty(nk),
                                    np.empty(nk, dtype=np.int8), np.full(p.shape[0], np.nan))
    return br, float(gap)


@dataclass
class IWFResult:
    """Outcome of :func:`iterative_waterfill`.

    Attributes
    ----------
    power : numpy.ndarray, shape (Q, N)
        The last power profile.
    iterations : int
        Updates performed (sweeps for ``"sequential"``, rounds for ``"simultaneous"``,
        ticks for ``"asynchronous"``).
    converged : bool
        Whether the Nash gap reached ``tol``.
    nash_gap : float
        Relative Nash gap of ``power`` (see :func:`nash_gap`).
    nash_gap_history : numpy.ndarray, shape (iterations + 1,)
        Nash gap of the starting profile and after every update. The last entry is
        computed on exactly recomputed interference; the sequential schedule measures
        the earlier ones on interference it keeps up to date with float32 increments,
        within about 1% of those of exact Gauss-Seidel.
    schedule : str
        The schedule used.
    interference : numpy.ndarray, shape (Q, N)
        Interference-plus-noise each user sees at ``power`` (see :func:`interference`).
    """

    power: np.ndarray
    iterations: int
    converged: bool
    nash_gap: float
    nash_gap_history: np.ndarray = field(repr=False)
    schedule: str = "sequential"
    interference: np.ndarray | None = field(default=None, repr=False)


def iterative_waterfill(
    gains,
    noise,
    budget,
    cap=None,
    *,
    schedule: str = "sequential",
    tol: float = 1e-9,
    max_iter: int = 10_000,
    p0=None,
    step: float = 1.0,
    step_decay: float = 0.0,
    measurement_noise: float = 0.0,
    update_prob: float = 0.5,
    max_delay: int = 0,
    order=None,
    seed: int | np.random.Generator | None = None,
) -> IWFResult:
    """Run iterative water-filling until the Nash gap is at most ``tol``.

    Parameters
    ----------
    gains, noise, budget, cap
        The channel (see :func:`check_channel`).
    schedule : {"sequential", "simultaneous", "asynchronous"}
        Update schedule (see the module docstring).
    tol : float
        Stop when the relative Nash gap is at most ``tol`` (>= 0).
    max_iter : int
        Largest number of updates (sweeps, rounds or ticks), >= 0.
    p0 : array_like, shape (Q, N), optional
        Starting powers (default all zero, so the first update is water-filling against
        the noise alone).
    step : float
        Relaxation in (0, 1]: ``p <- (1 - a_n) p + a_n WF(p)`` with
        ``a_n = step / (n + 1) ** step_decay``; 1 is plain IWF.
    step_decay : float
        In [0, 1]; 0 keeps the step constant (damped IWF), values in (0.5, 1] average
        out measurement noise.
    measurement_noise : float
        ``sigma >= 0``: each user water-fills against its measured interference times
        the mean-one log-normal factor ``exp(sigma z - sigma**2 / 2)``, ``z ~ N(0, 1)``
        drawn per user, carrier and update.
    update_prob : float
        ``"asynchronous"`` only: probability in (0, 1] that a user updates at a tick.
    max_delay : int
        ``"asynchronous"`` only: largest age (>= 0 ticks) of the interference a user
        acts on; each update draws its delay uniformly in ``[0, max_delay]``.
    order : array_like of int, shape (Q,), optional
        ``"sequential"`` only: the order users update in within a sweep (a
        permutation; default ``0, 1, ..., Q - 1``).
    seed : int, numpy.random.Generator or None
        Source of the asynchronous schedule's and the measurement noise's draws.

    Returns
    -------
    IWFResult
        Powers, iterations, convergence flag, final Nash gap and its history.

    Warns
    -----
    ConvergenceWarning
        When ``max_iter`` updates did not bring the Nash gap to ``tol``.
    """
    channel = check_channel(gains, noise, budget, cap)
    return _iterate(channel, None, schedule=schedule, tol=tol, max_iter=max_iter, p0=p0,
                    step=step, step_decay=step_decay, measurement_noise=measurement_noise,
                    update_prob=update_prob, max_delay=max_delay, order=order, seed=seed)


#: :func:`iterative_waterfill`'s tuning options (beyond schedule, tol, max_iter and seed)
#: and their defaults.
OPTION_DEFAULTS = {
    name: par.default
    for name, par in inspect.signature(iterative_waterfill).parameters.items()
    if par.kind is inspect.Parameter.KEYWORD_ONLY
    and name not in ("schedule", "tol", "max_iter", "seed")
}


def _move_gains(gains, noise, budget) -> np.ndarray:
    """Return the gains the sequential kernel applies users' moves with.

    A float32 copy (half the memory traffic of a sweep) when gains, budgets and their
    products sit well inside float32's range and anything float32 flushes to zero is
    negligible against the noise; else ``gains`` itself.
    """
    top = float(gains.max())
    least = float(gains[gains > 0].min())
    fits = top < 1e30 and top * float(budget.max()) < 1e30 and least > 1e-30
    if fits and float(noise.min()) > 1e-25:
        return gains.astype(np.float32)
    return gains


def _iterate(channel, gains_for_moves, *, schedule, tol, max_iter, p0, step, step_decay,
             measurement_noise, update_prob, max_delay, order, seed) -> IWFResult:
    """:func:`iterative_waterfill` on a validated channel (options checked here).

    ``gains_for_moves`` is :func:`_move_gains` of the channel, or None to compute it.
    """
    g, nz, b, c = channel
    nq, _, nk = g.shape
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    tol = check_nonneg_float("tol", tol)
    max_iter = check_int("max_iter", max_iter, low=0)
    step = check_nonneg_float("step", step, positive=True)
    if step > 1:
        raise ValueError(f"step must be in (0, 1], got {step}")
    step_decay = check_nonneg_float("step_decay", step_decay)
    if step_decay > 1:
        raise ValueError(f"step_decay must be in [0, 1], got {step_decay}")
    sigma = check_nonneg_float("measurement_noise", measurement_noise)
    update_prob = check_nonneg_float("update_prob", update_prob, positive=True)
    if update_prob > 1:
        raise ValueError(f"update_prob must be in (0, 1], got {update_prob}")
    max_delay = check_int("max_delay", max_delay, low=0)
    if order is None:
        order_a = np.arange(nq, dtype=np.int64)
    else:
        order_a = np.asarray(order)
        if order_a.dtype.kind not in "iu" or order_a.shape != (nq,) or not np.array_equal(
                np.sort(order_a), np.arange(nq)):
            raise ValueError(f"order must be a permutation of 0..{nq - 1}")
        order_a = np.ascontiguousarray(order_a, dtype=np.int64)
    if p0 is None:
        p = np.zeros((nq, nk))
    else:
        p = _check_power(p0, nq, nk).copy()
    rng = np.random.default_rng(seed)

    past = np.empty((max_delay + 1, nq, nk))
    interf = np.empty((nq, nk))
    if schedule == "sequential" and gains_for_moves is None:
        gains_for_moves = _move_gains(g, nz, b)
    no_noise = np.empty((0, nq, nk))
    parts = []
    done = 0
    converged = False
    size = _CHUNK if (sigma > 0.0 or schedule == "asynchronous") else _CHUNK_DETERMINISTIC
    while True:
        chunk = min(size, max_iter - done)
        local = np.empty(chunk + 1)
        factor = (np.exp(sigma * rng.standard_normal((chunk, nq, nk)) - 0.5 * sigma**2)
                  if sigma > 0 else no_noise)
        if schedule == "sequential":
            steps, converged = _sequential_kernel(g, gains_for_moves, nz, b, c, p, order_a,
                                                  step, step_decay, factor, done, chunk, tol,
                                                  local, interf)
        elif schedule == "simultaneous":
            steps, converged = _simultaneous_kernel(g, nz, b, c, p, step, step_decay,
                                                    factor, done, chunk, tol, local, interf)
        else:
            update = rng.random((chunk, nq)) < update_prob
            delay = rng.integers(0, max_delay + 1, size=(chunk, nq))
            steps, converged = _asynchronous_kernel(g, nz, b, c, p, past, step, step_decay,
                                                    factor, update, delay, done, chunk, tol,
                                                    local, interf)
        # A chunk starts by re-evaluating the profile the previous one ended on.
        parts.append(local[: steps + 1] if not parts else local[1 : steps + 1])
        done += int(steps)
        if converged or done >= max_iter:
            break
    history = np.concatenate(parts)
    if not converged:
        warnings.warn(
            f"iterative water-filling ({schedule}) did not reach a Nash gap of {tol:g} in "
            f"{max_iter} iterations (last gap {history[-1]:.3g})",
            ConvergenceWarning,
            stacklevel=3,
        )
    return IWFResult(power=p, iterations=done, converged=bool(converged),
                     nash_gap=float(history[-1]), nash_gap_history=history, schedule=schedule,
                     interference=interf)
