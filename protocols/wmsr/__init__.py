"""W-MSR resilient consensus and the linear consensus protocol (LCP) baseline.

Graphs are in-edge CSR arrays: node ``i`` received ``messages[indptr[i]:indptr[i + 1]]``
this round from ``indices[indptr[i]:indptr[i + 1]]``. One call is one synchronous round
for every node.

W-MSR (Weighted-Mean Subsequence Reduced; LeBlanc, Zhang, Koutsoukos and Sundaram,
IEEE JSAC 2013) with parameter ``f``: node ``i`` with value ``x_i`` discards non-finite
messages, removes the ``f`` largest received values strictly above ``x_i`` (all of them
if there are fewer) and the ``f`` smallest strictly below (likewise), and takes the
mean of ``x_i`` and the values kept. ``f = 0`` is plain averaging (LCP).

Precision: the mean is summed over the kept values only (never a total minus the
trimmed values), so a trimmed Byzantine value of 1e300 cannot cancel the honest digits.
The sum is compensated, and computed exactly (Shewchuk's algorithm, as ``math.fsum``)
whenever cancellation between large kept values could cost accuracy; sums near the
overflow threshold are taken on values scaled by an exact power of two, so any finite
input gives a finite, accurate result. The result is clamped to the range of the values
it averages, so rounding can never move it outside their hull.

Threads: every kernel runs in parallel on Numba's threads (``NUMBA_NUM_THREADS``, or
:func:`numba.set_num_threads` at run time); each node's (or swarm's) update is computed
by one thread from its own inputs, so results are the same bit for bit for any thread
count.

Modules: :mod:`protocols.wmsr.rounds` (:func:`wmsr_step`, :func:`lcp_step`, with a
``check=False`` unchecked path for simulation loops) and :mod:`protocols.wmsr.attacked`
(the environments' rounds against bounded attacker actions,
:func:`attacked_round_batch`, :func:`message_sources`).

Examples
--------
>>> import numpy as np
>>> from protocols.wmsr import wmsr_step
>>> wmsr_step([0.0], np.array([0, 3]), np.array([0, 0, 0]), [1.0, 2.0, 1e300], f=1)
array([1.])
"""

from protocols.wmsr.attacked import AttackedSwarms, attacked_round_batch, message_sources
from protocols.wmsr.rounds import lcp_step, wmsr_step

__all__ = [
    "AttackedSwarms",
    "attacked_round_batch",
    "lcp_step",
    "message_sources",
    "wmsr_step",
]
