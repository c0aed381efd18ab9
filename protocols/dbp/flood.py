"""DBP message flooding: observations and accusations forwarded hop by hop, as flat arrays.

Messages (:class:`Flood`) are one row each: origin, timestamp, hop count, kind
(:data:`OBSERVATION` or :data:`ACCUSATION`), accused (``-1`` for observations) and an
optional float payload row. One :meth:`Flood.step` moves every live message one hop over
the round's communication graph (in-edge CSR, as in :mod:`protocols.wmsr`): every robot
that received a message in the previous step forwards it to its neighbours, up to the
hop limit; each robot keeps a message once (deduplication); observations whose origin
is blocked are dropped by their receivers; accusations are always forwarded, whoever
sent them.

Threads: the messages are independent, so a step expands them in parallel (Numba
``prange``, as many threads as :func:`numba.get_num_threads`, set with
``NUMBA_NUM_THREADS`` or :func:`numba.set_num_threads`). Each message's new holders
are found by that message alone and written at offsets fixed by message order, so the
result is bit for bit the same for any thread count.

Examples
--------
>>> import numpy as np
>>> from protocols.dbp import Flood
>>> flood = Flood(3, hop_limit=2)  # the path 0 - 1 - 2
>>> indptr, indices = np.array([0, 1, 3, 4]), np.array([1, 0, 2, 1])
>>> flood.send_observations([0], timestamp=0)
>>> [flood.step(indptr, indices).receiver.tolist() for _ in range(3)]
[[1], [2], []]
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numba
import numpy as np

from protocols.checks import check_csr, check_float_array, check_int
from protocols.csr import CSR, transpose_csr
from protocols.dbp._flood_kernels import _expand, _Found, _gather, _Holders, _Scratch

__all__ = [
    "ACCUSATION",
    "OBSERVATION",
    "Deliveries",
    "DeliveryArrays",
    "Flood",
    "Messages",
]

OBSERVATION = 0
"""Message kind: an observation made by its origin (payload holds the content)."""
ACCUSATION = 1
"""Message kind: its origin (the accuser) accuses ``accused``."""

_UNLIMITED = np.iinfo(np.int64).max
_STAMP_LIMIT = np.iinfo(np.int32).max


class Messages(NamedTuple):
    """The messages a :meth:`Flood.step` moved, one row per message.

    Attributes
    ----------
    origin, timestamp, kind, accused : numpy.ndarray of int64, shape (m,)
        Sender, round sent, :data:`OBSERVATION` or :data:`ACCUSATION`, and the accused
        robot (``-1`` for observations).
    payload : numpy.ndarray of float64, shape (m, payload_dim)
        Content (untrusted: may hold NaN or infinities).
    hops : numpy.ndarray of int64, shape (m,)
        Links travelled by the copies delivered in that step (1 for the origin's
        direct neighbours).
    """

    origin: np.ndarray
    timestamp: np.ndarray
    kind: np.ndarray
    accused: np.ndarray
    payload: np.ndarray
    hops: np.ndarray


class DeliveryArrays(NamedTuple):
    """Rows of one step's deliveries, grouped by message (in the order of the table).

    Attributes
    ----------
    receiver : numpy.ndarray of int64, shape (k,)
        Robot that received the message.
    sender : numpy.ndarray of int64, shape (k,)
        Neighbour it was received from (the first one, in CSR order).
    message : numpy.ndarray of int64, shape (k,)
        Row of the message in the step's :class:`Messages` table (non-decreasing).
    """

    receiver: np.ndarray
    sender: np.ndarray
    message: np.ndarray


@dataclass(frozen=True)
class Deliveries:
    """Messages delivered in one :meth:`Flood.step`, one row per (receiver, message).

    Rows are grouped by message. ``arrays`` and ``messages`` are what compiled code
    should take (the per-row message fields below are gathered from the table on first
    access).

    Attributes
    ----------
    arrays : DeliveryArrays
        ``receiver``, ``sender`` and ``message`` per row.
    messages : Messages
        The table ``arrays.message`` indexes.
    receiver, sender : numpy.ndarray of int64, shape (k,)
        As in ``arrays``.
    hops : numpy.ndarray of int64, shape (k,)
        Links the message travelled (1 for a direct neighbour of the origin); with one
        hop per step this is also the number of steps since it was sent.
    origin, timestamp, kind, accused : numpy.ndarray of int64, shape (k,)
        Copied from the message (``accused`` is ``-1`` for observations).
    payload : numpy.ndarray of float64, shape (k, payload_dim)
        Copied from the message.
    """

    arrays: DeliveryArrays
    messages: Messages

    @property
    def receiver(self) -> np.ndarray:
        """Robot that received each row's message, shape (k,)."""
        return self.arrays.receiver

    @property
    def sender(self) -> np.ndarray:
        """Neighbour each row was received from, shape (k,)."""
        return self.arrays.sender

    @cached_property
    def hops(self) -> np.ndarray:
        """Links travelled, shape (k,)."""
        return self.messages.hops[self.arrays.message]

    @cached_property
    def origin(self) -> np.ndarray:
        """Origin of each row's message, shape (k,)."""
        return self.messages.origin[self.arrays.message]

    @cached_property
    def timestamp(self) -> np.ndarray:
        """Timestamp of each row's message, shape (k,)."""
        return self.messages.timestamp[self.arrays.message]

    @cached_property
    def kind(self) -> np.ndarray:
        """Kind of each row's message, shape (k,)."""
        return self.messages.kind[self.arrays.message]

    @cached_property
    def accused(self) -> np.ndarray:
        """Accused robot of each row's message (-1 for observations), shape (k,)."""
        return self.messages.accused[self.arrays.message]

    @cached_property
    def payload(self) -> np.ndarray:
        """Payload of each row's message, shape (k, payload_dim)."""
        return self.messages.payload[self.arrays.message]

    def __len__(self) -> int:
        return int(self.arrays.receiver.shape[0])


class Flood:
    """Messages in flight over a changing communication graph, as flat arrays.

    Each :meth:`step` is one communication round: every robot that received a message in
    the previous round (or sent it, for a new message) forwards it to each neighbour that
    does not hold it yet. A message stops being forwarded once it has travelled its hop
    limit, or when no robot received it this round; it is then forgotten (its holders are
    not remembered past its lifetime, so keep ``timestamp`` distinct per message you
    resend).

    Parameters
    ----------
    n : int
        Number of robots.
    payload_dim : int
        Floats carried by each message (0 for none).
    hop_limit : int
        Hop limit of observations (default 4); ``0`` means never delivered.
    accusation_hop_limit : int or None
        Hop limit of accusations; ``None`` (default) floods them to the whole connected
        network.

    Attributes
    ----------
    origin, timestamp, kind, accused, payload : numpy.ndarray
        The live messages (one row per message).
    finished : dict of str to numpy.ndarray
        ``origin``, ``timestamp``, ``kind`` and ``accused`` of the messages whose flood
        ended in the last :meth:`step` (every robot it could reach holds it).
    """

    def __init__(
        self,
        n: int,
        payload_dim: int = 0,
        hop_limit: int = 4,
        accusation_hop_limit: int | None = None,
    ):
        self.n = check_int("n", n, low=0)
        self.payload_dim = check_int("payload_dim", payload_dim, low=0)
        self.hop_limit = check_int("hop_limit", hop_limit, low=0)
        if accusation_hop_limit is None:
            self.accusation_hop_limit = None
        else:
            self.accusation_hop_limit = check_int(
                "accusation_hop_limit", accusation_hop_limit, low=0
            )
        empty = np.empty(0, dtype=np.int64)
        self._h = _Holders(
            np.zeros(1, dtype=np.int64), empty, np.empty(0, dtype=np.int32), empty, empty
        )
        self.origin = empty
        self.timestamp = empty
        self.kind = empty
        self.accused = empty
        self.payload = np.empty((0, self.payload_dim), dtype=np.float64)
        self._scratch = _Scratch(
            np.zeros((1, self.n), dtype=np.int32),
            np.empty((1, 1024), dtype=np.int32),
            np.empty((1, 1024), dtype=np.int32),
            np.zeros((1, 8), dtype=np.int64),
        )
        self._base = 0
        self._last_total = 0
        self._block = np.empty(0, dtype=np.int64)
        self._block_refs = sys.getrefcount(self._block)
        self._spare_pool = np.empty(0, dtype=np.int32)
        self._all_relay = np.ones(self.n, dtype=bool)
        self._no_block = np.zeros(self.n, dtype=bool)
        self.finished = self._fields(np.empty(0, dtype=np.int64))

    def __len__(self) -> int:
        """Return the number of live messages."""
        return int(self.origin.shape[0])

    def send_observations(self, origins, timestamp, payload=None) -> None:
        """Queue one observation per origin; it reaches direct neighbours at the next step.

        Parameters
        ----------
        origins : array_like of int, shape (k,)
            Sending robots.
        timestamp : int or array_like of int, shape (k,)
            Round the observation was made.
        payload : array_like of float, shape (k, payload_dim), optional
            Content (zeros if omitted). Non-finite values are carried as they are;
            receivers must treat them as the untrusted data they are.
        """
        origins = self._check_robots("origins", origins)
        k = origins.shape[0]
        if payload is None:
            payload = np.zeros((k, self.payload_dim))
        payload = check_float_array("payload", payload, shape=(k, self.payload_dim))
        self._append(
            origins, timestamp, OBSERVATION, np.full(k, -1, dtype=np.int64), payload, self.hop_limit
        )

    def send_accusations(self, accusers, accused, timestamp) -> None:
        """Queue accusations ``accusers[i]`` accuses ``accused[i]``.

        Parameters
        ----------
        accusers, accused : array_like of int, shape (k,)
            Robot indices in ``[0, n)``, ``accusers[i] != accused[i]``.
        timestamp : int or array_like of int, shape (k,)
            Round of the accusation.
        """
        accusers = self._check_robots("accusers", accusers)
        accused = self._check_robots("accused", accused)
        if accused.shape != accusers.shape:
            raise ValueError(f"accused must have shape {accusers.shape}, got {accused.shape}")
        bad = np.flatnonzero(accusers == accused)
        if bad.size:
            raise ValueError(
                f"robot {accusers[bad[0]]} accuses itself; self-accusations are not allowed"
            )
        limit = _UNLIMITED if self.accusation_hop_limit is None else self.accusation_hop_limit
        self._append(
            accusers,
            timestamp,
            ACCUSATION,
            accused,
            np.zeros((accusers.shape[0], self.payload_dim)),
            limit,
        )

    def _check_robots(self, name: str, value) -> np.ndarray:
        arr = np.atleast_1d(np.asarray(value))
        if arr.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
        if arr.size and arr.dtype.kind not in "iu":
            raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}")
        arr = arr.astype(np.int64)
        if arr.size and (arr.min() < 0 or arr.max() >= self.n):
            raise ValueError(
                f"{name} must lie in [0, {self.n}), got range [{arr.min()}, {arr.max()}]"
            )
        return arr

    def _append(self, origins, timestamp, kind, accused, payload, limit) -> None:
        k = origins.shape[0]
        if k == 0:
            return
        ts = np.broadcast_to(np.asarray(timestamp), (k,))
        if ts.dtype.kind not in "iu":
            raise TypeError(f"timestamp must hold integers, got dtype {ts.dtype}")
        self.origin = np.concatenate([self.origin, origins])
        self.timestamp = np.concatenate([self.timestamp, ts.astype(np.int64)])
        self.kind = np.concatenate([self.kind, np.full(k, kind, dtype=np.int64)])
        self.accused = np.concatenate([self.accused, accused])
        self.payload = np.concatenate([self.payload, payload])
        h = self._h
        end = h.ptr[-1]
        self._h = _Holders(
            ptr=np.concatenate([h.ptr, end + np.arange(1, k + 1)]),
            front=np.concatenate([h.front, end + np.arange(k)]),
            pool=np.concatenate([h.pool, origins.astype(np.int32)]),
            age=np.concatenate([h.age, np.zeros(k, dtype=np.int64)]),
            limit=np.concatenate([h.limit, np.full(k, limit, dtype=np.int64)]),
        )

    def step(
        self, indptr, indices, blocked=None, relays=None, *, symmetric: bool = False
    ) -> Deliveries:
        """One round of forwarding over the round's communication graph.

        Parameters
        ----------
        indptr, indices : array_like of int
            In-edge CSR of the round: robot ``i`` hears ``indices[indptr[i]:indptr[i+1]]``.
        blocked : array_like of bool, shape (n,), optional
            The receivers' blocklist: observations originating from a blocked robot are
            dropped (not delivered, not forwarded). Accusations are never dropped.
        relays : array_like of bool, shape (n,), optional
            Robots that forward what they receive (default all). Robots that are not
            relays still receive, and still send their own messages.
        symmetric : bool
            Promise that the graph is undirected (in-edges equal out-edges), which skips
            the transposition.

        Returns
        -------
        Deliveries
            One row per new (receiver, message) pair, grouped by message.
        """
        indptr, indices = check_csr(indptr, indices, self.n)
        blocked = self._mask("blocked", blocked, self._no_block)
        relays = self._mask("relays", relays, self._all_relay)
        if not symmetric:
            indptr, indices = transpose_csr(indptr, indices, self.n)
        return self._step(indptr, indices, blocked, relays)

    def _fields(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "origin": self.origin[rows],
            "timestamp": self.timestamp[rows],
            "kind": self.kind[rows],
            "accused": self.accused[rows],
        }

    def _mask(self, name: str, value, default: np.ndarray) -> np.ndarray:
        if value is None:
            return default
        arr = np.asarray(value)
        if arr.shape != (self.n,):
            raise ValueError(f"{name} must have shape ({self.n},), got {arr.shape}")
        if arr.dtype != np.bool_:
            raise TypeError(f"{name} must be a boolean array, got dtype {arr.dtype}")
        return np.ascontiguousarray(arr)

    def _delivery_arrays(self, total: int) -> DeliveryArrays:
        """Three int64 arrays of ``total`` rows, in one block of memory.

        The block of the last step is used again when nothing outside this object
        refers to it any more (its deliveries were dropped): writing fresh memory costs
        a page fault per page.
        """
        # (Compared with the count taken when the block was made, by the same call, so
        # whatever the interpreter counts itself is counted the same way both times.)
        if self._block.shape[0] < 3 * total or sys.getrefcount(self._block) != self._block_refs:
            self._block = np.empty(3 * total + 3 * total // 4, dtype=np.int64)
            self._block_refs = sys.getrefcount(self._block)
        b = self._block
        return DeliveryArrays(b[:total], b[total : 2 * total], b[2 * total : 3 * total])

    def _scratch_for(self, threads: int, cap: int) -> _Scratch:
        s = self._scratch
        if s.mark.shape[0] < threads:
            s = s._replace(mark=np.zeros((threads, self.n), dtype=np.int32))
            self._base = 0
        if s.buf_v.shape[0] < threads or s.buf_v.shape[1] < cap:
            rows = max(threads, s.buf_v.shape[0])
            cap = max(cap, s.buf_v.shape[1])
            s = s._replace(
                buf_v=np.empty((rows, cap), dtype=np.int32),
                buf_u=np.empty((rows, cap), dtype=np.int32),
                fill=np.zeros((rows, 8), dtype=np.int64),
            )
        self._scratch = s
        return s

    def _step(self, out_ptr, out_idx, blocked, relays) -> Deliveries:
        h = self._h
        m = self.origin.shape[0]
        drop = (self.kind == OBSERVATION) & blocked[self.origin]
        threads = numba.get_num_threads()
        # Room for four times the last step's deliveries: floods grow for a few steps
        # after they start, and a buffer too small means running the step again.
        s = self._scratch_for(threads, 4 * self._last_total // threads + 1024)
        found = _Found(np.empty(m, dtype=np.int64), np.empty(m, dtype=np.int64))
        # Robot indices as int32 halve the memory the expansion walks through.
        graph = CSR(out_ptr, out_idx.astype(np.int32))
        while True:
            if self._base + m + 1 >= _STAMP_LIMIT:
                s.mark[:] = 0
                self._base = 0
            s.fill[:] = 0
            _expand(graph, h, drop, relays, s, self._base, 4 * threads, found)
            self._base += m + 1
            short = found.count < 0
            if not short.any():
                break
            # A thread's buffer was too small: grow them (each holds a share of the
            # total with room to spare, and at least doubles) and run again.
            need = int(np.where(short, -1 - found.count, found.count).sum())
            s = self._scratch_for(threads, max(2 * need // threads + 1024, 2 * s.buf_v.shape[1]))
        count = found.count
        live = (count > 0) & (h.age + 1 < h.limit)
        d_off = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(count, out=d_off[1:])
        total = int(d_off[-1])
        self._last_total = total
        out = self._delivery_arrays(total)
        keep = np.flatnonzero(live)
        seg = (h.ptr[1:] - h.ptr[:-1] + count)[keep]
        new_ptr = np.zeros(keep.shape[0] + 1, dtype=np.int64)
        np.cumsum(seg, out=new_ptr[1:])
        rank = np.full(m, -1, dtype=np.int64)
        rank[keep] = np.arange(keep.shape[0])
        # The holders are written over the memory of the step before last's (nothing
        # else refers to it), sparing the page faults of fresh memory.
        size = int(new_ptr[-1])
        if self._spare_pool.shape[0] < size:
            self._spare_pool = np.empty(size + size // 4, dtype=np.int32)
        new_h = _Holders(
            new_ptr,
            np.empty(keep.shape[0], dtype=np.int64),
            self._spare_pool[:size],
            h.age[keep] + 1,
            h.limit[keep],
        )
        _gather(h, s, found, rank, new_h, d_off, out)
        self._spare_pool = h.pool if h.pool.base is None else h.pool.base
        messages = Messages(
            self.origin, self.timestamp, self.kind, self.accused, self.payload, h.age + 1
        )
        self.finished = self._fields(np.flatnonzero(~live))
        self._h = new_h
        self.origin = self.origin[keep]
        self.timestamp = self.timestamp[keep]
        self.kind = self.kind[keep]
        self.accused = self.accused[keep]
        self.payload = self.payload[keep]
        return Deliveries(out, messages)
