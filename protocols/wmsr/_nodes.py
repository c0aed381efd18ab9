"""Per-node W-MSR and LCP updates (inlined into the loops of the sibling modules).

Three ways to compute one node's update, all with the rule of :mod:`protocols.wmsr`:

- the exact path (:func:`_wmsr_node`, :func:`_lcp_node`): partition the finite messages
  around the own value, select the trimmed ones, take a compensated mean over the kept
  values, exact (Shewchuk) when cancellation could cost accuracy;
- the two-pass path (:func:`_fast_wmsr_node` for ``f <= 2``, :func:`_fast_lcp_node`):
  one pass finds the trimming cuts with top-3 / bottom-3 trackers, a second pass sums
  the kept values with two compensated chains; it hands over to the exact path
  whenever the compensated sum's error bound exceeds one rounding of the result;
- the bounded one-pass path of the environments (:func:`_bounded_node`).

Every function here is ``@njit`` and checks nothing: the callers validate.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__: list[str] = []

#: Unit roundoff bound used by the error tests (2**-52).
_EPS = 2.220446049250313e-16


@njit(cache=True, inline="always")
def _select_smallest(buf, lo, hi, k):
    """Reorder ``buf[lo:hi]`` so that its ``k`` smallest values come first (quickselect)."""
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
    """Move the ``k`` largest of ``buf[lo:hi]`` to its end (``k`` branch-free arg-max passes)."""
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
    """Move the ``k`` smallest of ``buf[lo:hi]`` to its start (``k`` branch-free arg-min passes)."""
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

    ``buf`` (at least ``len(raw)`` long) and ``partials`` are scratch space.
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
    """LCP update of one node with value ``x`` from the messages ``raw`` it received."""
    k = 0
    for e in range(raw.shape[0]):
        v = raw[e]
        buf[k] = v
        k += v - v == 0.0
    return _mean_clamped(buf, 0, k, x, 1, partials)


@njit(cache=True, inline="always")
def _insert_high(t, a1, a2, a3):
    """Insert ``t`` into the multiset ``a1 >= a2 >= a3``, keeping its three largest.

    The comparisons are ordered so that a NaN ``t`` leaves the multiset unchanged (and
    each compiles to one ``maxsd`` or ``minsd``).
    """
    m1 = a1 if a1 < t else t
    m2 = a2 if a2 < m1 else m1
    a3 = m2 if m2 > a3 else a3
    a2 = m1 if m1 > a2 else a2
    a1 = t if t > a1 else a1
    return a1, a2, a3


@njit(cache=True, inline="always")
def _insert_low(t, a1, a2, a3):
    """Insert ``t`` into the multiset ``a1 <= a2 <= a3``, keeping its three smallest."""
    m1 = a1 if a1 > t else t
    m2 = a2 if a2 > m1 else m1
    a3 = m2 if m2 < a3 else a3
    a2 = m1 if m1 < a2 else a2
    a1 = t if t < a1 else a1
    return a1, a2, a3


@njit(cache=True, inline="always")
def _bounded_node(ext, src, x, f, buf, scratch, partials):
    """W-MSR update (LCP for ``f = 0``) of a robot with value ``x`` from bounded messages.

    Robot ``i`` receives ``ext[sources[start + e]]`` for ``e < deg``: finite values of
    moderate size, or NaN for silence. For ``f <= 2`` this is one pass over the
    messages: their offsets ``v - x`` are summed (two interleaved chains) while the
    three largest and three smallest messages are tracked; those of the ``f`` largest
    that lie above ``x`` and of the ``f`` smallest that lie below are then subtracted,
    and the mean is clamped to the range of the kept values. The subtraction costs
    about one rounding of the trimmed offsets, hence "moderate size" (the
    environments' attacks are bounded). ``f > 2`` uses :func:`_wmsr_node`.
    """
    deg = src.shape[0]
    if f > 2:
        for e in range(deg):
            buf[e] = ext[src[e]]
        return _wmsr_node(buf[:deg], x, f, scratch, partials)
    inf = np.inf
    h1a = h2a = h3a = h1b = h2b = h3b = -inf
    l1a = l2a = l3a = l1b = l2b = l3b = inf
    s0 = 0.0
    s1 = 0.0
    for j in range(deg >> 1):
        v0 = ext[src[2 * j]]
        v1 = ext[src[2 * j + 1]]
        s0 += v0 - x
        s1 += v1 - x
        h1a, h2a, h3a = _insert_high(v0, h1a, h2a, h3a)
        h1b, h2b, h3b = _insert_high(v1, h1b, h2b, h3b)
        l1a, l2a, l3a = _insert_low(v0, l1a, l2a, l3a)
        l1b, l2b, l3b = _insert_low(v1, l1b, l2b, l3b)
    if deg & 1:
        v0 = ext[src[deg - 1]]
        s0 += v0 - x
        h1a, h2a, h3a = _insert_high(v0, h1a, h2a, h3a)
        l1a, l2a, l3a = _insert_low(v0, l1a, l2a, l3a)
    s = s0 + s1
    count = 1.0 + deg
    if s != s:  # some robot was silent: sum again without the NaN messages
        s = 0.0
        for e in range(deg):
            d = ext[src[e]] - x
            if d == d:
                s += d
            else:
                count -= 1.0
    h1a, h2a, h3a = _insert_high(h1b, h1a, h2a, h3a)
    h1a, h2a, h3a = _insert_high(h2b, h1a, h2a, h3a)
    high = _insert_high(h3b, h1a, h2a, h3a)
    l1a, l2a, l3a = _insert_low(l1b, l1a, l2a, l3a)
    l1a, l2a, l3a = _insert_low(l2b, l1a, l2a, l3a)
    low = _insert_low(l3b, l1a, l2a, l3a)
    top = x
    bottom = x
    for r in range(f + 1):
        hr = high[r]
        lr = low[r]
        if r < f:
            if hr > x:
                s -= hr - x
                count -= 1.0
            if lr < x:
                s -= lr - x
                count -= 1.0
        else:
            if hr > x:
                top = hr
            if lr < x:
                bottom = lr
    mean = x + s / count
    return min(max(mean, bottom), top)


@njit(cache=True, inline="always")
def _two_sum_add(s, c, w):
    """Add ``w`` to the sum ``s`` with running compensation ``c`` (Knuth's TwoSum).

    Parameters
    ----------
    s, c, w : float

    Returns
    -------
    (float, float)
        The new sum and compensation: ``s + c`` tracks the exact sum to within a
        rounding of the compensation.
    """
    u = s + w
    bb = u - s
    return u, c + ((s - (u - bb)) + (w - bb))


@njit(cache=True, inline="always")
def _extremes3(msgs, start, deg):
    """Find the three largest and smallest non-NaN values of ``msgs[start:start + deg]``.

    Two interleaved chains of top-3 / bottom-3 trackers, merged at the end.

    Parameters
    ----------
    msgs : float64 (>= start + deg,)
        Read only.
    start, deg : int
        The range read (an index range, not a slice: a slice costs two reference
        count updates per node).

    Returns
    -------
    high : (float, float, float)
        Largest first, padded with ``-inf``.
    low : (float, float, float)
        Smallest first, padded with ``inf``.
    """
    inf = np.inf
    h1a = h2a = h3a = h1b = h2b = h3b = -inf
    l1a = l2a = l3a = l1b = l2b = l3b = inf
    for j in range(deg >> 1):
        v0 = msgs[start + 2 * j]
        v1 = msgs[start + 2 * j + 1]
        h1a, h2a, h3a = _insert_high(v0, h1a, h2a, h3a)
        h1b, h2b, h3b = _insert_high(v1, h1b, h2b, h3b)
        l1a, l2a, l3a = _insert_low(v0, l1a, l2a, l3a)
        l1b, l2b, l3b = _insert_low(v1, l1b, l2b, l3b)
    if deg & 1:
        v0 = msgs[start + deg - 1]
        h1a, h2a, h3a = _insert_high(v0, h1a, h2a, h3a)
        l1a, l2a, l3a = _insert_low(v0, l1a, l2a, l3a)
    # Merge the chains with a depth-3 network (no NaN left here), not three inserts:
    # the merge is on the critical path between the two passes.
    high = (
        max(h1a, h1b),
        max(min(h1a, h1b), max(h2a, h2b)),
        max(max(h3a, h3b), max(min(h1a, h2b), min(h2a, h1b))),
    )
    low = (
        min(l1a, l1b),
        min(max(l1a, l1b), min(l2a, l2b)),
        min(min(l3a, l3b), min(max(l1a, l2b), max(l2a, l1b))),
    )
    return high, low


@njit(cache=True, inline="always")
def _sum_between(msgs, start, deg, x, cuts):
    """Compensated sum of ``x`` and the messages strictly between the two cuts.

    Two TwoSum chains (even and odd messages) merged with one more TwoSum step. NaN
    never lies between the cuts, nor does inf when the cuts are finite or infinite.

    Parameters
    ----------
    msgs : float64 (>= start + deg,)
        Messages ``msgs[start:start + deg]``; read only.
    start, deg : int
    x : float
        Own value, with ``lo_cut < x < hi_cut``.
    cuts : (float, float)
        ``(lo_cut, hi_cut)``, exclusive (``-inf`` / ``inf`` for none).

    Returns
    -------
    total : float
        The compensated sum.
    count : float
        Values summed, ``x`` included (an integer, counted in floating point).
    """
    lo_cut, hi_cut = cuts
    s0 = x
    c0 = 0.0
    s1 = 0.0
    c1 = 0.0
    n0 = 1.0
    n1 = 0.0
    for j in range(deg >> 1):
        v0 = msgs[start + 2 * j]
        v1 = msgs[start + 2 * j + 1]
        k0 = (v0 > lo_cut) & (v0 < hi_cut)
        k1 = (v1 > lo_cut) & (v1 < hi_cut)
        n0 += 1.0 if k0 else 0.0
        n1 += 1.0 if k1 else 0.0
        s0, c0 = _two_sum_add(s0, c0, v0 if k0 else 0.0)
        s1, c1 = _two_sum_add(s1, c1, v1 if k1 else 0.0)
    if deg & 1:
        v0 = msgs[start + deg - 1]
        k0 = (v0 > lo_cut) & (v0 < hi_cut)
        n0 += 1.0 if k0 else 0.0
        s0, c0 = _two_sum_add(s0, c0, v0 if k0 else 0.0)
    s, c = _two_sum_add(s0, c0 + c1, s1)
    return s + c, n0 + n1


@njit(cache=True, inline="always")
def _accurate_enough(total, bound, count):
    """Whether a compensated sum is within one rounding of the exact sum.

    Parameters
    ----------
    total : float
        The compensated sum.
    bound : float
        Upper bound on the largest absolute value summed.
    count : int or float
        Number of values summed.

    Returns
    -------
    bool
        False when the sum may be near overflow or its error bound may exceed one
        rounding (the test of :func:`_mean_clamped`, with ``count * bound`` for the sum
        of absolute values).
    """
    absolute = count * bound
    return absolute <= 1e300 and count * count * _EPS * absolute <= abs(total)


@njit(cache=True, inline="always")
def _fast_lcp_node(msgs, start, deg, x, buf, partials):
    """LCP update of one node: one compensated pass, the exact path when needed.

    Parameters
    ----------
    msgs : float64 (>= start + deg,)
        ``msgs[start:start + deg]`` are the messages received (non-finite ones are
        discarded); read only.
    start, deg : int
    x : float
        Own value (finite).
    buf : float64 (>= deg + 1,)
        Scratch of the exact path, written.
    partials : float64 (>= deg + 64,)
        Scratch of the exact sum, written.

    Returns
    -------
    float
        The new value.
    """
    s0 = x
    c0 = 0.0
    s1 = 0.0
    c1 = 0.0
    count = 1
    vmin0 = vmin1 = vmax0 = vmax1 = x
    for j in range(deg >> 1):
        v0 = msgs[start + 2 * j]
        v1 = msgs[start + 2 * j + 1]
        k0 = v0 - v0 == 0.0
        k1 = v1 - v1 == 0.0
        count += k0 + k1
        s0, c0 = _two_sum_add(s0, c0, v0 if k0 else 0.0)
        s1, c1 = _two_sum_add(s1, c1, v1 if k1 else 0.0)
        m0 = v0 if k0 else x
        m1 = v1 if k1 else x
        vmin0 = min(vmin0, m0)
        vmin1 = min(vmin1, m1)
        vmax0 = max(vmax0, m0)
        vmax1 = max(vmax1, m1)
    if deg & 1:
        v0 = msgs[start + deg - 1]
        k0 = v0 - v0 == 0.0
        count += k0
        s0, c0 = _two_sum_add(s0, c0, v0 if k0 else 0.0)
        m0 = v0 if k0 else x
        vmin0 = min(vmin0, m0)
        vmax0 = max(vmax0, m0)
    s, c = _two_sum_add(s0, c0 + c1, s1)
    total = s + c
    bottom = min(vmin0, vmin1)
    top = max(vmax0, vmax1)
    if not _accurate_enough(total, max(abs(bottom), abs(top)), count):
        return _exact_wmsr_range(msgs, start, deg, x, 0, buf, partials)
    return min(max(total / count, bottom), top)


@njit(cache=True, inline="always")
def _fast_wmsr_node(msgs, start, deg, x, f, buf, partials):
    """W-MSR update of one node with ``1 <= f <= 2`` in two passes over the messages.

    The first pass finds the three largest and smallest messages; the ``f`` largest
    that lie above ``x`` (and ``f`` smallest below) are trimmed, so the kept values
    are those strictly between the innermost trimmed values (the cuts). The second
    pass sums them (two compensated chains). The exact path (:func:`_wmsr_node`) takes
    over for an infinite message among the extremes, a kept value equal to a cut, or
    a sum whose error bound exceeds one rounding of the result.

    Parameters
    ----------
    msgs : float64 (>= start + deg,)
        ``msgs[start:start + deg]`` are the messages received (non-finite ones are
        discarded); read only.
    start, deg : int
    x : float
        Own value (finite).
    f : int
        1 or 2.
    buf : float64 (>= deg + 1,)
        Scratch of the exact path, written.
    partials : float64 (>= deg + 64,)
        Scratch of the exact sum, written.

    Returns
    -------
    float
        The new value.
    """
    high, low = _extremes3(msgs, start, deg)
    h0, h1, h2 = high
    l0, l1, l2 = low
    # Trim h0 (and h1 for f = 2) if above x; the cut is the innermost trimmed value
    # and ``top`` the largest kept one (likewise below).
    hi_cut = h0 if h0 > x else np.inf
    top = h1 if h0 > x else x
    lo_cut = l0 if l0 < x else -np.inf
    bottom = l1 if l0 < x else x
    if f == 2:
        hi_cut = h1 if h1 > x else hi_cut
        top = h2 if h1 > x else top
        lo_cut = l1 if l1 < x else lo_cut
        bottom = l2 if l1 < x else bottom
    top = max(top, x)
    bottom = min(bottom, x)
    if h0 == np.inf or l0 == -np.inf or top == hi_cut or bottom == lo_cut:
        return _exact_wmsr_range(msgs, start, deg, x, f, buf, partials)
    total, count = _sum_between(msgs, start, deg, x, (lo_cut, hi_cut))
    if not _accurate_enough(total, max(abs(bottom), abs(top)), count):
        return _exact_wmsr_range(msgs, start, deg, x, f, buf, partials)
    return min(max(total / count, bottom), top)


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
