"""The attacker team's observation of B Byzantine consensus swarms, in one compiled call.

A swarm has ``n`` robots whose last ``F = n - n_honest`` are Byzantine, and an honest
hull ``[lo, lo + width]`` (the interval of the honest initial values): ``(x - lo) /
width`` is a value in *hull units*, so the honest hull is [0, 1] in every episode. The
team of Byzantine robots observes, per swarm, the honest robots' values in hull units
(clipped), which robots each Byzantine robot reaches, and the elapsed fraction of the
episode. :func:`team_observations` writes that observation and the honest values'
largest and smallest in hull units (the spread and hull excursion the rewards need) for
every swarm; the single environment calls it with B = 1, the vector environment with B
swarms, so both compute the same bits.

Examples
--------
>>> import numpy as np
>>> swarms = TeamSwarms(values=np.array([[1.0, 3.0, 9.0]]), lo=np.array([1.0]),
...                     width=np.array([2.0]), masks=np.ones((1, 3), np.float32),
...                     t=np.array([5]))
>>> out = team_observations(swarms, n_honest=2, clip=1.0, max_cycles=10)
>>> out.obs
array([[0. , 1. , 0. , 1. , 1. , 1. , 0.5]], dtype=float32)
>>> out.hmax, out.hmin
(array([1.]), array([0.]))
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from protocols.checks import check_float, check_float_array, check_int

__all__ = ["TeamObservation", "TeamSwarms", "team_observations"]


class TeamSwarms(NamedTuple):
    """What the team observes of B swarms of ``n`` robots (read only).

    Attributes
    ----------
    values : numpy.ndarray of float64, shape (B, n)
        Every robot's value (the last ``n - n_honest`` are Byzantine).
    lo, width : numpy.ndarray of float64, shape (B,)
        Each swarm's honest hull: ``(x - lo) / width`` is a value in hull units.
    masks : numpy.ndarray of float32, shape (B, F n)
        Row ``k`` of ``masks[b]`` reshaped to ``(F, n)``: which robots Byzantine robot
        ``k`` reaches (1.0) in swarm ``b``.
    t : numpy.ndarray of int64, shape (B,)
        Rounds played in each swarm's episode.
    """

    values: np.ndarray
    lo: np.ndarray
    width: np.ndarray
    masks: np.ndarray
    t: np.ndarray


class TeamObservation(NamedTuple):
    """The team observation of B swarms and the honest extremes (written by the kernel).

    Attributes
    ----------
    obs : numpy.ndarray of float32, shape (B, (F + 1) n + 1)
        Per swarm: the honest values in hull units (non-finite as 0, clipped to ``[-clip,
        1 + clip]``; 0 for the Byzantine robots), then ``masks[b]``, then ``t[b] /
        max_cycles``.
    hmax, hmin : numpy.ndarray of float64, shape (B,)
        The honest values' largest and smallest in hull units (not clipped).
    """

    obs: np.ndarray
    hmax: np.ndarray
    hmin: np.ndarray


@njit(cache=True)
def _team_observations_kernel(swarms, n_honest, clip, max_cycles, out):
    """Write ``out`` (every array of it) from ``swarms``; see :func:`team_observations`.

    Parameters
    ----------
    swarms : TeamSwarms
        Values (B, n), hulls (B,), masks (B, F n), rounds (B,); read only.
    n_honest : int
        Honest robots per swarm (the first ones).
    clip : float
        Observed values are clipped to ``[-clip, 1 + clip]``.
    max_cycles : int
        Rounds of an episode.
    out : TeamObservation
        Written: ``obs`` (B, (F + 1) n + 1), ``hmax`` and ``hmin`` (B,).
    """
    values, lo, width, masks, t = swarms
    obs, hmax, hmin = out
    B, n = values.shape
    m = masks.shape[1]
    for b in range(B):
        top = -np.inf
        bottom = np.inf
        for i in range(n):
            if i < n_honest:
                u = (values[b, i] - lo[b]) / width[b]
                top = max(top, u)
                bottom = min(bottom, u)
                if not np.isfinite(u):
                    u = 0.0
                obs[b, i] = min(max(u, -clip), 1.0 + clip)
            else:
                obs[b, i] = 0.0
        for j in range(m):
            obs[b, n + j] = masks[b, j]
        obs[b, n + m] = t[b] / max_cycles
        hmax[b] = top
        hmin[b] = bottom


def _validate(swarms, n_honest, clip, max_cycles, out):
    if not isinstance(swarms, TeamSwarms):
        raise TypeError(f"swarms must be a TeamSwarms, got {type(swarms).__name__}")
    values = check_float_array("swarms.values", swarms.values, ndim=2)
    B, n = values.shape
    n_honest = check_int("n_honest", n_honest, low=0, high=n)
    clip = check_float("clip", clip, low=0.0)
    max_cycles = check_int("max_cycles", max_cycles, low=1)
    lo = check_float_array("swarms.lo", swarms.lo, shape=(B,), finite=True)
    width = check_float_array("swarms.width", swarms.width, shape=(B,), finite=True)
    if np.any(width <= 0.0):
        raise ValueError("swarms.width must be > 0")
    m = (n - n_honest) * n
    masks = np.asarray(swarms.masks)
    if masks.shape != (B, m) or masks.dtype != np.float32:
        raise ValueError(
            f"swarms.masks must be a float32 array of shape ({B}, {m}), "
            f"got {masks.dtype.name} {masks.shape}"
        )
    t = np.asarray(swarms.t)
    if t.shape != (B,) or t.dtype.kind not in "iu" or np.any(t < 0):
        raise ValueError(f"swarms.t must be an integer array of shape ({B},), >= 0")
    swarms = TeamSwarms(
        values, lo, width, np.ascontiguousarray(masks), np.ascontiguousarray(t, dtype=np.int64)
    )
    if out is None:
        out = TeamObservation(np.empty((B, n + m + 1), np.float32), np.empty(B), np.empty(B))
    elif not isinstance(out, TeamObservation):
        raise TypeError(f"out must be a TeamObservation, got {type(out).__name__}")
    else:
        for name, arr, shape, dtype in (
            ("obs", out.obs, (B, n + m + 1), np.float32),
            ("hmax", out.hmax, (B,), np.float64),
            ("hmin", out.hmin, (B,), np.float64),
        ):
            if (
                not isinstance(arr, np.ndarray)
                or arr.shape != shape
                or arr.dtype != dtype
                or not arr.flags.c_contiguous
            ):
                raise ValueError(
                    f"out.{name} must be a C-contiguous {np.dtype(dtype).name} array of "
                    f"shape {shape}"
                )
    return swarms, n_honest, clip, max_cycles, out


def team_observations(
    swarms: TeamSwarms,
    n_honest: int,
    clip: float,
    max_cycles: int,
    out: TeamObservation | None = None,
    *,
    check: bool = True,
) -> TeamObservation:
    """Compute the attacker team's observation of B swarms and their honest extremes.

    Parameters
    ----------
    swarms : TeamSwarms
        Values (B, n), hulls (B,), reach masks (B, F n) with ``F = n - n_honest``, and
        rounds played (B,).
    n_honest : int
        Honest robots per swarm (the first ones).
    clip : float
        Observed values are clipped to ``[-clip, 1 + clip]`` (>= 0).
    max_cycles : int
        Rounds of an episode (>= 1).
    out : TeamObservation, optional
        Arrays to write into: ``obs`` float32 (B, (F + 1) n + 1), ``hmax`` and ``hmin``
        float64 (B,), C-contiguous; allocated if None.
    check : bool
        False skips validation: the per-step path of an environment whose arrays are
        right by construction (the dtypes and shapes above, C-contiguous, ``out``
        given). Wrong input on that path gives wrong numbers or a crash, not an error.

    Returns
    -------
    TeamObservation
        ``out``, written: ``obs[b]`` is the honest values in hull units (non-finite as 0,
        clipped; 0 for Byzantine robots), then ``masks[b]``, then ``t[b] / max_cycles``;
        ``hmax[b]`` and ``hmin[b]`` the honest values' largest and smallest in hull units
        (not clipped).
    """
    if check:
        swarms, n_honest, clip, max_cycles, out = _validate(swarms, n_honest, clip, max_cycles, out)
    _team_observations_kernel(swarms, n_honest, clip, max_cycles, out)
    return out
