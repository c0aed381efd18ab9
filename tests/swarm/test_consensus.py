import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarm.attacks import (
    ATTACKS,
    ColludingSplitAttack,
    ConstantAttack,
    make_attack,
    select_byzantine,
)
from swarm.robustness import is_r_robust, is_rs_robust
from swarm.simulate import simulate_consensus
from swarm.topology import robust_graph, to_csr


@settings(max_examples=40)
@given(
    seed=st.integers(0, 2**32 - 1),
    F=st.integers(1, 2),
    extra=st.integers(0, 7),
    attack=st.sampled_from(sorted(ATTACKS)),
    threat=st.sampled_from(["total", "local"]),
)
def test_wmsr_is_safe_and_converges_on_robust_graphs(seed, F, extra, attack, threat):
    rng = np.random.default_rng(seed)
    n = 2 * (2 * F + 1) - 1 + F + extra
    G = robust_graph(n, 2 * F + 1, rng)
    assert is_rs_robust(G, F + 1, F + 1)
    indptr, indices = to_csr(G)
    initial = rng.uniform(-5, 5, n)
    try:
        byz = select_byzantine(indptr, indices, F, rng, threat=threat, f=F)
    except ValueError:
        byz = select_byzantine(indptr, indices, F, rng, threat="total")
    res = simulate_consensus(
        (indptr, indices),
        initial,
        byz,
        make_attack(attack),
        protocol="wmsr",
        f=F,
        rounds=250,
        rng=rng,
    )
    honest = ~byz
    lo, hi = initial[honest].min(), initial[honest].max()
    h = res.trajectories[:, honest]
    # Safety, exactly: every honest value of every round inside the honest initial hull.
    assert h.min() >= lo and h.max() <= hi
    assert res.hull_violation == 0.0
    # Agreement.
    assert res.final_spread <= 1e-6 * (hi - lo)


def _two_cliques_with_byzantine_hub():
    """Two K4 joined by a perfect matching, plus one Byzantine robot linked to all.

    The whole graph is (2, 2)-robust, which suffices against one *malicious* robot
    (same value to everyone). Against a *Byzantine* one (different values to different
    neighbours) W-MSR needs the honest subgraph to be 2-robust (LeBlanc et al. 2013),
    and it is not: every honest robot has a single honest neighbour across the cut.
    """
    G = nx.disjoint_union(nx.complete_graph(4), nx.complete_graph(4))
    G.add_edges_from((i, i + 4) for i in range(4))
    G.add_edges_from((8, i) for i in range(8))
    byz = np.zeros(9, dtype=bool)
    byz[8] = True
    initial = np.array([0.0, 0.1, 0.2, 0.3, 0.7, 0.8, 0.9, 1.0, 0.5])
    return G, byz, initial


def test_regression_colluding_split_stops_consensus_on_non_robust_graph():
    G, byz, initial = _two_cliques_with_byzantine_hub()
    assert is_rs_robust(G, 2, 2)
    assert not is_r_robust(G.subgraph(range(8)), 2)
    res = simulate_consensus(
        G,
        initial,
        byz,
        ColludingSplitAttack(),
        protocol="wmsr",
        f=1,
        rounds=500,
        rng=np.random.default_rng(0),
    )
    assert res.hull_violation == 0.0  # still safe
    assert res.final_spread >= 0.4  # but the halves never meet
    assert res.converged_round is None


def test_search_finds_an_attack_that_stops_consensus_on_the_non_robust_graph():
    G, byz, initial = _two_cliques_with_byzantine_hub()
    stalled = []
    for name in sorted(ATTACKS):
        res = simulate_consensus(
            G,
            initial,
            byz,
            make_attack(name),
            protocol="wmsr",
            f=1,
            rounds=300,
            rng=np.random.default_rng(0),
        )
        if res.final_spread > 0.1:
            stalled.append(name)
    assert "colluding_split" in stalled


def test_same_graph_made_robust_enough_reaches_consensus_under_the_same_attack():
    G, byz, initial = _two_cliques_with_byzantine_hub()
    G.add_edges_from((i, (i + 1) % 4 + 4) for i in range(4))  # a second cross link each
    G.add_edges_from((i, (i + 2) % 4 + 4) for i in range(4))
    assert is_r_robust(G.subgraph(range(8)), 2)
    res = simulate_consensus(
        G,
        initial,
        byz,
        ColludingSplitAttack(),
        protocol="wmsr",
        f=1,
        rounds=500,
        rng=np.random.default_rng(0),
    )
    assert res.final_spread < 1e-9


def test_lcp_is_dragged_away_by_a_constant_attacker():
    rng = np.random.default_rng(5)
    G = robust_graph(20, 3, rng)
    initial = rng.uniform(0, 1, 20)
    byz = np.zeros(20, dtype=bool)
    byz[0] = True
    res = simulate_consensus(
        G, initial, byz, ConstantAttack(value=10.0), protocol="lcp", rounds=2000, rng=rng
    )
    # LCP converges to the stubborn attacker's value: far outside the honest hull.
    assert res.final_mean == pytest.approx(10.0, rel=1e-6)
    assert res.hull_violation > 8.9
    wm = simulate_consensus(
        G, initial, byz, ConstantAttack(value=10.0), protocol="wmsr", f=1, rounds=2000, rng=rng
    )
    assert wm.hull_violation == 0.0


def test_nothing_a_byzantine_robot_sends_corrupts_honest_state():
    rng = np.random.default_rng(6)
    G = robust_graph(15, 3, rng)
    initial = rng.uniform(0, 1, 15)
    byz = np.zeros(15, dtype=bool)
    byz[[0, 1]] = True
    for name in ("non_finite", "huge"):
        res = simulate_consensus(
            G, initial, byz, make_attack(name), protocol="lcp", rounds=50, rng=rng
        )
        assert np.all(np.isfinite(res.trajectories[:, ~byz]))


class _WrongShape(ConstantAttack):
    def messages(self, t, values):
        return np.zeros(3)


def test_attack_returning_wrong_shape_is_a_clear_error():
    G = robust_graph(10, 2, np.random.default_rng(0))
    byz = np.zeros(10, dtype=bool)
    byz[0] = True
    with pytest.raises(ValueError, match=r"_WrongShape.messages returned shape \(3,\)"):
        simulate_consensus(
            G, np.zeros(10), byz, _WrongShape(), rounds=2, rng=np.random.default_rng(0)
        )


def _run(seed):
    rng = np.random.default_rng(seed)
    G = robust_graph(30, 3, rng)
    indptr, indices = to_csr(G)
    byz = select_byzantine(indptr, indices, 1, rng)
    return simulate_consensus(
        G, rng.random(30), byz, make_attack("noise"), protocol="wmsr", f=1, rounds=40, rng=rng
    ).trajectories


def test_same_seed_same_trajectories_bit_for_bit():
    a, b, c = _run(11), _run(11), _run(12)
    assert a.tobytes() == b.tobytes()
    assert a.shape != c.shape or a.tobytes() != c.tobytes()


def test_every_robot_byzantine_is_refused():
    """With no honest robot there is no consensus to measure: refuse, never NaN metrics."""
    G = nx.complete_graph(4)
    with pytest.raises(ValueError, match="at least one robot must be honest"):
        simulate_consensus(
            G,
            np.zeros(4),
            np.ones(4, bool),
            make_attack("constant"),
            protocol="wmsr",
            f=1,
            rounds=3,
            rng=np.random.default_rng(0),
        )
