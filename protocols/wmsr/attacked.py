"""Rounds of swarms whose Byzantine robots are driven by bounded actions (the envs' kernel).

The Byzantine consensus environments let a policy choose every Byzantine robot's message
to every robot, as an action in [-1, 1] mapped affinely onto the honest hull widened by
``bound`` hull widths. These messages are bounded by construction, so the honest robots'
W-MSR (or LCP, ``f = 0``) can run a one-pass kernel: offsets from the own value are
summed and the trimmed ones subtracted, a few roundings from the exact mean and clamped
to the kept values' range (:func:`protocols.wmsr._fast._bounded_node`; ``f > 2`` runs
the exact kernel of :func:`protocols.wmsr.wmsr_step`).

:func:`attacked_round_batch` steps B independent swarms at once, in parallel over the
batch axis (Numba's threads: ``NUMBA_NUM_THREADS`` or :func:`numba.set_num_threads`;
small batches, under :data:`protocols.wmsr.rounds.PARALLEL_MIN_EDGES` message slots,
run on the calling thread);
each swarm's result is the same bit for bit for any thread count, and swarm ``b`` alone
(B = 1) is exactly what the single environment computes.

Examples
--------
Two swarms of two robots, robot 1 Byzantine in both; action 1 (-1) sends the top
(bottom) of the honest hull [0, 1] widened by half a width, and LCP averages it in.
The second call steps the first swarm only.

>>> import numpy as np
>>> from protocols.wmsr.attacked import AttackedSwarms, attacked_round_batch, message_sources
>>> indptr = np.array([[0, 1, 2], [0, 1, 2]])  # robot 0 hears 1, robot 1 hears 0
>>> src = message_sources(indptr[0], [1, 0], n_honest=1)
>>> swarms = AttackedSwarms(indptr, np.stack([src, src]), np.zeros(2), np.ones(2), 1, 0.5, 0)
>>> actions = [[[1.0, 1.0]], [[-1.0, -1.0]]]
>>> attacked_round_batch(swarms, np.zeros((2, 2)), actions)
array([[ 0.75,  0.  ],
       [-0.25,  0.  ]])
>>> attacked_round_batch(swarms, np.zeros((2, 2)), actions, active=[True, False])
array([[0.75, 0.  ],
       [0.  , 0.  ]])
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
from numba import njit, prange

from protocols.checks import check_csr, check_float_array, check_int, check_out
from protocols.wmsr._fast import _bounded_node
from protocols.wmsr.rounds import F_MAX, PARALLEL_MIN_EDGES

__all__ = ["AttackedSwarms", "attacked_round_batch", "message_sources"]


class AttackedSwarms(NamedTuple):
    """The fixed part of B swarms of n robots whose last ``n - n_honest`` are Byzantine.

    Attributes
    ----------
    indptr : numpy.ndarray of int64, shape (B, n + 1)
        Each swarm's in-edge CSR row pointers.
    sources : numpy.ndarray of uint32, shape (B, M)
        Where each in-edge's message sits, as :func:`message_sources` gives it (padded
        beyond ``indptr[b, n]``).
    lo, width : numpy.ndarray of float64, shape (B,)
        Hull of each swarm's honest initial values (``width > 0``).
    n_honest : int
        Honest robots per swarm (the first ones).
    bound : float
        How far beyond the hull actions reach, in hull widths (>= 0).
    f : int
        W-MSR parameter of the honest robots (0 for LCP).
    """

    indptr: np.ndarray
    sources: np.ndarray
    lo: np.ndarray
    width: np.ndarray
    n_honest: int
    bound: float
    f: int


@njit(cache=True)
def _message_sources_kernel(indptr, indices, n_honest, out):
    """Fill ``out`` with where each in-edge's message sits in a swarm's message array.

    Parameters
    ----------
    indptr : int64 (n + 1,); indices : int64 (m,)
        In-edge CSR; read only.
    n_honest : int
        Robots ``n_honest ..`` are Byzantine.
    out : uint32 (m,)
        Written: honest sender ``s`` is ``s``; Byzantine robot ``k`` (robot
        ``n_honest + k``) telling robot ``i`` is ``n_honest + k n + i``.
    """
    n = indptr.shape[0] - 1
    for i in range(n):
        for e in range(indptr[i], indptr[i + 1]):
            s = indices[e]
            out[e] = s if s < n_honest else n_honest + (s - n_honest) * n + i


def message_sources(indptr, indices, n_honest: int) -> np.ndarray:
    """Where each in-edge's message sits in the per-swarm message array of a round.

    A round of :func:`attacked_round_batch` gathers every robot's messages from one
    array per swarm: the honest values, then each Byzantine robot's message to each
    robot.

    Parameters
    ----------
    indptr : array_like of int, shape (n + 1,)
        In-edge CSR row pointers.
    indices : array_like of int, shape (m,)
        Sender of each in-edge, in ``[0, n)``.
    n_honest : int
        Robots ``0 .. n_honest - 1`` are honest, the rest Byzantine.

    Returns
    -------
    numpy.ndarray of uint32, shape (m,)
        Honest sender ``s`` is ``s``; Byzantine robot ``k`` (robot ``n_honest + k``)
        telling robot ``i`` is ``n_honest + k n + i``.

    Examples
    --------
    >>> message_sources([0, 1, 2, 2], [1, 2], n_honest=2)
    array([1, 3], dtype=uint32)
    """
    n = max(np.shape(indptr)[0] - 1, 0) if np.ndim(indptr) == 1 else 0
    indptr_a, indices_a = check_csr(indptr, indices, n)
    n_honest = check_int("n_honest", n_honest, low=0, high=n)
    if n_honest + (n - n_honest) * n >= 2**32:
        raise ValueError(f"n_robots = {n} is too large for uint32 message sources")
    out = np.empty(indices_a.shape[0], dtype=np.uint32)
    _message_sources_kernel(indptr_a, indices_a, n_honest, out)
    return out


@njit(cache=True)
def _attacked_swarm(swarms, values, actions, active, out, b):
    """One round of swarm ``b`` (one thread), or a copy if it is not active.

    Parameters
    ----------
    swarms : AttackedSwarms
        Graphs, hulls and parameters; read only.
    values : float64 (B, n)
        Robot values; read only.
    actions : float (B, n - n_honest, n)
        ``actions[b, k, j]`` in [-1, 1] (clipped; NaN is silence): Byzantine robot
        ``k`` of swarm ``b`` tells robot ``j``
        ``lo[b] + width[b] * (0.5 + (0.5 + bound) * a)``.
    active : bool (B,)
        Swarms to step; the others are copied unchanged.
    out : float64 (B, n)
        Row ``b`` written: new values (Byzantine entries copied).
    b : int
        The swarm.
    """
    n = values.shape[1]
    if not active[b]:
        for i in range(n):
            out[b, i] = values[b, i]
        return
    n_honest = swarms.n_honest
    nb = n - n_honest
    scale = 0.5 + swarms.bound
    indptr = swarms.indptr[b]
    max_deg = 0
    for i in range(n):
        max_deg = max(max_deg, indptr[i + 1] - indptr[i])
    ext = np.empty(n_honest + nb * n, dtype=np.float64)
    buf = np.empty(max_deg + 1, dtype=np.float64)
    scratch = np.empty(max_deg + 1, dtype=np.float64)
    partials = np.empty(max_deg + 64, dtype=np.float64)
    lo = swarms.lo[b]
    width = swarms.width[b]
    for i in range(n_honest):
        ext[i] = values[b, i]
    for k in range(nb):
        for j in range(n):
            a = np.float64(actions[b, k, j])
            if a == a:
                a = min(max(a, -1.0), 1.0)
            ext[n_honest + k * n + j] = lo + width * (0.5 + scale * a)
    src = swarms.sources[b]
    for i in range(n):
        x = values[b, i]
        if i >= n_honest:
            out[b, i] = x
            continue
        raw_src = src[indptr[i] : indptr[i + 1]]
        out[b, i] = _bounded_node(ext, raw_src, x, swarms.f, buf, scratch, partials)


@njit(cache=True, parallel=True)
def _attacked_rounds(swarms, values, actions, active, out):
    """One round of B swarms, in parallel over the batch axis.

    Parameters
    ----------
    swarms : AttackedSwarms
        Graphs, hulls and parameters; read only.
    values : float64 (B, n)
        Robot values; read only.
    actions : float (B, n - n_honest, n)
        Byzantine messages as actions, see :func:`_attacked_swarm`.
    active : bool (B,)
        Swarms to step; the others are copied unchanged.
    out : float64 (B, n)
        Written: new values (Byzantine entries copied).
    """
    for b in prange(values.shape[0]):
        _attacked_swarm(swarms, values, actions, active, out, b)


@njit(cache=True)
def _attacked_rounds_serial(swarms, values, actions, active, out):
    """:func:`_attacked_rounds` on the calling thread (same arguments, same bits)."""
    for b in range(values.shape[0]):
        _attacked_swarm(swarms, values, actions, active, out, b)


def _validate(swarms, values, actions, active, out):
    if not isinstance(swarms, AttackedSwarms):
        raise TypeError(f"swarms must be an AttackedSwarms, got {type(swarms).__name__}")
    values = check_float_array("values", values, ndim=2, finite=True)
    B, n = values.shape
    n_honest = check_int("swarms.n_honest", swarms.n_honest, low=0, high=n)
    f = check_int("swarms.f", swarms.f, low=0, high=F_MAX)
    bound = float(swarms.bound)
    if not (np.isfinite(bound) and bound >= 0.0):
        raise ValueError(f"swarms.bound must be finite and >= 0, got {swarms.bound}")
    indptr = np.ascontiguousarray(swarms.indptr, dtype=np.int64)
    sources = np.asarray(swarms.sources)
    if indptr.shape != (B, n + 1):
        raise ValueError(f"swarms.indptr must have shape {(B, n + 1)}, got {indptr.shape}")
    if sources.ndim != 2 or sources.shape[0] != B or sources.dtype != np.uint32:
        raise ValueError(f"swarms.sources must be a uint32 array of shape ({B}, M)")
    n_ext = n_honest + (n - n_honest) * n
    for b in range(B):
        m = int(indptr[b, -1])
        check_csr(indptr[b], np.zeros(m, dtype=np.int64), n)
        if m > sources.shape[1] or (m and int(sources[b, :m].max()) >= n_ext):
            raise ValueError(f"swarms.sources[{b}] must hold {m} entries below {n_ext}")
    lo = check_float_array("swarms.lo", swarms.lo, shape=(B,), finite=True)
    width = check_float_array("swarms.width", swarms.width, shape=(B,), finite=True)
    if np.any(width <= 0.0):
        raise ValueError("swarms.width must be > 0")
    actions = check_float_array("actions", actions, shape=(B, n - n_honest, n))
    active = np.ones(B, dtype=bool) if active is None else np.asarray(active)
    if active.shape != (B,) or active.dtype != np.bool_:
        raise ValueError(f"active must be a bool array of shape ({B},)")
    swarms = AttackedSwarms(indptr, np.ascontiguousarray(sources), lo, width, n_honest, bound, f)
    return swarms, values, actions, active, check_out(out, (B, n))


def attacked_round_batch(
    swarms: AttackedSwarms,
    values,
    actions,
    active=None,
    out: np.ndarray | None = None,
    *,
    check: bool = True,
) -> np.ndarray:
    """One round of B swarms whose Byzantine robots send the messages ``actions`` encode.

    Honest robots run W-MSR with parameter ``swarms.f`` (LCP for 0) on the bounded
    messages (see the module docstring); Byzantine robots keep their values.

    Parameters
    ----------
    swarms : AttackedSwarms
        Graphs, hulls and parameters of the B swarms.
    values : array_like of float, shape (B, n)
        Robot values (finite).
    actions : array_like of float, shape (B, n - n_honest, n)
        ``actions[b, k, j]`` in [-1, 1] (clipped; NaN is silence): what Byzantine
        robot ``k`` of swarm ``b`` tells robot ``j``, in widened hull units.
    active : array_like of bool, shape (B,), optional
        Swarms to step (default all); the others are copied unchanged.
    out : numpy.ndarray, optional
        float64 array of shape (B, n) to write into (not ``values``).
    check : bool
        False skips validation: the per-step path of an environment whose arrays are
        right by construction (C-contiguous, the dtypes and shapes above, ``sources``
        from :func:`message_sources`, ``active`` and ``out`` given). Wrong input on
        that path gives wrong numbers or a crash, not an error.

    Returns
    -------
    numpy.ndarray, shape (B, n)
        The new values.

    Examples
    --------
    >>> import numpy as np
    >>> indptr = np.array([[0, 1, 2]])          # robot 0 hears 1, robot 1 hears 0
    >>> sources = message_sources(indptr[0], [1, 0], n_honest=1)[None]
    >>> swarms = AttackedSwarms(indptr, sources, np.zeros(1), np.ones(1), 1, 0.5, 0)
    >>> attacked_round_batch(swarms, [[0.0, 0.0]], [[[1.0, 1.0]]])
    array([[0.75, 0.  ]])
    """
    if check:
        swarms, values, actions, active, out = _validate(swarms, values, actions, active, out)
    parallel = values.shape[0] > 1 and numba.get_num_threads() > 1
    if parallel and swarms.sources.size >= PARALLEL_MIN_EDGES:
        _attacked_rounds(swarms, values, actions, active, out)
    else:  # the same per-swarm kernel, hence the same bits
        _attacked_rounds_serial(swarms, values, actions, active, out)
    return out
