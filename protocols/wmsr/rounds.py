"""One synchronous W-MSR or LCP round over an in-edge CSR graph, on every core.

:func:`wmsr_step` and :func:`lcp_step` validate their arguments, then run a parallel
Numba loop over the nodes (``prange``, in chunks of :data:`CHUNK` nodes with their own
scratch space; rounds of fewer than :data:`PARALLEL_MIN_EDGES` edges run on the calling
thread). Each node's update depends on its own value and messages only, so the
result is the same bit for bit whatever the number of threads. The thread count is
Numba's: ``NUMBA_NUM_THREADS`` or :func:`numba.set_num_threads`.

``check=False`` skips validation (the per-round path of a simulation loop whose arrays
were checked once): the caller then guarantees C-contiguous arrays, ``values`` and
``out`` float64 of shape (n,) with finite ``values``, ``indptr`` int64 of shape (n + 1,)
starting at 0 and non-decreasing, ``messages`` float64 of shape (indptr[-1],), and
``0 <= f < 2**63``. Wrong input on that path gives wrong numbers or a crash, not an error.

Examples
--------
W-MSR with ``f = 1`` on a triangle: node 0 drops the outlier 100, node 1 drops both
extremes; the unchecked path with a reused buffer gives the same numbers.

>>> import numpy as np
>>> from protocols.csr import csr_from_edges
>>> from protocols.wmsr.rounds import wmsr_step
>>> g = csr_from_edges(3, [[0, 1], [0, 2], [1, 2]])
>>> x = np.array([0.0, 1.0, 100.0])
>>> wmsr_step(x, g.indptr, g.indices, x[g.indices], f=1)
array([ 0.5,  1. , 50.5])
>>> out = np.empty(3)
>>> wmsr_step(x, g.indptr, g.indices, x[g.indices], 1, out, check=False) is out
True
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from protocols.checks import check_csr, check_float_array, check_int, check_out
from protocols.wmsr._exact import _wmsr_node
from protocols.wmsr._fast import _fast_lcp_node, _fast_wmsr_node

__all__ = ["CHUNK", "F_MAX", "PARALLEL_MIN_EDGES", "lcp_step", "wmsr_step"]

#: Nodes per parallel work item (each item allocates its own scratch space once).
CHUNK = 512
#: Below this many edges one round runs on the calling thread: waking the pool costs
#: more than it saves (and on a busy machine a sleeping thread may take long to wake).
PARALLEL_MIN_EDGES = 1 << 16
#: Largest trimming parameter accepted (the kernels take ``f`` as int64).
F_MAX = 2**63 - 1


@njit(cache=True)
def _max_degree(indptr, lo, hi):
    """Largest in-degree of nodes ``lo .. hi - 1``.

    Parameters
    ----------
    indptr : int64 (n + 1,)
        In-edge CSR row pointers; read only.
    lo, hi : int
        Node range.

    Returns
    -------
    int
    """
    max_deg = 0
    for i in range(lo, hi):
        max_deg = max(max_deg, indptr[i + 1] - indptr[i])
    return max_deg


@njit(cache=True)
def _wmsr_chunk(values, indptr, messages, f, out, lo, hi):
    """W-MSR round (``f = 0`` is LCP) of nodes ``lo .. hi - 1``, one thread.

    Parameters
    ----------
    values : float64 (n,)
        Own values (finite); read only (may be ``out``: node ``i`` reads
        ``values[i]`` before writing ``out[i]``).
    indptr : int64 (n + 1,)
        In-edge CSR row pointers.
    messages : float64 (indptr[n],)
        Messages of each in-edge.
    f : int64
        Trimming parameter, >= 0.
    out : float64 (n,)
        Written at ``lo .. hi - 1``: the new values.
    lo, hi : int
        Node range.
    """
    max_deg = _max_degree(indptr, lo, hi)
    buf = np.empty(max_deg + 1, dtype=np.float64)
    partials = np.empty(max_deg + 64, dtype=np.float64)
    for i in range(lo, hi):
        start = indptr[i]
        deg = indptr[i + 1] - start
        if f == 0:
            out[i] = _fast_lcp_node(messages, start, deg, values[i], buf, partials)
        elif f <= 2:
            out[i] = _fast_wmsr_node(messages, start, deg, values[i], f, buf, partials)
        else:
            out[i] = _wmsr_node(messages[start : start + deg], values[i], f, buf, partials)


@njit(cache=True, parallel=True)
def _wmsr_rows(values, indptr, messages, f, out):
    """W-MSR round of every node (``f = 0`` is LCP), chunks of nodes in parallel.

    Parameters
    ----------
    values : float64 (n,)
        Own values (finite); read only (may be ``out``).
    indptr : int64 (n + 1,)
        In-edge CSR row pointers.
    messages : float64 (indptr[n],)
        Messages of each in-edge.
    f : int64
        Trimming parameter, >= 0.
    out : float64 (n,)
        Written: the new values.
    """
    n = values.shape[0]
    for c in prange((n + CHUNK - 1) // CHUNK):
        _wmsr_chunk(values, indptr, messages, f, out, c * CHUNK, min(n, (c + 1) * CHUNK))


def _validate(values, indptr, indices, messages, out):
    values = check_float_array("values", values, ndim=1, finite=True)
    n = values.shape[0]
    indptr, _ = check_csr(indptr, indices, n)
    messages = check_float_array("messages", messages, shape=(indptr[-1],))
    out = check_out(out, (n,))
    return values, indptr, messages, out


def wmsr_step(
    values,
    indptr,
    indices,
    messages,
    f: int,
    out: np.ndarray | None = None,
    *,
    check: bool = True,
) -> np.ndarray:
    """One synchronous round of W-MSR for every node.

    Runs on Numba's threads (``NUMBA_NUM_THREADS`` or :func:`numba.set_num_threads`);
    the result is the same bit for bit for any thread count.

    Parameters
    ----------
    values : array_like of float, shape (n,)
        Current value of each node (finite).
    indptr : array_like of int, shape (n + 1,)
        In-edge CSR row pointers.
    indices : array_like of int, shape (m,)
        Sender of each in-edge, in ``[0, n)`` (checked, not read by the update).
    messages : array_like of float, shape (m,)
        Value received along each in-edge this round; NaN and inf are discarded.
    f : int
        Trimming parameter, ``0 <= f < 2**63``: how many values above and below the own
        value each node removes. ``f = 0`` is plain averaging.
    out : numpy.ndarray, optional
        float64 array of shape (n,) to write into (may be ``values`` itself).
    check : bool
        False skips validation: the unchecked per-round path of a loop whose arrays
        are already right (see the module docstring for the contract).

    Returns
    -------
    numpy.ndarray, shape (n,)
        The new values.

    Examples
    --------
    >>> import numpy as np
    >>> indptr, indices = np.array([0, 3]), np.array([0, 0, 0])
    >>> wmsr_step([0.0], indptr, indices, [1.0, 2.0, 1e300], f=1)
    array([1.])
    """
    if check:
        f = check_int("f", f, low=0, high=F_MAX)
        values, indptr, messages, out = _validate(values, indptr, indices, messages, out)
    elif out is None:
        out = np.empty(values.shape[0])
    if messages.shape[0] >= PARALLEL_MIN_EDGES and numba.get_num_threads() > 1:
        _wmsr_rows(values, indptr, messages, f, out)
    else:  # the same per-node kernel, hence the same bits
        _wmsr_chunk(values, indptr, messages, f, out, 0, values.shape[0])
    return out


def lcp_step(
    values, indptr, indices, messages, out: np.ndarray | None = None, *, check: bool = True
) -> np.ndarray:
    """One synchronous round of the linear consensus protocol for every node.

    Each node takes the mean of its own value and every finite message it received.
    Threads and ``check`` as for :func:`wmsr_step`.

    Parameters
    ----------
    values : array_like of float, shape (n,)
        Current value of each node (finite).
    indptr : array_like of int, shape (n + 1,)
        In-edge CSR row pointers.
    indices : array_like of int, shape (m,)
        Sender of each in-edge, in ``[0, n)`` (checked, not read by the update).
    messages : array_like of float, shape (m,)
        Value received along each in-edge this round; NaN and inf are discarded.
    out : numpy.ndarray, optional
        float64 array of shape (n,) to write into (may be ``values`` itself).
    check : bool
        False skips validation, as for :func:`wmsr_step`.

    Returns
    -------
    numpy.ndarray, shape (n,)
        The new values.

    Examples
    --------
    >>> import numpy as np
    >>> lcp_step([0.0], np.array([0, 2]), np.array([0, 0]), [3.0, np.nan])
    array([1.5])
    """
    return wmsr_step(values, indptr, indices, messages, 0, out, check=check)
