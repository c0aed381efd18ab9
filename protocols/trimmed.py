"""W-MSR-style trimming before a maximum and before an intersection of boxes.

The W-MSR baselines of the DBP case studies (:mod:`swarm.dbp_cases`): a robot discards
the ``f`` neighbour values most favourable to an attacker before combining them with
its own. :func:`trimmed_max` is max-consensus (clock synchronisation): the ``f``
largest values above the robot's own are dropped. :func:`trimmed_box` intersects boxes
(localisation): per side, the ``f`` most restrictive bounds beyond the robot's own are
dropped. Non-finite values are always dropped.

Examples
--------
>>> import numpy as np
>>> from protocols.trimmed import trimmed_max
>>> indptr, indices = np.array([0, 3]), np.array([0, 0, 0])
>>> out = np.empty(1)
>>> trimmed_max(np.array([1.0]), (indptr, indices), np.array([5.0, 3.0, 9.0]), 1, out)
>>> out.tolist()  # 9 is trimmed, 5 is the largest left
[5.0]
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["trimmed_box", "trimmed_max"]


@njit(cache=True)
def trimmed_max(values, graph, messages, f, out):
    """Max-consensus after W-MSR trimming (unchecked kernel).

    Parameters
    ----------
    values : numpy.ndarray of float64, shape (n,)
        Each robot's own value.
    graph : CSR or tuple of numpy.ndarray
        In-edge CSR ``(indptr, indices)`` (int64).
    messages : numpy.ndarray of float64, shape (m,)
        The value received over each in-edge.
    f : int
        Values above the robot's own that are trimmed (the ``f`` largest).
    out : numpy.ndarray of float64, shape (n,)
        Written: the largest value left (the own value if ``f`` or fewer lie above it).
    """
    indptr = graph[0]
    for i in range(values.shape[0]):
        own = values[i]
        lo = indptr[i]
        hi = indptr[i + 1]
        above = np.empty(hi - lo)
        m = 0
        for e in range(lo, hi):
            x = messages[e]
            if np.isfinite(x) and x > own:
                above[m] = x
                m += 1
        best = own
        if m > f:
            srt = np.sort(above[:m])
            best = srt[m - f - 1]
        out[i] = best


@njit(cache=True)
def trimmed_box(box, graph, messages, grow, f, out):
    """Intersect each robot's box with its neighbours' grown boxes after trimming.

    Parameters
    ----------
    box : numpy.ndarray of float64, shape (n, 4)
        Each robot's own box ``(x0, y0, x1, y1)``.
    graph : CSR or tuple of numpy.ndarray
        In-edge CSR ``(indptr, indices)`` (int64).
    messages : numpy.ndarray of float64, shape (m, 4)
        The box received over each in-edge.
    grow : float
        Received boxes are grown by this on every side first.
    f : int
        Per side, the ``f`` most restrictive bounds beyond the robot's own are trimmed.
    out : numpy.ndarray of float64, shape (n, 4)
        Written: the intersection.
    """
    indptr = graph[0]
    for i in range(box.shape[0]):
        lo = indptr[i]
        hi = indptr[i + 1]
        for side in range(4):
            own = box[i, side]
            vals = np.empty(hi - lo)
            m = 0
            for e in range(lo, hi):
                x = messages[e, side]
                if not np.isfinite(x):
                    continue
                x = x - grow if side < 2 else x + grow
                restrictive = x > own if side < 2 else x < own
                if restrictive:
                    vals[m] = x
                    m += 1
            best = own
            if m > f:
                srt = np.sort(vals[:m])
                best = srt[m - f - 1] if side < 2 else srt[f]
            out[i, side] = best
