import itertools
import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarm.robustness import MAX_EXACT_NODES, is_r_robust, is_rs_robust, robustness_bounds
from swarm.topology import erdos_renyi, robust_geometric, robust_graph


def brute_rs_robust(G, r, s):
    """Definition, enumerated: every assignment of nodes to S1, S2 or neither."""
    nodes = list(G.nodes)
    for assign in itertools.product((0, 1, 2), repeat=len(nodes)):
        S1 = {v for v, a in zip(nodes, assign, strict=True) if a == 1}
        S2 = {v for v, a in zip(nodes, assign, strict=True) if a == 2}
        if not S1 or not S2:
            continue

        def reach(S):
            return {v for v in S if sum(1 for u in G[v] if u not in S) >= r}

        X1, X2 = reach(S1), reach(S2)
        if not (len(X1) == len(S1) or len(X2) == len(S2) or len(X1) + len(X2) >= s):
            return False
    return True


@given(
    n=st.integers(2, 7),
    p=st.floats(0.2, 1.0),
    seed=st.integers(0, 10_000),
    r=st.integers(1, 4),
    s=st.integers(1, 7),
)
def test_exact_check_matches_definition(n, p, seed, r, s):
    G = erdos_renyi(n, p, np.random.default_rng(seed))
    s = min(s, n)
    assert is_rs_robust(G, r, s) == brute_rs_robust(G, r, s)


@pytest.mark.parametrize("n", range(2, 13))
def test_complete_graph_is_ceil_half_robust(n):
    G = nx.complete_graph(n)
    r = math.ceil(n / 2)
    assert is_r_robust(G, r)
    assert not is_r_robust(G, r + 1)


@pytest.mark.parametrize("n", [5, 8, 13])
def test_ring_is_1_robust_not_2_robust(n):
    G = nx.cycle_graph(n)
    assert is_r_robust(G, 1)
    assert not is_r_robust(G, 2)


def test_disconnected_graph_is_not_1_robust():
    G = nx.disjoint_union(nx.complete_graph(3), nx.complete_graph(3))
    assert not is_r_robust(G, 1)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("r", [1, 2, 3])
def test_robust_builders_pass_the_exact_check(seed, r):
    rng = np.random.default_rng(seed)
    assert is_r_robust(robust_graph(16, r, rng), r)
    assert is_r_robust(robust_geometric(16, r, 0.2, rng), r)


@pytest.mark.parametrize("F", [1, 2])
def test_2f_plus_1_robust_builder_is_f1_f1_robust(F):
    G = robust_graph(14, 2 * F + 1, np.random.default_rng(F))
    assert is_rs_robust(G, F + 1, F + 1)


@given(n=st.integers(3, 12), p=st.floats(0.3, 1.0), seed=st.integers(0, 10_000))
def test_bounds_bracket_the_exact_robustness(n, p, seed):
    G = erdos_renyi(n, p, np.random.default_rng(seed))
    true_r = max(r for r in range(0, n + 1) if is_r_robust(G, r))
    b = robustness_bounds(G)
    assert b["lower"] <= true_r <= b["upper"]


def test_large_graph_is_refused_with_pointer_to_bounds():
    G = nx.complete_graph(MAX_EXACT_NODES + 1)
    with pytest.raises(ValueError, match="robustness_bounds"):
        is_r_robust(G, 2)
    assert robustness_bounds(G)["lower"] == math.ceil((MAX_EXACT_NODES + 1) / 2)


def test_bad_arguments():
    G = nx.complete_graph(4)
    with pytest.raises(ValueError, match="r must be >= 0"):
        is_r_robust(G, -1)
    with pytest.raises(ValueError, match="s must be <= 4"):
        is_rs_robust(G, 1, 5)
    with pytest.raises(ValueError, match="undirected"):
        is_r_robust(nx.DiGraph(G), 1)


@given(seed=st.integers(0, 10_000), F=st.integers(1, 2), extra=st.integers(0, 6))
def test_removing_f_robots_from_2f_plus_1_robust_graph_leaves_f_plus_1_robust(seed, F, extra):
    rng = np.random.default_rng(seed)
    n = 4 * F + 1 + extra
    G = robust_graph(n, 2 * F + 1, rng)
    removed = rng.choice(n, size=F, replace=False)
    H = G.subgraph(set(range(n)) - set(removed.tolist()))
    assert is_r_robust(H, F + 1)
