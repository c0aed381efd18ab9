"""The multi-carrier power-control game and its iterative water-filling solver.

``Q`` users (transmitter-receiver pairs) share ``N`` carriers. User ``q`` chooses powers
``p[q, k] >= 0`` with ``sum_k p[q, k] = budget[q]`` (and ``p[q, k] <= mask[q, k]`` when
a spectral mask is given) to maximise its own rate

    R_q(p) = sum_k log2(1 + gains[q, q, k] p[q, k] / I[q, k]),
    I[q, k] = noise[q, k] + sum_{r != q} gains[q, r, k] p[r, k],

treating the others' interference as noise. Its best response is water-filling; a Nash
equilibrium is a profile where every user's power is its own water-filling response.

The convergence certificate is the spectral radius of the interference matrix
``S_max[q, r] = max_k gains[q, r, k] / gains[q, q, k]`` (``r != q``; zero diagonal).
When ``rho(S_max) < 1`` the equilibrium is unique and the sequential, simultaneous and
totally asynchronous IWF schedules all converge to it from any start.

Examples
--------
>>> from games.power_control import PowerControlGame
>>> game = PowerControlGame.rayleigh(3, 4, seed=0)
>>> bool(game.spectral_radius() < 1)               # the IWF certificate holds
True
>>> result = game.solve("simultaneous")
>>> result.converged, bool(game.nash_gap(result.solution) <= 1e-9)
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from protocols.checks import check_int, check_nonneg_float
from protocols.iwf import (
    METHODS,
    OPTION_DEFAULTS,
    best_response,
    check_channel,
    interference,
    move_gains,
    nash_gap,
    solve_channel,
)

__all__ = [
    "PowerControlGame",
    "PowerControlResult",
    "interference_matrix",
    "rayleigh_channel",
    "spectral_radius",
]


def interference_matrix(gains) -> np.ndarray:
    """Return the matrix ``S_max`` of the convergence certificate.

    Parameters
    ----------
    gains : array_like, shape (Q, Q, N)
        ``gains[q, r, k]``, gain from transmitter ``r`` to receiver ``q`` on carrier ``k``.

    Returns
    -------
    numpy.ndarray, shape (Q, Q)
        ``S[q, r] = max_k gains[q, r, k] / gains[q, q, k]`` for ``r != q``, 0 on the
        diagonal.
    """
    g, _, _, _ = check_channel(gains, 1.0, 1.0)
    nq = g.shape[0]
    direct = g[np.arange(nq), np.arange(nq)]  # (Q, N)
    s = (g / direct[:, None, :]).max(axis=2)
    np.fill_diagonal(s, 0.0)
    return s


def spectral_radius(gains) -> float:
    """Spectral radius of :func:`interference_matrix`; below 1 certifies convergence.

    Parameters
    ----------
    gains : array_like, shape (Q, Q, N)
        Channel gains.

    Returns
    -------
    float
        ``rho(S_max)``.
    """
    return float(np.max(np.abs(np.linalg.eigvals(interference_matrix(gains)))))


def rayleigh_channel(
    n_users: int,
    n_carriers: int,
    rng: np.random.Generator,
    *,
    area: float = 500.0,
    link_length: tuple[float, float] = (10.0, 50.0),
    path_loss_exponent: float = 3.5,
    reference_distance: float = 1.0,
    n_taps: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frequency-selective Rayleigh fading with distance path loss.

    Transmitters are dropped uniformly in a square of side ``area``; each receiver lies
    at a uniform angle and a distance drawn uniformly in ``link_length`` from its own
    transmitter. The power gain from transmitter ``r`` to receiver ``q`` on carrier
    ``k`` is ``(d0 / max(d, d0)) ** alpha * |H[q, r, k]|**2``, where ``H`` is the
    ``N``-point DFT of an ``n_taps``-tap channel with i.i.d. CN(0, 1 / n_taps) taps
    (so ``E|H|^2 = 1`` and neighbouring carriers are correlated).

    Parameters
    ----------
    n_users, n_carriers : int
        ``Q >= 1`` and ``N >= 1``.
    rng : numpy.random.Generator
        Source of every draw.
    area : float
        Side of the square (m), > 0.
    link_length : (float, float)
        Range of transmitter-receiver distances (m), ``0 < low <= high``.
    path_loss_exponent : float
        ``alpha`` >= 0.
    reference_distance : float
        ``d0`` (m), > 0: the distance at which the path gain is 1.
    n_taps : int, optional
        Channel taps, in ``[1, n_carriers]``; default ``min(8, n_carriers)``.

    Returns
    -------
    gains : numpy.ndarray, shape (Q, Q, N)
        Power gains.
    tx, rx : numpy.ndarray, shape (Q, 2)
        Transmitter and receiver positions (m).
    """
    nq = check_int("n_users", n_users, low=1)
    nk = check_int("n_carriers", n_carriers, low=1)
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator")
    area = check_nonneg_float("area", area, positive=True)
    lo, hi = (check_nonneg_float("link_length", x, positive=True) for x in link_length)
    if lo > hi:
        raise ValueError(f"link_length must satisfy low <= high, got {link_length}")
    alpha = check_nonneg_float("path_loss_exponent", path_loss_exponent)
    d0 = check_nonneg_float("reference_distance", reference_distance, positive=True)
    taps = check_int("n_taps", min(8, nk) if n_taps is None else n_taps, low=1, high=nk)
    tx = rng.uniform(0.0, area, size=(nq, 2))
    angle = rng.uniform(0.0, 2 * np.pi, size=nq)
    length = rng.uniform(lo, hi, size=nq)
    rx = tx + length[:, None] * np.column_stack([np.cos(angle), np.sin(angle)])
    dist = np.linalg.norm(rx[:, None, :] - tx[None, :, :], axis=2)  # [q, r]
    path = (d0 / np.maximum(dist, d0)) ** alpha
    h = rng.standard_normal((nq, nq, taps)) + 1j * rng.standard_normal((nq, nq, taps))
    h /= np.sqrt(2.0 * taps)
    fading = np.abs(np.fft.fft(h, n=nk, axis=2)) ** 2
    # A gain of exactly zero would make a direct link unusable; it has probability 0,
    # but guard the float underflow anyway.
    gains = path[:, :, None] * np.maximum(fading, np.finfo(float).tiny)
    return gains, tx, rx


@dataclass
class PowerControlResult:
    """Outcome of :meth:`PowerControlGame.solve`.

    Attributes
    ----------
    solution : numpy.ndarray, shape (Q, N)
        Powers at the end (the equilibrium when ``converged``); alias ``power``.
    iterations : int
        Updates performed (sweeps, rounds or ticks).
    converged : bool
        Whether the Nash gap reached ``tol``.
    residuals : numpy.ndarray, shape (iterations + 1,)
        Alias ``nash_gap_history``: see :class:`protocols.iwf.IWFResult` (the Nash gap
        at the start and after every update; the last entry is the Nash gap of
        ``solution``).
    rates : numpy.ndarray, shape (Q,)
        Each user's rate at ``solution`` (bit/s/Hz).
    nash_gap : float
        Relative Nash gap of ``solution``.
    spectral_radius : float
        ``rho(S_max)``; below 1 the equilibrium is unique and every schedule reaches it.
    schedule : str
        The schedule used.
    """

    solution: np.ndarray
    iterations: int
    converged: bool
    residuals: np.ndarray = field(repr=False)
    rates: np.ndarray = field(default_factory=lambda: np.empty(0))
    nash_gap: float = float("nan")
    spectral_radius: float = float("nan")
    schedule: str = "sequential"

    @property
    def power(self) -> np.ndarray:
        """Alias of :attr:`solution` (the name before the common result shape)."""
        return self.solution

    @property
    def nash_gap_history(self) -> np.ndarray:
        """Alias of :attr:`residuals` (the name before the common result shape)."""
        return self.residuals

    @property
    def sum_rate(self) -> float:
        """Total rate of all users (bit/s/Hz)."""
        return float(self.rates.sum())

    @property
    def certified(self) -> bool:
        """Whether ``rho(S_max) < 1`` certifies a unique equilibrium."""
        return self.spectral_radius < 1.0


def _readonly(arr: np.ndarray) -> np.ndarray:
    view = arr.view()
    view.setflags(write=False)
    return view


class PowerControlGame:
    """Multi-carrier power-control game (rate maximisation under power budgets).

    Parameters
    ----------
    gains : array_like, shape (Q, Q, N)
        ``gains[q, r, k]``: power gain from transmitter ``r`` to receiver ``q`` on
        carrier ``k``; the diagonal ``q == r`` is the direct link (> 0), the rest >= 0.
    noise : float or array_like, shape (Q, N)
        Noise power at each receiver on each carrier (W), > 0.
    budget : float or array_like, shape (Q,)
        Power budget of each user (W), > 0.
    mask : None, float or array_like, shape (N,) or (Q, N)
        Spectral mask: per-carrier power caps (W), >= 0, ``inf`` for none.

    Examples
    --------
    >>> game = PowerControlGame.rayleigh(4, 16, seed=0)
    >>> result = game.solve("sequential")
    >>> result.converged, game.nash_gap(result.solution) <= 1e-9
    (True, True)
    """

    def __init__(self, gains, noise, budget, mask=None):
        g, nz, b, c = check_channel(gains, noise, budget, mask, cap_name="mask")
        # Private arrays stay writeable (one compiled kernel signature); the properties
        # hand out read-only views.
        self._gains, self._noise, self._budget, self._mask = (
            g.copy(),
            nz.copy(),
            b.copy(),
            c.copy(),
        )
        self._rho: float | None = None
        self._move_gains: np.ndarray | None = None  # built on first use

    @classmethod
    def rayleigh(
        cls,
        n_users: int,
        n_carriers: int,
        *,
        seed: int | np.random.Generator | None = None,
        noise: float = 1e-8,
        budget: float = 1.0,
        mask=None,
        **channel,
    ) -> PowerControlGame:
        """Build a game over a random frequency-selective Rayleigh channel.

        Parameters
        ----------
        n_users, n_carriers : int
            ``Q`` and ``N``.
        seed : int, numpy.random.Generator or None
            Source of the channel draw.
        noise : float
            Noise power per carrier (W).
        budget : float
            Power budget of every user (W).
        mask : optional
            Spectral mask, as in the constructor.
        **channel
            Passed to :func:`rayleigh_channel` (``area``, ``link_length``,
            ``path_loss_exponent``, ``reference_distance``, ``n_taps``).

        Returns
        -------
        PowerControlGame
            The game.
        """
        gains, _, _ = rayleigh_channel(n_users, n_carriers, np.random.default_rng(seed), **channel)
        return cls(gains, noise, budget, mask)

    # ----------------------------------------------------------------- the model
    @property
    def gains(self) -> np.ndarray:
        """Channel gains, shape (Q, Q, N) (read-only)."""
        return _readonly(self._gains)

    @property
    def noise(self) -> np.ndarray:
        """Noise power, shape (Q, N) (read-only)."""
        return _readonly(self._noise)

    @property
    def budget(self) -> np.ndarray:
        """Power budgets, shape (Q,) (read-only)."""
        return _readonly(self._budget)

    @property
    def mask(self) -> np.ndarray:
        """Per-carrier power caps, shape (Q, N), ``inf`` where there is none."""
        return _readonly(self._mask)

    @property
    def n_users(self) -> int:
        """Number of users ``Q``."""
        return self._gains.shape[0]

    @property
    def n_carriers(self) -> int:
        """Number of carriers ``N``."""
        return self._gains.shape[2]

    def interference(self, power) -> np.ndarray:
        """Interference-plus-noise each user sees, shape (Q, N), for ``power`` (Q, N)."""
        return interference(self._gains, self._noise, power)

    def sinr(self, power) -> np.ndarray:
        """Signal to interference-plus-noise ratio, shape (Q, N), for ``power`` (Q, N)."""
        p = np.asarray(power, dtype=np.float64)
        direct = self._gains[np.arange(self.n_users), np.arange(self.n_users)]
        return direct * p / self.interference(p)

    def rates(self, power) -> np.ndarray:
        """Each user's rate ``sum_k log2(1 + SINR)`` (bit/s/Hz), shape (Q,)."""
        p = np.asarray(power, dtype=np.float64)
        return self._rates_given(p, self.interference(p))

    def _rates_given(self, power: np.ndarray, interf: np.ndarray) -> np.ndarray:
        """Rates of ``power`` given the interference-plus-noise ``interf`` it causes."""
        direct = self._gains[np.arange(self.n_users), np.arange(self.n_users)]
        return np.log2(1.0 + direct * power / interf).sum(axis=1)

    def best_response(self, power) -> np.ndarray:
        """Every user's water-filling response to the others in ``power``, shape (Q, N)."""
        return best_response(self._gains, self._noise, self._budget, power, self._mask)

    def nash_gap(self, power) -> float:
        """Relative Nash gap ``max_q max_k |p - WF_q(p)| / budget[q]`` of ``power``."""
        return nash_gap(self._gains, self._noise, self._budget, power, self._mask)

    def is_feasible(self, power, *, atol: float = 1e-9) -> bool:
        """Whether ``power`` respects the budgets (all used unless capped) and the mask."""
        p = np.asarray(power, dtype=np.float64)
        if p.shape != (self.n_users, self.n_carriers) or not np.all(np.isfinite(p)):
            return False
        used = np.minimum(self._budget, self._mask.sum(axis=1))
        return bool(
            np.all(p >= -atol)
            and np.all(p <= self._mask + atol)
            and np.allclose(p.sum(axis=1), used, rtol=0.0, atol=atol * self._budget)
        )

    def interference_matrix(self) -> np.ndarray:
        """``S_max`` (Q, Q): see :func:`interference_matrix`."""
        return interference_matrix(self._gains)

    def spectral_radius(self) -> float:
        """``rho(S_max)``: below 1 certifies a unique equilibrium reached by every schedule."""
        if self._rho is None:
            self._rho = spectral_radius(self._gains)
        return self._rho

    # ----------------------------------------------------------------- solving
    def solve(
        self,
        schedule: str = "sequential",
        tol: float = 1e-9,
        max_iter: int = 10_000,
        seed: int | np.random.Generator | None = None,
        **options,
    ) -> PowerControlResult:
        """Run iterative water-filling to a Nash equilibrium.

        Parameters
        ----------
        schedule : {"sequential", "simultaneous", "asynchronous", "accelerated"}
            Gauss-Seidel, Jacobi, or totally asynchronous updates, or Gauss-Seidel with
            Anderson acceleration (the same equilibrium in far fewer sweeps; no
            ``step``, ``step_decay`` or ``measurement_noise``).
        tol : float
            Target relative Nash gap.
        max_iter : int
            Largest number of updates.
        seed : int, numpy.random.Generator or None
            Source of the asynchronous schedule's and the measurement noise's draws.
        **options
            ``p0``, ``step``, ``step_decay``, ``measurement_noise``, ``update_prob``,
            ``max_delay``, ``order``: see :func:`protocols.iwf.iterative_waterfill`.

        Returns
        -------
        PowerControlResult
            Powers, rates, convergence, Nash gap (final and history) and ``rho(S_max)``.

        Warns
        -----
        ConvergenceWarning
            When the Nash gap did not reach ``tol`` within ``max_iter`` updates.
        """
        if schedule not in METHODS:
            raise ValueError(f"schedule must be one of {', '.join(METHODS)}, got {schedule!r}")
        unknown = sorted(set(options) - set(OPTION_DEFAULTS))
        if unknown:
            raise TypeError(
                f"solve() got an unexpected keyword argument {unknown[0]!r}; "
                f"allowed: {', '.join(sorted(OPTION_DEFAULTS))}"
            )
        if schedule in ("sequential", "accelerated") and self._move_gains is None:
            self._move_gains = move_gains(self._gains, self._noise, self._budget)
        moves = self._move_gains if schedule in ("sequential", "accelerated") else None
        res = solve_channel(
            (self._gains, self._noise, self._budget, self._mask),
            moves,
            schedule=schedule,
            tol=tol,
            max_iter=max_iter,
            seed=seed,
            **(OPTION_DEFAULTS | options),
        )
        return PowerControlResult(
            solution=res.solution,
            iterations=res.iterations,
            converged=res.converged,
            residuals=res.residuals,
            rates=self._rates_given(res.solution, res.interference),
            nash_gap=res.nash_gap,
            spectral_radius=self.spectral_radius(),
            schedule=schedule,
        )

    def __repr__(self) -> str:
        return (
            f"PowerControlGame(n_users={self.n_users}, n_carriers={self.n_carriers}, "
            f"spectral_radius={self.spectral_radius():.3g})"
        )
