"""The DBP blocklist: a canonical maximum matching of the accusation graph.

Every robot blocks both endpoints of every edge of a maximum-cardinality matching of the
undirected accusation graph. Robots must agree on the blocklist, so the matching is made
canonical (a function of the *set* of accusations only): :func:`maximum_matching` matches
each connected component independently with a greedy start and Edmonds' blossom
algorithm, vertices and neighbours taken in increasing index order.
:class:`DynamicBlocklist` keeps the same result under insertions by rematching only the
component a new accusation touches.

Examples
--------
>>> from protocols.dbp import blocklist
>>> blocklist([[2, 1], [1, 0]], 3).tolist()  # path 0-1-2: the greedy start matches 0-1
[True, True, False]
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from protocols.checks import check_int
from protocols.csr import CSR, csr_from_edges

__all__ = [
    "DynamicBlocklist",
    "accusation_graph",
    "blocklist",
    "check_accusations",
    "maximum_matching",
]


class _Blossom(NamedTuple):
    """Scratch arrays of Edmonds' algorithm, each of shape (n,), indexed by vertex."""

    parent: np.ndarray  # int64: predecessor in the alternating tree, -1 if none
    base: np.ndarray  # int64: base of the blossom holding the vertex
    used: np.ndarray  # bool: the vertex is an even (outer) vertex of the tree
    in_blossom: np.ndarray  # bool: marks the bases of a blossom being contracted
    mark: np.ndarray  # int64: visit stamps of the lowest-common-ancestor search
    queue: np.ndarray  # int64: breadth-first queue
    tree: np.ndarray  # int64: vertices of the current tree (reset after each search)


class _Arcs(NamedTuple):
    """Linked arc lists of an undirected graph (each edge as two arcs).

    The arcs out of ``v`` are ``a = head[v], nxt[a], nxt[nxt[a]], ...`` until ``-1``;
    arc ``a`` points at ``to[a]``.
    """

    head: np.ndarray  # int64, shape (n,)
    nxt: np.ndarray  # int64, shape (capacity,)
    to: np.ndarray  # int64, shape (capacity,)


@njit(cache=True)
def _lca(a, b, match, s, stamp):
    """Lowest common ancestor of ``a`` and ``b`` in the alternating tree.

    Reads ``s.base``, ``s.parent`` and ``match`` (shape (n,)); writes ``s.mark`` (the
    stamp on the path from ``a`` to the root).
    """
    while True:
        a = s.base[a]
        s.mark[a] = stamp
        if match[a] == -1:
            break
        a = s.parent[match[a]]
    while True:
        b = s.base[b]
        if s.mark[b] == stamp:
            return b
        b = s.parent[match[b]]


@njit(cache=True)
def _mark_path(v, b, child, match, s):
    """Mark the blossom bases on the path from ``v`` up to base ``b``.

    Writes ``s.in_blossom`` and ``s.parent`` (shape (n,)) along the path.
    """
    while s.base[v] != b:
        s.in_blossom[s.base[v]] = True
        s.in_blossom[s.base[match[v]]] = True
        s.parent[v] = child
        child = match[v]
        v = s.parent[match[v]]


@njit(cache=True)
def _match_component(verts, ptr, adj, match, s, stamp0):
    """Canonical maximum matching of the component ``verts`` (sorted, int64).

    ``ptr``/``adj`` is the symmetric CSR with increasing neighbours. First a greedy
    maximal matching: vertices in increasing order, each matched to its smallest free
    neighbour. Then Edmonds' augmenting-path search (breadth first, neighbours in CSR
    order) from each still-free vertex in increasing order; one pass suffices (a free
    vertex with no augmenting path never gets one later). Only the vertices of the
    current search tree are reset between searches.

    Writes ``match`` (shape (n,), mate or -1) on ``verts`` and the scratch arrays of
    ``s`` (a :class:`_Blossom`). Returns the updated stamp counter of ``s.mark``.
    """
    stamp = stamp0
    for v in verts:
        match[v] = -1
        s.parent[v] = -1
        s.base[v] = v
        s.used[v] = False
        s.in_blossom[v] = False
    for v in verts:
        if match[v] != -1:
            continue
        for e in range(ptr[v], ptr[v + 1]):
            u = adj[e]
            if match[u] == -1:
                match[v] = u
                match[u] = v
                break
    for root in verts:
        if match[root] != -1:
            continue
        nt = 0
        s.used[root] = True
        s.tree[nt] = root
        nt += 1
        qh = 0
        qt = 0
        s.queue[qt] = root
        qt += 1
        found = -1
        while qh < qt and found == -1:
            v = s.queue[qh]
            qh += 1
            for e in range(ptr[v], ptr[v + 1]):
                to = adj[e]
                if s.base[v] == s.base[to] or match[v] == to:
                    continue
                if to == root or (match[to] != -1 and s.parent[match[to]] != -1):
                    stamp += 1
                    cur = _lca(v, to, match, s, stamp)
                    _mark_path(v, cur, to, match, s)
                    _mark_path(to, cur, v, match, s)
                    for k in range(nt):
                        u = s.tree[k]
                        if s.in_blossom[s.base[u]]:
                            s.base[u] = cur
                            if not s.used[u]:
                                s.used[u] = True
                                s.queue[qt] = u
                                qt += 1
                    for k in range(nt):
                        s.in_blossom[s.tree[k]] = False
                elif s.parent[to] == -1:
                    s.parent[to] = v
                    s.tree[nt] = to
                    nt += 1
                    if match[to] == -1:
                        found = to
                        break
                    nxt = match[to]
                    s.used[nxt] = True
                    s.tree[nt] = nxt
                    nt += 1
                    s.queue[qt] = nxt
                    qt += 1
        v = found
        while v != -1:
            pv = s.parent[v]
            ppv = match[pv]
            match[v] = pv
            match[pv] = v
            v = ppv
        for k in range(nt):
            u = s.tree[k]
            s.parent[u] = -1
            s.base[u] = u
            s.used[u] = False
            s.in_blossom[u] = False
    return stamp


@njit(cache=True)
def _components(n, ptr, adj, comp, order, comp_ptr):
    """Label the connected components of the CSR graph ``ptr``/``adj`` on ``n`` vertices.

    Components are numbered by their smallest vertex. Writes ``comp`` (shape (n,), the
    label), ``order`` (shape (n,)) and ``comp_ptr`` (shape (n + 1,)):
    ``order[comp_ptr[c]:comp_ptr[c + 1]]`` lists component ``c``, sorted. Returns the
    number of components.
    """
    for v in range(n):
        comp[v] = -1
    nc = 0
    pos = 0
    for s in range(n):
        if comp[s] != -1:
            continue
        comp_ptr[nc] = pos
        comp[s] = nc
        order[pos] = s
        head = pos
        pos += 1
        while head < pos:
            v = order[head]
            head += 1
            for e in range(ptr[v], ptr[v + 1]):
                u = adj[e]
                if comp[u] == -1:
                    comp[u] = nc
                    order[pos] = u
                    pos += 1
        order[comp_ptr[nc] : pos].sort()
        nc += 1
    comp_ptr[nc] = pos
    return nc


@njit(cache=True)
def _matching_kernel(n, ptr, adj, match):
    """Canonical maximum matching of the symmetric CSR ``ptr``/``adj`` (neighbours sorted).

    Writes ``match`` (int64, shape (n,)): the mate of each vertex, or -1.
    """
    comp = np.empty(n, np.int64)
    order = np.empty(n, np.int64)
    comp_ptr = np.empty(n + 1, np.int64)
    nc = _components(n, ptr, adj, comp, order, comp_ptr)
    s = _Blossom(
        np.empty(n, np.int64),
        np.empty(n, np.int64),
        np.zeros(n, np.bool_),
        np.zeros(n, np.bool_),
        np.zeros(n, np.int64),
        np.empty(n, np.int64),
        np.empty(n, np.int64),
    )
    stamp = 0
    for c in range(nc):
        verts = order[comp_ptr[c] : comp_ptr[c + 1]]
        if verts.shape[0] == 1:
            match[verts[0]] = -1
            continue
        stamp = _match_component(verts, ptr, adj, match, s, stamp)


def check_accusations(accusations, n: int) -> np.ndarray:
    """Validate accusations against ``n`` robots.

    Parameters
    ----------
    accusations : array_like of int, shape (m, 2)
        Rows ``(accuser, accused)``.
    n : int
        Number of robots.

    Returns
    -------
    numpy.ndarray of int64, shape (m, 2)
        The rows, C-contiguous (``(0, 2)`` when empty).

    Raises
    ------
    ValueError
        Wrong shape, an index outside ``[0, n)``, or a robot accusing itself.
    TypeError
        Non-integer entries.
    """
    arr = np.asarray(accusations)
    if arr.size == 0:
        return np.empty((0, 2), dtype=np.int64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"accusations must have shape (m, 2) (accuser, accused), got {arr.shape}")
    if arr.dtype.kind not in "iu":
        raise TypeError(f"accusations must hold integers, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.int64)
    for col, name in ((0, "accuser"), (1, "accused")):
        lo, hi = arr[:, col].min(), arr[:, col].max()
        if lo < 0 or hi >= n:
            raise ValueError(
                f"accusations: {name} index must lie in [0, {n}), got range [{lo}, {hi}]"
            )
    selfs = np.flatnonzero(arr[:, 0] == arr[:, 1])
    if selfs.size:
        raise ValueError(
            f"accusations: robot {arr[selfs[0], 0]} accuses itself (row {selfs[0]}); "
            "self-accusations are not allowed"
        )
    return arr


def accusation_graph(accusations, n: int) -> CSR:
    """Canonical undirected accusation graph as a symmetric CSR with sorted neighbours.

    Parameters
    ----------
    accusations : array_like of int, shape (m, 2)
        Rows ``(accuser, accused)`` in ``[0, n)``; order and duplicates do not matter,
        nor does the direction (``a`` accusing ``b`` and ``b`` accusing ``a`` give one edge).
    n : int
        Number of robots.

    Returns
    -------
    CSR
        ``indptr`` (int64, shape (n + 1,)) and ``indices`` (int64, shape (2 e,)):
        neighbours of ``v`` are ``indices[indptr[v]:indptr[v + 1]]``, increasing.
    """
    n = check_int("n", n, low=0)
    return csr_from_edges(n, check_accusations(accusations, n), dedupe=True)


def maximum_matching(accusations, n: int) -> np.ndarray:
    """Canonical maximum-cardinality matching of the undirected accusation graph.

    Parameters
    ----------
    accusations : array_like of int, shape (m, 2)
        Rows ``(accuser, accused)`` with indices in ``[0, n)``, no self-accusation.
    n : int
        Number of robots.

    Returns
    -------
    numpy.ndarray of int64, shape (n,)
        ``mate[v]`` is the robot matched with ``v``, or ``-1``.

    Notes
    -----
    Canonical form: the graph is rebuilt from the set of distinct unordered pairs with
    neighbours sorted, and each connected component is matched independently: a greedy
    maximal matching (vertices in increasing index order, each matched to its smallest
    free neighbour), then Edmonds' blossom algorithm (breadth-first augmenting-path
    search, neighbours scanned in increasing order) from every still-free vertex in
    increasing order. Every step is deterministic given the sorted adjacency, so the
    result is a function of the set of accusations only.
    """
    indptr, indices = accusation_graph(accusations, n)
    mate = np.full(n, -1, dtype=np.int64)
    if n:
        _matching_kernel(n, indptr, indices, mate)
    return mate


def blocklist(accusations, n: int) -> np.ndarray:
    """Robots blocked by DBP: both endpoints of every edge of a maximum matching.

    Parameters
    ----------
    accusations : array_like of int, shape (m, 2)
        Rows ``(accuser, accused)`` with indices in ``[0, n)``; a robot may not accuse
        itself. Only the set of unordered pairs matters: any order, duplicates, and
        mutual accusations give the same result.
    n : int
        Number of robots.

    Returns
    -------
    numpy.ndarray of bool, shape (n,)
        ``True`` for blocked robots; exactly ``2 * nu`` entries, ``nu`` being the maximum
        matching size of the accusation graph.

    Notes
    -----
    A maximum matching is not unique, and robots must agree on the blocklist, so the
    matching is made canonical (see :func:`maximum_matching`): distinct unordered pairs,
    sorted adjacency, and per connected component a greedy start then Edmonds' blossom
    algorithm, with vertices and neighbours taken in increasing index order. Every robot
    holding the same set of accusations computes the same blocklist.
    :class:`DynamicBlocklist` maintains the same result under insertions.
    """
    return maximum_matching(accusations, n) >= 0


@njit(cache=True)
def _component_rematch(start, arcs, mark, stamp, loc, mate, blocked):
    """Recompute the canonical matching of the component of ``start``.

    ``arcs`` (:class:`_Arcs`) holds the accusation graph. Writes ``mark`` (int64, shape
    (n,), ``stamp`` on the component), ``loc`` (int64, shape (n,), local indices),
    ``mate`` (int64, shape (n,)) and ``blocked`` (bool, shape (n,)) on the component.
    Returns the component's vertices (sorted) and those whose blocked status changed.
    """
    head, nxt, to = arcs
    comp = np.empty(16, np.int64)
    comp[0] = start
    mark[start] = stamp
    size = 1
    i = 0
    while i < size:
        v = comp[i]
        i += 1
        a = head[v]
        while a != -1:
            u = to[a]
            if mark[u] != stamp:
                mark[u] = stamp
                if size == comp.shape[0]:
                    grown = np.empty(2 * size, np.int64)
                    grown[:size] = comp
                    comp = grown
                comp[size] = u
                size += 1
            a = nxt[a]
    comp = np.sort(comp[:size])
    for k in range(size):
        loc[comp[k]] = k
    ptr = np.zeros(size + 1, np.int64)
    for k in range(size):
        a = head[comp[k]]
        d = 0
        while a != -1:
            d += 1
            a = nxt[a]
        ptr[k + 1] = ptr[k] + d
    nbr = np.empty(ptr[size], np.int64)
    for k in range(size):
        a = head[comp[k]]
        p = ptr[k]
        while a != -1:
            nbr[p] = loc[to[a]]
            p += 1
            a = nxt[a]
        nbr[ptr[k] : ptr[k + 1]].sort()
    local = np.full(size, -1, np.int64)
    _matching_kernel(size, ptr, nbr, local)
    changed = np.empty(size, np.int64)
    m = 0
    for k in range(size):
        v = comp[k]
        mate[v] = comp[local[k]] if local[k] >= 0 else -1
        now = local[k] >= 0
        if blocked[v] != now:
            changed[m] = v
            m += 1
        blocked[v] = now
    return comp, changed[:m]


class DynamicBlocklist:
    """The blocklist of a growing set of accusations, updated one accusation at a time.

    ``add`` recomputes only the connected component of the accusation graph that holds
    the new edge, in one compiled call (gathering the component from linked arc lists,
    building its sorted adjacency and matching it). Since :func:`blocklist` matches every
    component independently, with an algorithm whose result depends only on the
    component's edge set and on the relative order of its vertex indices, the components
    the new edge does not touch keep their matching, and the touched component gets
    exactly the matching :func:`blocklist` would give it: after any sequence of
    insertions, ``blocked`` equals ``blocklist(accusations, n)`` for the set inserted so
    far, whatever the order of insertion (induction on insertions, using that the
    canonical matching is a union of per-component results). Robots holding the same set
    therefore agree, however the accusations reached them. The cost of one insertion is
    that of matching the merged component (typically a few robots around one Byzantine
    robot); a duplicate costs O(1). When the accusations form one giant component (for
    instance under a heavy false-accusation attack) an insertion costs as much as a full
    recomputation of that component.

    Parameters
    ----------
    n : int
        Number of robots.

    Attributes
    ----------
    blocked : numpy.ndarray of bool, shape (n,)
        The current blocklist (updated in place).
    mate : numpy.ndarray of int64, shape (n,)
        The current canonical matching.

    Examples
    --------
    >>> dyn = DynamicBlocklist(4)
    >>> dyn.add(0, 1).tolist(), dyn.add(2, 1).tolist()  # the second adds no matched edge
    ([0, 1], [])
    >>> dyn.blocked.tolist()
    [True, True, False, False]
    """

    def __init__(self, n: int):
        self.n = check_int("n", n, low=0)
        self.blocked = np.zeros(self.n, dtype=bool)
        self.mate = np.full(self.n, -1, dtype=np.int64)
        self._edges: set[int] = set()
        self._head = np.full(self.n, -1, dtype=np.int64)
        self._nxt = np.empty(64, dtype=np.int64)
        self._to = np.empty(64, dtype=np.int64)
        self._arcs = 0
        self._mark = np.zeros(self.n, dtype=np.int64)
        self._stamp = 0
        self._loc = np.zeros(self.n, dtype=np.int64)

    @property
    def n_edges(self) -> int:
        """Number of distinct unordered accusation pairs held."""
        return len(self._edges)

    def edges(self) -> np.ndarray:
        """Return the distinct unordered pairs held, shape (e, 2), sorted."""
        keys = np.array(sorted(self._edges), dtype=np.int64)
        return np.column_stack([keys // max(self.n, 1), keys % max(self.n, 1)])

    def _insert(self, a: int, b: int) -> bool:
        key = a * self.n + b if a < b else b * self.n + a
        if key in self._edges:
            return False
        self._edges.add(key)
        if self._arcs + 2 > self._to.shape[0]:
            cap = 2 * self._to.shape[0]
            self._to = np.resize(self._to, cap)
            self._nxt = np.resize(self._nxt, cap)
        for x, y in ((a, b), (b, a)):
            k = self._arcs
            self._to[k] = y
            self._nxt[k] = self._head[x]
            self._head[x] = k
            self._arcs += 1
        return True

    def _rematch(self, start: int) -> tuple[np.ndarray, np.ndarray]:
        self._stamp += 1
        return _component_rematch(
            start,
            _Arcs(self._head, self._nxt, self._to),
            self._mark,
            self._stamp,
            self._loc,
            self.mate,
            self.blocked,
        )

    def add(self, accuser: int, accused: int) -> np.ndarray:
        """Insert one accusation and update the blocklist.

        Parameters
        ----------
        accuser, accused : int
            Robot indices in ``[0, n)``, distinct.

        Returns
        -------
        numpy.ndarray of int64
            Robots whose blocked status changed (either way), increasing.
        """
        a = check_int("accuser", accuser, low=0, high=self.n - 1)
        b = check_int("accused", accused, low=0, high=self.n - 1)
        if a == b:
            raise ValueError(f"robot {a} accuses itself; self-accusations are not allowed")
        if not self._insert(a, b):
            return np.empty(0, dtype=np.int64)
        return self._rematch(a)[1]

    def add_many(self, accusations) -> np.ndarray:
        """Insert several accusations and update the blocklist.

        Parameters
        ----------
        accusations : array_like of int, shape (m, 2)
            Rows ``(accuser, accused)``, as for :func:`blocklist`.

        Returns
        -------
        numpy.ndarray of int64
            Robots whose blocked status changed, increasing.
        """
        acc = check_accusations(accusations, self.n)
        before = self.blocked.copy()
        touched = [int(a) for a, b in acc if self._insert(int(a), int(b))]
        done = np.zeros(self.n, dtype=bool)
        for v in touched:
            if not done[v]:
                done[self._rematch(v)[0]] = True
        return np.flatnonzero(before != self.blocked)
