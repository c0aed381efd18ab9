"""Block Gauss-Seidel sweeps for the accelerated solver: coupled users solved together.

Sequential IWF converges as slowly as its most strongly coupled users: two users that
interfere with each other almost as strongly as with themselves (``gains[q, r] /
gains[q, q]`` times ``gains[r, q] / gains[r, r]`` near one on a carrier) pass a
disturbance back and forth, losing only a little of it each sweep, while the rest of the
network settles in a few sweeps. A block sweep groups such users (the connected
components of the strong pairs, at most :data:`MAX_BLOCK` users) and, when a block comes
up, iterates best responses among its members only, against the others' current powers,
until the block's moves have fallen :data:`INNER_DROP`-fold: the block is brought close
to its own equilibrium given the rest, so the slow exchange inside it no longer slows
the sweeps. Those inner iterations only read the block's own gains, a few rows per user,
so they cost little next to a sweep's pass over all ``Q^2 N`` gains. Users in no block
update exactly as in a Gauss-Seidel sweep; with no block at all a block sweep is one.

The coupling of every pair is measured on the first sweep, which reads every gain row
anyway: ``coupling[q, r]`` is the root mean square over the carriers of ``gains[q, r, k]
/ gains[q, q, k]``, and ``q, r`` are a strong pair when ``coupling[q, r] * coupling[r,
q] > COUPLING`` (:data:`COUPLING`). The blocks only decide how fast the sweeps converge,
never to what: a block sweep's fixed points are the Nash equilibria, whatever the
blocks.

Examples
--------
>>> import numpy as np
>>> from protocols.iwf.blocks import block_plan
>>> coupling = np.zeros((4, 4))
>>> coupling[1, 3], coupling[3, 1] = 0.9, 0.5     # users 1 and 3 are strongly coupled
>>> plan = block_plan(coupling, np.arange(4))
>>> plan.order.tolist(), plan.lo.tolist(), plan.hi.tolist()
([0, 1, 3, 2], [0, 1, 1, 3], [1, 3, 3, 4])
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from protocols.iwf.schedules import _pull_moves
from protocols.iwf.single_user import _waterfill_warm_kernel

__all__ = ["COUPLING", "INNER_DROP", "MAX_BLOCK", "BlockPlan", "SweepScratch", "block_plan"]

#: Pairs with ``coupling[q, r] * coupling[r, q]`` above this are solved together
#: (measured on ten 50 x 256 Rayleigh channels to a gap of 1e-9: 0.01, 0.003 and 0.001
#: need the same 41 sweeps in all, against 93 without blocks; lower thresholds make
#: larger blocks, with more inner work).
COUPLING = 0.01

#: Largest block; a larger component of strong pairs is left to plain sweeps (the inner
#: iterations cost ``O(size^2 N)`` each).
MAX_BLOCK = 8

#: Inner iterations stop once the block's largest move has fallen this much below its
#: first one (or below the floor the kernel is given, or stops falling); 1e-2 costs
#: three more sweeps on the ten channels above, 1e-3 and 1e-5 none.
INNER_DROP = 1e-4

#: Most inner iterations per block and sweep.
MAX_INNER = 30


class BlockPlan(NamedTuple):
    """The order of a block sweep.

    Attributes
    ----------
    order : numpy.ndarray of int64, shape (Q,)
        Users in the order they update, each block's members contiguous.
    lo, hi : numpy.ndarray of int64, shape (Q,)
        ``order[lo[i]:hi[i]]`` is the block of the user at position ``i`` (``hi[i] =
        lo[i] + 1`` for a user in no block).
    """

    order: np.ndarray
    lo: np.ndarray
    hi: np.ndarray


class SweepScratch(NamedTuple):
    """Work arrays of a sweep (all written).

    Attributes
    ----------
    levels : numpy.ndarray, shape (Q,)
        Water-level guesses (NaN for none).
    moved : numpy.ndarray, shape (Q, N), dtype of the move gains
        Each user's move ``G(x) - x`` in the last sweep.
    wet : numpy.ndarray of int8, shape (Q, N)
        1 where the last sweep's output is positive.
    work : numpy.ndarray, shape (2, N)
        Scratch rows.
    state : numpy.ndarray of int8, shape (N,)
        Scratch for the cold water-filling.
    coupling : numpy.ndarray, shape (Q, Q) or (0, 0)
        When (Q, Q), the sweep writes ``coupling[q, r]``, the root mean square of
        ``move_gains[q, r, k] / gains[q, q, k]`` over the carriers, for every pair it
        pulls (all of them, in one sweep).
    """

    levels: np.ndarray
    moved: np.ndarray
    wet: np.ndarray
    work: np.ndarray
    state: np.ndarray
    coupling: np.ndarray


@njit(cache=True, fastmath={"reassoc", "nsz"})
def _pull_measuring(ch, moved, q, order, lo, hi, acc, row, coupling):
    """:func:`protocols.iwf.schedules._pull_moves` that also measures the coupling.

    ``row += sum_{lo <= j < hi} ch.move_gains[q, order[j]] * moved[order[j]]`` with the
    same arithmetic (reassociation only reaches the coupling's sum of squares; no
    contraction), and ``coupling[q, order[j]]`` is set for the same users (see
    :class:`SweepScratch`) from the rows already in cache. ``acc`` (N,), ``row`` (N,)
    and ``coupling`` (Q, Q) are written.
    """
    nk = acc.shape[0]
    inv_row = ch.inv_direct[q]
    for k in range(nk):
        acc[k] = 0.0
    for j in range(lo, hi):
        r = order[j]
        g_row = ch.move_gains[q, r]
        m_row = moved[r]
        s = 0.0
        for k in range(nk):
            acc[k] += g_row[k] * m_row[k]
            x = g_row[k] * inv_row[k]
            s += x * x
        coupling[q, r] = np.sqrt(s / nk)
    for k in range(nk):
        row[k] += acc[k]


@njit(cache=True)
def _pull(ch, moved, q, order, lo, hi, acc, row, coupling):
    """Pull moves into ``row``, measuring the coupling when ``coupling`` is (Q, Q).

    :func:`_pull_measuring` or :func:`protocols.iwf.schedules._pull_moves` (same
    arguments and arrays written).
    """
    if coupling.shape[0] > 0:
        _pull_measuring(ch, moved, q, order, lo, hi, acc, row, coupling)
    else:
        _pull_moves(ch.move_gains, moved, q, order, lo, hi, acc, row)


@njit(cache=True)
def _find(parent, a):
    """Root of ``a`` in the union-find forest ``parent`` (compressed on the way)."""
    while parent[a] != a:
        parent[a] = parent[parent[a]]
        a = parent[a]
    return a


@njit(cache=True)
def _block_plan_kernel(coupling, order, threshold, max_size):
    """Blocks from the strong pairs; see :func:`block_plan` (nothing is written)."""
    nq = order.shape[0]
    parent = np.arange(nq)
    for q in range(nq):
        for r in range(q + 1, nq):
            if coupling[q, r] * coupling[r, q] > threshold:
                a, b = _find(parent, q), _find(parent, r)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    root = np.empty(nq, dtype=np.int64)
    size = np.zeros(nq, dtype=np.int64)
    for q in range(nq):
        root[q] = _find(parent, q)
        size[root[q]] += 1
    placed = np.zeros(nq, dtype=np.bool_)
    plan = BlockPlan(
        np.empty(nq, dtype=np.int64), np.empty(nq, dtype=np.int64), np.empty(nq, dtype=np.int64)
    )
    n = 0
    for i in range(nq):
        u = order[i]
        if placed[u]:
            continue
        start = n
        alone = size[root[u]] == 1 or size[root[u]] == nq or size[root[u]] > max_size
        for j in range(i, i + 1 if alone else nq):
            v = order[j]
            if root[v] == root[u]:
                plan.order[n] = v
                placed[v] = True
                n += 1
        plan.lo[start:n] = start
        plan.hi[start:n] = n
    return plan


def block_plan(
    coupling: np.ndarray,
    order: np.ndarray,
    threshold: float = COUPLING,
    max_size: int = MAX_BLOCK,
) -> BlockPlan:
    """Group strongly coupled users into blocks, in the given update order.

    Users ``q, r`` are a strong pair when ``coupling[q, r] * coupling[r, q] >
    threshold``; the blocks are the connected components of the strong pairs with 2 to
    ``max_size`` users. Each block updates at the position of its first member in
    ``order``, its members in their order there.

    Parameters
    ----------
    coupling : numpy.ndarray, shape (Q, Q)
        ``coupling[q, r]``: strength of ``r``'s interference on ``q`` (the diagonal is
        ignored).
    order : numpy.ndarray of int64, shape (Q,)
        Update order of the users (a permutation).
    threshold : float
        Strong-pair threshold.
    max_size : int
        Largest block; larger components are left as single users.

    Returns
    -------
    BlockPlan
        The block order.
    """
    return _block_plan_kernel(
        np.asarray(coupling, dtype=np.float64),
        np.asarray(order, dtype=np.int64),
        float(threshold),
        int(max_size),
    )


@njit(cache=True)
def _best_move(ch, q, y, row, scratch, delta):
    """Water-fill user ``q`` against ``row`` in place; returns ``max |move| / budget[q]``.

    ``y[q]`` (N,) becomes the best response, ``delta`` (N,) the move, and
    ``scratch.levels[q]``, ``scratch.work[0]``, ``scratch.state`` are written.
    """
    nk = row.shape[0]
    a = scratch.work[0]
    for k in range(nk):
        a[k] = row[k] * ch.inv_direct[q, k]
    br = delta  # the best response lands in delta first
    scratch.levels[q] = _waterfill_warm_kernel(
        a, ch.cap[q], ch.budget[q], scratch.levels[q], br, scratch.state
    )
    move = 0.0
    for k in range(nk):
        b = br[k]
        d = b - y[q, k]
        move = max(move, abs(d))
        delta[k] = d
        y[q, k] = b
    return move / ch.budget[q]


@njit(cache=True)
def _solve_block(ch, plan, lo, hi, y, interf, scratch, floor):
    """Iterate best responses within ``order[lo:hi]`` until its moves have settled.

    Every move is pushed at once to the other members' interference with the float64
    gains. Stops when the largest relative move of an iteration is at most
    :data:`INNER_DROP` times the first one, or ``floor``, or not below the previous one,
    or after :data:`MAX_INNER` iterations. ``y`` and ``interf`` rows of the members and
    ``scratch`` are written.
    """
    nk = y.shape[1]
    delta = scratch.work[1]
    first = 0.0
    prev = np.inf
    for it in range(MAX_INNER):
        worst = 0.0
        for j in range(lo, hi):
            q = plan.order[j]
            worst = max(worst, _best_move(ch, q, y, interf[q], scratch, delta))
            for jj in range(lo, hi):
                r = plan.order[jj]
                if r != q:
                    g_row = ch.gains[r, q]
                    i_row = interf[r]
                    for k in range(nk):
                        i_row[k] += g_row[k] * delta[k]
        if it == 0:
            first = worst
        if worst <= INNER_DROP * first or worst <= floor or not worst < prev:
            return
        prev = worst


@njit(cache=True)
def _block_sweep_kernel(ch, plan, y, interf, scratch, resid, floor):
    """One block Gauss-Seidel sweep in place; returns ``(residual, switched)``.

    ``residual`` is ``max_q max_k |move| / budget[q]`` and ``switched`` the number of
    (user, carrier) pairs whose output switched between zero and positive since the
    previous sweep (the active set changed; the sweep map is affine only while it
    holds).

    When a block comes up, each member pulls the moves of the users before the block in
    this sweep into its interference row; single users water-fill once, blocks are
    iterated (:func:`_solve_block`); each records its total move. A final pass pulls
    the moves of the users after each block, so every row ends as the interference of
    the output. Moves are pulled with ``ch.move_gains`` and kept in its dtype (float32
    halves the memory traffic; see :func:`protocols.iwf.move_gains`).

    Parameters
    ----------
    ch : AcceleratedChannel
        The channel (:class:`protocols.iwf.AcceleratedChannel`).
    plan : BlockPlan
        The blocks and their order.
    y : numpy.ndarray, shape (Q, N)
        Written: the profile ``x`` on entry, the sweep's output on return.
    interf : numpy.ndarray, shape (Q, N)
        Written: the interference of ``x`` on entry, that of the output on return.
    scratch : SweepScratch
        Written: see :class:`SweepScratch`.
    resid : numpy.ndarray, shape (Q, N)
        Written: output minus ``x``, in float64.
    floor : float
        Relative move below which a block's inner iterations stop.
    """
    nq, nk = y.shape
    order = plan.order
    moved = scratch.moved
    acc = np.empty(nk, dtype=moved.dtype)
    res = 0.0
    switched = 0
    i = 0
    while i < nq:
        lo, hi = plan.lo[i], plan.hi[i]
        for j in range(lo, hi):
            q = order[j]
            _pull(ch, moved, q, order, 0, lo, acc, interf[q], scratch.coupling)
            resid[q] = y[q]
        if hi - lo == 1:
            _best_move(ch, order[lo], y, interf[order[lo]], scratch, scratch.work[1])
        else:
            _solve_block(ch, plan, lo, hi, y, interf, scratch, floor)
        for j in range(lo, hi):
            q = order[j]
            move = 0.0
            for k in range(nk):
                d = y[q, k] - resid[q, k]
                move = max(move, abs(d))
                resid[q, k] = d
                moved[q, k] = d
                w = 1 if y[q, k] > 0.0 else 0
                switched += abs(w - scratch.wet[q, k])
                scratch.wet[q, k] = w
            res = max(res, move / ch.budget[q])
        i = hi
    for i in range(nq):
        q = order[i]
        _pull(ch, moved, q, order, plan.hi[i], nq, acc, interf[q], scratch.coupling)
    return res, switched
