"""Consensus metrics over trajectories of shape (rounds + 1, robots).

Examples
--------
>>> import numpy as np
>>> traj = np.array([[0.0, 1.0, 9.0], [0.4, 0.6, 9.0], [0.5, 0.5, 9.0]])
>>> honest = np.array([True, True, False])     # robot 2 is Byzantine
>>> honest_spread(traj, honest).tolist()
[1.0, 0.19999999999999996, 0.0]
>>> converged_round(honest_spread(traj, honest), tol=1e-3), hull_violation(traj, honest)
(2, 0.0)
"""

from __future__ import annotations

import numpy as np

__all__ = ["converged_round", "honest_spread", "hull_violation"]


def honest_spread(trajectories: np.ndarray, honest: np.ndarray) -> np.ndarray:
    """Max minus min of the honest values in each round.

    Parameters
    ----------
    trajectories : numpy.ndarray, shape (T + 1, n)
        Values per round and robot.
    honest : numpy.ndarray of bool, shape (n,)
        Honest robots.

    Returns
    -------
    numpy.ndarray, shape (T + 1,)
        The spread per round (0 when fewer than two honest robots).
    """
    h = trajectories[:, honest]
    if h.shape[1] == 0:
        return np.zeros(trajectories.shape[0])
    return h.max(axis=1) - h.min(axis=1)


def hull_violation(trajectories: np.ndarray, honest: np.ndarray) -> float:
    """How far any honest value ever left the interval of honest initial values.

    Parameters
    ----------
    trajectories : numpy.ndarray, shape (T + 1, n)
        Values per round and robot; row 0 holds the initial values.
    honest : numpy.ndarray of bool, shape (n,)
        Honest robots.

    Returns
    -------
    float
        ``max(0, max_t max_i x_i(t) - hi, lo - min_t min_i x_i(t))`` over honest ``i``,
        with ``[lo, hi]`` the honest initial interval: 0 when safe.
    """
    h = trajectories[:, honest]
    if h.shape[1] == 0:
        return 0.0
    lo, hi = h[0].min(), h[0].max()
    return float(max(0.0, h.max() - hi, lo - h.min()))


def converged_round(spread: np.ndarray, tol: float) -> int | None:
    """First round at which the spread is below ``tol``, or None if never.

    Parameters
    ----------
    spread : numpy.ndarray, shape (T + 1,)
        Honest spread per round.
    tol : float
        Tolerance, > 0.

    Returns
    -------
    int or None
        The round index.
    """
    below = np.flatnonzero(spread < tol)
    return int(below[0]) if below.size else None
