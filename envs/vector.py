"""Batched Byzantine consensus: B independent swarms stepped in one Numba call.

:class:`ByzantineConsensusVectorEnv` is the Gymnasium vector form of the attacker-team
view :class:`envs.byzantine_consensus_v0.ByzantineConsensusTeamEnv` (the
``vector_entry_point`` of ``swarmgym/ByzantineConsensusAttack-v0``): observations,
actions, rewards, terminations and truncations carry a leading batch axis, and
sub-environment ``i`` seeded with ``s`` follows exactly (bit for bit) the trajectory of a
team environment reset with seed ``s``, including across automatic resets.
Autoreset modes, partial resets and ``max_episode_steps`` are those of
:class:`envs.batched.BatchedVectorEnv`. The defender role's per-agent batched form is
:class:`envs.consensus_batched.ConsensusDefenderBatchedEnv`.

Examples
--------
>>> import numpy as np
>>> from envs.vector import ByzantineConsensusVectorEnv
>>> vec = ByzantineConsensusVectorEnv(4, n_robots=10, n_byzantine=1)
>>> obs, infos = vec.reset(seed=0)
>>> obs, rewards, terms, truncs, infos = vec.step(np.zeros(vec.action_space.shape))
>>> obs.shape, rewards.shape, bool(terms.any())
((4, 21), (4,), False)
"""

from __future__ import annotations

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode

from envs._consensus_world import ConsensusConfig, ConsensusWorld
from envs.batched import BatchedVectorEnv
from envs.byzantine_consensus_v0 import ByzantineConsensusTeamEnv
from protocols.consensus_obs import TeamObservation, TeamSwarms, team_observations
from protocols.wmsr import AttackedSwarms, attacked_round_batch

__all__ = ["ByzantineConsensusVectorEnv"]


class ByzantineConsensusVectorEnv(BatchedVectorEnv):
    """B swarms under attack, one controller per swarm's Byzantine team.

    Spaces, rewards and ends are those of
    :class:`envs.byzantine_consensus_v0.ByzantineConsensusTeamEnv` with a leading batch
    axis; ``infos`` holds ``honest_spread`` and ``hull_violation`` (hull units) per
    sub-environment.

    Parameters
    ----------
    num_envs : int
        Number of swarms B, >= 1.
    autoreset_mode : AutoresetMode or str
        ``NEXT_STEP`` (default), ``SAME_STEP`` or ``DISABLED``; see :mod:`envs.batched`.
    max_episode_steps : int, optional
        Time limit per episode on top of ``max_cycles`` (as Gymnasium's ``TimeLimit``).
    **kwargs
        Arguments of :class:`envs.byzantine_consensus_v0.raw_env` except ``role``,
        ``attack`` and ``render_mode`` (``n_robots``, ``n_byzantine``, ``protocol``,
        ``f``, ``radio_range``, ``message_bound``, ``tol``, ``max_cycles``); unknown
        ones are an error.
    """

    def __init__(
        self,
        num_envs: int,
        *,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        max_episode_steps: int | None = None,
        **kwargs,
    ):
        for bad in ("role", "render_mode", "attack"):
            if bad in kwargs:
                raise TypeError(f"ByzantineConsensusVectorEnv takes no {bad!r}")
        self._init_batch(num_envs, autoreset_mode, max_episode_steps)
        self.config = ConsensusConfig(role="attacker", **kwargs)
        if self.config.protocol == "dbp":
            raise ValueError(
                "the batched mode runs protocol 'wmsr' or 'lcp'; use "
                "byzantine_consensus_v0 for 'dbp'"
            )
        if self.config.n_byzantine < 1:
            raise ValueError("n_byzantine must be >= 1 for the attacker team")
        template = ByzantineConsensusTeamEnv(**kwargs)
        self._init_spaces(template.observation_space, template.action_space)
        c = self.config
        B, n, nb = self.num_envs, c.n_robots, c.n_byzantine
        self.n_honest = c.n_honest
        self.worlds = [ConsensusWorld(c) for _ in range(B)]
        self._np_randoms: list[np.random.Generator | None] = [None] * B
        self.values = np.zeros((B, n))
        self.indptr = np.zeros((B, n + 1), dtype=np.int64)
        self.sources = np.zeros((B, 1), dtype=np.uint32)
        self.lo = np.zeros(B)
        self.width = np.ones(B)
        self.t = np.zeros(B, dtype=np.int64)
        self.violation = np.zeros(B)
        self.masks = np.zeros((B, nb * n), dtype=np.float32)
        self._new = np.empty((B, n))

    # ------------------------------------------------------------------ resets
    def _reset_one(self, b: int, seed: int | None) -> None:
        if seed is not None or self._np_randoms[b] is None:
            self._np_randoms[b], _ = seeding.np_random(seed)
        inner = int(self._np_randoms[b].integers(2**63))
        w = self.worlds[b]
        w.reset(np.random.default_rng(inner))
        m = w.sources.shape[0]
        if m > self.sources.shape[1]:
            grown = np.zeros((self.num_envs, max(m, 2 * self.sources.shape[1])), dtype=np.uint32)
            grown[:, : self.sources.shape[1]] = self.sources
            self.sources = grown
        self.sources[b, :m] = w.sources
        self.indptr[b] = w.indptr
        self.values[b] = w.values
        self.lo[b], self.width[b] = w.lo, w.width
        self.t[b] = 0
        self.violation[b] = 0.0
        self.masks[b] = w.team_masks

    def _reset_envs(self, indices: np.ndarray, seeds: list[int | None]) -> None:
        for b, seed in zip(indices, seeds, strict=True):
            self._reset_one(int(b), seed)

    # -------------------------------------------------------------------- step
    def _observations(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Observations (B, obs_dim) and the honest values' max and min in hull units."""
        c = self.config
        B = self.num_envs
        out = TeamObservation(
            np.empty((B, (c.n_byzantine + 1) * c.n_robots + 1), dtype=np.float32),
            np.empty(B),
            np.empty(B),
        )
        swarms = TeamSwarms(self.values, self.lo, self.width, self.masks, self.t)
        obs, hmax, hmin = team_observations(
            swarms, self.n_honest, c.obs_clip, c.max_cycles, out, check=False
        )
        return obs, hmax, hmin

    def _infos(self, spread: np.ndarray) -> dict:
        every = np.ones(self.num_envs, dtype=bool)
        return {
            "honest_spread": spread,
            "_honest_spread": every,
            "hull_violation": self.violation.copy(),
            "_hull_violation": every.copy(),
        }

    def _observe(self) -> tuple[np.ndarray, dict]:
        obs, hmax, hmin = self._observations()
        return obs, self._infos(hmax - hmin)

    def _advance(self, actions: np.ndarray, active: np.ndarray):
        """One W-MSR / LCP round of every active swarm against its team's messages."""
        c = self.config
        B = self.num_envs
        swarms = AttackedSwarms(
            self.indptr, self.sources, self.lo, self.width, self.n_honest, c.message_bound, c.trim
        )
        attacked_round_batch(
            swarms,
            self.values,
            actions.reshape(B, c.n_byzantine, c.n_robots),
            active,
            self._new,
            check=False,
        )
        self.values, self._new = self._new, self.values
        self.t[active] += 1
        obs, hmax, hmin = self._observations()
        spread = hmax - hmin
        excursion = np.maximum(0.0, np.maximum(hmax - 1.0, -hmin))
        self.violation = np.where(active, np.maximum(self.violation, excursion), 0.0)
        rewards = spread + excursion
        terminated = spread < c.tol
        truncated = (self.t >= c.max_cycles) & ~terminated
        return obs, rewards, terminated, truncated, self._infos(spread)
