"""Observations and metrics of a swarm: what each agent sees, tracking error, connectivity.

Examples
--------
>>> from protocols.tracking.observe import clip
>>> [float(clip(x)) for x in (0.25, -3.0, float("inf"), float("nan"))]
[0.25, -1.0, 1.0, 0.0]
"""

from __future__ import annotations

import numpy as np
from numba import njit

from protocols.tracking.graph import low_bit

__all__ = ["clip", "largest_group", "observe_one"]


@njit(cache=True)
def clip(x):
    """Return float ``x`` as float32 clipped to [-1, 1] (NaN as 0, infinities as +-1)."""
    if not np.isfinite(x):
        return np.float32(0.0) if np.isnan(x) else np.float32(np.sign(x))
    return np.float32(min(max(x, -1.0), 1.0))


@njit(cache=True)
def largest_group(bits, member, words):
    """Size of the largest connected group of the robots in ``member``.

    Parameters
    ----------
    bits : uint64 (n, W)
        Adjacency bitsets.
    member : uint64 (W,)
        The robots of the groups (edges count between members only).
    words : uint64 (3, W)
        Scratch: the robots reached, the group's last-reached robots, the next ones.
    """
    W = bits.shape[1]
    seen, front, nxt = words[0], words[1], words[2]
    seen[:] = 0
    largest = 0
    one = np.uint64(1)
    for w0 in range(W):
        while True:
            left = member[w0] & ~seen[w0]
            if not left:
                break
            r = w0 * 64 + low_bit(left)
            front[:] = 0
            front[r >> 6] = one << np.uint64(r & 63)
            seen[r >> 6] |= front[r >> 6]
            size = 1
            while True:
                nxt[:] = 0
                for w in range(W):
                    f = front[w]
                    while f:
                        v = w * 64 + low_bit(f)
                        f &= f - one
                        for y in range(W):
                            nxt[y] |= bits[v, y]
                grew = False
                for w in range(W):
                    fresh = nxt[w] & member[w] & ~seen[w]
                    front[w] = fresh
                    seen[w] |= fresh
                    while fresh:
                        fresh &= fresh - one
                        size += 1
                        grew = True
                if not grew:
                    break
            largest = max(largest, size)
    return largest


@njit(cache=True)
def _nearest(nbr, nd2, v, d, K, tau, cand, kd, ki):
    """Robot ``v``'s K nearest neighbours, nearest first (ties: lower index).

    Reads ``nbr[v, :d]`` and ``nd2[v, :d]``; writes the neighbours to ``ki`` and their
    squared distances to ``kd`` (k,); returns k = min(d, K). Only the neighbours within
    ``sqrt(tau)`` are searched when at least K are (then no other can be nearer).
    """
    if K == 0:
        return 0
    c = 0
    if d > 2 * K:
        for e in range(d):
            cand[c] = e
            c += nd2[v, e] <= tau
    if c < K:
        for e in range(d):
            cand[e] = e
        c = d
    k = 0
    for i in range(c):
        e = cand[i]
        d2 = nd2[v, e]
        if k == K and not kd[K - 1] > d2:
            continue
        q = k
        while q > 0 and kd[q - 1] > d2:
            if q < K:
                kd[q] = kd[q - 1]
                ki[q] = ki[q - 1]
            q -= 1
        kd[q] = d2
        ki[q] = nbr[v, e]
        k = min(k + 1, K)
    return k


@njit(cache=True)
def observe_one(s, b, p, out, sc):
    """Observations, tracking error, connectivity and reward of swarm ``b``.

    Reads the radio graph in ``sc`` (see :func:`protocols.tracking.graph.radio_graph`);
    writes ``out.obs[b]``, ``out.error[b]``, ``out.connected[b]``, ``out.reward[b]`` (see
    :func:`protocols.tracking.observe_swarms` for the layout) and ``sc.words``, ``sc.cand``,
    ``sc.kd``, ``sc.ki``.
    """
    nbr, nd2, deg, kd, ki = sc.nbr, sc.nd2, sc.deg, sc.kd, sc.ki
    n = s.pos.shape[1]
    m = s.coop_idx.shape[1]
    K = p.n_neighbours
    nblocked = 0
    for i in range(n):
        nblocked += s.blocked[b, i]
    frac = clip(nblocked / n)
    a = p.arena
    vs = p.max_speed
    rr = p.radio_range
    tx, ty = s.target[b, 0, 0], s.target[b, 0, 1]
    deg_scale = max(n - 1, 1)
    # Prefilter radius of the nearest-neighbour search: about 2.5 K candidates on average.
    total = 0
    for i in range(n):
        total += deg[i]
    tau = rr * rr * min(1.0, 2.5 * K * n / max(total, 1))
    cand = sc.cand
    obs = out.obs
    err = 0.0
    for j in range(m):
        v = s.coop_idx[b, j]
        px, py = s.pos[b, v, 0], s.pos[b, v, 1]
        ex, ey = s.est[b, v, 0], s.est[b, v, 1]
        obs[b, j, 0] = clip(px / a)
        obs[b, j, 1] = clip(py / a)
        obs[b, j, 2] = clip(s.vel[b, v, 0] / vs)
        obs[b, j, 3] = clip(s.vel[b, v, 1] / vs)
        obs[b, j, 4] = clip(ex / a)
        obs[b, j, 5] = clip(ey / a)
        obs[b, j, 6] = clip((ex - px) / a)
        obs[b, j, 7] = clip((ey - py) / a)
        obs[b, j, 8] = np.float32(1.0) if s.sees[b, v] else np.float32(0.0)
        obs[b, j, 9] = clip(deg[v] / deg_scale)
        obs[b, j, 10] = frac
        k = _nearest(nbr, nd2, v, deg[v], K, tau, cand, kd, ki)
        for q in range(k):
            u = ki[q]
            obs[b, j, 11 + 2 * q] = clip((s.pos[b, u, 0] - px) / rr)
            obs[b, j, 12 + 2 * q] = clip((s.pos[b, u, 1] - py) / rr)
        for q in range(k, K):
            obs[b, j, 11 + 2 * q] = 0.0
            obs[b, j, 12 + 2 * q] = 0.0
        err += np.hypot(ex - tx, ey - ty)
    out.error[b] = err / m
    # Largest connected group of cooperative robots (edges between cooperative robots).
    coop = sc.words[3]
    coop[:] = 0
    for j in range(m):
        v = s.coop_idx[b, j]
        coop[v >> 6] |= np.uint64(1) << np.uint64(v & 63)
    out.connected[b] = largest_group(sc.bits, coop, sc.words[:3]) / m
    out.reward[b] = -out.error[b] / a - p.connectivity_weight * (1.0 - out.connected[b])
