"""The consensus defender role, per agent and batched: B swarms of honest robots.

:class:`ConsensusDefenderBatchedEnv` is the :class:`envs.batched.BatchedParallelEnv` form
of ``byzantine_consensus_v0`` with ``role="defender"``: every honest robot of every swarm
is an agent, and one call steps all of them from one action array, with no per-step
dicts. Sub-environment ``i`` reset with seed ``s`` is bit for bit the PettingZoo
environment reset with seed ``s`` (observations, rewards, ends and infos), also across
automatic resets.

Examples
--------
>>> import numpy as np
>>> from envs.consensus_batched import ConsensusDefenderBatchedEnv
>>> env = ConsensusDefenderBatchedEnv(4, n_robots=10, n_byzantine=1)
>>> obs, infos = env.reset(seed=0)
>>> obs.shape
(4, 9, 22)
>>> obs, rew, term, trunc, infos = env.step(np.zeros((4, 9, 1)))
>>> rew.shape, term.shape, infos["honest_spread"].shape
((4, 9), (4, 9), (4,))
"""

from __future__ import annotations

import numpy as np
from gymnasium.vector import AutoresetMode

from envs._consensus_world import ConsensusConfig, ConsensusWorld
from envs.batched import BatchedParallelEnv
from envs.byzantine_consensus_v0 import raw_env

__all__ = ["ConsensusDefenderBatchedEnv"]


class ConsensusDefenderBatchedEnv(BatchedParallelEnv):
    """B swarms whose honest robots are the agents, against a built-in attack.

    ==================  ===============================================================
    Agents (axis 1)     ``robot_0 .. robot_{n-F-1}``, the honest robots, as in
                        ``byzantine_consensus_v0`` with ``role="defender"``
    Actions             ``(B, n - F, 1)`` in ``[-1, 1]``: each robot's next value,
                        mapped onto ``[-b, 1 + b]`` hull units (NaN keeps the value)
    Observations        ``(B, n - F, 2n + 2)`` float32: own value, elapsed fraction,
                        the message from each robot this round, who sent one
    Rewards             ``(B, n - F)``: ``-|x_i - mean| - hull_penalty * (distance
                        outside the honest hull)``, in hull units
    Ends                every agent of a swarm when its honest spread falls below
                        ``tol`` (termination) or after ``max_cycles`` rounds
                        (truncation)
    Infos               ``honest_spread``, ``hull_violation``, ``honest_mean``: (B,)
    ==================  ===============================================================

    Parameters
    ----------
    num_envs : int
        Number of swarms B, >= 1.
    autoreset_mode : AutoresetMode or str
        ``NEXT_STEP`` (default), ``SAME_STEP`` or ``DISABLED``; see :mod:`envs.batched`.
    max_episode_steps : int, optional
        Time limit per episode on top of ``max_cycles``.
    **kwargs
        Arguments of :class:`envs.byzantine_consensus_v0.raw_env` except ``role``,
        ``protocol``, ``f`` and ``render_mode`` (``n_robots``, ``n_byzantine``,
        ``attack``, ``radio_range``, ``message_bound``, ``tol``, ``max_cycles``,
        ``hull_penalty``); unknown ones are an error.
    """

    def __init__(
        self,
        num_envs: int,
        *,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        max_episode_steps: int | None = None,
        **kwargs,
    ):
        for bad in ("role", "protocol", "f", "render_mode"):
            if bad in kwargs:
                raise TypeError(f"ConsensusDefenderBatchedEnv takes no {bad!r}")
        self._init_batch(num_envs, autoreset_mode, max_episode_steps)
        self.config = ConsensusConfig(role="defender", **kwargs)
        template = raw_env(role="defender", **kwargs)
        first = template.possible_agents[0]
        self._init_spaces(
            template.possible_agents,
            template.observation_space(first),
            template.action_space(first),
        )
        c = self.config
        self.worlds = [ConsensusWorld(c) for _ in range(self.num_envs)]
        self._rngs: list[np.random.Generator | None] = [None] * self.num_envs
        self._obs = np.zeros(self.observation_space.shape, dtype=np.float32)
        self._spread = np.zeros(self.num_envs)
        self._mean = np.zeros(self.num_envs)

    def _reset_envs(self, indices: np.ndarray, seeds: list[int | None]) -> None:
        for b, seed in zip(indices, seeds, strict=True):
            if seed is not None or self._rngs[b] is None:
                self._rngs[b] = np.random.default_rng(seed)
            w = self.worlds[b]
            w.reset(self._rngs[b])
            w.gather(w.builtin_attack_messages())
            self._spread[b], _, self._mean[b] = w.honest_stats()
            w.defender_observations(self._obs[b])

    def _infos(self) -> dict:
        every = np.ones(self.num_envs, dtype=bool)
        return {
            "honest_spread": self._spread.copy(),
            "_honest_spread": every,
            "hull_violation": np.array([w.violation for w in self.worlds]),
            "_hull_violation": every.copy(),
            "honest_mean": self._mean.copy(),
            "_honest_mean": every.copy(),
        }

    def _observe(self) -> tuple[np.ndarray, dict]:
        return self._obs.copy(), self._infos()

    def _advance(self, actions: np.ndarray, active: np.ndarray):
        """One defender round of every active swarm (the worlds' own methods, per swarm)."""
        c = self.config
        units = 0.5 + (0.5 + c.message_bound) * np.clip(actions[..., 0], -1.0, 1.0)
        rewards = np.zeros((self.num_envs, self.n_agents))
        for b in np.flatnonzero(active):
            w = self.worlds[b]
            self._spread[b], self._mean[b] = w.defender_round(units[b])
            rewards[b] = w.defender_rewards(self._mean[b])
            w.defender_observations(self._obs[b])
        t = np.array([w.t for w in self.worlds])
        done = self._spread < c.tol
        terminated = np.repeat(done[:, None], self.n_agents, axis=1)
        truncated = np.repeat(((t >= c.max_cycles) & ~done)[:, None], self.n_agents, axis=1)
        return self._obs.copy(), rewards, terminated, truncated, self._infos()
