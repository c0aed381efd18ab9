"""Iterative water-filling (IWF) for the multi-carrier power-control game.

``Q`` users share ``N`` carriers. User ``q`` spreads a budget ``budget[q]`` over the
carriers, ``p[q, k] >= 0`` with ``sum_k p[q, k] = budget[q]`` and optional per-carrier
caps ``p[q, k] <= cap[q, k]`` (spectral masks), and maximises its rate
``sum_k log2(1 + gains[q, q, k] p[q, k] / I[q, k])`` where
``I[q, k] = noise[q, k] + sum_{r != q} gains[q, r, k] p[r, k]`` is the
interference-plus-noise it sees. Its best response is water-filling against
``I[q, k] / gains[q, q, k]``; IWF repeats best responses until no user wants to move.

The paper's three schedules are provided, each as an ``@njit(cache=True)`` kernel
(:mod:`protocols.iwf.schedules`):

``"sequential"``
    Gauss-Seidel: users update one after another within a sweep, each seeing the
    powers the previous ones just chose.
``"simultaneous"``
    Jacobi: every user updates at once against the previous profile.
``"asynchronous"``
    Totally asynchronous: at every tick a random subset of users updates, each against
    its own stale view of the interference, measured ``d <= max_delay`` ticks ago.

All schedules take a relaxation ``step`` (damped IWF,
``p <- (1 - a_n) p + a_n WF(p)`` with ``a_n = step / (n + 1) ** step_decay``; a decay
in (0.5, 1] gives the averaged variant that rides out measurement noise) and a
multiplicative, mean-one log-normal measurement noise on the interference each user
sees. Random numbers are drawn outside the kernels from a ``numpy.random.Generator``
and passed in.

``"accelerated"`` (:mod:`protocols.iwf.accelerated`) is sequential IWF with strongly
coupled users iterated together (block sweeps, :mod:`protocols.iwf.blocks`), Anderson
extrapolation and a safeguard: the same equilibrium in far fewer sweeps.

The Nash gap of a profile is ``max_q max_k |p[q, k] - WF_q(p)[k]| / budget[q]``: the
largest move any user would make to its best response, relative to its budget (zero
exactly at a Nash equilibrium).

Modules: :mod:`~protocols.iwf.single_user` (single-user water-filling),
:mod:`~protocols.iwf.channel` (channel validation, interference, best responses, Nash
gap), :mod:`~protocols.iwf.schedules`, :mod:`~protocols.iwf.accelerated`,
:mod:`~protocols.iwf.blocks` and :mod:`~protocols.iwf.solve` (:func:`iterative_waterfill`);
every public name is importable from ``protocols.iwf``.

Examples
--------
>>> import numpy as np
>>> from protocols.iwf import iterative_waterfill, nash_gap
>>> gains = np.full((2, 2, 3), 0.1)          # gains[q, r, k]: r's power into q's receiver
>>> gains[0, 0] = gains[1, 1] = 1.0
>>> noise, budget = np.full((2, 3), 0.1), np.ones(2)
>>> result = iterative_waterfill(gains, noise, budget, schedule="sequential")
>>> result.converged, result.solution.round(4)
(True, array([[0.3333, 0.3333, 0.3333],
       [0.3333, 0.3333, 0.3333]]))
>>> bool(nash_gap(gains, noise, budget, result.solution) <= 1e-9)
True
"""

from protocols.iwf.accelerated import ANDERSON_MEMORY, AcceleratedChannel
from protocols.iwf.blocks import BlockPlan, block_plan
from protocols.iwf.channel import (
    Channel,
    best_response,
    check_channel,
    interference,
    interference_kernel,
    nash_gap,
)
from protocols.iwf.single_user import waterfill
from protocols.iwf.solve import (
    METHODS,
    OPTION_DEFAULTS,
    SCHEDULES,
    IWFResult,
    iterative_waterfill,
    move_gains,
    solve_channel,
)

__all__ = [
    "ANDERSON_MEMORY",
    "METHODS",
    "OPTION_DEFAULTS",
    "SCHEDULES",
    "AcceleratedChannel",
    "BlockPlan",
    "Channel",
    "IWFResult",
    "best_response",
    "block_plan",
    "check_channel",
    "interference",
    "interference_kernel",
    "iterative_waterfill",
    "move_gains",
    "nash_gap",
    "solve_channel",
    "waterfill",
]
