"""DBP speed: case-study ticks per second, threads, and the incremental blocklist.

1. Ticks per second of each case study under DBP on one thread (10% Byzantine robots
   reporting fakes, constant density: arena side 100 * sqrt(n / 100), radio range 20),
   for n from 100 to 10,000, averaged over the whole run (the accusation burst and the
   steady state after every Byzantine robot is blocked). Time is the process's CPU time,
   so other programs on a shared machine disturb it less than wall-clock time would.
   Reference measured in the same run: the same swarm under W-MSR (direct-neighbour
   trimming, no flooding). Goals at 10,000 robots on one core: every case at least 10
   ticks/s, target tracking at least 20.
2. The flood and gossip steps (:class:`protocols.dbp.Flood`,
   :class:`protocols.dbp.AccusationGossip`) on 1 and on 2 threads (wall-clock time,
   ``numba.set_num_threads``): a 10,000-robot swarm where every robot floods an
   observation each tick (hop limit 4) and 10,000 accusations spread.
3. Blocklist update when one accusation arrives: ``DynamicBlocklist.add`` against
   recomputing the maximum matching with networkx
   (``max_weight_matching(maxcardinality=True)``) and with our own full ``blocklist``, on
   accusation graphs of 10,000 robots with 1,000 Byzantine robots: "local" (each accused
   by 5 cooperative robots of its own, small components) and "mixed" (accusers drawn at
   random, plus one false accusation per Byzantine robot: one giant component, the worst
   case of the per-component update).

Run: ``python benchmarks/bench_dbp.py`` (``--quick`` for n <= 1,000, ``--smoke`` for tiny
sizes in seconds) or ``swarm bench dbp``.
"""

from __future__ import annotations

import sys
import time

import networkx as nx
import numba
import numpy as np
from scipy.spatial import cKDTree

from protocols.csr import csr_from_edges
from protocols.dbp import AccusationGossip, DynamicBlocklist, Flood, blocklist
from swarm.dbp_cases import DBPConfig, make_case
from swarm.mobility import MobileSwarm, radius_graph

SIZES = (100, 1_000, 3_000, 10_000)
TICKS = {"target_tracking": 100, "time_sync": 20, "localization": 20}
GOALS = {"target_tracking": 20.0, "time_sync": 10.0, "localization": 10.0}


def ticks_per_second(case: str, n: int, defence: str, ticks: int, seed: int = 0) -> float:
    cfg = DBPConfig(
        n_robots=n,
        arena=100.0 * np.sqrt(n / 100),
        ticks=ticks,
        defence=defence,
        wmsr_f=1,
        n_anchors=max(5, n // 5),
    )
    sim = make_case(case, cfg, np.random.default_rng(seed))
    t0 = time.process_time()
    sim.run()
    return ticks / (time.process_time() - t0)


def warm_up() -> None:
    for case in TICKS:
        for defence in ("dbp", "wmsr"):
            ticks_per_second(case, 60, defence, 5)


def bench_cases(sizes, ticks_of=TICKS) -> None:
    print(
        "case study ticks/s on one thread, CPU time (10% Byzantine, fake reports; whole "
        "run incl. accusation burst)"
    )
    print(
        f"{'case':16s} {'n':>7s} {'ticks':>6s} {'DBP t/s':>9s} {'W-MSR t/s':>10s} "
        f"{'DBP/W-MSR':>10s}"
    )
    for case, ticks in ticks_of.items():
        for n in sizes:
            dbp = ticks_per_second(case, n, "dbp", ticks)
            wmsr = ticks_per_second(case, n, "wmsr", ticks)
            print(
                f"{case:16s} {n:7d} {ticks:6d} {dbp:9.1f} {wmsr:10.1f} {dbp / wmsr:10.2f}",
                flush=True,
            )
            if n == 10_000:
                goal = GOALS[case]
                print(
                    f"  goal: >= {goal:.0f} ticks/s at 10,000 robots on one core -> "
                    f"{dbp:.1f} ticks/s ({dbp / goal:.2f}x the goal)"
                )


def bench_radius_graph(n: int, repeats: int) -> None:
    """One line: radius_graph (cell grid) against cKDTree.query_pairs + csr_from_edges."""
    pos = np.random.default_rng(0).uniform(0.0, 100.0 * np.sqrt(n / 100), size=(n, 2))

    def kdtree(p, r):
        pairs = cKDTree(p).query_pairs(r, output_type="ndarray").astype(np.int64)
        return csr_from_edges(n, pairs)

    best = {kdtree: np.inf, radius_graph: np.inf}
    for _ in range(repeats):
        for f in best:
            t0 = time.process_time()
            f(pos, 20.0)
            best[f] = min(best[f], time.process_time() - t0)
    old, new = best[kdtree] * 1e3, best[radius_graph] * 1e3
    print(
        f"radius_graph, {n} robots (radio range 20, same density): cKDTree {old:.2f} ms, "
        f"cell grid {new:.2f} ms ({old / new:.1f}x), CPU time, best of {repeats}"
    )


def flood_workload(n: int, ticks: int, seed: int = 0):
    """Radio graphs of a moving swarm and the sends of each tick (drawn once)."""
    rng = np.random.default_rng(seed)
    swarm = MobileSwarm(n, rng, arena=100.0 * np.sqrt(n / 100), radio_range=20.0)
    graphs, accusers = [], []
    for _ in range(ticks):
        swarm.step()
        graphs.append(swarm.comm_graph())
        accusers.append(rng.choice(n, size=max(2, n // ticks), replace=False))
    return graphs, accusers


def time_flood_and_gossip(n: int, graphs, accusers, threads: int) -> tuple[float, float]:
    """Seconds (wall clock) spent in Flood.step and AccusationGossip.step."""
    numba.set_num_threads(threads)
    flood = Flood(n, payload_dim=1, hop_limit=4)
    gossip = AccusationGossip(n)
    everyone = np.arange(n)
    t_flood = t_gossip = 0.0
    for t, ((indptr, indices), acc) in enumerate(zip(graphs, accusers, strict=True)):
        flood.send_observations(everyone, t, np.full((n, 1), float(t)))
        half = acc.shape[0] // 2
        gossip.issue(acc[:half], acc[half : 2 * half], t)
        t0 = time.perf_counter()
        flood.step(indptr, indices, symmetric=True)
        t1 = time.perf_counter()
        gossip.step(indptr, indices, symmetric=True)
        t2 = time.perf_counter()
        t_flood += t1 - t0
        t_gossip += t2 - t1
    return t_flood, t_gossip


def bench_threads(n: int, ticks: int, repeats: int) -> None:
    graphs, accusers = flood_workload(n, ticks)
    most = numba.config.NUMBA_NUM_THREADS
    if most < 2:
        print("\nthreads: NUMBA_NUM_THREADS is 1, skipping the 1 vs 2 threads comparison")
        return
    time_flood_and_gossip(
        min(n, 200), flood_workload(min(n, 200), 3)[0], flood_workload(min(n, 200), 3)[1], 2
    )
    best = {1: [np.inf, np.inf], 2: [np.inf, np.inf]}
    for _ in range(repeats):
        for k in (1, 2):
            f, g = time_flood_and_gossip(n, graphs, accusers, k)
            best[k] = [min(best[k][0], f), min(best[k][1], g)]
    numba.set_num_threads(most)
    print(
        f"\nflood and gossip steps, {n} robots, {ticks} ticks (every robot floods each tick, "
        f"hop limit 4; {sum(a.shape[0] // 2 for a in accusers)} accusations), wall clock, "
        f"best of {repeats}"
    )
    for i, name in enumerate(("Flood.step", "AccusationGossip.step")):
        one, two = best[1][i], best[2][i]
        print(
            f"  {name:22s} 1 thread {one * 1e3 / ticks:8.1f} ms/tick   2 threads "
            f"{two * 1e3 / ticks:8.1f} ms/tick   speed-up {one / two:5.2f}x"
        )


def accusation_set(
    n: int, n_byz: int, per_byz: int, false_per_byz: int, local: bool, seed: int = 0
):
    rng = np.random.default_rng(seed)
    byz = rng.choice(n, size=n_byz, replace=False)
    coop = rng.permutation(np.setdiff1d(np.arange(n), byz))
    rows = []
    for k, b in enumerate(byz):
        own = (
            coop[k * per_byz : (k + 1) * per_byz]
            if local
            else rng.choice(coop, size=per_byz, replace=False)
        )
        for c in own:
            rows.append((c, b))
        for c in rng.choice(coop, size=false_per_byz, replace=False):
            rows.append((b, c))
    rows = np.array(rows, dtype=np.int64)
    return rows[rng.permutation(len(rows))]


def bench_blocklist(
    n: int = 10_000, n_byz: int = 1_000, last: int = 200, local: bool = True
) -> None:
    acc = accusation_set(n, n_byz, per_byz=5, false_per_byz=0 if local else 1, local=local)
    head, tail = acc[:-last], acc[-last:]
    dyn = DynamicBlocklist(n)
    dyn.add_many(head)
    t0 = time.perf_counter()
    for a, b in tail:
        dyn.add(int(a), int(b))
    incr = (time.perf_counter() - t0) / last
    assert np.array_equal(dyn.blocked, blocklist(acc, n))

    t0 = time.perf_counter()
    ours = blocklist(acc, n)
    full = time.perf_counter() - t0

    G = nx.Graph()
    G.add_nodes_from(range(n))
    G.add_edges_from(map(tuple, acc.tolist()))
    t0 = time.perf_counter()
    nu = len(nx.max_weight_matching(G, maxcardinality=True))
    ref = time.perf_counter() - t0
    assert ours.sum() == 2 * nu

    kind = "local" if local else "mixed"
    print(
        f"\nblocklist update, {kind}: {n} robots, {len(acc)} accusations "
        f"({n_byz} Byzantine robots, matching size {nu})"
    )
    print(f"  incremental add (mean of last {last}):   {incr * 1e6:10.1f} us")
    print(
        f"  our full recompute (blocklist):         {full * 1e6:10.1f} us  "
        f"({full / incr:8.1f}x the incremental update)"
    )
    print(
        f"  networkx max_weight_matching recompute: {ref * 1e6:10.1f} us  "
        f"({ref / incr:8.1f}x the incremental update)"
    )


def main() -> None:
    quick = "--quick" in sys.argv
    smoke = "--smoke" in sys.argv
    threads = numba.get_num_threads()
    warm_up()
    numba.set_num_threads(1)
    bench_radius_graph(300 if smoke else 10_000, 3 if smoke else 20)
    if smoke:
        bench_cases((100,), {case: 3 for case in TICKS})
    else:
        bench_cases(tuple(s for s in SIZES if s <= 1_000) if quick else SIZES)
    numba.set_num_threads(threads)
    if smoke:
        bench_threads(300, 3, 1)
    else:
        bench_threads(1_000 if quick else 10_000, 10, 3)
    for local in (True, False):
        if smoke:
            bench_blocklist(300, 30, last=20, local=local)
        elif quick:
            bench_blocklist(2_000, 200, local=local)
        else:
            bench_blocklist(local=local)


if __name__ == "__main__":
    main()
