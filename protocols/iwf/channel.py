"""The power-control channel: validation, interference and the Nash gap.

Examples
--------
>>> import numpy as np
>>> from protocols.iwf.channel import best_response, interference, nash_gap
>>> gains = np.full((2, 2, 3), 0.1)
>>> gains[0, 0] = gains[1, 1] = 1.0
>>> noise, budget = np.full((2, 3), 0.1), np.ones(2)
>>> power = np.full((2, 3), 1 / 3)
>>> interference(gains, noise, power)[0]      # noise plus the other user's power
array([0.13333333, 0.13333333, 0.13333333])
>>> bool(np.allclose(best_response(gains, noise, budget, power), power))
True
>>> float(nash_gap(gains, noise, budget, power)) < 1e-12
True
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from protocols.checks import check_float_array, check_nonneg_float
from protocols.iwf.single_user import _waterfill_warm_kernel

__all__ = [
    "Channel",
    "best_response",
    "check_channel",
    "interference",
    "interference_kernel",
    "nash_gap",
]


class Channel(NamedTuple):
    """A validated channel, as the kernels take it (see :func:`check_channel`).

    Attributes
    ----------
    gains : numpy.ndarray, shape (Q, Q, N)
        ``gains[q, r, k]``, from transmitter ``r`` to receiver ``q`` on carrier ``k``.
    noise : numpy.ndarray, shape (Q, N)
        Noise power.
    budget : numpy.ndarray, shape (Q,)
        Power budgets.
    cap : numpy.ndarray, shape (Q, N)
        Per-carrier caps (``inf`` for none).
    """

    gains: np.ndarray
    noise: np.ndarray
    budget: np.ndarray
    cap: np.ndarray


@njit(cache=True)
def interference_kernel(gains, noise, p, out):
    """``out[q, k] = noise[q, k] + sum_{r != q} gains[q, r, k] p[r, k]`` (unchecked).

    The kernel behind :func:`interference`, for hot loops and benchmarks that hold
    validated arrays; no argument is checked.

    Parameters
    ----------
    gains : numpy.ndarray, shape (Q, Q, N)
        Channel gains (read).
    noise : numpy.ndarray, shape (Q, N)
        Noise power (read).
    p : numpy.ndarray, shape (Q, N)
        Powers (read).
    out : numpy.ndarray, shape (Q, N)
        Written: the interference-plus-noise.
    """
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
    """``max_k |p_row[k] - br[k]|`` over two (N,) arrays (nothing written)."""
    m = 0.0
    for k in range(p_row.shape[0]):
        m = max(m, abs(p_row[k] - br[k]))
    return m


@njit(cache=True)
def _best_response_gap_kernel(ch, p, interf, br, a, state, levels):
    """Best responses of every user to ``interf``; returns the relative Nash gap.

    Parameters
    ----------
    ch : Channel
        Any NamedTuple with ``gains`` (Q, Q, N), ``budget`` (Q,) and ``cap`` (Q, N).
    p : numpy.ndarray, shape (Q, N)
        The profile (read).
    interf : numpy.ndarray, shape (Q, N)
        Its interference (read).
    br : numpy.ndarray, shape (Q, N)
        Written: every user's best response.
    a : numpy.ndarray, shape (N,)
        Written: scratch.
    state : numpy.ndarray of int8, shape (N,)
        Written: scratch.
    levels : numpy.ndarray, shape (Q,)
        Written: water-level guesses (NaN for none), updated.
    """
    gains, budget, cap = ch.gains, ch.budget, ch.cap
    nq, nk = p.shape
    gap = 0.0
    for q in range(nq):
        for k in range(nk):
            a[k] = interf[q, k] / gains[q, q, k]
        levels[q] = _waterfill_warm_kernel(a, cap[q], budget[q], levels[q], br[q], state)
        gap = max(gap, _max_move(p[q], br[q]) / budget[q])
    return gap


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
        raise ValueError(
            f"noise must be a scalar or have shape (Q, N) = {(nq, nk)}, got {noise_a.shape}"
        )
    if np.any(noise_a <= 0):
        raise ValueError("noise must be > 0")
    if np.ndim(budget) == 0:
        budget_a = np.full(nq, check_nonneg_float("budget", budget, positive=True))
    else:
        budget_a = check_float_array("budget", budget, finite=True)
    if budget_a.shape != (nq,):
        raise ValueError(
            f"budget must be a scalar or have shape (Q,) = ({nq},), got {budget_a.shape}"
        )
    if np.any(budget_a <= 0):
        raise ValueError("budget must be > 0")
    if cap is None:
        cap_a = np.full((nq, nk), np.inf)
    else:
        cap_a = np.asarray(check_float_array(cap_name, cap)).reshape(np.shape(cap))
        if np.any(np.isnan(cap_a)):
            raise ValueError(f"{cap_name} must not contain NaN")
        if (
            cap_a.ndim not in (0, 1, 2)
            or (cap_a.ndim == 1 and cap_a.shape != (nk,))
            or (cap_a.ndim == 2 and cap_a.shape != (nq, nk))
        ):
            raise ValueError(
                f"{cap_name} must be a scalar or have shape (N,) = ({nk},) or "
                f"(Q, N) = {(nq, nk)}, got {cap_a.shape}"
            )
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
    interference_kernel(g, nz, p, out)
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
    interference_kernel(g, nz, p, interf)
    br = np.empty_like(p)
    gap = _best_response_gap_kernel(
        Channel(g, nz, b, c),
        p,
        interf,
        br,
        np.empty(nk),
        np.empty(nk, dtype=np.int8),
        np.full(p.shape[0], np.nan),
    )
    return br, float(gap)
