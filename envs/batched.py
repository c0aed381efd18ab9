"""Batched environments: B independent sub-environments stepped by one call.

Two forms share one autoreset machine (:class:`BatchedCore`):

- :class:`BatchedVectorEnv`, a :class:`gymnasium.vector.VectorEnv` for a one-controller
  (team) view: observations ``(B, obs_dim)``, actions ``(B, act_dim)``, rewards,
  terminations and truncations ``(B,)``. Registered ids give it as their
  ``vector_entry_point``, so ``gymnasium.make_vec(id)`` returns it.
- :class:`BatchedParallelEnv`, the per-agent form for MAPPO / IPPO-style code (the
  shape VMAS gives, in numpy): observations ``(B, n_agents, obs_dim)``, actions
  ``(B, n_agents, act_dim)``, rewards, terminations and truncations
  ``(B, n_agents)``, infos a dict of arrays with a leading batch axis; no per-step
  dicts of agents. Agent ``j`` of axis 1 is ``possible_agents[j]`` of the matching
  PettingZoo environment, and every agent of a sub-environment ends together.

Both keep the rule of the single environments: sub-environment ``i`` reset with seed
``s`` follows bit for bit the environment reset with seed ``s``, including across
automatic resets. ``reset(seed=s)`` seeds sub-environment ``i`` with ``s + i`` (a list
gives each its own), as Gymnasium's vector environments do.

Autoreset (``autoreset_mode`` constructor argument and attribute, also in
``metadata["autoreset_mode"]``), as Gymnasium documents it:

- ``NEXT_STEP`` (default): the step after a sub-environment ends resets it (unseeded,
  continuing its generator), ignores its action and returns its first observation
  with reward 0 and both flags false.
- ``SAME_STEP``: the step that ends a sub-environment resets it at once and returns the
  new episode's first observation; the ended episode's last observation and infos are
  in ``infos["final_obs"]`` (an object array, None where nothing ended) and
  ``infos["final_info"]``, masked by ``infos["_final_obs"]`` / ``infos["_final_info"]``.
- ``DISABLED``: nothing resets by itself; ``reset(options={"reset_mask": mask})``
  resets the masked sub-environments, and stepping one that ended before it is reset
  is an error.

``max_episode_steps`` (None for none) truncates a sub-environment after that many
steps of an episode, as Gymnasium's ``TimeLimit`` does around a single environment.

A subclass implements three hooks over its own state arrays:

- ``_reset_envs(indices, seeds)``: reset those sub-environments (``seeds[j]`` for
  ``indices[j]``; None continues the sub-environment's generator);
- ``_observe() -> (observations, infos)``: the current observations and infos of every
  sub-environment;
- ``_advance(actions, active) -> (observations, rewards, terminated, truncated,
  infos)``: step the sub-environments where ``active`` is true (the others keep their
  state) and return every sub-environment's results.

Examples
--------
>>> import gymnasium, envs
>>> vec = gymnasium.make_vec("swarmgym/ByzantineConsensusAttack-v0", num_envs=2,
...                          autoreset_mode="SAME_STEP", n_robots=10, n_byzantine=1)
>>> type(vec).__name__, vec.autoreset_mode.name
('ByzantineConsensusVectorEnv', 'SAME_STEP')
>>> obs, infos = vec.reset(seed=0)
>>> obs.shape
(2, 21)
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv

from protocols.checks import check_int

__all__ = [
    "AutoresetError",
    "BatchedCore",
    "BatchedParallelEnv",
    "BatchedVectorEnv",
    "autoreset_mode_from",
]


class AutoresetError(RuntimeError, ValueError):
    """A refused call: stepping an ended sub-environment (``DISABLED``), a partial first reset.

    It is a :class:`RuntimeError` (a call out of order) and a :class:`ValueError` (the
    ``reset_mask`` the call needs is missing or partial), so callers catching either keep
    working.
    """


def autoreset_mode_from(value: AutoresetMode | str) -> AutoresetMode:
    """Read an autoreset mode given as :class:`AutoresetMode` or its name or value.

    Parameters
    ----------
    value : AutoresetMode or str
        ``AutoresetMode.NEXT_STEP``, ``"NEXT_STEP"`` or ``"NextStep"`` (and likewise;
        names and values in any case, e.g. ``"disabled"``).

    Returns
    -------
    AutoresetMode
        The mode.
    """
    if isinstance(value, AutoresetMode):
        return value
    if isinstance(value, str):
        for mode in AutoresetMode:
            if value.lower() in (mode.name.lower(), mode.value.lower()):
                return mode
    allowed = ", ".join(m.name for m in AutoresetMode)
    raise ValueError(f"autoreset_mode must be one of {allowed}, got {value!r}")


class BatchedCore(abc.ABC):
    """Seeding, partial resets, autoreset modes and the time limit of a batched env.

    Subclasses call :meth:`_init_batch` in ``__init__`` and implement the hooks named in
    the module docstring. ``_agent_axis`` is true for the per-agent form (flags of shape
    ``(B, n_agents)``).
    """

    _agent_axis: ClassVar[bool] = False

    def _init_batch(
        self, num_envs: int, autoreset_mode: AutoresetMode | str, max_episode_steps: int | None
    ) -> None:
        self.num_envs = check_int("num_envs", num_envs, low=1)
        self.autoreset_mode = autoreset_mode_from(autoreset_mode)
        self.max_episode_steps = (
            None
            if max_episode_steps is None
            else check_int("max_episode_steps", max_episode_steps, low=1)
        )
        self.metadata = {**type(self).metadata, "autoreset_mode": self.autoreset_mode}
        self._ended = np.zeros(self.num_envs, dtype=bool)
        self._elapsed = np.zeros(self.num_envs, dtype=np.int64)
        self._was_reset = False

    # ------------------------------------------------------------------ hooks
    @abc.abstractmethod
    def _reset_envs(self, indices: np.ndarray, seeds: list[int | None]) -> None:
        """Reset sub-environments ``indices`` (``seeds[j]`` for ``indices[j]``)."""

    @abc.abstractmethod
    def _observe(self) -> tuple[np.ndarray, dict]:
        """Return every sub-environment's current observation and infos."""

    @abc.abstractmethod
    def _advance(self, actions: np.ndarray, active: np.ndarray) -> tuple:
        """Step the ``active`` sub-environments; return every one's step results."""

    # ------------------------------------------------------------------ API
    def _seeds(self, seed) -> list[int | None]:
        B = self.num_envs
        if seed is None:
            return [None] * B
        if isinstance(seed, int | np.integer) and not isinstance(seed, bool):
            return [int(seed) + i for i in range(B)]
        seeds = list(seed)
        if len(seeds) != B:
            raise ValueError(f"seed must be an int or a list of {B} seeds, got {len(seeds)}")
        return seeds

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict | None = None
    ) -> tuple[np.ndarray, dict]:
        """Reset every sub-environment, or those in ``options["reset_mask"]``.

        Parameters
        ----------
        seed : int or list of (int or None), optional
            An int ``s`` seeds sub-environment ``i`` with ``s + i``; a list gives each
            its own; None continues each sub-environment's generator.
        options : dict, optional
            ``{"reset_mask": bool array (B,)}`` resets only the masked ones (None: all).

        Returns
        -------
        observations : numpy.ndarray
            Every sub-environment's observation (leading axis B; unchanged for those
            not reset).
        infos : dict
            Arrays with a leading batch axis.
        """
        seeds = self._seeds(seed)
        mask = np.ones(self.num_envs, dtype=bool)
        if options and options.get("reset_mask") is not None:
            mask = np.asarray(options["reset_mask"])
            if mask.dtype != np.bool_ or mask.shape != (self.num_envs,):
                raise ValueError(
                    f"options['reset_mask'] must be a bool array of shape "
                    f"({self.num_envs},), got {mask.dtype} {mask.shape}"
                )
            if not self._was_reset and not mask.all():
                raise AutoresetError("the first reset() must reset every sub-environment")
        idx = np.flatnonzero(mask)
        self._reset_envs(idx, [seeds[i] for i in idx])
        self._ended[idx] = False
        self._elapsed[idx] = 0
        self._was_reset = True
        return self._observe()

    def _flags(self, x: np.ndarray) -> np.ndarray:
        """Per sub-environment view of a flag array (any agent's flag: all end together)."""
        return x.any(axis=1) if self._agent_axis else x

    def _per_flag(self, x: np.ndarray) -> np.ndarray:
        """Broadcast a per sub-environment flag to the flag arrays' shape."""
        return np.repeat(x[:, None], self.n_agents, axis=1) if self._agent_axis else x

    def step(self, actions) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        """Step every sub-environment, resetting ended ones as ``autoreset_mode`` says.

        Parameters
        ----------
        actions : array_like
            Actions of every sub-environment (leading axis B; see the subclass).

        Returns
        -------
        observations, rewards, terminations, truncations, infos
            Arrays with a leading batch axis; ``infos`` a dict of them.
        """
        if not self._was_reset:
            raise RuntimeError("step() called before reset()")
        mode = self.autoreset_mode
        active = np.ones(self.num_envs, dtype=bool)
        if mode == AutoresetMode.NEXT_STEP and self._ended.any():
            idx = np.flatnonzero(self._ended)
            self._reset_envs(idx, [None] * idx.size)
            self._elapsed[idx] = 0
            active = ~self._ended
        elif mode == AutoresetMode.DISABLED and self._ended.any():
            raise AutoresetError(
                f"sub-environments {np.flatnonzero(self._ended).tolist()} ended; with "
                "autoreset_mode DISABLED reset them with reset(options={'reset_mask': ...}) "
                "before stepping"
            )
        obs, rewards, terminated, truncated, infos = self._advance(actions, active)
        live = self._per_flag(active)
        rewards = np.where(live, rewards, 0.0)
        terminated = terminated & live
        truncated = truncated & live
        self._elapsed[active] += 1
        if self.max_episode_steps is not None:
            out_of_time = active & (self._elapsed >= self.max_episode_steps)
            truncated = truncated | self._per_flag(out_of_time)
        ended = self._flags(terminated) | self._flags(truncated)
        if mode == AutoresetMode.SAME_STEP and ended.any():
            idx = np.flatnonzero(ended)
            final_obs = np.full(self.num_envs, None, dtype=object)
            for i in idx:
                final_obs[i] = obs[i].copy()
            final_info = {k: v.copy() for k, v in infos.items()}
            final_info.update({f"_{k}": ended.copy() for k in infos if not k.startswith("_")})
            self._reset_envs(idx, [None] * idx.size)
            self._elapsed[idx] = 0
            obs, infos = self._observe()
            infos = {
                **infos,
                "final_obs": final_obs,
                "_final_obs": ended.copy(),
                "final_info": final_info,
                "_final_info": ended.copy(),
            }
            ended = np.zeros_like(ended)
        self._ended = ended
        return obs, rewards, terminated, truncated, infos


class BatchedVectorEnv(BatchedCore, VectorEnv):
    """A Gymnasium vector environment of B team views stepped together.

    Subclasses set ``single_observation_space`` and ``single_action_space`` and call
    :meth:`_init_spaces` after :meth:`BatchedCore._init_batch`. Actions are checked
    against the batched action space's shape (``(B, act_dim)``) and given to
    ``_advance`` as float64.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "autoreset_mode": AutoresetMode.NEXT_STEP,
        "render_modes": [],
    }

    def _init_spaces(
        self, single_observation_space: spaces.Box, single_action_space: spaces.Box
    ) -> None:
        from gymnasium.vector.utils import batch_space

        self.single_observation_space = single_observation_space
        self.single_action_space = single_action_space
        self.observation_space = batch_space(single_observation_space, self.num_envs)
        self.action_space = batch_space(single_action_space, self.num_envs)

    def step(self, actions):
        """Step every sub-environment; ``actions`` has shape ``(B, act_dim)``.

        See :meth:`BatchedCore.step` for the results.
        """
        a = np.asarray(actions, dtype=np.float64)
        if a.shape != self.action_space.shape:
            raise ValueError(f"actions must have shape {self.action_space.shape}, got {a.shape}")
        return BatchedCore.step(self, a)


class BatchedParallelEnv(BatchedCore):
    """B copies of a PettingZoo parallel environment with every agent's data batched.

    The attributes a MAPPO / IPPO loop needs:

    - ``possible_agents`` (list of str, the order of axis 1) and ``n_agents``;
    - ``single_agent_observation_space`` ``Box((obs_dim,))`` and
      ``single_agent_action_space`` ``Box((act_dim,))``, the same for every agent;
    - ``observation_space`` ``Box((B, n_agents, obs_dim))`` and ``action_space``
      ``Box((B, n_agents, act_dim))``;
    - ``num_envs``, ``autoreset_mode``, ``max_episode_steps``.

    ``reset`` returns observations ``(B, n_agents, obs_dim)`` and infos; ``step`` takes
    actions ``(B, n_agents, act_dim)`` and returns observations, rewards
    ``(B, n_agents)`` float64, terminations and truncations ``(B, n_agents)`` bool and
    infos (arrays of shape ``(B,)`` or ``(B, n_agents)``). Subclasses call
    :meth:`_init_spaces` after :meth:`BatchedCore._init_batch`.
    """

    metadata: ClassVar[dict[str, Any]] = {"autoreset_mode": AutoresetMode.NEXT_STEP}
    _agent_axis: ClassVar[bool] = True

    def _init_spaces(
        self,
        possible_agents: list[str],
        single_agent_observation_space: spaces.Box,
        single_agent_action_space: spaces.Box,
    ) -> None:
        self.possible_agents = list(possible_agents)
        self.n_agents = len(self.possible_agents)
        self.single_agent_observation_space = single_agent_observation_space
        self.single_agent_action_space = single_agent_action_space
        self.observation_space = _stack_box(
            single_agent_observation_space, (self.num_envs, self.n_agents)
        )
        self.action_space = _stack_box(single_agent_action_space, (self.num_envs, self.n_agents))

    def step(self, actions):
        """Step every sub-environment; ``actions`` has shape ``(B, n_agents, act_dim)``.

        See :meth:`BatchedCore.step` for the results.
        """
        a = np.asarray(actions, dtype=np.float64)
        if a.shape != self.action_space.shape:
            raise ValueError(
                f"actions must have shape {self.action_space.shape} "
                f"(num_envs, n_agents, act_dim), got {a.shape}"
            )
        return BatchedCore.step(self, a)

    def close(self) -> None:
        """Nothing to release."""


def _stack_box(space: spaces.Box, lead: tuple[int, ...]) -> spaces.Box:
    """``space`` repeated over the leading axes ``lead``."""
    shape = (*lead, *space.shape)
    return spaces.Box(
        np.broadcast_to(space.low, shape).copy(),
        np.broadcast_to(space.high, shape).copy(),
        dtype=space.dtype,
    )
