"""Differentiable games: N players, each with a block of decision variables and a cost.

Player ``i`` chooses ``x_i`` (a block of ``blocks[i]`` real numbers) and wants to
minimise its cost ``f_i(x)``, where ``x`` is the joint vector of all blocks in player
order. The *pseudo-gradient* stacks the players' own gradients,
``F(x) = (grad_{x_1} f_1(x), ..., grad_{x_N} f_N(x))``, and its Jacobian ``DF(x)`` has
blocks ``DF_ij = d F_i / d x_j``. Gradient play is the flow ``x' = -F(x)`` (projected on
each player's feasible set).

- :class:`DifferentiableGame` takes costs, own gradients or the pseudo-gradient itself;
  whatever is not given is obtained by central finite differences.
- :class:`QuadraticGame` has ``F(x) = J x + b`` and exact Jacobian ``J``.
- :class:`Box` and :class:`Simplex` are per-player feasible sets with Euclidean
  projections (a product of per-block sets, so the projection is also the projection in
  any block-weighted metric).
- :func:`toy_game` is the two-player game where Euclidean monotonicity fails but the
  Small-Gain Nash certificate succeeds; :func:`random_quadratic_game` draws N-player
  families.

Examples
--------
>>> import numpy as np
>>> from games.diffgame import project_simplex, toy_game
>>> game = toy_game()                      # F(x) = J x + b, one scalar per player
>>> x = game.equilibrium()
>>> x.shape, bool(np.allclose(game.pseudo_gradient(x), 0.0))
((2,), True)
>>> project_simplex(np.array([0.5, 0.5, 0.5]))
array([0.33333333, 0.33333333, 0.33333333])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import sparse

from protocols.checks import check_float, check_float_array, check_int, check_nonneg_float

__all__ = [
    "Box",
    "DifferentiableGame",
    "QuadraticGame",
    "Simplex",
    "finite_difference_jacobian",
    "project_simplex",
    "random_quadratic_game",
    "toy_game",
]


class Box:
    """The box ``low <= x <= high`` for one player's block.

    Parameters
    ----------
    low, high : float or array_like, shape (n,)
        Bounds (``-inf`` / ``inf`` allowed); scalars are broadcast to the block size.
    """

    kind = "box"

    def __init__(self, low, high):
        low_a = np.atleast_1d(np.asarray(low, dtype=np.float64))
        high_a = np.atleast_1d(np.asarray(high, dtype=np.float64))
        if low_a.ndim != 1 or high_a.ndim != 1:
            raise ValueError("low and high must be scalars or one-dimensional")
        if np.any(np.isnan(low_a)) or np.any(np.isnan(high_a)):
            raise ValueError("low and high must not be NaN")
        low_a, high_a = np.broadcast_arrays(low_a, high_a)
        if np.any(low_a > high_a):
            raise ValueError("low must be <= high in every coordinate")
        self.low = np.array(low_a)
        self.high = np.array(high_a)

    def bounds(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(low, high)`` broadcast to a block of size ``n``."""
        if self.low.shape[0] not in (1, n):
            raise ValueError(f"box has {self.low.shape[0]} coordinates, block has {n}")
        return np.broadcast_to(self.low, (n,)).copy(), np.broadcast_to(self.high, (n,)).copy()

    def project(self, x: np.ndarray) -> np.ndarray:
        """Euclidean projection of ``x`` (shape (n,)) onto the box."""
        low, high = self.bounds(x.shape[0])
        return np.clip(x, low, high)

    def sample(self, rng: np.random.Generator, n: int, size: int) -> np.ndarray:
        """Draw ``size`` uniform points of the box (it must be bounded), shape (size, n)."""
        low, high = self.bounds(n)
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise ValueError("cannot sample an unbounded box; give finite bounds")
        return low + (high - low) * rng.random((size, n))

    def __repr__(self) -> str:
        return f"Box(low={self.low.tolist()}, high={self.high.tolist()})"


class Simplex:
    """The scaled simplex ``{x >= 0, sum(x) = radius}`` for one player's block.

    Parameters
    ----------
    radius : float
        Total mass, > 0 (1 for mixed strategies).
    """

    kind = "simplex"

    def __init__(self, radius: float = 1.0):
        self.radius = check_nonneg_float("radius", radius, positive=True)

    def project(self, x: np.ndarray) -> np.ndarray:
        """Euclidean projection of ``x`` (shape (n,)) onto the simplex."""
        return project_simplex(x, self.radius)

    def sample(self, rng: np.random.Generator, n: int, size: int) -> np.ndarray:
        """Draw ``size`` uniform (Dirichlet(1)) points, shape (size, n)."""
        return self.radius * rng.dirichlet(np.ones(n), size=size)

    def __repr__(self) -> str:
        return f"Simplex(radius={self.radius})"


def project_simplex(x: np.ndarray, radius: float = 1.0) -> np.ndarray:
    """Euclidean projection onto ``{y >= 0, sum(y) = radius}`` (sort-based, O(n log n)).

    Parameters
    ----------
    x : numpy.ndarray, shape (n,)
        Point to project.
    radius : float
        Total mass, > 0.

    Returns
    -------
    numpy.ndarray, shape (n,)
        The projection.
    """
    u = np.sort(x)[::-1]
    css = np.cumsum(u) - radius
    k = np.arange(1, x.shape[0] + 1)
    rho = np.nonzero(u - css / k > 0)[0][-1]
    theta = css[rho] / (rho + 1)
    return np.maximum(x - theta, 0.0)


def finite_difference_jacobian(
    fun: Callable[[np.ndarray], np.ndarray], x: np.ndarray, *, rel_step: float = 1e-6
) -> np.ndarray:
    """Central finite-difference Jacobian of ``fun`` at ``x``.

    Parameters
    ----------
    fun : callable
        Maps shape (n,) to shape (m,).
    x : numpy.ndarray, shape (n,)
        Point.
    rel_step : float
        Step ``h_k = rel_step * max(1, |x_k|)``.

    Returns
    -------
    numpy.ndarray, shape (m, n)
        ``d fun / d x``; error O(h^2) for smooth ``fun``.
    """
    x = np.asarray(x, dtype=np.float64)
    cols = []
    for k in range(x.shape[0]):
        h = rel_step * max(1.0, abs(x[k]))
        xp = x.copy()
        xm = x.copy()
        xp[k] += h
        xm[k] -= h
        cols.append(
            (np.asarray(fun(xp), dtype=np.float64) - np.asarray(fun(xm), dtype=np.float64))
            / (2 * h)
        )
    return np.stack(cols, axis=1)


def _check_blocks(blocks) -> tuple[int, ...]:
    if isinstance(blocks, str | bytes) or not isinstance(blocks, Sequence | np.ndarray):
        raise TypeError("blocks must be a sequence of positive block sizes")
    out = tuple(check_int(f"blocks[{i}]", b, low=1) for i, b in enumerate(blocks))
    if len(out) < 1:
        raise ValueError("blocks must list at least one player")
    return out


def _check_sets(sets, n_players: int) -> tuple:
    if sets is None:
        return (None,) * n_players
    sets = tuple(sets)
    if len(sets) != n_players:
        raise ValueError(f"sets must have one entry per player ({n_players}), got {len(sets)}")
    for i, s in enumerate(sets):
        if s is not None and not isinstance(s, Box | Simplex):
            raise TypeError(f"sets[{i}] must be a Box, a Simplex or None")
    return sets


class DifferentiableGame:
    """An N-player differentiable game.

    Give one of ``costs``, ``gradients`` or ``pseudo_gradient`` (in that order of
    preference, the most derived one given is used for the pseudo-gradient); the
    Jacobian is ``jacobian`` when given, else central finite differences of the
    pseudo-gradient.

    Parameters
    ----------
    blocks : sequence of int
        Block size of each player, in order; the joint vector has ``sum(blocks)`` entries.
    costs : sequence of callable, optional
        ``costs[i](x) -> float``: player i's cost at the joint vector ``x``.
    gradients : sequence of callable, optional
        ``gradients[i](x) -> array (blocks[i],)``: ``grad_{x_i} f_i(x)``.
    pseudo_gradient : callable, optional
        ``F(x) -> array (dim,)``.
    jacobian : callable, optional
        ``DF(x) -> array (dim, dim)``.
    sets : sequence of (Box or Simplex or None), optional
        Feasible set of each player (None: unconstrained).
    """

    def __init__(
        self,
        blocks: Sequence[int],
        *,
        costs: Sequence[Callable[[np.ndarray], float]] | None = None,
        gradients: Sequence[Callable[[np.ndarray], np.ndarray]] | None = None,
        pseudo_gradient: Callable[[np.ndarray], np.ndarray] | None = None,
        jacobian: Callable[[np.ndarray], np.ndarray] | None = None,
        sets: Sequence[Box | Simplex | None] | None = None,
    ):
        self.blocks = _check_blocks(blocks)
        self.n_players = len(self.blocks)
        self.offsets = np.concatenate([[0], np.cumsum(self.blocks)]).astype(np.int64)
        self.dim = int(self.offsets[-1])
        for name, fns in (("costs", costs), ("gradients", gradients)):
            if fns is not None:
                if len(fns) != self.n_players or not all(callable(f) for f in fns):
                    raise ValueError(f"{name} must hold one callable per player ({self.n_players})")
        if costs is None and gradients is None and pseudo_gradient is None:
            raise ValueError("give costs, gradients or pseudo_gradient")
        if pseudo_gradient is not None and not callable(pseudo_gradient):
            raise TypeError("pseudo_gradient must be callable")
        if jacobian is not None and not callable(jacobian):
            raise TypeError("jacobian must be callable")
        self._costs = None if costs is None else tuple(costs)
        self._gradients = None if gradients is None else tuple(gradients)
        self._pseudo_gradient = pseudo_gradient
        self._jacobian = jacobian
        self.sets = _check_sets(sets, self.n_players)

    # -- layout -------------------------------------------------------------------
    def block(self, i: int) -> slice:
        """Return the slice of player ``i``'s block in the joint vector."""
        return slice(int(self.offsets[i]), int(self.offsets[i + 1]))

    def split(self, x: np.ndarray) -> list[np.ndarray]:
        """Split a joint vector (shape (dim,)) into the players' blocks."""
        return [x[self.block(i)] for i in range(self.n_players)]

    def _check_x(self, x) -> np.ndarray:
        return check_float_array("x", x, shape=(self.dim,))

    # -- costs and derivatives ----------------------------------------------------------
    @property
    def has_costs(self) -> bool:
        """Whether per-player costs are available (see :meth:`cost`)."""
        return self._costs is not None

    def cost(self, i: int, x) -> float:
        """Player ``i``'s cost at the joint vector ``x``."""
        if self._costs is None:
            raise ValueError("this game was built without costs")
        return float(self._costs[i](self._check_x(x)))

    def pseudo_gradient(self, x) -> np.ndarray:
        """``F(x)``, shape (dim,): the stacked own gradients."""
        x = self._check_x(x)
        if self._pseudo_gradient is not None:
            return np.asarray(self._pseudo_gradient(x), dtype=np.float64).reshape(self.dim)
        out = np.empty(self.dim)
        for i in range(self.n_players):
            sl = self.block(i)
            if self._gradients is not None:
                out[sl] = np.asarray(self._gradients[i](x), dtype=np.float64)
            else:

                def fi(xi, i=i, sl=sl):
                    y = x.copy()
                    y[sl] = xi
                    return np.array([self._costs[i](y)])

                out[sl] = finite_difference_jacobian(fi, x[sl], rel_step=1e-5)[0]
        return out

    def jacobian(self, x) -> np.ndarray:
        """``DF(x)``, shape (dim, dim): analytic when given, else finite differences."""
        x = self._check_x(x)
        if self._jacobian is not None:
            return np.asarray(self._jacobian(x), dtype=np.float64).reshape(self.dim, self.dim)
        # differences of a difference-quotient gradient need a larger step (noise / h)
        nested = self._pseudo_gradient is None and self._gradients is None
        return finite_difference_jacobian(
            self.pseudo_gradient, x, rel_step=1e-4 if nested else 1e-6
        )

    def jacobian_block(self, x, i: int, j: int) -> np.ndarray:
        """``d F_i / d x_j`` at ``x``, shape (blocks[i], blocks[j])."""
        return self.jacobian(x)[self.block(i), self.block(j)]

    # -- feasible sets ------------------------------------------------------------------
    def project(self, x) -> np.ndarray:
        """Project a joint vector on the product of the players' sets."""
        x = np.array(self._check_x(x))
        for i, s in enumerate(self.sets):
            if s is not None:
                sl = self.block(i)
                x[sl] = s.project(x[sl])
        return x

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draw ``size`` joint points from the (bounded) product of sets, shape (size, dim)."""
        out = np.empty((size, self.dim))
        for i, s in enumerate(self.sets):
            if s is None:
                raise ValueError(f"player {i} is unconstrained: give a bounded region to sample")
            out[:, self.block(i)] = s.sample(rng, self.blocks[i], size)
        return out


class QuadraticGame(DifferentiableGame):
    """A game with affine pseudo-gradient ``F(x) = J x + b``.

    Player ``i``'s cost is ``f_i(x) = 1/2 x_i^T J_ii x_i + x_i^T (sum_{j != i} J_ij x_j
    + b_i)``, whose own gradient is ``F_i`` when ``J_ii`` is symmetric (costs are only
    available then).

    Parameters
    ----------
    J : array_like, shape (dim, dim)
        Jacobian of the pseudo-gradient.
    b : array_like, shape (dim,)
        Offset.
    blocks : sequence of int
        Block sizes, summing to ``dim``.
    sets : sequence of (Box or Simplex or None), optional
        Feasible set of each player.

    Notes
    -----
    ``J``, ``b`` and ``sets`` are treated as immutable (the solver caches its arrays):
    build a new game to change them.
    """

    def __init__(self, J, b, blocks: Sequence[int], sets=None):
        blocks = _check_blocks(blocks)
        dim = int(sum(blocks))
        self.J = check_float_array("J", J, shape=(dim, dim), finite=True)
        self.b = check_float_array("b", b, shape=(dim,), finite=True)
        super().__init__(blocks, pseudo_gradient=self._affine, jacobian=self._const_jac, sets=sets)
        self._kernel = None
        sym = all(
            np.allclose(
                self.J[self.block(i), self.block(i)],
                self.J[self.block(i), self.block(i)].T,
                rtol=0,
                atol=1e-12,
            )
            for i in range(self.n_players)
        )
        if sym:
            self._costs = tuple(self._make_cost(i) for i in range(self.n_players))

    def _affine(self, x: np.ndarray) -> np.ndarray:
        return self.J @ x + self.b

    def _const_jac(self, x: np.ndarray) -> np.ndarray:
        return self.J

    def _make_cost(self, i: int) -> Callable[[np.ndarray], float]:
        return _QuadCost(self.J, self.b, self.block(i))

    def kernel_arrays(self) -> tuple:
        """Return ``(J, lower, upper, simplex_radius)`` for :func:`protocols.sgn.sgn_iterate`.

        ``J`` is a scipy CSR matrix when at most 20% of its entries are non-zero; the
        arrays are computed once and cached.
        """
        if self._kernel is None:
            lower = np.full(self.dim, -np.inf)
            upper = np.full(self.dim, np.inf)
            radius = np.zeros(self.n_players)
            for i, s in enumerate(self.sets):
                if isinstance(s, Box):
                    lower[self.block(i)], upper[self.block(i)] = s.bounds(self.blocks[i])
                elif isinstance(s, Simplex):
                    radius[i] = s.radius
            J = self.J
            if np.count_nonzero(J) <= 0.2 * J.size:
                J = sparse.csr_matrix(J)
            self._kernel = (J, lower, upper, radius)
        return self._kernel

    def equilibrium(self) -> np.ndarray:
        """Return the unconstrained Nash equilibrium ``x* = -J^{-1} b`` (J nonsingular)."""
        try:
            return np.linalg.solve(self.J, -self.b)
        except np.linalg.LinAlgError:
            raise ValueError("J is singular: the game has no unique equilibrium") from None


class _QuadCost:
    """Picklable per-player quadratic cost."""

    def __init__(self, J, b, sl):
        self.J, self.b, self.sl = J, b, sl

    def __call__(self, x: np.ndarray) -> float:
        xi = x[self.sl]
        row = self.J[self.sl]
        own = row[:, self.sl] @ xi
        return float(0.5 * xi @ own + xi @ (row @ x - own + self.b[self.sl]))


def toy_game(
    mu: float = 1.0, l12: float = 10.0, l21: float = 0.05, b=(0.0, 0.0), sets=None
) -> QuadraticGame:
    """Build the two-player scalar game ``J = [[mu, l12], [l21, mu]]``.

    With the defaults (mu = 1, couplings 10 and 0.05) the symmetric part of ``J`` has the
    eigenvalue ``1 - 5.025 < 0`` (not Euclidean-monotone), while ``mu^2 > l12 l21`` so
    the Small-Gain Nash certificate holds. Costs: ``f_1 = mu x_1^2 / 2 + l12 x_1 x_2 +
    b_1 x_1`` and ``f_2 = mu x_2^2 / 2 + l21 x_1 x_2 + b_2 x_2``.

    Parameters
    ----------
    mu : float
        Own curvature of both players.
    l12, l21 : float
        Couplings ``dF_1/dx_2`` and ``dF_2/dx_1``.
    b : array_like, shape (2,)
        Linear terms.
    sets : sequence of 2 sets, optional
        Feasible sets.

    Returns
    -------
    QuadraticGame
    """
    mu, l12, l21 = (_finite_real(n, v) for n, v in (("mu", mu), ("l12", l12), ("l21", l21)))
    b = check_float_array("b", b, shape=(2,), finite=True)
    J = np.array([[mu, l12], [l21, mu]], dtype=np.float64)
    return QuadraticGame(J, b, [1, 1], sets=sets)


def _finite_real(name: str, value) -> float:
    """``value`` as a float; one clear error naming ``name`` unless a finite real."""
    return check_float(name, value)


def random_quadratic_game(
    n_players: int,
    block_size: int,
    rng: np.random.Generator,
    *,
    mu: tuple[float, float] = (1.0, 2.0),
    coupling: float = 0.5,
    topology: str = "dense",
    symmetric_coupling: bool = False,
) -> QuadraticGame:
    """Draw a random N-player quadratic game.

    Own blocks ``J_ii`` are symmetric with eigenvalues uniform in ``mu``; each coupled
    cross block ``J_ij`` is Gaussian with entries of standard deviation
    ``coupling / block_size`` (so its spectral norm is about ``2 coupling /
    sqrt(block_size)``); ``b`` is standard normal.

    Parameters
    ----------
    n_players : int
        Number of players, >= 1.
    block_size : int
        Size of every block, >= 1.
    rng : numpy.random.Generator
        Source of randomness.
    mu : tuple of float
        Range ``(low, high)`` of own-block eigenvalues (low may be <= 0 to draw
        games that are not strongly monotone).
    coupling : float
        Scale of cross blocks, >= 0.
    topology : {"dense", "ring"}
        Which pairs are coupled: all, or ``i`` with ``i +- 1 mod N``.
    symmetric_coupling : bool
        Use ``J_ji = J_ij^T`` (a potential game).

    Returns
    -------
    QuadraticGame
    """
    n = check_int("n_players", n_players, low=1)
    m = check_int("block_size", block_size, low=1)
    coupling = check_nonneg_float("coupling", coupling)
    if topology not in ("dense", "ring"):
        raise ValueError(f"topology must be 'dense' or 'ring', got {topology!r}")
    if np.ndim(mu) != 1 or len(mu) != 2:
        raise ValueError(f"mu must be a range (low, high), got {mu!r}")
    lo, hi = (_finite_real("mu", v) for v in mu)
    if not lo <= hi:
        raise ValueError(f"mu must be a range (low, high) with low <= high, got {mu}")
    dim = n * m
    J = np.zeros((dim, dim))
    for i in range(n):
        q, _ = np.linalg.qr(rng.standard_normal((m, m)))
        ev = rng.uniform(lo, hi, m)
        J[i * m : (i + 1) * m, i * m : (i + 1) * m] = (q * ev) @ q.T
    for i in range(n):
        for j in range(n):
            if i == j or (topology == "ring" and (j - i) % n not in (1, n - 1)):
                continue
            if symmetric_coupling and j < i:
                J[i * m : (i + 1) * m, j * m : (j + 1) * m] = J[
                    j * m : (j + 1) * m, i * m : (i + 1) * m
                ].T
                continue
            J[i * m : (i + 1) * m, j * m : (j + 1) * m] = coupling / m * rng.standard_normal((m, m))
    b = rng.standard_normal(dim)
    return QuadraticGame(J, b, [m] * n)
