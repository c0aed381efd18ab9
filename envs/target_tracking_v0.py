"""Cooperative target tracking under Byzantine lies, as a PettingZoo parallel environment.

==================  ==========================================================================
Agents              ``robot_0 .. robot_{m-1}``: the m cooperative robots (in robot-id order;
                    which robots are Byzantine is drawn at each reset)
Action space        ``Box(-1, 1, (2,), float32)``: commanded velocity in units of
                    ``max_speed`` (a norm above 1 is scaled down)
Observation space   ``Box(-1, 1, (11 + 2K,), float32)``: own position / arena (2), own
                    velocity / max_speed (2), own target estimate / arena (2), estimate minus
                    position / arena (2), sees the target (1), neighbours / (n - 1) (1),
                    fraction of robots blocked (1), the K nearest neighbours' relative
                    positions / radio range (2K, zero-padded)
Rewards             shared: ``-(mean tracking error of cooperative robots) / arena
                    - connectivity_weight * (fraction of cooperative robots outside the
                    largest connected group of cooperative robots)``
Termination         never; truncation after ``max_cycles`` ticks
Info                ``tracking_error`` (units), ``byzantine_blocked``,
                    ``cooperative_blocked``, ``connected_fraction``
==================  ==========================================================================

Underneath runs :class:`swarm.dbp_cases.TargetTracking`: robots that sense the target
flood what they see, Byzantine robots report a decoy, and the cooperative robots defend
with ``defence``: ``"dbp"`` (accusations and the matching blocklist), ``"wmsr"``
(trimmed consensus on the estimates) or ``"none"``. Byzantine robots move by random
waypoint; the learning policy moves the cooperative ones. :func:`pursue_policy` is a
ready policy: head for the own estimate of the target.

Arguments:

- ``n_robots``: swarm size.
- ``byzantine_fraction``: fraction of Byzantine robots, in [0, 0.5).
- ``defence``: ``"dbp"``, ``"wmsr"`` or ``"none"``.
- ``wmsr_f``: W-MSR parameter when ``defence="wmsr"``.
- ``attack``: ``"fake"``, ``"false_accusation"``, ``"silent"`` or ``"garbage"``.
- ``arena``: side of the square arena (units).
- ``radio_range``, ``sensing_range``: radii (units).
- ``max_speed``: robots' speed bound (units per second); ``target_speed``: the target's.
- ``dt``: seconds per tick; ``noise``: sensing noise bound (units).
- ``hop_limit``: hop limit of flooded observations.
- ``n_neighbours``: K, neighbours in the observation.
- ``connectivity_weight``: weight of the connectivity penalty.
- ``max_cycles``: ticks before truncation.
- ``render_mode``: None, ``"rgb_array"`` or ``"human"``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from gymnasium import spaces
from matplotlib.figure import Figure
from pettingzoo import ParallelEnv
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from envs._common import (
    AgentSpacesMixin,
    FrameRenderMixin,
    HumanWindow,
    aec_from_parallel,
    figure_to_rgb,
)
from envs.team import TeamEnv
from protocols._checks import check_int, check_nonneg_float
from swarm.dbp_cases import DBPConfig, TargetTracking

__all__ = ["GYM_TEST_KWARGS", "TEST_KWARGS", "TargetTrackingTeamEnv", "env", "parallel_env",
           "pursue_policy", "raw_env"]

#: Small, fast arguments for the conformance suite.
TEST_KWARGS = {"n_robots": 12, "max_cycles": 30}
GYM_TEST_KWARGS = {"swarmgym/TargetTrackingTeam-v0": {"n_robots": 12, "max_cycles": 30}}


def pursue_policy(observation: np.ndarray) -> np.ndarray:
    """Head at full speed for the own estimate of the target.

    Parameters
    ----------
    observation : numpy.ndarray
        An agent's observation.

    Returns
    -------
    numpy.ndarray of float32, shape (2,)
        The action.
    """
    rel = np.asarray(observation, dtype=np.float64)[6:8]
    norm = float(np.hypot(*rel))
    return (rel / norm if norm > 1e-12 else np.zeros(2)).astype(np.float32)


class raw_env(FrameRenderMixin, AgentSpacesMixin, ParallelEnv):
    """Target tracking environment; see the module docstring."""

    metadata: ClassVar[dict] = {"render_modes": ["human", "rgb_array"],
                                "name": "target_tracking_v0", "is_parallelizable": True,
                                "render_fps": 5}

    def __init__(
        self,
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
        render_mode: str | None = None,
    ):
        self.config = DBPConfig(
            n_robots=n_robots, byzantine_fraction=byzantine_fraction, defence=defence,
            wmsr_f=wmsr_f, attack=attack, ticks=check_int("max_cycles", max_cycles, low=1),
            hop_limit=hop_limit, arena=arena, radio_range=radio_range,
            sensing_range=sensing_range, max_speed=max_speed, dt=dt,
            motion="random_waypoint", target_speed=target_speed, noise=noise)
        check_nonneg_float("max_speed", max_speed, positive=True)
        self.k = check_int("n_neighbours", n_neighbours, low=0)
        self.connectivity_weight = check_nonneg_float("connectivity_weight", connectivity_weight)
        self.max_cycles = max_cycles
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of "
                             f"{self.metadata['render_modes']}, got {render_mode!r}")
        self.render_mode = render_mode
        m = self.config.n_robots - self.config.n_byzantine
        if m < 1:
            raise ValueError("at least one cooperative robot is needed")
        self.possible_agents = [f"robot_{i}" for i in range(m)]
        self.agents: list[str] = []
        dim = 11 + 2 * self.k
        self._observation_spaces = {a: spaces.Box(-1.0, 1.0, (dim,), np.float32)
                                    for a in self.possible_agents}
        self._action_spaces = {a: spaces.Box(-1.0, 1.0, (2,), np.float32)
                               for a in self.possible_agents}
        self._rng: np.random.Generator | None = None
        self.case: TargetTracking | None = None
        self._window = HumanWindow(self.metadata["render_fps"])

    # ---------------------------------------------------------------- helpers
    def _observe(self) -> dict:
        c = self.config
        case = self.case
        pos = case.swarm.positions
        vel = case.swarm.velocities / c.max_speed
        est = case.est
        indptr, _ = case.graph
        deg = np.diff(indptr) / max(c.n_robots - 1, 1)
        frac_blocked = float(case.blocked.mean())
        coop = case.coop_idx
        rel_nb = np.zeros((coop.size, 2 * self.k))
        if self.k and c.n_robots > 1:
            kk = min(self.k, c.n_robots - 1)
            dist, idx = cKDTree(pos).query(pos[coop], k=kk + 1)
            idx = idx.reshape(coop.size, -1)[:, 1:]
            dist = dist.reshape(coop.size, -1)[:, 1:]
            rel = (pos[idx] - pos[coop][:, None, :]) / max(c.radio_range, 1e-12)
            rel[dist > c.radio_range] = 0.0
            rel_nb[:, :2 * kk] = rel.reshape(coop.size, -1)
        obs = np.column_stack([
            pos[coop] / c.arena, vel[coop], est[coop] / c.arena, (est[coop] - pos[coop]) / c.arena,
            case.sees[coop].astype(float), deg[coop], np.full(coop.size, frac_blocked), rel_nb])
        obs = np.clip(np.nan_to_num(obs, nan=0.0), -1.0, 1.0).astype(np.float32)
        return {a: obs[i] for i, a in enumerate(self.possible_agents) if a in self.agents}

    def _metrics(self) -> dict:
        case = self.case
        indptr, indices = case.graph
        n = self.config.n_robots
        adj = csr_matrix((np.ones(indices.size), indices, indptr), shape=(n, n))
        coop = case.coop_idx
        _, labels = connected_components(adj[coop][:, coop], directed=False)
        connected = float(np.bincount(labels).max() / coop.size)
        return {"tracking_error": float(np.mean(case._errors())),
                "byzantine_blocked": int(case.blocked[case.byzantine].sum()),
                "cooperative_blocked": int(case.blocked[case.coop].sum()),
                "connected_fraction": connected}

    # ---------------------------------------------------------------- the loop
    def reset(self, seed: int | None = None, options: dict | None = None):
        """Draw a new swarm, target and Byzantine set; return observations and infos."""
        if seed is not None or self._rng is None:
            self._rng = np.random.default_rng(seed)
        self.case = TargetTracking(self.config, self._rng)
        self.agents = list(self.possible_agents)
        info = self._metrics()
        return self._observe(), {a: dict(info) for a in self.agents}

    def step(self, actions: dict):
        """Move the cooperative robots, then one tick of sensing and communication."""
        if not self.agents:
            raise RuntimeError("step() called with no live agents; call reset() first")
        c = self.config
        case = self.case
        control = np.full((c.n_robots, 2), np.nan)
        index = {a: int(case.coop_idx[i]) for i, a in enumerate(self.possible_agents)}
        for agent, action in actions.items():
            if agent not in index:
                raise KeyError(f"unknown agent {agent!r}")
            a = np.asarray(action, dtype=np.float64).reshape(-1)
            if a.shape != (2,):
                raise ValueError(f"action of {agent} must have shape (2,), got {a.shape}")
            a = np.clip(np.nan_to_num(a, nan=0.0), -1.0, 1.0)
            control[index[agent]] = a * c.max_speed
        case.control = control
        case.step()
        info = self._metrics()
        reward = (-info["tracking_error"] / c.arena
                  - self.connectivity_weight * (1.0 - info["connected_fraction"]))
        truncated = case.t >= self.max_cycles
        obs = self._observe()
        rewards = dict.fromkeys(self.agents, reward)
        terms = dict.fromkeys(self.agents, False)
        truncs = dict.fromkeys(self.agents, truncated)
        infos = {a: dict(info) for a in self.agents}
        if truncated:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return obs, rewards, terms, truncs, infos

    # ------------------------------------------------------------- rendering
    def _frame(self) -> np.ndarray:
        """Draw the swarm: cooperative, Byzantine and blocked robots, target and decoy."""
        case = self.case
        fig = Figure(figsize=(4.5, 4.5), dpi=80)
        ax = fig.add_subplot()
        pos = case.swarm.positions
        ax.scatter(*pos[case.coop].T, s=14, c="tab:blue", label="cooperative")
        ax.scatter(*pos[case.byzantine].T, s=22, c="tab:red", label="Byzantine")
        if case.blocked.any():
            ax.scatter(*pos[case.blocked].T, s=60, marker="x", c="k", label="blocked")
        ax.scatter(*case.target.pos, s=160, marker="*", c="gold", edgecolors="k",
                   label="target")
        ax.scatter(*case.decoy.pos, s=90, marker="*", c="tab:red", alpha=0.4, label="decoy")
        ax.set_xlim(0, self.config.arena)
        ax.set_ylim(0, self.config.arena)
        ax.set_aspect("equal")
        ax.set_title(f"tick {case.t}, {self.config.defence}")
        ax.legend(loc="upper right", fontsize=6)
        return figure_to_rgb(fig)


def parallel_env(**kwargs) -> raw_env:
    """Build the parallel environment (see the module docstring for the arguments)."""
    return raw_env(**kwargs)


def env(**kwargs):
    """Build the AEC environment, derived from the parallel one with ``parallel_to_aec``."""
    return aec_from_parallel(raw_env, **kwargs)


class TargetTrackingTeamEnv(TeamEnv):
    """One controller for all cooperative robots (``swarmgym/TargetTrackingTeam-v0``).

    Observations and actions are the agents' side by side; the reward is the shared one.
    Arguments as :class:`raw_env`.
    """

    def __init__(self, render_mode: str | None = None, **kwargs):
        super().__init__(raw_env, render_mode=render_mode, **kwargs)
