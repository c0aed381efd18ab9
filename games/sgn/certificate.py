"""The SGN certificate of a differentiable game: block bounds, weights, margin, safe steps.

Examples
--------
>>> from games.diffgame import toy_game
>>> from games.sgn.certificate import certify
>>> cert = certify(toy_game())
>>> cert.certified, round(cert.euclidean_margin, 3)   # 1 - (L_12 + L_21) / 2 < 0
(True, -4.025)
>>> cert.weights                          # w_2 / w_1 = L_12 / L_21
array([  1., 200.])
>>> round(cert.euler_rate(cert.best_euler_step), 4)   # contraction per Euler step
0.9852
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize

from games.diffgame import Box, DifferentiableGame, QuadraticGame, Simplex
from games.sgn.weights import (
    _clear_of_rounding,
    _margin,
    _rk4_step,
    euler_rate,
    optimal_weights,
    rk4_rate,
    timescale_band,
)
from protocols.checks import (
    check_float_array,
    check_int,
)

__all__ = ["Certificate", "block_bounds", "certify"]


# ---------------------------------------------------------------------------------------
# the certificate
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Certificate:
    """What :func:`certify` returns.

    Attributes
    ----------
    certified : bool
        Whether weights with a positive margin were found.
    weights : numpy.ndarray, shape (N,)
        Metric weight of each player (``weights[0] = 1``); the best found even if not
        certified.
    margin : float
        ``alpha(weights)``: the flow's contraction rate in the weighted metric.
    beta : float
        Lipschitz constant of ``F`` in the weighted metric.
    euler_step : float
        Projected Euler contracts for steps in ``(0, euler_step)``,
        ``euler_step = 2 margin / beta^2`` (0 when not certified).
    rk4_step : float
        Projected RK4 contracts for steps in ``(0, rk4_step)`` (0 when not certified).
    band : tuple of float or None
        Two players: the open interval of ratios ``w_2 / w_1`` with positive margin.
    reason : str
        Why it is (not) certified.
    mu : numpy.ndarray, shape (N,)
        Own-block curvatures used.
    coupling : numpy.ndarray, shape (N, N)
        Cross-block norms ``L_ij`` used (zero diagonal).
    gain_radius : float
        Spectral radius of ``diag(1/mu) L`` (< 1 iff certifiable; inf if some mu <= 0).
    euclidean_margin : float
        Smallest eigenvalue of the symmetric part of the Jacobian (min over the region):
        negative means the game is not Euclidean-monotone.
    exact : bool
        True for quadratic games (bounds exact); False when sampled over a region.
    blocks : tuple of int
        Block sizes.
    """

    certified: bool
    weights: np.ndarray
    margin: float
    beta: float
    euler_step: float
    rk4_step: float
    band: tuple[float, float] | None
    reason: str
    mu: np.ndarray
    coupling: np.ndarray
    gain_radius: float
    euclidean_margin: float
    exact: bool
    blocks: tuple[int, ...]

    @property
    def metric(self) -> np.ndarray:
        """Per-coordinate weights of the certified metric, shape (dim,)."""
        return np.repeat(self.weights, self.blocks)

    def norm(self, x) -> float:
        """Return the certified norm ``sqrt(sum_i w_i ||x_i||^2)`` of a joint vector."""
        x = np.asarray(x, dtype=np.float64)
        return float(np.sqrt(np.sum(self.metric * x * x)))

    def euler_rate(self, step: float) -> float:
        """Certified contraction factor per projected Euler step of size ``step``."""
        return euler_rate(step, self.margin, self.beta)

    def rk4_rate(self, step: float) -> float:
        """Certified contraction factor per projected RK4 step of size ``step``."""
        return rk4_rate(step, self.margin, self.beta)

    @property
    def best_euler_step(self) -> float:
        """``margin / beta^2``, the step with the smallest certified Euler factor."""
        return self.margin / self.beta**2 if self.certified else 0.0

    @property
    def best_rk4_step(self) -> float:
        """The step in ``(0, rk4_step)`` with the smallest certified RK4 factor."""
        if not self.certified:
            return 0.0
        res = optimize.minimize_scalar(
            self.rk4_rate, bounds=(0.0, self.rk4_step), method="bounded", options={"xatol": 1e-12}
        )
        return float(res.x)


def _spectral_norm(M: np.ndarray) -> float:
    """Largest singular value, from the top eigenvalue of ``M^T M`` (faster than an SVD)."""
    n = M.shape[1]
    top = linalg.eigvalsh(M.T @ M, subset_by_index=[n - 1, n - 1])[0]
    return float(np.sqrt(max(top, 0.0)))


def _batched_norms(T: np.ndarray) -> np.ndarray:
    """Spectral norms of a stack of small matrices (..., m, k)."""
    return np.sqrt(np.maximum(np.linalg.eigvalsh(np.swapaxes(T, -1, -2) @ T)[..., -1], 0.0))


def block_bounds(
    game: DifferentiableGame, jacobians: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Curvatures, couplings and own-block norms over a set of Jacobians.

    Parameters
    ----------
    game : DifferentiableGame
        For the block layout.
    jacobians : sequence of numpy.ndarray, shape (dim, dim)
        Jacobians at the sample points.

    Returns
    -------
    mu : numpy.ndarray, shape (N,)
        ``min`` over samples of ``lambda_min(sym(DF_ii))``.
    L : numpy.ndarray, shape (N, N)
        ``max`` over samples of ``||DF_ij||_2`` (zero diagonal).
    own_norm : numpy.ndarray, shape (N,)
        ``max`` over samples of ``||DF_ii||_2``.
    euclidean_margin : float
        ``min`` over samples of ``lambda_min(sym(DF))``.
    """
    n = game.n_players
    mu = np.full(n, np.inf)
    L = np.zeros((n, n))
    own = np.zeros(n)
    eucl = np.inf
    equal = len(set(game.blocks)) == 1
    m = game.blocks[0]
    for Jx in jacobians:
        eucl = min(eucl, float(np.linalg.eigvalsh((Jx + Jx.T) / 2)[0]))
        if equal:
            T = Jx.reshape(n, m, n, m).transpose(0, 2, 1, 3)
            norms = _batched_norms(T) if m > 1 else np.abs(T[:, :, 0, 0])
            diag = T[np.arange(n), np.arange(n)]
            lam = np.linalg.eigvalsh((diag + diag.transpose(0, 2, 1)) / 2)[:, 0]
        else:
            norms = np.empty((n, n))
            lam = np.empty(n)
            for i in range(n):
                for j in range(n):
                    norms[i, j] = np.linalg.norm(Jx[game.block(i), game.block(j)], 2)
                D = Jx[game.block(i), game.block(i)]
                lam[i] = np.linalg.eigvalsh((D + D.T) / 2)[0]
        mu = np.minimum(mu, lam)
        own = np.maximum(own, np.diag(norms))
        np.fill_diagonal(norms, 0.0)
        L = np.maximum(L, norms)
    return mu, L, own, eucl


def _region_points(game: DifferentiableGame, region, n_samples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if region is None:
        pts = game.sample(rng, n_samples)
    elif isinstance(region, Box):
        low, high = region.bounds(game.dim)
        pts = region.sample(rng, game.dim, n_samples)
        pts = np.vstack([pts, (low + high)[None, :] / 2])
    elif (
        isinstance(region, Sequence)
        and not isinstance(region, str)
        and len(region) == game.n_players
        and all(isinstance(s, Box | Simplex) for s in region)
    ):
        pts = np.empty((n_samples, game.dim))
        for i, s in enumerate(region):
            pts[:, game.block(i)] = s.sample(rng, game.blocks[i], n_samples)
    else:
        pts = check_float_array("region", region, ndim=2, finite=True)
        if pts.shape[1] != game.dim or pts.shape[0] < 1:
            raise ValueError(
                f"region as points must have shape (m >= 1, {game.dim}), got {pts.shape}"
            )
    return pts


def certify(
    game: DifferentiableGame,
    region=None,
    *,
    method: str = "perron",
    n_samples: int = 64,
    seed: int = 0,
) -> Certificate:
    """Certify (or refuse) contraction of gradient play to the Nash equilibrium.

    Parameters
    ----------
    game : DifferentiableGame
        The game; for a :class:`QuadraticGame` the bounds are exact and ``region`` is
        not needed.
    region : Box or sequence of sets or array_like, optional
        Where the curvature / coupling bounds must hold (non-quadratic games): a
        :class:`Box` over the joint vector, one set per player, or sample points of
        shape (m, dim). Default: the game's own (bounded) sets.
    method : {"perron", "optimize"}
        Weight construction (see :func:`optimal_weights`).
    n_samples : int
        Sample points of the region (non-quadratic games).
    seed : int
        Seed of the sampling.

    Returns
    -------
    Certificate
        The weights, margin, Lipschitz constant, safe steps and (two players) the band,
        or ``certified=False`` with the reason.

    Notes
    -----
    For non-quadratic games the bounds are estimates from sampled Jacobians (not a proof
    over the whole region), and ``beta`` is the bound ``||S B S^-1||_2`` from the
    block-norm matrix ``B`` (``B_ii = max ||DF_ii||``, ``B_ij = L_ij``), which covers every
    Jacobian whose blocks respect the sampled bounds.
    """
    if not isinstance(game, DifferentiableGame):
        raise TypeError("game must be a DifferentiableGame (or QuadraticGame)")
    n_samples = check_int("n_samples", n_samples, low=1)
    seed = check_int("seed", seed, low=0)
    exact = isinstance(game, QuadraticGame)
    if exact:
        jacs = [game.J]
    else:
        pts = _region_points(game, region, n_samples, seed)
        jacs = [game.jacobian(p) for p in pts]
    mu, L, own, eucl = block_bounds(game, jacs)
    n = game.n_players
    if np.all(mu > 0):
        gain = float(np.max(np.abs(np.linalg.eigvals(L / mu[:, None])))) if n > 1 else 0.0
    else:
        gain = math.inf
    if np.all(mu > 0):
        w, alpha = optimal_weights(mu, L, method=method)
    else:
        w, alpha = np.ones(n), _margin(mu, L, np.ones(n))
    s_full = np.sqrt(np.repeat(w, game.blocks))
    if exact:
        beta = _spectral_norm(s_full[:, None] * game.J / s_full[None, :])
    else:
        B = L + np.diag(own)
        s = np.sqrt(w)
        beta = float(np.linalg.norm(s[:, None] * B / s[None, :], 2))
    band = None
    if n == 2:
        band = timescale_band(mu[0], mu[1], L[0, 1], L[1, 0])
    certified = _clear_of_rounding(alpha, gain, mu, L) and beta > 0
    if certified:
        euler_step = 2 * alpha / beta**2
        rk4_step = _rk4_step(alpha, beta)
        reason = (
            f"certified: small-gain holds (spectral radius of diag(1/mu) L = {gain:.4g}"
            f" < 1); margin {alpha:.4g} in the weighted metric"
        )
    else:
        euler_step = rk4_step = 0.0
        bad = np.flatnonzero(mu <= 0)
        if bad.size:
            i = int(bad[0])
            reason = (
                f"not certified: player {i} has mu_{i} = {mu[i]:.4g} <= 0 (its own "
                f"block is not strongly monotone), so no weights give a positive margin"
            )
        elif n == 2:
            reason = (
                f"not certified: mu_1 mu_2 = {mu[0] * mu[1]:.4g} <= L_12 L_21 = "
                f"{L[0, 1] * L[1, 0]:.4g}: the coupling gain exceeds the curvature for "
                f"every weight ratio (empty band)"
            )
        else:
            reason = (
                f"not certified: the gain matrix diag(1/mu) L has spectral radius "
                f"{gain:.4g} >= 1, so no weights give a positive margin"
            )
    return Certificate(
        certified=certified,
        weights=w,
        margin=float(alpha),
        beta=beta,
        euler_step=float(euler_step),
        rk4_step=float(rk4_step),
        band=band,
        reason=reason,
        mu=mu,
        coupling=L,
        gain_radius=gain,
        euclidean_margin=float(eucl),
        exact=exact,
        blocks=tuple(game.blocks),
    )
