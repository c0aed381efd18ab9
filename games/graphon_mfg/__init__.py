"""Linear-quadratic graphon mean-field games: the model and its exact equilibrium.

Players carry labels ``u`` in [0, 1]. Player ``u`` has a scalar state

    dX_u = (A X_u + B a + Abar Z_u) dt + sigma dW,   Z_u(t) = int_0^1 W(u, v) E[X_v(t)] dv,

running cost ``1/2 (Q (X_u - H Z_u)^2 + R a^2)`` and terminal cost
``1/2 G (X_u(T) - Hbar Z_u(T))^2``; ``X_u(0)`` has mean ``m0(u)`` and variance ``var0``.
Labels are discretised into ``M`` blocks, block ``j`` holding ``[j/M, (j+1)/M)`` and
represented by its midpoint ``u_j``; the aggregate becomes ``Z_j = sum_l W(u_j, u_l) m_l / M``.

The equilibrium (Nash: each player best responds to the aggregate its policy profile
creates) is affine, ``a = K(t) x + k_u(t)``, with

- the shared slope ``K = -(B/R) P``, ``-P' = 2 A P - (B^2/R) P^2 + Q``, ``P(T) = G``
  (independent of ``u``, of the graphon and of ``sigma``);
- intercepts ``k_u = -(B/R) s_u`` and means ``m_u`` from the coupled linear
  forward-backward system ``m_u' = A m_u + B a_u + Abar Z_u``,
  ``p_u' = -A p_u - Q (m_u - H Z_u)``, ``m_u(0) = m0(u)``,
  ``p_u(T) = G (m_u(T) - Hbar Z_u(T))``, where ``p_u = P m_u + s_u`` is the costate.

How it is solved (exactly, not by time stepping): the block graphon matrix
``W(u_j, u_l) / M`` is symmetric, so its eigenvectors decouple the forward-backward
system into ``M`` scalar two-point problems with constant coefficients, one per
eigenvalue ``lambda``. Each is solved in closed form with the 2x2 matrix exponential of
its Hamiltonian (the Riccati ``P`` is the same formula at ``lambda = 0``), evaluated at
every grid node directly rather than by stepping, so the only errors are rounding: the
tests agree with scipy's ``solve_bvp`` / ``solve_ivp`` at 1e-8 and with the closed-form
scalar Riccati at 1e-12. Each player's equilibrium cost uses 3-point Gauss-Legendre
quadrature per grid interval on the closed form (error O(dt^6)). Mode ``lambda`` is
uniquely solvable iff its Hamiltonian flow ``x_lambda`` does not vanish at the horizon
(the Riccati ``P`` always exists since ``Q, G >= 0``); if one vanishes (a conjugate
point: no unique equilibrium), :meth:`LQGraphonMFG.equilibrium` raises ``ValueError``.
With ``Q, G >= 0`` each player's best response is a convex problem, so the unique
solution of the forward-backward system is the unique equilibrium.

Vector states and controls (matrices ``A, B, Abar, Q, R, G, H, Hbar, sigma``):
:class:`VectorLQGraphonMFG`, solved the same way per graphon mode (exact one-step
matrix exponentials). Policy optimisation and the N-player environment are scalar.

Modules: :mod:`~games.graphon_mfg.graphons`, :mod:`~games.graphon_mfg.scalar` (the
model and its equilibrium), :mod:`~games.graphon_mfg.n_player` and
:mod:`~games.graphon_mfg.vector`; every public name is importable from
``games.graphon_mfg``.

Examples
--------
>>> from games.graphon_mfg import LQGraphonMFG
>>> game = LQGraphonMFG(A=0.0, B=1.0, Abar=0.5, Q=1.0, R=1.0, G=0.0, H=0.0, Hbar=0.0,
...                     sigma=0.1, T=1.0, graphon="exponential", m0=1.0,
...                     n_blocks=4, n_steps=20)
>>> eq = game.equilibrium()
>>> eq.slope.shape, eq.intercepts.shape          # (n_steps + 1,), (n_blocks, n_steps + 1)
((21,), (4, 21))
"""

from games.graphon_mfg.graphons import GRAPHON_FAMILIES, Graphon, make_graphon
from games.graphon_mfg.n_player import (
    NPlayerExploitability,
    n_player_exploitability,
    sample_graphon_graph,
)
from games.graphon_mfg.scalar import GraphonEquilibrium, LQGraphonMFG, label_interpolation
from games.graphon_mfg.vector import VectorGraphonEquilibrium, VectorLQGraphonMFG

__all__ = [
    "GRAPHON_FAMILIES",
    "Graphon",
    "GraphonEquilibrium",
    "LQGraphonMFG",
    "NPlayerExploitability",
    "VectorGraphonEquilibrium",
    "VectorLQGraphonMFG",
    "label_interpolation",
    "make_graphon",
    "n_player_exploitability",
    "sample_graphon_graph",
]
