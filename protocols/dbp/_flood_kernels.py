"""The parallel kernels of :class:`protocols.dbp.flood.Flood`: one hop of every message.

:func:`_expand` finds each live message's new holders (parallel over messages, each
writing only its own rows); :func:`_gather` writes them, in message order, into the
next step's holder pool and the step's deliveries. The offsets are fixed by message
order before any thread writes, so the result is the same bit for bit for any thread
count. Nothing here checks its input: :class:`~protocols.dbp.flood.Flood` does.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
from numba import njit, prange

__all__: list[str] = []


class _Holders(NamedTuple):
    """Who holds each live message: ``pool[ptr[k]:ptr[k + 1]]``, in the order reached.

    ``pool[front[k]:ptr[k + 1]]`` is the frontier: the holders reached in the last step
    (or the origin, for a message not yet sent on). ``age[k]`` is the frontier's hop
    count, ``limit[k]`` the message's hop limit.
    """

    ptr: np.ndarray  # int64, shape (m + 1,)
    front: np.ndarray  # int64, shape (m,)
    pool: np.ndarray  # int32, shape (ptr[m],)
    age: np.ndarray  # int64, shape (m,)
    limit: np.ndarray  # int64, shape (m,)


class _Scratch(NamedTuple):
    """Per-thread work space of :func:`_expand` (``T`` threads at most)."""

    mark: np.ndarray  # int32, shape (T, n): stamps of the robots holding a message
    buf_v: np.ndarray  # int32, shape (T, cap): new holders, per thread
    buf_u: np.ndarray  # int32, shape (T, cap): the neighbour each was reached from
    fill: np.ndarray  # int64, shape (T, 8): used length of the buffers (column 0)


class _Found(NamedTuple):
    """Where :func:`_expand` put each message's new holders.

    Message ``k``'s new holders are ``buf_v.ravel()[start[k]:start[k] + count[k]]``
    (their senders in ``buf_u``); ``count[k] = -1 - needed`` when the buffer of the
    thread that ran it was too small.
    """

    count: np.ndarray  # int64, shape (m,)
    start: np.ndarray  # int64, shape (m,)


@njit(cache=True, parallel=True)
def _expand(graph, h, drop, relays, s, base, stripes, found):
    """Find every live message's new holders (one hop), in parallel over messages.

    Message ``k`` sends on from its frontier (robots that are ``relays``, or its origin
    at age 0) to its out-neighbours in ``graph`` (out-edge CSR) that do not hold it yet,
    in frontier order then CSR order; it does not move when ``drop[k]`` (bool, shape
    (m,)) or ``h.age[k] >= h.limit[k]``. Messages are taken in ``stripes`` interleaved
    sequences, so old and new messages mix on every thread; a message's result does not
    depend on the thread that ran it.

    Writes ``found`` (:class:`_Found`), ``s.mark`` (stamps ``base + k + 1``), and
    ``s.buf_v``, ``s.buf_u``, ``s.fill`` of the running threads.
    """
    # (Named-tuple fields are unpacked first: Numba loses writes made through them
    # inside a prange loop.)
    out_ptr, out_idx = graph
    ptr, front, pool, ages, limit = h
    marks, buf_v, buf_u, fill = s
    count, start = found
    cap = buf_v.shape[1]
    m = count.shape[0]
    for st in prange(stripes):
        # Indices are unsigned in the loops below: Numba then skips the negative-index
        # wrap-around it otherwise adds to every array access. (The constant is set
        # inside the parallel loop, so that the compiler sees it as one.)
        one = np.uint64(1)
        t = numba.get_thread_id()
        mark = marks[t]
        bv = buf_v[t]
        bu = buf_u[t]
        for k in range(st, m, stripes):
            pos = fill[t, 0]
            count[k] = 0
            start[k] = t * cap + pos
            age = ages[k]
            if age >= limit[k] or drop[k]:
                continue
            stamp = base + k + 1
            end = np.uint64(ptr[k + 1])
            r = np.uint64(ptr[k])
            while r < end:
                mark[np.uint64(pool[r])] = stamp
                r += one
            c = np.uint64(pos)
            r = np.uint64(front[k])
            while r < end:
                u = np.uint64(pool[r])
                r += one
                if age > 0 and not relays[u]:
                    continue
                e = np.uint64(out_ptr[u])
                stop = np.uint64(out_ptr[u + one])
                if c + (stop - e) <= cap:
                    # Room for every neighbour: write each one and move past it only
                    # if it is new (no branch on the mark to mispredict).
                    while e < stop:
                        v = np.uint64(out_idx[e])
                        e += one
                        bv[c] = v
                        bu[c] = u
                        c += np.uint64(mark[v] != stamp)
                        mark[v] = stamp
                else:
                    # The buffer is nearly full: count the new holders, keep what fits.
                    while e < stop:
                        v = np.uint64(out_idx[e])
                        e += one
                        if mark[v] != stamp:
                            mark[v] = stamp
                            if c < cap:
                                bv[c] = v
                                bu[c] = u
                            c += one
            found_here = np.int64(c) - pos
            if np.int64(c) <= cap:
                count[k] = found_here
                fill[t, 0] = np.int64(c)
            else:
                count[k] = -1 - found_here


@njit(cache=True, parallel=True)
def _gather(h, s, found, rank, new_h, d_off, out):
    """Write the deliveries and the surviving messages' holders after :func:`_expand`.

    ``d_off`` (int64, shape (m + 1,)) are the prefix sums of ``found.count``; ``rank``
    (int64, shape (m,)) is each surviving message's row in ``new_h``, -1 for the others.
    Writes ``out`` (:class:`DeliveryArrays`: rows ``d_off[k]:d_off[k + 1]`` for message
    ``k``), ``new_h.pool`` (old holders then new ones) and ``new_h.front``, at the
    offsets ``new_h.ptr``.
    """
    buf_v = s.buf_v.ravel()
    buf_u = s.buf_u.ravel()
    count, start = found
    receiver, sender, message = out
    ptr, pool = h.ptr, h.pool
    new_ptr, new_front, new_pool = new_h.ptr, new_h.front, new_h.pool
    for k in prange(count.shape[0]):
        # Unsigned indices: no negative-index wrap-around on each access.
        one = np.uint64(1)
        c = np.uint64(count[k])
        o = np.uint64(start[k])
        d = np.uint64(d_off[k])
        i = np.uint64(0)
        while i < c:
            receiver[d + i] = buf_v[o + i]
            sender[d + i] = buf_u[o + i]
            message[d + i] = k
            i += one
        j = rank[k]
        if j < 0:
            continue
        p = np.uint64(new_ptr[j])
        lo = np.uint64(ptr[k])
        old = np.uint64(ptr[k + 1]) - lo
        i = np.uint64(0)
        while i < old:
            new_pool[p + i] = pool[lo + i]
            i += one
        new_front[j] = p + old
        p += old
        i = np.uint64(0)
        while i < c:
            new_pool[p + i] = buf_v[o + i]
            i += one
