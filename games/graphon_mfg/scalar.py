"""The scalar LQ graphon MFG and its exact equilibrium (closed form per graphon mode).

Examples
--------
>>> import numpy as np
>>> from games.graphon_mfg.scalar import LQGraphonMFG
>>> game = LQGraphonMFG(A=0.0, B=1.0, Abar=0.5, Q=1.0, R=1.0, G=0.0, H=0.0, Hbar=0.0,
...                     sigma=0.1, T=1.0, graphon="constant", m0=1.0,
...                     n_blocks=4, n_steps=20)
>>> eq = game.equilibrium()
>>> bool(np.allclose(eq.slope, -np.tanh(1.0 - eq.t)))   # K = -P, P = tanh(T - t)
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from games.graphon_mfg.graphons import (
    make_graphon,
)
from protocols.checks import check_float, check_float_array, check_int, check_nonneg_float
from protocols.graphon import policy_value

__all__ = ["GraphonEquilibrium", "LQGraphonMFG", "label_interpolation"]


@dataclass(frozen=True)
class GraphonEquilibrium:
    """The exact equilibrium of an :class:`LQGraphonMFG` on its time grid.

    Attributes
    ----------
    t : numpy.ndarray, shape (n_steps + 1,)
        Time nodes ``k T / n_steps``.
    labels : numpy.ndarray, shape (n_blocks,)
        Block midpoints ``(j + 1/2) / M``.
    slope : numpy.ndarray, shape (n_steps + 1,)
        ``K(t) = -(B/R) P(t)``, shared by every player.
    intercepts : numpy.ndarray, shape (n_blocks, n_steps + 1)
        ``k_j(t)``.
    means : numpy.ndarray, shape (n_blocks, n_steps + 1)
        Equilibrium means ``E[X_j(t)]``.
    aggregate : numpy.ndarray, shape (n_blocks, n_steps + 1)
        ``Z_j(t) = sum_l W(u_j, u_l) m_l(t) / M``.
    riccati : numpy.ndarray, shape (n_steps + 1,)
        ``P(t)``.
    costs : numpy.ndarray, shape (n_blocks,)
        Each block's expected equilibrium cost.
    """

    t: np.ndarray
    labels: np.ndarray
    slope: np.ndarray
    intercepts: np.ndarray
    means: np.ndarray
    aggregate: np.ndarray
    riccati: np.ndarray
    costs: np.ndarray = field(repr=False)

    def intercepts_at(self, u, mode: str = "linear") -> np.ndarray:
        """Return the intercepts at arbitrary labels.

        Parameters
        ----------
        u : array_like, shape (n,)
            Labels in [0, 1].
        mode : {"linear", "block"}
            ``"linear"``: linear between block midpoints (the nearest block's value
            outside the first and last midpoints), best for smooth graphons;
            ``"block"``: the value of the block holding ``u``, exact for graphons that
            are constant on the blocks (stochastic block models aligned with them).

        Returns
        -------
        numpy.ndarray, shape (n, n_steps + 1)
        """
        left, w = label_interpolation(self.labels, u, mode)
        right = np.minimum(left + 1, self.labels.shape[0] - 1)
        return (1.0 - w)[:, None] * self.intercepts[left] + w[:, None] * self.intercepts[right]


def label_interpolation(
    labels: np.ndarray, u, mode: str = "linear"
) -> tuple[np.ndarray, np.ndarray]:
    """Return the left block index and weight to evaluate a block function at labels.

    Parameters
    ----------
    labels : numpy.ndarray, shape (M,)
        Block midpoints ``(j + 1/2) / M``.
    u : array_like, shape (n,)
        Labels in [0, 1].
    mode : {"linear", "block"}
        Linear between block midpoints, or piecewise constant on the blocks
        (block ``j`` holds ``[j/M, (j+1)/M)``; weight 0).

    Returns
    -------
    left : numpy.ndarray of int, shape (n,)
    weight : numpy.ndarray, shape (n,)
        The value at ``u`` is ``(1 - weight) f[left] + weight f[left + 1]``.
    """
    u = check_float_array("u", u, ndim=1, finite=True)
    m = labels.shape[0]
    if mode not in ("linear", "block"):
        raise ValueError(f"mode must be 'linear' or 'block', got {mode!r}")
    if mode == "block":
        return np.clip(np.floor(u * m).astype(np.int64), 0, m - 1), np.zeros(u.shape[0])
    if m == 1:
        return np.zeros(u.shape[0], dtype=np.int64), np.zeros(u.shape[0])
    pos = np.clip((u - labels[0]) / (labels[1] - labels[0]), 0.0, m - 1.0)
    left = np.minimum(np.floor(pos).astype(np.int64), m - 2)
    return left, pos - left


def _scalar(name: str, value, *, positive: bool = False, nonneg: bool = False) -> float:
    if positive or nonneg:
        return check_nonneg_float(name, value, positive=positive)
    return check_float(name, value)


class LQGraphonMFG:
    """A scalar linear-quadratic graphon mean-field game (see the module docstring).

    Parameters
    ----------
    A, B, Abar : float
        Drift ``A X + B a + Abar Z`` (``B != 0``).
    Q, R, G : float
        Running state weight (>= 0), action weight (> 0), terminal weight (>= 0).
    H, Hbar : float
        Targets ``H Z`` (running) and ``Hbar Z`` (terminal).
    sigma : float
        Noise intensity (>= 0).
    T : float
        Horizon (> 0).
    graphon : str or callable
        A family of :data:`GRAPHON_FAMILIES` (default parameters; use
        :func:`make_graphon` for others) or a symmetric ``W(u, v)`` in [0, 1] on arrays.
    m0 : float, callable or array_like
        Initial mean: a constant, a function of ``u`` on arrays, or one value per block.
    n_blocks : int
        Number of label blocks ``M`` (>= 1).
    n_steps : int
        Number of time steps (>= 1); the grid is ``t_k = k T / n_steps``.
    var0 : float, keyword-only
        Initial variance of every player's state (>= 0, default 0).
    """

    def __init__(
        self, A, B, Abar, Q, R, G, H, Hbar, sigma, T, graphon, m0, n_blocks, n_steps, *, var0=0.0
    ):
        self.A = _scalar("A", A)
        self.B = _scalar("B", B)
        if self.B == 0:
            raise ValueError("B must be nonzero (the control must act on the state)")
        self.Abar = _scalar("Abar", Abar)
        self.Q = _scalar("Q", Q, nonneg=True)
        self.R = _scalar("R", R, positive=True)
        self.G = _scalar("G", G, nonneg=True)
        self.H = _scalar("H", H)
        self.Hbar = _scalar("Hbar", Hbar)
        self.sigma = _scalar("sigma", sigma, nonneg=True)
        self.T = _scalar("T", T, positive=True)
        self.var0 = _scalar("var0", var0, nonneg=True)
        self.n_blocks = check_int("n_blocks", n_blocks, low=1)
        self.n_steps = check_int("n_steps", n_steps, low=1)
        self.graphon = make_graphon(graphon)
        self.labels = (np.arange(self.n_blocks) + 0.5) / self.n_blocks
        self.t = np.linspace(0.0, self.T, self.n_steps + 1)
        self.dt = self.T / self.n_steps
        W = np.asarray(self.graphon(self.labels[:, None], self.labels[None, :]), dtype=float)
        if W.shape != (self.n_blocks, self.n_blocks):
            raise ValueError(
                f"graphon must return an array of the broadcast shape of its "
                f"arguments, got {W.shape} for ({self.n_blocks}, {self.n_blocks})"
            )
        if not np.all(np.isfinite(W)) or W.min() < 0 or W.max() > 1:
            raise ValueError("graphon values must lie in [0, 1]")
        if not np.allclose(W, W.T, rtol=0, atol=1e-12):
            raise ValueError("graphon must be symmetric: W(u, v) == W(v, u)")
        #: Block graphon matrix ``W(u_j, u_l)``, shape (M, M).
        self.graphon_matrix = 0.5 * (W + W.T)
        self._m0_spec = m0
        self.m0 = self.m0_at(self.labels, blocks=True)
        self._equilibrium: GraphonEquilibrium | None = None

    # ------------------------------------------------------------------ helpers
    def m0_at(self, u, *, blocks: bool = False) -> np.ndarray:
        """Return the initial means at labels ``u`` (block values are taken piecewise constant).

        Parameters
        ----------
        u : array_like, shape (n,)
            Labels in [0, 1].
        blocks : bool
            ``u`` are the block midpoints (internal use).

        Returns
        -------
        numpy.ndarray, shape (n,)
        """
        u = np.asarray(u, dtype=float)
        spec = self._m0_spec
        if callable(spec):
            out = check_float_array("m0(u)", spec(u), shape=u.shape, finite=True)
        elif np.ndim(spec) == 0:
            out = np.full(u.shape, _scalar("m0", spec))
        else:
            vals = check_float_array("m0", spec, shape=(self.n_blocks,), finite=True)
            out = (
                vals.copy()
                if blocks
                else vals[np.clip((u * self.n_blocks).astype(np.int64), 0, self.n_blocks - 1)]
            )
        return out

    def aggregate(self, means) -> np.ndarray:
        """Aggregate ``Z_j = sum_l W(u_j, u_l) m_l / M`` of block means.

        Parameters
        ----------
        means : array_like, shape (n_blocks, ...)

        Returns
        -------
        numpy.ndarray, same shape as ``means``.
        """
        means = check_float_array("means", means)
        if means.ndim == 0 or means.shape[0] != self.n_blocks:
            raise ValueError(
                f"means must have n_blocks = {self.n_blocks} rows, got shape {means.shape}"
            )
        return np.tensordot(self.graphon_matrix, means, axes=(1, 0)) / self.n_blocks

    def _modes(self, lam, times):
        """Scaled Hamiltonian solutions of every mode at times ``T - times``.

        Returns ``x, y, e`` with ``v(tau) = exp(e) (x, y)`` solving
        ``v' = N v``, ``v(0) = (1, g)`` for each eigenvalue in ``lam`` (rows).
        """
        A, r = self.A, self.B * self.B / self.R
        a = A + self.Abar * lam
        q = self.Q * (1.0 - self.H * lam)
        g = self.G * (1.0 - self.Hbar * lam)
        h = -0.5 * self.Abar * lam
        d2 = h * h + a * A + r * q
        tau = (self.T - np.asarray(times, dtype=float))[None, :]
        d = np.sqrt(np.abs(d2))[:, None]
        pos = (d2 > 0)[:, None] & (d > 0)
        neg = (d2 < 0)[:, None]
        dd = np.where(d > 0, d, 1.0)
        with np.errstate(over="ignore", invalid="ignore"):
            em = np.exp(-2.0 * d * tau)
            C = np.where(pos, 0.5 * (1.0 + em), np.where(neg, np.cos(d * tau), 1.0))
            S = np.where(
                pos,
                -np.expm1(-2.0 * d * tau) / (2.0 * dd),
                np.where(neg, np.sin(d * tau) / dd, tau),
            )
        e = h[:, None] * tau + np.where(pos, d * tau, 0.0)
        n11 = (-a - h)[:, None]
        n21 = q[:, None]
        n22 = (A - h)[:, None]
        gg = g[:, None]
        x = C + S * (n11 + r * gg)
        y = C * gg + S * (n21 + n22 * gg)
        return x, y, e

    # -------------------------------------------------------------- equilibrium
    def equilibrium(self) -> GraphonEquilibrium:
        """Return the exact equilibrium on the time grid (computed once, then cached).

        Returns
        -------
        GraphonEquilibrium
            Slope, intercepts, means, aggregate, Riccati solution and costs.

        Raises
        ------
        ValueError
            If the forward-backward system is singular (a conjugate point: no unique
            equilibrium for this horizon and coupling).
        """
        if self._equilibrium is None:
            self._equilibrium = self._solve()
        return self._equilibrium

    def _fields(self, lam, U, times):
        """P, means, costates and aggregate at ``times`` from the closed form."""
        x, y, e = self._modes(np.concatenate(([0.0], lam)), np.concatenate((times, [0.0])))
        # mode i is uniquely solvable iff x_i(T) != 0; judge "zero" against the size of
        # x_i over the horizon (rounding makes a near-zero x_i(T) meaningless)
        size = np.max(np.abs(x[1:]) * np.exp(e[1:] - e[1:, -1:]), axis=1)
        if (
            not (np.all(np.isfinite(x)) and np.all(np.isfinite(e)))
            or np.any(x[0] <= 0)
            or np.any(np.abs(x[1:, -1]) <= 1e-10 * size)
        ):
            raise ValueError(
                "the forward-backward system is singular or ill-conditioned for this horizon "
                "and coupling (a mode meets a conjugate point): no unique equilibrium"
            )
        P = y[0, :-1] / x[0, :-1]
        # mode amplitudes: c = m~0 / x(T), scaled by exp(e(tau) - e(T))
        m0t = U.T @ self.m0
        ratio = np.exp(e[1:, :-1] - e[1:, -1:]) / x[1:, -1:]
        mt = m0t[:, None] * x[1:, :-1] * ratio
        pt = m0t[:, None] * y[1:, :-1] * ratio
        means = U @ mt
        costate = U @ pt
        agg = U @ (lam[:, None] * mt)
        return P, means, costate, agg

    def _solve(self) -> GraphonEquilibrium:
        M = self.n_blocks
        lam, U = np.linalg.eigh(self.graphon_matrix / M)
        P, means, costate, agg = self._fields(lam, U, self.t)
        s = costate - P[None, :] * means
        r = self.B * self.B / self.R
        # costs: c(0) = c(T) + int_0^T (Abar Z s - r/2 s^2 + sigma^2/2 P + Q H^2 Z^2 / 2) dt
        gx, gw = np.polynomial.legendre.leggauss(3)
        mid = 0.5 * (self.t[:-1] + self.t[1:])
        tq = (mid[:, None] + 0.5 * self.dt * gx[None, :]).ravel()
        wq = np.tile(0.5 * self.dt * gw, self.n_steps)
        Pq, mq, pq, zq = self._fields(lam, U, tq)
        sq = pq - Pq[None, :] * mq
        f = (
            self.Abar * zq * sq
            - 0.5 * r * sq * sq
            + 0.5 * self.sigma**2 * Pq[None, :]
            + 0.5 * self.Q * self.H**2 * zq * zq
        )
        c0 = 0.5 * self.G * self.Hbar**2 * agg[:, -1] ** 2 + f @ wq
        costs = 0.5 * P[0] * (self.m0**2 + self.var0) + s[:, 0] * self.m0 + c0
        fields = dict(
            t=self.t.copy(),
            labels=self.labels.copy(),
            slope=-self.B / self.R * P,
            intercepts=-self.B / self.R * s,
            means=means,
            aggregate=agg,
            riccati=P,
            costs=costs,
        )
        for arr in fields.values():
            arr.flags.writeable = False  # the equilibrium is cached and shared
        return GraphonEquilibrium(**fields)

    def policy_costs(self, slope, intercepts, aggregate=None) -> np.ndarray:
        """Return each block's expected cost under ``a = slope x + intercept`` (RK4 on the grid).

        Parameters
        ----------
        slope : array_like, shape (n_steps + 1,)
        intercepts : array_like, shape (n_blocks, n_steps + 1)
        aggregate : array_like, shape (n_blocks, n_steps + 1), optional
            The aggregate the players face; by default the one the profile itself creates.

        Returns
        -------
        numpy.ndarray, shape (n_blocks,)
        """
        if aggregate is None:
            aggregate = self.aggregate(self.induced_means(slope, intercepts))
        P, s, c = policy_value(
            self.A,
            self.B,
            self.Abar,
            self.Q,
            self.R,
            self.G,
            self.H,
            self.Hbar,
            self.sigma,
            slope,
            intercepts,
            aggregate,
            self.dt,
        )
        return 0.5 * P[0] * (self.m0**2 + self.var0) + s[:, 0] * self.m0 + c[:, 0]

    def best_response_costs(self, aggregate) -> np.ndarray:
        """Return each block's expected cost when best responding to ``aggregate`` (RK4).

        Parameters
        ----------
        aggregate : array_like, shape (n_blocks, n_steps + 1)

        Returns
        -------
        numpy.ndarray, shape (n_blocks,)
        """
        n1 = self.n_steps + 1
        aggregate = check_float_array(
            "aggregate", aggregate, shape=(self.n_blocks, n1), finite=True
        )
        P, s, c = policy_value(
            self.A,
            self.B,
            self.Abar,
            self.Q,
            self.R,
            self.G,
            self.H,
            self.Hbar,
            self.sigma,
            np.zeros(n1),
            np.zeros_like(aggregate),
            aggregate,
            self.dt,
            optimal=True,
        )
        return 0.5 * P[0] * (self.m0**2 + self.var0) + s[:, 0] * self.m0 + c[:, 0]

    def induced_means(self, slope, intercepts) -> np.ndarray:
        """Return the block means when every block plays ``a = slope x + intercept``.

        Solves the closed-loop linear system ``m' = (A + B K) m + B k + Abar W m / M``
        (the aggregate follows the means), RK4 on the grid.

        Parameters
        ----------
        slope : array_like, shape (n_steps + 1,)
        intercepts : array_like, shape (n_blocks, n_steps + 1)

        Returns
        -------
        numpy.ndarray, shape (n_blocks, n_steps + 1)
        """
        n1 = self.n_steps + 1
        K = check_float_array("slope", slope, shape=(n1,), finite=True)
        k = check_float_array("intercepts", intercepts, shape=(self.n_blocks, n1), finite=True)
        Wm = self.graphon_matrix / self.n_blocks
        A, B, Abar, dt = self.A, self.B, self.Abar, self.dt
        m = np.empty((self.n_blocks, n1))
        m[:, 0] = self.m0

        def rhs(Kt, kt, mt):
            return (A + B * Kt) * mt + B * kt + Abar * (Wm @ mt)

        for i in range(self.n_steps):
            Km = 0.5 * (K[i] + K[i + 1])
            km = 0.5 * (k[:, i] + k[:, i + 1])
            d1 = rhs(K[i], k[:, i], m[:, i])
            d2 = rhs(Km, km, m[:, i] + 0.5 * dt * d1)
            d3 = rhs(Km, km, m[:, i] + 0.5 * dt * d2)
            d4 = rhs(K[i + 1], k[:, i + 1], m[:, i] + dt * d3)
            m[:, i + 1] = m[:, i] + dt / 6.0 * (d1 + 2.0 * d2 + 2.0 * d3 + d4)
        return m
