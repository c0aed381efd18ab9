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

The environments' attacker-driven rounds, whose messages are bounded by construction,
use a faster one-pass variant (:func:`_attacked_round_batch`): offsets from the own
value are summed and the trimmed ones subtracted, a few roundings from the exact mean,
still clamped to the kept values' range.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from protocols._checks import check_csr, check_float_array, check_int, check_out

__all__ = ["lcp_step", "wmsr_step"]


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
def _exact_sum(buf, a0, a1, b0, b1, x, copies, scale, partials):
    """Correctly rounded sum of the scaled ``buf[a0:a1]``, ``buf[b0:b1]`` and ``copies`` of ``x``.

    Shewchuk's algorithm with non-overlapping partials, rounded as ``math.fsum`` does.
    """
    m = 0
    na = a1 - a0
    nb = b1 - b0
    for t in range(na + nb + copies):
        if t < na:
            x_t = buf[a0 + t]
        elif t < na + nb:
            x_t = buf[b0 + t - na]
        else:
            x_t = x
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
def _mean_clamped(buf, a0, a1, b0, b1, x, copies, partials):
    """Mean of ``buf[a0:a1]``, ``buf[b0:b1]`` and ``copies`` of ``x``, clamped to their range.

    A compensated (Neumaier) sum is used when its error bound is below one rounding of
    the result; otherwise (heavy cancellation between huge values) the sum is computed
    exactly. Sums of magnitude near the overflow threshold are computed on values
    scaled by an exact power of two.
    """
    s = x * copies
    c = 0.0
    a = abs(s)
    vmin = x
    vmax = x
    for lo, hi in ((a0, a1), (b0, b1)):
        for t in range(lo, hi):
            v = buf[t]
            u = s + v
            big = abs(s) >= abs(v)
            c += ((s - u) + v) if big else ((v - u) + s)
            s = u
            a += abs(v)
            vmin = min(vmin, v)
            vmax = max(vmax, v)
    count = (a1 - a0) + (b1 - b0) + copies
    total = s + c
    eps = 2.220446049250313e-16
    if a > 1e300 or not np.isfinite(a):
        scale = 2.0**-64
        mean = (_exact_sum(buf, a0, a1, b0, b1, x, copies, scale, partials) / count) / scale
    elif count * count * eps * a > abs(total):
        mean = _exact_sum(buf, a0, a1, b0, b1, x, copies, 1.0, partials) / count
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
    return _mean_clamped(buf, below_start, n_below, top, top + keep_above, x, 1 + n_equal,
                         partials)


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
    return _mean_clamped(buf, 0, k, 0, 0, x, 1, partials)


@njit(cache=True)
def _max_degree(indptr):
    max_deg = 0
    for i in range(indptr.shape[0] - 1):
        max_deg = max(max_deg, indptr[i + 1] - indptr[i])
    return max_deg


@njit(cache=True)
def _wmsr_kernel(values, indptr, indices, messages, f, out):
    max_deg = _max_degree(indptr)
    buf = np.empty(max_deg + 1, dtype=np.float64)
    partials = np.empty(max_deg + 64, dtype=np.float64)
    for i in range(values.shape[0]):
        out[i] = _wmsr_node(messages[indptr[i]:indptr[i + 1]], values[i], f, buf, partials)
    return out


@njit(cache=True)
def _lcp_kernel(values, indptr, indices, messages, out):
    max_deg = _max_degree(indptr)
    buf = np.empty(max_deg + 1, dtype=np.float64)
    partials = np.empty(max_deg + 64, dtype=np.float64)
    for i in range(values.shape[0]):
        out[i] = _lcp_node(messages[indptr[i]:indptr[i + 1]], values[i], buf, partials)
    return out


def _validate(values, indptr, indices, messages, out):
    values = check_float_array("values", values, ndim=1, finite=True)
    n = values.shape[0]
    indptr, indices = check_csr(indptr, indices, n)
    messages = check_float_array("messages", messages, shape=(indices.shape[0],))
    out = check_out(out, (n,))
    return values, indptr, indices, messages, out


def wmsr_step(
    values, indptr, indices, messages, f: int, out: np.ndarray | None = None
) -> np.ndarray:
    """One synchronous round of W-MSR for every node.

    Parameters
    ----------
    values : array_like of float, shape (n,)
        Current value of each node (finite).
    indptr : array_like of int, shape (n + 1,)
        In-edge CSR row pointers.
    indices : array_like of int, shape (m,)
        Sender of each in-edge, in ``[0, n)``.
    messages : array_like of float, shape (m,)
        Value received along each in-edge this round; NaN and inf are discarded.
    f : int
        Trimming parameter, ``f >= 0``: how many values above and below the own value
        each node removes. ``f = 0`` is plain averaging.
    out : numpy.ndarray, optional
        float64 array of shape (n,) to write into (may be ``values`` itself).

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
    f = check_int("f", f, low=0)
    values, indptr, indices, messages, out = _validate(values, indptr, indices, messages, out)
    return _wmsr_kernel(values, indptr, indices, messages, f, out)


def lcp_step(values, indptr, indices, messages, out: np.ndarray | None = None) -> np.ndarray:
    """One synchronous round of the linear consensus protocol for every node.

    Each node takes the mean of its own value and every finite message it received.

    Parameters
    ----------
    values : array_like of float, shape (n,)
        Current value of each node (finite).
    indptr : array_like of int, shape (n + 1,)
        In-edge CSR row pointers.
    indices : array_like of int, shape (m,)
        Sender of each in-edge, in ``[0, n)``.
    messages : array_like of float, shape (m,)
        Value received along each in-edge this round; NaN and inf are discarded.
    out : numpy.ndarray, optional
        float64 array of shape (n,) to write into (may be ``values`` itself).

    Returns
    -------
    numpy.ndarray, shape (n,)
        The new values.
    """
    values, indptr, indices, messages, out = _validate(values, indptr, indices, messages, out)
    return _lcp_kernel(values, indptr, indices, messages, out)


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
def _bounded_node(ext, sources, start, deg, x, f, buf, scratch, partials):
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
    src = sources[start:start + deg]
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


@njit(cache=True)
def _message_sources(indptr, indices, n_honest, n):
    """Where each in-edge's message sits in the ``ext`` array of :func:`_attacked_round_batch`.

    An honest sender ``s`` is ``s``; Byzantine robot ``k`` (robot ``n_honest + k``)
    telling robot ``i`` is ``n_honest + k n + i``.
    """
    out = np.empty(indices.shape[0], dtype=np.uint32)
    for i in range(n):
        for e in range(indptr[i], indptr[i + 1]):
            s = indices[e]
            out[e] = s if s < n_honest else n_honest + (s - n_honest) * n + i
    return out


@njit(cache=True)
def _attacked_round_batch(values, indptr, sources, n_honest, actions, lo, width, bound, f,
                          active, out):
    """One round of B independent swarms whose last robots are attackers driven by actions.

    Honest robots run :func:`_bounded_node` (W-MSR with parameter ``f``; ``f = 0`` is
    LCP). Swarm ``b`` with ``B = 1`` is exactly what the single environment computes.

    Parameters (no checks; the caller validates)
    ----------
    values : float64 (B, n)
        Robot values; robots ``n_honest ..`` are Byzantine.
    indptr : int64 (B, n + 1); sources : uint32 (B, M)
        Each swarm's in-edge CSR, with senders as :func:`_message_sources` gives them
        (padded beyond ``indptr[b, n]``).
    actions : float (B, n - n_honest, n)
        ``actions[b, k, j]`` in [-1, 1] (clipped; NaN is silence): Byzantine robot k of
        swarm b tells robot j ``lo[b] + width[b] * (0.5 + (0.5 + bound) * a)``.
    lo, width : float64 (B,)
        Hull of each swarm's honest initial values.
    f : int
        W-MSR parameter (0 for LCP).
    active : bool (B,)
        Swarms to step; the others are copied unchanged.
    out : float64 (B, n)
        New values (Byzantine entries copied).
    """
    B, n = values.shape
    nb = n - n_honest
    max_deg = 0
    for b in range(B):
        max_deg = max(max_deg, _max_degree(indptr[b]))
    ext = np.empty(n_honest + nb * n, dtype=np.float64)
    buf = np.empty(max_deg + 1, dtype=np.float64)
    scratch = np.empty(max_deg + 1, dtype=np.float64)
    partials = np.empty(max_deg + 64, dtype=np.float64)
    scale = 0.5 + bound
    for b in range(B):
        if not active[b]:
            for i in range(n):
                out[b, i] = values[b, i]
            continue
        for i in range(n_honest):
            ext[i] = values[b, i]
        for k in range(nb):
            for j in range(n):
                a = np.float64(actions[b, k, j])
                if a == a:
                    a = min(max(a, -1.0), 1.0)
                ext[n_honest + k * n + j] = lo[b] + width[b] * (0.5 + scale * a)
        src = sources[b]
        for i in range(n):
            x = values[b, i]
            if i >= n_honest:
                out[b, i] = x
                continue
            start = indptr[b, i]
            deg = indptr[b, i + 1] - start
            out[b, i] = _bounded_node(ext, src, start, deg, x, f, buf, scratch, partials)
    return out
