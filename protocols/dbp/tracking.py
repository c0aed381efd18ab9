"""DBP cooperative target tracking: the receive kernels (suspicion rules, freshest mean).

Robots that sense the target flood ``(own position, target position)``; the others
estimate the target as the mean of the freshest reports they accept. A cooperative
receiver accuses the origin of a report when

- the claimed origin could not have reached the receiver in the hops travelled
  (``|p_claim - p_me| > hops * radio_range + elapsed * max_speed * dt``: the message
  "moved faster than information can flood");
- the claimed target lies outside the claimed origin's sensing range;
- the receiver sees the target somewhere the claim cannot be (beyond the target's
  travel since the report plus twice the noise bound), or sees no target where the claim
  puts one;

and :func:`silent_accusations` finds the neighbours that must have seen the target the
receiver saw (both within sensing range of it) yet sent nothing. Every rule is sound: a
cooperative robot never accuses a cooperative one.

Examples
--------
>>> import numpy as np
>>> from protocols.dbp import DeliveryArrays, Messages
>>> from protocols.dbp.tracking import (FreshestMean, TrackingMarks, TrackingRobots,
...                                     TrackingRules, tracking_receive)
>>> from protocols.csr import csr_from_edges
>>> graph = csr_from_edges(2, [[0, 1]])
>>> rows = DeliveryArrays(np.array([1]), np.array([0]), np.array([0]))
>>> # Robot 0 at (0, 0) reports a target at (50, 0): outside its sensing range of 10.
>>> msgs = Messages(np.array([0]), np.array([0]), np.array([0]), np.array([-1]),
...                 np.array([[0.0, 0.0, 50.0, 0.0]]), np.array([1]))
>>> robots = TrackingRobots(pos=np.array([[0.0, 0.0], [5.0, 0.0]]), sees=np.zeros(2, bool),
...                         obs=np.zeros((2, 2)), coop=np.ones(2, bool),
...                         blocked=np.zeros(2, bool))
>>> rules = TrackingRules(t=1, check=True, r_sense=10.0, r_radio=20.0, vdt=1.0, vtdt=1.0,
...                       tol=0.5)
>>> est = FreshestMean(np.full(2, -1), np.zeros((2, 2)), np.zeros(2, np.int64))
>>> marks = TrackingMarks(heard=np.zeros(2, bool), accuse=np.zeros(1, bool))
>>> tracking_receive(rows, msgs, rules, robots, graph, est, marks)
>>> marks.accuse.tolist(), marks.heard.tolist()  # accused; robot 1 heard robot 0
([True], [False, True])
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

__all__ = [
    "FreshestMean",
    "TrackingMarks",
    "TrackingRobots",
    "TrackingRules",
    "silent_accusations",
    "tracking_receive",
]

_SLACK = 1e-9
"""Rounding slack of the distance bounds, so a true report on the bound is not accused."""


class TrackingRules(NamedTuple):
    """Scalars of one tick of :func:`tracking_receive`.

    Attributes
    ----------
    t : int
        Current tick.
    check : bool
        Apply the suspicion rules (DBP).
    r_sense, r_radio : float
        Sensing and radio ranges.
    vdt, vtdt : float
        How far a robot (``max_speed * dt``) and the target (``target_speed * dt``) move
        per tick.
    tol : float
        Bound on the error of an observed position (``noise * sqrt(2)``).
    """

    t: int
    check: bool
    r_sense: float
    r_radio: float
    vdt: float
    vtdt: float
    tol: float


class TrackingRobots(NamedTuple):
    """Per-robot inputs of the tracking kernels.

    Attributes
    ----------
    pos : numpy.ndarray of float64, shape (n, 2)
        Positions.
    sees : numpy.ndarray of bool, shape (n,)
        The robot observes the target.
    obs : numpy.ndarray of float64, shape (n, 2)
        Its observation of the target (meaningful where ``sees``).
    coop, blocked : numpy.ndarray of bool, shape (n,)
        Cooperative; on the blocklist.
    """

    pos: np.ndarray
    sees: np.ndarray
    obs: np.ndarray
    coop: np.ndarray
    blocked: np.ndarray


class FreshestMean(NamedTuple):
    """Running mean of the freshest accepted target reports (updated in place).

    Attributes
    ----------
    best_ts : numpy.ndarray of int64, shape (n,)
        Timestamp of the freshest report accepted (-1 for none).
    total : numpy.ndarray of float64, shape (n, 2)
        Sum of the target positions reported at ``best_ts``.
    count : numpy.ndarray of int64, shape (n,)
        How many.
    """

    best_ts: np.ndarray
    total: np.ndarray
    count: np.ndarray


class TrackingMarks(NamedTuple):
    """Outputs of :func:`tracking_receive`.

    Attributes
    ----------
    heard : numpy.ndarray of bool, shape (m,)
        Per edge of the graph: the receiver got last tick's report of that neighbour
        directly (one hop).
    accuse : numpy.ndarray of bool, shape (k,)
        Per delivery: the receiver accuses the origin.
    """

    heard: np.ndarray
    accuse: np.ndarray


@njit(cache=True)
def _edge_index(indptr, indices, v, u):
    """Position of ``u`` in ``v``'s sorted row of the CSR, or -1 (binary search)."""
    lo = indptr[v]
    hi = indptr[v + 1]
    while lo < hi:
        mid = (lo + hi) // 2
        if indices[mid] < u:
            lo = mid + 1
        else:
            hi = mid
    if lo < indptr[v + 1] and indices[lo] == u:
        return lo
    return -1


@njit(cache=True)
def _freshest_update(v, ts, x, y, est):
    """Add the report ``(x, y)`` of time ``ts`` to robot ``v``'s mean; writes ``est`` row v.

    A fresher report restarts the mean; an older one is ignored.
    """
    if ts > est.best_ts[v]:
        est.best_ts[v] = ts
        est.count[v] = 0
        est.total[v, 0] = 0.0
        est.total[v, 1] = 0.0
    if ts == est.best_ts[v]:
        est.count[v] += 1
        est.total[v, 0] += x
        est.total[v, 1] += y


@njit(cache=True)
def tracking_receive(rows, msgs, rules, robots, graph, est, marks):
    """Apply one tick's deliveries of target reports (unchecked kernel).

    Parameters
    ----------
    rows : DeliveryArrays
        The tick's deliveries (:meth:`protocols.dbp.Flood.step`).
    msgs : Messages
        Their message table; ``payload`` rows are ``(claimed origin x, y, target x, y)``.
    rules : TrackingRules
        Tick, ranges, speeds, noise bound and whether to apply the suspicion rules.
    robots : TrackingRobots
        Current positions, observations and masks.
    graph : CSR
        The tick's radio graph (symmetric, sorted rows).
    est : FreshestMean
        Written at the cooperative receivers of accepted reports.
    marks : TrackingMarks
        Written: ``heard`` for the one-hop reports of last tick, ``accuse`` per row
        (when ``rules.check``).
    """
    t = rules.t
    pos = robots.pos
    obs = robots.obs
    receiver, message = rows.receiver, rows.message
    skip = True
    bad_msg = False
    one_hop = False
    pcx = pcy = tx = ty = reach = near_seen = far_unseen = 0.0
    o = ts = -1
    last = -1
    # Rows come grouped by message: what depends on the message alone (its kind and
    # origin, a malformed payload, the claimed target outside the claimed origin's
    # sensing range, the bounds that grow with its age) is worked out once per message.
    for k in range(receiver.shape[0]):
        m = message[k]
        if m != last:
            last = m
            o = msgs.origin[m]
            skip = msgs.kind[m] != 0 or robots.blocked[o]
            pcx = msgs.payload[m, 0]
            pcy = msgs.payload[m, 1]
            tx = msgs.payload[m, 2]
            ty = msgs.payload[m, 3]
            ts = msgs.timestamp[m]
            h = msgs.hops[m]
            one_hop = h == 1 and ts == t - 1
            el = t - ts
            bad_msg = not (
                np.isfinite(pcx) and np.isfinite(pcy) and np.isfinite(tx) and np.isfinite(ty)
            )
            if rules.check and not bad_msg:
                bad_msg = el < h or np.hypot(tx - pcx, ty - pcy) > rules.r_sense + rules.tol
            reach = h * rules.r_radio + el * rules.vdt + _SLACK
            near_seen = el * rules.vtdt + 2 * rules.tol + _SLACK
            far_unseen = rules.r_sense - rules.tol - el * rules.vtdt
        v = receiver[k]
        if skip or not robots.coop[v]:
            continue
        if one_hop:
            e = _edge_index(graph.indptr, graph.indices, v, o)
            if e >= 0:
                marks.heard[e] = True
        bad = bad_msg
        if rules.check and not bad:
            if np.hypot(pcx - pos[v, 0], pcy - pos[v, 1]) > reach:
                bad = True
            elif robots.sees[v]:
                bad = np.hypot(tx - obs[v, 0], ty - obs[v, 1]) > near_seen
            else:
                bad = np.hypot(tx - pos[v, 0], ty - pos[v, 1]) < far_unseen
        if rules.check:
            marks.accuse[k] = bad
        if bad:
            continue
        _freshest_update(v, ts, tx, ty, est)


@njit(cache=True)
def silent_accusations(graph, prev, heard, rules, accusers, accused):
    """Accuse the neighbours that saw the target last tick but sent nothing (unchecked).

    Parameters
    ----------
    graph : CSR
        The radio graph the one-hop reports travelled over (``heard`` is per its edge).
    prev : TrackingRobots
        Last tick's positions, sightings and observations, and the blocklist at delivery.
    heard : numpy.ndarray of bool, shape (m,)
        From :func:`tracking_receive`.
    rules : TrackingRules
        ``r_sense`` and ``tol`` are read.
    accusers, accused : numpy.ndarray of int64, shape (m,)
        Written: the first ``k`` entries are the accusations.

    Returns
    -------
    int
        ``k``, the number of accusations.

    Notes
    -----
    Cooperative robot ``v`` that saw the target accuses neighbour ``j`` (not blocked,
    not heard) when ``j`` was within sensing range of ``v`` and ``v``'s observation lies
    within ``r_sense - tol`` of ``j``: then ``j`` must have seen the target too.
    """
    indptr, indices = graph
    pos = prev.pos
    obs = prev.obs
    m = 0
    for v in range(prev.sees.shape[0]):
        if not prev.coop[v] or not prev.sees[v]:
            continue
        for e in range(indptr[v], indptr[v + 1]):
            j = indices[e]
            if heard[e] or prev.blocked[j]:
                continue
            if np.hypot(pos[j, 0] - pos[v, 0], pos[j, 1] - pos[v, 1]) > rules.r_sense:
                continue
            if np.hypot(obs[v, 0] - pos[j, 0], obs[v, 1] - pos[j, 1]) > rules.r_sense - rules.tol:
                continue
            accusers[m] = v
            accused[m] = j
            m += 1
    return m
