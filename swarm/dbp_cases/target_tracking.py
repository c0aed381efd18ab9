"""DBP case study 1: cooperative target tracking (:class:`TargetTracking`).

Robots within sensing range observe a moving target and flood ``(own position, target
position)``; the others estimate the target as the mean of the freshest reports they
accept (suspicion rules: :mod:`protocols.dbp.tracking`). Byzantine robots report a
decoy.

Examples
--------
>>> from swarm.dbp_cases import run_case
>>> r = run_case("target_tracking", n_robots=40, ticks=5, seed=1)
>>> r.error.shape
(5,)
"""

from __future__ import annotations

import numpy as np

from protocols.dbp import Deliveries
from protocols.dbp.tracking import (
    FreshestMean,
    TrackingMarks,
    TrackingRobots,
    TrackingRules,
    silent_accusations,
    tracking_receive,
)
from protocols.wmsr import wmsr_step
from swarm.dbp_cases.base import CaseStudy, garbage_reports

__all__ = ["DECOY_CLAIM_REACH", "TargetTracking"]

DECOY_CLAIM_REACH = 0.9
"""Byzantine robots claim to stand this fraction of the sensing range from the decoy
(within range, so the claim passes the sensing-range rule)."""


class _Waypoint:
    """A point moving by random waypoint at a fixed speed (the target, the decoy)."""

    def __init__(self, rng, arena, speed, dt):
        self.rng, self.arena, self.speed, self.dt = rng, arena, speed, dt
        self.pos = rng.uniform(0.2 * arena, 0.8 * arena, size=2)
        self.goal = rng.uniform(0.0, arena, size=2)

    def step(self) -> None:
        delta = self.goal - self.pos
        dist = float(np.hypot(*delta))
        reach = self.speed * self.dt
        if dist <= reach:
            self.pos = self.goal.copy()
            self.goal = self.rng.uniform(0.0, self.arena, size=2)
        else:
            self.pos = self.pos + delta / dist * reach


class TargetTracking(CaseStudy):
    """Cooperative target tracking: robots estimate the position of a moving target.

    Robots within sensing range observe the target (each coordinate off by at most
    ``noise``) and flood ``(own position, target position)``; the others estimate the
    target as the mean of the freshest observations they hold. Byzantine robots report a
    decoy moving like the target, claiming a position within sensing range of it (the
    nearest such point to where they really are). Under W-MSR, observers hold their
    observation and the others run :func:`protocols.wmsr.wmsr_step` per coordinate.
    Error: distance between estimate and target.
    """

    name = "target_tracking"
    payload_dim = 4

    def _setup(self) -> None:
        cfg = self.cfg
        n = self.n
        self.target = _Waypoint(self.rng, cfg.arena, cfg.target_speed, cfg.dt)
        self.decoy = _Waypoint(self.rng, cfg.arena, cfg.target_speed, cfg.dt)
        centre = np.full(2, cfg.arena / 2)
        self.est = np.tile(centre, (n, 1))
        self.freshest = FreshestMean(
            np.full(n, -1, dtype=np.int64), np.zeros((n, 2)), np.zeros(n, dtype=np.int64)
        )
        self.sees = np.zeros(n, dtype=bool)
        self.obs = np.zeros((n, 2))
        self.prev_sees = self.sees.copy()
        self.prev_obs = self.obs.copy()
        self.prev_pos = self.swarm.positions.copy()
        self.tol = cfg.noise * np.sqrt(2.0)
        self._buf = np.empty(0, dtype=np.int64)

    def _move(self) -> None:
        self.prev_sees = self.sees
        self.prev_obs = self.obs
        self.prev_pos = self.swarm.positions.copy()
        self.swarm.step(self.control)
        self.target.step()
        self.decoy.step()

    def _sense(self) -> None:
        pos = self.swarm.positions
        d = np.hypot(*(pos - self.target.pos).T)
        self.sees = (d <= self.cfg.sensing_range) & self.coop
        noise = self.rng.uniform(-self.cfg.noise, self.cfg.noise, size=(self.n, 2))
        self.obs = np.where(self.sees[:, None], self.target.pos + noise, 0.0)

    def _receive(self, d: Deliveries) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.cfg
        indices = self.graph.indices
        marks = TrackingMarks(np.zeros(indices.shape[0], dtype=bool), np.zeros(len(d), dtype=bool))
        rules = TrackingRules(
            t=self.t,
            check=self.dbp,
            r_sense=cfg.sensing_range,
            r_radio=cfg.radio_range,
            vdt=cfg.max_speed * cfg.dt,
            vtdt=cfg.target_speed * cfg.dt,
            tol=self.tol,
        )
        robots = TrackingRobots(self.swarm.positions, self.sees, self.obs, self.coop, self.blocked)
        tracking_receive(d.arrays, d.messages, rules, robots, self.graph, self.freshest, marks)
        accuse = np.flatnonzero(marks.accuse)
        accusers = d.receiver[accuse]
        accused = d.messages.origin[d.arrays.message[accuse]]
        if self.dbp and self.t > 1:
            m = indices.shape[0]
            if self._buf.shape[0] < 2 * m:
                self._buf = np.empty(2 * m, dtype=np.int64)
            out_a, out_b = self._buf[:m], self._buf[m : 2 * m]
            prev = TrackingRobots(
                self.prev_pos, self.prev_sees, self.prev_obs, self.coop, self.blocked_at_delivery
            )
            k = silent_accusations(self.graph, prev, marks.heard, rules, out_a, out_b)
            accusers = np.concatenate([accusers, out_a[:k]])
            accused = np.concatenate([accused, out_b[:k]])
        # Own observations are the freshest information.
        s = self.sees
        best_ts, total, count = self.freshest
        best_ts[s] = self.t
        total[s] = self.obs[s]
        count[s] = 1
        has = count > 0
        self.est[has] = total[has] / count[has, None]
        return accusers, accused

    def _send(self) -> None:
        cfg = self.cfg
        pos = self.swarm.positions
        senders = np.flatnonzero(self.sees)
        payload = np.column_stack([pos[senders], self.obs[senders]])
        if cfg.attack != "silent" and self.byz_idx.size:
            b = self.byz_idx
            x = self.decoy.pos
            delta = pos[b] - x
            dist = np.hypot(*delta.T)
            reach = DECOY_CLAIM_REACH * cfg.sensing_range
            scale = np.where(dist > reach, reach / np.maximum(dist, 1e-12), 1.0)
            claim = x + delta * scale[:, None]
            fake = np.column_stack([claim, np.tile(x, (b.size, 1))])
            if cfg.attack == "garbage":
                fake = garbage_reports(b.size, 4)
            senders = np.concatenate([senders, b])
            payload = np.concatenate([payload, fake])
        if senders.size:
            self.flood.send_observations(senders, self.t, payload)

    def _wmsr_round(self) -> None:
        indptr, indices = self.graph
        msgs = self.est[indices].copy()
        from_byz = self.byzantine[indices]
        if self.cfg.attack in ("silent", "garbage"):
            msgs[from_byz] = np.nan
        else:
            msgs[from_byz] = self.decoy.pos
        new = np.empty_like(self.est)
        for c in range(2):
            new[:, c] = wmsr_step(
                np.ascontiguousarray(self.est[:, c]),
                indptr,
                indices,
                np.ascontiguousarray(msgs[:, c]),
                self.cfg.wmsr_f,
            )
        s = self.sees
        new[s] = self.obs[s]
        self.est = new

    def _errors(self) -> np.ndarray:
        return np.hypot(*(self.est[self.coop] - self.target.pos).T)

    def _frame_extras(self) -> dict:
        return {"target": self.target.pos.copy(), "decoy": self.decoy.pos.copy()}
