import networkx as nx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.csr import csr_from_edges, transpose_csr


def nx_rows(G, n, pred=False):
    adj = G.pred if pred else G.adj
    return [sorted(adj[v]) for v in range(n)]


def rows(indptr, indices):
    return [indices[indptr[v] : indptr[v + 1]].tolist() for v in range(len(indptr) - 1)]


edge_lists = st.integers(1, 15).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda e: e[0] != e[1]),
            max_size=40,
        ),
    )
)


@given(edge_lists)
def test_csr_from_edges_matches_networkx(data):
    n, edges = data
    G = nx.empty_graph(n)
    G.add_edges_from(edges)
    g = csr_from_edges(n, np.array(edges, dtype=np.int64).reshape(-1, 2), dedupe=True)
    assert g.indptr.shape == (n + 1,)
    assert rows(*g) == nx_rows(G, n)
    distinct = np.array(list(G.edges), dtype=np.int64).reshape(-1, 2)
    assert rows(*csr_from_edges(n, distinct)) == nx_rows(G, n)


@given(edge_lists)
def test_transpose_reverses_every_edge(data):
    n, edges = data
    D = nx.DiGraph()
    D.add_nodes_from(range(n))
    D.add_edges_from(edges)
    # In-edge CSR: node v hears its predecessors.
    indptr = np.zeros(n + 1, dtype=np.int64)
    preds = nx_rows(D, n, pred=True)
    np.cumsum([len(r) for r in preds], out=indptr[1:])
    indices = np.array([u for r in preds for u in r], dtype=np.int64)
    out = transpose_csr(indptr, indices, n)
    assert rows(*out) == nx_rows(D, n)  # node u's row: the nodes it sends to
    back = transpose_csr(out.indptr, out.indices, n)
    assert rows(*back) == preds


def test_bad_edges():
    with pytest.raises(ValueError, match="edges must have shape"):
        csr_from_edges(3, [[0, 1, 2]])
    with pytest.raises(ValueError, match=r"edges must lie in \[0, 3\)"):
        csr_from_edges(3, [[0, 3]])
    with pytest.raises(ValueError, match="self-loops"):
        csr_from_edges(3, [[1, 1]])
    with pytest.raises(TypeError, match="integers"):
        csr_from_edges(3, [[0.0, 1.0]])
