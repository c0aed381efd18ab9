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

Both take ``autoreset_mode``: ``NEXT_STEP`` (default: the step after a sub-environment
ends resets it, ignores its actions and returns its first observation with reward 0),
``SAME_STEP`` (it resets in the step that ends it; the last observation and infos are in
``infos["final_obs"]`` / ``infos["final_info"]``, masked by ``infos["_final_obs"]``) or
``DISABLED`` (no automatic reset: call ``reset(options={"reset_mask": mask})``; stepping
an ended sub-environment is an error). ``reset(seed=s)`` seeds sub-environment ``i`` with
``s + i``; a list gives each its own seed.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from envs.tracking_world import TrackingWorld
from protocols.checks import check_int

__all__ = ["TargetTrackingBatchEnv", "TargetTrackingVectorEnv"]

_INFO_KEYS = ("tracking_error", "byzantine_blocked", "cooperative_blocked", "connected_fraction")


def _autoreset_mode(value) -> AutoresetMode:
    if isinstance(value, AutoresetMode):
        return value
    names = {m.name.lower(): m for m in AutoresetMode}
    if isinstance(value, str) and value.lower() in names:
        return names[value.lower()]
    raise ValueError(
        f"autoreset_mode must be one of {', '.join(names)} (or an AutoresetMode), got {value!r}"
    )


class _Batched:
    """Seeding, resets and the autoreset modes shared by the two batched forms."""

    def _setup(
        self,
        num_envs: int,
        autoreset_mode,
        max_episode_steps: int | None,
        kwargs: dict,
        *,
        team: bool,
    ) -> None:
        if "render_mode" in kwargs:
            raise TypeError("the batched target tracking takes no 'render_mode'")
        self.num_envs = check_int("num_envs", num_envs, low=1)
        self.autoreset_mode = _autoreset_mode(autoreset_mode)
        self.world = TrackingWorld(self.num_envs, **kwargs)
        # A TimeLimit of max_episode_steps around the single env truncates at the same
        # tick as max_cycles, whichever comes first.
        self.max_episode_steps = (
            self.world.max_cycles
            if max_episode_steps is None
            else min(
                self.world.max_cycles, check_int("max_episode_steps", max_episode_steps, low=1)
            )
        )
        self._rngs: list[np.random.Generator | None] = [None] * self.num_envs
        self._team_rngs: list[np.random.Generator | None] = [None] * self.num_envs
        self._team = team
        self._done = np.zeros(self.num_envs, dtype=bool)
        self._started = False

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

    def _reset_one(self, b: int, seed: int | None) -> None:
        self.world.reset_one(b, self._fresh_rng(b, seed))
        self._done[b] = False

    def reset(self, *, seed: int | list[int | None] | None = None, options: dict | None = None):
        """Reset every sub-environment, or those in ``options["reset_mask"]``.

        Parameters
        ----------
        seed : int or list of (int or None), optional
            An int ``s`` seeds sub-environment ``i`` with ``s + i``; a list gives each
            its own.
        options : dict, optional
            ``{"reset_mask": bool array (B,)}`` for a partial reset.

        Returns
        -------
        observations : numpy.ndarray
            First observations (unchanged for sub-environments not reset).
        infos : dict
            ``tracking_error``, ``byzantine_blocked``, ``cooperative_blocked`` and
            ``connected_fraction``, each of shape (B,).
        """
        B = self.num_envs
        if seed is None:
            seeds = [None] * B
        elif isinstance(seed, int | np.integer):
            seeds = [int(seed) + i for i in range(B)]
        else:
            seeds = list(seed)
            if len(seeds) != B:
                raise ValueError(f"seed must be an int or a list of {B} seeds, got {len(seeds)}")
        mask = np.ones(B, dtype=bool)
        if options and options.get("reset_mask") is not None:
            mask = np.asarray(options["reset_mask"], dtype=bool)
            if mask.shape != (B,):
                raise ValueError(f"options['reset_mask'] must have shape ({B},)")
        if not self._started and not mask.all():
            raise ValueError("the first reset must reset every sub-environment")
        self._started = True
        for b in np.flatnonzero(mask):
            self._reset_one(int(b), seeds[b])
        self.world.observe(mask)
        return self._obs(self.world.out.obs.copy()), self._infos(np.ones(B, dtype=bool))

    def _infos(self, mask: np.ndarray) -> dict:
        infos = {}
        for key, value in zip(_INFO_KEYS, self.world.metrics(), strict=True):
            infos[key] = value
            infos["_" + key] = mask.copy()
        return infos

    def _step(self, actions: np.ndarray):
        """Step with actions (B, m, 2); return obs, rewards (B,), truncated (B,), infos."""
        B = self.num_envs
        world = self.world
        if self.autoreset_mode is AutoresetMode.DISABLED and self._done.any():
            raise ValueError(
                f"sub-environments {np.flatnonzero(self._done).tolist()} have "
                "ended; reset them with reset(options={'reset_mask': mask}) "
                "(autoreset_mode DISABLED)"
            )
        resetting = (
            self._done.copy()
            if self.autoreset_mode is AutoresetMode.NEXT_STEP
            else np.zeros(B, dtype=bool)
        )
        for b in np.flatnonzero(resetting):
            self._reset_one(int(b), None)
        if resetting.any():
            world.observe(resetting)
        active = ~resetting
        world.step(actions, active, [self._rngs[b] for b in range(B)])
        obs = world.out.obs.copy()
        rewards = np.where(active, world.out.reward, 0.0)
        truncated = active & (world.state.t >= self.max_episode_steps)
        infos = self._infos(np.ones(B, dtype=bool))
        self._done = truncated.copy()
        if self.autoreset_mode is AutoresetMode.SAME_STEP and truncated.any():
            # The ended episodes' last observations and infos go to final_obs / final_info;
            # the reset sub-environments report their new episode's first ones.
            final = np.empty(B, dtype=object)
            for b in np.flatnonzero(truncated):
                final[b] = self._obs(obs[b : b + 1])[0]
            final_info = infos
            for b in np.flatnonzero(truncated):
                self._reset_one(int(b), None)
            world.observe(truncated)
            obs = world.out.obs.copy()
            infos = self._infos(np.ones(B, dtype=bool))
            infos.update(
                final_obs=final,
                _final_obs=truncated.copy(),
                final_info=final_info,
                _final_info=truncated.copy(),
            )
            self._done[:] = False
        return self._obs(obs), rewards, truncated, infos

    def _obs(self, obs: np.ndarray) -> np.ndarray:
        return obs


class TargetTrackingVectorEnv(_Batched, VectorEnv):
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

    metadata: ClassVar[dict] = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(
        self,
        num_envs: int = 1,
        *,
        autoreset_mode=AutoresetMode.NEXT_STEP,
        max_episode_steps: int | None = None,
        **kwargs,
    ):
        self._setup(num_envs, autoreset_mode, max_episode_steps, kwargs, team=True)
        self.metadata = {**self.metadata, "autoreset_mode": self.autoreset_mode}
        w = self.world
        dim = w.n_agents * w.obs_dim
        self.single_observation_space = spaces.Box(-1.0, 1.0, (dim,), np.float32)
        self.single_action_space = spaces.Box(-1.0, 1.0, (2 * w.n_agents,), np.float32)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

    def _obs(self, obs: np.ndarray) -> np.ndarray:
        return obs.reshape(obs.shape[0], -1)

    def step(self, actions):
        """Step every swarm (actions of shape (B, 2 m)); see the class docstring.

        Returns
        -------
        observations, rewards, terminations, truncations, infos
            Arrays with a leading batch axis.
        """
        B, m = self.num_envs, self.world.n_agents
        a = np.asarray(actions)
        if a.shape != (B, 2 * m):
            raise ValueError(f"actions must have shape {(B, 2 * m)}, got {a.shape}")
        obs, rewards, truncated, infos = self._step(a.reshape(B, m, 2))
        return obs, rewards, np.zeros(B, dtype=bool), truncated, infos


class TargetTrackingBatchEnv(_Batched):
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

    def __init__(
        self,
        num_envs: int = 1,
        *,
        autoreset_mode=AutoresetMode.NEXT_STEP,
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
        infos : dict of (B,) arrays
        """
        B, m = self.num_envs, self.n_agents
        a = np.asarray(actions)
        if a.shape != (B, m, 2):
            raise ValueError(f"actions must have shape {(B, m, 2)}, got {a.shape}")
        obs, rewards, truncated, infos = self._step(a)
        return (
            obs,
            np.repeat(rewards[:, None], m, axis=1),
            np.zeros((B, m), dtype=bool),
            np.repeat(truncated[:, None], m, axis=1),
            infos,
        )
