"""The tick loop shared by the DBP case studies (:class:`CaseStudy`).

Each tick: robots move, the radio graph is rebuilt, the case senses; then, under
``"none"`` and ``"dbp"``, observations flood (:class:`protocols.dbp.Flood`), under
``"dbp"`` accusations flood (:class:`protocols.dbp.AccusationGossip`) and those whose
flood ended enter the blocklist (:class:`protocols.dbp.DynamicBlocklist`), the case
processes the deliveries and issues accusations, and the robots send this tick's
observations; under ``"wmsr"`` the case runs one round of its W-MSR variant instead.

Examples
--------
>>> import numpy as np
>>> from swarm.dbp_cases import DBPConfig, make_case
>>> case = make_case("time_sync", DBPConfig(n_robots=30, ticks=3), np.random.default_rng(0))
>>> case.step(); case.t
1
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from protocols.dbp import AccusationGossip, Deliveries, DynamicBlocklist, Flood, locality_order
from swarm.dbp_cases.config import CaseResult, DBPConfig
from swarm.mobility import MobileSwarm

__all__ = ["CaseStudy", "garbage_reports"]


def garbage_reports(k: int, dim: int) -> np.ndarray:
    """Non-finite reports (NaN, +inf, -inf in turn), shape (k, dim)."""
    return np.resize(np.array([np.nan, np.inf, -np.inf]), k * dim).reshape(k, dim)


class CaseStudy(ABC):
    """Tick loop shared by the three case studies; subclasses define the application.

    Parameters
    ----------
    config : DBPConfig
        Parameters.
    rng : numpy.random.Generator
        Source of every random draw.

    Attributes
    ----------
    swarm : swarm.mobility.MobileSwarm
        The robots.
    graph : protocols.csr.CSR
        The current tick's radio graph.
    byzantine, coop : numpy.ndarray of bool, shape (n,)
        Byzantine and cooperative robots.
    blocked : numpy.ndarray of bool, shape (n,)
        The blocklist (updated in place).
    control : numpy.ndarray of float64, shape (n, 2), or None
        Commanded velocities for the next tick; NaN rows follow the motion model, None
        lets every robot follow it (set by environments).
    """

    name = ""
    payload_dim = 0

    def __init__(self, config: DBPConfig, rng: np.random.Generator):
        if not isinstance(config, DBPConfig):
            raise TypeError("config must be a DBPConfig")
        if not isinstance(rng, np.random.Generator):
            raise TypeError("rng must be a numpy.random.Generator")
        self.cfg = config
        self.rng = rng
        n = config.n_robots
        self.n = n
        self.swarm = MobileSwarm(
            n,
            rng,
            arena=config.arena,
            radio_range=config.radio_range,
            sensing_range=config.sensing_range,
            max_speed=config.max_speed,
            dt=config.dt,
            motion=config.motion,
        )
        self.byzantine = np.zeros(n, dtype=bool)
        self.byzantine[rng.choice(n, size=config.n_byzantine, replace=False)] = True
        self.coop = ~self.byzantine
        self.coop_idx = np.flatnonzero(self.coop)
        self.byz_idx = np.flatnonzero(self.byzantine)
        self.dbp = config.defence == "dbp"
        self.blocklist = DynamicBlocklist(n)
        self.blocked = self.blocklist.blocked
        self.flood = Flood(n, payload_dim=self.payload_dim, hop_limit=config.hop_limit)
        self.gossip = AccusationGossip(n)
        self.relays = self.coop.copy()
        self._issued = np.empty(0, dtype=np.int64)
        self._false_left = np.full(n, config.false_accusations, dtype=np.int64)
        self.t = 0
        self.control: np.ndarray | None = None
        self.graph = self.swarm.comm_graph()
        self._setup()
        ticks = config.ticks
        self.error = np.full(ticks, np.nan)
        self.error_max = np.full(ticks, np.nan)
        self.byz_blocked = np.zeros(ticks, dtype=np.int64)
        self.coop_blocked = np.zeros(ticks, dtype=np.int64)
        self.frames: list[dict] = []

    # Hooks -----------------------------------------------------------------------------
    @abstractmethod
    def _setup(self) -> None:
        """Create the case's state (called once the swarm and Byzantine set exist)."""

    def _move(self) -> None:
        self.swarm.step(self.control)

    def _sense(self) -> None:
        """Refresh local measurements at the current tick (default: none)."""
        return

    @abstractmethod
    def _receive(self, d: Deliveries) -> tuple[np.ndarray, np.ndarray]:
        """Process deliveries; return (accusers, accused) of the accusations to issue."""

    @abstractmethod
    def _send(self) -> None:
        """Queue this tick's observations."""

    @abstractmethod
    def _wmsr_round(self) -> None:
        """One round of the W-MSR variant of the application."""

    @abstractmethod
    def _errors(self) -> np.ndarray:
        """Error of every cooperative robot's estimate."""

    def _frame_extras(self) -> dict:
        return {}

    # Loop --------------------------------------------------------------------------------
    def step(self) -> None:
        """Advance one tick: move, rebuild the radio graph, communicate, update estimates."""
        cfg = self.cfg
        self.t += 1
        self._move()
        self.graph = self.swarm.comm_graph()
        self._sense()
        if cfg.defence == "wmsr":
            self._wmsr_round()
        else:
            indptr, indices = self.graph
            # Receivers drop by the blocklist they hold when the messages arrive.
            self.blocked_at_delivery = self.blocked.copy()
            d = self.flood.step(
                indptr,
                indices,
                self.blocked_at_delivery if self.dbp else None,
                self.relays,
                symmetric=True,
            )
            if self.dbp:
                order = locality_order(self.swarm.positions, max(cfg.radio_range, 1e-9))
                fin = self.gossip.step(indptr, indices, self.relays, order=order)
                if fin["accuser"].size:
                    self.blocklist.add_many(np.column_stack([fin["accuser"], fin["accused"]]))
            accusers, accused = self._receive(d)
            if self.dbp:
                self._issue(accusers, accused)
                if cfg.attack == "false_accusation":
                    self._false_accuse()
            self._send()
        k = self.t - 1
        if k < cfg.ticks:
            err = self._errors()
            self.error[k] = float(np.mean(err))
            self.error_max[k] = float(np.max(err))
            self.byz_blocked[k] = int(self.blocked[self.byzantine].sum())
            self.coop_blocked[k] = int(self.blocked[self.coop].sum())
            if cfg.record_every and k % cfg.record_every == 0:
                frame = {
                    "tick": self.t,
                    "positions": self.swarm.positions.copy(),
                    "blocked": self.blocked.copy(),
                }
                frame.update(self._frame_extras())
                self.frames.append(frame)

    def _issue(self, accusers: np.ndarray, accused: np.ndarray) -> None:
        """Issue accusations, each at most once; skip those the accuser already holds.

        A robot does not accuse a robot that is blocked, nor one against which it already
        holds an accusation (its own or received).
        """
        # Each test looks at one accusation, so they run on every row before the rows are
        # deduplicated: most rows repeat an accusation already flooding and drop out.
        keep = ~self.blocked[accused]
        a, b = accusers[keep], accused[keep]
        if a.size == 0:
            return
        keep = ~self.gossip.holds_against(a, b)
        keys = np.unique(a[keep] * self.n + b[keep])
        if self._issued.size and keys.size:
            pos = np.minimum(np.searchsorted(self._issued, keys), self._issued.size - 1)
            keys = keys[self._issued[pos] != keys]
        if keys.size == 0:
            return
        a, b = keys // self.n, keys % self.n
        self._issued = np.union1d(self._issued, keys)
        # Accusations against the same robot, then against nearby robots, get neighbouring
        # slots, so they share words of the bitsets as they flood together.
        cell = np.floor(self.swarm.positions[b] / (4 * max(self.cfg.radio_range, 1e-9)))
        ncols = int(np.ceil(self.cfg.arena / (4 * max(self.cfg.radio_range, 1e-9)))) + 1
        cell_key = cell[:, 1] * ncols + cell[:, 0]
        order = np.lexsort((a, b, cell_key))
        self.gossip.issue(a[order], b[order], self.t)

    def _false_accuse(self) -> None:
        indptr, indices = self.graph
        accusers, accused = [], []
        for b in self.byz_idx:
            if self._false_left[b] == 0:
                continue
            nbrs = indices[indptr[b] : indptr[b + 1]]
            nbrs = nbrs[self.coop[nbrs]]
            nbrs = nbrs[~np.isin(int(b) * self.n + nbrs, self._issued)]
            if nbrs.size == 0:
                continue
            c = int(self.rng.choice(nbrs))
            self._false_left[b] -= 1
            accusers.append(int(b))
            accused.append(c)
        if accusers:
            keys = np.array(accusers, dtype=np.int64) * self.n + np.array(accused)
            self._issued = np.union1d(self._issued, keys)
            self.gossip.issue(accusers, accused, self.t)

    def run(self) -> CaseResult:
        """Run ``config.ticks`` ticks and return the metrics."""
        for _ in range(self.cfg.ticks - self.t):
            self.step()
        return self.result()

    def result(self) -> CaseResult:
        """Metrics of the ticks run so far."""
        nb = int(self.byzantine.sum())
        done = np.flatnonzero(self.byz_blocked[: self.t] == nb) if nb else np.empty(0)
        return CaseResult(
            case=self.name,
            defence=self.cfg.defence,
            attack=self.cfg.attack,
            error=self.error.copy(),
            error_max=self.error_max.copy(),
            byzantine_blocked=self.byz_blocked.copy(),
            cooperative_blocked=self.coop_blocked.copy(),
            all_blocked_tick=int(done[0]) + 1 if done.size else None,
            accusations=int(self._issued.size),
            byzantine=self.byzantine.copy(),
            frames=self.frames,
        )
