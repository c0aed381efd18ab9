"""Entropy-regularised softmax NPG in Markov games, certified by SGN in mirror coordinates.

Examples
--------
>>> import numpy as np
>>> from games.sgn.entropic import MarkovGame, entropic_npg
>>> game = MarkovGame.matrix_game([[[3, 0], [0, 1]], [[1, 0], [0, 3]]])
>>> result = entropic_npg(game, tau=2.0)      # certified in mirror coordinates
>>> p1, p2 = result.policies[0][0], result.policies[1][0]
>>> q1 = np.array([[3, 0], [0, 1]]) @ p2 / 2.0      # player 1's payoffs against p2, / tau
>>> result.converged, bool(np.allclose(p1, np.exp(q1) / np.exp(q1).sum()))   # a logit fixed point
(True, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from games.diffgame import Box, DifferentiableGame
from games.sgn.certificate import (
    Certificate,
    certify,
)
from games.sgn.solvers import (
    projected_euler,
)
from games.sgn.weights import (
    _clear_of_rounding,
    _rk4_step,
    optimal_weights,
    timescale_band,
)
from protocols.checks import (
    check_nonneg_float,
)

__all__ = [
    "EntropicCertificate",
    "EntropicResult",
    "MarkovGame",
    "certify_entropic",
    "entropic_dual_game",
    "entropic_npg",
]


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
            zi = z[k : k + size].reshape(self.n_states, -1)
            out.append(zi @ E.T)
            k += size
        return out

    def reduce_logits(self, logits: Sequence[np.ndarray]) -> np.ndarray:
        """Per-player logits (S, A_i) -> reduced coordinates (dim,) (shifts dropped)."""
        return np.concatenate(
            [(np.asarray(t) @ E).ravel() for t, E in zip(logits, self.bases, strict=True)]
        )

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
    return DifferentiableGame(
        game.blocks,
        pseudo_gradient=_EntropicField(game, tau),
        jacobian=_MatrixGameJac(game, tau) if game.n_states == 1 else None,
    )


class _EntropicField:
    def __init__(self, game: MarkovGame, tau: float):
        self.game, self.tau = game, tau

    def __call__(self, z: np.ndarray) -> np.ndarray:
        g = self.game
        qs = g.soft_q(g.policies(z), self.tau)
        return self.tau * z - np.concatenate(
            [(q @ E).ravel() for q, E in zip(qs, g.bases, strict=True)]
        )


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
                Jac[off[i] : off[i + 1], off[j] : off[j + 1]] = (
                    -g.bases[i].T @ M @ fisher @ g.bases[j]
                )
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


def certify_entropic(
    game: MarkovGame,
    tau: float,
    *,
    logit_bound: float | None = None,
    n_samples: int = 64,
    seed: int = 0,
) -> EntropicCertificate:
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
                L[i, j] = 0.5 * max(
                    np.linalg.norm(game.bases[i].T @ T[:, :, k] @ game.bases[j], 2)
                    if game.bases[i].size and game.bases[j].size
                    else 0.0
                    for k in range(T.shape[2])
                )
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
        euler_step = 2 * alpha / beta**2
        rk4_step = _rk4_step(alpha, beta)
        reason = f"certified: gain {gain:.4g} < 1, margin {alpha:.4g}"
    else:
        euler_step = rk4_step = 0.0
        reason = (
            f"not certified: the gain matrix diag(1/mu) L has spectral radius {gain:.4g}"
            f" >= 1 (entropy weight too small for the payoff coupling)"
        )
    return Certificate(
        certified=certified,
        weights=w,
        margin=float(alpha),
        beta=beta,
        euler_step=float(euler_step),
        rk4_step=rk4_step,
        band=band,
        reason=reason,
        mu=mu,
        coupling=L,
        gain_radius=gain,
        euclidean_margin=math.nan,
        exact=True,
        blocks=tuple(blocks),
    )


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


def entropic_npg(
    game: MarkovGame,
    tau: float,
    *,
    certificate: EntropicCertificate | None = None,
    step: float | None = None,
    z0=None,
    tol: float = 1e-10,
    max_iter: int = 20_000,
    trajectory: bool = False,
) -> EntropicResult:
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
    r = projected_euler(
        dual, cert, step=step, x0=z0, tol=tol, max_iter=max_iter, trajectory=trajectory
    )
    return EntropicResult(
        solution=game.policies(r.solution),
        iterations=r.iterations,
        converged=r.converged,
        residuals=r.residuals,
        logits=r.solution,
        step=r.step,
        rate=r.rate,
        certificate=cert,
        trajectory=r.trajectory,
    )
