"""Cooperative target tracking under Byzantine lies, as a PettingZoo parallel environment.

The spec (agents, spaces, rewards, termination), the dynamics and the arguments are in
the docstring of :class:`raw_env` (``help(raw_env)``); :func:`parallel_env` and
:func:`env` build it.

Examples
--------
>>> from envs.target_tracking_v0 import parallel_env, pursue_policy
>>> env = parallel_env(n_robots=10, max_cycles=5)
>>> obs, infos = env.reset(seed=0)
>>> len(env.agents), obs["robot_0"].shape
(9, (19,))
>>> obs, rewards, term, trunc, infos = env.step({a: pursue_policy(o) for a, o in obs.items()})
>>> sorted(infos["robot_0"])
['byzantine_blocked', 'connected_fraction', 'cooperative_blocked', 'tracking_error']
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from gymnasium import spaces
from matplotlib.figure import Figure
from pettingzoo import ParallelEnv

from envs._common import (
    AgentSpacesMixin,
    FrameRenderMixin,
    HumanWindow,
    aec_from_parallel,
    check_actions,
    figure_to_rgb,
)
from envs.team import TeamEnv
from envs.tracking_world import TrackingWorld

__all__ = [
    "GYM_TEST_KWARGS",
    "TEST_KWARGS",
    "TargetTrackingTeamEnv",
    "env",
    "parallel_env",
    "pursue_policy",
    "raw_env",
]

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


#: The single source of every default: :class:`envs.tracking_world.TrackingWorld`'s.
_W = TrackingWorld.__init__.__kwdefaults__


class raw_env(FrameRenderMixin, AgentSpacesMixin, ParallelEnv):
    """Cooperative target tracking under Byzantine lies (PettingZoo parallel API).

    ==================  ==========================================================================
    Agents              ``robot_0 .. robot_{m-1}``: the m cooperative robots (in robot-id order;
                        which robots are Byzantine is drawn at each reset)
    Action space        ``Box(-1, 1, (2,), float32)``: commanded velocity in units of
                        ``max_speed`` (a norm above 1 is scaled down)
    Observation space   ``Box(-1, 1, (11 + 2K,), float32)``: own position / arena (2), own
                        velocity / max_speed (2), own target estimate / arena (2), estimate minus
                        position / arena (2), sees the target (1), neighbours / (n - 1) (1),
                        fraction of robots blocked (1, as of the start of the tick), the K
                        nearest neighbours' relative positions / radio range (2K, nearest first,
                        zero-padded)
    Rewards             shared: ``-(mean tracking error of cooperative robots) / arena
                        - connectivity_weight * (fraction of cooperative robots outside the
                        largest connected group of cooperative robots)``
    Termination         never; truncation after ``max_cycles`` ticks
    Info                ``tracking_error`` (units), ``byzantine_blocked``,
                        ``cooperative_blocked``, ``connected_fraction``
    ==================  ==========================================================================

    Underneath runs one swarm of :mod:`protocols.tracking` (the kernel the batched forms in
    :mod:`envs.tracking_vector` step for B swarms at once): robots that sense the target
    flood what they see, Byzantine robots report a decoy, and the cooperative robots defend
    with ``defence``: ``"dbp"`` (the sound suspicion rules of :mod:`swarm.dbp_cases`,
    accusations flooded through the swarm and the matching blocklist of
    :class:`protocols.dbp.DynamicBlocklist`), ``"wmsr"`` (trimmed consensus on the
    estimates) or ``"none"``. Byzantine robots move by random waypoint; the learning policy
    moves the cooperative ones. :func:`pursue_policy` is a ready policy: head for the own
    estimate of the target.

    Arguments:

    - ``n_robots``: swarm size.
    - ``byzantine_fraction``: fraction of Byzantine robots, in [0, 0.5).
    - ``defence``: ``"dbp"``, ``"wmsr"`` or ``"none"``.
    - ``wmsr_f``: W-MSR parameter when ``defence="wmsr"``.
    - ``attack``: ``"fake"``, ``"false_accusation"``, ``"silent"`` or ``"garbage"``.
    - ``false_accusations``: accusations each Byzantine robot makes under
      ``"false_accusation"``.
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

    metadata: ClassVar[dict] = {
        "render_modes": ["human", "rgb_array"],
        "name": "target_tracking_v0",
        "is_parallelizable": True,
        "render_fps": 5,
    }

    def __init__(
        self,
        n_robots: int = _W["n_robots"],
        byzantine_fraction: float = _W["byzantine_fraction"],
        defence: str = _W["defence"],
        wmsr_f: int = _W["wmsr_f"],
        attack: str = _W["attack"],
        arena: float = _W["arena"],
        radio_range: float = _W["radio_range"],
        sensing_range: float = _W["sensing_range"],
        max_speed: float = _W["max_speed"],
        target_speed: float = _W["target_speed"],
        dt: float = _W["dt"],
        noise: float = _W["noise"],
        hop_limit: int = _W["hop_limit"],
        n_neighbours: int = _W["n_neighbours"],
        connectivity_weight: float = _W["connectivity_weight"],
        max_cycles: int = _W["max_cycles"],
        false_accusations: int = _W["false_accusations"],
        render_mode: str | None = None,
    ):
        self.world = TrackingWorld(
            1,
            n_robots=n_robots,
            byzantine_fraction=byzantine_fraction,
            defence=defence,
            wmsr_f=wmsr_f,
            attack=attack,
            arena=arena,
            radio_range=radio_range,
            sensing_range=sensing_range,
            max_speed=max_speed,
            target_speed=target_speed,
            dt=dt,
            noise=noise,
            hop_limit=hop_limit,
            n_neighbours=n_neighbours,
            connectivity_weight=connectivity_weight,
            max_cycles=max_cycles,
            false_accusations=false_accusations,
        )
        self.config = self.world.config
        self.max_cycles = self.world.max_cycles
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of "
                f"{self.metadata['render_modes']}, got {render_mode!r}"
            )
        self.render_mode = render_mode
        self.possible_agents = [f"robot_{i}" for i in range(self.world.n_agents)]
        self.agents: list[str] = []
        dim = self.world.obs_dim
        self._observation_spaces = {
            a: spaces.Box(-1.0, 1.0, (dim,), np.float32) for a in self.possible_agents
        }
        self._action_spaces = {
            a: spaces.Box(-1.0, 1.0, (2,), np.float32) for a in self.possible_agents
        }
        self._rng: np.random.Generator | None = None
        self._active = np.ones(1, dtype=bool)
        self._window = HumanWindow(self.metadata["render_fps"])

    # ------------------------------------------------------------ read-only views
    @property
    def positions(self) -> np.ndarray:
        """Robot positions, shape (n, 2) (units)."""
        return self.world.state.pos[0]

    @property
    def byzantine(self) -> np.ndarray:
        """Which robots are Byzantine, shape (n,)."""
        return self.world.state.byzantine[0]

    @property
    def coop_idx(self) -> np.ndarray:
        """The cooperative robots (the agents, in order), shape (m,)."""
        return self.world.state.coop_idx[0]

    @property
    def blocked(self) -> np.ndarray:
        """The blocklist, shape (n,)."""
        return self.world.state.blocked[0]

    # ---------------------------------------------------------------- helpers
    def _observe(self) -> dict:
        obs = self.world.out.obs[0]
        return {a: obs[i].copy() for i, a in enumerate(self.possible_agents) if a in self.agents}

    def _metrics(self) -> dict:
        err, byz, coop, conn = self.world.metrics()
        return {
            "tracking_error": float(err[0]),
            "byzantine_blocked": int(byz[0]),
            "cooperative_blocked": int(coop[0]),
            "connected_fraction": float(conn[0]),
        }

    # ---------------------------------------------------------------- the loop
    def reset(self, seed: int | None = None, options: dict | None = None):
        """Draw a new swarm, target and Byzantine set; return observations and infos."""
        if seed is not None or self._rng is None:
            self._rng = np.random.default_rng(seed)
        self.world.reset_one(0, self._rng)
        self.world.observe(self._active)
        self.agents = list(self.possible_agents)
        info = self._metrics()
        return self._observe(), {a: dict(info) for a in self.agents}

    def step(self, actions: dict):
        """Move the cooperative robots, then one tick of sensing and communication."""
        if not self.agents:
            raise RuntimeError("step() called with no live agents; call reset() first")
        check_actions(actions, self.agents)
        act = np.zeros((1, self.world.n_agents, 2))
        index = {a: i for i, a in enumerate(self.possible_agents)}
        for agent, action in actions.items():
            a = np.asarray(action, dtype=np.float64).reshape(-1)
            if a.shape != (2,):
                raise ValueError(f"action of {agent} must have shape (2,), got {a.shape}")
            act[0, index[agent]] = a
        self.world.step(act, self._active, [self._rng])
        info = self._metrics()
        reward = float(self.world.out.reward[0])
        truncated = bool(self.world.state.t[0] >= self.max_cycles)
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
        s = self.world.state
        fig = Figure(figsize=(4.5, 4.5), dpi=80)
        ax = fig.add_subplot()
        pos = s.pos[0]
        byz = s.byzantine[0]
        ax.scatter(*pos[~byz].T, s=14, c="tab:blue", label="cooperative")
        ax.scatter(*pos[byz].T, s=22, c="tab:red", label="Byzantine")
        if s.blocked[0].any():
            ax.scatter(*pos[s.blocked[0]].T, s=60, marker="x", c="k", label="blocked")
        ax.scatter(*s.target[0, 0], s=160, marker="*", c="gold", edgecolors="k", label="target")
        ax.scatter(*s.decoy[0, 0], s=90, marker="*", c="tab:red", alpha=0.4, label="decoy")
        ax.set_xlim(0, self.config.arena)
        ax.set_ylim(0, self.config.arena)
        ax.set_aspect("equal")
        ax.set_title(f"tick {int(s.t[0])}, {self.config.defence}")
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
    Arguments as :class:`raw_env`. :class:`envs.tracking_vector.TargetTrackingVectorEnv`
    runs B of these in one kernel call per step.
    """

    def __init__(self, render_mode: str | None = None, **kwargs):
        super().__init__(raw_env, render_mode=render_mode, **kwargs)

    def step(self, action):
        """Step the team; the reward is the swarm's shared reward."""
        obs, _, terminated, truncated, info = super().step(action)
        return obs, float(self.par.world.out.reward[0]), terminated, truncated, info
