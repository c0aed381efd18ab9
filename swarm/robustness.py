r"""Robustness of communication graphs: exact checks and fast bounds.

A set ``S`` of nodes is *r-reachable* if some node of ``S`` has at least ``r``
neighbours outside ``S``. A graph is *(r, s)-robust* if for every pair of disjoint
nonempty sets ``S1, S2`` at least one holds: every node of ``S1`` has ``r`` neighbours
outside ``S1``; every node of ``S2`` has ``r`` neighbours outside ``S2``; together at
least ``s`` nodes of ``S1 ∪ S2`` have ``r`` neighbours outside their own set. r-robust
is (r, 1)-robust (LeBlanc, Zhang, Koutsoukos and Sundaram, IEEE JSAC 2013).

Deciding robustness is coNP-complete. :func:`is_rs_robust` is exact: with ``c(S)`` the
number of nodes of ``S`` with ``r`` neighbours outside ``S``, it computes ``c`` for all
``2^n`` subsets and, by a subset-minimum dynamic programme, the smallest ``c(T)`` over
the non-saturated subsets ``T`` of each set; a violating pair exists iff
``c(S1) + min_{T ⊆ V \ S1} c(T) < s`` for some non-saturated ``S1``. That is
``O(2^n n)`` time and ``2^n`` bytes, so it is limited to :data:`MAX_EXACT_NODES` nodes;
larger graphs get :func:`robustness_bounds`.

Examples
--------
>>> import networkx as nx
>>> is_r_robust(nx.complete_graph(6), 3), is_r_robust(nx.complete_graph(6), 4)
(True, False)
>>> b = robustness_bounds(nx.cycle_graph(40))    # too large for the exact check
>>> b["lower"], b["upper"]                         # a ring is exactly 1-robust
(1, 2)
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np

from protocols.checks import check_int
from protocols.robustness import MAX_MASK_NODES, rs_robust_kernel

__all__ = ["MAX_EXACT_NODES", "is_r_robust", "is_rs_robust", "robustness_bounds"]

#: Largest graph the exact checks accept.
MAX_EXACT_NODES = MAX_MASK_NODES


def _adjacency_masks(G: nx.Graph) -> np.ndarray:
    n = G.number_of_nodes()
    index = {v: i for i, v in enumerate(G.nodes)}
    masks = np.zeros(n, dtype=np.int64)
    for u, v in G.edges:
        if u != v:
            masks[index[u]] |= 1 << index[v]
            masks[index[v]] |= 1 << index[u]
    return masks


def is_rs_robust(G: nx.Graph, r: int, s: int) -> bool:
    """Exactly decide whether an undirected graph is (r, s)-robust.

    Parameters
    ----------
    G : networkx.Graph
        Undirected graph with at most :data:`MAX_EXACT_NODES` nodes.
    r : int
        ``r >= 0``.
    s : int
        ``1 <= s <= n``.

    Returns
    -------
    bool
        True if the graph is (r, s)-robust.

    Raises
    ------
    ValueError
        If the graph is larger than :data:`MAX_EXACT_NODES` (use
        :func:`robustness_bounds`), or r, s are out of range.
    """
    if G.is_directed():
        raise ValueError("G must be undirected")
    n = G.number_of_nodes()
    r = check_int("r", r, low=0)
    s = check_int("s", s, low=1, high=max(n, 1))
    if n > MAX_EXACT_NODES:
        raise ValueError(
            f"G has {n} nodes; the exact robustness check (coNP-complete, O(2^n n)) is "
            f"limited to {MAX_EXACT_NODES}. Use robustness_bounds(G) for the sufficient "
            "condition (minimum degree >= floor(n/2) + r - 1) and the necessary ones "
            "(minimum degree >= r, node connectivity >= r), or build the graph with "
            "swarm.topology.robust_graph, which is r-robust by construction."
        )
    if r == 0 or n <= 1:
        return True
    return bool(rs_robust_kernel(_adjacency_masks(G), r, s))


def is_r_robust(G: nx.Graph, r: int) -> bool:
    """Exactly decide whether an undirected graph is r-robust, i.e. (r, 1)-robust.

    Parameters
    ----------
    G : networkx.Graph
        Undirected graph with at most :data:`MAX_EXACT_NODES` nodes.
    r : int
        ``r >= 0``.

    Returns
    -------
    bool
        True if the graph is r-robust.
    """
    return is_rs_robust(G, r, 1)


def robustness_bounds(G: nx.Graph) -> dict[str, int]:
    """Fast bounds on the largest r for which an undirected graph is r-robust.

    Parameters
    ----------
    G : networkx.Graph
        Undirected graph of any size.

    Returns
    -------
    dict
        ``lower``: the graph is r-robust for every r <= lower (from the sufficient
        condition minimum degree >= floor(n/2) + r - 1 of LeBlanc et al. 2013,
        and r <= 1 for a connected graph); ``upper``: it is not r-robust for any
        r > upper (r-robust implies minimum degree >= r, r-connectivity, and
        r <= ceil(n/2)); plus ``min_degree`` and ``node_connectivity``.
    """
    n = G.number_of_nodes()
    if n == 0:
        return {"lower": 0, "upper": 0, "min_degree": 0, "node_connectivity": 0}
    min_deg = min(d for _, d in G.degree)
    kappa = nx.node_connectivity(G) if n > 1 else 0
    upper = min(min_deg, kappa, math.ceil(n / 2))
    lower = max(0, min(min_deg - n // 2 + 1, upper))
    if nx.is_connected(G) and n > 1:
        lower = max(lower, 1)
    return {
        "lower": int(lower),
        "upper": int(upper),
        "min_degree": int(min_deg),
        "node_connectivity": int(kappa),
    }
