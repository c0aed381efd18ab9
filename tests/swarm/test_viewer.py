"""The viewer file: recorded messages, exact data round trip, W-MSR trimming, size bounds."""

import base64
import json
import re

import numpy as np
import pytest

from protocols.wmsr import lcp_step, wmsr_step
from swarm.attacks import make_attack, select_byzantine
from swarm.dbp_cases import DBPConfig, make_case
from swarm.simulate import simulate_consensus
from swarm.topology import robust_geometric, to_csr
from swarm.viewer import (
    MAX_BYTES,
    DBPRecorder,
    consensus_stride,
    write_consensus_viewer,
    write_dbp_viewer,
)


def page_data(path):
    html = path.read_text(encoding="utf-8")
    blob = re.search(
        r'<script id="viewer-data" type="application/json">(.*?)</script>', html, re.S
    ).group(1)
    return json.loads(blob)


def decode(s, dtype):
    return np.frombuffer(base64.b64decode(s), dtype=dtype)


def consensus_run(n=60, rounds=50, attack="two_faced", seed=0, record=1, protocols=("lcp", "wmsr")):
    rng = np.random.default_rng(seed)
    G = robust_geometric(n, 5, 0.2, rng)
    indptr, indices = to_csr(G)
    byz = select_byzantine(indptr, indices, 2, rng, threat="total")
    init = rng.random(n)
    results = [
        simulate_consensus(
            (indptr, indices),
            init,
            byz,
            make_attack(attack),
            protocol=p,
            f=2,
            rounds=rounds,
            rng=np.random.default_rng(1),
            record_messages=record,
        )
        for p in protocols
    ]
    return G, indptr, indices, byz, results


def kernel_inputs(indptr, indices, byz, res, t, k=1):
    """The messages the kernel saw in round t: honest values, Byzantine rows recorded."""
    msgs = res.trajectories[t][indices].copy()
    from_byz = byz[indices]
    msgs[from_byz] = res.messages[t // k]
    return msgs


def reference_trim(x, received, f):
    """W-MSR's rule written from its definition (LeBlanc et al. 2013), by sorting."""
    fin = [v for v in received if np.isfinite(v)]
    above = sorted((v for v in fin if v > x), reverse=True)
    below = sorted(v for v in fin if v < x)
    trimmed = above[:f] + below[:f]
    kept = above[f:] + below[f:] + [v for v in fin if v == x]
    return sorted(trimmed), kept


@pytest.mark.parametrize("attack", ["two_faced", "non_finite", "huge", "colluding_split"])
def test_recorded_messages_are_what_the_kernel_used(attack):
    _, indptr, indices, byz, results = consensus_run(attack=attack)
    honest = ~byz
    for res in results:
        assert res.messages.shape == (50, int(byz[indices].sum()))
        step = wmsr_step if res.protocol == "wmsr" else lcp_step
        args = {"f": 2} if res.protocol == "wmsr" else {}
        for t in (0, 7, 49):
            vals = res.trajectories[t].copy()
            vals[byz] = 0.0
            new = step(vals, indptr, indices, kernel_inputs(indptr, indices, byz, res, t), **args)
            np.testing.assert_array_equal(new[honest], res.trajectories[t + 1][honest])


def test_record_messages_stride_and_default():
    *_, full = consensus_run(record=1, protocols=("wmsr",))
    *_, thin = consensus_run(record=7, protocols=("wmsr",))
    *_, none = consensus_run(record=0, protocols=("wmsr",))
    np.testing.assert_array_equal(thin[0].messages, full[0].messages[::7])
    np.testing.assert_array_equal(none[0].trajectories, full[0].trajectories)
    assert none[0].messages is None
    with pytest.raises(ValueError, match="record_messages"):
        consensus_run(record=-1, protocols=("wmsr",))


def test_page_data_round_trips_exactly_and_trimming_matches_the_kernel(tmp_path):
    G, indptr, indices, byz, results = consensus_run(attack="two_faced")
    path = write_consensus_viewer(
        tmp_path / "v.html",
        G,
        results,
        np.array([G.nodes[i]["pos"] for i in range(60)]),
        radius=0.2,
    )
    d = page_data(path)
    assert d["stride"] == 1 and d["n"] == 60
    assert decode(d["rounds"], "<i4").tolist() == list(range(51))
    np.testing.assert_array_equal(decode(d["indptr"], "<i4"), indptr)
    wmsr = next(p for p in d["panels"] if p["name"] == "wmsr")
    res = results[1]
    vals = decode(wmsr["values"], "<f8").reshape(51, 60)
    np.testing.assert_array_equal(vals, res.trajectories)
    msgs = decode(wmsr["messages"], "<f8").reshape(50, -1)
    # The page's reconstruction (written again here, as in the page): robot i received
    # the stored values of its honest in-neighbours and the stored Byzantine messages;
    # the rule applied to them reproduces the kernel's next value.
    byz_col = np.cumsum(byz[indices]) - 1
    checked = 0
    for t in (0, 3, 20):
        for i in np.flatnonzero(~byz):
            edges = range(indptr[i], indptr[i + 1])
            rec = [msgs[t, byz_col[e]] if byz[indices[e]] else vals[t, indices[e]] for e in edges]
            trimmed, kept = reference_trim(vals[t, i], rec, 2)
            x = vals[t, i]
            assert wmsr_step(
                [x], np.array([0, len(kept)]), np.zeros(len(kept), dtype=int), kept, f=0
            )[0] == pytest.approx(res.trajectories[t + 1, i], rel=1e-12, abs=1e-15)
            checked += len(trimmed) > 0
    assert checked > 50


def test_size_100_robots_200_rounds_under_2mb(tmp_path):
    rng = np.random.default_rng(3)
    G = robust_geometric(100, 5, 0.15, rng)
    indptr, indices = to_csr(G)
    byz = select_byzantine(indptr, indices, 2, rng, threat="total")
    k = consensus_stride(100, 200, 2, int(byz[indices].sum()), G.number_of_edges())
    assert k == 1
    res = [
        simulate_consensus(
            G,
            rng.random(100),
            byz,
            make_attack("two_faced"),
            protocol=p,
            f=2,
            rounds=200,
            rng=np.random.default_rng(0),
            record_messages=k,
        )
        for p in ("lcp", "wmsr")
    ]
    path = write_consensus_viewer(
        tmp_path / "v.html", G, res, np.array([G.nodes[i]["pos"] for i in range(100)]), radius=0.15
    )
    assert path.stat().st_size < 2_000_000


def test_large_run_is_thinned_under_20mb_and_says_so(tmp_path):
    n, rounds = 1500, 2500
    rng = np.random.default_rng(4)
    G = robust_geometric(n, 3, 0.05, rng)
    indptr, indices = to_csr(G)
    byz = select_byzantine(indptr, indices, 1, rng, threat="total")
    k = consensus_stride(n, rounds, 2, int(byz[indices].sum()), G.number_of_edges())
    # Every round would be 2 * 1500 * 2501 float64 values: 60 MB before base64.
    assert k > 1
    res = [
        simulate_consensus(
            (indptr, indices),
            rng.random(n),
            byz,
            make_attack("noise"),
            protocol=p,
            f=1,
            rounds=rounds,
            rng=np.random.default_rng(0),
            record_messages=k,
        )
        for p in ("lcp", "wmsr")
    ]
    pos = np.array([G.nodes[i]["pos"] for i in range(n)])
    path = write_consensus_viewer(tmp_path / "v.html", G, res, pos, radius=0.05, stride=k)
    assert 2_000_000 < path.stat().st_size < MAX_BYTES
    d = page_data(path)
    stored = decode(d["rounds"], "<i4")
    assert d["stride"] == k and stored[-1] == rounds
    np.testing.assert_array_equal(
        stored[:-1] if rounds % k else stored, np.arange(0, rounds + 1, k)
    )
    assert '-th " + D.round_name' in path.read_text()  # the page states the stride
    with pytest.raises(ValueError, match="stride"):
        write_consensus_viewer(tmp_path / "w.html", G, res, pos, stride=1)


def test_bad_arguments(tmp_path):
    G, *_, results = consensus_run(n=20, rounds=5)
    with pytest.raises(ValueError, match="positions"):
        write_consensus_viewer(tmp_path / "v.html", G, results, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="results"):
        write_consensus_viewer(tmp_path / "v.html", G, [], np.zeros((20, 2)))
    _, _, _, _, longer = consensus_run(n=20, rounds=6)
    with pytest.raises(ValueError, match="5 rounds"):
        write_consensus_viewer(tmp_path / "v.html", G, [results[0], longer[0]], np.zeros((20, 2)))
    with pytest.raises(ValueError, match="every"):
        DBPRecorder(0)


def test_dbp_recorder_keeps_frames_blocked_and_accusations(tmp_path):
    cfg = DBPConfig(n_robots=40, ticks=25, arena=60.0, defence="dbp")
    case = make_case("target_tracking", cfg, np.random.default_rng(2))
    rec = DBPRecorder(every=4)
    for _ in range(cfg.ticks):
        case.step()
        rec.record(case)
    res = case.result()
    assert rec.ticks == [1, 5, 9, 13, 17, 21, 25]
    np.testing.assert_array_equal(rec.positions[-1], case.swarm.positions)
    # The blocklist is a maximum matching of the accusations: both ends of each matched
    # accusation are blocked, so the blocked count is even and every blocked robot is an
    # end of a recorded accusation.
    blocked = rec.blocked[-1]
    assert blocked.sum() == res.byzantine_blocked[-1] + res.cooperative_blocked[-1]
    assert blocked.sum() % 2 == 0 and blocked.sum() > 0
    acc = rec.accusations
    assert len(acc) == res.accusations
    assert set(np.flatnonzero(blocked)) <= set(acc[:, 0]) | set(acc[:, 1])
    err = rec.errors[-1]
    assert np.isnan(err[res.byzantine]).all() and np.isfinite(err[~res.byzantine]).all()
    assert np.mean(err[~res.byzantine]) == pytest.approx(res.error[-1])
    path = write_dbp_viewer(
        tmp_path / "v.html",
        {"dbp": rec},
        {"dbp": res},
        {"dbp": "DBP"},
        arena=60.0,
        radio_range=20.0,
    )
    d = page_data(path)
    np.testing.assert_array_equal(
        decode(d["panels"][0]["blocked"], "u1").reshape(7, 40), np.stack(rec.blocked)
    )


def test_large_dbp_run_is_thinned_under_20mb(tmp_path):
    from swarm.dbp_cases import CaseResult
    from swarm.viewer import dbp_every

    n, ticks, defences = 20_000, 200, ("none", "wmsr_small", "wmsr_large", "dbp")
    every = dbp_every(n, ticks, len(defences))
    # Every tick of four defences would be 4 * 200 * 20000 robots * 13 bytes = 208 MB.
    assert every > 1
    rng = np.random.default_rng(0)
    byz = np.zeros(n, dtype=bool)
    byz[:2000] = True
    kept = [*range(1, ticks + 1, every)]
    kept += [ticks] if kept[-1] != ticks else []
    recs, results = {}, {}
    for d in defences:
        rec = DBPRecorder(every)
        rec.ticks = kept
        rec.positions = [rng.uniform(0, 100, (n, 2)) for _ in kept]
        rec.blocked = [rng.random(n) < 0.1 for _ in kept]
        rec.errors = [np.where(byz, np.nan, rng.random(n)) for _ in kept]
        recs[d] = rec
        err = rng.random(ticks)
        results[d] = CaseResult(
            "target_tracking",
            d,
            "fake",
            err,
            err + 1,
            np.zeros(ticks, int),
            np.zeros(ticks, int),
            None,
            0,
            byz,
        )
    path = write_dbp_viewer(
        tmp_path / "v.html", recs, results, {d: d for d in defences}, arena=100.0, radio_range=20.0
    )
    assert 2_000_000 < path.stat().st_size < MAX_BYTES
    d = page_data(path)
    assert d["stride"] == every and decode(d["rounds"], "<i4").tolist() == kept
