"""DBP localisation with boxes: the receive kernel (suspicion rule and box intersection).

Robots flood the box they measured around themselves. A report that has travelled
``hops`` links and is ``elapsed`` ticks old is grown by ``g = hops * radio_range +
elapsed * max_speed * dt`` (how far its origin can be from the receiver); a robot's
estimate is its own box intersected with every accepted grown box, and it accuses a
report whose grown box misses its own measured box.

Examples
--------
>>> import numpy as np
>>> from protocols.dbp import DeliveryArrays, Messages
>>> from protocols.dbp.localization import BoxEstimate, BoxRobots, BoxRules, box_receive
>>> rows = DeliveryArrays(np.array([1]), np.array([0]), np.array([0]))
>>> msgs = Messages(np.array([0]), np.array([4]), np.array([0]), np.array([-1]),
...                 np.array([[5.0, 5.0, 5.0, 5.0]]), np.array([1]))
>>> own = np.array([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0]])
>>> robots = BoxRobots(own, coop=np.ones(2, bool), blocked=np.zeros(2, bool))
>>> est = BoxEstimate(own.copy(), np.full(2, np.inf), own.copy())
>>> box_receive(rows, msgs, BoxRules(t=5, r_radio=2.0, vdt=0.5, check=True), robots, est,
...             np.zeros(1, bool))
>>> est.box[1].tolist()  # the anchor's point grown by 1 * 2 + 1 * 0.5
[2.5, 2.5, 7.5, 7.5]
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

__all__ = ["BoxEstimate", "BoxRobots", "BoxRules", "box_receive"]


class BoxRules(NamedTuple):
    """Scalars of one tick of :func:`box_receive`.

    Attributes
    ----------
    t : int
        Current tick.
    r_radio : float
        Radio range: a report grows by this per hop.
    vdt : float
        ``max_speed * dt``: a report grows by this per tick of age.
    check : bool
        Apply the suspicion rule (DBP).
    """

    t: int
    r_radio: float
    vdt: float
    check: bool


class BoxRobots(NamedTuple):
    """Per-robot inputs of :func:`box_receive`.

    Attributes
    ----------
    own : numpy.ndarray of float64, shape (n, 4)
        Each robot's measured box ``(x0, y0, x1, y1)``.
    coop, blocked : numpy.ndarray of bool, shape (n,)
        Cooperative; on the blocklist.
    """

    own: np.ndarray
    coop: np.ndarray
    blocked: np.ndarray


class BoxEstimate(NamedTuple):
    """Boxes being built from one tick's reports (updated in place).

    Attributes
    ----------
    box : numpy.ndarray of float64, shape (n, 4)
        Intersection of the accepted grown boxes (start from the own boxes).
    best_area : numpy.ndarray of float64, shape (n,)
        Area of the smallest accepted grown box (start from ``inf``).
    best_box : numpy.ndarray of float64, shape (n, 4)
        That box (the fallback when the intersection is empty).
    """

    box: np.ndarray
    best_area: np.ndarray
    best_box: np.ndarray


@njit(cache=True)
def box_receive(rows, msgs, rules, robots, est, accuse):
    """Apply one tick's deliveries of boxes (unchecked kernel).

    Parameters
    ----------
    rows : DeliveryArrays
        The tick's deliveries (:meth:`protocols.dbp.Flood.step`).
    msgs : Messages
        Their message table; ``payload`` holds the boxes ``(x0, y0, x1, y1)``.
    rules : BoxRules
        Tick, growth rates and whether to apply the suspicion rule.
    robots : BoxRobots
        Measured boxes, cooperative and blocked masks.
    est : BoxEstimate
        Written at the cooperative receivers of accepted reports.
    accuse : numpy.ndarray of bool, shape (k,)
        Written when ``rules.check``: row ``i``'s receiver accuses the origin.

    Notes
    -----
    Malformed reports (non-finite, inverted, from the future, or older than their hop
    count allows) are never accepted, and are accused under ``check``.
    """
    t = rules.t
    own = robots.own
    box = est.box
    receiver, message = rows.receiver, rows.message
    skip = True
    bad_msg = False
    x0 = y0 = x1 = y1 = g = area = 0.0
    last = -1
    # Rows come grouped by message: what depends on the message alone is worked out
    # once per message. Unsigned indices spare Numba its negative-index wrap-around.
    for k in range(np.uint64(receiver.shape[0])):
        m = message[k]
        if m != last:
            last = m
            skip = msgs.kind[m] != 0 or robots.blocked[msgs.origin[m]]
            x0 = msgs.payload[m, 0]
            y0 = msgs.payload[m, 1]
            x1 = msgs.payload[m, 2]
            y1 = msgs.payload[m, 3]
            ts = msgs.timestamp[m]
            hops = msgs.hops[m]
            bad_msg = (
                not (np.isfinite(x0) and np.isfinite(y0) and np.isfinite(x1) and np.isfinite(y1))
                or x0 > x1
                or y0 > y1
                or ts > t
                or t - ts < hops
            )
            g = hops * rules.r_radio + (t - ts) * rules.vdt
            area = (x1 - x0 + 2 * g) * (y1 - y0 + 2 * g)
        v = np.uint64(receiver[k])
        if skip or not robots.coop[v]:
            continue
        bad = bad_msg
        if not bad and rules.check:
            # Inconsistent: the grown box misses the robot's own measured box.
            if x0 - g > own[v, 2] or x1 + g < own[v, 0] or y0 - g > own[v, 3] or y1 + g < own[v, 1]:
                bad = True
        if rules.check:
            accuse[k] = bad
        if bad:
            continue
        box[v, 0] = max(box[v, 0], x0 - g)
        box[v, 1] = max(box[v, 1], y0 - g)
        box[v, 2] = min(box[v, 2], x1 + g)
        box[v, 3] = min(box[v, 3], y1 + g)
        if area < est.best_area[v]:
            est.best_area[v] = area
            est.best_box[v, 0] = x0 - g
            est.best_box[v, 1] = y0 - g
            est.best_box[v, 2] = x1 + g
            est.best_box[v, 3] = y1 + g
