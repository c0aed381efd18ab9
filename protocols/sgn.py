"""Projected Euler and RK4 gradient play for affine pseudo-gradients ``F(x) = J x + b``.

These are the certified solvers of Small-Gain Nash (SGN): one step of size ``step``
from ``x`` is

- Euler: ``x+ = P(x - step F(x))``;
- RK4: ``x+ = P(x - step (k1 + 2 k2 + 2 k3 + k4) / 6)`` with ``k1 = F(x)``,
  ``k2 = F(P(x - step k1 / 2))``, ``k3 = F(P(x - step k2 / 2))``,
  ``k4 = F(P(x - step k3))`` (stages projected too, so that every stage is feasible and
  the fixed points are exactly the projected equilibria ``x = P(x - c F(x))``);

where ``P`` projects every block on its box or scaled simplex (a product set, so ``P`` is
also the projection in any block-weighted metric). The residual of an iteration is the
weighted step length ``||x+ - x||_W / step`` with ``||v||_W^2 = sum_k w_k v_k^2``; it is
``||F(x)||_W`` when nothing is projected. The iteration stops when the residual is at
most ``tol``, when it is not finite (divergence), or after ``max_iter`` iterations.

Examples
--------
>>> import numpy as np
>>> from protocols.sgn import sgn_iterate
>>> J, b = np.array([[1.0, 10.0], [-0.05, 1.0]]), np.array([1.0, -1.0])
>>> result = sgn_iterate(J, b, np.zeros(2), 0.1)          # projected Euler, no sets
>>> result.converged, result.solution.round(6)            # J x + b = 0
(True, array([-7.333333,  0.633333]))
>>> box = sgn_iterate(J, b, np.zeros(2), 0.1, method="rk4", upper=[0.0, 0.5])
>>> box.solution.round(6)                                 # x_2 <= 0.5 binds
array([-6. ,  0.5])
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numba import njit
from scipy import sparse as sp

from protocols.checks import (
    ConvergenceWarning,
    check_float_array,
    check_int,
    check_nonneg_float,
)

__all__ = ["EULER", "RK4", "AffineField", "BlockSet", "IterationResult", "sgn_iterate"]

#: Kernel code of the projected Euler step.
EULER = 0
#: Kernel code of the projected RK4 step.
RK4 = 1
_METHODS = {"euler": EULER, "rk4": RK4}


@dataclass
class IterationResult:
    """Outcome of :func:`sgn_iterate`.

    Attributes
    ----------
    solution : numpy.ndarray, shape (n,)
        Last iterate.
    iterations : int
        Iterations performed.
    converged : bool
        Whether the residual reached ``tol``.
    residuals : numpy.ndarray, shape (iterations,)
        Residual ``||x_{k+1} - x_k||_W / step`` of every iteration.
    trajectory : numpy.ndarray or None, shape (iterations + 1, n)
        Every iterate from ``x0``, when requested.
    """

    solution: np.ndarray
    iterations: int
    converged: bool
    residuals: np.ndarray
    trajectory: np.ndarray | None = None


class AffineField(NamedTuple):
    """The pseudo-gradient ``F(x) = J x + b``, dense or in CSR (read only).

    Attributes
    ----------
    dense : numpy.ndarray, shape (n, n) or (1, 1)
        ``J`` when not sparse (a (1, 1) placeholder otherwise).
    indptr : numpy.ndarray of int64, shape (n + 1,) or (1,)
        CSR row pointers of ``J`` when sparse.
    indices : numpy.ndarray of int64, shape (nnz,)
        CSR column indices.
    data : numpy.ndarray, shape (nnz,)
        CSR values.
    sparse : bool
        Multiply in CSR (True) or with BLAS on ``dense``.
    b : numpy.ndarray, shape (n,)
        Offset.
    """

    dense: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    sparse: bool
    b: np.ndarray


class BlockSet(NamedTuple):
    """The feasible set: per-block boxes or scaled simplices (read only).

    Attributes
    ----------
    lo, hi : numpy.ndarray, shape (n,)
        Box bounds (``-inf`` / ``inf`` allowed).
    block_ptr : numpy.ndarray of int64, shape (n_blocks + 1,)
        Block boundaries.
    radius : numpy.ndarray, shape (n_blocks,)
        Simplex radius of each block, or 0 to use the box.
    """

    lo: np.ndarray
    hi: np.ndarray
    block_ptr: np.ndarray
    radius: np.ndarray


class _Settings(NamedTuple):
    """Scalars of :func:`_sgn_iterate_kernel`.

    ``step`` (> 0), ``method`` (:data:`EULER` or :data:`RK4`), ``tol``, ``max_iter``
    and ``record`` (keep the trajectory).
    """

    step: float
    method: int
    tol: float
    max_iter: int
    record: bool


@njit(cache=True)
def _affine_kernel(field, x, out):
    """``out = J x + b``.

    Parameters
    ----------
    field : AffineField
        ``J`` and ``b`` (read).
    x : numpy.ndarray, shape (n,)
        Point (read).
    out : numpy.ndarray, shape (n,)
        Written: ``F(x)``.
    """
    n = x.shape[0]
    if field.sparse:
        indptr, indices, data = field.indptr, field.indices, field.data
        for i in range(n):
            s = field.b[i]
            for k in range(indptr[i], indptr[i + 1]):
                s += data[k] * x[indices[k]]
            out[i] = s
    else:
        y = np.dot(field.dense, x)  # BLAS gemv
        for i in range(n):
            out[i] = y[i] + field.b[i]


@njit(cache=True)
def _project_kernel(x, feas):
    """Project ``x`` (n,) in place on ``feas`` (block by block; ``x`` is written).

    Simplex blocks use the sort-based Euclidean projection; box blocks clip.
    """
    lo, hi, block_ptr, radius = feas.lo, feas.hi, feas.block_ptr, feas.radius
    for blk in range(block_ptr.shape[0] - 1):
        s = block_ptr[blk]
        e = block_ptr[blk + 1]
        r = radius[blk]
        if r > 0.0:
            u = np.sort(x[s:e])
            m = e - s
            css = 0.0
            theta = 0.0
            for k in range(m):
                css += u[m - 1 - k]
                t = (css - r) / (k + 1)
                if u[m - 1 - k] - t > 0.0:
                    theta = t
            for k in range(s, e):
                v = x[k] - theta
                x[k] = v if v > 0.0 else 0.0
        else:
            for k in range(s, e):
                if x[k] < lo[k]:
                    x[k] = lo[k]
                elif x[k] > hi[k]:
                    x[k] = hi[k]


@njit(cache=True)
def _sgn_iterate_kernel(field, feas, cfg, x, w, out, work):
    """Projected Euler or RK4 from ``x``; returns ``(iterations, converged)``.

    Parameters
    ----------
    field : AffineField
        ``F(x) = J x + b`` (read).
    feas : BlockSet
        The feasible set (read).
    cfg : _Settings
        Step, method code (:data:`EULER` or :data:`RK4`), tol, max_iter, record.
    x : numpy.ndarray, shape (n,)
        Written: the start on entry, the last iterate on return.
    w : numpy.ndarray, shape (n,)
        Metric weights of the residual (read).
    out : tuple of numpy.ndarray
        Written: ``(residuals (max_iter,), trajectory (max_iter + 1, n) or (1, n))``.
    work : numpy.ndarray, shape (6, n)
        Written: scratch (the four stages, a stage point and the next iterate).
    """
    residuals, traj = out
    step = cfg.step
    n = x.shape[0]
    k1, k2, k3, k4, tmp, xn = work[0], work[1], work[2], work[3], work[4], work[5]
    if cfg.record:
        traj[0, :] = x
    for it in range(cfg.max_iter):
        _affine_kernel(field, x, k1)
        if cfg.method == EULER:
            for i in range(n):
                xn[i] = x[i] - step * k1[i]
        else:
            for i in range(n):
                tmp[i] = x[i] - 0.5 * step * k1[i]
            _project_kernel(tmp, feas)
            _affine_kernel(field, tmp, k2)
            for i in range(n):
                tmp[i] = x[i] - 0.5 * step * k2[i]
            _project_kernel(tmp, feas)
            _affine_kernel(field, tmp, k3)
            for i in range(n):
                tmp[i] = x[i] - step * k3[i]
            _project_kernel(tmp, feas)
            _affine_kernel(field, tmp, k4)
            for i in range(n):
                xn[i] = x[i] - step * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]) / 6.0
        _project_kernel(xn, feas)
        acc = 0.0
        for i in range(n):
            d = xn[i] - x[i]
            acc += w[i] * d * d
        res = math.sqrt(acc) / step
        residuals[it] = res
        for i in range(n):
            x[i] = xn[i]
        if cfg.record:
            traj[it + 1, :] = x
        if res <= cfg.tol:
            return it + 1, True
        if not math.isfinite(res):
            return it + 1, False
    return cfg.max_iter, False


def sgn_iterate(
    J,
    b,
    x0,
    step: float,
    *,
    method: str = "euler",
    weights=None,
    lower=None,
    upper=None,
    blocks=None,
    simplex_radius=None,
    tol: float = 1e-8,
    max_iter: int = 10_000,
    trajectory: bool = False,
    warn: bool = True,
    sparse: bool | None = None,
) -> IterationResult:
    """Projected Euler or RK4 gradient play on ``F(x) = J x + b``.

    Parameters
    ----------
    J : array_like or scipy.sparse matrix, shape (n, n)
        Jacobian of the pseudo-gradient.
    b : array_like, shape (n,)
        Offset.
    x0 : array_like, shape (n,)
        Start (finite).
    step : float
        Step size, > 0.
    method : {"euler", "rk4"}
        Discretisation.
    weights : array_like, shape (n,), optional
        Positive per-coordinate metric weights for the residual (default all ones).
    lower, upper : array_like, shape (n,), optional
        Box bounds (``-inf`` / ``inf`` allowed; default unconstrained).
    blocks : sequence of int, optional
        Block sizes (summing to n) for ``simplex_radius``; default one block of size n.
    simplex_radius : array_like, shape (n_blocks,), optional
        For each block, the radius of its simplex, or 0 to use the box bounds instead.
    tol : float
        Stop when the residual is <= tol (>= 0).
    max_iter : int
        Iteration cap (>= 1).
    trajectory : bool
        Also return every iterate.
    warn : bool
        Warn with :class:`ConvergenceWarning` when ``tol`` is not reached.
    sparse : bool, optional
        Multiply by ``J`` in compressed sparse rows (fast for block-sparse couplings)
        instead of BLAS; default: when ``J`` is a scipy sparse matrix or at most 20% of
        its entries are non-zero.

    Returns
    -------
    IterationResult
        Solution, iterations, converged flag, residual history (and trajectory).
    """
    csr = None
    if sp.issparse(J):
        csr = sp.csr_matrix(J)
        csr.sum_duplicates()
        n = csr.shape[0]
        if csr.shape != (n, n):
            raise ValueError(f"J must be square, got shape {csr.shape}")
        if not np.all(np.isfinite(csr.data)):
            raise ValueError("J must be finite (no NaN or inf)")
        J = np.zeros((1, 1))
    else:
        J = check_float_array("J", J, ndim=2, finite=True)
        n = J.shape[0]
        if J.shape != (n, n):
            raise ValueError(f"J must be square, got shape {J.shape}")
    b = check_float_array("b", b, shape=(n,), finite=True)
    x = np.array(check_float_array("x0", x0, shape=(n,), finite=True))
    step = check_nonneg_float("step", step, positive=True)
    if method not in _METHODS:
        raise ValueError(f"method must be 'euler' or 'rk4', got {method!r}")
    w = (
        np.ones(n)
        if weights is None
        else check_float_array("weights", weights, shape=(n,), finite=True)
    )
    if np.any(w <= 0):
        raise ValueError("weights must be > 0")
    lo = np.full(n, -np.inf) if lower is None else check_float_array("lower", lower, shape=(n,))
    hi = np.full(n, np.inf) if upper is None else check_float_array("upper", upper, shape=(n,))
    if np.any(np.isnan(lo)) or np.any(np.isnan(hi)) or np.any(lo > hi):
        raise ValueError("lower and upper must not be NaN and must satisfy lower <= upper")
    if blocks is None:
        block_ptr = np.array([0, n], dtype=np.int64)
    else:
        sizes = [check_int(f"blocks[{i}]", s, low=1) for i, s in enumerate(blocks)]
        if sum(sizes) != n:
            raise ValueError(f"blocks must sum to n = {n}, got {sum(sizes)}")
        block_ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    nb = block_ptr.shape[0] - 1
    if simplex_radius is None:
        radius = np.zeros(nb)
    else:
        radius = check_float_array("simplex_radius", simplex_radius, shape=(nb,), finite=True)
        if np.any(radius < 0):
            raise ValueError("simplex_radius must be >= 0 (0 means: use the box)")
    tol = check_nonneg_float("tol", tol)
    max_iter = check_int("max_iter", max_iter, low=1)
    residuals = np.empty(max_iter)
    traj = np.empty((max_iter + 1, n) if trajectory else (1, n))
    if csr is None and sparse is not False and (sparse or np.count_nonzero(J) <= 0.2 * n * n):
        csr = sp.csr_matrix(J)
    elif csr is not None and sparse is False:
        J = np.ascontiguousarray(csr.toarray())
        csr = None
    sparse = csr is not None
    if sparse:
        indptr = csr.indptr.astype(np.int64)
        indices = csr.indices.astype(np.int64)
        data = np.ascontiguousarray(csr.data, dtype=np.float64)
    else:
        indptr = np.zeros(1, dtype=np.int64)
        indices = np.zeros(0, dtype=np.int64)
        data = np.zeros(0)
    iters, conv = _sgn_iterate_kernel(
        AffineField(J, indptr, indices, data, bool(sparse), b),
        BlockSet(lo, hi, block_ptr, radius),
        _Settings(step, _METHODS[method], tol, max_iter, bool(trajectory)),
        x,
        w,
        (residuals, traj),
        np.empty((6, n)),
    )
    if not conv and warn:
        warnings.warn(
            f"sgn_iterate ({method}) stopped after {iters} iterations with residual "
            f"{residuals[iters - 1]:.3g} > tol = {tol:.3g}",
            ConvergenceWarning,
            stacklevel=2,
        )
    return IterationResult(
        solution=x,
        iterations=int(iters),
        converged=bool(conv),
        residuals=residuals[:iters].copy(),
        trajectory=traj[: iters + 1].copy() if trajectory else None,
    )
