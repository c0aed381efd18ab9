"""Batched target tracking: B swarms stepped in one Numba call per step.

Two forms over the same swarms (the dynamics of :mod:`protocols.tracking`, which
:mod:`envs.target_tracking_v0` runs with B = 1):

- :class:`TargetTrackingVectorEnv`, a Gymnasium ``VectorEnv`` of the team view
  ``swarmgym/TargetTrackingTeam-v0``: sub-environment ``i`` seeded with ``s`` follows,
  bit for bit, :class:`envs.target_tracking_v0.TargetTrackingTeamEnv` reset with seed
  ``s`` (``gymnasium.make_vec("swarmgym/TargetTrackingTeam-v0", num_envs=B,
  vectorization_mode="vector_entry_point")`` builds it);
- :class:`TargetTrackingBatchEnv`, the per-agent form for MAPPO/IPPO code: observations
  ``(B, m, obs_dim)``, actions ``(B, m, 2)``, rewards / terminations / truncations
  ``(B, m)`` and infos as ``(B,)`` arrays; sub-environment ``i`` seeded with ``s`` follows
  ``target_tracking_v0.parallel_env`` reset with seed ``s``, bit for bit.

Seeding, partial resets (``reset(options={"reset_mask": mask})``), ``max_episode_steps``
and the autoreset modes (``NEXT_STEP``, the default, ``SAME_STEP`` and ``DISABLED``,
names in any case) are those of :class:`envs.batched.BatchedCore`.

Examples
--------
>>> import numpy as np
>>> from envs.tracking_vector import TargetTrackingBatchEnv
>>> env = TargetTrackingBatchEnv(2, n_robots=10, max_cycles=5)
>>> obs, infos = env.reset(seed=0)
>>> obs.shape, infos["tracking_error"].shape
((2, 9, 19), (2,))
>>> obs, rewards, terms, truncs, infos = env.step(np.zeros((2, env.n_agents, 2)))
>>> rewards.shape, bool(truncs.any())
((2, 9), False)
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode

from envs.batched import BatchedCore, BatchedVectorEnv
from envs.tracking_world import TrackingWorld

__all__ = ["TargetTrackingBatchEnv", "TargetTrackingVectorEnv"]

_INFO_KEYS = ("tracking_error", "byzantine_blocked", "cooperative_blocked", "connected_fraction")


class _TrackingSwarms:
    """The hooks of :class:`envs.batched.BatchedCore` over a :class:`TrackingWorld`."""

    def _setup(
        self,
        num_envs: int,
        autoreset_mode: AutoresetMode | str,
        max_episode_steps: int | None,
        kwargs: dict,
        *,
        team: bool,
    ) -> None:
        if "render_mode" in kwargs:
            raise TypeError("the batched target tracking takes no 'render_mode'")
        self._init_batch(num_envs, autoreset_mode, max_episode_steps)
        self.world = TrackingWorld(self.num_envs, **kwargs)
        self._rngs: list[np.random.Generator | None] = [None] * self.num_envs
        self._team_rngs: list[np.random.Generator | None] = [None] * self.num_envs
        self._team = team

    def _fresh_rng(self, b: int, seed: int | None) -> np.random.Generator:
        """Return the generator that draws sub-environment ``b``'s next episode.

        The team form does as ``TargetTrackingTeamEnv`` (its own generator seeds the
        parallel env at every reset), the per-agent form as ``raw_env`` (one generator,
        kept across resets unless a seed is given).
        """
        if self._team:
            if seed is not None or self._team_rngs[b] is None:
                self._team_rngs[b], _ = seeding.np_random(seed)
            self._rngs[b] = np.random.default_rng(int(self._team_rngs[b].integers(2**63)))
        elif seed is not None or self._rngs[b] is None:
            self._rngs[b] = np.random.default_rng(seed)
        return self._rngs[b]

    def _reset_envs(self, indices: np.ndarray, seeds: list[int | None]) -> None:
        """Draw new swarms ``indices`` and observe them."""
        for b, seed in zip(indices, seeds, strict=True):
            self.world.reset_one(int(b), self._fresh_rng(int(b), seed))
        which = np.zeros(self.num_envs, dtype=bool)
        which[indices] = True
        self.world.observe(which)

    def _infos(self) -> dict:
        """Return the metrics (B,) of :data:`_INFO_KEYS` and their masks (all true)."""
        infos = {}
        for key, value in zip(_INFO_KEYS, self.world.metrics(), strict=True):
            infos[key] = value
            infos["_" + key] = np.ones(self.num_envs, dtype=bool)
        return infos

    def _observe(self) -> tuple[np.ndarray, dict]:
        return self._obs(self.world.out.obs.copy()), self._infos()

    def _tick(self, actions: np.ndarray, active: np.ndarray):
        """Step the active swarms (actions (B, m, 2)): obs, rewards (B,), truncated (B,), infos."""
        world = self.world
        world.step(actions, active, self._rngs)
        truncated = world.state.t >= world.max_cycles
        return self._observe()[0], world.out.reward.copy(), truncated, self._infos()

    def _obs(self, obs: np.ndarray) -> np.ndarray:
        return obs


class TargetTrackingVectorEnv(_TrackingSwarms, BatchedVectorEnv):
    """B target-tracking swarms, one controller per swarm (``TargetTrackingTeam-v0``).

    ==================  ======================================================================
    Sub-environments    B swarms of ``n_robots`` robots; the m cooperative ones are steered
    Action space        ``Box(-1, 1, (B, 2 m), float32)``: each swarm's robots' velocities
                        in units of ``max_speed``, side by side (robot-id order)
    Observation space   ``Box(-1, 1, (B, m (11 + 2K)), float32)``: each swarm's agents'
                        observations side by side (see :mod:`envs.target_tracking_v0`)
    Rewards             ``(B,)``: ``-(mean tracking error) / arena - connectivity_weight
                        * (1 - connected fraction)`` per swarm
    Termination         never; truncation after ``max_cycles`` ticks
    Info                ``(B,)`` arrays: ``tracking_error``, ``byzantine_blocked``,
                        ``cooperative_blocked``, ``connected_fraction``
    ==================  ======================================================================

    Parameters
    ----------
    num_envs : int
        Number of swarms B, >= 1.
    autoreset_mode : AutoresetMode or str
        ``NEXT_STEP`` (default), ``SAME_STEP`` or ``DISABLED`` (see the module docstring).
    max_episode_steps : int, optional
        Truncate after this many steps if before ``max_cycles`` (as Gymnasium's
        ``TimeLimit`` around the single environment; ``make_vec`` passes the id's).
    **kwargs
        Arguments of :class:`envs.target_tracking_v0.raw_env` except ``render_mode``;
        unknown ones are an error.
    """

    def __init__(
        self,
        num_envs: int = 1,
        *,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        max_episode_steps: int | None = None,
        **kwargs,
    ):
        self._setup(num_envs, autoreset_mode, max_episode_steps, kwargs, team=True)
        w = self.world
        self._init_spaces(
            spaces.Box(-1.0, 1.0, (w.n_agents * w.obs_dim,), np.float32),
            spaces.Box(-1.0, 1.0, (2 * w.n_agents,), np.float32),
        )

    def _obs(self, obs: np.ndarray) -> np.ndarray:
        return obs.reshape(obs.shape[0], -1)

    def _advance(self, actions: np.ndarray, active: np.ndarray):
        """Step the active swarms with actions (B, 2 m); see the class docstring."""
        B, m = self.num_envs, self.world.n_agents
        obs, rewards, truncated, infos = self._tick(actions.reshape(B, m, 2), active)
        return obs, rewards, np.zeros(B, dtype=bool), truncated, infos


class TargetTrackingBatchEnv(_TrackingSwarms, BatchedCore):
    """B target-tracking swarms with per-agent arrays (for MAPPO / IPPO code).

    ==================  ======================================================================
    Agents              m cooperative robots per swarm (``n_agents``), in robot-id order
    Action              ``(B, m, 2)`` float: velocities in units of ``max_speed`` (clipped
                        to [-1, 1]; a norm above 1 is scaled down; NaN counts as 0)
    Observation         ``(B, m, obs_dim)`` float32 in [-1, 1], ``obs_dim = 11 + 2K`` (see
                        :mod:`envs.target_tracking_v0`)
    Rewards             ``(B, m)``: the swarm's shared reward, ``-(mean tracking error) /
                        arena - connectivity_weight * (1 - connected fraction)``
    Termination         never (``(B, m)`` False); truncation ``(B, m)`` after ``max_cycles``
    Info                ``(B,)`` arrays: ``tracking_error``, ``byzantine_blocked``,
                        ``cooperative_blocked``, ``connected_fraction``
    ==================  ======================================================================

    ``observation_space`` and ``action_space`` are one agent's spaces.

    Parameters
    ----------
    num_envs : int
        Number of swarms B, >= 1.
    autoreset_mode : AutoresetMode or str
        ``NEXT_STEP`` (default), ``SAME_STEP`` or ``DISABLED`` (see the module docstring).
    max_episode_steps : int, optional
        Truncate after this many steps if before ``max_cycles`` (as Gymnasium's
        ``TimeLimit`` around the single environment; ``make_vec`` passes the id's).
    **kwargs
        Arguments of :class:`envs.target_tracking_v0.raw_env` except ``render_mode``;
        unknown ones are an error.
    """

    metadata: ClassVar[dict[str, Any]] = {"autoreset_mode": AutoresetMode.NEXT_STEP}
    _agent_axis: ClassVar[bool] = True

    def __init__(
        self,
        num_envs: int = 1,
        *,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        max_episode_steps: int | None = None,
        **kwargs,
    ):
        self._setup(num_envs, autoreset_mode, max_episode_steps, kwargs, team=False)
        self.n_agents = self.world.n_agents
        self.obs_dim = self.world.obs_dim
        self.act_dim = 2
        self.observation_space = spaces.Box(-1.0, 1.0, (self.obs_dim,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)

    def step(self, actions):
        """Step every swarm with actions of shape (B, m, 2); see the class docstring.

        Returns
        -------
        observations : numpy.ndarray of float32, shape (B, m, obs_dim)
        rewards : numpy.ndarray of float64, shape (B, m)
        terminations, truncations : numpy.ndarray of bool, shape (B, m)
        infos : dict of (B,) arrays (and, under ``SAME_STEP``, ``final_obs`` /
            ``final_info``; see :class:`envs.batched.BatchedCore`)
        """
        B, m = self.num_envs, self.n_agents
        a = np.asarray(actions)
        if a.shape != (B, m, 2):
            raise ValueError(f"actions must have shape {(B, m, 2)}, got {a.shape}")
        return BatchedCore.step(self, a)

    def _advance(self, actions: np.ndarray, active: np.ndarray):
        """Step the active swarms with actions (B, m, 2); flags and rewards per agent."""
        m = self.n_agents
        obs, rewards, truncated, infos = self._tick(actions, active)
        return (
            obs,
            np.repeat(rewards[:, None], m, axis=1),
            np.zeros((self.num_envs, m), dtype=bool),
            np.repeat(truncated[:, None], m, axis=1),
            infos,
        )
