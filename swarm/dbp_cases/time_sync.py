"""DBP case study 2: time synchronisation by max-consensus on clocks (:class:`TimeSync`).

Suspicion rule and update: :mod:`protocols.dbp.timesync`; the W-MSR baseline:
:func:`protocols.trimmed.trimmed_max`.

Examples
--------
>>> from swarm.dbp_cases import run_case
>>> r = run_case("time_sync", defence="none", n_robots=40, ticks=5, seed=1)
>>> bool(r.error[-1] > 10)  # without a defence the Byzantine clock wins
True
"""

from __future__ import annotations

import numpy as np

from protocols.dbp import Deliveries
from protocols.dbp.timesync import ClockRobots, ClockRules, Corrections, clock_receive
from protocols.trimmed import trimmed_max
from swarm.dbp_cases.base import CaseStudy, garbage_reports

__all__ = ["TimeSync"]


class TimeSync(CaseStudy):
    """Time synchronisation by max-consensus on clocks.

    True time is ``t * dt``. Cooperative clocks lag it by a fixed offset in
    ``[0, max_clock_offset]``, except ``n_anchors`` observers holding the reference clock.
    Robots flood their own clock reading; a robot's synchronised time is its clock plus
    the largest correction ``reported + elapsed - own`` it has accepted (the maximum
    observed time). Byzantine robots report the true time plus ``byzantine_offset``.
    Under W-MSR robots exchange their synchronised times with neighbours and take the max
    after W-MSR's trimming (the ``F`` largest values above their own are discarded).
    Error: absolute difference between synchronised and true time (seconds).
    """

    name = "time_sync"
    payload_dim = 1

    def _setup(self) -> None:
        cfg = self.cfg
        n = self.n
        self.offset = -self.rng.uniform(0.0, cfg.max_clock_offset, size=n)
        self.observer = np.zeros(n, dtype=bool)
        k = min(cfg.n_anchors, self.coop_idx.size)
        self.observer[self.rng.choice(self.coop_idx, size=k, replace=False)] = True
        self.offset[self.observer] = 0.0
        self.corr = np.zeros(n)
        self.corr_src = np.full(n, -1, dtype=np.int64)
        self.sync = self.offset.copy()  # synchronised time minus true time, for W-MSR

    def true_time(self) -> float:
        """Return the true time of the current tick (seconds)."""
        return self.t * self.cfg.dt

    def _receive(self, d: Deliveries) -> tuple[np.ndarray, np.ndarray]:
        clock = self.true_time() + self.offset
        # A correction taken from a robot now blocked is forgotten (fresh reports arrive
        # every tick to rebuild it).
        src = self.corr_src
        lost = (src >= 0) & self.blocked[np.maximum(src, 0)]
        self.corr[lost] = 0.0
        src[lost] = -1
        accuse = np.zeros(len(d), dtype=bool)
        clock_receive(
            d.arrays,
            d.messages,
            ClockRules(self.t, self.cfg.dt, self.dbp),
            ClockRobots(clock, self.observer, self.coop, self.blocked),
            Corrections(self.corr, src),
            accuse,
        )
        rows = np.flatnonzero(accuse)
        return d.receiver[rows], d.messages.origin[d.arrays.message[rows]]

    def _send(self) -> None:
        senders = self.coop_idx
        payload = (self.true_time() + self.offset[senders])[:, None]
        if self.cfg.attack != "silent" and self.byz_idx.size:
            senders = np.concatenate([senders, self.byz_idx])
            fake = np.full((self.byz_idx.size, 1), self.true_time() + self.cfg.byzantine_offset)
            if self.cfg.attack == "garbage":
                fake = garbage_reports(self.byz_idx.size, 1)
            payload = np.concatenate([payload, fake])
        self.flood.send_observations(senders, self.t, payload)

    def _wmsr_round(self) -> None:
        indices = self.graph.indices
        # Last tick's synchronised times, advanced by one tick in transit; values are kept
        # relative to the true time (the kernel is shift invariant).
        msgs = self.sync[indices].copy()
        from_byz = self.byzantine[indices]
        silent = self.cfg.attack in ("silent", "garbage")
        msgs[from_byz] = np.nan if silent else self.cfg.byzantine_offset
        own = np.maximum(self.sync, self.offset)
        out = np.empty(self.n)
        trimmed_max(own, self.graph, msgs, self.cfg.wmsr_f, out)
        out[self.observer] = 0.0
        self.sync = out

    def _errors(self) -> np.ndarray:
        if self.cfg.defence == "wmsr":
            err = self.sync
        else:
            err = self.offset + self.corr
        return np.abs(err[self.coop])

    def _frame_extras(self) -> dict:
        return {"observer": self.observer.copy()}
