"""Vector states and controls: the LQ graphon MFG with matrix coefficients.

Examples
--------
>>> import numpy as np
>>> from games.graphon_mfg.vector import VectorLQGraphonMFG
>>> I, O = np.eye(2), np.zeros((2, 2))
>>> game = VectorLQGraphonMFG(A=O, B=I, Abar=0.5 * I, Q=I, R=I, G=O, H=O, Hbar=O,
...                           sigma=0.1 * I, T=1.0, graphon="exponential",
...                           m0=np.ones(2), n_blocks=4, n_steps=20)
>>> eq = game.equilibrium()
>>> eq.slope.shape, eq.intercepts.shape   # (n_steps + 1, d, d), (n_blocks, n_steps + 1, d)
((21, 2, 2), (4, 21, 2))
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from games.graphon_mfg.graphons import (
    make_graphon,
)
from games.graphon_mfg.scalar import (
    LQGraphonMFG,
    _scalar,
)
from protocols.checks import check_float_array, check_int

__all__ = ["VectorGraphonEquilibrium", "VectorLQGraphonMFG"]


@dataclass(frozen=True)
class VectorGraphonEquilibrium:
    """The equilibrium of a :class:`VectorLQGraphonMFG` on its time grid.

    Attributes
    ----------
    t : numpy.ndarray, shape (n_steps + 1,)
    labels : numpy.ndarray, shape (n_blocks,)
    slope : numpy.ndarray, shape (n_steps + 1, p, d)
        ``K(t) = -R^-1 B^T P(t)``.
    intercepts : numpy.ndarray, shape (n_blocks, n_steps + 1, p)
        ``k_j(t) = -R^-1 B^T s_j(t)``.
    means : numpy.ndarray, shape (n_blocks, n_steps + 1, d)
    aggregate : numpy.ndarray, shape (n_blocks, n_steps + 1, d)
    riccati : numpy.ndarray, shape (n_steps + 1, d, d)
    costs : numpy.ndarray, shape (n_blocks,)
    """

    t: np.ndarray
    labels: np.ndarray
    slope: np.ndarray
    intercepts: np.ndarray
    means: np.ndarray
    aggregate: np.ndarray
    riccati: np.ndarray
    costs: np.ndarray = field(repr=False)


def _matrix(name: str, value, shape) -> np.ndarray:
    arr = check_float_array(name, np.atleast_2d(np.asarray(value, dtype=float)), finite=True)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    return arr


class VectorLQGraphonMFG:
    """A linear-quadratic graphon mean-field game with vector states and controls.

    ``dX_u = (A X_u + B a + Abar Z_u) dt + sigma dW`` with ``X`` in R^d, ``a`` in R^p,
    ``W`` a Brownian motion in R^q; running cost
    ``1/2 ((X - H Z)^T Q (X - H Z) + a^T R a)``; terminal cost
    ``1/2 (X_T - Hbar Z_T)^T G (X_T - Hbar Z_T)``; the aggregate and blocks as in
    :class:`LQGraphonMFG` (which is the ``d = p = 1`` case).

    The equilibrium is solved per graphon eigenmode as in the scalar game: each mode is a
    constant-coefficient Hamiltonian system of size 2d, propagated from the horizon with
    the one-step matrix exponential ``expm(-F dt)`` (exact for every step) and decoupled
    by its Riccati-type ratio, so the means and intercepts carry only rounding errors.
    Unlike the scalar closed form, a mode whose ratio meets a conjugate point anywhere in
    ``[0, T]`` is reported as singular (``ValueError``). Costs use Simpson's rule on a
    grid twice as fine (error O(dt^4)).

    Parameters
    ----------
    A, Abar, Q, G, H, Hbar : array_like, shape (d, d)
        ``Q`` and ``G`` symmetric positive semidefinite.
    B : array_like, shape (d, p)
    R : array_like, shape (p, p)
        Symmetric positive definite.
    sigma : array_like, shape (d, q)
        Noise loading.
    T : float
        Horizon (> 0).
    graphon : str or callable
        As for :class:`LQGraphonMFG`.
    m0 : array_like, shape (d,) or (n_blocks, d), or callable
        Initial means: one vector for all labels, one per block, or ``m0(u)`` returning
        shape (len(u), d).
    n_blocks, n_steps : int
        Label blocks and time steps.
    cov0 : array_like, shape (d, d), keyword-only
        Initial covariance (default zero).
    """

    def __init__(
        self, A, B, Abar, Q, R, G, H, Hbar, sigma, T, graphon, m0, n_blocks, n_steps, *, cov0=None
    ):
        A = np.atleast_2d(np.asarray(A, dtype=float))
        d = A.shape[0]
        Bm = np.atleast_2d(np.asarray(B, dtype=float))
        if Bm.ndim != 2 or Bm.shape[0] != d:
            raise ValueError(f"B must have shape ({d}, p), got {Bm.shape}")
        p = Bm.shape[1]
        self.d, self.p = d, p
        self.A = _matrix("A", A, (d, d))
        self.B = _matrix("B", Bm, (d, p))
        self.Abar = _matrix("Abar", Abar, (d, d))
        self.Q = _matrix("Q", Q, (d, d))
        self.R = _matrix("R", R, (p, p))
        self.G = _matrix("G", G, (d, d))
        self.H = _matrix("H", H, (d, d))
        self.Hbar = _matrix("Hbar", Hbar, (d, d))
        sig = np.asarray(sigma, dtype=float)
        sig = sig.reshape(d, -1) if sig.ndim < 2 else sig
        self.sigma = _matrix("sigma", sig, (d, sig.shape[1]))
        for name, mat in (("Q", self.Q), ("G", self.G), ("R", self.R)):
            if not np.allclose(mat, mat.T, atol=1e-12):
                raise ValueError(f"{name} must be symmetric")
            eig = np.linalg.eigvalsh(mat)
            kind = "definite" if name == "R" else "semidefinite"
            if eig.min() < (1e-12 * max(1.0, eig.max()) if name == "R" else -1e-12):
                raise ValueError(f"{name} must be positive {kind}")
        self.T = _scalar("T", T, positive=True)
        self.n_blocks = check_int("n_blocks", n_blocks, low=1)
        self.n_steps = check_int("n_steps", n_steps, low=1)
        self.cov0 = np.zeros((d, d)) if cov0 is None else _matrix("cov0", cov0, (d, d))
        self.graphon = make_graphon(graphon)
        self.labels = (np.arange(self.n_blocks) + 0.5) / self.n_blocks
        self.t = np.linspace(0.0, self.T, self.n_steps + 1)
        self.dt = self.T / self.n_steps
        scalar = LQGraphonMFG(
            0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, self.T, self.graphon, 0.0, self.n_blocks, 1
        )
        self.graphon_matrix = scalar.graphon_matrix
        if callable(m0):
            m = np.asarray(m0(self.labels), dtype=float)
        else:
            m = np.asarray(m0, dtype=float)
            if m.ndim == 1:
                m = np.broadcast_to(m, (self.n_blocks, m.shape[0]))
        self.m0 = check_float_array("m0", m, shape=(self.n_blocks, d), finite=True)
        self._equilibrium: VectorGraphonEquilibrium | None = None

    def equilibrium(self) -> VectorGraphonEquilibrium:
        """Return the equilibrium on the time grid (computed once, then cached).

        Returns
        -------
        VectorGraphonEquilibrium

        Raises
        ------
        ValueError
            If a mode meets a conjugate point on ``[0, T]``.
        """
        if self._equilibrium is None:
            self._equilibrium = self._solve()
        return self._equilibrium

    def _sweep(self, lam, n_sub):
        """Ratios Pi(tau_k) and one-step factors Xs_k of every mode on a grid of n_sub."""
        from scipy.linalg import expm

        d = self.d
        S = self.B @ np.linalg.solve(self.R, self.B.T)
        eye = np.eye(d)
        nm = lam.shape[0]
        F = np.empty((nm, 2 * d, 2 * d))
        F[:, :d, :d] = self.A + lam[:, None, None] * self.Abar
        F[:, :d, d:] = -S
        F[:, d:, :d] = -self.Q @ (eye - lam[:, None, None] * self.H)
        F[:, d:, d:] = -self.A.T
        h = self.T / n_sub
        E = np.stack([expm(-f * h) for f in F])
        Pi = np.empty((n_sub + 1, nm, d, d))
        Xs = np.empty((n_sub + 1, nm, d, d))
        Pi[0] = self.G @ (eye - lam[:, None, None] * self.Hbar)
        Xs[0] = eye
        for k in range(1, n_sub + 1):
            X = E[:, :d, :d] + E[:, :d, d:] @ Pi[k - 1]
            Y = E[:, d:, :d] + E[:, d:, d:] @ Pi[k - 1]
            cond = np.linalg.cond(X)
            if not np.all(np.isfinite(cond)) or np.any(cond > 1e12):
                raise ValueError(
                    "a mode of the forward-backward system meets a conjugate "
                    "point: no unique equilibrium found by the Riccati sweep"
                )
            Pi[k] = np.linalg.solve(X.transpose(0, 2, 1), Y.transpose(0, 2, 1)).transpose(0, 2, 1)
            Xs[k] = X
        return Pi, Xs

    def _solve(self) -> VectorGraphonEquilibrium:
        from scipy.integrate import simpson

        M, d, n = self.n_blocks, self.d, self.n_steps
        lam, U = np.linalg.eigh(self.graphon_matrix / M)
        n_sub = 2 * n
        Pi, Xs = self._sweep(np.concatenate(([0.0], lam)), n_sub)
        # index k is tau_k = k h, i.e. time t = T - tau_k
        P = Pi[:, 0]
        m0t = U.T @ self.m0  # (M, d) mode amplitudes
        w = np.empty((n_sub + 1, M, d))
        w[n_sub] = m0t
        for k in range(n_sub, 0, -1):
            w[k - 1] = np.linalg.solve(Xs[k, 1:], w[k][..., None])[..., 0]
        pt = (Pi[:, 1:] @ w[..., None])[..., 0]
        # back to time order and block coordinates
        w, pt, P = w[::-1], pt[::-1], P[::-1]
        means = np.einsum("jm,kmd->jkd", U, w)
        costate = np.einsum("jm,kmd->jkd", U, pt)
        agg = np.einsum("jm,kmd->jkd", U * lam[None, :], w)
        s = costate - np.einsum("kde,jke->jkd", P, means)
        Rinv_Bt = np.linalg.solve(self.R, self.B.T)
        S = self.B @ Rinv_Bt
        HZ = agg @ self.H.T
        f = (
            np.einsum("jkd,jkd->jk", agg @ self.Abar.T, s)
            - 0.5 * np.einsum("jkd,de,jke->jk", s, S, s)
            + 0.5 * np.einsum("de,kde->k", self.sigma @ self.sigma.T, P)[None, :]
            + 0.5 * np.einsum("jkd,de,jke->jk", HZ, self.Q, HZ)
        )
        tf = np.linspace(0.0, self.T, n_sub + 1)
        zT = agg[:, -1] @ self.Hbar.T
        c0 = 0.5 * np.einsum("jd,de,je->j", zT, self.G, zT) + simpson(f, x=tf, axis=1)
        costs = (
            0.5 * np.einsum("jd,de,je->j", self.m0, P[0], self.m0)
            + 0.5 * np.trace(P[0] @ self.cov0)
            + np.einsum("jd,jd->j", s[:, 0], self.m0)
            + c0
        )
        sl = slice(None, None, 2)
        fields = dict(
            t=self.t.copy(),
            labels=self.labels.copy(),
            slope=-np.einsum("pd,kde->kpe", Rinv_Bt, P[sl]),
            intercepts=-np.einsum("pd,jkd->jkp", Rinv_Bt, s[:, sl]),
            means=means[:, sl],
            aggregate=agg[:, sl],
            riccati=P[sl],
            costs=costs,
        )
        for key, arr in fields.items():
            fields[key] = np.ascontiguousarray(arr)
            fields[key].flags.writeable = False
        return VectorGraphonEquilibrium(**fields)
