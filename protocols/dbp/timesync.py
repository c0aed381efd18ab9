"""DBP time synchronisation: the receive kernel (suspicion rule and max-consensus update).

Robots flood their own clock reading; a robot's synchronised time is its clock plus the
largest correction ``reported + elapsed - own`` it has accepted. An observer (a robot
holding the reference clock) accuses any origin whose report is at or above its own
clock: an honest report was read at least one tick earlier, on a clock that never runs
ahead of the reference.

Examples
--------
>>> import numpy as np
>>> from protocols.dbp import DeliveryArrays, Messages
>>> from protocols.dbp.timesync import ClockRobots, ClockRules, Corrections, clock_receive
>>> rows = DeliveryArrays(receiver=np.array([1]), sender=np.array([0]), message=np.array([0]))
>>> msgs = Messages(np.array([0]), np.array([2]), np.array([0]), np.array([-1]),
...                 np.array([[9.0]]), np.array([1]))
>>> robots = ClockRobots(clock=np.array([10.0, 7.0]), observer=np.zeros(2, bool),
...                      coop=np.ones(2, bool), blocked=np.zeros(2, bool))
>>> est = Corrections(np.zeros(2), np.full(2, -1))
>>> accuse = np.zeros(1, bool)
>>> clock_receive(rows, msgs, ClockRules(t=3, dt=1.0, check=True), robots, est, accuse)
>>> est.correction.tolist()  # read 1 tick ago: 9 + 1 - 7
[0.0, 3.0]
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

__all__ = ["ClockRobots", "ClockRules", "Corrections", "clock_receive"]


class ClockRules(NamedTuple):
    """Scalars of one tick of :func:`clock_receive`.

    Attributes
    ----------
    t : int
        Current tick.
    dt : float
        Seconds per tick.
    check : bool
        Apply the suspicion rule (DBP); otherwise only non-finite or future reports are
        dropped.
    """

    t: int
    dt: float
    check: bool


class ClockRobots(NamedTuple):
    """Per-robot inputs of :func:`clock_receive`, each of shape (n,).

    Attributes
    ----------
    clock : numpy.ndarray of float64
        Each robot's own clock reading now (seconds).
    observer, coop, blocked : numpy.ndarray of bool
        Holds the reference clock; is cooperative; is on the blocklist.
    """

    clock: np.ndarray
    observer: np.ndarray
    coop: np.ndarray
    blocked: np.ndarray


class Corrections(NamedTuple):
    """The correction each robot applies to its clock (updated in place), shape (n,).

    Attributes
    ----------
    correction : numpy.ndarray of float64
        Largest accepted ``reported + elapsed - own`` (seconds).
    source : numpy.ndarray of int64
        Origin of that report (-1 for none).
    """

    correction: np.ndarray
    source: np.ndarray


@njit(cache=True)
def clock_receive(rows, msgs, rules, robots, est, accuse):
    """Apply one tick's deliveries of clock reports (unchecked kernel).

    Parameters
    ----------
    rows : DeliveryArrays
        The tick's deliveries (:meth:`protocols.dbp.Flood.step`), rows grouped by message.
    msgs : Messages
        Their message table; ``payload[:, 0]`` is the origin's clock reading when sent.
    rules : ClockRules
        Tick, seconds per tick, and whether to apply the suspicion rule.
    robots : ClockRobots
        Arrays of shape (n,).
    est : Corrections
        Written: raised where a cooperative receiver accepts a larger correction.
    accuse : numpy.ndarray of bool, shape (k,)
        Written when ``rules.check``: row ``i``'s receiver accuses the origin.

    Notes
    -----
    Only cooperative receivers act, only on observations from robots not blocked; rows
    are taken in order, and of equal corrections the first is kept.
    """
    t = rules.t
    receiver, message = rows.receiver, rows.message
    skip = True
    bad_msg = False
    r = sent = 0.0
    o = -1
    last = -1
    # Rows come grouped by message: what depends on the message alone is worked out
    # once per message. Unsigned indices spare Numba its negative-index wrap-around.
    for k in range(np.uint64(receiver.shape[0])):
        m = message[k]
        if m != last:
            last = m
            o = msgs.origin[m]
            skip = msgs.kind[m] != 0 or robots.blocked[o]
            r = msgs.payload[m, 0]
            ts = msgs.timestamp[m]
            bad_msg = not np.isfinite(r) or ts > t
            # The report was read (t - ts) ticks ago: advance it by the elapsed time.
            sent = r + (t - ts) * rules.dt
        v = np.uint64(receiver[k])
        if skip or not robots.coop[v]:
            continue
        bad = bad_msg
        if rules.check and robots.observer[v] and r >= robots.clock[v]:
            bad = True
        if rules.check:
            accuse[k] = bad
        if bad:
            continue
        c = sent - robots.clock[v]
        if c > est.correction[v]:
            est.correction[v] = c
            est.source[v] = o
