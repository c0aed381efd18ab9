"""Compressed sparse row (CSR) graphs: building them from edge lists, and transposing them.

Every kernel in :mod:`protocols` takes a graph on the nodes ``0 .. n-1`` as two int64
arrays: node ``i``'s neighbours are ``indices[indptr[i]:indptr[i + 1]]``. For a directed
graph these are the *in*-neighbours (the nodes ``i`` receives from); for an undirected
graph in- and out-neighbours coincide and the arrays are symmetric. This module is the
one place such arrays are built from edge lists.

Examples
--------
>>> from protocols.csr import csr_from_edges, transpose_csr
>>> g = csr_from_edges(3, [[0, 1], [2, 1]])
>>> g.indptr.tolist(), g.indices.tolist()
([0, 1, 3, 4], [1, 0, 2, 1])
>>> transpose_csr([0, 0, 1], [0], 2).indices.tolist()  # 1 hears 0, so 0 sends to 1
[1]
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from protocols.checks import check_csr, check_int

__all__ = ["CSR", "csr_from_edges", "transpose_csr"]


class CSR(NamedTuple):
    """A graph on ``0 .. n-1`` in compressed sparse row form (unpacks as a pair).

    Attributes
    ----------
    indptr : numpy.ndarray of int64, shape (n + 1,)
        Row pointers.
    indices : numpy.ndarray of int64, shape (m,)
        Neighbours of node ``i`` are ``indices[indptr[i]:indptr[i + 1]]``.
    """

    indptr: np.ndarray
    indices: np.ndarray


def csr_from_edges(n: int, edges, *, dedupe: bool = False) -> CSR:
    """Symmetric CSR of an undirected graph given by its edge list, neighbours increasing.

    Parameters
    ----------
    n : int
        Number of nodes.
    edges : array_like of int, shape (m, 2)
        Undirected edges ``(u, v)`` with ``u != v``, in ``[0, n)``; either orientation.
    dedupe : bool
        Merge repeated edges (``(u, v)`` twice, or both ``(u, v)`` and ``(v, u)``) into
        one. Without it the edges must be distinct, which saves a pass.

    Returns
    -------
    CSR
        ``indptr`` of shape ``(n + 1,)`` and ``indices`` of shape ``(2 e,)`` (``e``
        distinct edges); each edge appears in both endpoints' rows. This is both the
        in-edge and the out-edge CSR.

    Raises
    ------
    ValueError
        If ``edges`` is not of shape ``(m, 2)``, an endpoint lies outside ``[0, n)``, or
        an edge is a self-loop.
    """
    n = check_int("n", n, low=0)
    arr = np.asarray(edges)
    if arr.size == 0:
        return CSR(np.zeros(n + 1, dtype=np.int64), np.empty(0, dtype=np.int64))
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"edges must have shape (m, 2), got {arr.shape}")
    if arr.dtype.kind not in "iu":
        raise TypeError(f"edges must hold integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.min() < 0 or arr.max() >= n:
        raise ValueError(f"edges must lie in [0, {n}), got range [{arr.min()}, {arr.max()}]")
    loops = np.flatnonzero(arr[:, 0] == arr[:, 1])
    if loops.size:
        raise ValueError(
            f"edges must not hold self-loops, got ({arr[loops[0], 0]}, "
            f"{arr[loops[0], 1]}) in row {loops[0]}"
        )
    return _symmetric_csr(n, arr[:, 0], arr[:, 1], dedupe)


def _symmetric_csr(n: int, a: np.ndarray, b: np.ndarray, dedupe: bool) -> CSR:
    # One sort of the keys ``row * n + column`` over both orientations gives the rows in
    # order with their neighbours increasing.
    keys = np.concatenate([a * n + b, b * n + a])
    if dedupe:
        keys = np.unique(keys)
    else:
        keys.sort()
    rows, cols = np.divmod(keys, n)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return CSR(indptr, cols)


def transpose_csr(indptr, indices, n: int) -> CSR:
    """Reverse every edge: the out-edge CSR of an in-edge CSR (and vice versa).

    Parameters
    ----------
    indptr : array_like of int, shape (n + 1,)
        Row pointers of the in-edge CSR: node ``i`` receives from
        ``indices[indptr[i]:indptr[i + 1]]``.
    indices : array_like of int, shape (m,)
        Senders, in ``[0, n)``.
    n : int
        Number of nodes.

    Returns
    -------
    CSR
        Node ``j``'s row lists the nodes that receive from ``j``, increasing.
    """
    n = check_int("n", n, low=0)
    indptr, indices = check_csr(indptr, indices, n)
    receivers = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    order = np.lexsort((receivers, indices))
    out_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(indices, minlength=n), out=out_ptr[1:])
    return CSR(out_ptr, np.ascontiguousarray(receivers[order]))
