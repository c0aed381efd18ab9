"""SGN margins, optimal (Perron) weights, the two-player timescale band and step rates.

Examples
--------
>>> import numpy as np
>>> from games.sgn.weights import optimal_weights, sgn_margin
>>> mu, L = np.array([1.0, 1.0]), np.array([[0.0, 10.0], [0.05, 0.0]])
>>> w, margin = optimal_weights(mu, L)        # Perron weights, margin tau(A)
>>> round(margin, 4), round(1 - (10.0 * 0.05) ** 0.5, 4)   # tau(A) = 1 - sqrt(L12 L21)
(0.2929, 0.2929)
>>> round(sgn_margin(mu, L, np.ones(2)), 4)   # equal weights: 1 - (10 + 0.05) / 2
-4.025
"""

from __future__ import annotations

import math

import numpy as np
from scipy import linalg, optimize

from protocols.checks import (
    check_float_array,
    check_nonneg_float,
)

__all__ = ["euler_rate", "optimal_weights", "rk4_rate", "sgn_margin", "timescale_band"]


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

    res = optimize.minimize(
        neg_margin,
        np.log(w0),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 500, "gtol": 1e-12, "ftol": 1e-15},
    )
    return np.exp(res.x - np.max(res.x))


def timescale_band(
    mu1: float, mu2: float, l12: float, l21: float, margin: float = 0.0
) -> tuple[float, float] | None:
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
    return euler_rate(step, margin, beta) + q * q / 2 + q**3 / 6 + q**4 / 24


def _clear_of_rounding(alpha: float, gain: float, mu: np.ndarray, L: np.ndarray) -> bool:
    """Positive margin and gain < 1, both by more than rounding (borderline is a no)."""
    scale = max(float(np.max(np.abs(mu))), float(np.max(L)) if L.size else 0.0, 1e-300)
    return bool(alpha > 1e-10 * scale and gain < 1 - 1e-10)


def _rk4_step(alpha: float, beta: float) -> float:
    """Return the root of ``rk4_rate(h) = 1`` (unique: convex bound, 1 at 0, slope < 0)."""

    def excess(h):
        u = -2.0 * h * alpha + (h * beta) ** 2
        q = h * beta
        return u / (math.sqrt(1.0 + u) + 1.0) + q * q / 2 + q**3 / 6 + q**4 / 24

    hi = 2 * alpha / beta**2
    return float(optimize.brentq(excess, hi * 1e-9, hi, xtol=1e-15, rtol=1e-14))
