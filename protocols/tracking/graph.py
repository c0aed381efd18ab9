"""The radio graph of a swarm and a tick's work arrays.

:func:`radio_graph` finds who hears whom in two passes: every robot's row of the
adjacency bitset is packed from all n squared distances (a branch-free loop the compiler
vectorises), then the set bits are read out, lowest first, into sorted neighbour lists.

Examples
--------
>>> import numpy as np
>>> from protocols.tracking.graph import radio_graph, scratch
>>> pos = np.array([[[0.0, 0.0], [3.0, 4.0], [0.0, 9.0]]])
>>> sc = scratch(3, 1)
>>> radio_graph(pos, 0, 6.0, sc)
>>> sc.deg.tolist(), sc.nbr[1, :2].tolist(), sc.nd2[1, :2].tolist()
([1, 2, 1], [0, 2], [25.0, 34.0])
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

__all__ = ["Scratch", "low_bit", "radio_graph", "scratch"]


class Scratch(NamedTuple):
    """A tick's work arrays (see :func:`scratch`); written by the kernels that use them."""

    xs: np.ndarray
    ys: np.ndarray
    nbr: np.ndarray
    nd2: np.ndarray
    deg: np.ndarray
    bits: np.ndarray
    words: np.ndarray
    mark: np.ndarray
    kind: np.ndarray
    rep: np.ndarray
    slot_int: np.ndarray
    slot_vec: np.ndarray
    vals: np.ndarray
    est: np.ndarray
    cand: np.ndarray
    kd: np.ndarray
    ki: np.ndarray


@njit(cache=True)
def scratch(n: int, k: int) -> Scratch:
    """Allocate a tick's work arrays for swarms of ``n`` robots observing ``k`` neighbours.

    Returns
    -------
    Scratch
        Zeroed arrays: the positions ``xs``, ``ys`` (n,) of the swarm in hand, neighbour
        lists ``nbr`` (n, n - 1), squared distances ``nd2``, degrees ``deg`` (n,),
        adjacency bitsets ``bits`` (n, W), four bitsets ``words`` (4, W), the flooding
        work arrays (``mark`` (n + 1,), ``kind`` int8 (n,), ``rep`` (n, 3), ``slot_int``
        (n, 3), ``slot_vec`` (n, 4), ``vals`` (n,), ``est`` (n, 2)) and the
        nearest-neighbour buffers ``cand`` (n,), ``kd``, ``ki`` (max(k, 1),).
    """
    w = (n + 63) // 64
    return Scratch(
        np.zeros(n),
        np.zeros(n),
        np.zeros((n, max(n - 1, 1)), np.int64),
        np.zeros((n, max(n - 1, 1))),
        np.zeros(n, np.int64),
        np.zeros((n, w), np.uint64),
        np.zeros((4, w), np.uint64),
        np.zeros(n + 1, np.int64),
        np.zeros(n, np.int8),
        np.zeros((n, 3)),
        np.zeros((n, 3), np.int64),
        np.zeros((n, 4)),
        np.zeros(n),
        np.zeros((n, 2)),
        np.zeros(n, np.int64),
        np.zeros(max(k, 1)),
        np.zeros(max(k, 1), np.int64),
    )


@njit(cache=True)
def low_bit(word):
    """Index of the lowest set bit of the nonzero uint64 ``word``."""
    return trailing_zeros(word)


@njit(cache=True)
def radio_graph(pos, b, r, sc):
    """Build the radio graph of swarm ``b``: robots within ``r`` of each other are linked.

    Parameters
    ----------
    pos : float64 (B, n, 2)
        Positions.
    b : int
        The swarm.
    r : float
        Radio range.
    sc : Scratch
        Written: ``xs``, ``ys`` (n,) the positions, ``bits`` (n, W) the adjacency bitsets,
        ``deg`` (n,) the degrees, ``nbr[i, :deg[i]]`` robot i's neighbours in increasing
        order and ``nd2[i, :deg[i]]`` their squared distances.
    """
    xs, ys, bits, nbr, nd2, deg = sc.xs, sc.ys, sc.bits, sc.nbr, sc.nd2, sc.deg
    n = pos.shape[1]
    r2 = r * r
    for i in range(n):
        xs[i] = pos[b, i, 0]
        ys[i] = pos[b, i, 1]
    one = np.uint64(1)
    for i in range(n):
        xi = xs[i]
        yi = ys[i]
        for w in range(bits.shape[1]):
            lo = w * 64
            word = np.uint64(0)
            for q in range(min(64, n - lo)):
                # (x_j - x_i)^2 is (x_i - x_j)^2 exactly: both rows see the same distance.
                dx = xs[lo + q] - xi
                dy = ys[lo + q] - yi
                if dx * dx + dy * dy <= r2:
                    word |= one << np.uint64(q)
            bits[i, w] = word
        bits[i, i >> 6] &= ~(one << np.uint64(i & 63))
    for i in range(n):
        xi = xs[i]
        yi = ys[i]
        k = 0
        for w in range(bits.shape[1]):
            f = bits[i, w]
            while f:
                j = w * 64 + trailing_zeros(f)
                f &= f - one
                nbr[i, k] = j
                nd2[i, k] = (xs[j] - xi) ** 2 + (ys[j] - yi) ** 2
                k += 1
        deg[i] = k
