"""W-MSR speed: ``wmsr_step`` against a vectorised numpy reference (segment sort).

10,000 robots, in-degree 30, f = 2, messages with a few Byzantine outliers. Goal from
the foundation issue: at most 8 ns per edge per round on one core and at least 25x the
numpy reference. Run: ``python benchmarks/bench_wmsr.py`` or ``swarm bench wmsr``.
"""

from __future__ import annotations

import time

import numpy as np

from protocols.wmsr import wmsr_step

N, DEG, F, REPS = 10_000, 30, 2, 30


def numpy_wmsr(values, indptr, indices, messages, f):
    """W-MSR with numpy only: sort each in-segment, keep by rank."""
    n = values.shape[0]
    recv = np.repeat(np.arange(n), np.diff(indptr))
    ok = np.isfinite(messages)
    recv, msg = recv[ok], messages[ok]
    order = np.lexsort((msg, recv))
    recv, msg = recv[order], msg[order]
    x = values[recv]
    length = np.bincount(recv, minlength=n)
    start = np.concatenate([[0], np.cumsum(length)[:-1]])
    pos = np.arange(recv.size) - start[recv]
    nb = np.bincount(recv, weights=msg < x, minlength=n).astype(np.int64)
    na = np.bincount(recv, weights=msg > x, minlength=n).astype(np.int64)
    L, nb_r, na_r = length[recv], nb[recv], na[recv]
    keep_below = (pos >= np.minimum(f, nb_r)) & (pos < nb_r)
    keep_equal = (pos >= nb_r) & (pos < L - na_r)
    keep_above = (pos >= L - na_r) & (pos < L - na_r + np.maximum(na_r - f, 0))
    keep = keep_below | keep_equal | keep_above
    total = np.bincount(recv, weights=np.where(keep, msg, 0.0), minlength=n) + values
    count = np.bincount(recv, weights=keep, minlength=n) + 1
    return total / count


def best_time(fn, reps):
    best = np.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    rng = np.random.default_rng(0)
    indptr = np.arange(0, (N + 1) * DEG, DEG, dtype=np.int64)
    indices = rng.integers(0, N, size=N * DEG).astype(np.int64)
    values = rng.uniform(0, 1, N)
    messages = values[indices].copy()
    outliers = rng.random(messages.size) < 0.02
    messages[outliers] = rng.choice([1e300, -1e300, np.nan, 5.0], size=outliers.sum())
    out = np.empty(N)

    ours = wmsr_step(values, indptr, indices, messages, F, out=out)
    ref = numpy_wmsr(values, indptr, indices, messages, F)
    assert np.allclose(ours, ref, rtol=1e-12), "implementations disagree"

    t_ours = best_time(lambda: wmsr_step(values, indptr, indices, messages, F, out=out), REPS)
    t_ref = best_time(lambda: numpy_wmsr(values, indptr, indices, messages, F), 5)
    edges = N * DEG
    print(f"wmsr_step, {N} robots, in-degree {DEG}, f={F} (best of {REPS}):")
    ns_ours = t_ours / edges * 1e9
    print(f"  swarmgym wmsr_step : {t_ours * 1e3:8.3f} ms/round  {ns_ours:6.2f} ns/edge"
          "  (goal <= 8 ns/edge)")
    print(f"  numpy segment sort : {t_ref * 1e3:8.3f} ms/round  {t_ref / edges * 1e9:6.2f} ns/edge")
    print(f"  speed-up           : {t_ref / t_ours:8.1f}x  (goal >= 25x)")


if __name__ == "__main__":
    main()
