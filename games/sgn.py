"""Small-Gain Nash (SGN) certificates and certified solvers for differentiable games.

Given a game with pseudo-gradient ``F`` and players' blocks ``x_i``, SGN works with

- ``mu_i``: the smallest eigenvalue of the symmetric part of player i's own Jacobian
  block ``DF_ii`` (its curvature), and
- ``L_ij``: the spectral norm of the cross block ``DF_ij`` (how strongly j moves i),

both exact for quadratic games and taken over sample points of a compact region
otherwise. For weights ``w > 0`` the block matrix ``C(w)`` has diagonal ``2 w_i mu_i``
and off-diagonal ``-(w_i L_ij + w_j L_ji)``; with ``D = diag(w)`` the SGN margin is
``alpha(w) = 1/2 lambda_min(D^-1/2 C(w) D^-1/2)``. If ``alpha(w) > 0`` then ``F`` is
``alpha``-strongly monotone in the metric ``||x||_w^2 = sum_i w_i ||x_i||^2``:
``<x - y, F(x) - F(y)>_w >= alpha ||x - y||_w^2``, so the flow ``x' = -F(x)`` contracts at
rate ``alpha``, and with ``beta`` the Lipschitz constant of ``F`` in that metric projected
Euler contracts for steps below ``2 alpha / beta^2`` (factor
``sqrt(1 - 2 h alpha + h^2 beta^2)`` per step of size ``h``).

**Optimal weights for any N** (the Perron construction). Write ``A`` for the comparison
matrix (``A_ii = mu_i``, ``A_ij = -L_ij``); then ``C(w) = D A + A^T D`` and
``alpha(w) = lambda_min(sym(S A S^-1))`` with ``S = D^1/2``. Every eigenvalue of ``A`` lies
in the numerical range of ``S A S^-1``, so no weights beat ``tau(A)``, the smallest real
eigenvalue of the Z-matrix ``A``; and ``alpha(w) >= t`` for ``w = v / u``, ``u = (A -
tI)^-1 1``, ``v = (A - tI)^-T 1`` and any ``t < tau(A)`` (``(D B + B^T D) u > 0`` for ``B = A -
tI``, and a symmetric Z-matrix mapping a positive vector to a positive vector is positive
definite). At ``t = tau(A)`` with ``A`` irreducible, ``u, v`` are the right and left Perron
vectors and ``alpha(w) = tau(A)`` exactly. So the best margin is ``tau(A)`` and a
certificate exists iff ``A`` is a nonsingular M-matrix, i.e. iff every ``mu_i > 0`` and the
gain matrix ``diag(1/mu) L`` has spectral radius < 1 (two players: ``mu_1 mu_2 > L_12
L_21``). ``weights(method="optimize")`` maximises ``alpha`` numerically with scipy
instead, as a cross-check.

**Timescale band** (two players): with ``r = w_2 / w_1``,
``alpha > a`` iff ``L_12 / sqrt(r) + L_21 sqrt(r) < 2 sqrt((mu_1 - a)(mu_2 - a))``, an
interval ``(r_-, r_+)`` with ``r_- r_+ = (L_12 / L_21)^2``.

**RK4.** Writing the RK4 map's Jacobian as ``I - h Jbar + R`` with ``Jbar`` a convex
combination of Jacobians (same ``alpha``, ``beta``) and ``||R||_w <= q^2/2 + q^3/6 +
q^4/24``, ``q = h beta``, its contraction factor is at most
``sqrt(1 - 2 h alpha + h^2 beta^2) + q^2/2 + q^3/6 + q^4/24``; ``rk4_step`` is the largest
step where this bound is < 1.

**Fisher / mirror geometry.** Entropy-regularised softmax natural policy gradient in a
Markov game, ``theta_i <- (1 - h tau) theta_i + h Q_i`` (mirror descent with the
negative-entropy mirror map), is gradient play ``z <- z - h Phi(z)`` on the mirror (logit)
coordinates with ``Phi_i = tau z_i - E^T Q_i`` (``E`` an orthonormal basis of sum-zero
logits per state). Its own blocks carry the curvature ``tau`` from the entropy, and its
cross blocks are payoff blocks times the softmax Fisher matrix ``diag(pi) - pi pi^T``
(norm <= 1/2), which :func:`certify_entropic` turns into an SGN certificate (global and
exact-bound for one-state games, sampled over a logit box otherwise).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize

from games.diffgame import Box, DifferentiableGame, QuadraticGame, Simplex, project_simplex
from protocols._checks import (
    ConvergenceWarning,
    check_float_array,
    check_int,
    check_nonneg_float,
)
from protocols.sgn import sgn_iterate

__all__ = [
    "Certificate",
    "EntropicCertificate",
    "EntropicResult",
    "MarkovGame",
    "QuadraticGame",
    "SGNResult",
    "block_bounds",
    "certify",
    "certify_entropic",
    "entropic_dual_game",
    "entropic_npg",
    "euler_rate",
    "optimal_weights",
    "projected_euler",
    "projected_rk4",
    "rk4_rate",
    "sgn_margin",
    "timescale_band",
]


# ---------------------------------------------------------------------------------------
# margins, weights, band
# ---------------------------------------------------------------------------------------
def _check_mu_l(mu, L) -> tuple[np.ndarray, np.ndarray]:
    mu = check_float_array("mu", mu, ndim=1, finite=True)
    n = mu.shape[0]
    L = check_float_array("L", L, shape=(n, n), finite=True)
    L = L.copy()
    np.fill_diagonal(L, 0.0)
    if np.any(L < 0):
        raise ValueError("L must be >= 0 (norms of cross blocks)")
    return mu, L


def sgn_margin(mu, L, weights) -> float:
    """Return the SGN margin ``alpha(w) = 1/2 lambda_min(D^-1/2 C(w) D^-1/2)``.

    Parameters
    ----------
    mu : array_like, shape (N,)
        Own-block curvatures.
    L : array_like, shape (N, N)
        Cross-block norms ``L_ij`` (diagonal ignored).
    weights : array_like, shape (N,)
        Positive metric weights.

    Returns
    -------
    float
        The margin (a contraction rate when > 0).
    """
    mu, L = _check_mu_l(mu, L)
    w = check_float_array("weights", weights, shape=mu.shape, finite=True)
    if np.any(w <= 0):
        raise ValueError("weights must be > 0")
    return _margin(mu, L, w)


def _margin(mu: np.ndarray, L: np.ndarray, w: np.ndarray) -> float:
    s = np.sqrt(w)
    off = L * (s[:, None] / s[None, :])
    M = -(off + off.T) / 2
    M[np.diag_indices_from(M)] = mu
    return float(np.linalg.eigvalsh(M)[0])


def _tau(mu: np.ndarray, L: np.ndarray) -> float:
    A = np.diag(mu) - L
    return float(np.min(np.linalg.eigvals(A).real))


def optimal_weights(mu, L, *, method: str = "perron") -> tuple[np.ndarray, float]:
    """Weights maximising the SGN margin, normalised so that ``weights[0] = 1``.

    Parameters
    ----------
    mu : array_like, shape (N,)
        Own-block curvatures.
    L : array_like, shape (N, N)
        Cross-block norms.
    method : {"perron", "optimize"}
        ``"perron"``: the Perron / M-matrix construction of the module docstring
        (optimal up to rounding); ``"optimize"``: scipy L-BFGS on log-weights with the
        analytic eigenvalue gradient, from equal weights.

    Returns
    -------
    weights : numpy.ndarray, shape (N,)
    margin : float
        ``alpha(weights)``.
    """
    mu, L = _check_mu_l(mu, L)
    if method == "perron":
        w = _perron_weights(mu, L)
    elif method == "optimize":
        w = _optimize_weights(mu, L, np.ones_like(mu))
    else:
        raise ValueError(f"method must be 'perron' or 'optimize', got {method!r}")
    w = w / w[0]
    return w, _margin(mu, L, w)


def _perron_weights(mu: np.ndarray, L: np.ndarray) -> np.ndarray:
    n = mu.shape[0]
    if n == 1:
        return np.ones(1)
    A = np.diag(mu) - L
    evals, left, right = linalg.eig(A, left=True, right=True)
    k = int(np.argmin(evals.real))
    tau = float(evals.real[k])
    u = np.abs(right[:, k].real)
    v = np.abs(left[:, k].real)
    cands = []
    if np.all(u > 1e-300) and np.all(v > 1e-300):
        cands.append(v / u)
    scale = max(float(np.max(np.abs(A))), 1e-300)
    good = bool(cands) and _margin(mu, L, cands[0] / np.max(cands[0])) >= tau - 1e-9 * scale
    if not good:  # reducible coupling: the resolvent construction at t slightly below tau
        for delta in (1e-9, 1e-6, 1e-3):
            B = A - (tau - delta * scale) * np.eye(n)
            try:
                u = np.linalg.solve(B, np.ones(n))
                v = np.linalg.solve(B.T, np.ones(n))
            except np.linalg.LinAlgError:
                continue
            if np.all(u > 0) and np.all(v > 0):
                cands.append(v / u)
    cands = [c / np.max(c) for c in cands if np.all(np.isfinite(c)) and np.all(c > 0)]
    if not cands:
        return np.ones(n)
    margins = [_margin(mu, L, c) for c in cands]
    return cands[int(np.argmax(margins))]


def _optimize_weights(mu: np.ndarray, L: np.ndarray, w0: np.ndarray) -> np.ndarray:
    def neg_margin(z):
        s = np.exp(z / 2)
        ratio = s[:, None] / s[None, :]
        off = L * ratio
        M = -(off + off.T) / 2
        M[np.diag_indices_from(M)] = mu
        ev, vec = np.linalg.eigh(M)
        q = vec[:, 0]
        # d lambda / d z_k = q^T (dM / dz_k) q, with d(s_i / s_j) / dz_k = (s_i / s_j)
        # (delta_ik - delta_jk) / 2: half the k-th row sum minus column sum of G
        G = -off * np.outer(q, q)
        grad = 0.5 * (G.sum(axis=1) - G.sum(axis=0))
        return -ev[0], -grad

    res = optimize.minimize(neg_margin, np.log(w0), jac=True, method="L-BFGS-B",
                            options={"maxiter": 500, "gtol": 1e-12, "ftol": 1e-15})
    return np.exp(res.x - np.max(res.x))


def timescale_band(mu1: float, mu2: float, l12: float, l21: float,
                   margin: float = 0.0) -> tuple[float, float] | None:
    """Return the ratios ``r = w_2 / w_1`` whose SGN margin exceeds ``margin`` (N = 2).

    Parameters
    ----------
    mu1, mu2 : float
        Own curvatures.
    l12, l21 : float
        Cross-block norms (>= 0).
    margin : float
        Required margin ``a`` (0 for the certification band).

    Returns
    -------
    tuple of float or None
        The open interval ``(low, high)`` (``high`` may be ``inf``), or None when empty.
    """
    l12 = check_nonneg_float("l12", l12)
    l21 = check_nonneg_float("l21", l21)
    a = float(margin)
    if not (mu1 > a and mu2 > a):
        return None
    m = math.sqrt((mu1 - a) * (mu2 - a))
    disc = m * m - l12 * l21
    if disc <= 0:
        return None
    if l21 == 0:
        return (0.0, math.inf) if l12 == 0 else ((l12 / (2 * m)) ** 2, math.inf)
    root = math.sqrt(disc)
    low = (m - root) / l21
    high = (m + root) / l21
    if l12 > 0:  # the product of the roots is l12 / l21: the stabler form for the low one
        low = l12 / (l21 * high)
    return low * low, high * high


def euler_rate(step: float, margin: float, beta: float) -> float:
    """Certified per-step contraction factor of projected Euler, ``sqrt(1 - 2 h a + h^2 b^2)``."""
    return math.sqrt(max(0.0, 1.0 - 2.0 * step * margin + (step * beta) ** 2))


def rk4_rate(step: float, margin: float, beta: float) -> float:
    """Certified per-step contraction bound of projected RK4 (see the module docstring)."""
    q = step * beta
    return euler_rate(step, margin, beta) + q * q / 2 + q ** 3 / 6 + q ** 4 / 24


def _clear_of_rounding(alpha: float, gain: float, mu: np.ndarray, L: np.ndarray) -> bool:
    """Positive margin and gain < 1, both by more than rounding (borderline is a no)."""
    scale = max(float(np.max(np.abs(mu))), float(np.max(L)) if L.size else 0.0, 1e-300)
    return bool(alpha > 1e-10 * scale and gain < 1 - 1e-10)


def _rk4_step(alpha: float, beta: float) -> float:
    """Return the root of ``rk4_rate(h) = 1`` (unique: convex bound, 1 at 0, slope < 0)."""

    def excess(h):
        u = -2.0 * h * alpha + (h * beta) ** 2
        q = h * beta
        return u / (math.sqrt(1.0 + u) + 1.0) + q * q / 2 + q ** 3 / 6 + q ** 4 / 24

    hi = 2 * alpha / beta ** 2
    return float(optimize.brentq(excess, hi * 1e-9, hi, xtol=1e-15, rtol=1e-14))


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
        return self.margin / self.beta ** 2 if self.certified else 0.0

    @property
    def best_rk4_step(self) -> float:
        """The step in ``(0, rk4_step)`` with the smallest certified RK4 factor."""
        if not self.certified:
            return 0.0
        res = optimize.minimize_scalar(self.rk4_rate, bounds=(0.0, self.rk4_step),
                                       method="bounded", options={"xatol": 1e-12})
        return float(res.x)


def _spectral_norm(M: np.ndarray) -> float:
    """Largest singular value, from the top eigenvalue of ``M^T M`` (faster than an SVD)."""
    n = M.shape[1]
    top = linalg.eigvalsh(M.T @ M, subset_by_index=[n - 1, n - 1])[0]
    return float(np.sqrt(max(top, 0.0)))


def _batched_norms(T: np.ndarray) -> np.ndarray:
    """Spectral norms of a stack of small matrices (..., m, k)."""
    return np.sqrt(np.maximum(np.linalg.eigvalsh(np.swapaxes(T, -1, -2) @ T)[..., -1], 0.0))


def block_bounds(game: DifferentiableGame, jacobians: Sequence[np.ndarray]
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
    elif isinstance(region, Sequence) and not isinstance(region, str) and len(region) == \
            game.n_players and all(isinstance(s, Box | Simplex) for s in region):
        pts = np.empty((n_samples, game.dim))
        for i, s in enumerate(region):
            pts[:, game.block(i)] = s.sample(rng, game.blocks[i], n_samples)
    else:
        pts = check_float_array("region", region, ndim=2, finite=True)
        if pts.shape[1] != game.dim or pts.shape[0] < 1:
            raise ValueError(f"region as points must have shape (m >= 1, {game.dim}), "
                             f"got {pts.shape}")
    return pts


def certify(game: DifferentiableGame, region=None, *, method: str = "perron",
            n_samples: int = 64, seed: int = 0) -> Certificate:
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
        euler_step = 2 * alpha / beta ** 2
        rk4_step = _rk4_step(alpha, beta)
        reason = (f"certified: small-gain holds (spectral radius of diag(1/mu) L = {gain:.4g}"
                  f" < 1); margin {alpha:.4g} in the weighted metric")
    else:
        euler_step = rk4_step = 0.0
        bad = np.flatnonzero(mu <= 0)
        if bad.size:
            i = int(bad[0])
            reason = (f"not certified: player {i} has mu_{i} = {mu[i]:.4g} <= 0 (its own "
                      f"block is not strongly monotone), so no weights give a positive margin")
        elif n == 2:
            reason = (f"not certified: mu_1 mu_2 = {mu[0] * mu[1]:.4g} <= L_12 L_21 = "
                      f"{L[0, 1] * L[1, 0]:.4g}: the coupling gain exceeds the curvature for "
                      f"every weight ratio (empty band)")
        else:
            reason = (f"not certified: the gain matrix diag(1/mu) L has spectral radius "
                      f"{gain:.4g} >= 1, so no weights give a positive margin")
    return Certificate(
        certified=certified, weights=w, margin=float(alpha), beta=beta,
        euler_step=float(euler_step), rk4_step=float(rk4_step), band=band, reason=reason,
        mu=mu, coupling=L, gain_radius=gain, euclidean_margin=float(eucl), exact=exact,
        blocks=tuple(game.blocks))


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
            raise ValueError(f"no certified step ({cert.reason}); pass step= to iterate "
                             f"anyway")
        step = cert.best_euler_step if method == "euler" else cert.best_rk4_step
    step = check_nonneg_float("step", step, positive=True)
    rate = (cert.euler_rate(step) if method == "euler" else cert.rk4_rate(step)) \
        if cert.certified else math.nan
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
        r = sgn_iterate(J, game.b, x, step, method=method, weights=w, lower=lower,
                        upper=upper, blocks=game.blocks, simplex_radius=radius, tol=tol,
                        max_iter=max_iter, trajectory=trajectory, warn=False)
        sol, iters, conv, res, traj = (r.solution, r.iterations, r.converged, r.residuals,
                                       r.trajectory)
    else:
        sol, iters, conv, res, traj = _python_iterate(game, x, step, method, w, tol, max_iter,
                                                      trajectory)
    if not conv:
        warnings.warn(f"{method} gradient play stopped after {iters} iterations with residual "
                      f"{res[-1]:.3g} > tol = {tol:.3g}", ConvergenceWarning, stacklevel=3)
    return SGNResult(solution=sol, iterations=iters, converged=conv, residuals=res, step=step,
                     rate=rate, certificate=cert, trajectory=traj)


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


def projected_euler(game: DifferentiableGame, certificate: Certificate | None = None, *,
                    step: float | None = None, x0=None, tol: float = 1e-10,
                    max_iter: int = 100_000, trajectory: bool = False,
                    region=None) -> SGNResult:
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


def projected_rk4(game: DifferentiableGame, certificate: Certificate | None = None, *,
                  step: float | None = None, x0=None, tol: float = 1e-10,
                  max_iter: int = 100_000, trajectory: bool = False,
                  region=None) -> SGNResult:
    """Certified projected RK4 gradient play (RK4 of ``x' = -F(x)``, stages projected).

    Parameters are those of :func:`projected_euler`; the default step is the
    certificate's ``best_rk4_step``.

    Returns
    -------
    SGNResult
    """
    return _solve(game, certificate, "rk4", step, x0, tol, max_iter, trajectory, region)


# ---------------------------------------------------------------------------------------
# Fisher / mirror geometry: entropy-regularised softmax policy gradient in Markov games
# ---------------------------------------------------------------------------------------
def _sum_zero_basis(a: int) -> np.ndarray:
    """Orthonormal basis (a, a - 1) of the vectors of R^a summing to zero."""
    q, _ = np.linalg.qr(np.eye(a) - 1.0 / a)
    return q[:, : a - 1] if a > 1 else np.zeros((1, 0))


class MarkovGame:
    """A finite N-player Markov game (players maximise discounted rewards).

    Parameters
    ----------
    transitions : array_like, shape (S, A_1, ..., A_N, S)
        ``P(s' | s, a)``; rows sum to 1.
    rewards : array_like, shape (N, S, A_1, ..., A_N)
        ``r_i(s, a)``.
    gamma : float
        Discount in [0, 1).
    """

    def __init__(self, transitions, rewards, gamma: float):
        P = np.asarray(transitions, dtype=np.float64)
        R = np.asarray(rewards, dtype=np.float64)
        if P.ndim < 3:
            raise ValueError("transitions must have shape (S, A_1, ..., A_N, S)")
        S = P.shape[0]
        actions = P.shape[1:-1]
        if P.shape[-1] != S:
            raise ValueError(f"transitions must end with the state axis of size {S}")
        n = len(actions)
        if R.shape != (n, S, *actions):
            raise ValueError(f"rewards must have shape {(n, S, *actions)}, got {R.shape}")
        if not (np.all(np.isfinite(P)) and np.all(np.isfinite(R))):
            raise ValueError("transitions and rewards must be finite")
        if np.any(P < 0) or not np.allclose(P.sum(axis=-1), 1.0, atol=1e-9):
            raise ValueError("transitions must be >= 0 with rows summing to 1")
        if min(actions) < 2:
            raise ValueError("every player needs at least two actions")
        gamma = float(gamma)
        if not 0.0 <= gamma < 1.0:
            raise ValueError(f"gamma must be in [0, 1), got {gamma}")
        self.P, self.R, self.gamma = P, R, gamma
        self.n_states, self.n_actions, self.n_players = S, tuple(int(a) for a in actions), n
        self.bases = [_sum_zero_basis(a) for a in self.n_actions]

    @classmethod
    def matrix_game(cls, payoffs) -> MarkovGame:
        """Build a one-state game: ``payoffs`` of shape (N, A_1, ..., A_N), rewards to maximise."""
        R = np.asarray(payoffs, dtype=np.float64)
        actions = R.shape[1:]
        P = np.ones((1, *actions, 1))
        return cls(P, R[:, None], 0.0)

    @property
    def blocks(self) -> list[int]:
        """Reduced (sum-zero) logit block size of each player, ``S (A_i - 1)``."""
        return [self.n_states * (a - 1) for a in self.n_actions]

    def split_logits(self, z: np.ndarray) -> list[np.ndarray]:
        """Reduced logits (dim,) -> per-player full logits (S, A_i), summing to 0 per state."""
        out, k = [], 0
        for E, size in zip(self.bases, self.blocks, strict=True):
            zi = z[k:k + size].reshape(self.n_states, -1)
            out.append(zi @ E.T)
            k += size
        return out

    def reduce_logits(self, logits: Sequence[np.ndarray]) -> np.ndarray:
        """Per-player logits (S, A_i) -> reduced coordinates (dim,) (shifts dropped)."""
        return np.concatenate([(np.asarray(t) @ E).ravel()
                               for t, E in zip(logits, self.bases, strict=True)])

    def policies(self, z: np.ndarray) -> list[np.ndarray]:
        """Softmax policies (S, A_i) of reduced logits."""
        out = []
        for t in self.split_logits(z):
            e = np.exp(t - t.max(axis=1, keepdims=True))
            out.append(e / e.sum(axis=1, keepdims=True))
        return out

    def _joint(self, pols: Sequence[np.ndarray], skip: int | None = None) -> np.ndarray:
        joint = np.ones((self.n_states,) + (1,) * self.n_players)
        for k, p in enumerate(pols):
            if k == skip:
                continue
            shape = [self.n_states] + [1] * self.n_players
            shape[1 + k] = p.shape[1]
            joint = joint * p.reshape(shape)
        return joint

    def soft_values(self, pols: Sequence[np.ndarray], tau: float) -> np.ndarray:
        """Entropy-regularised values ``V_i(s)`` (N, S): own entropy bonus ``tau H(pi_i)``."""
        S = self.n_states
        joint = self._joint(pols).reshape(S, -1)
        Ppi = np.einsum("sa,sat->st", joint, self.P.reshape(S, joint.shape[1], S))
        V = np.empty((self.n_players, S))
        A = np.eye(S) - self.gamma * Ppi
        for i, p in enumerate(pols):
            r = np.sum(joint * self.R[i].reshape(S, -1), axis=1)
            ent = -np.sum(p * np.log(np.maximum(p, 1e-300)), axis=1)
            V[i] = np.linalg.solve(A, r + tau * ent)
        return V

    def soft_q(self, pols: Sequence[np.ndarray], tau: float) -> list[np.ndarray]:
        """``Q_i(s, a_i) = E_{a_-i}[r_i(s, a) + gamma E V_i(s')]`` per player, (S, A_i)."""
        V = self.soft_values(pols, tau)
        out = []
        axes = tuple(range(1, self.n_players + 1))
        for i in range(self.n_players):
            U = self.R[i] + self.gamma * np.tensordot(self.P, V[i], axes=([-1], [0]))
            others = self._joint(pols, skip=i)
            q = np.sum(others * U, axis=tuple(a for a in axes if a != i + 1))
            out.append(q)
        return out


def entropic_dual_game(game: MarkovGame, tau: float) -> DifferentiableGame:
    """Entropy-regularised NPG as gradient play in the mirror (reduced logit) coordinates.

    The pseudo-gradient is ``Phi_i(z) = tau z_i - E^T Q_i(pi(z))`` per state; its Jacobian
    is analytic for one-state games (cross blocks ``-E_i^T dQ_i/dpi_j F(pi_j) E_j`` with
    the Fisher matrix ``F(p) = diag(p) - p p^T``) and by finite differences otherwise.

    Parameters
    ----------
    game : MarkovGame
        The Markov game.
    tau : float
        Entropy weight, > 0.

    Returns
    -------
    DifferentiableGame
        Players' blocks of size ``S (A_i - 1)``.
    """
    tau = check_nonneg_float("tau", tau, positive=True)
    return DifferentiableGame(game.blocks, pseudo_gradient=_EntropicField(game, tau),
                              jacobian=_MatrixGameJac(game, tau) if game.n_states == 1 else None)


class _EntropicField:
    def __init__(self, game: MarkovGame, tau: float):
        self.game, self.tau = game, tau

    def __call__(self, z: np.ndarray) -> np.ndarray:
        g = self.game
        qs = g.soft_q(g.policies(z), self.tau)
        return self.tau * z - np.concatenate([(q @ E).ravel()
                                              for q, E in zip(qs, g.bases, strict=True)])


class _MatrixGameJac:
    def __init__(self, game: MarkovGame, tau: float):
        self.game, self.tau = game, tau

    def __call__(self, z: np.ndarray) -> np.ndarray:
        g = self.game
        pols = [p[0] for p in g.policies(z)]
        off = np.concatenate([[0], np.cumsum(g.blocks)])
        Jac = self.tau * np.eye(int(off[-1]))
        n = g.n_players
        for i in range(n):
            for j in range(n):
                if i == j or g.blocks[i] == 0 or g.blocks[j] == 0:
                    continue
                T = g.R[i, 0]
                for k in reversed(range(n)):  # contract the other players' mixed actions
                    if k not in (i, j):
                        T = np.tensordot(T, pols[k], axes=([k], [0]))
                M = T if i < j else T.T  # dQ_i / dpi_j, shape (A_i, A_j)
                fisher = np.diag(pols[j]) - np.outer(pols[j], pols[j])
                Jac[off[i]:off[i + 1], off[j]:off[j + 1]] = -g.bases[i].T @ M @ fisher @ g.bases[j]
        return Jac


@dataclass(frozen=True)
class EntropicCertificate(Certificate):
    """An SGN certificate for entropy-regularised NPG (see :func:`certify_entropic`).

    Attributes (in addition to :class:`Certificate`'s, all in reduced logit coordinates)
    ----------
    tau : float
        Entropy weight.
    logit_bound : float or None
        Half-width of the logit box the bounds were sampled over; None for the global,
        analytic one-state bounds.
    """

    tau: float = 0.0
    logit_bound: float | None = None


def certify_entropic(game: MarkovGame, tau: float, *, logit_bound: float | None = None,
                     n_samples: int = 64, seed: int = 0) -> EntropicCertificate:
    """SGN certificate for entropy-regularised softmax NPG in the mirror geometry.

    Parameters
    ----------
    game : MarkovGame
        The game.
    tau : float
        Entropy weight, > 0; it is each player's own curvature in the mirror coordinates.
    logit_bound : float, optional
        Sample the Jacobians of :func:`entropic_dual_game` over the box ``|z| <=
        logit_bound`` of reduced logits (required for games with more than one state;
        the guarantee then holds for iterates that stay in the box). For one-state games
        and ``logit_bound=None`` the bounds are global and exact: ``mu_i = tau`` and
        ``L_ij = 1/2 max_{a_-ij} ||E_i^T R_i(., ., a_-ij) E_j||_2``, using that the softmax
        Fisher matrix has norm <= 1/2 (Gershgorin: ``2 p (1 - p) <= 1/2``).
    n_samples, seed : int
        Sampling of the logit box.

    Returns
    -------
    EntropicCertificate
    """
    if not isinstance(game, MarkovGame):
        raise TypeError("game must be a MarkovGame")
    tau = check_nonneg_float("tau", tau, positive=True)
    dual = entropic_dual_game(game, tau)
    if logit_bound is None:
        if game.n_states != 1:
            raise ValueError("logit_bound is required for games with more than one state")
        n = game.n_players
        L = np.zeros((n, n))
        for i in range(n):
            for j in range(n):
                if i == j:
                    continue
                T = np.moveaxis(game.R[i, 0], (i, j), (0, 1))
                T = T.reshape(T.shape[0], T.shape[1], -1)
                L[i, j] = 0.5 * max(np.linalg.norm(game.bases[i].T @ T[:, :, k] @ game.bases[j], 2)
                                    if game.bases[i].size and game.bases[j].size else 0.0
                                    for k in range(T.shape[2]))
        base = _certificate_from_bounds(np.full(n, tau), L, np.full(n, tau), dual.blocks)
    else:
        bound = check_nonneg_float("logit_bound", logit_bound, positive=True)
        base = certify(dual, Box(-bound, bound), n_samples=n_samples, seed=seed)
    fields = {k: getattr(base, k) for k in Certificate.__dataclass_fields__}
    return EntropicCertificate(**fields, tau=tau, logit_bound=logit_bound)


def _certificate_from_bounds(mu, L, own, blocks) -> Certificate:
    """Build a certificate from block bounds alone (beta from the block-norm matrix)."""
    n = mu.shape[0]
    gain = float(np.max(np.abs(np.linalg.eigvals(L / mu[:, None])))) if n > 1 else 0.0
    w, alpha = optimal_weights(mu, L)
    s = np.sqrt(w)
    beta = float(np.linalg.norm(s[:, None] * (L + np.diag(own)) / s[None, :], 2))
    certified = _clear_of_rounding(alpha, gain, mu, L)
    band = timescale_band(mu[0], mu[1], L[0, 1], L[1, 0]) if n == 2 else None
    if certified:
        euler_step = 2 * alpha / beta ** 2
        rk4_step = _rk4_step(alpha, beta)
        reason = f"certified: gain {gain:.4g} < 1, margin {alpha:.4g}"
    else:
        euler_step = rk4_step = 0.0
        reason = (f"not certified: the gain matrix diag(1/mu) L has spectral radius {gain:.4g}"
                  f" >= 1 (entropy weight too small for the payoff coupling)")
    return Certificate(certified=certified, weights=w, margin=float(alpha), beta=beta,
                       euler_step=float(euler_step), rk4_step=rk4_step, band=band,
                       reason=reason, mu=mu, coupling=L, gain_radius=gain,
                       euclidean_margin=math.nan, exact=True, blocks=tuple(blocks))


@dataclass
class EntropicResult:
    """Outcome of :func:`entropic_npg` (the common solver-result shape).

    Attributes
    ----------
    solution : list of numpy.ndarray, shape (S, A_i)
        Final policies, one per player; alias ``policies``.
    iterations : int
        Iterations performed.
    converged : bool
        Whether the residual reached ``tol``.
    residuals : numpy.ndarray, shape (iterations,)
        ``||z_{k+1} - z_k||_w / step`` per iteration.
    logits : numpy.ndarray, shape (dim,)
        Final reduced logits.
    step : float
        Step size used.
    rate : float
        Certified per-step factor (nan if uncertified).
    certificate : EntropicCertificate
        The certificate used.
    trajectory : numpy.ndarray or None, shape (iterations + 1, dim)
        Iterates, when requested.
    """

    solution: list[np.ndarray]
    iterations: int
    converged: bool
    residuals: np.ndarray
    logits: np.ndarray
    step: float
    rate: float
    certificate: EntropicCertificate
    trajectory: np.ndarray | None = None

    @property
    def policies(self) -> list[np.ndarray]:
        """Alias of :attr:`solution`."""
        return self.solution


def entropic_npg(game: MarkovGame, tau: float, *,
                 certificate: EntropicCertificate | None = None, step: float | None = None,
                 z0=None, tol: float = 1e-10, max_iter: int = 20_000,
                 trajectory: bool = False) -> EntropicResult:
    """Entropy-regularised independent NPG ``theta_i <- (1 - step tau) theta_i + step Q_i``.

    Parameters
    ----------
    game : MarkovGame
        The game.
    tau : float
        Entropy weight, > 0.
    certificate : EntropicCertificate, optional
        Default :func:`certify_entropic` (one-state games only; give one otherwise).
    step : float, optional
        Default the certificate's ``best_euler_step``.
    z0 : array_like, shape (dim,), optional
        Start in reduced logits (default zeros: uniform policies).
    tol, max_iter : float, int
        Stopping rule on the weighted residual.
    trajectory : bool
        Keep every iterate.

    Returns
    -------
    EntropicResult
        The fixed point is the entropy-regularised (quantal-response) Markov equilibrium:
        every ``pi_i(.|s) = softmax(Q_i(s, .) / tau)``.
    """
    tau = check_nonneg_float("tau", tau, positive=True)
    cert = certify_entropic(game, tau) if certificate is None else certificate
    if not isinstance(cert, EntropicCertificate) or cert.tau != tau:
        raise ValueError("certificate must be an EntropicCertificate for the same tau")
    dual = entropic_dual_game(game, tau)
    z0 = np.zeros(dual.dim) if z0 is None else z0
    r = projected_euler(dual, cert, step=step, x0=z0, tol=tol, max_iter=max_iter,
                        trajectory=trajectory)
    return EntropicResult(solution=game.policies(r.solution), iterations=r.iterations,
                          converged=r.converged, residuals=r.residuals, logits=r.solution,
                          step=r.step, rate=r.rate, certificate=cert, trajectory=r.trajectory)
