import networkx as nx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.dbp import (
    ACCUSATION,
    OBSERVATION,
    AccusationGossip,
    DynamicBlocklist,
    Flood,
    accusation_graph,
    blocklist,
    maximum_matching,
)


@st.composite
def accusation_sets(draw, max_n=24, max_m=60):
    n = draw(st.integers(2, max_n))
    pairs = draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda p: p[0] != p[1]),
            max_size=max_m,
        )
    )
    return n, np.array(pairs, dtype=np.int64).reshape(-1, 2)


def nx_graph(acc, n):
    G = nx.Graph()
    G.add_nodes_from(range(n))
    G.add_edges_from(map(tuple, acc.tolist()))
    return G


# --- matching --------------------------------------------------------------------------


@given(accusation_sets())
def test_matching_is_maximum_like_networkx(data):
    n, acc = data
    mate = maximum_matching(acc, n)
    G = nx_graph(acc, n)
    for v in range(n):
        if mate[v] >= 0:
            assert mate[mate[v]] == v
            assert G.has_edge(v, int(mate[v]))
    nu = len(nx.max_weight_matching(G, maxcardinality=True))
    assert (mate >= 0).sum() == 2 * nu
    assert blocklist(acc, n).sum() == 2 * nu


@pytest.mark.parametrize("n,p", [(200, 0.01), (200, 0.03), (120, 0.2), (300, 0.005)])
def test_matching_on_larger_random_graphs(n, p):
    rng = np.random.default_rng(n + int(1000 * p))
    G = nx.gnp_random_graph(n, p, seed=int(rng.integers(1 << 30)))
    acc = np.array(list(G.edges), dtype=np.int64).reshape(-1, 2)
    mate = maximum_matching(acc, n)
    nu = len(nx.max_weight_matching(G, maxcardinality=True))
    assert (mate >= 0).sum() == 2 * nu
    assert all(
        G.has_edge(v, int(mate[v])) and mate[mate[v]] == v for v in np.flatnonzero(mate >= 0)
    )


@given(accusation_sets(), st.randoms(use_true_random=False))
def test_blocklist_depends_only_on_the_set(data, rnd):
    n, acc = data
    ref = blocklist(acc, n)
    rows = acc.tolist()
    rows += [rows[rnd.randrange(len(rows))] for _ in range(len(rows) // 2)] if rows else []
    rows = [r[::-1] if rnd.random() < 0.5 else r for r in rows]
    rnd.shuffle(rows)
    assert np.array_equal(blocklist(np.array(rows, dtype=np.int64).reshape(-1, 2), n), ref)


@given(accusation_sets(), st.randoms(use_true_random=False))
def test_incremental_updates_equal_the_canonical_blocklist(data, rnd):
    n, acc = data
    rows = acc.tolist()
    rnd.shuffle(rows)
    dyn = DynamicBlocklist(n)
    for k, (a, b) in enumerate(rows):
        before = dyn.blocked.copy()
        changed = dyn.add(a, b)
        assert np.array_equal(dyn.blocked, blocklist(np.array(rows[: k + 1]), n))
        assert set(changed.tolist()) == set(np.flatnonzero(before != dyn.blocked).tolist())
    assert np.array_equal(dyn.mate, maximum_matching(acc, n))
    dyn2 = DynamicBlocklist(n)
    dyn2.add_many(acc)
    assert np.array_equal(dyn2.blocked, blocklist(acc, n))


@st.composite
def sound_accusations(draw):
    n = draw(st.integers(3, 24))
    byz = draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=n - 1))
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=50))
    # Cooperative robots only accuse Byzantine ones; Byzantine robots accuse anyone.
    acc = [(a, b) for a, b in pairs if a != b and (a in byz or b in byz)]
    return n, np.array(sorted(byz)), np.array(acc, dtype=np.int64).reshape(-1, 2)


@given(sound_accusations())
def test_sound_accusations_block_at_most_one_cooperative_per_byzantine(data):
    n, byz, acc = data
    is_byz = np.zeros(n, dtype=bool)
    is_byz[byz] = True
    mate = maximum_matching(acc, n)
    for v in np.flatnonzero(mate >= 0):
        assert is_byz[v] or is_byz[mate[v]]
    blocked = mate >= 0
    assert (blocked & ~is_byz).sum() <= (blocked & is_byz).sum()


@given(sound_accusations(), st.randoms(use_true_random=False))
def test_every_byzantine_blocked_when_accused_by_distinct_cooperative_robots(data, rnd):
    n, byz, acc = data
    coop = [v for v in range(n) if v not in set(byz.tolist())]
    if len(coop) < len(byz):
        return
    rnd.shuffle(coop)
    witnesses = np.array([(c, b) for c, b in zip(coop, byz.tolist(), strict=False)])
    blocked = blocklist(np.concatenate([acc, witnesses]), n)
    assert blocked[byz].all()


def test_blocklist_of_a_path_is_canonical_and_documented():
    # Path 0-1-2: two maximum matchings ({0,1} and {1,2}); the greedy start takes vertices in
    # increasing order, each with its smallest free neighbour, so 0 is matched with 1.
    assert blocklist([[2, 1], [1, 0]], 3).tolist() == [True, True, False]
    indptr, indices = accusation_graph([[2, 1], [1, 0], [0, 1]], 3)
    assert indptr.tolist() == [0, 1, 3, 4]
    assert indices.tolist() == [1, 0, 2, 1]


def test_empty_and_bad_accusations():
    assert blocklist(np.empty((0, 2), dtype=int), 4).tolist() == [False] * 4
    with pytest.raises(ValueError, match="accused index must lie in"):
        blocklist([[0, 5]], 5)
    with pytest.raises(ValueError, match="accuser index must lie in"):
        blocklist([[-1, 2]], 5)
    with pytest.raises(ValueError, match="accuses itself"):
        blocklist([[0, 1], [3, 3]], 5)
    with pytest.raises(ValueError, match="shape"):
        blocklist([[0, 1, 2]], 5)
    with pytest.raises(TypeError, match="integers"):
        blocklist([[0.0, 1.0]], 5)
    dyn = DynamicBlocklist(4)
    with pytest.raises(ValueError, match="accused must be <= 3"):
        dyn.add(0, 4)
    with pytest.raises(ValueError, match="accuses itself"):
        dyn.add(2, 2)


# --- flooding --------------------------------------------------------------------------


def csr(G, n):
    rows = [sorted(G.neighbors(v)) for v in range(n)]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=indptr[1:])
    return indptr, np.array([u for r in rows for u in r], dtype=np.int64)


@given(st.integers(2, 25), st.floats(0.05, 0.5), st.integers(0, 6), st.integers(0, 10**6))
def test_flood_reaches_exactly_the_hop_ball_once(n, p, hop_limit, seed):
    G = nx.gnp_random_graph(n, p, seed=seed)
    indptr, indices = csr(G, n)
    flood = Flood(n, payload_dim=1, hop_limit=hop_limit)
    origin = seed % n
    flood.send_observations([origin], 0, [[3.5]])
    flood.send_accusations([origin], [(origin + 1) % n], 0)
    got = {OBSERVATION: {}, ACCUSATION: {}}
    for step in range(1, n + 2):
        d = flood.step(indptr, indices, symmetric=True)
        for v, h, kind, payload in zip(d.receiver, d.hops, d.kind, d.payload[:, 0], strict=True):
            assert v not in got[kind] and v != origin  # deduplicated
            assert h == step  # one hop per step
            got[kind][int(v)] = int(h)
            if kind == OBSERVATION:
                assert payload == 3.5
    dist = nx.single_source_shortest_path_length(G, origin)
    assert got[OBSERVATION] == {v: h for v, h in dist.items() if 0 < h <= hop_limit}
    # Accusations flood the whole component, whatever the observation hop limit.
    assert got[ACCUSATION] == {v: h for v, h in dist.items() if h > 0}
    assert len(flood) == 0


def test_flood_on_a_path_forwards_step_by_step_and_forgets():
    n = 6
    G = nx.path_graph(n)
    indptr, indices = csr(G, n)
    flood = Flood(n, hop_limit=3)
    flood.send_observations([0], 7)
    seen = []
    for _ in range(5):
        d = flood.step(indptr, indices)
        seen.append(
            [
                (int(v), int(h), int(o), int(ts))
                for v, h, o, ts in zip(d.receiver, d.hops, d.origin, d.timestamp, strict=True)
            ]
        )
    assert seen == [[(1, 1, 0, 7)], [(2, 2, 0, 7)], [(3, 3, 0, 7)], [], []]
    assert flood.finished["origin"].size == 0 and len(flood) == 0


def test_blocked_origins_observations_are_dropped_accusations_are_not():
    n = 5
    G = nx.path_graph(n)
    indptr, indices = csr(G, n)
    blocked = np.zeros(n, dtype=bool)
    blocked[0] = True
    flood = Flood(n, hop_limit=4)
    flood.send_observations([0, 4], 0)
    flood.send_accusations([0], [3], 0)
    delivered = []
    for _ in range(6):
        d = flood.step(indptr, indices, blocked)
        delivered += list(zip(d.kind.tolist(), d.origin.tolist(), d.receiver.tolist(), strict=True))
    obs_from_0 = [r for k, o, r in delivered if k == OBSERVATION and o == 0]
    acc_from_0 = sorted(r for k, o, r in delivered if k == ACCUSATION and o == 0)
    obs_from_4 = sorted(r for k, o, r in delivered if k == OBSERVATION and o == 4)
    assert obs_from_0 == []
    assert acc_from_0 == [1, 2, 3, 4]
    assert obs_from_4 == [0, 1, 2, 3]


def test_blocking_mid_flood_stops_forwarding():
    n = 6
    indptr, indices = csr(nx.path_graph(n), n)
    flood = Flood(n, hop_limit=5)
    flood.send_observations([0], 0)
    blocked = np.zeros(n, dtype=bool)
    assert flood.step(indptr, indices, blocked).receiver.tolist() == [1]
    blocked[0] = True
    assert len(flood.step(indptr, indices, blocked)) == 0
    assert len(flood) == 0


def test_non_relays_receive_but_do_not_forward_yet_send_their_own():
    n = 4
    indptr, indices = csr(nx.path_graph(n), n)
    relays = np.array([True, False, True, True])
    flood = Flood(n, hop_limit=4)
    flood.send_observations([0, 1], 0)
    rec = []
    for _ in range(4):
        d = flood.step(indptr, indices, relays=relays)
        rec += list(zip(d.origin.tolist(), d.receiver.tolist(), strict=True))
    assert sorted(r for o, r in rec if o == 0) == [1]
    assert sorted(r for o, r in rec if o == 1) == [0, 2, 3]


def test_in_edge_csr_direction():
    # Robot 1 hears robot 0 (in-edge 0 -> 1); robot 0 hears nobody.
    indptr = np.array([0, 0, 1])
    indices = np.array([0])
    flood = Flood(2)
    flood.send_observations([0, 1], 0)
    d = flood.step(indptr, indices)
    assert list(zip(d.origin.tolist(), d.receiver.tolist(), strict=True)) == [(0, 1)]


def test_hop_limit_zero_never_delivers():
    indptr, indices = csr(nx.complete_graph(3), 3)
    flood = Flood(3, hop_limit=0)
    flood.send_observations([0], 0)
    assert len(flood.step(indptr, indices)) == 0


def test_flood_bad_input():
    with pytest.raises(ValueError, match="hop_limit must be >= 0"):
        Flood(3, hop_limit=-1)
    with pytest.raises(ValueError, match="accusation_hop_limit must be >= 0"):
        Flood(3, accusation_hop_limit=-2)
    flood = Flood(3, payload_dim=2)
    with pytest.raises(ValueError, match="accused must lie in"):
        flood.send_accusations([0], [3], 0)
    with pytest.raises(ValueError, match="accuses itself"):
        flood.send_accusations([1], [1], 0)
    with pytest.raises(ValueError, match="payload must have shape"):
        flood.send_observations([0], 0, [[1.0]])
    with pytest.raises(ValueError, match="origins must lie in"):
        flood.send_observations([5], 0)
    indptr, indices = csr(nx.complete_graph(3), 3)
    with pytest.raises(ValueError, match="blocked must have shape"):
        flood.step(indptr, indices, np.zeros(2, dtype=bool))
    with pytest.raises(TypeError, match="blocked must be a boolean"):
        flood.step(indptr, indices, np.zeros(3))


def test_non_finite_payloads_are_carried_without_crashing():
    indptr, indices = csr(nx.complete_graph(3), 3)
    flood = Flood(3, payload_dim=1)
    flood.send_observations([0], 0, [[np.nan]])
    d = flood.step(indptr, indices)
    assert np.isnan(d.payload).all() and sorted(d.receiver.tolist()) == [1, 2]


def test_deliveries_kept_by_the_caller_are_never_overwritten():
    # Flood reuses the memory of a step's deliveries once the caller has dropped them;
    # whatever the caller still holds (whole deliveries, or one array of them) must
    # keep its values through later steps.
    n = 30
    rng = np.random.default_rng(4)
    flood = Flood(n, payload_dim=1, hop_limit=3)
    kept, receivers = [], []
    for t in range(8):
        indptr, indices = csr(nx.random_geometric_graph(n, 0.35, seed=t), n)
        senders = rng.choice(n, size=20, replace=False)
        flood.send_observations(senders, t, np.full((20, 1), float(t)))
        d = flood.step(indptr, indices, symmetric=True)
        if t % 2:
            kept.append((d, [a.copy() for a in d.arrays]))
        else:
            receivers.append((d.receiver, d.receiver.copy()))
        del d
    assert all(len(copies[0]) for _, copies in kept)
    for d, copies in kept:
        assert all(np.array_equal(a, c) for a, c in zip(d.arrays, copies, strict=True))
    for r, c in receivers:
        assert np.array_equal(r, c)


# --- accusation gossip -----------------------------------------------------------------


@given(st.integers(2, 20), st.floats(0.05, 0.6), st.integers(0, 10**6), st.integers(1, 70))
def test_gossip_holders_are_bfs_balls_until_the_component_is_covered(n, p, seed, k):
    G = nx.gnp_random_graph(n, p, seed=seed)
    indptr, indices = csr(G, n)
    rng = np.random.default_rng(seed)
    a = int(rng.integers(0, n))
    b = (a + 1) % n
    gossip = AccusationGossip(n)
    gossip.issue([a], [b], 0)
    # Unrelated accusations (against robots other than b) flood alongside.
    others = rng.integers(0, n, size=k - 1)
    others = others[others != a]
    gossip.issue(others, (others + 1) % n, 0)
    gossip.issue(np.array([], dtype=int), np.array([], dtype=int), 0)
    dist = nx.single_source_shortest_path_length(G, a)
    ecc = max(dist.values())
    end = max(ecc, 1) + 1
    total = 0
    for step in range(1, end + 1):
        held = set(np.flatnonzero(gossip.holds_against(np.arange(n), np.full(n, b))).tolist())
        assert held == {v for v, d in dist.items() if d <= step - 1}
        out = gossip.step(indptr, indices, symmetric=True)
        total += out["accuser"].size
        mine = [
            (x, y) for x, y in zip(out["accuser"], out["accused"], strict=True) if (x, y) == (a, b)
        ]
        assert len(mine) == (1 if step == end else 0)
    for _ in range(n + 2):
        total += gossip.step(indptr, indices, symmetric=True)["accuser"].size
    assert total == 1 + others.size and len(gossip) == 0


def test_gossip_finishes_when_the_component_is_covered():
    n = 5
    indptr, indices = csr(nx.path_graph(n), n)
    gossip = AccusationGossip(n)
    gossip.issue([0], [1], 3)
    ends = [gossip.step(indptr, indices)["accuser"].tolist() for _ in range(6)]
    # Holders grow for 4 steps (robots 1..4), the 5th step adds nobody.
    assert ends == [[], [], [], [], [0], []]


# --- threads ---------------------------------------------------------------------------

THREAD_SCRIPT = """
import hashlib, sys
import numpy as np
from protocols.dbp import AccusationGossip, Flood
from swarm.mobility import MobileSwarm
from swarm.dbp_cases import run_case

def digest():
    h = hashlib.sha256()
    rng = np.random.default_rng(7)
    swarm = MobileSwarm(400, rng, arena=60.0, radio_range=8.0)
    flood = Flood(400, payload_dim=1, hop_limit=3)
    gossip = AccusationGossip(400)
    relays = rng.random(400) < 0.9
    for t in range(12):
        swarm.step()
        indptr, indices = swarm.comm_graph()
        blocked = rng.random(400) < 0.05
        d = flood.step(indptr, indices, blocked, relays, symmetric=True)
        for a in (d.receiver, d.sender, d.hops, d.origin, d.payload):
            h.update(np.ascontiguousarray(a).tobytes())
        fin = gossip.step(indptr, indices, relays)
        for a in fin.values():
            h.update(a.tobytes())
        h.update(gossip.held.tobytes())
        who = rng.choice(400, size=50, replace=False)
        flood.send_observations(who, t, rng.random((50, 1)))
        gossip.issue(who[:25], who[25:], t)
    for case in ("target_tracking", "time_sync", "localization"):
        r = run_case(case, n_robots=300, arena=170.0, ticks=12, seed=3, n_anchors=40)
        for a in (r.error, r.error_max, r.byzantine_blocked, r.cooperative_blocked):
            h.update(a.tobytes())
    return h.hexdigest()

if __name__ == "__main__":
    import numba
    numba.set_num_threads(int(sys.argv[1]))
    print(digest())
"""


def test_flood_gossip_and_cases_are_identical_for_one_and_two_threads(tmp_path):
    # Each message's holders (flood) and each robot's new bits (gossip) are computed
    # independently and written at positions fixed by message / robot order, so the
    # thread count cannot change a single bit.
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "threads.py"
    script.write_text(THREAD_SCRIPT)
    root = str(Path(__file__).resolve().parents[2])
    env = {
        **os.environ,
        "NUMBA_NUM_THREADS": "2",
        "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    out = [
        subprocess.run(
            [sys.executable, str(script), k], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        for k in ("1", "2")
    ]
    assert len(out[0]) == 64 and out[0] == out[1]


@given(st.integers(2, 40), st.floats(0.05, 0.5), st.integers(0, 10**6))
def test_gossip_processing_order_never_changes_the_result(n, p, seed):
    from protocols.dbp import locality_order

    G = nx.gnp_random_graph(n, p, seed=seed)
    indptr, indices = csr(G, n)
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n, size=30)
    b = (a + 1 + rng.integers(0, n - 1, size=30)) % n
    orders = [None, rng.permutation(n), locality_order(rng.random((n, 2)), 0.2)]
    gossips = [AccusationGossip(n) for _ in orders]
    for g in gossips:
        g.issue(a, b, 0)
    for _ in range(n + 1):
        outs = [g.step(indptr, indices, order=o) for g, o in zip(gossips, orders, strict=True)]
        for g, out in zip(gossips[1:], outs[1:], strict=True):
            assert np.array_equal(g.held, gossips[0].held)
            assert all(np.array_equal(out[k], outs[0][k]) for k in out)
    with pytest.raises(ValueError, match="order must be a permutation"):
        gossips[0].step(indptr, indices, order=np.zeros(n, dtype=int))
