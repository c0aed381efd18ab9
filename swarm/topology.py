"""Communication topologies of a swarm, as networkx graphs and in-edge CSR arrays.

Nodes are the robots ``0 .. n-1``. Builders that place robots in space store each
position in the node attribute ``"pos"`` (an ``(x, y)`` tuple, unit: the side of the
square is 1 unless ``side`` says otherwise). Every random draw comes from the
``numpy.random.Generator`` passed in.

Examples
--------
>>> import numpy as np
>>> G = ring_lattice(6, 2)                  # each robot hears its 2 nearest on each side
>>> indptr, indices = to_csr(G)
>>> indptr.tolist()[:3], indices[indptr[0]:indptr[1]].tolist()
([0, 4, 8], [1, 2, 4, 5])
>>> G = robust_geometric(30, r=3, radius=0.2, rng=np.random.default_rng(0))
>>> positions(G).shape
(30, 2)
"""

from __future__ import annotations

import networkx as nx
import numpy as np
from scipy.spatial import cKDTree

from protocols.checks import check_int, check_nonneg_float
from protocols.csr import csr_from_edges

__all__ = [
    "DISTANCE_BLOCK",
    "complete",
    "csr_from_edges",
    "erdos_renyi",
    "positions",
    "random_geometric",
    "ring_lattice",
    "robust_geometric",
    "robust_geometric_edges",
    "robust_graph",
    "to_csr",
]


#: Entries of the distance matrix :func:`robust_geometric_edges` holds at once (32 MB of
#: float64); the result does not depend on it, only the peak memory does.
DISTANCE_BLOCK = 4_000_000

# ``csr_from_edges`` (the in-edge CSR of an undirected edge list) lives in
# :mod:`protocols.csr` and is re-exported here.


def to_csr(G: nx.Graph) -> tuple[np.ndarray, np.ndarray]:
    """In-edge CSR arrays of a graph on nodes ``0 .. n-1``.

    For an undirected graph every edge is an in-edge of both endpoints; for a directed
    graph node ``i`` receives from its predecessors. Senders of each node are sorted.

    Parameters
    ----------
    G : networkx.Graph or networkx.DiGraph
        Nodes must be exactly the integers ``0 .. n-1``; self-loops are ignored.

    Returns
    -------
    indptr : numpy.ndarray of int64, shape (n + 1,)
        Row pointers.
    indices : numpy.ndarray of int64, shape (m,)
        Sender of each in-edge.
    """
    n = G.number_of_nodes()
    if set(G.nodes) != set(range(n)):
        raise ValueError(
            "G must have nodes 0 .. n-1 (use networkx.convert_node_labels_to_integers)"
        )
    preds = G.pred if G.is_directed() else G.adj
    indptr = np.zeros(n + 1, dtype=np.int64)
    rows = []
    for i in range(n):
        senders = sorted(j for j in preds[i] if j != i)
        rows.append(senders)
        indptr[i + 1] = indptr[i] + len(senders)
    indices = np.fromiter((j for r in rows for j in r), dtype=np.int64, count=int(indptr[-1]))
    return indptr, indices


def positions(G: nx.Graph) -> np.ndarray | None:
    """Node positions as an array of shape (n, 2), or None if the graph has none."""
    pos = nx.get_node_attributes(G, "pos")
    if len(pos) != G.number_of_nodes():
        return None
    return np.array([pos[i] for i in range(G.number_of_nodes())], dtype=float)


def complete(n: int) -> nx.Graph:
    """Complete graph on ``n >= 1`` robots."""
    return nx.complete_graph(check_int("n", n, low=1))


def ring_lattice(n: int, k: int) -> nx.Graph:
    """Circulant ring: each robot links to the ``k`` nearest on each side.

    Parameters
    ----------
    n : int
        Number of robots, ``n >= 3``.
    k : int
        Neighbours on each side, ``1 <= k <= (n - 1) // 2``.

    Returns
    -------
    networkx.Graph
        The ``2k``-regular circulant graph.
    """
    n = check_int("n", n, low=3)
    k = check_int("k", k, low=1, high=(n - 1) // 2)
    return nx.circulant_graph(n, range(1, k + 1))


def erdos_renyi(n: int, p: float, rng: np.random.Generator) -> nx.Graph:
    """Erdos-Renyi graph G(n, p) drawn from ``rng``.

    Parameters
    ----------
    n : int
        Number of robots, ``n >= 1``.
    p : float
        Edge probability in [0, 1].
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    networkx.Graph
        The graph.
    """
    n = check_int("n", n, low=1)
    p = check_nonneg_float("p", p, high=1.0)
    iu, ju = np.triu_indices(n, 1)
    keep = rng.random(iu.size) < p
    G = nx.empty_graph(n)
    G.add_edges_from(zip(iu[keep].tolist(), ju[keep].tolist(), strict=True))
    return G


def _place(n: int, side: float, rng: np.random.Generator) -> np.ndarray:
    return rng.random((n, 2)) * side


def random_geometric(
    n: int, radius: float, rng: np.random.Generator, side: float = 1.0
) -> nx.Graph:
    """Robots uniform in a square, linked when within radio range.

    Parameters
    ----------
    n : int
        Number of robots, ``n >= 1``.
    radius : float
        Radio range (same unit as ``side``), > 0.
    rng : numpy.random.Generator
        Source of randomness.
    side : float
        Side of the square, > 0.

    Returns
    -------
    networkx.Graph
        The graph, with node attribute ``"pos"``.
    """
    n = check_int("n", n, low=1)
    radius = check_nonneg_float("radius", radius, positive=True)
    side = check_nonneg_float("side", side, positive=True)
    pts = _place(n, side, rng)
    G = nx.empty_graph(n)
    G.add_edges_from(cKDTree(pts).query_pairs(radius, output_type="ndarray").tolist())
    nx.set_node_attributes(G, {i: (float(x), float(y)) for i, (x, y) in enumerate(pts)}, "pos")
    return G


def robust_graph(n: int, r: int, rng: np.random.Generator) -> nx.Graph:
    """Build an r-robust graph by construction.

    Start from the complete graph on ``2r - 1`` robots (which is r-robust); each new
    robot links to ``r`` distinct earlier robots chosen uniformly. Adding a node with at
    least ``r`` neighbours to an r-robust graph keeps it r-robust (LeBlanc et al.
    2013), so the result is r-robust. With ``r = 2F + 1`` it is (F+1, F+1)-robust, and
    removing any F robots leaves an (F+1)-robust graph (each robot that had 2F+1
    neighbours outside a set loses at most F of them): the condition W-MSR with
    parameter F needs against F-total Byzantine robots, who may tell each neighbour
    something different.

    Parameters
    ----------
    n : int
        Number of robots, ``n >= 2r - 1``.
    r : int
        Robustness, ``r >= 1``.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    networkx.Graph
        The graph.
    """
    r = check_int("r", r, low=1)
    n = check_int("n", n, low=2 * r - 1)
    G = nx.complete_graph(2 * r - 1)
    for v in range(2 * r - 1, n):
        G.add_node(v)
        for u in rng.choice(v, size=r, replace=False):
            G.add_edge(int(u), v)
    return G


def robust_geometric(
    n: int, r: int, radius: float, rng: np.random.Generator, side: float = 1.0
) -> nx.Graph:
    """Robots in a square, r-robust by construction, with radio-range links.

    Robots are placed uniformly; the first ``2r - 1`` form a complete graph, and each
    later robot links to its ``r`` nearest earlier robots and to every earlier robot
    within ``radius``. Each robot joins with at least ``r`` neighbours, so the graph is
    r-robust (see :func:`robust_graph`); it contains the random geometric graph of
    ``radius`` on the same positions.

    Parameters
    ----------
    n : int
        Number of robots, ``n >= 2r - 1``.
    r : int
        Robustness, ``r >= 1``.
    radius : float
        Radio range, > 0.
    rng : numpy.random.Generator
        Source of randomness.
    side : float
        Side of the square, > 0.

    Returns
    -------
    networkx.Graph
        The graph, with node attribute ``"pos"``.
    """
    edges, pts = robust_geometric_edges(n, r, radius, rng, side)
    G = nx.empty_graph(n)
    G.add_edges_from(edges.tolist())
    nx.set_node_attributes(G, {i: (float(x), float(y)) for i, (x, y) in enumerate(pts)}, "pos")
    return G


def robust_geometric_edges(
    n: int, r: int, radius: float, rng: np.random.Generator, side: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Return the edges and positions of :func:`robust_geometric`, without a graph.

    Draws exactly what :func:`robust_geometric` draws from ``rng``, so the same
    generator state gives the same swarm.

    Parameters
    ----------
    n, r, radius, rng, side
        As for :func:`robust_geometric`.

    Returns
    -------
    edges : numpy.ndarray of int64, shape (m, 2)
        Each undirected edge once, as ``(u, v)`` with ``u < v``, sorted.
    positions : numpy.ndarray, shape (n, 2)
        Robot positions.
    """
    r = check_int("r", r, low=1)
    n = check_int("n", n, low=2 * r - 1)
    radius = check_nonneg_float("radius", radius, positive=True)
    side = check_nonneg_float("side", side, positive=True)
    pts = _place(n, side, rng)
    k = 2 * r - 1
    iu, ju = np.triu_indices(k, 1)
    parts = [
        np.stack([iu, ju], axis=1),
        cKDTree(pts).query_pairs(radius, output_type="ndarray").reshape(-1, 2),
    ]
    # The r nearest earlier robots of each later robot v, in blocks of rows of the
    # distance matrix (earlier = column index below v).
    block = max(1, DISTANCE_BLOCK // max(n, 1))
    for v0 in range(k, n, block):
        rows = np.arange(v0, min(n, v0 + block))
        d = np.hypot(pts[rows, None, 0] - pts[None, :, 0], pts[rows, None, 1] - pts[None, :, 1])
        d[np.arange(n)[None, :] >= rows[:, None]] = np.inf
        nearest = np.argpartition(d, r - 1, axis=1)[:, :r]
        parts.append(np.stack([nearest.ravel(), np.repeat(rows, r)], axis=1))
    pairs = np.concatenate(parts).astype(np.int64)
    lo, hi = pairs.min(axis=1), pairs.max(axis=1)
    keys = np.unique(lo * n + hi)
    return np.stack([keys // n, keys % n], axis=1), pts
