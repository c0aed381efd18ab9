"""Per-node W-MSR and LCP updates (inlined into the loops of the sibling modules).

Two fast ways to compute one node's update with the rule of :mod:`protocols.wmsr`,
beside the exact path of :mod:`protocols.wmsr._exact`:

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

from protocols.wmsr._exact import _EPS, _exact_wmsr_range, _wmsr_node

__all__: list[str] = []


@njit(cache=True, inline="always")
def _insert_high(t, a1, a2, a3):
    """Insert ``t`` into the multiset ``a1 >= a2 >= a3``, keeping its three largest.

    The comparisons are ordered so that a NaN ``t`` leaves the multiset unchanged (and
    each compiles to one ``maxsd`` or ``minsd``).

    Parameters
    ----------
    t : float
        Value inserted (NaN is ignored).
    a1, a2, a3 : float
        The multiset, largest first.

    Returns
    -------
    (float, float, float)
        The new three largest, largest first.
    """
    m1 = a1 if a1 < t else t
    m2 = a2 if a2 < m1 else m1
    a3 = m2 if m2 > a3 else a3
    a2 = m1 if m1 > a2 else a2
    a1 = t if t > a1 else a1
    return a1, a2, a3


@njit(cache=True, inline="always")
def _insert_low(t, a1, a2, a3):
    """Insert ``t`` into the multiset ``a1 <= a2 <= a3``, keeping its three smallest.

    Mirror of :func:`_insert_high`; returns the new three smallest, smallest first.
    """
    m1 = a1 if a1 > t else t
    m2 = a2 if a2 > m1 else m1
    a3 = m2 if m2 < a3 else a3
    a2 = m1 if m1 < a2 else a2
    a1 = t if t < a1 else a1
    return a1, a2, a3


@njit(cache=True, inline="always")
def _bounded_node(ext, src, x, f, buf, scratch, partials):
    """W-MSR update (LCP for ``f = 0``) of a robot with value ``x`` from bounded messages.

    The robot receives ``ext[src[e]]`` for ``e < deg``: finite values of
    moderate size, or NaN for silence. For ``f <= 2`` this is one pass over the
    messages: their offsets ``v - x`` are summed (two interleaved chains) while the
    three largest and three smallest messages are tracked; those of the ``f`` largest
    that lie above ``x`` and of the ``f`` smallest that lie below are then subtracted,
    and the mean is clamped to the range of the kept values. The subtraction costs
    about one rounding of the trimmed offsets, hence "moderate size" (the
    environments' attacks are bounded). ``f > 2`` uses :func:`_wmsr_node`.

    Parameters
    ----------
    ext : float64 (n_ext,)
        The swarm's message array; read only.
    src : uint32 (deg,)
        Where each of the robot's in-edge messages sits in ``ext``.
    x : float
        Own value (finite).
    f : int
        Trimming parameter, >= 0.
    buf, scratch : float64 (>= deg + 1,)
        Scratch, written.
    partials : float64 (>= deg + 64,)
        Scratch of the exact sum, written.

    Returns
    -------
    float
        The new value.
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
