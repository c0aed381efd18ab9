"""The N-player linear-quadratic graphon game as a PettingZoo parallel environment.

The spec (agents, spaces, rewards, ends) and the arguments are in the docstring of
:class:`raw_env` (``help(raw_env)``); :func:`parallel_env` and :func:`env` build it.

Examples
--------
>>> from envs.graphon_mfg_v0 import parallel_env
>>> env = parallel_env(n_players=5)
>>> obs, infos = env.reset(seed=0)
>>> len(env.agents), obs["player_0"].shape
(5, (4,))
>>> obs, rewards, term, trunc, infos = env.step(env.unwrapped.equilibrium_policy(obs))
>>> len(rewards), all(r < 0 for r in rewards.values())     # rewards are minus costs
(5, True)
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from gymnasium import spaces
from matplotlib.figure import Figure
from pettingzoo import ParallelEnv

from envs._common import (
    FrameRenderMixin,
    HumanWindow,
    aec_from_parallel,
    check_actions,
    figure_to_rgb,
)
from games.graphon_mfg import LQGraphonMFG, label_interpolation, sample_graphon_graph
from protocols.checks import check_float_array, check_int, check_nonneg_float
from protocols.graphon import graphon_step, interpolated_policy

__all__ = ["DENSE_MAX_PLAYERS", "TEST_KWARGS", "env", "parallel_env", "raw_env"]

#: Largest dense graph: its CSR holds up to N^2 int64 entries (8000 players: 0.5 GB);
#: larger games need ``mean_degree``.
DENSE_MAX_PLAYERS = 8000

#: Small, fast arguments for the conformance suite.
TEST_KWARGS = {"n_players": 6, "n_steps": 30, "n_blocks": 4}


class raw_env(FrameRenderMixin, ParallelEnv):
    """The N-player linear-quadratic graphon game.

    =================  ===========================================================================
    Agents             ``player_0`` ... ``player_{N-1}``; player ``i`` has label
                       ``u_i = (i + 1/2) / N``
    Action space       ``Box(-action_bound, action_bound, (1,), float64)``: the control ``a_i``
                       (clipped into the box; NaN counts as 0)
    Observation space  ``Box(4,)``: ``(x_i, z_i, t, u_i)``: own state, neighbourhood aggregate
                       ``z_i = scale * sum_{j ~ i} x_j``, time, label
    Rewards            minus the running cost ``1/2 (Q (x_i - H z_i)^2 + R a_i^2) dt`` of the
                       step; the last step also subtracts ``1/2 G (x_i - Hbar z_i)^2`` at ``T``
    Termination        every agent at ``t = T`` (after ``n_steps`` rounds); truncation after
                       ``max_cycles`` rounds if that comes first
    =================  ===========================================================================

    The graph is sampled from the graphon at every reset (see
    :func:`games.graphon_mfg.sample_graphon_graph`): dense (``z_i`` normalised by ``1/N``) or
    sparse with ``mean_degree``. States follow Euler-Maruyama steps of
    ``dX_i = (A X_i + B a_i + Abar z_i) dt + sigma dW_i``; ``X_i(0) ~ N(m0(u_i), var0)``.
    The graphon equilibrium policy ``a = K(t) x + k(u, t)`` is the ready policy:
    :meth:`raw_env.equilibrium_policy` (dict of observations to dict of actions) and
    :meth:`raw_env.equilibrium_actions` (all players at once). The batched mode,
    :meth:`raw_env.step_batch`, steps every player in one compiled kernel from an action
    array, without per-agent dictionaries.

    Arguments:

    - ``n_players``: number of players ``N`` (>= 1).
    - ``graphon``: a family name of :data:`games.graphon_mfg.GRAPHON_FAMILIES` or a symmetric
      callable ``W(u, v)``.
    - ``A``, ``B``, ``Abar``, ``Q``, ``R``, ``G``, ``H``, ``Hbar``, ``sigma``: model coefficients
      as in :class:`games.graphon_mfg.LQGraphonMFG`.
    - ``T``: horizon; ``n_steps``: rounds per episode (``dt = T / n_steps``).
    - ``m0``: initial mean (a number or a callable of ``u``); ``var0``: initial variance.
    - ``n_blocks``: label blocks of the equilibrium the ready policy uses.
    - ``intercepts``: how the ready policy reads intercepts off the blocks: ``"linear"``
      between block midpoints (smooth graphons) or ``"block"`` (piecewise constant).
    - ``mean_degree``: None for dense graphs, else the sparse degree scale (> 0).
    - ``action_bound``: the action box half-width (> 0).
    - ``max_cycles``: rounds before truncation (default ``n_steps``).
    - ``render_mode``: None, ``"rgb_array"`` (an HxWx3 uint8 frame) or ``"human"``.
    """

    metadata: ClassVar[dict] = {
        "render_modes": ["human", "rgb_array"],
        "name": "graphon_mfg_v0",
        "is_parallelizable": True,
        "render_fps": 10,
    }

    def __init__(
        self,
        n_players: int = 100,
        graphon="ranked_attachment",
        A: float = 0.3,
        B: float = 1.0,
        Abar: float = 0.5,
        Q: float = 1.0,
        R: float = 0.5,
        G: float = 0.8,
        H: float = 0.6,
        Hbar: float = 0.4,
        sigma: float = 0.3,
        T: float = 1.0,
        m0=1.0,
        var0: float = 0.0,
        n_steps: int = 100,
        n_blocks: int = 20,
        mean_degree: float | None = None,
        action_bound: float = 10.0,
        intercepts: str = "linear",
        max_cycles: int | None = None,
        render_mode: str | None = None,
    ):
        self.n_players = check_int("n_players", n_players, low=1)
        self.game = LQGraphonMFG(
            A, B, Abar, Q, R, G, H, Hbar, sigma, T, graphon, m0, n_blocks, n_steps, var0=var0
        )
        if mean_degree is not None:
            mean_degree = check_nonneg_float("mean_degree", mean_degree, positive=True)
        elif self.n_players > DENSE_MAX_PLAYERS:
            raise ValueError(
                f"n_players = {self.n_players} > {DENSE_MAX_PLAYERS} needs sparse "
                "graphs: pass mean_degree"
            )
        self.mean_degree = mean_degree
        self.action_bound = check_nonneg_float("action_bound", action_bound, positive=True)
        self.n_steps = self.game.n_steps
        self.max_cycles = (
            self.n_steps if max_cycles is None else check_int("max_cycles", max_cycles, low=1)
        )
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of "
                f"{self.metadata['render_modes']}, got {render_mode!r}"
            )
        self.render_mode = render_mode
        self.equilibrium = self.game.equilibrium()
        self.labels = (np.arange(self.n_players) + 0.5) / self.n_players
        if intercepts not in ("linear", "block"):
            raise ValueError(f"intercepts must be 'linear' or 'block', got {intercepts!r}")
        self.intercepts = intercepts
        self._left, self._weight = label_interpolation(
            self.equilibrium.labels, self.labels, intercepts
        )
        self._columns = np.ascontiguousarray(self.equilibrium.intercepts.T)
        self.possible_agents = [f"player_{i}" for i in range(self.n_players)]
        self.agents: list[str] = []
        self._index = {a: i for i, a in enumerate(self.possible_agents)}
        big = np.inf
        self._obs_space = spaces.Box(
            np.array([-big, -big, 0.0, 0.0]),
            np.array([big, big, self.game.T, 1.0]),
            dtype=np.float64,
        )
        self._act_space = spaces.Box(
            -self.action_bound, self.action_bound, shape=(1,), dtype=np.float64
        )
        self._rng: np.random.Generator | None = None
        self._window = HumanWindow(self.metadata["render_fps"])
        n = self.n_players
        self.x = np.zeros(n)
        self.z = np.zeros(n)
        self._x_new = np.zeros(n)
        self._z_new = np.zeros(n)
        self._reward = np.zeros(n)
        self._noise = np.zeros(n)
        self.indptr = np.zeros(n + 1, dtype=np.int64)
        self.indices = np.zeros(0, dtype=np.int64)
        self.scale = 1.0 / n
        self.cycles = 0

    # --------------------------------------------------------------------- spaces
    def observation_space(self, agent: str) -> spaces.Box:
        """Return the space of ``(x_i, z_i, t, u_i)`` (one shared space object)."""
        return self._obs_space

    def action_space(self, agent: str) -> spaces.Box:
        """Return the control space of ``a_i`` (one shared space object)."""
        return self._act_space

    @property
    def t(self) -> float:
        """Current time ``cycles * dt``."""
        return self.cycles * self.game.dt

    # ------------------------------------------------------------------- the loop
    def reset(self, seed: int | None = None, options: dict | None = None):
        """Sample a graph from the graphon and the initial states."""
        if seed is not None or self._rng is None:
            self._rng = np.random.default_rng(seed)
        _, self.indptr, self.indices, self.scale = sample_graphon_graph(
            self.game.graphon, self.n_players, rng=self._rng, mean_degree=self.mean_degree
        )
        m0 = self.game.m0_at(self.labels)
        self.x = m0 + np.sqrt(self.game.var0) * self._rng.standard_normal(self.n_players)
        rows = np.repeat(np.arange(self.n_players), np.diff(self.indptr))
        self.z = self.scale * np.bincount(
            rows, weights=self.x[self.indices], minlength=self.n_players
        )
        self.cycles = 0
        self.agents = list(self.possible_agents)
        obs = self.observations_batch()
        return (
            {a: obs[i] for i, a in enumerate(self.possible_agents)},
            {a: {} for a in self.possible_agents},
        )

    def observations_batch(self) -> np.ndarray:
        """Return every player's observation, shape (N, 4)."""
        out = np.empty((4, self.n_players))
        out[0] = self.x
        out[1] = self.z
        out[2] = min(self.t, self.game.T)
        out[3] = self.labels
        return out.T

    def step_batch(self, actions) -> tuple[np.ndarray, np.ndarray, bool, bool]:
        """Step every player at once from an action array (the batched mode).

        Parameters
        ----------
        actions : array_like, shape (N,)
            Controls, clipped into ``[-action_bound, action_bound]``; NaN counts as 0.

        Returns
        -------
        observations : numpy.ndarray, shape (N, 4)
        rewards : numpy.ndarray, shape (N,)
        terminated : bool
            The horizon ``T`` was reached (every agent).
        truncated : bool
            ``max_cycles`` was reached first.
        """
        if not self.agents:
            raise RuntimeError("step called with no live agents; call reset() first")
        a = np.ascontiguousarray(actions, dtype=np.float64)
        if a.shape != (self.n_players,):
            raise ValueError(f"actions must have shape ({self.n_players},), got {a.shape}")
        self._advance(a)
        terminated = self.cycles >= self.n_steps
        truncated = (not terminated) and self.cycles >= self.max_cycles
        if terminated or truncated:
            self.agents = []
        return self.observations_batch(), self._reward.copy(), terminated, truncated

    def _advance(self, a: np.ndarray) -> None:
        g = self.game
        self._rng.standard_normal(self.n_players, out=self._noise)
        graphon_step(
            self.x,
            a,
            self.z,
            self.indptr,
            self.indices,
            self.scale,
            g.A,
            g.B,
            g.Abar,
            g.Q,
            g.R,
            g.H,
            g.sigma,
            g.dt,
            self._noise,
            bound=self.action_bound,
            x_out=self._x_new,
            z_out=self._z_new,
            reward_out=self._reward,
            check=False,
        )
        self.x, self._x_new = self._x_new, self.x
        self.z, self._z_new = self._z_new, self.z
        self.cycles += 1
        if self.cycles >= self.n_steps:
            dev = self.x - g.Hbar * self.z
            self._reward -= 0.5 * g.G * dev * dev

    def step(self, actions: dict):
        """Every player applies its control; rewards are minus the step's cost."""
        if not self.agents:
            raise RuntimeError("step() called with no live agents; call reset() first")
        check_actions(actions, self.agents)
        a = np.zeros(self.n_players)
        for agent, action in actions.items():
            val = np.asarray(action, dtype=np.float64).reshape(-1)
            if val.shape != (1,):
                raise ValueError(f"action of {agent} must have shape (1,), got {val.shape}")
            a[self._index[agent]] = val[0]
        live = list(self.agents)
        obs, rew, terminated, truncated = self.step_batch(a)
        idx = self._index
        observations = {ag: obs[idx[ag]] for ag in live}
        rewards = {ag: float(rew[idx[ag]]) for ag in live}
        terms = dict.fromkeys(live, terminated)
        truncs = dict.fromkeys(live, truncated)
        infos = {ag: {} for ag in live}
        if self.render_mode == "human":
            self.render()
        return observations, rewards, terms, truncs, infos

    # ------------------------------------------------------------ ready policy
    def equilibrium_actions(self) -> np.ndarray:
        """Return the graphon equilibrium controls of every player now, shape (N,)."""
        eq = self.equilibrium
        k = min(self.cycles, self.n_steps)
        return interpolated_policy(
            eq.slope[k], self._columns[k], self._left, self._weight, self.x, check=False
        )

    def equilibrium_policy(self, observations: dict) -> dict:
        """Return each agent's graphon equilibrium action from its observation.

        Parameters
        ----------
        observations : dict of str to numpy.ndarray
            Observations ``(x, z, t, u)`` as returned by :meth:`reset` / :meth:`step`.

        Returns
        -------
        dict of str to numpy.ndarray, shape (1,)
        """
        eq = self.equilibrium
        agents = list(observations)
        if not agents:
            return {}
        obs = np.stack([np.asarray(observations[a], dtype=np.float64).reshape(-1) for a in agents])
        obs = check_float_array("observations", obs, shape=(len(agents), 4), finite=True)
        k = np.clip(np.rint(obs[:, 2] / self.game.dt), 0, self.n_steps).astype(np.int64)
        left, w = label_interpolation(eq.labels, obs[:, 3], self.intercepts)
        right = np.minimum(left + 1, self.game.n_blocks - 1)
        intercept = (1.0 - w) * eq.intercepts[left, k] + w * eq.intercepts[right, k]
        act = np.clip(eq.slope[k] * obs[:, 0] + intercept, -self.action_bound, self.action_bound)
        return {a: act[i : i + 1].copy() for i, a in enumerate(agents)}

    # ------------------------------------------------------------------ rendering
    def _frame(self) -> np.ndarray:
        fig = Figure(figsize=(6.4, 3.6), dpi=80)
        ax = fig.add_subplot(1, 1, 1)
        eq = self.equilibrium
        k = min(self.cycles, self.n_steps)
        ax.scatter(self.labels, self.x, s=8, color="tab:blue", label="players $x_i$")
        ax.plot(eq.labels, eq.means[:, k], color="tab:red", lw=2, label="graphon mean")
        ax.set_xlabel("label u")
        ax.set_ylabel("state")
        ax.set_xlim(0, 1)
        ax.set_title(f"t = {self.t:.3f} of {self.game.T:g}")
        ax.legend(loc="upper right", fontsize="small")
        fig.tight_layout()
        return figure_to_rgb(fig)


def parallel_env(**kwargs) -> raw_env:
    """Build the parallel environment (see the module docstring for the arguments)."""
    return raw_env(**kwargs)


def env(**kwargs):
    """Build the AEC environment, derived from the parallel one with ``parallel_to_aec``."""
    return aec_from_parallel(raw_env, **kwargs)
