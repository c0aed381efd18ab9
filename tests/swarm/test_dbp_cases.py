import networkx as nx
import numpy as np
import pytest

from swarm.dbp_cases import ATTACKS, CASES, DBPConfig, make_case, run_case
from swarm.dbp_claims import bridged_cliques, connectivity_claim, single_observer_claim

# A dense static swarm: every robot is within the hop limit of every other one.
DENSE = dict(n_robots=80, arena=50.0, motion="static", ticks=30, seed=2)


def test_dense_setting_is_within_hop_limit():
    case = make_case(
        "target_tracking",
        DBPConfig(**{k: v for k, v in DENSE.items() if k != "seed"}),
        np.random.default_rng(2),
    )
    indptr, indices = case.graph
    G = nx.Graph([(i, int(j)) for i in range(case.n) for j in indices[indptr[i] : indptr[i + 1]]])
    coop = G.subgraph(np.flatnonzero(case.coop).tolist())
    assert nx.is_connected(coop) and nx.diameter(coop) <= case.cfg.hop_limit


def test_target_tracking_dbp_tracks_and_no_defence_is_captured():
    cfg = DBPConfig(**{k: v for k, v in DENSE.items() if k != "seed"})
    # Once the Byzantine robots are blocked, a robot's estimate averages observations
    # at most hop_limit ticks old: off by at most the noise bound plus the target's travel.
    bound = cfg.noise * np.sqrt(2) + cfg.hop_limit * cfg.target_speed * cfg.dt
    dbp = run_case("target_tracking", defence="dbp", **DENSE)
    none = run_case("target_tracking", defence="none", **DENSE)
    assert dbp.all_blocked_tick is not None
    assert np.all(dbp.error_max[dbp.all_blocked_tick + cfg.hop_limit :] <= bound)
    assert none.error_max[-1] > bound


def test_time_sync_dbp_is_exact_and_no_defence_takes_the_byzantine_clock():
    dbp = run_case("time_sync", defence="dbp", n_anchors=16, **DENSE)
    none = run_case("time_sync", defence="none", n_anchors=16, **DENSE)
    # Observers hold the true time and honest clocks lag it, so the max is exact.
    assert dbp.all_blocked_tick is not None and dbp.error_max[-1] < 1e-9
    # Without a defence every robot adopts the largest report: true time + offset.
    assert none.error[-1] == pytest.approx(50.0, abs=1e-9)


def test_localization_dbp_boxes_hold_the_truth_and_no_defence_loses_it():
    cfg = DBPConfig(**{k: v for k, v in DENSE.items() if k != "seed"})
    dbp = run_case("localization", defence="dbp", n_anchors=8, **DENSE)
    none = run_case("localization", defence="none", n_anchors=8, **DENSE)
    # With only true boxes accepted, the estimate lies inside the robot's own box.
    half_diagonal = cfg.coarse_error * np.sqrt(2)
    assert dbp.all_blocked_tick is not None
    assert np.all(dbp.error_max[dbp.all_blocked_tick + 1 :] <= half_diagonal + 1e-9)
    assert none.error_max[-1] > half_diagonal


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("attack", ATTACKS)
def test_suspicion_rules_are_sound(case, attack):
    # Every accusation edge holds a Byzantine robot (cooperative robots only accuse
    # Byzantine ones, Byzantine accusers are Byzantine), so the matching blocks at most
    # one cooperative robot per Byzantine robot, at every tick.
    r = run_case(case, defence="dbp", attack=attack, n_robots=60, ticks=25, seed=4, n_anchors=8)
    assert np.all(r.cooperative_blocked <= r.byzantine_blocked)
    if attack != "silent":
        assert r.byzantine_blocked[-1] > 0


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("defence", ["none", "wmsr", "dbp"])
def test_non_finite_reports_never_corrupt_cooperative_state(case, defence):
    garbage = run_case(case, defence=defence, attack="garbage", wmsr_f=2, **DENSE)
    silent = run_case(case, defence=defence, attack="silent", wmsr_f=2, **DENSE)
    assert np.all(np.isfinite(garbage.error_max))
    if defence == "dbp":
        # Non-finite reports are accused at once by every robot receiving them.
        assert garbage.all_blocked_tick is not None
    else:
        # Without a blocklist, dropping non-finite reports is the same as silence.
        assert np.array_equal(garbage.error, silent.error)


def test_robots_that_stop_sending_are_caught_in_tracking():
    r = run_case(
        "target_tracking",
        defence="dbp",
        attack="silent",
        n_robots=120,
        byzantine_fraction=0.2,
        ticks=60,
        seed=1,
    )
    assert r.byzantine_blocked[-1] > 0
    assert np.all(r.cooperative_blocked <= r.byzantine_blocked)


def test_same_seed_same_run():
    a = run_case("target_tracking", defence="dbp", attack="false_accusation", ticks=15, seed=9)
    b = run_case("target_tracking", defence="dbp", attack="false_accusation", ticks=15, seed=9)
    assert np.array_equal(a.error, b.error) and np.array_equal(a.byzantine, b.byzantine)
    assert np.array_equal(a.cooperative_blocked, b.cooperative_blocked)


def test_wmsr_with_large_f_keeps_clocks_below_true_time():
    # With F >= the number of Byzantine robots, every Byzantine value is trimmed.
    case = make_case(
        "time_sync",
        DBPConfig(defence="wmsr", wmsr_f=6, n_robots=60, ticks=20),
        np.random.default_rng(0),
    )
    for _ in range(20):
        case.step()
        assert np.all(case.sync[case.coop] <= 1e-12)


def test_config_errors():
    with pytest.raises(ValueError, match="defence must be one of"):
        DBPConfig(defence="magic")
    with pytest.raises(ValueError, match="byzantine_fraction"):
        DBPConfig(byzantine_fraction=0.6)
    with pytest.raises(ValueError, match="hop_limit must be >= 0"):
        DBPConfig(hop_limit=-1)
    with pytest.raises(ValueError, match="case must be one of"):
        run_case("flocking")
    with pytest.raises(TypeError, match="unknown DBPConfig field"):
        run_case("time_sync", colour=3)


# --- the paper's claims ----------------------------------------------------------------


@pytest.mark.parametrize("f", [1, 2, 3])
def test_connectivity_claim(f):
    G, bridges = bridged_cliques(2 * f + 3, f)
    assert nx.node_connectivity(G) == f + 1
    # Not (2F+1)-robust: with the two cliques as the pair of sets, no robot has more than
    # one neighbour outside its own clique.
    side = {v: v < 2 * f + 3 for v in G}
    assert max(sum(side[u] != side[v] for u in G[v]) for v in G) == 1
    res = connectivity_claim(f)
    assert res["dbp"].error[-1] == 0.0
    # W-MSR trims the single outside value of every robot of the far clique, forever.
    assert np.all(res["wmsr"].error == 1.0)
    assert res["dbp"].blocked[bridges[:f]].all()


@pytest.mark.parametrize("f", [1, 2])
def test_single_observer_claim(f):
    res = single_observer_claim(f, rounds=25)
    assert np.all(res["dbp"].error[1:] == 0.0)
    assert np.all(res["wmsr"].error == 1.0)
    err = res["wmsr_f+1"].error
    assert np.all(np.diff(err) < 0) and err[-1] < 0.1
