"""Certified projected Euler and RK4 gradient play.

Examples
--------
>>> from games.diffgame import toy_game
>>> from games.sgn.solvers import projected_rk4
>>> result = projected_rk4(toy_game(b=(1.0, -1.0)))   # certifies, then iterates
>>> result.converged, result.solution   # J x + b = 0 with J = [[1, 10], [0.05, 1]]
(True, array([-22. ,   2.1]))
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from games.diffgame import DifferentiableGame, QuadraticGame, project_simplex
from games.sgn.certificate import (
    Certificate,
    certify,
)
from protocols.checks import (
    ConvergenceWarning,
    check_float_array,
    check_int,
    check_nonneg_float,
)
from protocols.sgn import sgn_iterate

__all__ = ["SGNResult", "projected_euler", "projected_rk4"]


# ---------------------------------------------------------------------------------------
# certified solvers
# ---------------------------------------------------------------------------------------
@dataclass
class SGNResult:
    """Outcome of :func:`projected_euler` / :func:`projected_rk4`.

    Attributes
    ----------
    solution : numpy.ndarray, shape (dim,)
        Last iterate.
    iterations : int
        Iterations performed.
    converged : bool
        Whether the residual reached ``tol``.
    residuals : numpy.ndarray, shape (iterations,)
        ``||x_{k+1} - x_k||_w / step`` per iteration (weighted metric).
    step : float
        Step size used.
    rate : float
        Certified per-step contraction factor at that step in the weighted metric (nan
        when uncertified). For RK4 the bound is proved for unconstrained games (or
        constraints inactive along the path); with active constraints the stages are
        projected and the same factor is checked empirically in the tests, not proved.
    certificate : Certificate
        The certificate used.
    trajectory : numpy.ndarray or None, shape (iterations + 1, dim)
        Iterates, when requested.
    """

    solution: np.ndarray
    iterations: int
    converged: bool
    residuals: np.ndarray
    step: float
    rate: float
    certificate: Certificate
    trajectory: np.ndarray | None = None


def _solve(game, certificate, method, step, x0, tol, max_iter, trajectory, region):
    if not isinstance(game, DifferentiableGame):
        raise TypeError("game must be a DifferentiableGame (or QuadraticGame)")
    cert = certify(game, region) if certificate is None else certificate
    if not isinstance(cert, Certificate):
        raise TypeError("certificate must be a Certificate")
    if tuple(cert.blocks) != tuple(game.blocks):
        raise ValueError(f"certificate is for blocks {cert.blocks}, the game has {game.blocks}")
    if step is None:
        if not cert.certified:
            raise ValueError(f"no certified step ({cert.reason}); pass step= to iterate anyway")
        step = cert.best_euler_step if method == "euler" else cert.best_rk4_step
    step = check_nonneg_float("step", step, positive=True)
    rate = (
        (cert.euler_rate(step) if method == "euler" else cert.rk4_rate(step))
        if cert.certified
        else math.nan
    )
    x0 = np.zeros(game.dim) if x0 is None else x0
    if isinstance(game, QuadraticGame):  # vectorised projection of the start
        J, lower, upper, radius = game.kernel_arrays()
        x = np.clip(check_float_array("x0", x0, shape=(game.dim,), finite=True), lower, upper)
        for i in np.flatnonzero(radius):
            x[game.block(i)] = project_simplex(x[game.block(i)], radius[i])
    else:
        x = game.project(x0)
    tol = check_nonneg_float("tol", tol)
    max_iter = check_int("max_iter", max_iter, low=1)
    w = cert.metric
    if isinstance(game, QuadraticGame):
        r = sgn_iterate(
            J,
            game.b,
            x,
            step,
            method=method,
            weights=w,
            lower=lower,
            upper=upper,
            blocks=game.blocks,
            simplex_radius=radius,
            tol=tol,
            max_iter=max_iter,
            trajectory=trajectory,
            warn=False,
        )
        sol, iters, conv, res, traj = (
            r.solution,
            r.iterations,
            r.converged,
            r.residuals,
            r.trajectory,
        )
    else:
        sol, iters, conv, res, traj = _python_iterate(
            game, x, step, method, w, tol, max_iter, trajectory
        )
    if not conv:
        warnings.warn(
            f"{method} gradient play stopped after {iters} iterations with residual "
            f"{res[-1]:.3g} > tol = {tol:.3g}",
            ConvergenceWarning,
            stacklevel=3,
        )
    return SGNResult(
        solution=sol,
        iterations=iters,
        converged=conv,
        residuals=res,
        step=step,
        rate=rate,
        certificate=cert,
        trajectory=traj,
    )


def _python_iterate(game, x, step, method, w, tol, max_iter, trajectory):
    F = game.pseudo_gradient
    res = []
    traj = [x.copy()] if trajectory else None
    conv = False
    with np.errstate(all="ignore"):
        for _ in range(max_iter):
            k1 = F(x)
            if method == "euler":
                xn = x - step * k1
            else:
                k2 = F(_safe_project(game, x - 0.5 * step * k1))
                k3 = F(_safe_project(game, x - 0.5 * step * k2))
                k4 = F(_safe_project(game, x - step * k3))
                xn = x - step * (k1 + 2 * k2 + 2 * k3 + k4) / 6
            xn = _safe_project(game, xn)
            r = float(np.sqrt(np.sum(w * (xn - x) ** 2)) / step)
            res.append(r)
            x = xn
            if trajectory:
                traj.append(x.copy())
            if r <= tol:
                conv = True
                break
            if not math.isfinite(r):
                break
    return x, len(res), conv, np.array(res), (np.array(traj) if trajectory else None)


def _safe_project(game, x):
    return game.project(x) if np.all(np.isfinite(x)) else x


def projected_euler(
    game: DifferentiableGame,
    certificate: Certificate | None = None,
    *,
    step: float | None = None,
    x0=None,
    tol: float = 1e-10,
    max_iter: int = 100_000,
    trajectory: bool = False,
    region=None,
) -> SGNResult:
    """Certified projected Euler gradient play ``x <- P(x - step F(x))``.

    Parameters
    ----------
    game : DifferentiableGame
        The game (a :class:`QuadraticGame` with box / simplex / no sets runs the Numba
        kernel of :mod:`protocols.sgn`).
    certificate : Certificate, optional
        From :func:`certify` (computed when omitted, over ``region``).
    step : float, optional
        Step size; default the certificate's ``best_euler_step``.
    x0 : array_like, shape (dim,), optional
        Start (projected first); default zeros.
    tol : float
        Stop when ``||x_{k+1} - x_k||_w / step <= tol``.
    max_iter : int
        Iteration cap.
    trajectory : bool
        Keep every iterate.
    region : optional
        Passed to :func:`certify` when ``certificate`` is omitted.

    Returns
    -------
    SGNResult
    """
    return _solve(game, certificate, "euler", step, x0, tol, max_iter, trajectory, region)


def projected_rk4(
    game: DifferentiableGame,
    certificate: Certificate | None = None,
    *,
    step: float | None = None,
    x0=None,
    tol: float = 1e-10,
    max_iter: int = 100_000,
    trajectory: bool = False,
    region=None,
) -> SGNResult:
    """Certified projected RK4 gradient play (RK4 of ``x' = -F(x)``, stages projected).

    Parameters are those of :func:`projected_euler`; the default step is the
    certificate's ``best_rk4_step``.

    Returns
    -------
    SGNResult
    """
    return _solve(game, certificate, "rk4", step, x0, tol, max_iter, trajectory, region)
