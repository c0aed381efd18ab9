"""Differentiable game: every agent controls its block of a quadratic game.

The spec (agents, spaces, rewards, ends) and the arguments are in the docstring of
:class:`raw_env` (``help(raw_env)``); :func:`parallel_env` and :func:`env` build it.

Examples
--------
>>> from envs.differentiable_game_v0 import parallel_env
>>> env = parallel_env(game="toy")
>>> obs, infos = env.reset(seed=0)
>>> env.agents, obs["player_0"].shape, env.action_space("player_0").shape
(['player_0', 'player_1'], (2,), (1,))
>>> obs, rewards, term, trunc, infos = env.step(env.unwrapped.certified_actions(obs))
>>> sorted(rewards)
['player_0', 'player_1']
"""

from __future__ import annotations

import functools
from typing import ClassVar

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
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
from envs.batched import BatchedParallelEnv
from games.diffgame import Box, QuadraticGame, random_quadratic_game, toy_game
from games.sgn import certify
from protocols.checks import check_float_array, check_int, check_nonneg_float
from protocols.game_rounds import (
    QuadraticGameArrays,
    QuadraticRound,
    quadratic_game_round_kernel,
)

__all__ = [
    "RANDOM_GAME_DEFAULTS",
    "TEST_KWARGS",
    "DifferentiableGameBatchedEnv",
    "env",
    "parallel_env",
    "raw_env",
]

#: Size of the random game when ``n_players`` / ``block_size`` are not given.
RANDOM_GAME_DEFAULTS = {"n_players": 2, "block_size": 1}

#: Small, fast arguments for the conformance suite.
TEST_KWARGS = {"game": "random", "n_players": 3, "block_size": 2, "max_cycles": 30}


class raw_env(FrameRenderMixin, AgentSpacesMixin, ParallelEnv):
    """Differentiable game: every agent controls its block of a quadratic game.

    =====================  =====================================================================
    Agents                 ``player_0`` ... ``player_{N-1}``, one per block
    Action space           ``Box(-bound, bound, (block_i,), float32)``: the agent's new decision
                           ``x_i`` (clipped to the box)
    Observation space      ``Box(-bound, bound, (dim,), float32)``: the joint decision ``x``
    Rewards                ``-f_i(x)``: minus the agent's cost after the joint move
    Termination            never (the game is repeated)
    Truncation             all agents after ``max_cycles`` steps
    =====================  =====================================================================

    The game is a :class:`games.sgn.QuadraticGame` (pseudo-gradient ``F(x) = J x + b``)
    certified by :func:`games.sgn.certify`; :meth:`raw_env.certified_actions` is a ready
    policy: every agent plays one certified projected-Euler step ``x_i - h F_i(x)`` at the
    certificate's best step, which contracts to the Nash equilibrium in the certified metric.

    Arguments:

    - ``game``: ``"toy"`` (two players, ``J = [[mu, l12], [l21, mu]]``), ``"random"``
      (:func:`games.diffgame.random_quadratic_game`) or a ``QuadraticGame`` with symmetric
      own blocks.
    - ``n_players``, ``block_size``: size of the random game (only with ``game="random"``;
      default :data:`RANDOM_GAME_DEFAULTS`).
    - ``mu``: own curvature (toy), or ``(low, high)`` own-eigenvalue range (random).
    - ``l12``, ``l21``: the toy game's couplings.
    - ``coupling``: scale of the random game's cross blocks.
    - ``game_seed``: seed of the random game's matrices (the game's structure).
    - ``bound``: half-width of every player's box of decisions.
    - ``max_cycles``: steps before truncation.
    - ``render_mode``: None, ``"rgb_array"`` or ``"human"``.

    :class:`DifferentiableGameBatchedEnv` is the per-agent batched form.
    """

    metadata: ClassVar[dict] = {
        "render_modes": ["human", "rgb_array"],
        "name": "differentiable_game_v0",
        "is_parallelizable": True,
        "render_fps": 10,
    }

    def __init__(
        self,
        game="toy",
        n_players: int | None = None,
        block_size: int | None = None,
        mu=None,
        l12: float = 10.0,
        l21: float = 0.05,
        coupling: float = 0.2,
        game_seed: int = 0,
        bound: float = 10.0,
        max_cycles: int = 200,
        render_mode: str | None = None,
    ):
        self.bound = check_nonneg_float("bound", bound, positive=True)
        self.max_cycles = check_int("max_cycles", max_cycles, low=1)
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(
                f"render_mode must be None, 'human' or 'rgb_array', got {render_mode!r}"
            )
        self.render_mode = render_mode
        if n_players is not None:
            check_int("n_players", n_players, low=1)
        if block_size is not None:
            check_int("block_size", block_size, low=1)
        is_random = isinstance(game, str) and game == "random"
        if not is_random and (n_players is not None or block_size is not None):
            raise ValueError(
                f"n_players and block_size size the random game (game='random'), not game={game!r}"
            )
        if isinstance(game, QuadraticGame):
            base = game
        elif isinstance(game, str) and game == "toy":
            base = toy_game(1.0 if mu is None else mu, l12, l21)
        elif is_random:
            m = (
                (1.0, 2.0)
                if mu is None
                else tuple(check_float_array("mu", mu, shape=(2,), finite=True))
            )
            rng = np.random.default_rng(check_int("game_seed", game_seed, low=0))
            base = random_quadratic_game(
                RANDOM_GAME_DEFAULTS["n_players"] if n_players is None else n_players,
                RANDOM_GAME_DEFAULTS["block_size"] if block_size is None else block_size,
                rng,
                mu=m,
                coupling=coupling,
            )
        else:
            raise ValueError(f"game must be 'toy', 'random' or a QuadraticGame, got {game!r}")
        if not base.has_costs:
            raise ValueError(
                "game must have symmetric own blocks J_ii (so that players have costs)"
            )
        box = Box(-self.bound, self.bound)
        self.game = QuadraticGame(base.J, base.b, base.blocks, sets=[box] * base.n_players)
        self.certificate = certify(self.game)
        self._arrays = QuadraticGameArrays(
            self.game.J, self.game.b, np.asarray(self.game.offsets, dtype=np.int64)
        )
        self.possible_agents = [f"player_{i}" for i in range(self.game.n_players)]
        self.agents: list[str] = []
        self._index = {a: i for i, a in enumerate(self.possible_agents)}
        self._x = np.zeros(self.game.dim)
        self._history: list[np.ndarray] = []
        self._steps = 0
        self._np_random = np.random.default_rng()
        self._window = HumanWindow(self.metadata.get("render_fps", 10))
        # spaces are cached: the same object comes back on every call
        box = functools.partial(spaces.Box, -self.bound, self.bound, dtype=np.float32)
        self._observation_spaces = {a: box((self.game.dim,)) for a in self.possible_agents}
        self._action_spaces = {
            a: box((self.game.blocks[i],)) for i, a in enumerate(self.possible_agents)
        }

    def _obs(self) -> dict:
        o = np.clip(self._x, -self.bound, self.bound).astype(np.float32)
        return {a: o.copy() for a in self.agents}

    def reset(self, seed=None, options=None):
        """Draw a uniform joint decision in the box from ``seed``; return observations."""
        if seed is not None:
            self._np_random = np.random.default_rng(seed)
        self.agents = list(self.possible_agents)
        self._x = self._np_random.uniform(-self.bound, self.bound, self.game.dim)
        self._x = self._x.astype(np.float32).astype(np.float64)
        self._history = [self._x.copy()]
        self._steps = 0
        infos = {a: {} for a in self.agents}
        return self._obs(), infos

    def step(self, actions):
        """Apply every agent's new decision; reward each with minus its cost."""
        if not self.agents:
            raise RuntimeError("step() called after every agent is done; call reset()")
        check_actions(actions, self.agents)
        joint = np.empty(self.game.dim)
        for agent, act in actions.items():
            a = np.asarray(act, dtype=np.float64).reshape(-1)
            sl = self.game.block(self._index[agent])
            if a.shape[0] != sl.stop - sl.start:
                raise ValueError(f"action of {agent} must have shape ({sl.stop - sl.start},)")
            joint[sl] = a
        x = self._x[None].copy()
        out = QuadraticRound(np.empty((1, self.game.n_players)), np.empty(1))
        quadratic_game_round_kernel(
            self._arrays, x, joint[None], self.bound, self._eq, np.ones(1, dtype=bool), out
        )
        self._x = x[0]
        self._history.append(self._x.copy())
        self._steps += 1
        rewards = {a: -float(out.costs[0, self._index[a]]) for a in self.agents}
        trunc = self._steps >= self.max_cycles
        terminations = {a: False for a in self.agents}
        truncations = {a: trunc for a in self.agents}
        infos = {a: {"distance_to_equilibrium": float(out.distance[0])} for a in self.agents}
        obs = self._obs()
        if trunc:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return obs, rewards, terminations, truncations, infos

    @functools.cached_property
    def _eq(self) -> np.ndarray:
        from games.sgn import projected_euler

        if self.certificate.certified:
            return projected_euler(self.game, self.certificate, tol=1e-12).solution
        try:
            return self.game.project(self.game.equilibrium())
        except ValueError:
            return np.zeros(self.game.dim)

    def certified_actions(self, observations: dict) -> dict:
        """Return the ready policy's actions: one certified projected-Euler step each.

        Parameters
        ----------
        observations : dict
            Agent -> joint decision (as returned by ``reset`` / ``step``).

        Returns
        -------
        dict
            Agent -> action ``clip(x_i - h F_i(x))`` with ``h`` the certificate's best
            Euler step.
        """
        if not self.certificate.certified:
            raise ValueError(f"no certified policy: {self.certificate.reason}")
        h = self.certificate.best_euler_step
        out = {}
        for agent, obs in observations.items():
            x = np.asarray(obs, dtype=np.float64)
            sl = self.game.block(self._index[agent])
            Fi = self.game.J[sl] @ x + self.game.b[sl]
            out[agent] = np.clip(x[sl] - h * Fi, -self.bound, self.bound).astype(np.float32)
        return out

    def _frame(self) -> np.ndarray:
        """Draw the trajectory (two scalars) or the decisions vs the equilibrium."""
        fig = Figure(figsize=(4, 4), dpi=64)
        ax = fig.add_subplot()
        hist = np.array(self._history) if self._history else np.zeros((1, self.game.dim))
        eq = self._eq
        if self.game.dim == 2:
            ax.plot(hist[:, 0], hist[:, 1], "-o", ms=3, color="tab:blue")
            ax.plot(*eq, "*", ms=14, color="tab:red")
            ax.set_xlim(-self.bound, self.bound)
            ax.set_ylim(-self.bound, self.bound)
            ax.set_xlabel("x_1")
            ax.set_ylabel("x_2")
        else:
            idx = np.arange(self.game.dim)
            ax.bar(idx, hist[-1], color="tab:blue", label="x")
            ax.plot(idx, eq, "_", ms=12, mew=3, color="tab:red", label="x*")
            ax.set_ylim(-self.bound, self.bound)
            ax.legend(loc="upper right")
        ax.set_title(f"step {self._steps}")
        return figure_to_rgb(fig)


def parallel_env(**kwargs) -> raw_env:
    """Build the parallel environment (arguments in the module docstring)."""
    return raw_env(**kwargs)


def env(**kwargs):
    """Build the AEC environment, derived from the parallel one with ``parallel_to_aec``."""
    return aec_from_parallel(raw_env, **kwargs)


class DifferentiableGameBatchedEnv(BatchedParallelEnv):
    """B copies of the differentiable game, every player of every copy in one Numba call.

    The per-agent batched form (:class:`envs.batched.BatchedParallelEnv`) of
    :class:`raw_env`; every copy plays the same game from its own initial decision.
    Sub-environment ``i`` reset with seed ``s`` is bit for bit ``raw_env`` reset with
    seed ``s``, across automatic resets too. Every player must own a block of the same
    size ``m`` (random games and the toy game do).

    ===============  ====================================================================
    Agents (axis 1)  ``player_0 .. player_{N-1}``
    Actions          ``(B, N, m)``: each player's new decision (clipped to the box;
                     non-finite keeps the current one)
    Observations     ``(B, N, dim)`` float32: the joint decision, for every player
    Rewards          ``(B, N)``: minus each player's cost after the joint move
    Ends             truncation of every player after ``max_cycles`` steps
    Infos            ``distance_to_equilibrium`` (B,)
    ===============  ====================================================================

    Parameters
    ----------
    num_envs : int
        Number of copies B, >= 1.
    autoreset_mode : AutoresetMode or str
        ``NEXT_STEP`` (default), ``SAME_STEP`` or ``DISABLED``; see :mod:`envs.batched`.
    max_episode_steps : int, optional
        Time limit per episode on top of ``max_cycles``.
    **kwargs
        Arguments of :class:`raw_env` except ``render_mode``.
    """

    def __init__(
        self,
        num_envs: int,
        *,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        max_episode_steps: int | None = None,
        **kwargs,
    ):
        if "render_mode" in kwargs:
            raise TypeError("DifferentiableGameBatchedEnv takes no 'render_mode'")
        self._init_batch(num_envs, autoreset_mode, max_episode_steps)
        self.template = t = raw_env(**kwargs)
        if len(set(t.game.blocks)) != 1:
            raise ValueError(f"the batched form needs blocks of one size, got {t.game.blocks}")
        first = t.possible_agents[0]
        self._init_spaces(t.possible_agents, t.observation_space(first), t.action_space(first))
        self.x = np.zeros((self.num_envs, t.game.dim))
        self.steps = np.zeros(self.num_envs, dtype=np.int64)
        self._rngs: list[np.random.Generator] = [
            np.random.default_rng() for _ in range(self.num_envs)
        ]
        self._round = QuadraticRound(
            np.zeros((self.num_envs, t.game.n_players)), np.zeros(self.num_envs)
        )

    def _reset_envs(self, indices: np.ndarray, seeds: list[int | None]) -> None:
        t = self.template
        for b, seed in zip(indices, seeds, strict=True):
            if seed is not None:
                self._rngs[b] = np.random.default_rng(seed)
            x = self._rngs[b].uniform(-t.bound, t.bound, t.game.dim)
            self.x[b] = x.astype(np.float32).astype(np.float64)
            self.steps[b] = 0

    def _observe(self) -> tuple[np.ndarray, dict]:
        o = np.clip(self.x, -self.template.bound, self.template.bound).astype(np.float32)
        obs = np.repeat(o[:, None, :], self.n_agents, axis=1)
        every = np.ones(self.num_envs, dtype=bool)
        return obs, {
            "distance_to_equilibrium": self._round.distance.copy(),
            "_distance_to_equilibrium": every,
        }

    def _advance(self, actions: np.ndarray, active: np.ndarray):
        """One joint move of every active copy (one kernel call)."""
        t = self.template
        quadratic_game_round_kernel(
            t._arrays,
            self.x,
            actions.reshape(self.num_envs, -1),
            t.bound,
            t._eq,
            active,
            self._round,
        )
        self.steps[active] += 1
        obs, infos = self._observe()
        truncated = np.repeat((self.steps >= t.max_cycles)[:, None], self.n_agents, axis=1)
        return obs, -self._round.costs, np.zeros_like(truncated), truncated, infos
