"""Sweep throughput: 1,000 short runs through ``run_sweep`` against a plain loop.

The runs: the ``consensus`` kind with 16 robots and 20 rounds (a few ms each), 5 values
of ``n_byzantine`` x 200 seeds (16 robots: the scenario's 5-robust geometric graph needs
at least 13). Measured, in this order:

- the plain loop: the kind's ``run`` called 1,000 times in this process, nothing stored
  (the reference);
- the store alone: writing the 1,000 records, one transaction each (its overhead per
  run, against the plain loop's time per run);
- ``run_sweep`` with the local backend at 1 and 2 workers, and with Ray (a local Ray
  with ``num_cpus=2``), end to end (worker start-up included) and after start-up (a
  1-run sweep's time subtracted).

Every backend's metrics are checked equal to the plain loop's. Run:
``python benchmarks/bench_sweep.py`` or ``swarm bench sweep``; ``--smoke`` runs 2 x 2
runs on one local worker only, to check the benchmark still works.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from scenarios.runner import load_kind
from scenarios.store import ResultStore
from scenarios.sweep import load_sweep, run_sweep, run_tasks_inline

SWEEP = """
name = "bench"
scenario = "byzantine-consensus"
seeds = {seeds}
metrics = ["lcp.final_spread", "wmsr.final_spread", "wmsr.hull_violation"]
[params]
n_robots = 16
rounds = 20
[grid]
n_byzantine = {grid}
"""


def _sweep(folder: Path, seeds: int, grid: list[int]):
    path = folder / f"bench-{seeds}-{len(grid)}.toml"
    path.write_text(SWEEP.format(seeds=seeds, grid=grid))
    return load_sweep(path)


def _timed_sweep(sweep, out: Path, **kw) -> tuple[float, dict]:
    t0 = time.perf_counter()
    result = run_sweep(sweep, out, progress=False, **kw)
    elapsed = time.perf_counter() - t0
    assert result.done == len(sweep.runs), result
    with ResultStore(result.store, create=False) as store:
        metrics = {r.key: r.metrics for r in store.runs()}
    return elapsed, metrics


def main(smoke: bool = False) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sweep = _sweep(tmp, 2, [0, 1]) if smoke else _sweep(tmp, 200, [0, 1, 2, 3, 4])
        one = _sweep(tmp, 1, [0])
        n = len(sweep.runs)
        kind = load_kind(sweep.kind)
        kind.run(dict(sweep.runs[0].params), seed=0)  # compile / warm caches

        t0 = time.perf_counter()
        for r in sweep.runs:
            kind.run(dict(r.params), seed=r.run_seed, progress=False)
        t_loop = time.perf_counter() - t0
        records = run_tasks_inline(sweep)
        reference = {r.key: r.metrics for r in records}

        with ResultStore(tmp / "store-only" / "results.sqlite") as store:
            t0 = time.perf_counter()
            for rec in records:
                store.record(rec)
            t_store = time.perf_counter() - t0

        print(
            f"{n} runs of consensus (16 robots, 20 rounds); plain loop: "
            f"{t_loop:.2f} s = {n / t_loop:.0f} runs/s ({1e3 * t_loop / n:.2f} ms/run)"
        )
        print(
            f"store: {1e3 * t_store / n:.3f} ms per run written (own transaction, WAL) = "
            f"{100 * t_store / t_loop:.1f}% of a plain-loop run"
        )
        rows = []
        configs = [("local, 1 worker", dict(workers=1))]
        if not smoke:
            configs.append(("local, 2 workers", dict(workers=2)))
        try:
            import ray  # noqa: F401
        except ImportError:
            print("ray not installed: pip install 'swarmgym[ray]' to measure it")
        else:
            if not smoke:  # Ray's start-up alone takes longer than a smoke run may
                configs.append(("ray, num_cpus=2", dict(backend="ray", workers=2)))
        for i, (name, kw) in enumerate(configs):
            t_start, _ = _timed_sweep(one, tmp / f"one-{i}", **kw)
            t_all, metrics = _timed_sweep(sweep, tmp / f"all-{i}", **kw)
            assert metrics == reference, f"{name}: metrics differ from the plain loop"
            # Start-up varies run to run: when it exceeds the whole sweep, say nothing.
            steady = n / (t_all - t_start) if t_all > t_start else float("nan")
            rows.append((name, t_all, n / t_all, steady, t_start))
        print(
            f"\n{'backend':18s} {'wall s':>7s} {'runs/s':>7s} {'x loop':>7s} "
            f"{'runs/s after start-up':>22s} {'x loop':>7s} {'start-up s':>10s}"
        )
        for name, t_all, rate, steady, t_start in rows:
            print(
                f"{name:18s} {t_all:7.2f} {rate:7.0f} {rate * t_loop / n:7.2f} "
                f"{steady:22.0f} {steady * t_loop / n:7.2f} {t_start:10.2f}"
            )
        print("\nevery backend's metrics equal the plain loop's, bit for bit")


if __name__ == "__main__":
    main(smoke="--smoke" in sys.argv[1:])
