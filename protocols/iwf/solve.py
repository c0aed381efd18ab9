"""Driving the IWF kernels: :func:`iterative_waterfill` and its result.

Examples
--------
>>> import numpy as np
>>> from protocols.iwf.solve import iterative_waterfill
>>> gains = np.full((2, 2, 3), 0.1)
>>> gains[0, 0] = gains[1, 1] = 1.0
>>> result = iterative_waterfill(gains, np.full((2, 3), 0.1), np.ones(2),
...                              schedule="simultaneous", tol=1e-10)
>>> result.converged, result.solution.shape, bool(result.residuals[-1] <= 1e-10)
(True, (2, 3), True)
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass, field

import numpy as np

from protocols.checks import ConvergenceWarning, check_int, check_nonneg_float
from protocols.iwf.accelerated import _anderson_kernel, accelerated_channel
from protocols.iwf.channel import Channel, _check_power, check_channel
from protocols.iwf.schedules import (
    AsyncDraws,
    Run,
    _asynchronous_kernel,
    _sequential_kernel,
    _simultaneous_kernel,
)

__all__ = [
    "METHODS",
    "OPTION_DEFAULTS",
    "SCHEDULES",
    "IWFResult",
    "iterative_waterfill",
    "move_gains",
    "solve_channel",
]

#: The update schedules of the paper, accepted by :func:`iterative_waterfill`.
SCHEDULES = ("sequential", "simultaneous", "asynchronous")

#: Everything :func:`iterative_waterfill` accepts as ``schedule``: the paper's schedules
#: and ``"accelerated"`` (Anderson-accelerated sequential IWF, see
#: :mod:`protocols.iwf.accelerated`).
METHODS = (*SCHEDULES, "accelerated")

# The kernels run in chunks of iterations (random draws for the stochastic schedules are
# made a chunk at a time), so memory stays bounded whatever ``max_iter`` is.
_CHUNK = 256
_CHUNK_DETERMINISTIC = 4096


@dataclass
class IWFResult:
    """Outcome of :func:`iterative_waterfill`.

    Attributes
    ----------
    solution : numpy.ndarray, shape (Q, N)
        The last power profile (the equilibrium when ``converged``); alias ``power``.
    iterations : int
        Updates performed (sweeps for ``"sequential"`` and ``"accelerated"``, rounds for
        ``"simultaneous"``, ticks for ``"asynchronous"``).
    converged : bool
        Whether the Nash gap of ``solution`` reached ``tol``.
    residuals : numpy.ndarray, shape (iterations + 1,)
        Alias ``nash_gap_history``. For the paper's schedules, the Nash gap of the
        starting profile and after every update; the sequential schedule measures all
        but the last on interference it keeps up to date with float32 increments, within
        about 1% of those of exact Gauss-Seidel. For ``"accelerated"``, the sweep
        residual ``max |G(x) - x| / budget`` of every extrapolated point. The last entry
        is always the Nash gap of ``solution`` on exactly recomputed interference.
    nash_gap : float
        Relative Nash gap of ``solution`` (see :func:`protocols.iwf.nash_gap`).
    schedule : str
        The schedule used.
    interference : numpy.ndarray, shape (Q, N)
        Interference-plus-noise each user sees at ``solution``.
    """

    solution: np.ndarray
    iterations: int
    converged: bool
    residuals: np.ndarray = field(repr=False)
    nash_gap: float = float("nan")
    schedule: str = "sequential"
    interference: np.ndarray | None = field(default=None, repr=False)

    @property
    def power(self) -> np.ndarray:
        """Alias of :attr:`solution` (the name before the common result shape)."""
        return self.solution

    @property
    def nash_gap_history(self) -> np.ndarray:
        """Alias of :attr:`residuals` (the name before the common result shape)."""
        return self.residuals


def iterative_waterfill(
    gains,
    noise,
    budget,
    cap=None,
    *,
    schedule: str = "sequential",
    tol: float = 1e-9,
    max_iter: int = 10_000,
    p0=None,
    step: float = 1.0,
    step_decay: float = 0.0,
    measurement_noise: float = 0.0,
    update_prob: float = 0.5,
    max_delay: int = 0,
    order=None,
    seed: int | np.random.Generator | None = None,
) -> IWFResult:
    """Run iterative water-filling until the Nash gap is at most ``tol``.

    Parameters
    ----------
    gains, noise, budget, cap
        The channel (see :func:`check_channel`).
    schedule : {"sequential", "simultaneous", "asynchronous", "accelerated"}
        Update schedule (see :mod:`protocols.iwf`). ``"accelerated"`` is sequential IWF
        with Anderson extrapolation (:mod:`protocols.iwf.accelerated`): the same
        equilibrium in far fewer sweeps; it takes no ``step``, ``step_decay`` or
        ``measurement_noise``.
    tol : float
        Stop when the relative Nash gap is at most ``tol`` (>= 0).
    max_iter : int
        Largest number of updates (sweeps, rounds or ticks), >= 0.
    p0 : array_like, shape (Q, N), optional
        Starting powers (default all zero, so the first update is water-filling against
        the noise alone).
    step : float
        Relaxation in (0, 1]: ``p <- (1 - a_n) p + a_n WF(p)`` with
        ``a_n = step / (n + 1) ** step_decay``; 1 is plain IWF.
    step_decay : float
        In [0, 1]; 0 keeps the step constant (damped IWF), values in (0.5, 1] average
        out measurement noise.
    measurement_noise : float
        ``sigma >= 0``: each user water-fills against its measured interference times
        the mean-one log-normal factor ``exp(sigma z - sigma**2 / 2)``, ``z ~ N(0, 1)``
        drawn per user, carrier and update.
    update_prob : float
        ``"asynchronous"`` only: probability in (0, 1] that a user updates at a tick.
    max_delay : int
        ``"asynchronous"`` only: largest age (>= 0 ticks) of the interference a user
        acts on; each update draws its delay uniformly in ``[0, max_delay]``.
    order : array_like of int, shape (Q,), optional
        ``"sequential"`` and ``"accelerated"`` only: the order users update in within a sweep (a
        permutation; default ``0, 1, ..., Q - 1``).
    seed : int, numpy.random.Generator or None
        Source of the asynchronous schedule's and the measurement noise's draws.

    Returns
    -------
    IWFResult
        Powers, iterations, convergence flag, final Nash gap and its history.

    Warns
    -----
    ConvergenceWarning
        When ``max_iter`` updates did not bring the Nash gap to ``tol``.
    """
    channel = check_channel(gains, noise, budget, cap)
    return solve_channel(
        channel,
        None,
        schedule=schedule,
        tol=tol,
        max_iter=max_iter,
        p0=p0,
        step=step,
        step_decay=step_decay,
        measurement_noise=measurement_noise,
        update_prob=update_prob,
        max_delay=max_delay,
        order=order,
        seed=seed,
    )


#: :func:`iterative_waterfill`'s tuning options (beyond schedule, tol, max_iter and seed)
#: and their defaults.
OPTION_DEFAULTS = {
    name: par.default
    for name, par in inspect.signature(iterative_waterfill).parameters.items()
    if par.kind is inspect.Parameter.KEYWORD_ONLY
    and name not in ("schedule", "tol", "max_iter", "seed")
}


def move_gains(gains: np.ndarray, noise: np.ndarray, budget: np.ndarray) -> np.ndarray:
    """Return the gains the sequential kernel applies users' moves with.

    Parameters
    ----------
    gains, noise, budget : numpy.ndarray
        A channel from :func:`protocols.iwf.check_channel` (shapes (Q, Q, N), (Q, N),
        (Q,)).

    Returns
    -------
    numpy.ndarray, shape (Q, Q, N)
        A float32 copy (half the memory traffic of a sweep) when gains, budgets and their
    products sit well inside float32's range and anything float32 flushes to zero is
    negligible against the noise; else ``gains`` itself.
    """
    top = float(gains.max())
    least = float(gains[gains > 0].min())
    fits = top < 1e30 and top * float(budget.max()) < 1e30 and least > 1e-30
    if fits and float(noise.min()) > 1e-25:
        return gains.astype(np.float32)
    return gains


def solve_channel(
    channel: tuple,
    gains_for_moves: np.ndarray | None,
    *,
    schedule: str,
    tol: float,
    max_iter: int,
    p0,
    step: float,
    step_decay: float,
    measurement_noise: float,
    update_prob: float,
    max_delay: int,
    order,
    seed,
) -> IWFResult:
    """:func:`iterative_waterfill` on an already validated channel.

    The unchecked path for callers that solve one channel many times
    (:class:`games.power_control.PowerControlGame`): the channel is not validated again;
    the options are.

    Parameters
    ----------
    channel : tuple of numpy.ndarray
        ``(gains, noise, budget, cap)`` exactly as returned by
        :func:`protocols.iwf.check_channel`.
    gains_for_moves : numpy.ndarray or None
        :func:`move_gains` of the channel (used by ``"sequential"`` and
        ``"accelerated"``), or None to compute it.
    schedule, tol, max_iter, p0, step, step_decay, measurement_noise
        As in :func:`iterative_waterfill` (every one required).
    update_prob, max_delay, order, seed
        As in :func:`iterative_waterfill` (every one required).

    Returns
    -------
    IWFResult
        As :func:`iterative_waterfill`.
    """
    g, nz, b, c = channel
    nq, _, nk = g.shape
    if schedule not in METHODS:
        raise ValueError(f"schedule must be one of {', '.join(METHODS)}, got {schedule!r}")
    tol = check_nonneg_float("tol", tol)
    max_iter = check_int("max_iter", max_iter, low=0)
    step = check_nonneg_float("step", step, positive=True, high=1.0)
    step_decay = check_nonneg_float("step_decay", step_decay, high=1.0)
    sigma = check_nonneg_float("measurement_noise", measurement_noise)
    update_prob = check_nonneg_float("update_prob", update_prob, positive=True, high=1.0)
    max_delay = check_int("max_delay", max_delay, low=0)
    if schedule == "accelerated" and (step != 1.0 or step_decay != 0.0 or sigma != 0.0):
        raise ValueError(
            "schedule 'accelerated' takes no step, step_decay or "
            "measurement_noise (it is exact, undamped sequential IWF); leave "
            "them at 1, 0 and 0"
        )
    if order is None:
        order_a = np.arange(nq, dtype=np.int64)
    else:
        order_a = np.asarray(order)
        if (
            order_a.dtype.kind not in "iu"
            or order_a.shape != (nq,)
            or not np.array_equal(np.sort(order_a), np.arange(nq))
        ):
            raise ValueError(f"order must be a permutation of 0..{nq - 1}")
        order_a = np.ascontiguousarray(order_a, dtype=np.int64)
    if p0 is None:
        p = np.zeros((nq, nk))
    else:
        p = _check_power(p0, nq, nk).copy()
    rng = np.random.default_rng(seed)
    if schedule == "accelerated":
        history = np.empty(max_iter + 1)
        interf = np.empty((nq, nk))
        moves = move_gains(g, nz, b) if gains_for_moves is None else gains_for_moves
        done, converged = _anderson_kernel(
            accelerated_channel(g, nz, b, c, moves), order_a, p, tol, history, interf
        )
        return _result(
            p, int(done), bool(converged), history[: done + 1], schedule, tol, max_iter, interf
        )

    past = np.empty((max_delay + 1, nq, nk))
    interf = np.empty((nq, nk))
    if schedule == "sequential" and gains_for_moves is None:
        gains_for_moves = move_gains(g, nz, b)
    no_noise = np.empty((0, nq, nk))
    ch = Channel(g, nz, b, c)
    parts = []
    done = 0
    converged = False
    size = _CHUNK if (sigma > 0.0 or schedule == "asynchronous") else _CHUNK_DETERMINISTIC
    while True:
        chunk = min(size, max_iter - done)
        local = np.empty(chunk + 1)
        factor = (
            np.exp(sigma * rng.standard_normal((chunk, nq, nk)) - 0.5 * sigma**2)
            if sigma > 0
            else no_noise
        )
        run = Run(step, step_decay, done, chunk, tol)
        if schedule == "sequential":
            steps, converged = _sequential_kernel(
                ch, gains_for_moves, p, order_a, run, factor, local, interf
            )
        elif schedule == "simultaneous":
            steps, converged = _simultaneous_kernel(ch, p, run, factor, local, interf)
        else:
            update = rng.random((chunk, nq)) < update_prob
            delay = rng.integers(0, max_delay + 1, size=(chunk, nq))
            steps, converged = _asynchronous_kernel(
                ch, p, past, run, AsyncDraws(factor, update, delay), local, interf
            )
        # A chunk starts by re-evaluating the profile the previous one ended on.
        parts.append(local[: steps + 1] if not parts else local[1 : steps + 1])
        done += int(steps)
        if converged or done >= max_iter:
            break
    return _result(p, done, bool(converged), np.concatenate(parts), schedule, tol, max_iter, interf)


def _result(p, done, converged, history, schedule, tol, max_iter, interf) -> IWFResult:
    """Build the result; warn (ConvergenceWarning) when ``tol`` was not reached."""
    if not converged:
        warnings.warn(
            f"iterative water-filling ({schedule}) did not reach a Nash gap of tol={tol:g} "
            f"within max_iter={max_iter} iterations (last gap {history[-1]:.3g}); the "
            f"result has converged=False",
            ConvergenceWarning,
            stacklevel=4,
        )
    return IWFResult(
        solution=p,
        iterations=done,
        converged=converged,
        residuals=history,
        nash_gap=float(history[-1]),
        schedule=schedule,
        interference=interf,
    )
