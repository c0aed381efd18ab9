"""DBP speed: case-study ticks per second, and the incremental blocklist against networkx.

1. Ticks per second of each case study under DBP (10% Byzantine robots reporting fakes,
   constant density: arena side 100 * sqrt(n / 100), radio range 20), for n from 100 to
   10,000, averaged over the whole run (the accusation burst and the steady state after
   every Byzantine robot is blocked). Reference measured in the same run: the same swarm
   under W-MSR (direct-neighbour trimming, no flooding). Goal from the issue: > 10 ticks/s
   for target tracking with 10,000 robots on one core.
2. Blocklist update when one accusation arrives: ``DynamicBlocklist.add`` against
   recomputing the maximum matching with networkx
   (``max_weight_matching(maxcardinality=True)``) and with our own full ``blocklist``, on
   accusation graphs of 10,000 robots with 1,000 Byzantine robots: "local" (each accused
   by 5 cooperative robots of its own, small components) and "mixed" (accusers drawn at
   random, plus one false accusation per Byzantine robot: one giant component, the worst
   case of the per-component update).

Run: ``python benchmarks/bench_dbp.py`` (add ``--quick`` for n <= 1,000) or
``swarm bench dbp``.
"""

from __future__ import annotations

import sys
import time

import networkx as nx
import numpy as np

from protocols.dbp import DynamicBlocklist, blocklist
from swarm.dbp_cases import DBPConfig, make_case

SIZES = (100, 1_000, 3_000, 10_000)
TICKS = {"target_tracking": 100, "time_sync": 20, "localization": 20}


def ticks_per_second(case: str, n: int, defence: str, ticks: int, seed: int = 0) -> float:
    cfg = DBPConfig(n_robots=n, arena=100.0 * np.sqrt(n / 100), ticks=ticks, defence=defence,
                    wmsr_f=1, n_anchors=max(5, n // 5))
    sim = make_case(case, cfg, np.random.default_rng(seed))
    t0 = time.perf_counter()
    sim.run()
    return ticks / (time.perf_counter() - t0)


def warm_up() -> None:
    for case in TICKS:
        for defence in ("dbp", "wmsr"):
            ticks_per_second(case, 60, defence, 5)


def bench_cases(sizes) -> None:
    print("case study ticks/s (10% Byzantine, fake reports; whole run incl. accusation burst)")
    print(f"{'case':16s} {'n':>7s} {'ticks':>6s} {'DBP t/s':>9s} {'W-MSR t/s':>10s} "
          f"{'DBP/W-MSR':>10s}")
    for case, ticks in TICKS.items():
        for n in sizes:
            dbp = ticks_per_second(case, n, "dbp", ticks)
            wmsr = ticks_per_second(case, n, "wmsr", ticks)
            print(f"{case:16s} {n:7d} {ticks:6d} {dbp:9.1f} {wmsr:10.1f} {dbp / wmsr:10.2f}",
                  flush=True)
            if case == "target_tracking" and n == 10_000:
                print(f"  goal: > 10 ticks/s at 10,000 robots -> {dbp:.1f} ticks/s "
                      f"({dbp / 10:.2f}x the goal)")


def accusation_set(n: int, n_byz: int, per_byz: int, false_per_byz: int, local: bool,
                   seed: int = 0):
    rng = np.random.default_rng(seed)
    byz = rng.choice(n, size=n_byz, replace=False)
    coop = rng.permutation(np.setdiff1d(np.arange(n), byz))
    rows = []
    for k, b in enumerate(byz):
        own = coop[k * per_byz:(k + 1) * per_byz] if local else rng.choice(coop, size=per_byz,
                                                                            replace=False)
        for c in own:
            rows.append((c, b))
        for c in rng.choice(coop, size=false_per_byz, replace=False):
            rows.append((b, c))
    rows = np.array(rows, dtype=np.int64)
    return rows[rng.permutation(len(rows))]


def bench_blocklist(n: int = 10_000, n_byz: int = 1_000, last: int = 200,
                    local: bool = True) -> None:
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
    print(f"\nblocklist update, {kind}: {n} robots, {len(acc)} accusations "
          f"({n_byz} Byzantine robots, matching size {nu})")
    print(f"  incremental add (mean of last {last}):   {incr * 1e6:10.1f} us")
    print(f"  our full recompute (blocklist):         {full * 1e6:10.1f} us  "
          f"({full / incr:8.1f}x the incremental update)")
    print(f"  networkx max_weight_matching recompute: {ref * 1e6:10.1f} us  "
          f"({ref / incr:8.1f}x the incremental update)")


def main() -> None:
    quick = "--quick" in sys.argv
    warm_up()
    bench_cases(tuple(s for s in SIZES if s <= 1_000) if quick else SIZES)
    for local in (True, False):
        if quick:
            bench_blocklist(2_000, 200, local=local)
        else:
            bench_blocklist(local=local)


if __name__ == "__main__":
    main()
