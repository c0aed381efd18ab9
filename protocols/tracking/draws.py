"""Each swarm's uniforms of a tick, drawn from its numpy generator inside one kernel call.

:func:`fill_draws` calls each generator's own ``next_double`` (the C function behind
``Generator.random``, through the generator's documented ``bit_generator.ctypes``
interface) from compiled code, so ``draws[b]`` gets exactly the numbers
``rngs[b].random(out=draws[b])`` would give, and leaves the generator where that call
would, without a Python call per swarm.

Examples
--------
>>> import numpy as np
>>> from protocols.tracking.draws import fill_draws, generator_pointers
>>> rngs = [np.random.default_rng(s) for s in (0, 1)]
>>> ptr = np.array([generator_pointers(g) for g in rngs], dtype=np.uint64)
>>> draws = np.zeros((2, 3))
>>> fill_draws(ptr, np.array([True, False]), draws)
>>> bool((draws[0] == np.random.default_rng(0).random(3)).all()), draws[1].tolist()
(True, [0.0, 0.0, 0.0])
>>> float(rngs[0].random()) == float(np.random.default_rng(0).random(4)[3])
True
"""

from __future__ import annotations

import ctypes

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

__all__ = ["fill_draws", "generator_pointers"]


def generator_pointers(rng: np.random.Generator) -> tuple[int, int]:
    """Addresses of ``rng``'s ``next_double`` function and of its state.

    They stay valid while ``rng`` lives: keep a reference to it while using them.
    """
    c = rng.bit_generator.ctypes
    return ctypes.cast(c.next_double, ctypes.c_void_p).value, c.state_address


@intrinsic
def _next_double(typingctx, fn, state):
    """Call the C function at address ``fn`` (``double f(void *)``) on ``state``."""

    def codegen(context, builder, sig, args):
        ptr = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.DoubleType(), [ptr])
        f = builder.inttoptr(args[0], fnty.as_pointer())
        return builder.call(f, [builder.inttoptr(args[1], ptr)])

    return types.float64(types.uint64, types.uint64), codegen


@njit(cache=True)
def fill_draws(pointers, active, draws):
    """Fill ``draws[b]`` from generator b for every ``active[b]``.

    Parameters
    ----------
    pointers : uint64 (B, 2)
        Each generator's :func:`generator_pointers`.
    active : bool (B,)
        The swarms to draw for; the other rows are left as they are.
    draws : float64 (B, d)
        Written: row b as ``Generator.random(out=draws[b])`` writes it.
    """
    for b in range(draws.shape[0]):
        if active[b]:
            fn, st = pointers[b, 0], pointers[b, 1]
            for i in range(draws.shape[1]):
                draws[b, i] = _next_double(fn, st)
