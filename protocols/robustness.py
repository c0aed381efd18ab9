r"""Exact (r, s)-robustness of small graphs given as neighbour bitmasks.

The compiled search behind :func:`swarm.robustness.is_rs_robust`. A graph on ``n``
nodes is given as ``adj_mask``: bit ``u`` of ``adj_mask[v]`` is set when ``u`` and ``v``
are neighbours (undirected, no self-loops). With ``c(S)`` the number of nodes of ``S``
with at least ``r`` neighbours outside ``S``, the kernel computes ``c`` for all ``2^n``
subsets and, by a subset-minimum dynamic programme, the smallest ``c(T)`` over the
non-saturated subsets ``T`` of each set; the graph is (r, s)-robust iff no
non-saturated ``S1`` has ``c(S1) + min_{T ⊆ V \ S1} c(T) < s``. Time ``O(2^n n)``,
memory ``2^n`` bytes: :data:`MAX_MASK_NODES` nodes at most.

Examples
--------
>>> import numpy as np
>>> path = np.array([0b010, 0b101, 0b010])       # 0 - 1 - 2
>>> rs_robust_masks(path, 1, 1), rs_robust_masks(path, 2, 1)
(True, False)
>>> triangle = np.array([0b110, 0b101, 0b011])   # K3 is 2-robust
>>> rs_robust_masks(triangle, 2, 1)
True
"""

from __future__ import annotations

import numpy as np
from numba import njit

from protocols.checks import check_int

__all__ = ["MAX_MASK_NODES", "rs_robust_kernel", "rs_robust_masks"]

#: Largest graph the exact search accepts (2^22 subsets, 8 MB of work arrays).
MAX_MASK_NODES = 22


@njit(cache=True)
def rs_robust_kernel(adj_mask: np.ndarray, r: int, s: int) -> bool:
    """Decide (r, s)-robustness, unchecked (the compiled core of :func:`rs_robust_masks`).

    Parameters
    ----------
    adj_mask : numpy.ndarray of int64, shape (n,)
        Neighbour bitmasks, ``n <= MAX_MASK_NODES``, symmetric, no self bits. Not written.
    r, s : int
        ``r >= 0``, ``1 <= s <= n``.

    Returns
    -------
    bool
        True if the graph is (r, s)-robust.
    """
    n = adj_mask.shape[0]
    full = (1 << n) - 1
    size = 1 << n
    deg = np.empty(n, dtype=np.int64)
    for v in range(n):
        c = 0
        m = adj_mask[v]
        while m:
            m &= m - 1
            c += 1
        deg[v] = c
    # c[S]: nodes of S with >= r neighbours outside S; best[S]: min c over nonempty
    # non-saturated subsets of S (n + 1 when there is none).
    best = np.empty(size, dtype=np.int8)
    cnt = np.empty(size, dtype=np.int8)
    best[0] = n + 1
    cnt[0] = 0
    for S in range(1, size):
        c = 0
        k = 0
        m = S
        while m:
            low = m & -m
            v = 0
            while (1 << v) != low:
                v += 1
            inside = adj_mask[v] & S
            ins = 0
            while inside:
                inside &= inside - 1
                ins += 1
            if deg[v] - ins >= r:
                c += 1
            k += 1
            m ^= low
        cnt[S] = c
        best[S] = c if c < k else n + 1
    # Subset minimum (sum over subsets DP).
    for v in range(n):
        bit = 1 << v
        for S in range(size):
            if S & bit:
                other = best[S ^ bit]
                if other < best[S]:
                    best[S] = other
    for S in range(1, size):
        k = 0
        m = S
        while m:
            m &= m - 1
            k += 1
        if cnt[S] < k and cnt[S] + best[full ^ S] < s:
            return False
    return True


def rs_robust_masks(adj_mask, r: int, s: int) -> bool:
    """Exactly decide whether the graph of ``adj_mask`` is (r, s)-robust.

    Parameters
    ----------
    adj_mask : array_like of int, shape (n,)
        Neighbour bitmasks: bit ``u`` of ``adj_mask[v]`` set when ``u`` and ``v`` are
        neighbours; symmetric, no self bits, ``1 <= n <= MAX_MASK_NODES``.
    r : int
        ``r >= 0``.
    s : int
        ``1 <= s <= n``.

    Returns
    -------
    bool
        True if the graph is (r, s)-robust.
    """
    masks = np.ascontiguousarray(adj_mask)
    if masks.ndim != 1 or masks.dtype.kind not in "iu":
        raise ValueError(
            f"adj_mask must be a 1-D integer array, got shape {masks.shape} and dtype {masks.dtype}"
        )
    n = masks.shape[0]
    check_int("n", n, low=1, high=MAX_MASK_NODES)
    masks = masks.astype(np.int64)
    if np.any(masks < 0) or np.any(masks >> n):
        raise ValueError(f"adj_mask must only set bits 0 .. {n - 1}")
    bits = (masks[:, None] >> np.arange(n)) & 1
    if np.any(bits != bits.T) or np.any(np.diag(bits)):
        raise ValueError("adj_mask must be symmetric with no self bits")
    r = check_int("r", r, low=0)
    s = check_int("s", s, low=1, high=n)
    return bool(rs_robust_kernel(masks, r, s))
