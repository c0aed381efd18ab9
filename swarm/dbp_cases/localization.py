"""DBP case study 3: localisation with boxes propagated from anchors (:class:`Localization`).

Suspicion rule and update: :mod:`protocols.dbp.localization`; the W-MSR baseline:
:func:`protocols.trimmed.trimmed_box`.

Examples
--------
>>> import numpy as np
>>> from swarm.dbp_cases import run_case
>>> r = run_case("localization", n_robots=40, ticks=5, seed=1)
>>> bool(np.all(np.isfinite(r.error)))
True
"""

from __future__ import annotations

import numpy as np

from protocols.dbp import Deliveries
from protocols.dbp.localization import BoxEstimate, BoxRobots, BoxRules, box_receive
from protocols.trimmed import trimmed_box
from swarm.dbp_cases.base import CaseStudy, garbage_reports

__all__ = ["Localization"]


class Localization(CaseStudy):
    """Localisation with boxes propagated from anchors.

    Every robot measures a box holding its position each tick: anchors (``n_anchors``
    cooperative robots) a point, the others a square of half-side ``coarse_error`` placed
    uniformly at random around the truth (so it always holds it). Robots flood their
    measured box (first-hand information only, so an honest report is always a true
    statement); a robot's estimate is its own box intersected with every accepted box
    grown by ``hops * radio_range + elapsed * max_speed * dt`` (how far the origin can be),
    recomputed every tick. Byzantine robots claim to be anchors at their position shifted
    by ``byzantine_offset`` in a direction fixed per robot. When the accepted boxes do not
    meet (a lie was believed), the robot trusts the most precise grown box it received,
    as an anchor's would be. Under W-MSR, neighbours' boxes are intersected after
    trimming the ``F`` most restrictive bounds of each side.
    Error: distance from the centre of the estimated box to the true position.
    """

    name = "localization"
    payload_dim = 4

    def _setup(self) -> None:
        cfg = self.cfg
        n = self.n
        self.anchor = np.zeros(n, dtype=bool)
        k = min(cfg.n_anchors, self.coop_idx.size)
        self.anchor[self.rng.choice(self.coop_idx, size=k, replace=False)] = True
        angle = self.rng.uniform(0.0, 2 * np.pi, size=n)
        self.shift = cfg.byzantine_offset * np.column_stack([np.cos(angle), np.sin(angle)])
        self.own = np.zeros((n, 4))
        self.box = np.tile([0.0, 0.0, cfg.arena, cfg.arena], (n, 1))

    def _sense(self) -> None:
        c = np.where(self.anchor, 0.0, self.cfg.coarse_error)
        p = self.swarm.positions
        centre = p + self.rng.uniform(-1.0, 1.0, size=(self.n, 2)) * c[:, None]
        self.own = np.column_stack([centre - c[:, None], centre + c[:, None]])

    def _receive(self, d: Deliveries) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.cfg
        accuse = np.zeros(len(d), dtype=bool)
        est = BoxEstimate(self.own.copy(), np.full(self.n, np.inf), self.own.copy())
        box_receive(
            d.arrays,
            d.messages,
            BoxRules(self.t, cfg.radio_range, cfg.max_speed * cfg.dt, self.dbp),
            BoxRobots(self.own, self.coop, self.blocked),
            est,
            accuse,
        )
        self._commit(est.box, est.best_box)
        rows = np.flatnonzero(accuse)
        return d.receiver[rows], d.messages.origin[d.arrays.message[rows]]

    def _commit(self, new_box: np.ndarray, fallback: np.ndarray) -> None:
        empty = (new_box[:, 0] > new_box[:, 2]) | (new_box[:, 1] > new_box[:, 3])
        new_box[empty] = fallback[empty]
        a = self.cfg.arena
        np.clip(new_box, 0.0, a, out=new_box)
        self.box = new_box

    def _send(self) -> None:
        senders = self.coop_idx
        payload = self.own[senders]
        if self.cfg.attack != "silent" and self.byz_idx.size:
            b = self.byz_idx
            p = self.swarm.positions[b] + self.shift[b]
            if self.cfg.attack == "garbage":
                lie = garbage_reports(b.size, 4)
            else:
                lie = np.column_stack([p, p])
            senders = np.concatenate([senders, b])
            payload = np.concatenate([payload, lie])
        self.flood.send_observations(senders, self.t, payload)

    def _wmsr_round(self) -> None:
        indices = self.graph.indices
        cfg = self.cfg
        # Neighbours' measured boxes of the previous tick (one tick in transit).
        msgs = self._prev_own[indices].copy()
        from_byz = self.byzantine[indices]
        if cfg.attack in ("silent", "garbage"):
            msgs[from_byz] = np.nan
        else:
            p = self._prev_pos[indices[from_byz]] + self.shift[indices[from_byz]]
            msgs[from_byz] = np.column_stack([p, p])
        out = np.empty_like(self.own)
        g = cfg.radio_range + cfg.max_speed * cfg.dt
        trimmed_box(self.own, self.graph, msgs, g, cfg.wmsr_f, out)
        self._commit(out, self.own.copy())

    def _move(self) -> None:
        self._prev_own = self.own.copy()
        self._prev_pos = self.swarm.positions.copy()
        self.swarm.step(self.control)

    def _errors(self) -> np.ndarray:
        centre = 0.5 * (self.box[:, :2] + self.box[:, 2:])
        return np.hypot(*(centre[self.coop] - self.swarm.positions[self.coop]).T)

    def _frame_extras(self) -> dict:
        return {"anchor": self.anchor.copy()}
