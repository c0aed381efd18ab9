"""Batched Byzantine consensus: B independent swarms stepped in one Numba call.

:class:`ByzantineConsensusVectorEnv` is the Gymnasium vector form of the attacker-team
view :class:`envs.byzantine_consensus_v0.ByzantineConsensusTeamEnv`: observations,
actions, rewards, terminations and truncations carry a leading batch axis, and
sub-environment ``i`` seeded with ``s`` follows exactly (bit for bit) the trajectory of a
team environment reset with seed ``s``, including across automatic resets.

Autoreset is ``NEXT_STEP`` (declared in ``metadata["autoreset_mode"]``): the step after
a sub-environment ends resets it, ignores its action and returns its first observation
with reward 0. ``reset(options={"reset_mask": mask})`` resets only the masked ones.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from numba import njit

from envs._consensus_world import ConsensusConfig, ConsensusWorld
from envs.byzantine_consensus_v0 import ByzantineConsensusTeamEnv
from protocols._checks import check_int
from protocols.wmsr import AttackedSwarms, attacked_round_batch

__all__ = ["ByzantineConsensusVectorEnv"]


@njit(cache=True)
def _observe_batch(values, lo, width, n_honest, clip, masks, t, max_cycles, obs, hmax, hmin):
    """Team observations of every swarm, as the team environment builds them.

    ``obs[b]`` is the honest values in hull units (non-finite as 0, clipped to
    ``[-clip, 1 + clip]``; 0 for Byzantine robots), then ``masks[b]``, then
    ``t[b] / max_cycles``; ``hmax[b]`` and ``hmin[b]`` receive the honest values'
    largest and smallest in hull units (unclipped).
    """
    B, n = values.shape
    m = masks.shape[1]
    for b in range(B):
        top = -np.inf
        bottom = np.inf
        for i in range(n):
            if i < n_honest:
                u = (values[b, i] - lo[b]) / width[b]
                top = max(top, u)
                bottom = min(bottom, u)
                if not np.isfinite(u):
                    u = 0.0
                obs[b, i] = min(max(u, -clip), 1.0 + clip)
            else:
                obs[b, i] = 0.0
        for j in range(m):
            obs[b, n + j] = masks[b, j]
        obs[b, n + m] = t[b] / max_cycles
        hmax[b] = top
        hmin[b] = bottom


class ByzantineConsensusVectorEnv(VectorEnv):
    """B swarms under attack, one controller per swarm's Byzantine team.

    Parameters
    ----------
    num_envs : int
        Number of swarms B, >= 1.
    **kwargs
        Arguments of :class:`envs.byzantine_consensus_v0.raw_env` except ``role`` and
        ``render_mode`` (``n_robots``, ``n_byzantine``, ``protocol``, ``f``,
        ``radio_range``, ``message_bound``, ``tol``, ``max_cycles``); unknown ones are an
        error.
    """

    metadata: ClassVar[dict] = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(self, num_envs: int, **kwargs):
        for bad in ("role", "render_mode", "attack"):
            if bad in kwargs:
                raise TypeError(f"ByzantineConsensusVectorEnv takes no {bad!r}")
        self.num_envs = check_int("num_envs", num_envs, low=1)
        self.config = ConsensusConfig(role="attacker", **kwargs)
        if self.config.protocol == "dbp":
            raise ValueError("the batched mode runs protocol 'wmsr' or 'lcp'; use "
                             "byzantine_consensus_v0 for 'dbp'")
        if self.config.n_byzantine < 1:
            raise ValueError("n_byzantine must be >= 1 for the attacker team")
        template = ByzantineConsensusTeamEnv(**kwargs)
        self.single_observation_space = template.observation_space
        self.single_action_space = template.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
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
        self._needs_reset = np.zeros(B, dtype=bool)
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
            grown[:, :self.sources.shape[1]] = self.sources
            self.sources = grown
        self.sources[b, :m] = w.sources
        self.indptr[b] = w.indptr
        self.values[b] = w.values
        self.lo[b], self.width[b] = w.lo, w.width
        self.t[b] = 0
        self.violation[b] = 0.0
        self.masks[b] = w.adjacency[:, self.n_honest:].T.reshape(-1)
        self._needs_reset[b] = False

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
        observations : numpy.ndarray, shape (B, obs_dim)
            First observations (unchanged for sub-environments not reset).
        infos : dict
            Empty.
        """
        B = self.num_envs
        if seed is None:
            seeds = [None] * B
        elif isinstance(seed, int):
            seeds = [seed + i for i in range(B)]
        else:
            seeds = list(seed)
            if len(seeds) != B:
                raise ValueError(f"seed must be an int or a list of {B} seeds, got {len(seeds)}")
        mask = np.ones(B, dtype=bool)
        if options and "reset_mask" in options:
            mask = np.asarray(options["reset_mask"], dtype=bool)
            if mask.shape != (B,):
                raise ValueError(f"options['reset_mask'] must have shape ({B},)")
        for b in np.flatnonzero(mask):
            self._reset_one(int(b), seeds[b])
        return self._observe()[0], {}

    # -------------------------------------------------------------------- step
    def _observe(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Observations (B, obs_dim) and the honest values' max and min in hull units."""
        c = self.config
        obs = np.empty((self.num_envs, (c.n_byzantine + 1) * c.n_robots + 1), dtype=np.float32)
        hmax = np.empty(self.num_envs)
        hmin = np.empty(self.num_envs)
        _observe_batch(self.values, self.lo, self.width, self.n_honest, c.obs_clip, self.masks,
                       self.t, c.max_cycles, obs, hmax, hmin)
        return obs, hmax, hmin

    def step(self, actions):
        """Step every swarm; autoreset those that ended on the previous step.

        Parameters
        ----------
        actions : array_like, shape (B, F * n)
            Each swarm's team action, as for the team environment.

        Returns
        -------
        observations, rewards, terminations, truncations, infos
            Arrays with a leading batch axis; ``infos`` holds ``honest_spread`` and
            ``hull_violation`` per sub-environment (hull units).
        """
        c = self.config
        B = self.num_envs
        a = np.asarray(actions, dtype=np.float64)
        if a.shape != (B, c.n_byzantine * c.n_robots):
            raise ValueError(f"actions must have shape {(B, c.n_byzantine * c.n_robots)}, "
                             f"got {a.shape}")
        resetting = self._needs_reset.copy()
        for b in np.flatnonzero(resetting):
            self._reset_one(int(b), None)
        active = ~resetting
        swarms = AttackedSwarms(self.indptr, self.sources, self.lo, self.width, self.n_honest,
                                c.message_bound, c.trim)
        attacked_round_batch(swarms, self.values, a.reshape(B, c.n_byzantine, c.n_robots),
                             active, self._new, check=False)
        self.values, self._new = self._new, self.values
        self.t[active] += 1
        obs, hmax, hmin = self._observe()
        spread = hmax - hmin
        excursion = np.maximum(0.0, np.maximum(hmax - 1.0, -hmin))
        self.violation = np.where(active, np.maximum(self.violation, excursion), 0.0)
        rewards = np.where(active, spread + excursion, 0.0)
        terminated = active & (spread < c.tol)
        truncated = active & (self.t >= c.max_cycles) & ~terminated
        self._needs_reset = terminated | truncated
        infos = {"honest_spread": spread, "_honest_spread": np.ones(B, dtype=bool),
                 "hull_violation": self.violation.copy(),
                 "_hull_violation": np.ones(B, dtype=bool)}
        return obs, rewards, terminated, truncated, infos
