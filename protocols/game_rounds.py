"""One round of B repeated games at once: multi-carrier power control and quadratic games.

These kernels are the step of ``power_control_v0`` and ``differentiable_game_v0``: the
single environments call them with B = 1 and the batched forms with B games, so a
sub-environment of a batch computes exactly (bit for bit) what the single environment
computes. The validated functions :func:`power_control_round` and
:func:`quadratic_game_round` check their arguments; ``power_control_round_kernel`` and
``quadratic_game_round_kernel`` are the unchecked fast paths for hot loops that built
their arrays themselves (C-contiguous float64 unless said otherwise).

Examples
--------
>>> import numpy as np
>>> from protocols.game_rounds import power_control_round
>>> gains = np.ones((1, 2, 2, 3))               # one game, 2 users, 3 carriers
>>> power, measured, rates = power_control_round(gains, np.ones((1, 2, 3)),
...                                              np.ones((1, 2)), np.ones((1, 2, 3)))
>>> power[0, 0]                                  # the budget spread evenly
array([0.33333333, 0.33333333, 0.33333333])
>>> measured[0, 0]                               # noise plus the other user's power
array([1.33333333, 1.33333333, 1.33333333])
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from protocols.checks import check_float_array, check_nonneg_float

__all__ = [
    "PowerChannel",
    "PowerRound",
    "QuadraticGameArrays",
    "QuadraticRound",
    "power_control_round",
    "power_control_round_kernel",
    "quadratic_game_round",
    "quadratic_game_round_kernel",
]


class PowerChannel(NamedTuple):
    """B power-control channels: ``gains`` (B, Q, Q, N), ``noise`` (B, Q, N), ``budget`` (B, Q).

    ``gains[b, q, r, k]`` is the gain from transmitter ``r`` to receiver ``q`` on carrier
    ``k`` in game ``b``.
    """

    gains: np.ndarray
    noise: np.ndarray
    budget: np.ndarray


class PowerRound(NamedTuple):
    """Outputs of a power-control round: ``power`` and ``measured`` (B, Q, N), ``rates`` (B, Q)."""

    power: np.ndarray
    measured: np.ndarray
    rates: np.ndarray


class QuadraticGameArrays(NamedTuple):
    """A quadratic game ``F(x) = J x + b``: ``J`` (dim, dim), ``b`` (dim,), ``offsets``.

    ``offsets`` (int64, n_players + 1): player ``i`` owns ``x[offsets[i]:offsets[i+1]]``.
    """

    J: np.ndarray
    b: np.ndarray
    offsets: np.ndarray


class QuadraticRound(NamedTuple):
    """Outputs of a quadratic-game round: ``costs`` (B, n_players), ``distance`` (B,)."""

    costs: np.ndarray
    distance: np.ndarray


@njit(cache=True)
def power_control_round_kernel(channel, weights, active, out):
    """Map weights to powers, then measure interference and rates, for every active game.

    Parameters
    ----------
    channel : PowerChannel
        The B channels.
    weights : numpy.ndarray, shape (B, Q, N)
        Raw actions: NaN counts as 0, +inf as 1, everything clipped into [0, 1]; user
        ``q`` transmits ``budget[q] * w / sum(w)`` (``budget / N`` on every carrier when
        ``sum(w) = 0``).
    active : numpy.ndarray of bool, shape (B,)
        Games to play; the others' outputs are left untouched.
    out : PowerRound
        Written for active games: ``power``, ``measured`` (``noise[q, k] + sum_{r != q}
        gains[q, r, k] power[r, k]``, summed over ``r`` in order) and ``rates``
        (``sum_k log2(1 + gains[q, q, k] power[q, k] / measured[q, k])``).
    """
    gains, noise, budget = channel
    power, measured, rates = out
    B, nq, nk = weights.shape
    acc = np.empty(nk)
    for b in range(B):
        if not active[b]:
            continue
        for q in range(nq):
            total = 0.0
            for k in range(nk):
                w = weights[b, q, k]
                if np.isnan(w):
                    w = 0.0
                w = min(max(w, 0.0), 1.0)
                acc[k] = w
                total += w
            for k in range(nk):
                if total <= 0.0:
                    power[b, q, k] = budget[b, q] / nk
                else:
                    power[b, q, k] = budget[b, q] * (acc[k] / total)
        _measure(gains[b], noise[b], power[b], acc, measured[b])
        for q in range(nq):
            r = 0.0
            for k in range(nk):
                r += np.log2(1.0 + gains[b, q, q, k] * power[b, q, k] / measured[b, q, k])
            rates[b, q] = r


@njit(cache=True)
def _measure(gains, noise, p, acc, out):
    """``out[q, k] = noise[q, k] + sum_{r != q} gains[q, r, k] p[r, k]`` (one game)."""
    nq, nk = p.shape
    for q in range(nq):
        for k in range(nk):
            acc[k] = noise[q, k]
        for r in range(nq):
            if r != q:
                for k in range(nk):
                    acc[k] += gains[q, r, k] * p[r, k]
        for k in range(nk):
            out[q, k] = acc[k]


def power_control_round(gains, noise, budget, weights) -> PowerRound:
    """Play one round of B power-control games (validated :func:`power_control_round_kernel`).

    Parameters
    ----------
    gains : array_like, shape (B, Q, Q, N)
        Channel gains, finite and >= 0, direct gains ``gains[b, q, q]`` > 0.
    noise : array_like, shape (B, Q, N)
        Noise power, finite and > 0.
    budget : array_like, shape (B, Q)
        Power budgets, finite and > 0.
    weights : array_like, shape (B, Q, N)
        Raw actions (see the kernel).

    Returns
    -------
    PowerRound
        ``power``, ``measured`` and ``rates``.
    """
    g = check_float_array("gains", gains, ndim=4, finite=True)
    B, nq, nq2, nk = g.shape
    if nq2 != nq or np.any(g < 0):
        raise ValueError(f"gains must have shape (B, Q, Q, N) and be >= 0, got {g.shape}")
    if np.any(g[:, np.arange(nq), np.arange(nq)] <= 0):
        raise ValueError("gains: every direct gain gains[b, q, q, k] must be > 0")
    nz = check_float_array("noise", noise, shape=(B, nq, nk), finite=True)
    bud = check_float_array("budget", budget, shape=(B, nq), finite=True)
    if np.any(nz <= 0) or np.any(bud <= 0):
        raise ValueError("noise and budget must be > 0")
    w = np.ascontiguousarray(weights, dtype=np.float64)
    if w.shape != (B, nq, nk):
        raise ValueError(f"weights must have shape {(B, nq, nk)}, got {w.shape}")
    out = PowerRound(np.empty((B, nq, nk)), np.empty((B, nq, nk)), np.empty((B, nq)))
    power_control_round_kernel(PowerChannel(g, nz, bud), w, np.ones(B, dtype=np.bool_), out)
    return out


@njit(cache=True)
def quadratic_game_round_kernel(game, x, actions, bound, equilibrium, active, out):
    """Apply every player's new decision, then its cost and the distance to equilibrium.

    Parameters
    ----------
    game : QuadraticGameArrays
        The game.
    x : numpy.ndarray, shape (B, dim)
        Joint decisions; overwritten, for active games, by the new ones: each action
        (non-finite keeps the current decision) clipped to ``[-bound, bound]`` and
        rounded to float32 precision (the state is exactly what the float32
        observation shows).
    actions : numpy.ndarray, shape (B, dim)
        The players' blocks side by side.
    bound : float
        Half-width of every decision box.
    equilibrium : numpy.ndarray, shape (dim,)
        The point whose distance is reported.
    active : numpy.ndarray of bool, shape (B,)
        Games to play.
    out : QuadraticRound
        Written for active games: ``costs[b, i] = 1/2 x_i^T J_ii x_i + x_i^T
        (sum_{j != i} J_ij x_j + b_i)`` and ``distance[b] = |x - equilibrium|``.
    """
    J, bvec, offsets = game
    costs, distance = out
    B, dim = x.shape
    n = offsets.shape[0] - 1
    for b in range(B):
        if not active[b]:
            continue
        for k in range(dim):
            a = actions[b, k]
            if not np.isfinite(a):
                a = x[b, k]
            x[b, k] = np.float64(np.float32(min(max(a, -bound), bound)))
        d2 = 0.0
        for k in range(dim):
            d = x[b, k] - equilibrium[k]
            d2 += d * d
        distance[b] = np.sqrt(d2)
        for i in range(n):
            lo, hi = offsets[i], offsets[i + 1]
            f = 0.0
            for r in range(lo, hi):
                own = 0.0
                other = bvec[r]
                for c in range(dim):
                    if lo <= c < hi:
                        own += J[r, c] * x[b, c]
                    else:
                        other += J[r, c] * x[b, c]
                f += x[b, r] * (0.5 * own + other)
            costs[b, i] = f


def quadratic_game_round(
    J, b, offsets, x, actions, bound: float, equilibrium=None
) -> tuple[np.ndarray, QuadraticRound]:
    """Play one round of B copies of a quadratic game (validated kernel).

    Parameters
    ----------
    J : array_like, shape (dim, dim)
    b : array_like, shape (dim,)
    offsets : array_like of int, shape (n_players + 1,)
        Increasing, from 0 to ``dim``.
    x : array_like, shape (B, dim)
        Current joint decisions (not modified).
    actions : array_like, shape (B, dim)
        New decisions (see :func:`quadratic_game_round_kernel`).
    bound : float
        Box half-width, > 0.
    equilibrium : array_like, shape (dim,), optional
        Reference point of ``distance`` (default 0).

    Returns
    -------
    x_new : numpy.ndarray, shape (B, dim)
    QuadraticRound
        ``costs`` (B, n_players) and ``distance`` (B,).
    """
    J = check_float_array("J", J, ndim=2, finite=True)
    dim = J.shape[0]
    if J.shape != (dim, dim):
        raise ValueError(f"J must be square, got {J.shape}")
    bv = check_float_array("b", b, shape=(dim,), finite=True)
    off = np.asarray(offsets, dtype=np.int64)
    if off.ndim != 1 or off.size < 2 or off[0] != 0 or off[-1] != dim or np.any(np.diff(off) < 1):
        raise ValueError(f"offsets must increase from 0 to dim = {dim}, got {off.tolist()}")
    xs = np.array(check_float_array("x", x, ndim=2, finite=True), dtype=np.float64)
    if xs.shape[1] != dim:
        raise ValueError(f"x must have shape (B, {dim}), got {xs.shape}")
    a = np.ascontiguousarray(actions, dtype=np.float64)
    if a.shape != xs.shape:
        raise ValueError(f"actions must have shape {xs.shape}, got {a.shape}")
    bound = check_nonneg_float("bound", bound, positive=True)
    eq = (
        np.zeros(dim)
        if equilibrium is None
        else check_float_array("equilibrium", equilibrium, shape=(dim,), finite=True)
    )
    B, n = xs.shape[0], off.size - 1
    out = QuadraticRound(np.empty((B, n)), np.empty(B))
    quadratic_game_round_kernel(
        QuadraticGameArrays(J, bv, off), xs, a, bound, eq, np.ones(B, dtype=np.bool_), out
    )
    return xs, out
