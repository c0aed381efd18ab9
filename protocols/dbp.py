"""Decentralized Blocklist Protocol (DBP): flooding, accusations and the matching blocklist.

Robots accuse neighbours whose messages contradict what they observe themselves; the
accusations flood the network, and every robot blocks both endpoints of every edge of a
maximum-cardinality matching of the undirected accusation graph (Wardega, von Hippel,
Tron, Nita-Rotaru and Li, "Byzantine Resilience at Swarm Scale", AAMAS 2023).

Why a matching: a cooperative robot only accuses a Byzantine one (sound accusations),
so every accusation edge holds at least one Byzantine endpoint; a matching therefore
blocks at most one cooperative robot per Byzantine robot it blocks. And if every
Byzantine robot is accused by a distinct cooperative robot, those edges form a matching
of size ``B`` (the number of Byzantine robots), every maximum matching has size ``>= B``
and, each of its edges holding a Byzantine endpoint, it covers all ``B`` of them.

Messages (:class:`Flood`) are flat arrays: origin, timestamp, hop count, kind
(:data:`OBSERVATION` or :data:`ACCUSATION`), accused (``-1`` for observations) and an
optional float payload row. One :meth:`Flood.step` moves every live message one hop over
the round's communication graph (in-edge CSR, as in :mod:`protocols.wmsr`): every robot
that received a message in the previous step forwards it to its neighbours, up to the
hop limit; each robot keeps a message once (deduplication); observations whose origin
is blocked are dropped by their receivers; accusations are always forwarded, whoever
sent them.

The blocklist is a function of the *set* of accusations (see :func:`blocklist`), and
:class:`DynamicBlocklist` updates it when one accusation arrives by recomputing only
the connected component of the accusation graph that the new edge touches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from protocols._checks import check_csr, check_float_array, check_int

__all__ = [
    "ACCUSATION",
    "OBSERVATION",
    "AccusationGossip",
    "Deliveries",
    "DynamicBlocklist",
    "Flood",
    "accusation_graph",
    "blocklist",
    "maximum_matching",
]

OBSERVATION = 0
"""Message kind: an observation made by its origin (payload holds the content)."""
ACCUSATION = 1
"""Message kind: its origin (the accuser) accuses ``accused``."""

_UNLIMITED = np.iinfo(np.int64).max


# ----------------------------------------------------------------------------------------
# Maximum matching: Edmonds' blossom algorithm on one connected component at a time.
# ----------------------------------------------------------------------------------------


@njit(cache=True)
def _lca(a, b, base, match, parent, mark, stamp):
    while True:
        a = base[a]
        mark[a] = stamp
        if match[a] == -1:
            break
        a = parent[match[a]]
    while True:
        b = base[b]
        if mark[b] == stamp:
            return b
        b = parent[match[b]]


@njit(cache=True)
def _mark_path(v, b, child, base, match, parent, in_blossom):
    while base[v] != b:
        in_blossom[base[v]] = True
        in_blossom[base[match[v]]] = True
        parent[v] = child
        child = match[v]
        v = parent[match[v]]


@njit(cache=True)
def _match_component(verts, ptr, adj, match, parent, base, used, in_blossom, mark, queue, tree,
                     stamp0):
    """Canonical maximum matching of the component ``verts`` (sorted).

    First a greedy maximal matching: vertices in increasing order, each matched to its
    smallest free neighbour. Then Edmonds' augmenting-path search (breadth first,
    neighbours in CSR order, i.e. increasing) from each still-free vertex in increasing
    order; one pass suffices (a free vertex with no augmenting path never gets one
    later). Only the vertices of the current search tree are reset between searches.
    Returns the updated lca stamp counter.
    """
    stamp = stamp0
    for v in verts:
        match[v] = -1
        parent[v] = -1
        base[v] = v
        used[v] = False
        in_blossom[v] = False
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
        used[root] = True
        tree[nt] = root
        nt += 1
        qh = 0
        qt = 0
        queue[qt] = root
        qt += 1
        found = -1
        while qh < qt and found == -1:
            v = queue[qh]
            qh += 1
            for e in range(ptr[v], ptr[v + 1]):
                to = adj[e]
                if base[v] == base[to] or match[v] == to:
                    continue
                if to == root or (match[to] != -1 and parent[match[to]] != -1):
                    stamp += 1
                    cur = _lca(v, to, base, match, parent, mark, stamp)
                    _mark_path(v, cur, to, base, match, parent, in_blossom)
                    _mark_path(to, cur, v, base, match, parent, in_blossom)
                    for k in range(nt):
                        u = tree[k]
                        if in_blossom[base[u]]:
                            base[u] = cur
                            if not used[u]:
                                used[u] = True
                                queue[qt] = u
                                qt += 1
                    for k in range(nt):
                        in_blossom[tree[k]] = False
                elif parent[to] == -1:
                    parent[to] = v
                    tree[nt] = to
                    nt += 1
                    if match[to] == -1:
                        found = to
                        break
                    nxt = match[to]
                    used[nxt] = True
                    tree[nt] = nxt
                    nt += 1
                    queue[qt] = nxt
                    qt += 1
        v = found
        while v != -1:
            pv = parent[v]
            ppv = match[pv]
            match[v] = pv
            match[pv] = v
            v = ppv
        for k in range(nt):
            u = tree[k]
            parent[u] = -1
            base[u] = u
            used[u] = False
            in_blossom[u] = False
    return stamp


@njit(cache=True)
def _components(n, ptr, adj, comp, order, comp_ptr):
    """Label connected components; ``order[comp_ptr[c]:comp_ptr[c+1]]`` lists component c sorted.

    Components are numbered by their smallest vertex. Returns the number of components.
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
        order[comp_ptr[nc]:pos].sort()
        nc += 1
    comp_ptr[nc] = pos
    return nc


@njit(cache=True)
def _matching_kernel(n, ptr, adj, match):
    comp = np.empty(n, np.int64)
    order = np.empty(n, np.int64)
    comp_ptr = np.empty(n + 1, np.int64)
    nc = _components(n, ptr, adj, comp, order, comp_ptr)
    parent = np.empty(n, np.int64)
    base = np.empty(n, np.int64)
    used = np.zeros(n, np.bool_)
    in_blossom = np.zeros(n, np.bool_)
    mark = np.zeros(n, np.int64)
    queue = np.empty(n, np.int64)
    tree = np.empty(n, np.int64)
    stamp = 0
    for c in range(nc):
        verts = order[comp_ptr[c]:comp_ptr[c + 1]]
        if verts.shape[0] == 1:
            match[verts[0]] = -1
            continue
        stamp = _match_component(verts, ptr, adj, match, parent, base, used, in_blossom, mark,
                                 queue, tree, stamp)


def _check_accusations(accusations, n: int) -> np.ndarray:
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
            raise ValueError(f"accusations: {name} index must lie in [0, {n}), "
                             f"got range [{lo}, {hi}]")
    selfs = np.flatnonzero(arr[:, 0] == arr[:, 1])
    if selfs.size:
        raise ValueError(f"accusations: robot {arr[selfs[0], 0]} accuses itself (row {selfs[0]}); "
                         "self-accusations are not allowed")
    return arr


def accusation_graph(accusations, n: int) -> tuple[np.ndarray, np.ndarray]:
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
    indptr : numpy.ndarray of int64, shape (n + 1,)
    indices : numpy.ndarray of int64, shape (2 * e,)
        Neighbours of ``v`` are ``indices[indptr[v]:indptr[v + 1]]``, increasing.
    """
    n = check_int("n", n, low=0)
    acc = _check_accusations(accusations, n)
    return _canonical_csr(acc, n)


def _canonical_csr(acc: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    if acc.shape[0] == 0:
        return np.zeros(n + 1, dtype=np.int64), np.empty(0, dtype=np.int64)
    lo = np.minimum(acc[:, 0], acc[:, 1])
    hi = np.maximum(acc[:, 0], acc[:, 1])
    keys = np.unique(lo * n + hi)
    a, b = keys // n, keys % n
    src = np.concatenate([a, b])
    dst = np.concatenate([b, a])
    order = np.lexsort((dst, src))
    src, dst = src[order], dst[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    return indptr, np.ascontiguousarray(dst)


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
    n = check_int("n", n, low=0)
    acc = _check_accusations(accusations, n)
    indptr, indices = _canonical_csr(acc, n)
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
def _component_rematch(start, head, nxt, to, mark, stamp, loc, mate, blocked):
    """Recompute the canonical matching of the component of ``start``.

    Returns the component's vertices and those whose blocked status changed.

    The accusation graph is held as linked arc lists (``head``, ``nxt``, ``to``).
    """
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
        nbr[ptr[k]:ptr[k + 1]].sort()
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
        return _component_rematch(start, self._head, self._nxt, self._to, self._mark,
                                  self._stamp, self._loc, self.mate, self.blocked)

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
        """Insert several accusations (rows ``(accuser, accused)``); return changed robots."""
        acc = _check_accusations(accusations, self.n)
        before = self.blocked.copy()
        touched = [int(a) for a, b in acc if self._insert(int(a), int(b))]
        done = np.zeros(self.n, dtype=bool)
        for v in touched:
            if not done[v]:
                done[self._rematch(v)[0]] = True
        return np.flatnonzero(before != self.blocked)


# ----------------------------------------------------------------------------------------
# Flooding.
# ----------------------------------------------------------------------------------------


@dataclass
class Deliveries:
    """Messages delivered in one :meth:`Flood.step`, one row per (receiver, message).

    Attributes
    ----------
    receiver : numpy.ndarray of int64, shape (k,)
        Robot that received the message.
    hops : numpy.ndarray of int64, shape (k,)
        Links the message travelled (1 for a direct neighbour of the origin); with one
        hop per step this is also the number of steps since it was sent.
    sender : numpy.ndarray of int64, shape (k,)
        Neighbour it was received from (the first one, in CSR order).
    origin, timestamp, kind, accused : numpy.ndarray of int64, shape (k,)
        Copied from the message (``accused`` is ``-1`` for observations).
    payload : numpy.ndarray of float64, shape (k, payload_dim)
        Copied from the message.
    """

    receiver: np.ndarray
    hops: np.ndarray
    sender: np.ndarray
    origin: np.ndarray
    timestamp: np.ndarray
    kind: np.ndarray
    accused: np.ndarray
    payload: np.ndarray

    def __len__(self) -> int:
        return int(self.receiver.shape[0])


@njit(cache=True)
def _grow(a, need):
    if need <= a.shape[0]:
        return a
    out = np.empty(max(need, 2 * a.shape[0] + 16), a.dtype)
    out[:a.shape[0]] = a
    return out


@njit(cache=True)
def _flood_kernel(out_ptr, out_idx, msg_ptr, pool_robot, pool_hops, pool_from, msg_age,
                  msg_limit, msg_kind, msg_origin, blocked, relays, mark):
    """Advance every live message one hop.

    Holder records of message ``k`` are ``pool_*[msg_ptr[k]:msg_ptr[k+1]]``; its frontier
    is the records with ``hops == msg_age[k]``. Returns the new pool (old records first,
    then new ones, per message), the new pointers, delivery rows (record indices into the
    new pool) and whether each message is still live.
    """
    nmsg = msg_ptr.shape[0] - 1
    cap = pool_robot.shape[0] * 2 + 16
    new_robot = np.empty(cap, np.int64)
    new_hops = np.empty(cap, np.int64)
    new_from = np.empty(cap, np.int64)
    new_ptr = np.empty(nmsg + 1, np.int64)
    deliv = np.empty(cap, np.int64)
    nd = 0
    live = np.zeros(nmsg, np.bool_)
    pos = 0
    stamp = mark.max()
    for k in range(nmsg):
        stamp += 1
        lo = msg_ptr[k]
        hi = msg_ptr[k + 1]
        new_ptr[k] = pos
        need = pos + (hi - lo)
        new_robot = _grow(new_robot, need)
        new_hops = _grow(new_hops, need)
        new_from = _grow(new_from, need)
        for r in range(lo, hi):
            v = pool_robot[r]
            mark[v] = stamp
            new_robot[pos] = v
            new_hops[pos] = pool_hops[r]
            new_from[pos] = pool_from[r]
            pos += 1
        age = msg_age[k]
        if age >= msg_limit[k]:
            continue
        dropped = msg_kind[k] == 0 and blocked[msg_origin[k]]
        if dropped:
            continue
        added = 0
        for r in range(lo, hi):
            if pool_hops[r] != age:
                continue
            u = pool_robot[r]
            if age > 0 and not relays[u]:
                continue
            for e in range(out_ptr[u], out_ptr[u + 1]):
                v = out_idx[e]
                if mark[v] == stamp:
                    continue
                mark[v] = stamp
                new_robot = _grow(new_robot, pos + 1)
                new_hops = _grow(new_hops, pos + 1)
                new_from = _grow(new_from, pos + 1)
                deliv = _grow(deliv, nd + 1)
                new_robot[pos] = v
                new_hops[pos] = age + 1
                new_from[pos] = u
                deliv[nd] = pos
                nd += 1
                pos += 1
                added += 1
        msg_age[k] = age + 1
        live[k] = added > 0 and age + 1 < msg_limit[k]
    new_ptr[nmsg] = pos
    return new_robot[:pos], new_hops[:pos], new_from[:pos], new_ptr, deliv[:nd], live


def _transpose_csr(indptr: np.ndarray, indices: np.ndarray, n: int):
    """Out-edge CSR from an in-edge CSR (node ``i`` receives from ``indices[...]``)."""
    receivers = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    order = np.lexsort((receivers, indices))
    out_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(indices, minlength=n), out=out_ptr[1:])
    return out_ptr, np.ascontiguousarray(receivers[order])


class Flood:
    """Messages in flight over a changing communication graph, as flat arrays.

    Each :meth:`step` is one communication round: every robot that received a message in
    the previous round (or sent it, for a new message) forwards it to each neighbour that
    does not hold it yet. A message stops being forwarded once it has travelled its hop
    limit, or when no robot received it this round; it is then forgotten (its holders are
    not remembered past its lifetime, so keep ``timestamp`` distinct per message you
    resend).

    Parameters
    ----------
    n : int
        Number of robots.
    payload_dim : int
        Floats carried by each message (0 for none).
    hop_limit : int
        Hop limit of observations (default 4); ``0`` means never delivered.
    accusation_hop_limit : int or None
        Hop limit of accusations; ``None`` (default) floods them to the whole connected
        network.

    Attributes
    ----------
    origin, timestamp, kind, accused, payload : numpy.ndarray
        The live messages (one row per message).
    finished : dict of str to numpy.ndarray
        ``origin``, ``timestamp``, ``kind`` and ``accused`` of the messages whose flood
        ended in the last :meth:`step` (every robot it could reach holds it).
    """

    def __init__(self, n: int, payload_dim: int = 0, hop_limit: int = 4,
                 accusation_hop_limit: int | None = None):
        self.n = check_int("n", n, low=0)
        self.payload_dim = check_int("payload_dim", payload_dim, low=0)
        self.hop_limit = check_int("hop_limit", hop_limit, low=0)
        if accusation_hop_limit is None:
            self.accusation_hop_limit = None
        else:
            self.accusation_hop_limit = check_int("accusation_hop_limit",
                                                  accusation_hop_limit, low=0)
        self._msg_ptr = np.zeros(1, dtype=np.int64)
        self._pool_robot = np.empty(0, dtype=np.int64)
        self._pool_hops = np.empty(0, dtype=np.int64)
        self._pool_from = np.empty(0, dtype=np.int64)
        self._age = np.empty(0, dtype=np.int64)
        self._limit = np.empty(0, dtype=np.int64)
        self.origin = np.empty(0, dtype=np.int64)
        self.timestamp = np.empty(0, dtype=np.int64)
        self.kind = np.empty(0, dtype=np.int64)
        self.accused = np.empty(0, dtype=np.int64)
        self.payload = np.empty((0, self.payload_dim), dtype=np.float64)
        self._mark = np.zeros(self.n, dtype=np.int64)
        self._all_relay = np.ones(self.n, dtype=bool)
        self._no_block = np.zeros(self.n, dtype=bool)
        self.finished = self._fields(np.empty(0, dtype=np.int64))

    def __len__(self) -> int:
        """Return the number of live messages."""
        return int(self.origin.shape[0])

    def send_observations(self, origins, timestamp, payload=None) -> None:
        """Queue one observation per origin; it reaches direct neighbours at the next step.

        Parameters
        ----------
        origins : array_like of int, shape (k,)
            Sending robots.
        timestamp : int or array_like of int, shape (k,)
            Round the observation was made.
        payload : array_like of float, shape (k, payload_dim), optional
            Content (zeros if omitted). Non-finite values are carried as they are;
            receivers must treat them as the untrusted data they are.
        """
        origins = self._check_robots("origins", origins)
        k = origins.shape[0]
        if payload is None:
            payload = np.zeros((k, self.payload_dim))
        payload = check_float_array("payload", payload, shape=(k, self.payload_dim))
        self._append(origins, timestamp, OBSERVATION, np.full(k, -1, dtype=np.int64), payload,
                     self.hop_limit)

    def send_accusations(self, accusers, accused, timestamp) -> None:
        """Queue accusations ``accusers[i]`` accuses ``accused[i]``.

        Parameters
        ----------
        accusers, accused : array_like of int, shape (k,)
            Robot indices in ``[0, n)``, ``accusers[i] != accused[i]``.
        timestamp : int or array_like of int, shape (k,)
            Round of the accusation.
        """
        accusers = self._check_robots("accusers", accusers)
        accused = self._check_robots("accused", accused)
        if accused.shape != accusers.shape:
            raise ValueError(f"accused must have shape {accusers.shape}, got {accused.shape}")
        bad = np.flatnonzero(accusers == accused)
        if bad.size:
            raise ValueError(f"robot {accusers[bad[0]]} accuses itself; "
                             "self-accusations are not allowed")
        limit = _UNLIMITED if self.accusation_hop_limit is None else self.accusation_hop_limit
        self._append(accusers, timestamp, ACCUSATION, accused,
                     np.zeros((accusers.shape[0], self.payload_dim)), limit)

    def _check_robots(self, name: str, value) -> np.ndarray:
        arr = np.atleast_1d(np.asarray(value))
        if arr.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
        if arr.size and arr.dtype.kind not in "iu":
            raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}")
        arr = arr.astype(np.int64)
        if arr.size and (arr.min() < 0 or arr.max() >= self.n):
            raise ValueError(f"{name} must lie in [0, {self.n}), got range "
                             f"[{arr.min()}, {arr.max()}]")
        return arr

    def _append(self, origins, timestamp, kind, accused, payload, limit) -> None:
        k = origins.shape[0]
        if k == 0:
            return
        ts = np.broadcast_to(np.asarray(timestamp), (k,))
        if ts.dtype.kind not in "iu":
            raise TypeError(f"timestamp must hold integers, got dtype {ts.dtype}")
        self.origin = np.concatenate([self.origin, origins])
        self.timestamp = np.concatenate([self.timestamp, ts.astype(np.int64)])
        self.kind = np.concatenate([self.kind, np.full(k, kind, dtype=np.int64)])
        self.accused = np.concatenate([self.accused, accused])
        self.payload = np.concatenate([self.payload, payload])
        self._age = np.concatenate([self._age, np.zeros(k, dtype=np.int64)])
        self._limit = np.concatenate([self._limit, np.full(k, limit, dtype=np.int64)])
        start = self._msg_ptr[-1]
        self._msg_ptr = np.concatenate([self._msg_ptr, start + np.arange(1, k + 1)])
        self._pool_robot = np.concatenate([self._pool_robot, origins])
        self._pool_hops = np.concatenate([self._pool_hops, np.zeros(k, dtype=np.int64)])
        self._pool_from = np.concatenate([self._pool_from, origins])

    def step(self, indptr, indices, blocked=None, relays=None, *,
             symmetric: bool = False) -> Deliveries:
        """One round of forwarding over the round's communication graph.

        Parameters
        ----------
        indptr, indices : array_like of int
            In-edge CSR of the round: robot ``i`` hears ``indices[indptr[i]:indptr[i+1]]``.
        blocked : array_like of bool, shape (n,), optional
            The receivers' blocklist: observations originating from a blocked robot are
            dropped (not delivered, not forwarded). Accusations are never dropped.
        relays : array_like of bool, shape (n,), optional
            Robots that forward what they receive (default all). Robots that are not
            relays still receive, and still send their own messages.
        symmetric : bool
            Promise that the graph is undirected (in-edges equal out-edges), which skips
            the transposition.

        Returns
        -------
        Deliveries
            One row per new (receiver, message) pair, grouped by message.
        """
        indptr, indices = check_csr(indptr, indices, self.n)
        blocked = self._mask("blocked", blocked, self._no_block)
        relays = self._mask("relays", relays, self._all_relay)
        if symmetric:
            out_ptr, out_idx = indptr, indices
        else:
            out_ptr, out_idx = _transpose_csr(indptr, indices, self.n)
        return self._step(out_ptr, out_idx, blocked, relays)

    def _fields(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        return {"origin": self.origin[rows], "timestamp": self.timestamp[rows],
                "kind": self.kind[rows], "accused": self.accused[rows]}

    def _mask(self, name: str, value, default: np.ndarray) -> np.ndarray:
        if value is None:
            return default
        arr = np.asarray(value)
        if arr.shape != (self.n,):
            raise ValueError(f"{name} must have shape ({self.n},), got {arr.shape}")
        if arr.dtype != np.bool_:
            raise TypeError(f"{name} must be a boolean array, got dtype {arr.dtype}")
        return np.ascontiguousarray(arr)

    def _step(self, out_ptr, out_idx, blocked, relays) -> Deliveries:
        robot, hops, frm, ptr, deliv, live = _flood_kernel(
            out_ptr, out_idx, self._msg_ptr, self._pool_robot, self._pool_hops,
            self._pool_from, self._age, self._limit, self.kind, self.origin, blocked, relays,
            self._mark)
        msg_of = np.repeat(np.arange(ptr.shape[0] - 1), np.diff(ptr))[deliv]
        out = Deliveries(
            receiver=robot[deliv], hops=hops[deliv], sender=frm[deliv],
            origin=self.origin[msg_of], timestamp=self.timestamp[msg_of],
            kind=self.kind[msg_of], accused=self.accused[msg_of],
            payload=self.payload[msg_of])
        if self._mark.max() > np.iinfo(np.int64).max // 2:
            self._mark[:] = 0
        self.finished = self._fields(np.flatnonzero(~live))
        # Keep live messages only.
        keep = np.flatnonzero(live)
        sizes = np.diff(ptr)[keep]
        rec = np.repeat(live, np.diff(ptr))
        self._pool_robot = robot[rec]
        self._pool_hops = hops[rec]
        self._pool_from = frm[rec]
        self._msg_ptr = np.zeros(keep.shape[0] + 1, dtype=np.int64)
        np.cumsum(sizes, out=self._msg_ptr[1:])
        self._age = self._age[keep]
        self._limit = self._limit[keep]
        self.origin = self.origin[keep]
        self.timestamp = self.timestamp[keep]
        self.kind = self.kind[keep]
        self.accused = self.accused[keep]
        self.payload = self.payload[keep]
        return out


# ----------------------------------------------------------------------------------------
# Network-wide flooding of accusations as per-robot bitsets.
# ----------------------------------------------------------------------------------------


@njit(cache=True)
def _gossip_kernel(out_ptr, out_idx, held, delta, relays, col_grew):
    """One round: every relay pushes what it received last round to its neighbours."""
    n, words = held.shape
    new = np.zeros_like(delta)
    touched = np.zeros(n, np.bool_)
    nz = np.empty(words, np.int64)
    for u in range(n):
        if not relays[u]:
            continue
        m = 0
        for w in range(words):
            if delta[u, w] != 0:
                nz[m] = w
                m += 1
        if m == 0:
            continue
        for e in range(out_ptr[u], out_ptr[u + 1]):
            v = out_idx[e]
            for i in range(m):
                w = nz[i]
                b = delta[u, w] & ~held[v, w]
                if b != 0:
                    new[v, w] |= b
                    touched[v] = True
    for v in range(n):
        if not touched[v]:
            continue
        for w in range(words):
            b = new[v, w]
            if b == 0:
                continue
            held[v, w] |= b
            for bit in range(64):
                if (b >> np.uint64(bit)) & np.uint64(1):
                    col_grew[w * 64 + bit] = True
    return new


@njit(cache=True)
def _holds_kernel(held, cand_v, cand_o, cols_sorted, accused_sorted):
    out = np.zeros(cand_v.shape[0], np.bool_)
    for k in range(cand_v.shape[0]):
        v = cand_v[k]
        o = cand_o[k]
        lo = np.searchsorted(accused_sorted, o)
        hi = np.searchsorted(accused_sorted, o, side="right")
        for j in range(lo, hi):
            c = cols_sorted[j]
            if (held[v, c // 64] >> np.uint64(c % 64)) & np.uint64(1):
                out[k] = True
                break
    return out


class AccusationGossip:
    """Accusations flooded to the whole network, held as one bitset per robot.

    This is :class:`Flood` with an unlimited hop limit, specialised for accusations at
    swarm scale: robot ``v`` holds accusation ``a`` when bit ``a`` of ``held[v]`` is set;
    each :meth:`step` every relay forwards the accusations it received in the previous
    step to all its neighbours (so each robot forwards each accusation once). An
    accusation's flood has ended when a step adds no new holder; :meth:`step` returns
    those accusations and frees their slot.

    Parameters
    ----------
    n : int
        Number of robots.
    """

    def __init__(self, n: int):
        self.n = check_int("n", n, low=0)
        self._words = 1
        self.held = np.zeros((self.n, 1), dtype=np.uint64)
        self._delta = np.zeros((self.n, 1), dtype=np.uint64)
        self.accuser = np.full(64, -1, dtype=np.int64)
        self.accused = np.full(64, -1, dtype=np.int64)
        self.timestamp = np.zeros(64, dtype=np.int64)
        self._alive = np.zeros(64, dtype=bool)
        self._fresh = np.zeros(64, dtype=bool)
        self._all_relay = np.ones(self.n, dtype=bool)

    def __len__(self) -> int:
        """Return the number of accusations still flooding."""
        return int(self._alive.sum())

    def _grow(self, need: int) -> None:
        cap = self.accuser.shape[0]
        if need <= cap:
            return
        words = max(2 * self._words, (need + 63) // 64)
        new_cap = 64 * words
        for name, fill in (("accuser", -1), ("accused", -1), ("timestamp", 0)):
            arr = getattr(self, name)
            grown = np.full(new_cap, fill, dtype=np.int64)
            grown[:cap] = arr
            setattr(self, name, grown)
        for name in ("_alive", "_fresh"):
            arr = getattr(self, name)
            grown = np.zeros(new_cap, dtype=bool)
            grown[:cap] = arr
            setattr(self, name, grown)
        for name in ("held", "_delta"):
            arr = getattr(self, name)
            grown = np.zeros((self.n, words), dtype=np.uint64)
            grown[:, :self._words] = arr
            setattr(self, name, grown)
        self._words = words

    def issue(self, accusers, accused, timestamp: int) -> None:
        """Start flooding accusations ``accusers[i]`` accuses ``accused[i]``.

        Parameters
        ----------
        accusers, accused : array_like of int, shape (k,)
            Robot indices in ``[0, n)``, ``accusers[i] != accused[i]``.
        timestamp : int
            Round of the accusations.
        """
        acc = _check_accusations(np.column_stack([np.atleast_1d(accusers),
                                                  np.atleast_1d(accused)]), self.n)
        k = acc.shape[0]
        if k == 0:
            return
        free = np.flatnonzero(~self._alive)
        if free.shape[0] < k:
            self._grow(self.accuser.shape[0] + k - free.shape[0])
            free = np.flatnonzero(~self._alive)
        cols = free[:k]
        self.accuser[cols] = acc[:, 0]
        self.accused[cols] = acc[:, 1]
        self.timestamp[cols] = check_int("timestamp", timestamp)
        self._alive[cols] = True
        self._fresh[cols] = True
        words = cols // 64
        bits = (np.uint64(1) << (cols % 64).astype(np.uint64))
        np.bitwise_or.at(self.held, (acc[:, 0], words), bits)
        np.bitwise_or.at(self._delta, (acc[:, 0], words), bits)

    def holds_against(self, robots, accused) -> np.ndarray:
        """Whether ``robots[i]`` holds some live accusation against ``accused[i]``.

        Parameters
        ----------
        robots, accused : array_like of int, shape (k,)
            Robot indices in ``[0, n)``.

        Returns
        -------
        numpy.ndarray of bool, shape (k,)
        """
        robots = np.ascontiguousarray(robots, dtype=np.int64)
        accused = np.ascontiguousarray(accused, dtype=np.int64)
        cols = np.flatnonzero(self._alive)
        order = np.argsort(self.accused[cols], kind="stable")
        cols = cols[order]
        return _holds_kernel(self.held, robots, accused, cols, self.accused[cols])

    def step(self, indptr, indices, relays=None, *, symmetric: bool = False) -> dict:
        """One round of forwarding; return the accusations whose flood ended.

        Parameters
        ----------
        indptr, indices : array_like of int
            In-edge CSR of the round's communication graph.
        relays : array_like of bool, shape (n,), optional
            Robots that forward (default all).
        symmetric : bool
            Promise that the graph is undirected (skips the transposition).

        Returns
        -------
        dict of str to numpy.ndarray
            ``accuser``, ``accused`` and ``timestamp`` of the accusations every robot they
            could reach now holds; their slots are freed.
        """
        indptr, indices = check_csr(indptr, indices, self.n)
        if relays is None:
            relays = self._all_relay
        elif np.asarray(relays).shape != (self.n,) or np.asarray(relays).dtype != np.bool_:
            raise ValueError(f"relays must be a boolean array of shape ({self.n},)")
        if symmetric:
            out_ptr, out_idx = indptr, indices
        else:
            out_ptr, out_idx = _transpose_csr(indptr, indices, self.n)
        grew = np.zeros(self.accuser.shape[0], dtype=bool)
        self._delta = _gossip_kernel(out_ptr, out_idx, self.held, self._delta,
                                     np.ascontiguousarray(relays), grew)
        done = np.flatnonzero(self._alive & ~grew & ~self._fresh)
        self._fresh[:] = False
        out = {"accuser": self.accuser[done].copy(), "accused": self.accused[done].copy(),
               "timestamp": self.timestamp[done].copy()}
        if done.size:
            mask = np.zeros(self._words * 64, dtype=bool)
            mask[done] = True
            clear = ~np.packbits(mask, bitorder="little").view(np.uint64)
            self.held &= clear
            self._delta &= clear
            self._alive[done] = False
            self.accuser[done] = -1
            self.accused[done] = -1
        return out
