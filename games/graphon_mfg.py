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
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from protocols._checks import check_float_array, check_int, check_nonneg_float
from protocols.graphon import graph_means, policy_value

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

#: Built-in graphon families and their parameters (with defaults).
GRAPHON_FAMILIES: dict[str, dict[str, object]] = {
    "constant": {"p": 0.5},
    "uniform_attachment": {},
    "ranked_attachment": {},
    "threshold": {"c": 1.0},
    "exponential": {"decay": 3.0},
    "sbm": {"sizes": (0.5, 0.5), "probs": ((0.8, 0.2), (0.2, 0.8))},
}


class Graphon:
    """A built-in graphon family ``W(u, v)``, callable on arrays (picklable).

    Families (see :data:`GRAPHON_FAMILIES`):

    - ``constant``: ``p`` (Erdos-Renyi);
    - ``uniform_attachment``: ``1 - max(u, v)``;
    - ``ranked_attachment``: ``1 - u v``;
    - ``threshold``: ``1`` if ``u + v <= c`` else ``0``;
    - ``exponential``: ``exp(-decay |u - v|)``;
    - ``sbm``: stochastic block model, communities of relative ``sizes`` (consecutive
      label intervals) linked with probabilities ``probs`` (symmetric matrix).

    Parameters
    ----------
    name : str
        Family name.
    **params
        Family parameters; unknown ones are an error.
    """

    def __init__(self, name: str, **params):
        if name not in GRAPHON_FAMILIES:
            raise ValueError(f"graphon must be one of {', '.join(GRAPHON_FAMILIES)} "
                             f"or a callable W(u, v), got {name!r}")
        allowed = GRAPHON_FAMILIES[name]
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise TypeError(f"graphon {name!r} has no parameter {unknown[0]!r}; "
                            f"allowed: {', '.join(allowed) or '(none)'}")
        self.name = name
        self.params = {**allowed, **params}
        if name == "constant":
            p = self.params["p"]
            if not isinstance(p, numbers.Real) or not 0 <= p <= 1:
                raise ValueError(f"graphon 'constant': p must lie in [0, 1], got {p!r}")
        elif name == "threshold":
            c = self.params["c"]
            if not isinstance(c, numbers.Real) or not 0 <= c <= 2:
                raise ValueError(f"graphon 'threshold': c must lie in [0, 2], got {c!r}")
        elif name == "exponential":
            d = self.params["decay"]
            if not isinstance(d, numbers.Real) or not d >= 0:
                raise ValueError(f"graphon 'exponential': decay must be >= 0, got {d!r}")
        elif name == "sbm":
            sizes = check_float_array("sbm sizes", self.params["sizes"], ndim=1, finite=True)
            probs = check_float_array("sbm probs", self.params["probs"],
                                      shape=(sizes.shape[0], sizes.shape[0]), finite=True)
            if np.any(sizes <= 0):
                raise ValueError("graphon 'sbm': sizes must be > 0")
            if np.any(probs < 0) or np.any(probs > 1) or not np.allclose(probs, probs.T):
                raise ValueError("graphon 'sbm': probs must be a symmetric matrix in [0, 1]")
            self._edges = np.cumsum(sizes)[:-1] / sizes.sum()
            self._probs = probs

    def __call__(self, u, v) -> np.ndarray:
        """Evaluate ``W(u, v)`` elementwise (broadcasting)."""
        u, v = np.broadcast_arrays(np.asarray(u, dtype=float), np.asarray(v, dtype=float))
        name = self.name
        if name == "constant":
            return np.full(u.shape, float(self.params["p"]))
        if name == "uniform_attachment":
            return 1.0 - np.maximum(u, v)
        if name == "ranked_attachment":
            return 1.0 - u * v
        if name == "threshold":
            return (u + v <= self.params["c"]).astype(float)
        if name == "exponential":
            return np.exp(-float(self.params["decay"]) * np.abs(u - v))
        bu = np.searchsorted(self._edges, u, side="right")
        bv = np.searchsorted(self._edges, v, side="right")
        return self._probs[bu, bv]

    def __repr__(self) -> str:
        extra = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"Graphon({self.name!r}{', ' if extra else ''}{extra})"


def make_graphon(graphon, **params) -> Callable:
    """Return a graphon callable from a family name (with parameters) or a callable.

    Parameters
    ----------
    graphon : str or callable
        A name of :data:`GRAPHON_FAMILIES` or a function ``W(u, v)`` on arrays.
    **params
        Family parameters (only with a name).

    Returns
    -------
    callable
        ``W(u, v)``, elementwise on arrays.
    """
    if isinstance(graphon, str):
        return Graphon(graphon, **params)
    if callable(graphon):
        if params:
            raise TypeError("graphon parameters are only accepted with a family name")
        return graphon
    raise TypeError(f"graphon must be a family name or a callable, got {type(graphon).__name__}")


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
        return ((1.0 - w)[:, None] * self.intercepts[left]
                + w[:, None] * self.intercepts[right])


def label_interpolation(labels: np.ndarray, u, mode: str = "linear"
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
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


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

    def __init__(self, A, B, Abar, Q, R, G, H, Hbar, sigma, T, graphon, m0, n_blocks, n_steps,
                 *, var0=0.0):
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
            raise ValueError(f"graphon must return an array of the broadcast shape of its "
                             f"arguments, got {W.shape} for ({self.n_blocks}, {self.n_blocks})")
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
            out = vals.copy() if blocks else vals[
                np.clip((u * self.n_blocks).astype(np.int64), 0, self.n_blocks - 1)]
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
            raise ValueError(f"means must have n_blocks = {self.n_blocks} rows, "
                             f"got shape {means.shape}")
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
            S = np.where(pos, -np.expm1(-2.0 * d * tau) / (2.0 * dd),
                         np.where(neg, np.sin(d * tau) / dd, tau))
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
        if (not (np.all(np.isfinite(x)) and np.all(np.isfinite(e))) or np.any(x[0] <= 0)
                or np.any(np.abs(x[1:, -1]) <= 1e-10 * size)):
            raise ValueError(
                "the forward-backward system is singular or ill-conditioned for this horizon "
                "and coupling (a mode meets a conjugate point): no unique equilibrium")
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
        f = (self.Abar * zq * sq - 0.5 * r * sq * sq + 0.5 * self.sigma ** 2 * Pq[None, :]
             + 0.5 * self.Q * self.H ** 2 * zq * zq)
        c0 = 0.5 * self.G * self.Hbar ** 2 * agg[:, -1] ** 2 + f @ wq
        costs = 0.5 * P[0] * (self.m0 ** 2 + self.var0) + s[:, 0] * self.m0 + c0
        fields = dict(t=self.t.copy(), labels=self.labels.copy(), slope=-self.B / self.R * P,
                      intercepts=-self.B / self.R * s, means=means, aggregate=agg, riccati=P,
                      costs=costs)
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
        P, s, c = policy_value(self.A, self.B, self.Abar, self.Q, self.R, self.G, self.H,
                               self.Hbar, self.sigma, slope, intercepts, aggregate, self.dt)
        return 0.5 * P[0] * (self.m0 ** 2 + self.var0) + s[:, 0] * self.m0 + c[:, 0]

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
        aggregate = check_float_array("aggregate", aggregate, shape=(self.n_blocks, n1),
                                      finite=True)
        P, s, c = policy_value(self.A, self.B, self.Abar, self.Q, self.R, self.G, self.H,
                               self.Hbar, self.sigma, np.zeros(n1), np.zeros_like(aggregate),
                               aggregate, self.dt, optimal=True)
        return 0.5 * P[0] * (self.m0 ** 2 + self.var0) + s[:, 0] * self.m0 + c[:, 0]

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


# ----------------------------------------------------------------- N-player game
def sample_graphon_graph(graphon, n_players: int, *, rng: np.random.Generator,
                         mean_degree: float | None = None):
    """Sample an undirected graph on ``n_players`` labelled players from a graphon.

    Player ``i`` has label ``u_i = (i + 1/2) / N``. Dense sampling (``mean_degree`` None)
    links ``i != j`` with probability ``W(u_i, u_j)`` and normalises aggregates by ``1/N``.
    Sparse sampling links with probability ``min(1, rho W(u_i, u_j))`` with
    ``rho = mean_degree / N`` and normalises by ``1 / (rho N)``, so aggregates have the
    same limit; it never forms the N x N matrix.

    Parameters
    ----------
    graphon : str or callable
        As for :class:`LQGraphonMFG`.
    n_players : int
        ``N`` (>= 1).
    rng : numpy.random.Generator
        Source of randomness.
    mean_degree : float, optional
        Target scale of the degrees (> 0) for sparse sampling.

    Returns
    -------
    labels : numpy.ndarray, shape (N,)
    indptr, indices : numpy.ndarray of int64
        Symmetric CSR adjacency without self-loops, sorted neighbour lists.
    scale : float
        Aggregate normalisation: ``z_i = scale * sum_{j ~ i} x_j``.
    """
    W = make_graphon(graphon)
    n = check_int("n_players", n_players, low=1)
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator")
    labels = (np.arange(n) + 0.5) / n
    if mean_degree is None:
        rho = 1.0
    else:
        rho = min(1.0, check_nonneg_float("mean_degree", mean_degree, positive=True) / n)
    if rho >= 1.0:
        if n > 8000:
            raise ValueError(f"dense sampling of n_players = {n} > 8000 would need an N x N "
                             "matrix; pass mean_degree for sparse sampling")
        iu, ju = np.triu_indices(n, k=1)
        p = np.clip(W(labels[iu], labels[ju]), 0.0, 1.0)
        keep = rng.random(iu.shape[0]) < p
        src, dst = iu[keep], ju[keep]
    else:
        # candidate ordered pairs with probability rho, then thinning by W
        total = n * n
        count = rng.binomial(total, rho)
        cand = rng.choice(total, size=count, replace=False)
        i, j = np.divmod(cand, n)
        upper = i < j
        i, j = i[upper], j[upper]
        p = np.clip(W(labels[i], labels[j]), 0.0, 1.0)
        keep = rng.random(i.shape[0]) < p
        src, dst = i[keep], j[keep]
    rows = np.concatenate((src, dst))
    cols = np.concatenate((dst, src))
    order = np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return labels, indptr, cols.astype(np.int64), 1.0 / (rho * n)


@dataclass(frozen=True)
class NPlayerExploitability:
    """Exploitability of the graphon equilibrium policy in a sampled N-player game.

    Attributes
    ----------
    gains : numpy.ndarray, shape (N,)
        ``J_i(equilibrium policy) - J_i(best response)`` for each player.
    max_gain, mean_gain : float
        Their maximum and mean.
    labels : numpy.ndarray, shape (N,)
    """

    gains: np.ndarray
    max_gain: float
    mean_gain: float
    labels: np.ndarray


def n_player_exploitability(game: LQGraphonMFG, n_players: int, *, seed: int = 0,
                            mean_degree: float | None = None,
                            interpolation: str = "linear") -> NPlayerExploitability:
    """How much players of a sampled N-player game gain by leaving the graphon equilibrium.

    Every player ``i`` plays the graphon equilibrium policy ``a = K(t) x + k(u_i, t)``
    (intercepts per ``interpolation``, see :meth:`GraphonEquilibrium.intercepts_at`).
    The players' means are solved on the sampled graph (RK4 on the game's grid,
    O(dt^2)); each player's gain is its expected
    cost minus the cost of its best response against its realised neighbourhood
    aggregate ``z_i(t) = scale * sum_{j ~ i} E[X_j(t)]``. The best response treats
    ``z_i`` as given: a deviating player's own O(1/N) effect on its neighbours' means and
    the noise correlation between ``X_i`` and ``z_i`` (both vanish as N grows) are left
    out. Costs of both policies use the same grid, so the gains are differences of
    consistently discretised costs.

    Parameters
    ----------
    game : LQGraphonMFG
        The graphon game.
    n_players : int
        ``N`` (>= 1).
    seed : int
        Seed of the graph sample.
    mean_degree : float, optional
        Sparse sampling (see :func:`sample_graphon_graph`).
    interpolation : {"linear", "block"}
        How players' intercepts are read off the block equilibrium.

    Returns
    -------
    NPlayerExploitability
    """
    eq = game.equilibrium()
    rng = np.random.default_rng(check_int("seed", seed, low=0))
    labels, indptr, indices, scale = sample_graphon_graph(game.graphon, n_players, rng=rng,
                                                          mean_degree=mean_degree)
    k = eq.intercepts_at(labels, interpolation)
    m0 = game.m0_at(labels)
    _, z = graph_means(indptr, indices, scale, game.A, game.B, game.Abar, eq.slope, k, m0,
                       game.dt)
    args = (game.A, game.B, game.Abar, game.Q, game.R, game.G, game.H, game.Hbar, game.sigma)
    P, s, c = policy_value(*args, eq.slope, k, z, game.dt)
    Pb, sb, cb = policy_value(*args, eq.slope, k, z, game.dt, optimal=True)
    second = m0 ** 2 + game.var0
    j_pol = 0.5 * P[0] * second + s[:, 0] * m0 + c[:, 0]
    j_br = 0.5 * Pb[0] * second + sb[:, 0] * m0 + cb[:, 0]
    gains = j_pol - j_br
    return NPlayerExploitability(gains=gains, max_gain=float(gains.max()),
                                 mean_gain=float(gains.mean()), labels=labels)


# ------------------------------------------------------------------- vector states
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

    def __init__(self, A, B, Abar, Q, R, G, H, Hbar, sigma, T, graphon, m0, n_blocks, n_steps,
                 *, cov0=None):
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
        scalar = LQGraphonMFG(0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, self.T,
                              self.graphon, 0.0, self.n_blocks, 1)
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
                raise ValueError("a mode of the forward-backward system meets a conjugate "
                                 "point: no unique equilibrium found by the Riccati sweep")
            Pi[k] = np.linalg.solve(X.transpose(0, 2, 1), Y.transpose(0, 2, 1)) \
                .transpose(0, 2, 1)
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
        f = (np.einsum("jkd,jkd->jk", agg @ self.Abar.T, s)
             - 0.5 * np.einsum("jkd,de,jke->jk", s, S, s)
             + 0.5 * np.einsum("de,kde->k", self.sigma @ self.sigma.T, P)[None, :]
             + 0.5 * np.einsum("jkd,de,jke->jk", HZ, self.Q, HZ))
        tf = np.linspace(0.0, self.T, n_sub + 1)
        zT = agg[:, -1] @ self.Hbar.T
        c0 = 0.5 * np.einsum("jd,de,je->j", zT, self.G, zT) + simpson(f, x=tf, axis=1)
        costs = (0.5 * np.einsum("jd,de,je->j", self.m0, P[0], self.m0)
                 + 0.5 * np.trace(P[0] @ self.cov0)
                 + np.einsum("jd,jd->j", s[:, 0], self.m0) + c0)
        sl = slice(None, None, 2)
        fields = dict(t=self.t.copy(), labels=self.labels.copy(),
                      slope=-np.einsum("pd,kde->kpe", Rinv_Bt, P[sl]),
                      intercepts=-np.einsum("pd,jkd->jkp", Rinv_Bt, s[:, sl]),
                      means=means[:, sl], aggregate=agg[:, sl], riccati=P[sl], costs=costs)
        for key, arr in fields.items():
            fields[key] = np.ascontiguousarray(arr)
            fields[key].flags.writeable = False
        return VectorGraphonEquilibrium(**fields)
