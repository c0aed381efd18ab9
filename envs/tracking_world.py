"""B target-tracking swarms behind the environments: arguments, resets, one kernel call a step.

:class:`TrackingWorld` validates the environment arguments, draws each swarm's initial
state from the generator it is given (in the order :class:`swarm.dbp_cases.TargetTracking`
draws it: positions, waypoints, Byzantine set, target, decoy), steps the swarms with
:func:`protocols.tracking.tracking_step_unchecked` (each swarm's uniforms drawn from its
own generator), and keeps each swarm's blocklist with
:class:`protocols.dbp.DynamicBlocklist`. :mod:`envs.target_tracking_v0` runs it with B = 1,
:mod:`envs.tracking_vector` with B swarms.

Examples
--------
>>> import numpy as np
>>> from envs.tracking_world import TrackingWorld
>>> world = TrackingWorld(2, n_robots=10)
>>> rngs = [np.random.default_rng(b) for b in range(2)]
>>> for b in range(2):
...     world.reset_one(b, rngs[b])
>>> world.step(np.zeros((2, world.n_agents, 2)), np.ones(2, dtype=bool), rngs)
>>> world.out.obs.shape, world.state.t
((2, 9, 19), array([1, 1]))
"""

from __future__ import annotations

import numpy as np

from protocols import tracking as tk
from protocols.checks import check_int, check_nonneg_float
from protocols.dbp import DynamicBlocklist
from swarm.dbp_cases import DBPConfig

__all__ = ["TrackingWorld"]


class TrackingWorld:
    """B target-tracking swarms and their per-swarm blocklists.

    Parameters
    ----------
    num_envs : int
        Number of swarms B.
    n_robots, byzantine_fraction, defence, wmsr_f, attack, arena, radio_range, \
sensing_range, max_speed, target_speed, dt, noise, hop_limit, n_neighbours, \
connectivity_weight, max_cycles, false_accusations
        As :class:`envs.target_tracking_v0.raw_env`.

    Attributes
    ----------
    state : protocols.tracking.TrackingState
        The swarms.
    out : protocols.tracking.TrackingOutput
        Observations and metrics of the last step or reset.
    n_agents, obs_dim, max_cycles : int
        Cooperative robots per swarm, observation length, episode length.
    """

    def __init__(
        self,
        num_envs: int,
        *,
        n_robots: int = 20,
        byzantine_fraction: float = 0.1,
        defence: str = "dbp",
        wmsr_f: int = 1,
        attack: str = "fake",
        arena: float = 60.0,
        radio_range: float = 20.0,
        sensing_range: float = 15.0,
        max_speed: float = 1.0,
        target_speed: float = 1.0,
        dt: float = 1.0,
        noise: float = 0.5,
        hop_limit: int = 4,
        n_neighbours: int = 4,
        connectivity_weight: float = 1.0,
        max_cycles: int = 200,
        false_accusations: int = 3,
    ):
        self.max_cycles = check_int("max_cycles", max_cycles, low=1)
        self.config = DBPConfig(
            n_robots=n_robots,
            byzantine_fraction=byzantine_fraction,
            defence=defence,
            wmsr_f=wmsr_f,
            attack=attack,
            ticks=self.max_cycles,
            hop_limit=hop_limit,
            arena=arena,
            radio_range=radio_range,
            sensing_range=sensing_range,
            max_speed=max_speed,
            dt=dt,
            motion="random_waypoint",
            target_speed=target_speed,
            noise=noise,
            false_accusations=false_accusations,
        )
        c = self.config
        check_nonneg_float("max_speed", max_speed, positive=True)
        k = check_int("n_neighbours", n_neighbours, low=0)
        self.n_agents = c.n_robots - c.n_byzantine
        if self.n_agents < 1:
            raise ValueError("at least one cooperative robot is needed")
        self.obs_dim = 11 + 2 * k
        self.params = tk.TrackingParams(
            arena=float(c.arena),
            radio_range=float(c.radio_range),
            sensing_range=float(c.sensing_range),
            max_speed=float(c.max_speed),
            target_speed=float(c.target_speed),
            dt=float(c.dt),
            noise=float(c.noise),
            hop_limit=int(c.hop_limit),
            defence=tk.DEFENCES.index(c.defence),
            wmsr_f=int(c.wmsr_f),
            attack=tk.ATTACKS.index(c.attack),
            false_accusations=int(c.false_accusations),
            n_neighbours=k,
            connectivity_weight=float(
                check_nonneg_float("connectivity_weight", connectivity_weight)
            ),
        )
        self.num_envs = B = num_envs
        n = c.n_robots
        self.state = tk.new_state(B, n, c.n_byzantine, c.false_accusations)
        self.out = tk.new_output(B, self.n_agents, k)
        self.blocklists = [DynamicBlocklist(n) for _ in range(B)]
        self._draws = np.zeros((B, tk.n_draws(n)))
        # The generator behind each row of _pointers (kept alive while its addresses are used).
        self._pointers = np.zeros((B, 2), np.uint64)
        self._pointer_owner: list = [None] * B
        self._control = np.full((B, n, 2), np.nan)

    def __getstate__(self) -> dict:
        # Addresses mean nothing in a copy: its first step takes them afresh.
        state = self.__dict__.copy()
        state["_pointer_owner"] = [None] * self.num_envs
        return state

    def reset_one(self, b: int, rng: np.random.Generator) -> None:
        """Draw swarm ``b``'s initial state from ``rng`` (observe it with :meth:`observe`)."""
        c = self.config
        s = self.state
        n, a = c.n_robots, c.arena
        s.pos[b] = rng.uniform(0.0, a, size=(n, 2))
        s.waypoint[b] = rng.uniform(0.0, a, size=(n, 2))
        s.byzantine[b] = False
        s.byzantine[b, rng.choice(n, size=c.n_byzantine, replace=False)] = True
        for point in (s.target, s.decoy):
            point[b, 0] = rng.uniform(0.2 * a, 0.8 * a, size=2)
            point[b, 1] = rng.uniform(0.0, a, size=2)
        s.coop_idx[b] = np.flatnonzero(~s.byzantine[b])
        s.t[b] = 0
        s.vel[b] = 0.0
        s.blocked[b] = False
        s.sees[b] = False
        s.obs[b] = 0.0
        s.est[b] = a / 2
        s.best_ts[b] = -1
        s.slot_int[b] = 0
        s.slot_int[b, :, 1] = -1
        s.slot_vec[b] = 0.0
        s.holds[b] = False
        s.acc[b] = 0
        s.acc_count[b] = 0
        s.acc_live[b] = 0
        s.false_left[b] = np.where(s.byzantine[b], c.false_accusations, 0)
        self.blocklists[b] = DynamicBlocklist(n)

    def observe(self, which: np.ndarray) -> None:
        """Write the observations and metrics of the swarms in ``which`` into :attr:`out`."""
        tk.observe_swarms(self.state, self.params, which, self.out)

    def step(self, actions: np.ndarray, active: np.ndarray, rngs: list) -> None:
        """One tick of the active swarms.

        Parameters
        ----------
        actions : numpy.ndarray, shape (B, m, 2)
            Agents' velocities in units of ``max_speed`` (clipped to [-1, 1], NaN as 0).
        active : numpy.ndarray of bool, shape (B,)
            Swarms to step.
        rngs : list of numpy.random.Generator
            Each swarm's generator (this tick's uniforms are drawn from it).
        """
        s = self.state
        # Each swarm's uniforms as rngs[b].random(out=self._draws[b]), in one call.
        owner = self._pointer_owner
        for b in np.flatnonzero(active).tolist():
            if owner[b] is not rngs[b]:
                owner[b] = rngs[b]
                self._pointers[b] = tk.generator_pointers(rngs[b])
        tk.fill_draws(self._pointers, active, self._draws)
        a = np.asarray(actions)
        if a.dtype not in (np.float32, np.float64):
            a = a.astype(np.float64)
        a = np.broadcast_to(a, (self.num_envs, self.n_agents, 2))
        tk.commands(a, s.coop_idx, self.params.max_speed, self._control)
        if tk.tracking_step_unchecked(s, self.params, self._control, self._draws, active, self.out):
            raise RuntimeError(
                "an accusation did not fit the capacity bound: a cooperative "
                "robot accused a cooperative one"
            )
        for b in np.flatnonzero(self.out.finished):
            k = np.flatnonzero(s.acc[b, : s.acc_count[b], 2] == tk.ACC_FINISHED)
            self.blocklists[b].add_many(s.acc[b, k, :2])
            s.acc[b, k, 2] = tk.ACC_DONE
            s.blocked[b] = self.blocklists[b].blocked

    def metrics(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Tracking error, Byzantine and cooperative robots blocked, connected fraction (B,)."""
        s = self.state
        byz_blocked = (s.blocked & s.byzantine).sum(axis=1)
        coop_blocked = (s.blocked & ~s.byzantine).sum(axis=1)
        return (self.out.error.copy(), byz_blocked, coop_blocked, self.out.connected.copy())
