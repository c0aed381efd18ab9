"""Multi-carrier power control as a PettingZoo parallel environment.

The spec (agents, spaces, rewards, ends) and the arguments are in the docstring of
:class:`raw_env` (``help(raw_env)``); :func:`parallel_env` and :func:`env` build it.

Examples
--------
>>> from envs.power_control_v0 import parallel_env
>>> env = parallel_env(n_users=3, n_carriers=4)
>>> obs, infos = env.reset(seed=0)
>>> env.agents, obs["user_0"].shape
(['user_0', 'user_1', 'user_2'], (8,))
>>> obs, rewards, term, trunc, infos = env.step(env.unwrapped.iwf_actions(obs))
>>> sorted(infos["user_0"])
['nash_gap', 'rate_gain', 'sum_rate']
"""

from __future__ import annotations

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
from games.power_control import PowerControlGame
from protocols.checks import check_int, check_nonneg_float
from protocols.game_rounds import PowerChannel, PowerRound, power_control_round_kernel
from protocols.iwf import waterfill

__all__ = [
    "TEST_KWARGS",
    "PowerControlBatchedEnv",
    "env",
    "iwf_policy",
    "nash_infos",
    "parallel_env",
    "raw_env",
    "sum_rates",
]

#: Small, fast arguments for the conformance suite.
TEST_KWARGS = {"n_users": 3, "n_carriers": 4, "max_cycles": 25}


def iwf_policy(observation: np.ndarray, budget: float = 1.0) -> np.ndarray:
    """Water-fill against the measured interference: the IWF action of one user.

    Parameters
    ----------
    observation : numpy.ndarray, shape (2N,)
        The agent's observation: measured interference-plus-noise, then direct gains.
    budget : float
        The user's power budget (W), as given to the environment.

    Returns
    -------
    numpy.ndarray, shape (N,)
        Weights in [0, 1] summing to one, which the environment maps to the
        water-filling powers.
    """
    obs = np.asarray(observation, dtype=np.float64)
    n = obs.shape[0] // 2
    return waterfill(obs[:n] / obs[n:], budget) / budget


def nash_infos(game: PowerControlGame, power: np.ndarray) -> tuple[float, np.ndarray]:
    """Return how far a power profile is from equilibrium: Nash gap and rate gains.

    Parameters
    ----------
    game : PowerControlGame
        The game.
    power : numpy.ndarray, shape (Q, N)
        The profile.

    Returns
    -------
    nash_gap : float
        ``max_q max_k |p - WF_q(p)| / budget[q]``.
    rate_gain : numpy.ndarray, shape (Q,)
        The rate user ``q`` would gain by water-filling against the others.
    """
    rates = game.rates(power)
    br = game.best_response(power)
    gains = np.empty(game.n_users)
    for q in range(game.n_users):
        alt = power.copy()
        alt[q] = br[q]
        gains[q] = game.rates(alt)[q] - rates[q]
    gap = float(np.max(np.abs(power - br) / game.budget[:, None]))
    return gap, gains


def sum_rates(rates: np.ndarray) -> np.ndarray:
    """Sum rate of each game, shape (B,), from the rates (B, Q) (one reduction for all)."""
    return np.add.reduce(rates, axis=1)


class raw_env(FrameRenderMixin, AgentSpacesMixin, ParallelEnv):
    """Multi-carrier power control: users share carriers and interfere.

    =================  ===========================================================================
    Agents             ``user_0`` ... ``user_{Q-1}``: one per transmitter-receiver pair
    Action space       ``Box(0, 1, (N,), float64)``: power weights over the carriers, mapped onto
                       the budget simplex ``p = budget * w / sum(w)`` (uniform when ``w = 0``;
                       NaN and out-of-range entries are clipped into [0, 1] first)
    Observation space  ``Box(0, inf, (2N,), float64)``: the interference-plus-noise the user
                       measured on each carrier last round (W), then its own direct gains
    Rewards            the user's rate ``sum_k log2(1 + SINR_k)`` (bit/s/Hz)
    Termination        never; truncation after ``max_cycles`` rounds
    Info               ``nash_gap`` (relative Nash gap of the profile), ``rate_gain`` (rate the
                       user would gain by water-filling instead), ``sum_rate``
    =================  ===========================================================================

    Every round all users transmit at once; the round's interference is what each observes
    next. At reset nobody has transmitted yet, so the first observation is the noise alone.
    Playing :func:`iwf_policy` for every agent is simultaneous iterative water-filling: the
    profile after ``n`` rounds is :meth:`games.power_control.PowerControlGame.solve`'s with
    ``schedule="simultaneous", max_iter=n``.

    Arguments:

    - ``n_users``: number of users ``Q`` (>= 1).
    - ``n_carriers``: number of carriers ``N`` (>= 1).
    - ``noise``: noise power per carrier at every receiver (W, > 0).
    - ``budget``: power budget of every user (W, > 0).
    - ``area``: side of the square the transmitters are dropped in (m).
    - ``link_length``: (min, max) transmitter-receiver distance (m).
    - ``path_loss_exponent``: distance path-loss exponent.
    - ``n_taps``: taps of the frequency-selective Rayleigh channel (<= ``n_carriers``;
      default ``min(4, n_carriers)``).
    - ``game``: a fixed :class:`~games.power_control.PowerControlGame` (overrides every
      channel argument above); by default each reset draws a new channel from its seed.
    - ``max_cycles``: rounds before truncation (>= 1).
    - ``render_mode``: None, ``"rgb_array"`` (an HxWx3 uint8 frame) or ``"human"``.

    :class:`PowerControlBatchedEnv` is the per-agent batched form.
    """

    metadata: ClassVar[dict] = {
        "render_modes": ["human", "rgb_array"],
        "name": "power_control_v0",
        "is_parallelizable": True,
        "render_fps": 4,
    }

    def __init__(
        self,
        n_users: int = 4,
        n_carriers: int = 8,
        noise: float = 1e-8,
        budget: float = 1.0,
        area: float = 500.0,
        link_length: tuple[float, float] = (10.0, 50.0),
        path_loss_exponent: float = 3.5,
        n_taps: int | None = None,
        game: PowerControlGame | None = None,
        max_cycles: int = 100,
        render_mode: str | None = None,
    ):
        if game is not None:
            if not isinstance(game, PowerControlGame):
                raise TypeError("game must be a PowerControlGame")
            n_users, n_carriers = game.n_users, game.n_carriers
            if np.any(np.isfinite(game.mask)):
                raise ValueError(
                    "game must have no spectral mask (the action maps onto the full budget simplex)"
                )
        self.n_users = check_int("n_users", n_users, low=1)
        self.n_carriers = check_int("n_carriers", n_carriers, low=1)
        self.noise = check_nonneg_float("noise", noise, positive=True)
        self.budget = check_nonneg_float("budget", budget, positive=True)
        self.area = check_nonneg_float("area", area, positive=True)
        if len(link_length) != 2:
            raise ValueError(f"link_length must be (min, max), got {link_length!r}")
        self.link_length = tuple(
            check_nonneg_float("link_length", x, positive=True) for x in link_length
        )
        if self.link_length[0] > self.link_length[1]:
            raise ValueError(f"link_length must satisfy min <= max, got {link_length!r}")
        self.path_loss_exponent = check_nonneg_float("path_loss_exponent", path_loss_exponent)
        if n_taps is None:
            n_taps = min(4, self.n_carriers)
        self.n_taps = check_int(
            "n_taps", n_taps, low=1, high=None if game is not None else self.n_carriers
        )
        self.fixed_game = game
        self.max_cycles = check_int("max_cycles", max_cycles, low=1)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of "
                f"{self.metadata['render_modes']}, got {render_mode!r}"
            )
        self.render_mode = render_mode
        self.possible_agents = [f"user_{q}" for q in range(self.n_users)]
        self.agents: list[str] = []
        self._index = {a: q for q, a in enumerate(self.possible_agents)}
        self._observation_spaces = {
            a: spaces.Box(0.0, np.inf, shape=(2 * self.n_carriers,), dtype=np.float64)
            for a in self.possible_agents
        }
        self._action_spaces = {
            a: spaces.Box(0.0, 1.0, shape=(self.n_carriers,), dtype=np.float64)
            for a in self.possible_agents
        }
        self.game: PowerControlGame | None = None
        self._rng: np.random.Generator | None = None
        self._window = HumanWindow(self.metadata["render_fps"])
        self.power = np.zeros((self.n_users, self.n_carriers))
        self.measured = np.zeros((self.n_users, self.n_carriers))
        self.rates = np.zeros(self.n_users)
        self.cycles = 0

    # ---------------------------------------------------------------------- model
    def _new_game(self, rng: np.random.Generator) -> PowerControlGame:
        """Return the fixed game, or a new Rayleigh channel drawn from ``rng``."""
        if self.fixed_game is not None:
            return self.fixed_game
        return PowerControlGame.rayleigh(
            self.n_users,
            self.n_carriers,
            seed=rng,
            noise=self.noise,
            budget=self.budget,
            area=self.area,
            link_length=self.link_length,
            path_loss_exponent=self.path_loss_exponent,
            n_taps=self.n_taps,
        )

    def _play(self, weights: np.ndarray) -> np.ndarray:
        """Play one round from raw weights (Q, N); return the rates (Q,)."""
        g = self.game
        out = PowerRound(
            np.empty((1, self.n_users, self.n_carriers)),
            np.empty((1, self.n_users, self.n_carriers)),
            np.empty((1, self.n_users)),
        )
        channel = PowerChannel(g.gains[None], g.noise[None], g.budget[None])
        power_control_round_kernel(channel, weights[None], np.ones(1, dtype=bool), out)
        self.power, self.measured, self.rates = out.power[0], out.measured[0], out.rates[0]
        return self.rates

    def _observe(self, agent: str) -> np.ndarray:
        q = self._index[agent]
        return np.concatenate([self.measured[q], self.game.gains[q, q]])

    def _infos(self) -> dict:
        gap, gains = nash_infos(self.game, self.power)
        total = float(sum_rates(self.rates[None])[0])
        return {
            a: {"nash_gap": gap, "rate_gain": float(gains[q]), "sum_rate": total}
            for a, q in self._index.items()
            if a in self.agents
        }

    # ------------------------------------------------------------------- the loop
    def reset(self, seed: int | None = None, options: dict | None = None):
        """Draw (or reuse) the channel and silence every transmitter."""
        if seed is not None or self._rng is None:
            self._rng = np.random.default_rng(seed)
        self.game = self._new_game(self._rng)
        self.agents = list(self.possible_agents)
        self.cycles = 0
        self.power = np.zeros((self.n_users, self.n_carriers))
        self.rates = np.zeros(self.n_users)
        self.measured = self.game.interference(self.power)
        obs = {a: self._observe(a) for a in self.agents}
        return obs, self._infos()

    def step(self, actions: dict):
        """Every user transmits; each observes the interference it then measures."""
        if not self.agents:
            raise RuntimeError("step() called with no live agents; call reset() first")
        check_actions(actions, self.agents)
        weights = np.empty((self.n_users, self.n_carriers))
        for agent, action in actions.items():
            w = np.asarray(action, dtype=np.float64).reshape(-1)
            if w.shape != (self.n_carriers,):
                raise ValueError(
                    f"action of {agent} must have shape ({self.n_carriers},), got {w.shape}"
                )
            weights[self._index[agent]] = w
        rates = self._play(weights)
        self.cycles += 1
        truncated = self.cycles >= self.max_cycles
        obs = {a: self._observe(a) for a in self.agents}
        rewards = {a: float(rates[self._index[a]]) for a in self.agents}
        terms = dict.fromkeys(self.agents, False)
        truncs = dict.fromkeys(self.agents, truncated)
        infos = self._infos()
        if truncated:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return obs, rewards, terms, truncs, infos

    def iwf_actions(self, observations: dict) -> dict:
        """Return every agent's iterative water-filling action, from its observation."""
        budget = self.game.budget
        return {a: iwf_policy(o, budget[self._index[a]]) for a, o in observations.items()}

    # ------------------------------------------------------------------ rendering
    def _frame(self) -> np.ndarray:
        fig = Figure(figsize=(6.4, 3.6), dpi=80)
        ax = fig.add_subplot(1, 1, 1)
        carriers = np.arange(self.n_carriers)
        bottom = np.zeros(self.n_carriers)
        for q in range(self.n_users):
            ax.bar(carriers, self.power[q], bottom=bottom, label=self.possible_agents[q])
            bottom += self.power[q]
        ax.set_xlabel("carrier")
        ax.set_ylabel("power (W)")
        gap = self.game.nash_gap(self.power) if self.game is not None else float("nan")
        ax.set_title(f"round {self.cycles}, Nash gap {gap:.2e}")
        if self.n_users <= 8:
            ax.legend(loc="upper right", fontsize="small")
        fig.tight_layout()
        return figure_to_rgb(fig)


def parallel_env(**kwargs) -> raw_env:
    """Build the parallel environment (see the module docstring for the arguments)."""
    return raw_env(**kwargs)


def env(**kwargs):
    """Build the AEC environment, derived from the parallel one with ``parallel_to_aec``."""
    return aec_from_parallel(raw_env, **kwargs)


class PowerControlBatchedEnv(BatchedParallelEnv):
    """B power-control games, every user of every game stepped by one Numba call.

    The per-agent batched form (:class:`envs.batched.BatchedParallelEnv`) of
    :class:`raw_env`: sub-environment ``i`` reset with seed ``s`` is bit for bit
    ``raw_env`` reset with seed ``s``, across automatic resets too.

    ===============  ====================================================================
    Agents (axis 1)  ``user_0 .. user_{Q-1}``
    Actions          ``(B, Q, N)``: power weights, as :class:`raw_env`'s
    Observations     ``(B, Q, 2N)`` float64: measured interference-plus-noise, then the
                     user's direct gains
    Rewards          ``(B, Q)``: each user's rate (bit/s/Hz)
    Ends             truncation of every user after ``max_cycles`` rounds
    Infos            ``sum_rate`` (B,); with ``nash_info=True`` also ``nash_gap`` (B,)
                     and ``rate_gain`` (B, Q), computed per game as :class:`raw_env`
                     does (slower: a water-filling per user and game)
    ===============  ====================================================================

    Parameters
    ----------
    num_envs : int
        Number of games B, >= 1.
    autoreset_mode : AutoresetMode or str
        ``NEXT_STEP`` (default), ``SAME_STEP`` or ``DISABLED``; see :mod:`envs.batched`.
    max_episode_steps : int, optional
        Time limit per episode on top of ``max_cycles``.
    nash_info : bool
        Add ``nash_gap`` and ``rate_gain`` to the infos.
    **kwargs
        Arguments of :class:`raw_env` except ``render_mode``.
    """

    def __init__(
        self,
        num_envs: int,
        *,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        max_episode_steps: int | None = None,
        nash_info: bool = False,
        **kwargs,
    ):
        if "render_mode" in kwargs:
            raise TypeError("PowerControlBatchedEnv takes no 'render_mode'")
        if not isinstance(nash_info, bool):
            raise TypeError(f"nash_info must be True or False, got {nash_info!r}")
        self._init_batch(num_envs, autoreset_mode, max_episode_steps)
        self.template = raw_env(**kwargs)
        t = self.template
        first = t.possible_agents[0]
        self._init_spaces(t.possible_agents, t.observation_space(first), t.action_space(first))
        self.nash_info = nash_info
        B, nq, nk = self.num_envs, t.n_users, t.n_carriers
        self.games: list[PowerControlGame | None] = [None] * B
        self._rngs: list[np.random.Generator | None] = [None] * B
        self.channel = PowerChannel(
            np.zeros((B, nq, nq, nk)), np.ones((B, nq, nk)), np.ones((B, nq))
        )
        self.state = PowerRound(np.zeros((B, nq, nk)), np.zeros((B, nq, nk)), np.zeros((B, nq)))
        self._direct = np.zeros((B, nq, nk))
        self.cycles = np.zeros(B, dtype=np.int64)

    def _reset_envs(self, indices: np.ndarray, seeds: list[int | None]) -> None:
        nq = self.template.n_users
        for b, seed in zip(indices, seeds, strict=True):
            if seed is not None or self._rngs[b] is None:
                self._rngs[b] = np.random.default_rng(seed)
            game = self.template._new_game(self._rngs[b])
            self.games[b] = game
            self.channel.gains[b] = game.gains
            self.channel.noise[b] = game.noise
            self.channel.budget[b] = game.budget
            self._direct[b] = game.gains[np.arange(nq), np.arange(nq)]
            self.state.power[b] = 0.0
            self.state.rates[b] = 0.0
            self.state.measured[b] = game.interference(self.state.power[b])
            self.cycles[b] = 0

    def _observe(self) -> tuple[np.ndarray, dict]:
        return np.concatenate([self.state.measured, self._direct], axis=2), self._infos()

    def _infos(self) -> dict:
        every = np.ones(self.num_envs, dtype=bool)
        infos = {"sum_rate": sum_rates(self.state.rates), "_sum_rate": every}
        if self.nash_info:
            gap = np.empty(self.num_envs)
            gains = np.empty((self.num_envs, self.n_agents))
            for b, game in enumerate(self.games):
                gap[b], gains[b] = nash_infos(game, self.state.power[b])
            infos.update(
                {
                    "nash_gap": gap,
                    "_nash_gap": every.copy(),
                    "rate_gain": gains,
                    "_rate_gain": every.copy(),
                }
            )
        return infos

    def _advance(self, actions: np.ndarray, active: np.ndarray):
        """One round of every active game (one kernel call)."""
        power_control_round_kernel(self.channel, actions, active, self.state)
        self.cycles[active] += 1
        obs, infos = self._observe()
        truncated = np.repeat(
            (self.cycles >= self.template.max_cycles)[:, None], self.n_agents, axis=1
        )
        return (obs, self.state.rates.copy(), np.zeros_like(truncated), truncated, infos)
