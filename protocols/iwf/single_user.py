"""Exact single-user water-filling, cold and warm-started.

``waterfill`` is the validated public function; the kernels below are the building
blocks the IWF schedules call once per user and update.

Examples
--------
>>> from protocols.iwf.single_user import waterfill
>>> waterfill([0.1, 0.2, 0.5, 1.0], 1.0)    # noise-to-gain ratios, power budget
array([0.5, 0.4, 0.1, 0. ])
>>> waterfill([0.1, 0.2, 0.5, 1.0], 1.0, cap=[0.3, 1.0, 1.0, 1.0])   # a spectral mask
array([0.3, 0.5, 0.2, 0. ])
"""

from __future__ import annotations

import numpy as np
from numba import njit

from protocols.checks import check_float_array, check_nonneg_float

__all__ = ["waterfill"]


@njit(cache=True)
def _waterfill_kernel(a, cap, budget, out, state):
    """Exact water-filling by variable fixing; returns the water level.

    ``p[k] = clip(mu - a[k], 0, cap[k])`` with ``sum p = budget`` (or ``p = cap`` when
    the caps sum to at most the budget). Each pass solves for ``mu`` on the carriers
    not yet fixed, then fixes at 0 the carriers below the water (if clipping would
    overshoot the budget) or at their cap the carriers above it (if it would fall
    short). Every pass fixes at least one carrier, so it ends in at most ``N`` passes
    with the exact level on the final active set.

    Parameters
    ----------
    a : numpy.ndarray, shape (N,)
        Interference-plus-noise over direct gain (read).
    cap : numpy.ndarray, shape (N,)
        Per-carrier caps, ``inf`` for none (read).
    budget : float
        Power to spend, > 0.
    out : numpy.ndarray, shape (N,)
        Written: the powers.
    state : numpy.ndarray of int8, shape (N,)
        Written: scratch (0 free, 1 empty, 2 capped).
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
    carrier is free. ``a`` and ``cap`` are (N,) arrays, read only; nothing is written.
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
    """``out = clip(mu - a, 0, cap)``; True if ``mu`` splits the carriers as ``guess``.

    ``a``, ``cap`` (N,) are read; ``out`` (N,) is written.
    """
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

    Parameters
    ----------
    a, cap : numpy.ndarray, shape (N,)
        As in :func:`_waterfill_kernel` (read).
    budget : float
        Power to spend, > 0.
    guess : float
        Guessed level (NaN or inf for none).
    out : numpy.ndarray, shape (N,)
        Written: the powers.
    state : numpy.ndarray of int8, shape (N,)
        Written: scratch.
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
