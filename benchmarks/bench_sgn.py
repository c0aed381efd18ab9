"""SGN benchmark: certificate of a 100-player quadratic game, certified solver vs numpy.

1. ``certify`` on a 100-player game with blocks of 4 (dim 400): our time (goal: under a
   second), against the same certificate with the weights found by scipy's optimiser
   (``method="optimize"``) instead of the Perron construction; margins printed too.
2. Certified projected Euler (Numba kernel) against a plain numpy loop doing the same
   iteration ``x <- clip(x - h (J x + b))`` with the same stopping rule, both to the same
   tolerance; the ratio is numpy time / our time.

BLAS is pinned to one thread (the machine is shared; figures are per core).

Run: ``python benchmarks/bench_sgn.py [--smoke]`` or ``swarm bench sgn``; ``--smoke``
runs 10 players with blocks of 2, once, without the scipy-optimiser reference.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from scipy import sparse  # noqa: E402

from games.diffgame import Box, QuadraticGame, random_quadratic_game  # noqa: E402
from games.sgn import certify, projected_euler, projected_rk4  # noqa: E402


def best_of(fn, repeat=3):
    best = np.inf
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def numpy_euler(J, b, x0, h, w, lo, hi, tol, max_iter):
    x = x0.copy()
    for k in range(max_iter):
        xn = np.clip(x - h * (J @ x + b), lo, hi)
        res = np.sqrt(np.sum(w * (xn - x) ** 2)) / h
        x = xn
        if res <= tol:
            return x, k + 1
    return x, max_iter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one repeat")
    smoke = parser.parse_args().smoke
    n_players, block = (10, 2) if smoke else (100, 4)
    repeat = 1 if smoke else 3
    rng = np.random.default_rng(0)
    print(f"== certificate: {n_players} players, blocks of {block} (dim {n_players * block})")
    for topology, coupling in (("dense", 0.04 if smoke else 0.004), ("ring", 0.3)):
        g0 = random_quadratic_game(
            n_players, block, rng, mu=(1.0, 2.0), coupling=coupling, topology=topology
        )
        g = QuadraticGame(g0.J, g0.b, g0.blocks, sets=[Box(-0.5, 0.5)] * n_players)
        certify(g)  # warm-up (imports, BLAS threads)
        t_ours, c = best_of(lambda g=g: certify(g), repeat)
        print(
            f"{topology:5s} coupling {coupling}: certified={c.certified} "
            f"margin={c.margin:.6f} euler_step={c.euler_step:.4g}"
        )
        print(f"  ours (Perron weights)      {t_ours * 1e3:9.1f} ms   (goal < 1000 ms)")
        if topology == "dense" and not smoke:  # minutes on the ring game
            t_ref, c_ref = best_of(lambda g=g: certify(g, method="optimize"), repeat=1)
            print(f"  scipy-optimised weights    {t_ref * 1e3:9.1f} ms   margin={c_ref.margin:.6f}")
            print(f"  ratio scipy / ours         {t_ref / t_ours:9.1f}x")

    print("== certified projected Euler vs a plain numpy loop (ring game above, tol 1e-10;")
    print("   J has 12 non-zeros a row of 400, so our kernel multiplies in CSR)")
    w = c.metric
    lo, hi = np.full(g.dim, -0.5), np.full(g.dim, 0.5)
    x0 = rng.uniform(-0.5, 0.5, g.dim)
    h = c.best_euler_step
    projected_euler(g, c, x0=x0, tol=1.0)  # compile / load the cached kernel
    t_ours, r = best_of(lambda: projected_euler(g, c, x0=x0, tol=1e-10), repeat)
    t_np, (x_np, it_np) = best_of(
        lambda: numpy_euler(g.J, g.b, x0, h, w, lo, hi, 1e-10, 100_000), repeat
    )
    Jcsr = sparse.csr_matrix(g.J)
    t_sp, (x_sp, it_sp) = best_of(
        lambda: numpy_euler(Jcsr, g.b, x0, h, w, lo, hi, 1e-10, 100_000), repeat
    )
    assert r.converged and abs(it_np - r.iterations) <= 1 and abs(it_sp - r.iterations) <= 1
    err = max(np.max(np.abs(r.solution - x_np)), np.max(np.abs(r.solution - x_sp)))
    print(f"  iterations {r.iterations}, max |ours - numpy| = {err:.2e}")
    print(f"  ours (Numba kernel)        {t_ours * 1e3:9.1f} ms")
    print(
        f"  numpy loop, dense J        {t_np * 1e3:9.1f} ms   ratio numpy / ours "
        f"{t_np / t_ours:6.2f}x"
    )
    print(
        f"  numpy loop, scipy CSR J    {t_sp * 1e3:9.1f} ms   ratio numpy / ours "
        f"{t_sp / t_ours:6.2f}x"
    )
    gd = QuadraticGame(g.J + 1e-6, g.b, g.blocks, sets=g.sets)  # fully dense: BLAS path
    cd = certify(gd)
    projected_euler(gd, cd, x0=x0, tol=1.0)
    t_d, rd = best_of(lambda: projected_euler(gd, cd, x0=x0, tol=1e-10), repeat)
    t_dn, _ = best_of(
        lambda: numpy_euler(gd.J, gd.b, x0, cd.best_euler_step, cd.metric, lo, hi, 1e-10, 100_000),
        repeat,
    )
    print(
        f"  dense J (+1e-6 everywhere): ours {t_d * 1e3:.1f} ms, numpy {t_dn * 1e3:.1f} ms, "
        f"ratio {t_dn / t_d:.2f}x ({rd.iterations} iterations)"
    )
    t_rk4, r4 = best_of(lambda: projected_rk4(g, c, x0=x0, tol=1e-10), repeat)
    print(f"  ours RK4 (certified step)  {t_rk4 * 1e3:9.1f} ms, {r4.iterations} iterations")


if __name__ == "__main__":
    main()
