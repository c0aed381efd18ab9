"""The exact per-node W-MSR and LCP updates (the reference path of every kernel).

Partition the finite messages around the own value, select the trimmed ones, take a
compensated mean over the kept values, exact (Shewchuk) when cancellation could cost
accuracy. Every function is ``@njit`` and checks nothing: the callers validate.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__: list[str] = []

#: Unit roundoff bound used by the error tests (2**-52).
_EPS = 2.220446049250313e-16


@njit(cache=True, inline="always")
def _select_smallest(buf, lo, hi, k):
    """Reorder ``buf[lo:hi]`` so that its ``k`` smallest values come first (quickselect).

    Parameters
    ----------
    buf : float64 (>= hi,)
        Written: ``buf[lo:hi]`` is permuted.
    lo, hi : int
        Range, ``hi - lo >= k >= 1``.
    k : int
    """
    left = lo
    right = hi - 1
    target = lo + k - 1
    while left < right:
        mid = (left + right) // 2
        # Median of three as pivot.
        a, b, c = buf[left], buf[mid], buf[right]
        if a < b:
            if b < c:
                pivot = b
            elif a < c:
                pivot = c
            else:
                pivot = a
        elif a < c:
            pivot = a
        elif b < c:
            pivot = c
        else:
            pivot = b
        i = left
        j = right
        while i <= j:
            while buf[i] < pivot:
                i += 1
            while buf[j] > pivot:
                j -= 1
            if i <= j:
                tmp = buf[i]
                buf[i] = buf[j]
                buf[j] = tmp
                i += 1
                j -= 1
        if target <= j:
            right = j
        elif target >= i:
            left = i
        else:
            break


@njit(cache=True)
def _exact_sum(buf, a0, a1, x, copies, scale, partials):
    """Correctly rounded sum of the scaled ``buf[a0:a1]`` and ``copies`` of ``x``.

    Shewchuk's algorithm with non-overlapping partials, rounded as ``math.fsum`` does.

    Parameters
    ----------
    buf : float64 (>= a1,)
        Values; read only.
    a0, a1 : int
        Range of ``buf`` to sum.
    x : float
        Value added ``copies`` times.
    copies : int
    scale : float
        Exact power of two every value is multiplied by before summing.
    partials : float64 (>= a1 - a0 + copies + 64,)
        Scratch, written.

    Returns
    -------
    float
        ``scale * (sum(buf[a0:a1]) + copies * x)``, correctly rounded.
    """
    m = 0
    na = a1 - a0
    for t in range(na + copies):
        x_t = buf[a0 + t] if t < na else x
        y_t = x_t * scale
        i = 0
        for j in range(m):
            y = partials[j]
            if abs(y_t) < abs(y):
                y_t, y = y, y_t
            hi = y_t + y
            lo = y - (hi - y_t)
            if lo != 0.0:
                partials[i] = lo
                i += 1
            y_t = hi
        partials[i] = y_t
        m = i + 1
    hi = partials[m - 1]
    lo = 0.0
    k = m - 1
    while k > 0:
        prev = hi
        k -= 1
        y = partials[k]
        hi = prev + y
        lo = y - (hi - prev)
        if lo != 0.0:
            break
    if k > 0 and ((lo < 0.0 and partials[k - 1] < 0.0) or (lo > 0.0 and partials[k - 1] > 0.0)):
        y = lo * 2.0
        z = hi + y
        if y == z - hi:
            hi = z
    return hi


@njit(cache=True)
def _mean_clamped(buf, a0, a1, x, copies, partials):
    """Mean of ``buf[a0:a1]`` and ``copies`` of ``x``, clamped to their range.

    A compensated (Neumaier) sum is used when its error bound is below one rounding of
    the result; otherwise (heavy cancellation between huge values) the sum is computed
    exactly. Sums of magnitude near the overflow threshold are computed on values
    scaled by an exact power of two.

    Parameters
    ----------
    buf : float64 (>= a1,)
        Finite values; read only.
    a0, a1 : int
        Range of ``buf`` to average.
    x : float
        Finite value counted ``copies`` times.
    copies : int
    partials : float64 (>= a1 - a0 + copies + 64,)
        Scratch for the exact sum, written.

    Returns
    -------
    float
        The clamped mean.
    """
    s = x * copies
    c = 0.0
    a = abs(s)
    vmin = x
    vmax = x
    for t in range(a0, a1):
        v = buf[t]
        u = s + v
        big = abs(s) >= abs(v)
        c += ((s - u) + v) if big else ((v - u) + s)
        s = u
        a += abs(v)
        vmin = min(vmin, v)
        vmax = max(vmax, v)
    count = (a1 - a0) + copies
    total = s + c
    if a > 1e300 or not np.isfinite(a):
        scale = 2.0**-64
        mean = (_exact_sum(buf, a0, a1, x, copies, scale, partials) / count) / scale
    elif count * count * _EPS * a > abs(total):
        mean = _exact_sum(buf, a0, a1, x, copies, 1.0, partials) / count
    else:
        mean = total / count
    return min(max(mean, vmin), vmax)


@njit(cache=True, inline="always")
def _drop_largest(buf, lo, hi, k):
    """Move the ``k`` largest of ``buf[lo:hi]`` to its end (``k`` branch-free arg-max passes).

    Parameters
    ----------
    buf : float64 (>= hi,)
        Written: ``buf[lo:hi]`` is permuted.
    lo, hi : int
        Range, ``hi - lo >= k``.
    k : int
    """
    for r in range(k):
        last = hi - 1 - r
        best = lo
        top = buf[lo]
        for t in range(lo + 1, last + 1):
            w = buf[t]
            bigger = w > top
            best = t if bigger else best
            top = w if bigger else top
        buf[best] = buf[last]
        buf[last] = top


@njit(cache=True, inline="always")
def _drop_smallest(buf, lo, hi, k):
    """Move the ``k`` smallest of ``buf[lo:hi]`` to its start (``k`` branch-free arg-min passes).

    Parameters
    ----------
    buf : float64 (>= hi,)
        Written: ``buf[lo:hi]`` is permuted.
    lo, hi : int
        Range, ``hi - lo >= k``.
    k : int
    """
    for r in range(k):
        first = lo + r
        best = first
        low = buf[first]
        for t in range(first + 1, hi):
            w = buf[t]
            smaller = w < low
            best = t if smaller else best
            low = w if smaller else low
        buf[best] = buf[first]
        buf[first] = low


@njit(cache=True, inline="always")
def _wmsr_trimmed_mean(buf, deg, n_below, top, n_equal, x, f, partials):
    """Finish a W-MSR update from a partitioned buffer.

    ``buf[:n_below]`` holds the finite messages below ``x``, ``buf[top:deg]`` those
    above, and ``n_equal`` messages equal ``x``. Drops the ``f`` largest above and the
    ``f`` smallest below (all if fewer) and returns the clamped mean of what is left
    with ``x``.

    Parameters
    ----------
    buf : float64 (>= deg + 1,)
        The partitioned messages; written (reordered).
    deg, n_below, top, n_equal : int
        Layout of ``buf`` as above.
    x : float
        Own value.
    f : int
        Trimming parameter, >= 0.
    partials : float64 (>= deg + 64,)
        Scratch of the exact sum, written.

    Returns
    -------
    float
        The new value.
    """
    n_above = deg - top
    if n_above > f:
        keep_above = n_above - f
        if f > 0:
            if f <= 8:
                _drop_largest(buf, top, deg, f)
            else:
                _select_smallest(buf, top, deg, keep_above)
    else:
        keep_above = 0
    if n_below > f:
        below_start = f
        if f > 0:
            if f <= 8:
                _drop_smallest(buf, 0, n_below, f)
            else:
                _select_smallest(buf, 0, n_below, f)
    else:
        below_start = n_below
    # Close the gap: the kept values above follow the kept values below.
    for t in range(keep_above):
        buf[n_below + t] = buf[top + t]
    return _mean_clamped(buf, below_start, n_below + keep_above, x, 1 + n_equal, partials)


@njit(cache=True, inline="always")
def _wmsr_node(raw, x, f, buf, partials):
    """W-MSR update of one node with value ``x`` from the messages ``raw`` it received.

    Parameters
    ----------
    raw : float64 (deg,)
        Messages; read only (non-finite ones are discarded).
    x : float
        Own value (finite).
    f : int
        Trimming parameter, >= 0.
    buf : float64 (>= deg + 1,)
        Scratch, written.
    partials : float64 (>= deg + 64,)
        Scratch of the exact sum, written.

    Returns
    -------
    float
        The new value.
    """
    deg = raw.shape[0]
    # Branch-free partition of the finite messages: below x to the front, above x to
    # the back; NaN and inf move neither end and are dropped. Values equal to x are
    # counted (always kept, each adds x to the mean).
    n_below = 0
    top = deg
    n_equal = 0
    for e in range(deg):
        v = raw[e]
        finite = v - v == 0.0
        buf[n_below] = v
        buf[top - 1] = v
        n_below += finite & (v < x)
        top -= finite & (v > x)
        n_equal += finite & (v == x)
    return _wmsr_trimmed_mean(buf, deg, n_below, top, n_equal, x, f, partials)


@njit(cache=True, inline="always")
def _lcp_node(raw, x, buf, partials):
    """LCP update of one node with value ``x`` from the messages ``raw`` it received.

    Parameters and return value as for :func:`_wmsr_node` (without ``f``).
    """
    k = 0
    for e in range(raw.shape[0]):
        v = raw[e]
        buf[k] = v
        k += v - v == 0.0
    return _mean_clamped(buf, 0, k, x, 1, partials)


@njit(cache=True)
def _exact_wmsr_range(msgs, start, deg, x, f, buf, partials):
    """:func:`_wmsr_node` on ``msgs[start:start + deg]``, kept out of line.

    The fast paths call it rarely; as a separate function it keeps their loops small.
    Arguments as for :func:`_fast_wmsr_node` (``f >= 0``); writes ``buf`` and
    ``partials``; returns the new value.
    """
    if f == 0:
        return _lcp_node(msgs[start : start + deg], x, buf, partials)
    return _wmsr_node(msgs[start : start + deg], x, f, buf, partials)
