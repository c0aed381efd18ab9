"""Bilevel policy optimisation for linear-quadratic graphon mean-field games.

Policies are affine in the private state, ``a = K(t) x + k_u(t)``, with a slope shared by
all players and one intercept per label block (the parameterisation of the paper in
``../shared/papers/lq-graphon-mfg.md``). They live on an *action grid* of
``n_actions`` equal intervals of ``[0, T]`` (the action frequency), linear between its
nodes; the model's finer grid carries the dynamics.

The algorithm alternates

1. **inner loop (best response)**: policy gradient on ``K`` and every ``k_u`` against a
   frozen aggregate ``Z``. The functional gradient of block ``u``'s cost at time ``t``
   is ``(R K + B P_K)(Var + mu_u^2) + (R k_u + B s_u) mu_u`` for ``K`` and
   ``(R K + B P_K) mu_u + R k_u + B s_u`` for ``k_u``, where ``mu, Var`` solve the
   moment ODEs and ``1/2 P_K x^2 + s_u x + c_u`` is the policy's value (exact gradients,
   ``gradient="exact"``). ``method="natural"`` preconditions by the moment matrix, which
   leaves the step ``(K + (B/R) P_K, k_u + (B/R) s_u)``; ``method="vanilla"`` takes the
   plain gradient (the slope's gradient is averaged over blocks, since ``K`` is shared).
   ``gradient="sampled"`` estimates the natural step from simulated trajectories and
   their pathwise adjoints (:func:`protocols.graphon.sampled_regression`). Gradients are
   projected on the action grid's hat functions.
2. **outer loop (population update)**: recompute the aggregate created by the new
   policies, ``Z = W m / M`` with the closed-loop means ``m``, optionally damped.

Each outer iteration records the distance of ``(K, k)`` to the exact equilibrium
(:meth:`games.graphon_mfg.LQGraphonMFG.equilibrium`) and the exploitability: the largest
gain any block could make by best responding to the aggregate the current profile
creates.

Examples
--------
>>> from games.graphon_mfg import LQGraphonMFG
>>> from games.graphon_po import policy_optimization
>>> game = LQGraphonMFG(A=0.0, B=1.0, Abar=0.5, Q=1.0, R=1.0, G=0.0, H=0.0, Hbar=0.0,
...                     sigma=0.1, T=1.0, graphon="exponential", m0=1.0,
...                     n_blocks=4, n_steps=20)
>>> result = policy_optimization(game, max_iter=20, tol=1e-8)
>>> result.converged, bool(result.history["exploitability"][-1] < 1e-7)
(True, True)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from tqdm.auto import tqdm

from games.graphon_mfg import LQGraphonMFG
from protocols.checks import ConvergenceWarning, check_int, check_nonneg_float
from protocols.graphon import policy_moments, policy_value, sampled_regression

__all__ = ["AffinePolicy", "PolicyOptimizationResult", "policy_optimization"]


class AffinePolicy(NamedTuple):
    """A learned affine feedback profile ``a = K(t) x + k_j(t)`` on the model grid.

    Attributes
    ----------
    slope : numpy.ndarray, shape (n_steps + 1,)
        Shared slope ``K``.
    intercepts : numpy.ndarray, shape (n_blocks, n_steps + 1)
        Per-block intercepts ``k_j``.
    """

    slope: np.ndarray
    intercepts: np.ndarray


@dataclass
class PolicyOptimizationResult:
    """Outcome of :func:`policy_optimization` (the common solver-result shape).

    Attributes
    ----------
    solution : AffinePolicy
        The learned profile: ``solution.slope`` (n_steps + 1,) and
        ``solution.intercepts`` (n_blocks, n_steps + 1); aliases ``slope`` and
        ``intercepts``.
    iterations : int
        Outer iterations done.
    converged : bool
        The aggregate changed by less than ``tol`` and the last inner loop converged.
    residuals : numpy.ndarray, shape (iterations,)
        Max change of the aggregate ``Z`` at every outer iteration (the quantity compared
        with ``tol``; the same array as ``history["aggregate_change"]``).
    means : numpy.ndarray, shape (n_blocks, n_steps + 1)
        Block means created by the learned profile.
    aggregate : numpy.ndarray, shape (n_blocks, n_steps + 1)
        The aggregate after the last population update.
    history : dict of str to numpy.ndarray
        Per outer iteration: ``slope_error`` and ``intercept_error`` (max-norm error
        relative to the exact equilibrium's max-norm), ``distance`` (their maximum),
        ``exploitability`` (largest gain of a block by deviating), ``aggregate_change``
        (max change of ``Z``) and ``inner_iterations``.
    """

    solution: AffinePolicy
    iterations: int
    converged: bool
    residuals: np.ndarray = field(repr=False)
    means: np.ndarray = field(repr=False, default_factory=lambda: np.empty((0, 0)))
    aggregate: np.ndarray = field(repr=False, default_factory=lambda: np.empty((0, 0)))
    history: dict[str, np.ndarray] = field(repr=False, default_factory=dict)

    @property
    def slope(self) -> np.ndarray:
        """Alias of ``solution.slope``."""
        return self.solution.slope

    @property
    def intercepts(self) -> np.ndarray:
        """Alias of ``solution.intercepts``."""
        return self.solution.intercepts


def _relative(err, ref) -> float:
    scale = float(np.abs(ref).max())
    return float(np.abs(err).max()) / scale if scale > 0 else float(np.abs(err).max())


def policy_optimization(
    game: LQGraphonMFG,
    *,
    n_actions: int | None = None,
    method: str = "natural",
    gradient: str = "exact",
    lr: float | None = None,
    inner_max_iter: int = 200,
    inner_tol: float = 1e-10,
    max_iter: int = 100,
    tol: float = 1e-10,
    damping: float = 1.0,
    n_paths: int = 256,
    seed: int = 0,
    progress: bool = False,
) -> PolicyOptimizationResult:
    """Learn the equilibrium of a graphon game by bilevel policy optimisation.

    Parameters
    ----------
    game : LQGraphonMFG
        The game; its grid carries the dynamics.
    n_actions : int, optional
        Number of action intervals (the action frequency); must divide
        ``game.n_steps``. Default: ``game.n_steps`` (a policy value at every node).
    method : {"natural", "vanilla"}
        Natural (moment-preconditioned) or plain policy gradient.
    gradient : {"exact", "sampled"}
        Exact gradients from the moment ODEs, or natural-gradient estimates from
        ``n_paths`` simulated trajectories per block (``method="natural"`` only; the
        model needs ``sigma > 0`` or ``var0 > 0`` so the states spread).
    lr : float, optional
        Step size. Default 1.0 for natural steps (policy iteration) and
        ``0.5 / (R max E[x^2])`` for vanilla ones.
    inner_max_iter : int
        Cap on policy-gradient steps per outer iteration.
    inner_tol : float
        Inner loop stops when the largest projected step is below this.
    max_iter : int
        Cap on outer iterations.
    tol : float
        Outer loop stops when the aggregate changes by less than this (max norm).
    damping : float
        Population update ``Z <- (1 - damping) Z + damping Z_new``, in (0, 1].
    n_paths : int
        Trajectories per block for ``gradient="sampled"``.
    seed : int
        Seed of the simulated trajectories.
    progress : bool
        Show a progress bar over outer iterations.

    Returns
    -------
    PolicyOptimizationResult
        Learned profile, per-iteration history, ``converged`` and ``iterations``.
    """
    if not isinstance(game, LQGraphonMFG):
        raise TypeError("game must be an LQGraphonMFG")
    n = game.n_steps
    n_actions = n if n_actions is None else check_int("n_actions", n_actions, low=1, high=n)
    if n % n_actions:
        raise ValueError(f"n_actions must divide n_steps = {n}, got {n_actions}")
    if method not in ("natural", "vanilla"):
        raise ValueError(f"method must be 'natural' or 'vanilla', got {method!r}")
    if gradient not in ("exact", "sampled"):
        raise ValueError(f"gradient must be 'exact' or 'sampled', got {gradient!r}")
    if gradient == "sampled" and method != "natural":
        raise ValueError("gradient='sampled' estimates natural steps: use method='natural'")
    if gradient == "sampled" and game.sigma == 0 and game.var0 == 0:
        raise ValueError(
            "gradient='sampled' needs sigma > 0 or var0 > 0 (the slope is not "
            "identifiable from paths that do not spread)"
        )
    if lr is not None:
        lr = check_nonneg_float("lr", lr, positive=True)
    inner_max_iter = check_int("inner_max_iter", inner_max_iter, low=1)
    inner_tol = check_nonneg_float("inner_tol", inner_tol, positive=True)
    max_iter = check_int("max_iter", max_iter, low=1)
    tol = check_nonneg_float("tol", tol, positive=True)
    damping = check_nonneg_float("damping", damping, positive=True, high=1.0)
    n_paths = check_int("n_paths", n_paths, low=2)
    rng = np.random.default_rng(check_int("seed", seed, low=0))

    M = game.n_blocks
    coef = (game.A, game.B, game.Abar, game.Q, game.R, game.G, game.H, game.Hbar, game.sigma)
    # action grid: hat functions on every stride-th node
    stride = n // n_actions
    tk = np.arange(n + 1) / stride
    E = np.maximum(0.0, 1.0 - np.abs(tk[:, None] - np.arange(n_actions + 1)[None, :]))
    wq = np.full(n + 1, game.dt)
    wq[[0, -1]] *= 0.5
    proj = (E * wq[:, None]).T
    proj /= proj.sum(axis=1, keepdims=True)

    eq = game.equilibrium()
    theta_K = np.zeros(n_actions + 1)
    theta_k = np.zeros((M, n_actions + 1))
    K = E @ theta_K
    k = theta_k @ E.T
    means = game.induced_means(K, k)
    Z = game.aggregate(means)
    hist: dict[str, list] = {
        key: []
        for key in (
            "slope_error",
            "intercept_error",
            "distance",
            "exploitability",
            "aggregate_change",
            "inner_iterations",
        )
    }
    converged = False
    inner_ok = False
    it = 0
    bar = tqdm(total=max_iter, disable=not progress, desc="policy optimisation")
    while it < max_iter:
        it += 1
        inner_ok = False
        steps = 0
        while steps < inner_max_iter:
            steps += 1
            if gradient == "sampled":
                x0 = game.m0[:, None] + np.sqrt(game.var0) * rng.standard_normal((M, n_paths))
                noise = rng.standard_normal((M, n_paths, n))
                cK, ck = sampled_regression(*coef, K, k, Z, game.dt, x0, noise)
                dK, dk = cK / game.R, ck / game.R
                step = 1.0 if lr is None else lr
            else:
                P, s, _ = policy_value(*coef, K, k, Z, game.dt)
                gK = game.R * K + game.B * P
                gk = game.R * k + game.B * s
                if method == "natural":
                    dK, dk = gK / game.R, gk / game.R
                    step = 1.0 if lr is None else lr
                else:
                    mu, var = policy_moments(
                        game.A, game.B, game.Abar, game.sigma, K, k, Z, game.m0, game.var0, game.dt
                    )
                    second = var[None, :] + mu * mu
                    dK = (gK[None, :] * second + gk * mu).mean(axis=0)
                    dk = gK[None, :] * mu + gk
                    step = 0.5 / (game.R * max(1.0, float(second.max()))) if lr is None else lr
            pK = proj @ dK
            pk = dk @ proj.T
            theta_K -= step * pK
            theta_k -= step * pk
            K = E @ theta_K
            k = theta_k @ E.T
            if max(np.abs(pK).max(), np.abs(pk).max()) * step < inner_tol:
                inner_ok = True
                break
        means = game.induced_means(K, k)
        Z_new = game.aggregate(means)
        change = float(np.abs(Z_new - Z).max())
        gap = game.policy_costs(K, k, Z_new) - game.best_response_costs(Z_new)
        Z = (1.0 - damping) * Z + damping * Z_new
        se = _relative(K - eq.slope, eq.slope)
        ie = _relative(k - eq.intercepts, eq.intercepts)
        for key, val in (
            ("slope_error", se),
            ("intercept_error", ie),
            ("distance", max(se, ie)),
            ("exploitability", float(gap.max())),
            ("aggregate_change", change),
            ("inner_iterations", steps),
        ):
            hist[key].append(val)
        bar.update(1)
        if change < tol and (inner_ok or gradient == "sampled"):
            converged = True
            break
    bar.close()
    if not converged:
        warnings.warn(
            f"policy optimisation stopped after {it} outer iterations "
            f"(aggregate change {hist['aggregate_change'][-1]:.3g} >= tol {tol:g} "
            f"or inner loop not converged)",
            ConvergenceWarning,
            stacklevel=2,
        )
    history = {key: np.asarray(v) for key, v in hist.items()}
    return PolicyOptimizationResult(
        solution=AffinePolicy(K, k),
        iterations=it,
        converged=converged,
        residuals=history["aggregate_change"],
        means=means,
        aggregate=Z,
        history=history,
    )
