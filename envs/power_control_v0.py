"""Multi-carrier power control as a PettingZoo parallel environment.

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
    figure_to_rgb,
)
from games.power_control import PowerControlGame
from protocols._checks import check_int, check_nonneg_float
from protocols.iwf import waterfill

__all__ = ["TEST_KWARGS", "env", "iwf_policy", "parallel_env", "raw_env"]

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


class raw_env(FrameRenderMixin, AgentSpacesMixin, ParallelEnv):
    """Power-control game environment; see the module docstring."""

    metadata: ClassVar[dict] = {"render_modes": ["human", "rgb_array"], "name": "power_control_v0",
                "is_parallelizable": True, "render_fps": 4}

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
                raise ValueError("game must have no spectral mask (the action maps onto the "
                                 "full budget simplex)")
        self.n_users = check_int("n_users", n_users, low=1)
        self.n_carriers = check_int("n_carriers", n_carriers, low=1)
        self.noise = check_nonneg_float("noise", noise, positive=True)
        self.budget = check_nonneg_float("budget", budget, positive=True)
        self.area = check_nonneg_float("area", area, positive=True)
        if len(link_length) != 2:
            raise ValueError(f"link_length must be (min, max), got {link_length!r}")
        self.link_length = tuple(check_nonneg_float("link_length", x, positive=True)
                                 for x in link_length)
        if self.link_length[0] > self.link_length[1]:
            raise ValueError(f"link_length must satisfy min <= max, got {link_length!r}")
        self.path_loss_exponent = check_nonneg_float("path_loss_exponent", path_loss_exponent)
        if n_taps is None:
            n_taps = min(4, self.n_carriers)
        self.n_taps = check_int("n_taps", n_taps, low=1,
                                high=None if game is not None else self.n_carriers)
        self.fixed_game = game
        self.max_cycles = check_int("max_cycles", max_cycles, low=1)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of "
                             f"{self.metadata['render_modes']}, got {render_mode!r}")
        self.render_mode = render_mode
        self.possible_agents = [f"user_{q}" for q in range(self.n_users)]
        self.agents: list[str] = []
        self._index = {a: q for q, a in enumerate(self.possible_agents)}
        self._observation_spaces = {
            a: spaces.Box(0.0, np.inf, shape=(2 * self.n_carriers,), dtype=np.float64)
            for a in self.possible_agents}
        self._action_spaces = {
            a: spaces.Box(0.0, 1.0, shape=(self.n_carriers,), dtype=np.float64)
            for a in self.possible_agents}
        self.game: PowerControlGame | None = None
        self._rng: np.random.Generator | None = None
        self._window = HumanWindow(self.metadata["render_fps"])
        self.power = np.zeros((self.n_users, self.n_carriers))
        self.measured = np.zeros((self.n_users, self.n_carriers))
        self.cycles = 0

    # --------------------------------------------------------------------- spaces
    # ---------------------------------------------------------------------- model
    def _new_game(self) -> PowerControlGame:
        if self.fixed_game is not None:
            return self.fixed_game
        return PowerControlGame.rayleigh(
            self.n_users, self.n_carriers, seed=self._rng, noise=self.noise,
            budget=self.budget, area=self.area, link_length=self.link_length,
            path_loss_exponent=self.path_loss_exponent, n_taps=self.n_taps)

    def _power_from_action(self, action, budget: float) -> np.ndarray:
        w = np.asarray(action, dtype=np.float64).reshape(-1)
        if w.shape != (self.n_carriers,):
            raise ValueError(f"action must have shape ({self.n_carriers},), got {w.shape}")
        w = np.clip(np.nan_to_num(w, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
        total = w.sum()
        if total <= 0.0:
            return np.full(self.n_carriers, budget / self.n_carriers)
        return budget * (w / total)

    def _observe(self, agent: str) -> np.ndarray:
        q = self._index[agent]
        return np.concatenate([self.measured[q], self.game.gains[q, q]])

    def _infos(self) -> dict:
        rates = self.game.rates(self.power)
        br = self.game.best_response(self.power)
        gains = np.empty(self.n_users)
        for q in range(self.n_users):
            alt = self.power.copy()
            alt[q] = br[q]
            gains[q] = self.game.rates(alt)[q] - rates[q]
        gap = float(np.max(np.abs(self.power - br) / self.game.budget[:, None]))
        total = float(rates.sum())
        return {a: {"nash_gap": gap, "rate_gain": float(gains[q]), "sum_rate": total}
                for a, q in self._index.items() if a in self.agents}

    # ------------------------------------------------------------------- the loop
    def reset(self, seed: int | None = None, options: dict | None = None):
        """Draw (or reuse) the channel and silence every transmitter."""
        if seed is not None or self._rng is None:
            self._rng = np.random.default_rng(seed)
        self.game = self._new_game()
        self.agents = list(self.possible_agents)
        self.cycles = 0
        self.power = np.zeros((self.n_users, self.n_carriers))
        self.measured = self.game.interference(self.power)
        obs = {a: self._observe(a) for a in self.agents}
        return obs, self._infos()

    def step(self, actions: dict):
        """Every user transmits; each observes the interference it then measures."""
        if not self.agents:
            raise RuntimeError("step() called with no live agents; call reset() first")
        budget = self.game.budget
        power = self.power.copy()
        for agent, action in actions.items():
            if agent not in self._index:
                raise KeyError(f"unknown agent {agent!r}")
            q = self._index[agent]
            power[q] = self._power_from_action(action, budget[q])
        self.power = power
        self.measured = self.game.interference(power)
        rates = self.game.rates(power)
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
