"""DBP accusation gossip: accusations flooded to the whole network as per-robot bitsets.

:class:`AccusationGossip` is :class:`protocols.dbp.Flood` with an unlimited hop limit,
specialised for accusations at swarm scale: robot ``v`` holds accusation ``a`` when bit
``a`` of ``held[v]`` is set, and one step is a few bitwise operations per edge.

Threads: a step is written as a *pull* (each robot ORs in what its relaying neighbours
received in the previous step), so robots are independent and run in parallel (Numba
``prange``, :func:`numba.get_num_threads` threads); bitwise OR is exact and
order-free, so the result is the same for any thread count.

Examples
--------
>>> import numpy as np
>>> from protocols.dbp import AccusationGossip
>>> gossip = AccusationGossip(3)  # the path 0 - 1 - 2
>>> indptr, indices = np.array([0, 1, 3, 4]), np.array([1, 0, 2, 1])
>>> gossip.issue([0], [1], timestamp=5)
>>> [gossip.step(indptr, indices)["accuser"].tolist() for _ in range(4)]
[[], [], [0], []]
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
from numba import njit, prange

from protocols.checks import check_csr, check_int
from protocols.csr import CSR
from protocols.dbp.matching import check_accusations

__all__ = ["AccusationGossip", "Delta", "GossipBits", "locality_order"]

_BLOCK = 256
"""Robots per block of the per-word OR of new bits (fixed, so independent of threads)."""


class Delta(NamedTuple):
    """Sparse rows of bits: row ``v`` is ``bits[v, j]`` at word ``words[v, j]``, ``j < count[v]``.

    Every listed word is nonzero and listed once; the words not listed are zero.

    Attributes
    ----------
    words : numpy.ndarray of int32, shape (n, words)
        Word indices (the first ``count[v]`` entries of row ``v``).
    bits : numpy.ndarray of uint64, shape (n, words)
        The bits at those words.
    count : numpy.ndarray of int64, shape (n,)
        Words listed per row.
    """

    words: np.ndarray
    bits: np.ndarray
    count: np.ndarray


class GossipBits(NamedTuple):
    """The bitsets of an accusation gossip over ``n`` robots and ``64 * words`` slots.

    Attributes
    ----------
    held : numpy.ndarray of uint64, shape (n, words)
        Bit ``a`` of row ``v`` (word ``a // 64``, bit ``a % 64``): robot ``v`` holds
        accusation ``a``.
    delta : Delta
        The accusations each robot received in the last step (what it forwards next).
    """

    held: np.ndarray
    delta: Delta


def _delta(n: int, words: int) -> Delta:
    return Delta(
        np.empty((n, words), dtype=np.int32),
        np.empty((n, words), dtype=np.uint64),
        np.zeros(n, dtype=np.int64),
    )


@njit(cache=True, parallel=True)
def _pull(graph, relays, bits, order, new, acc, grew):
    """One gossip step as a pull over the in-edge CSR ``graph``.

    Robots are taken in blocks of :data:`_BLOCK` consecutive entries of ``order`` (int64,
    shape (n,), a permutation). Each robot ``v`` takes ``delta[u] & ~held[v]`` from every
    relay ``u`` it hears (``relays``: bool, shape (n,)), word by listed word, and
    gathers it in its thread's row of ``acc`` (uint64, shape (T, words), zero on entry
    and on exit). Writes ``bits.held`` (ORs the new bits in), ``new`` (:class:`Delta`:
    the new bits of each robot, the next step's delta, in the order their words were
    first reached) and ``grew`` (uint64, shape (blocks, words): the OR of ``new`` over
    each block).
    """
    # (Named-tuple fields are unpacked first: Numba loses writes made through them
    # inside a prange loop.)
    in_ptr, in_idx = graph
    held, delta = bits
    d_words, d_bits, d_count = delta
    new_words, new_bits, new_count = new
    n, words = held.shape
    for blk in prange(grew.shape[0]):
        # Unsigned indices spare Numba its negative-index wrap-around on every access
        # (the constant is set inside the parallel loop so the compiler sees it as one).
        one = np.uint64(1)
        row = acc[numba.get_thread_id()]
        for w in range(words):
            grew[blk, w] = 0
        for i in range(blk * _BLOCK, min(n, (blk + 1) * _BLOCK)):
            v = np.uint64(order[i])
            c = np.uint64(0)
            e = np.uint64(in_ptr[v])
            stop = np.uint64(in_ptr[v + one])
            while e < stop:
                u = np.uint64(in_idx[e])
                e += one
                if not relays[u]:
                    continue
                j = np.uint64(0)
                listed = np.uint64(d_count[u])
                while j < listed:
                    w = np.uint64(d_words[u, j])
                    b = d_bits[u, j] & ~held[v, w]
                    j += one
                    if b != 0:
                        if row[w] == 0:
                            new_words[v, c] = w
                            c += one
                        row[w] |= b
                        held[v, w] |= b
            j = np.uint64(0)
            while j < c:
                w = np.uint64(new_words[v, j])
                new_bits[v, j] = row[w]
                grew[blk, w] |= row[w]
                row[w] = 0
                j += one
            new_count[v] = c


@njit(cache=True)
def _set_bits(bits, robots, cols):
    """Set bit ``cols[k]`` of row ``robots[k]`` in ``bits.held`` and ``bits.delta``.

    Writes both (a word new to a row of the delta is appended to its list).
    """
    held, delta = bits
    d_words, d_bits, d_count = delta
    for k in range(robots.shape[0]):
        v = robots[k]
        w = cols[k] // 64
        b = np.uint64(1) << np.uint64(cols[k] % 64)
        held[v, w] |= b
        j = 0
        while j < d_count[v] and d_words[v, j] != w:
            j += 1
        if j == d_count[v]:
            d_words[v, j] = w
            d_bits[v, j] = 0
            d_count[v] += 1
        d_bits[v, j] |= b


def locality_order(positions, cell: float) -> np.ndarray:
    """Robots sorted by grid cell (rows of cells, then columns), a cache-friendly order.

    Parameters
    ----------
    positions : numpy.ndarray of float64, shape (n, 2)
        Robot positions (finite).
    cell : float
        Side of a grid cell (> 0), e.g. the radio range.

    Returns
    -------
    numpy.ndarray of int64, shape (n,)
        A permutation of ``range(n)``; robots of one cell are in increasing order.
    """
    c = np.floor((positions - positions.min(axis=0)) / cell).astype(np.int64)
    return np.lexsort((c[:, 0], c[:, 1])).astype(np.int64)


@njit(cache=True, parallel=True)
def _clear_slots(bits, keep):
    """AND every row of ``bits.held`` and ``bits.delta`` with ``keep`` (uint64, (words,)).

    Only the words of ``keep`` that are not all ones are touched in ``held``; words of
    the delta that become zero leave its lists. Writes both.
    """
    held, delta = bits
    d_words, d_bits, d_count = delta
    touched = np.flatnonzero(keep != ~np.uint64(0))
    for v in prange(held.shape[0]):
        for w in touched:
            held[v, w] &= keep[w]
        c = 0
        for j in range(d_count[v]):
            w = d_words[v, j]
            b = d_bits[v, j] & keep[w]
            if b != 0:
                d_words[v, c] = w
                d_bits[v, c] = b
                c += 1
        d_count[v] = c


@njit(cache=True, parallel=True)
def _holds_kernel(held, robots, accused, by_accused, cols, out):
    """Whether ``robots[k]`` holds a live accusation against ``accused[k]``.

    ``cols[by_accused[o]:by_accused[o + 1]]`` are the live slots accusing robot ``o``.
    Writes ``out`` (bool, shape (k,)).
    """
    for k in prange(robots.shape[0]):
        v = robots[k]
        o = accused[k]
        hit = False
        for j in range(by_accused[o], by_accused[o + 1]):
            c = cols[j]
            if (held[v, c // 64] >> np.uint64(c % 64)) & np.uint64(1):
                hit = True
                break
        out[k] = hit


def _holds_against(held, accused_of_slot, live, robots, accused) -> np.ndarray:
    n = held.shape[0]
    cols = np.flatnonzero(live)
    target = accused_of_slot[cols]
    order = np.argsort(target, kind="stable")
    by_accused = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(target, minlength=n), out=by_accused[1:])
    out = np.empty(robots.shape[0], dtype=bool)
    _holds_kernel(held, robots, accused, by_accused, cols[order], out)
    return out


class AccusationGossip:
    """Accusations flooded to the whole network, held as one bitset per robot.

    This is :class:`~protocols.dbp.Flood` with an unlimited hop limit, specialised for
    accusations at swarm scale: robot ``v`` holds accusation ``a`` when bit ``a`` of
    ``held[v]`` is set; each :meth:`step` every relay forwards the accusations it
    received in the previous step to all its neighbours (so each robot forwards each
    accusation once). An accusation's flood has ended when a step adds no new holder;
    :meth:`step` returns those accusations and frees their slot.

    Parameters
    ----------
    n : int
        Number of robots.
    """

    def __init__(self, n: int):
        self.n = check_int("n", n, low=0)
        self._words = 1
        self.held = np.zeros((self.n, 1), dtype=np.uint64)
        self._delta = _delta(self.n, 1)
        self._new = _delta(self.n, 1)
        self.accuser = np.full(64, -1, dtype=np.int64)
        self.accused = np.full(64, -1, dtype=np.int64)
        self.timestamp = np.zeros(64, dtype=np.int64)
        self._alive = np.zeros(64, dtype=bool)
        self._fresh = np.zeros(64, dtype=bool)
        self._all_relay = np.ones(self.n, dtype=bool)
        self._acc = np.zeros((1, 1), dtype=np.uint64)
        self._grew = np.empty((1, 1), dtype=np.uint64)
        self._identity = np.arange(self.n, dtype=np.int64)

    def __len__(self) -> int:
        """Return the number of accusations still flooding."""
        return int(self._alive.sum())

    def _grow(self, need: int) -> None:
        cap = self.accuser.shape[0]
        if need <= cap:
            return
        # Half as many words again, or the need and a quarter to spare (doubling after
        # a burst of accusations would mostly allocate words that stay empty).
        words = max(self._words * 3 // 2 + 1, (need + 63) // 64 * 5 // 4)
        new_cap = 64 * words
        for name, fill in (("accuser", -1), ("accused", -1), ("timestamp", 0)):
            arr = getattr(self, name)
            grown = np.full(new_cap, fill, dtype=np.int64)
            grown[:cap] = arr
            setattr(self, name, grown)
        for name in ("_alive", "_fresh"):
            arr = getattr(self, name)
            grown = np.zeros(new_cap, dtype=bool)
            grown[:cap] = arr
            setattr(self, name, grown)
        held = np.zeros((self.n, words), dtype=np.uint64)
        held[:, : self._words] = self.held
        self.held = held
        delta = _delta(self.n, words)
        used = int(self._delta.count.max(initial=0))
        delta.words[:, :used] = self._delta.words[:, :used]
        delta.bits[:, :used] = self._delta.bits[:, :used]
        delta.count[:] = self._delta.count
        self._delta = delta
        self._new = _delta(self.n, words)
        self._words = words

    def issue(self, accusers, accused, timestamp: int) -> None:
        """Start flooding accusations ``accusers[i]`` accuses ``accused[i]``.

        Parameters
        ----------
        accusers, accused : array_like of int, shape (k,)
            Robot indices in ``[0, n)``, ``accusers[i] != accused[i]``.
        timestamp : int
            Round of the accusations.
        """
        acc = check_accusations(
            np.column_stack([np.atleast_1d(accusers), np.atleast_1d(accused)]), self.n
        )
        k = acc.shape[0]
        if k == 0:
            return
        free = np.flatnonzero(~self._alive)
        if free.shape[0] < k:
            self._grow(self.accuser.shape[0] + k - free.shape[0])
            free = np.flatnonzero(~self._alive)
        cols = free[:k]
        self.accuser[cols] = acc[:, 0]
        self.accused[cols] = acc[:, 1]
        self.timestamp[cols] = check_int("timestamp", timestamp)
        self._alive[cols] = True
        self._fresh[cols] = True
        _set_bits(GossipBits(self.held, self._delta), np.ascontiguousarray(acc[:, 0]), cols)

    def holds_against(self, robots, accused) -> np.ndarray:
        """Whether ``robots[i]`` holds some live accusation against ``accused[i]``.

        Parameters
        ----------
        robots, accused : array_like of int, shape (k,)
            Robot indices in ``[0, n)``.

        Returns
        -------
        numpy.ndarray of bool, shape (k,)
        """
        robots = np.atleast_1d(np.asarray(robots))
        accused = np.atleast_1d(np.asarray(accused))
        for name, arr in (("robots", robots), ("accused", accused)):
            if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
                raise ValueError(f"{name} must be a one-dimensional integer array")
            if arr.size and (arr.min() < 0 or arr.max() >= self.n):
                raise ValueError(
                    f"{name} must lie in [0, {self.n}), got range [{arr.min()}, {arr.max()}]"
                )
        if robots.shape != accused.shape:
            raise ValueError(f"accused must have shape {robots.shape}, got {accused.shape}")
        return _holds_against(
            self.held, self.accused, self._alive, robots.astype(np.int64), accused.astype(np.int64)
        )

    def step(self, indptr, indices, relays=None, *, symmetric: bool = False, order=None) -> dict:
        """One round of forwarding; return the accusations whose flood ended.

        Parameters
        ----------
        indptr, indices : array_like of int
            In-edge CSR of the round's communication graph.
        relays : array_like of bool, shape (n,), optional
            Robots that forward (default all).
        symmetric : bool
            Accepted for symmetry with :meth:`Flood.step`; the step reads in-edges only,
            so it needs no transposition either way.
        order : array_like of int, shape (n,), optional
            A permutation of the robots to process them in. It never changes the result;
            an order that puts neighbours close together (robots sorted by position, see
            :func:`locality_order`) makes their bitsets share the cache and runs faster.

        Returns
        -------
        dict of str to numpy.ndarray
            ``accuser``, ``accused`` and ``timestamp`` of the accusations every robot they
            could reach now holds; their slots are freed.
        """
        indptr, indices = check_csr(indptr, indices, self.n)
        if order is None:
            order = self._identity
        else:
            order = np.asarray(order)
            if order.shape != (self.n,) or order.dtype.kind not in "iu":
                raise ValueError(f"order must be a permutation of range({self.n})")
            order = order.astype(np.int64)
            if self.n and (
                order.min() < 0
                or order.max() >= self.n
                or np.any(np.bincount(order, minlength=self.n) != 1)
            ):
                raise ValueError(f"order must be a permutation of range({self.n})")
        if relays is None:
            relays = self._all_relay
        elif np.asarray(relays).shape != (self.n,) or np.asarray(relays).dtype != np.bool_:
            raise ValueError(f"relays must be a boolean array of shape ({self.n},)")
        threads = numba.get_num_threads()
        blocks = (self.n + _BLOCK - 1) // _BLOCK
        if self._acc.shape[0] < threads or self._acc.shape[1] != self._words:
            self._acc = np.zeros((threads, self._words), dtype=np.uint64)
        if self._grew.shape != (blocks, self._words):
            self._grew = np.empty((blocks, self._words), dtype=np.uint64)
        _pull(
            CSR(indptr, indices),
            np.ascontiguousarray(relays),
            GossipBits(self.held, self._delta),
            order,
            self._new,
            self._acc,
            self._grew,
        )
        grew_words = np.bitwise_or.reduce(self._grew, axis=0)
        # The new bits are the next delta; the old delta's memory is the next work space.
        self._delta, self._new = self._new, self._delta
        grew = np.unpackbits(grew_words.view(np.uint8), bitorder="little").astype(bool)
        done = np.flatnonzero(self._alive & ~grew & ~self._fresh)
        self._fresh[:] = False
        out = {
            "accuser": self.accuser[done].copy(),
            "accused": self.accused[done].copy(),
            "timestamp": self.timestamp[done].copy(),
        }
        if done.size:
            mask = np.zeros(self._words * 64, dtype=bool)
            mask[done] = True
            keep = ~np.packbits(mask, bitorder="little").view(np.uint64)
            _clear_slots(GossipBits(self.held, self._delta), keep)
            self._alive[done] = False
            self.accuser[done] = -1
            self.accused[done] = -1
        return out
