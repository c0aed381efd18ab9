"""Disk graphs of point sets: every pair of points within a radius, as a symmetric CSR.

:func:`radius_csr` is the radio graph of a swarm (two robots within range hear each
other). It sorts the points into a uniform grid of square cells of side at least the
radius (a counting sort on the first two coordinates), so a point's neighbours lie in
its own cell and the 8 around it; each row is then written with its neighbours
increasing. The work is linear in the number of points plus candidate pairs, against a
k-d tree and a sort of all the pairs.

It returns exactly the pairs :meth:`scipy.spatial.cKDTree.query_pairs` returns: squared
distances are summed over the coordinates in the same order and compared with
``radius * radius`` (a pair at distance exactly ``radius`` is kept; with radius 0,
coincident points are neighbours).

Examples
--------
>>> from protocols.geometry import radius_csr
>>> g = radius_csr([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0], [9.0, 9.0]], 5.0)
>>> g.indptr.tolist(), g.indices.tolist()  # 0-1 at distance exactly 5 are neighbours
([0, 2, 4, 6, 6], [1, 2, 0, 2, 0, 1])
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from protocols.checks import check_float_array, check_nonneg_float
from protocols.csr import CSR

__all__ = ["grid_shape", "radius_csr", "radius_csr_kernel"]


def radius_csr(positions, radius: float) -> CSR:
    """Symmetric CSR of the disk graph: points within ``radius`` of each other.

    Parameters
    ----------
    positions : array_like of float, shape (n, d)
        Finite point coordinates, ``d >= 1``.
    radius : float
        Distance bound (>= 0); pairs at distance ``<= radius`` are neighbours.

    Returns
    -------
    CSR
        ``indptr`` (int64, shape (n + 1,)) and ``indices`` (int64, shape (2 e,) for
        ``e`` pairs): the neighbours of ``i`` are ``indices[indptr[i]:indptr[i + 1]]``,
        increasing, never ``i`` itself. Both the in-edge and the out-edge CSR.

    Raises
    ------
    ValueError
        If ``positions`` is not 2-D, has no column (with two or more points) or holds
        NaN or infinities, or ``radius`` is negative or not finite.
    """
    pos = check_float_array("positions", positions, ndim=2, finite=True)
    radius = check_nonneg_float("radius", radius)
    n, d = pos.shape
    if n < 2:
        return CSR(np.zeros(n + 1, dtype=np.int64), np.empty(0, dtype=np.int64))
    if d == 0:
        raise ValueError("positions must have at least one coordinate, got shape (n, 0)")
    origin, side, nx, ny = grid_shape(pos, radius)
    indptr, indices = radius_csr_kernel(pos, radius, origin, side, nx, ny)
    return CSR(indptr, indices)


def grid_shape(pos: np.ndarray, radius: float) -> tuple[np.ndarray, float, int, int]:
    """Cell grid for :func:`radius_csr_kernel`: at most ``4 n + 16`` cells.

    Parameters
    ----------
    pos : numpy.ndarray of float64, shape (n, d)
        Finite points, ``n >= 1``, ``d >= 1``.
    radius : float
        Distance bound (>= 0).

    Returns
    -------
    origin : numpy.ndarray of float64, shape (2,)
        Lowest first and second coordinate (0 for a missing second axis).
    side : float
        Cell side, at least ``radius`` plus a margin covering the rounding of
        ``(x - origin) / side``, so points within ``radius`` lie in adjacent cells.
    nx, ny : int
        Cells along the first and second axis (1 along an axis whose extent is 0 or
        overflows, or a missing one).
    """
    n = pos.shape[0]
    axes = min(pos.shape[1], 2)
    origin = np.zeros(2)
    ext = [0.0, 0.0]
    for a in range(axes):
        lo, hi = float(pos[:, a].min()), float(pos[:, a].max())
        origin[a] = lo
        e = hi - lo  # Python floats: an overflow gives inf, no warning
        ext[a] = e if math.isfinite(e) else 0.0
    widest = max(ext)
    if widest == 0.0:
        return origin, 1.0, 1, 1
    limit = 4 * n + 16
    base = max(radius, widest / limit, math.sqrt(ext[0] * ext[1] / limit))
    while True:
        side = base * (1.0 + 1e-12) + widest * 1e-15
        nx, ny = (int(e // side) + 1 if math.isfinite(side) else 1 for e in ext)
        if nx * ny <= limit:
            return origin, side, nx, ny
        base *= 1.25


@njit(cache=True)
def _sq_dist(a, i, b, k):
    """Squared distance of ``a[i]`` and ``b[k]``, summed in cKDTree's order."""
    d = a.shape[1]
    if d == 2:  # the common case, unrolled (0 + t0 * t0 is exactly t0 * t0)
        t0 = a[i, 0] - b[k, 0]
        t1 = a[i, 1] - b[k, 1]
        return t0 * t0 + t1 * t1
    s = 0.0
    c = 0
    if d >= 4:
        s0 = s1 = s2 = s3 = 0.0
        while c + 4 <= d:
            t0 = a[i, c] - b[k, c]
            t1 = a[i, c + 1] - b[k, c + 1]
            t2 = a[i, c + 2] - b[k, c + 2]
            t3 = a[i, c + 3] - b[k, c + 3]
            s0 += t0 * t0
            s1 += t1 * t1
            s2 += t2 * t2
            s3 += t3 * t3
            c += 4
        s = s0 + s1 + s2 + s3
    while c < d:
        t = a[i, c] - b[k, c]
        s += t * t
        c += 1
    return s


@njit(cache=True)
def _cell(x, lo, side, cells):
    """Cell index of coordinate ``x`` along an axis of ``cells`` cells."""
    if cells == 1:
        return 0
    c = int((x - lo) / side)
    return min(c, cells - 1)


@njit(cache=True)
def _scan_row(i, pos, sorted_pos, order, lo, hi, r2, out, at):
    """Write the neighbours of ``i`` among ``order[lo[y]:hi[y]]`` at ``out[at:]``.

    Every candidate is written and the write position only advances past a neighbour
    (no branch to mispredict), so ``out`` needs room for all of them. Returns the
    number of neighbours.
    """
    m = 0
    two = pos.shape[1] == 2
    xi = pos[i, 0]
    yi = pos[i, 1] if two else 0.0
    for y in range(lo.shape[0]):
        for k in range(lo[y], hi[y]):
            j = order[k]
            out[at + m] = j
            if two:
                t0 = xi - sorted_pos[k, 0]
                t1 = yi - sorted_pos[k, 1]
                d2 = t0 * t0 + t1 * t1  # cKDTree's 0 + t0 * t0 + t1 * t1, exactly
            else:
                d2 = _sq_dist(pos, i, sorted_pos, k)
            m += (d2 <= r2) & (j != i)
    return m


@njit(cache=True)
def radius_csr_kernel(pos, radius, origin, side, nx, ny):
    """Disk graph CSR of ``pos`` on a given cell grid (unchecked kernel).

    Parameters
    ----------
    pos : numpy.ndarray of float64, shape (n, d)
        Finite points, ``d >= 1`` (C-contiguous).
    radius : float
        Distance bound (>= 0): pairs with squared distance ``<= radius * radius``.
    origin : numpy.ndarray of float64, shape (2,)
        Lowest first and second coordinate.
    side : float
        Cell side, as :func:`grid_shape` gives it (points within ``radius`` must fall
        in adjacent cells).
    nx, ny : int
        Cells along the first and second axis (``ny`` is 1 when ``d == 1``).

    Returns
    -------
    indptr : numpy.ndarray of int64, shape (n + 1,)
        Row pointers.
    indices : numpy.ndarray of int64, shape (indptr[n],)
        Neighbours of ``i`` at ``indices[indptr[i]:indptr[i + 1]]``, increasing.
    """
    n = pos.shape[0]
    r2 = radius * radius
    cell = np.empty(n, np.int64)
    start = np.zeros(nx * ny + 1, np.int64)
    for i in range(n):
        cy = _cell(pos[i, 1], origin[1], side, ny) if ny > 1 else 0
        cell[i] = cy * nx + _cell(pos[i, 0], origin[0], side, nx)
        start[cell[i] + 1] += 1
    for c in range(nx * ny):
        start[c + 1] += start[c]
    # Stable counting sort: each cell lists its points in increasing index order.
    fill = start[:-1].copy()
    order = np.empty(n, np.int64)
    sorted_pos = np.empty_like(pos)
    for i in range(n):
        k = fill[cell[i]]
        order[k] = i
        sorted_pos[k] = pos[i]
        fill[cell[i]] = k + 1
    # Rows of cells: a point's candidates are order[lo[y]:hi[y]] over its 3 x 3 cells
    # (cells (x - 1 .. x + 1, y) are consecutive in the sorted order).
    lo = np.empty((n, 3), np.int64)
    hi = np.empty((n, 3), np.int64)
    total = 0
    for i in range(n):
        cy, cx = divmod(cell[i], nx)
        x0 = max(cx - 1, 0)
        x1 = min(cx + 1, nx - 1)
        for dy in range(3):
            y = cy + dy - 1
            if 0 <= y < ny:
                lo[i, dy] = start[y * nx + x0]
                hi[i, dy] = start[y * nx + x1 + 1]
            else:
                lo[i, dy] = hi[i, dy] = 0
            total += hi[i, dy] - lo[i, dy]
    buf = np.empty(total, np.int64)
    indptr = np.zeros(n + 1, np.int64)
    for i in range(n):
        at = indptr[i]
        indptr[i + 1] = at + _scan_row(i, pos, sorted_pos, order, lo[i], hi[i], r2, buf, at)
    # The rows are unordered; the relation is symmetric (the squared distance of i, j
    # and of j, i are the same float), so sending each j to the rows of its neighbours,
    # j increasing, writes every row in increasing order.
    indices = np.empty(indptr[n], np.int64)
    fill = indptr[:-1].copy()
    for j in range(n):
        for e in range(indptr[j], indptr[j + 1]):
            i = buf[e]
            indices[fill[i]] = j
            fill[i] += 1
    return indptr, indices
