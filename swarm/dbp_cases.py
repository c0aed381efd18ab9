"""The DBP case studies: cooperative target tracking, time synchronisation, localisation.

Each case runs a mobile swarm (:mod:`swarm.mobility`) with a fraction of Byzantine
robots against one defence:

- ``"none"``: observations flood (hop limit) and are all believed;
- ``"wmsr"``: the application runs over W-MSR-style trimming with parameter ``wmsr_f``
  on direct neighbours' values (mean consensus for tracking, :func:`protocols.wmsr.wmsr_step`;
  the same trimming rule before the max / the intersection for clocks and boxes);
- ``"dbp"``: observations flood, cooperative robots accuse the origins of observations
  that contradict what they observe themselves (the case's suspicion rules, below),
  accusations flood the whole network, and once an accusation's flood has ended (every
  robot it can reach holds it) it enters the blocklist (:class:`protocols.dbp.DynamicBlocklist`),
  whose robots' observations every receiver drops.

Attacks: ``"fake"`` (Byzantine robots report a fake target / a large clock offset / an
offset box), ``"false_accusation"`` (the same, plus each Byzantine robot accuses up to
``false_accusations`` cooperative neighbours), ``"garbage"`` (non-finite reports: NaN
and infinities) and ``"silent"`` (Byzantine robots stop
sending). Byzantine robots never forward other robots' messages.

Suspicion rules (all sound: a cooperative robot never accuses a cooperative one, given
the bounds in :class:`DBPConfig`):

Target tracking (payload: claimed origin position, claimed target position)
    the claimed origin could not have reached the receiver in the hops travelled
    (``|p_claim - p_me| > hops * (radio_range + max_speed * dt)``: the message "moved
    faster than information can flood"); the claimed target lies outside the claimed
    origin's sensing range; the receiver sees the target somewhere the claim cannot be
    (beyond the target's speed times the elapsed time plus twice the noise bound); the
    receiver sees no target where the claim puts one; or a neighbour that must have seen
    the target the receiver saw (both in its sensing range) sent nothing (this catches
    robots that stop sending).
Time synchronisation (payload: the origin's own clock reading when sent)
    an observer (a robot with the reference clock) accuses any origin whose reported time
    is at or above its own clock: an honest report was read at least one tick earlier.
Localisation (payload: the origin's position box)
    a robot accuses a box that does not meet its own box grown by the distance the origin
    can be from it: ``hops * radio_range + elapsed * max_speed * dt``.

Every random draw comes from the :class:`numpy.random.Generator` given to the case.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field, fields

import numpy as np
from numba import njit

from protocols._checks import check_int, check_nonneg_float
from protocols.dbp import AccusationGossip, DynamicBlocklist, Flood
from protocols.wmsr import wmsr_step
from swarm.mobility import MOTIONS, MobileSwarm

__all__ = [
    "ATTACKS",
    "CASES",
    "DEFENCES",
    "CaseResult",
    "DBPConfig",
    "Localization",
    "TargetTracking",
    "TimeSync",
    "make_case",
    "run_case",
]

DEFENCES = ("none", "wmsr", "dbp")
ATTACKS = ("fake", "false_accusation", "silent", "garbage")
CASES = ("target_tracking", "time_sync", "localization")


@dataclass(frozen=True)
class DBPConfig:
    """Parameters of a case-study run (units: arena units, seconds).

    Attributes
    ----------
    n_robots : int
        Swarm size.
    byzantine_fraction : float
        Fraction of Byzantine robots, in [0, 0.5).
    defence : str
        ``"none"``, ``"wmsr"`` or ``"dbp"``.
    wmsr_f : int
        W-MSR trimming parameter F.
    attack : str
        ``"fake"``, ``"false_accusation"``, ``"silent"`` or ``"garbage"``.
    ticks : int
        Number of ticks simulated.
    hop_limit : int
        Hop limit of observations.
    arena, radio_range, sensing_range, max_speed, dt : float
        Swarm geometry and kinematics (see :class:`swarm.mobility.MobileSwarm`).
    motion : str
        ``"random_waypoint"``, ``"flocking"`` or ``"static"``.
    target_speed : float
        Speed of the target (and of the decoy) in target tracking.
    noise : float
        Sensing noise bound: every observed coordinate is off by at most this much.
    coarse_error : float
        Localisation: half-side of the box a non-anchor robot measures around itself.
    n_anchors : int
        Reference robots: observers with the true clock (time sync), anchors that know
        their position (localisation).
    max_clock_offset : float
        Cooperative clocks lag the true time by up to this much (seconds).
    byzantine_offset : float
        Offset of the Byzantine reports (seconds ahead for clocks, units for boxes).
    false_accusations : int
        Cooperative neighbours each Byzantine robot accuses under ``false_accusation``.
    record_every : int
        Keep a frame of the swarm every this many ticks (0: none).
    """

    n_robots: int = 100
    byzantine_fraction: float = 0.1
    defence: str = "dbp"
    wmsr_f: int = 1
    attack: str = "fake"
    ticks: int = 60
    hop_limit: int = 4
    arena: float = 100.0
    radio_range: float = 20.0
    sensing_range: float = 15.0
    max_speed: float = 1.0
    dt: float = 1.0
    motion: str = "random_waypoint"
    target_speed: float = 1.0
    noise: float = 0.5
    coarse_error: float = 10.0
    n_anchors: int = 5
    max_clock_offset: float = 10.0
    byzantine_offset: float = 50.0
    false_accusations: int = 3
    record_every: int = 0

    def __post_init__(self):
        check_int("n_robots", self.n_robots, low=2)
        frac = self.byzantine_fraction
        if isinstance(frac, bool) or not isinstance(frac, int | float) or not 0 <= frac < 0.5:
            raise ValueError(f"byzantine_fraction must be in [0, 0.5), got {frac!r}")
        for name, allowed in (("defence", DEFENCES), ("attack", ATTACKS), ("motion", MOTIONS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, "
                                 f"got {getattr(self, name)!r}")
        for name in ("wmsr_f", "ticks", "hop_limit", "n_anchors", "false_accusations",
                     "record_every"):
            check_int(name, getattr(self, name), low=0)
        for name in ("arena", "dt"):
            check_nonneg_float(name, getattr(self, name), positive=True)
        for name in ("radio_range", "sensing_range", "max_speed", "target_speed", "noise",
                     "coarse_error", "max_clock_offset", "byzantine_offset"):
            check_nonneg_float(name, getattr(self, name))

    @property
    def n_byzantine(self) -> int:
        """Number of Byzantine robots."""
        return round(self.byzantine_fraction * self.n_robots)


@dataclass
class CaseResult:
    """Per-tick metrics of one run.

    Attributes
    ----------
    case, defence, attack : str
        What was run.
    error : numpy.ndarray, shape (ticks,)
        Mean error of the cooperative robots' estimates (target distance, clock error in
        seconds, or distance from the box centre), per tick.
    error_max : numpy.ndarray, shape (ticks,)
        Largest error among cooperative robots, per tick.
    byzantine_blocked : numpy.ndarray of int, shape (ticks,)
        Byzantine robots on the blocklist at the end of each tick.
    cooperative_blocked : numpy.ndarray of int, shape (ticks,)
        Cooperative robots wrongly on the blocklist.
    all_blocked_tick : int or None
        First tick at which every Byzantine robot was blocked (None if never).
    accusations : int
        Distinct accusations issued (cooperative and Byzantine).
    byzantine : numpy.ndarray of bool, shape (n,)
        Which robots were Byzantine.
    frames : list of dict
        Recorded frames: ``tick``, ``positions``, ``blocked`` and case extras.
    """

    case: str
    defence: str
    attack: str
    error: np.ndarray
    error_max: np.ndarray
    byzantine_blocked: np.ndarray
    cooperative_blocked: np.ndarray
    all_blocked_tick: int | None
    accusations: int
    byzantine: np.ndarray
    frames: list = field(default_factory=list)


# ----------------------------------------------------------------------------------------
# Shared machinery.
# ----------------------------------------------------------------------------------------


@njit(cache=True)
def _garbage(k: int, dim: int) -> np.ndarray:
    """Non-finite reports (NaN, +inf, -inf in turn), shape (k, dim)."""
    return np.resize(np.array([np.nan, np.inf, -np.inf]), k * dim).reshape(k, dim)


@njit(cache=True)
def _edge_index(indptr, indices, v, u):
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
def _freshest_update(v, ts, vec, best_ts, acc_sum, acc_cnt):
    if ts > best_ts[v]:
        best_ts[v] = ts
        acc_cnt[v] = 0
        for c in range(acc_sum.shape[1]):
            acc_sum[v, c] = 0.0
    if ts == best_ts[v]:
        acc_cnt[v] += 1
        for c in range(acc_sum.shape[1]):
            acc_sum[v, c] += vec[c]


class _Case(ABC):
    """Tick loop shared by the three cases; subclasses define the application."""

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
        self.swarm = MobileSwarm(n, rng, arena=config.arena, radio_range=config.radio_range,
                                 sensing_range=config.sensing_range, max_speed=config.max_speed,
                                 dt=config.dt, motion=config.motion)
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
        #: Commanded velocities (n, 2) for the next tick, NaN rows follow the motion
        #: model; None lets every robot follow it (set by environments).
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
    def _receive(self, d) -> tuple[np.ndarray, np.ndarray]:
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
            d = self.flood.step(indptr, indices, self.blocked_at_delivery if self.dbp else None,
                                self.relays, symmetric=True)
            if self.dbp:
                fin = self.gossip.step(indptr, indices, self.relays, symmetric=True)
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
                frame = {"tick": self.t, "positions": self.swarm.positions.copy(),
                         "blocked": self.blocked.copy()}
                frame.update(self._frame_extras())
                self.frames.append(frame)

    def _issue(self, accusers: np.ndarray, accused: np.ndarray) -> None:
        """Issue accusations, each at most once; skip those the accuser already holds.

        A robot does not accuse a robot that is blocked, nor one against which it already
        holds an accusation (its own or received).
        """
        if accusers.size == 0:
            return
        keys = np.sort(accusers * self.n + accused)
        keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]
        if self._issued.size:
            pos = np.minimum(np.searchsorted(self._issued, keys), self._issued.size - 1)
            keys = keys[self._issued[pos] != keys]
        a, b = keys // self.n, keys % self.n
        keep = ~self.blocked[b]
        a, b, keys = a[keep], b[keep], keys[keep]
        if keys.size == 0:
            return
        keep = ~self.gossip.holds_against(a, b)
        a, b, keys = a[keep], b[keep], keys[keep]
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
            nbrs = indices[indptr[b]:indptr[b + 1]]
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
        done = np.flatnonzero(self.byz_blocked[:self.t] == nb) if nb else np.empty(0)
        return CaseResult(
            case=self.name, defence=self.cfg.defence, attack=self.cfg.attack,
            error=self.error.copy(), error_max=self.error_max.copy(),
            byzantine_blocked=self.byz_blocked.copy(),
            cooperative_blocked=self.coop_blocked.copy(),
            all_blocked_tick=int(done[0]) + 1 if done.size else None,
            accusations=int(self._issued.size), byzantine=self.byzantine.copy(),
            frames=self.frames)


# ----------------------------------------------------------------------------------------
# Case 1: cooperative target tracking.
# ----------------------------------------------------------------------------------------


@njit(cache=True)
def _tracking_receive(recv, hops, origin, ts, kind, payload, t, pos, sees, obs, coop, blocked,
                      check, r_sense, r_radio, vdt, vtdt, tol, indptr, indices, heard,
                      best_ts, acc_sum, acc_cnt, accuse):
    for k in range(recv.shape[0]):
        v = recv[k]
        if not coop[v] or kind[k] != 0:
            continue
        o = origin[k]
        if blocked[o]:
            continue
        pcx = payload[k, 0]
        pcy = payload[k, 1]
        tx = payload[k, 2]
        ty = payload[k, 3]
        finite = np.isfinite(pcx) and np.isfinite(pcy) and np.isfinite(tx) and np.isfinite(ty)
        if hops[k] == 1 and ts[k] == t - 1:
            e = _edge_index(indptr, indices, v, o)
            if e >= 0:
                heard[e] = True
        bad = not finite
        if check and not bad:
            h = hops[k]
            el = t - ts[k]
            if el < h:
                bad = True
            reach = h * r_radio + el * vdt + 1e-9
            if not bad and np.hypot(pcx - pos[v, 0], pcy - pos[v, 1]) > reach:
                bad = True
            if not bad and np.hypot(tx - pcx, ty - pcy) > r_sense + tol:
                bad = True
            if not bad:
                if sees[v]:
                    if np.hypot(tx - obs[v, 0], ty - obs[v, 1]) > el * vtdt + 2 * tol + 1e-9:
                        bad = True
                elif np.hypot(tx - pos[v, 0], ty - pos[v, 1]) < r_sense - tol - el * vtdt:
                    bad = True
        if check:
            accuse[k] = bad
        if bad:
            continue
        vec = payload[k, 2:4]
        _freshest_update(v, ts[k], vec, best_ts, acc_sum, acc_cnt)


@njit(cache=True)
def _tracking_silent(indptr, indices, prev_sees, prev_obs, prev_pos, blocked, coop, heard,
                     r_sense, tol, out_a, out_b):
    m = 0
    for v in range(prev_sees.shape[0]):
        if not coop[v] or not prev_sees[v]:
            continue
        for e in range(indptr[v], indptr[v + 1]):
            j = indices[e]
            if heard[e] or blocked[j]:
                continue
            if np.hypot(prev_pos[j, 0] - prev_pos[v, 0], prev_pos[j, 1] - prev_pos[v, 1]) > r_sense:
                continue
            if np.hypot(prev_obs[v, 0] - prev_pos[j, 0], prev_obs[v, 1] - prev_pos[j, 1]) \
                    > r_sense - tol:
                continue
            out_a[m] = v
            out_b[m] = j
            m += 1
    return m


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


class TargetTracking(_Case):
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
        self.best_ts = np.full(n, -1, dtype=np.int64)
        self.acc_sum = np.zeros((n, 2))
        self.acc_cnt = np.zeros(n, dtype=np.int64)
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

    def _receive(self, d) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.cfg
        indptr, indices = self.graph
        accuse = np.zeros(len(d), dtype=bool)
        heard = np.zeros(indices.shape[0], dtype=bool)
        _tracking_receive(d.receiver, d.hops, d.origin, d.timestamp, d.kind, d.payload, self.t,
                          self.swarm.positions, self.sees, self.obs, self.coop, self.blocked,
                          self.dbp, cfg.sensing_range, cfg.radio_range, cfg.max_speed * cfg.dt,
                          cfg.target_speed * cfg.dt, self.tol, indptr, indices, heard,
                          self.best_ts, self.acc_sum, self.acc_cnt, accuse)
        accusers = d.receiver[accuse]
        accused = d.origin[accuse]
        if self.dbp and self.t > 1:
            m = indices.shape[0]
            if self._buf.shape[0] < 2 * m:
                self._buf = np.empty(2 * m, dtype=np.int64)
            out_a, out_b = self._buf[:m], self._buf[m:2 * m]
            k = _tracking_silent(indptr, indices, self.prev_sees, self.prev_obs, self.prev_pos,
                                 self.blocked_at_delivery, self.coop, heard,
                                 cfg.sensing_range, self.tol, out_a, out_b)
            accusers = np.concatenate([accusers, out_a[:k]])
            accused = np.concatenate([accused, out_b[:k]])
        # Own observations are the freshest information.
        s = self.sees
        self.best_ts[s] = self.t
        self.acc_sum[s] = self.obs[s]
        self.acc_cnt[s] = 1
        has = self.acc_cnt > 0
        self.est[has] = self.acc_sum[has] / self.acc_cnt[has, None]
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
            reach = 0.9 * cfg.sensing_range
            scale = np.where(dist > reach, reach / np.maximum(dist, 1e-12), 1.0)
            claim = x + delta * scale[:, None]
            fake = np.column_stack([claim, np.tile(x, (b.size, 1))])
            if cfg.attack == "garbage":
                fake = _garbage(b.size, 4)
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
            new[:, c] = wmsr_step(np.ascontiguousarray(self.est[:, c]), indptr, indices,
                                  np.ascontiguousarray(msgs[:, c]), self.cfg.wmsr_f)
        s = self.sees
        new[s] = self.obs[s]
        self.est = new

    def _errors(self) -> np.ndarray:
        return np.hypot(*(self.est[self.coop] - self.target.pos).T)

    def _frame_extras(self) -> dict:
        return {"target": self.target.pos.copy(), "decoy": self.decoy.pos.copy()}


# ----------------------------------------------------------------------------------------
# Case 2: time synchronisation.
# ----------------------------------------------------------------------------------------


@njit(cache=True)
def _clock_receive(recv, origin, ts, kind, payload, t, dt, clock, observer, coop, blocked,
                   check, corr, corr_src, accuse):
    for k in range(recv.shape[0]):
        v = recv[k]
        if not coop[v] or kind[k] != 0:
            continue
        o = origin[k]
        if blocked[o]:
            continue
        r = payload[k, 0]
        bad = not np.isfinite(r) or ts[k] > t
        if check and observer[v] and r >= clock[v]:
            bad = True
        if check:
            accuse[k] = bad
        if bad:
            continue
        # The report was read (t - ts) ticks ago: advance it by the elapsed time.
        c = r + (t - ts[k]) * dt - clock[v]
        if c > corr[v]:
            corr[v] = c
            corr_src[v] = o


@njit(cache=True)
def _trimmed_max_kernel(values, indptr, indices, messages, f, out):
    """W-MSR's trimming before a max: drop non-finite and the f largest values above own."""
    n = values.shape[0]
    for i in range(n):
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
    return out


class TimeSync(_Case):
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

    def _receive(self, d) -> tuple[np.ndarray, np.ndarray]:
        clock = self.true_time() + self.offset
        # A correction taken from a robot now blocked is forgotten (fresh reports arrive
        # every tick to rebuild it).
        src = self.corr_src
        lost = (src >= 0) & self.blocked[np.maximum(src, 0)]
        self.corr[lost] = 0.0
        src[lost] = -1
        accuse = np.zeros(len(d), dtype=bool)
        _clock_receive(d.receiver, d.origin, d.timestamp, d.kind, d.payload, self.t, self.cfg.dt,
                       clock, self.observer, self.coop, self.blocked, self.dbp, self.corr,
                       src, accuse)
        return d.receiver[accuse], d.origin[accuse]

    def _send(self) -> None:
        senders = self.coop_idx
        payload = (self.true_time() + self.offset[senders])[:, None]
        if self.cfg.attack != "silent" and self.byz_idx.size:
            senders = np.concatenate([senders, self.byz_idx])
            fake = np.full((self.byz_idx.size, 1), self.true_time() + self.cfg.byzantine_offset)
            if self.cfg.attack == "garbage":
                fake = _garbage(self.byz_idx.size, 1)
            payload = np.concatenate([payload, fake])
        self.flood.send_observations(senders, self.t, payload)

    def _wmsr_round(self) -> None:
        indptr, indices = self.graph
        # Last tick's synchronised times, advanced by one tick in transit; values are kept
        # relative to the true time (the kernel is shift invariant).
        msgs = self.sync[indices].copy()
        from_byz = self.byzantine[indices]
        silent = self.cfg.attack in ("silent", "garbage")
        msgs[from_byz] = np.nan if silent else self.cfg.byzantine_offset
        own = np.maximum(self.sync, self.offset)
        out = np.empty(self.n)
        _trimmed_max_kernel(own, indptr, indices, msgs, self.cfg.wmsr_f, out)
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


# ----------------------------------------------------------------------------------------
# Case 3: localisation with boxes.
# ----------------------------------------------------------------------------------------


@njit(cache=True)
def _box_receive(recv, hops, origin, ts, kind, payload, t, r_radio, vdt, own, coop, blocked,
                 check, new_box, best_area, best_box, accuse):
    for k in range(recv.shape[0]):
        v = recv[k]
        if not coop[v] or kind[k] != 0:
            continue
        o = origin[k]
        if blocked[o]:
            continue
        x0 = payload[k, 0]
        y0 = payload[k, 1]
        x1 = payload[k, 2]
        y1 = payload[k, 3]
        bad = not (np.isfinite(x0) and np.isfinite(y0) and np.isfinite(x1)
                   and np.isfinite(y1)) or x0 > x1 or y0 > y1 or ts[k] > t or t - ts[k] < hops[k]
        g = hops[k] * r_radio + (t - ts[k]) * vdt
        if not bad and check:
            # Inconsistent: the grown box misses the robot's own measured box.
            if (x0 - g > own[v, 2] or x1 + g < own[v, 0]
                    or y0 - g > own[v, 3] or y1 + g < own[v, 1]):
                bad = True
        if check:
            accuse[k] = bad
        if bad:
            continue
        new_box[v, 0] = max(new_box[v, 0], x0 - g)
        new_box[v, 1] = max(new_box[v, 1], y0 - g)
        new_box[v, 2] = min(new_box[v, 2], x1 + g)
        new_box[v, 3] = min(new_box[v, 3], y1 + g)
        area = (x1 - x0 + 2 * g) * (y1 - y0 + 2 * g)
        if area < best_area[v]:
            best_area[v] = area
            best_box[v, 0] = x0 - g
            best_box[v, 1] = y0 - g
            best_box[v, 2] = x1 + g
            best_box[v, 3] = y1 + g


@njit(cache=True)
def _trimmed_box_kernel(box, indptr, indices, msgs, g, f, out):
    """Intersect own box with neighbours' boxes grown by g, after W-MSR-style trimming.

    For each side, the f most restrictive bounds beyond the robot's own are discarded.
    """
    n = box.shape[0]
    for i in range(n):
        lo = indptr[i]
        hi = indptr[i + 1]
        for side in range(4):
            own = box[i, side]
            vals = np.empty(hi - lo)
            m = 0
            for e in range(lo, hi):
                x = msgs[e, side]
                if not np.isfinite(x):
                    continue
                x = x - g if side < 2 else x + g
                restrictive = x > own if side < 2 else x < own
                if restrictive:
                    vals[m] = x
                    m += 1
            best = own
            if m > f:
                srt = np.sort(vals[:m])
                best = srt[m - f - 1] if side < 2 else srt[f]
            out[i, side] = best
    return out


class Localization(_Case):
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

    def _receive(self, d) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.cfg
        accuse = np.zeros(len(d), dtype=bool)
        new_box = self.own.copy()
        best_area = np.full(self.n, np.inf)
        best_box = self.own.copy()
        _box_receive(d.receiver, d.hops, d.origin, d.timestamp, d.kind, d.payload, self.t,
                     cfg.radio_range, cfg.max_speed * cfg.dt, self.own, self.coop, self.blocked,
                     self.dbp, new_box, best_area, best_box, accuse)
        self._commit(new_box, best_box)
        return d.receiver[accuse], d.origin[accuse]

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
            lie = _garbage(b.size, 4) if self.cfg.attack == "garbage" else np.column_stack([p, p])
            senders = np.concatenate([senders, b])
            payload = np.concatenate([payload, lie])
        self.flood.send_observations(senders, self.t, payload)

    def _wmsr_round(self) -> None:
        indptr, indices = self.graph
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
        _trimmed_box_kernel(self.own, indptr, indices, msgs, g, cfg.wmsr_f, out)
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


_CASES = {"target_tracking": TargetTracking, "time_sync": TimeSync,
          "localization": Localization}


def make_case(case: str, config: DBPConfig, rng: np.random.Generator) -> _Case:
    """Build a case-study simulation.

    Parameters
    ----------
    case : str
        ``"target_tracking"``, ``"time_sync"`` or ``"localization"``.
    config : DBPConfig
        Parameters.
    rng : numpy.random.Generator
        Source of every random draw.

    Returns
    -------
    TargetTracking, TimeSync or Localization
        Call ``step()`` per tick or ``run()``.
    """
    if case not in _CASES:
        raise ValueError(f"case must be one of {', '.join(CASES)}, got {case!r}")
    return _CASES[case](config, rng)


def run_case(case: str, config: DBPConfig | None = None, *, seed: int = 0,
             **overrides) -> CaseResult:
    """Run one case study and return its per-tick metrics.

    Parameters
    ----------
    case : str
        ``"target_tracking"``, ``"time_sync"`` or ``"localization"``.
    config : DBPConfig, optional
        Parameters (defaults if omitted).
    seed : int
        Seed of the :class:`numpy.random.Generator`.
    **overrides
        Fields of :class:`DBPConfig` replacing those of ``config``.

    Returns
    -------
    CaseResult
        Metrics per tick.
    """
    config = DBPConfig() if config is None else config
    if overrides:
        names = {f.name for f in fields(DBPConfig)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise TypeError(f"unknown DBPConfig field {unknown[0]!r}")
        config = DBPConfig(**{**{f.name: getattr(config, f.name) for f in fields(DBPConfig)},
                              **overrides})
    return make_case(case, config, np.random.default_rng(seed)).run()

