import networkx as nx
import numpy as np
import pytest

from swarm.topology import (
    complete,
    erdos_renyi,
    random_geometric,
    ring_lattice,
    robust_geometric,
    robust_graph,
    to_csr,
)


def test_csr_lists_every_neighbour_once():
    G = nx.gnp_random_graph(30, 0.2, seed=1)
    indptr, indices = to_csr(G)
    for i in range(30):
        assert sorted(indices[indptr[i] : indptr[i + 1]].tolist()) == sorted(G[i])


def test_csr_of_directed_graph_uses_predecessors():
    G = nx.DiGraph([(0, 1), (2, 1), (1, 0)])
    indptr, indices = to_csr(G)
    assert indices[indptr[1] : indptr[2]].tolist() == [0, 2]
    assert indices[indptr[2] : indptr[3]].tolist() == []


def test_geometric_edges_match_brute_force_distances():
    rng = np.random.default_rng(3)
    G = random_geometric(60, 0.2, rng)
    pos = np.array([G.nodes[i]["pos"] for i in range(60)])
    d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    want = {(i, j) for i in range(60) for j in range(i + 1, 60) if d[i, j] <= 0.2}
    assert {tuple(sorted(e)) for e in G.edges} == want


def test_robust_geometric_contains_radio_links_and_min_degree():
    rng = np.random.default_rng(4)
    G = robust_geometric(80, 3, 0.1, rng)
    pos = np.array([G.nodes[i]["pos"] for i in range(80)])
    d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    for i in range(80):
        for j in range(i + 1, 80):
            if d[i, j] <= 0.1:
                assert G.has_edge(i, j)
    assert min(dict(G.degree).values()) >= 3


def test_builders_are_seeded():
    a = robust_graph(40, 3, np.random.default_rng(9))
    b = robust_graph(40, 3, np.random.default_rng(9))
    c = robust_graph(40, 3, np.random.default_rng(10))
    assert set(a.edges) == set(b.edges)
    assert set(a.edges) != set(c.edges)


def test_ring_and_complete():
    assert all(d == 4 for _, d in ring_lattice(10, 2).degree)
    assert complete(5).number_of_edges() == 10
    assert erdos_renyi(20, 1.0, np.random.default_rng(0)).number_of_edges() == 190


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: ring_lattice(10, 5), "k must be <= 4"),
        (lambda: robust_graph(4, 3, np.random.default_rng(0)), "n must be >= 5"),
        (
            lambda: erdos_renyi(5, 1.5, np.random.default_rng(0)),
            r"p must be finite and in \[0, 1\], got 1.5",
        ),
        (
            lambda: random_geometric(5, 0.0, np.random.default_rng(0)),
            "radius must be finite and > 0",
        ),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
