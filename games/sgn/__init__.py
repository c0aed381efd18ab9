"""Small-Gain Nash (SGN) certificates and certified solvers for differentiable games.

Modules: :mod:`~games.sgn.weights` (margins, Perron weights, band, rates),
:mod:`~games.sgn.certificate`, :mod:`~games.sgn.solvers` (projected Euler / RK4) and
:mod:`~games.sgn.entropic` (softmax NPG in Markov games); every public name is importable
from ``games.sgn``.

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

Examples
--------
>>> from games.diffgame import toy_game
>>> from games.sgn import certify, projected_euler
>>> game = toy_game(b=(1.0, -1.0))     # J = [[1, 10], [0.05, 1]]: not Euclidean monotone
>>> cert = certify(game)
>>> cert.certified, round(cert.margin, 4)        # best margin 1 - sqrt(10 * 0.05)
(True, 0.2929)
>>> result = projected_euler(game, cert)   # at the certified step
>>> result.converged, result.solution            # solves J x + b = 0
(True, array([-22. ,   2.1]))
"""

from games.diffgame import QuadraticGame
from games.sgn.certificate import Certificate, block_bounds, certify
from games.sgn.entropic import (
    EntropicCertificate,
    EntropicResult,
    MarkovGame,
    certify_entropic,
    entropic_dual_game,
    entropic_npg,
)
from games.sgn.solvers import SGNResult, projected_euler, projected_rk4
from games.sgn.weights import euler_rate, optimal_weights, rk4_rate, sgn_margin, timescale_band

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
