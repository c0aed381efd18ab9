"""The defences of batched target tracking: flooding, DBP's checks and gossip, W-MSR.

Per-swarm kernels called by :func:`protocols.tracking.tracking_step` (see that module for
the model); each works on swarm ``b`` of the state arrays in place.

Examples
--------
>>> from protocols.tracking_defences import DEFENCES, farther
>>> DEFENCES.index("dbp"), bool(farther(3.0, 4.0, 4.9)), bool(farther(3.0, 4.0, 5.0))
(2, True, False)
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

__all__ = [
    "ACC_DONE",
    "ACC_FINISHED",
    "ACC_FLOODING",
    "ATTACKS",
    "ATTACK_FAKE",
    "ATTACK_FALSE_ACCUSATION",
    "ATTACK_GARBAGE",
    "ATTACK_SILENT",
    "DEFENCES",
    "DEFENCE_DBP",
    "DEFENCE_NONE",
    "DEFENCE_WMSR",
    "farther",
    "flood_round",
    "gossip",
    "wmsr_round",
]

DEFENCE_NONE, DEFENCE_WMSR, DEFENCE_DBP = 0, 1, 2
#: Defence names in code order.
DEFENCES = ("none", "wmsr", "dbp")
ATTACK_FAKE, ATTACK_FALSE_ACCUSATION, ATTACK_SILENT, ATTACK_GARBAGE = 0, 1, 2, 3
#: Attack names in code order.
ATTACKS = ("fake", "false_accusation", "silent", "garbage")
#: Accusation states: flooding, flood ended this tick (caller adds it), in the blocklist.
ACC_FLOODING, ACC_FINISHED, ACC_DONE = 1, 2, 3


@njit(cache=True)
def farther(dx, dy, bound):
    """``hypot(dx, dy) > bound``, on squares (``bound`` >= 0)."""
    return dx * dx + dy * dy > bound * bound


@njit(cache=True)
def _bounds(p, el, h, c, out):
    """Apply the receiver-independent part of DBP's sound suspicion rules to one report.

    ``el`` ticks since the report was made, ``h`` hops travelled, ``c`` (4,) the claimed
    origin position and target. Returns True if the report fails whoever receives it
    (it travelled faster than one hop a tick, or the claimed target lies outside the
    claimed origin's sensing range); otherwise writes ``out`` (3,): the squared bound on
    the receiver's distance to the claimed origin, the squared bound on the distance
    between the claim and the target an observing receiver sees, and the squared radius
    around a non-observing receiver where the claim cannot be (-1: none).
    """
    if el < h:
        return True
    cx, cy, tx, ty = c[0], c[1], c[2], c[3]
    tol = p.noise * np.sqrt(2.0)
    if farther(tx - cx, ty - cy, p.sensing_range + tol):
        return True
    reach = h * p.radio_range + el * p.max_speed * p.dt + 1e-9
    out[0] = reach * reach
    vt = el * p.target_speed * p.dt
    seen = vt + 2 * tol + 1e-9
    out[1] = seen * seen
    inner = p.sensing_range - tol - vt
    out[2] = inner * inner if inner > 0 else -1.0
    return False


@njit(cache=True)
def _issue(s, b, a, x):
    """Robot ``a`` accuses ``x`` unless it holds an accusation against ``x``.

    The flood starts from ``a``. Returns False if the accusation did not fit.
    """
    if s.holds[b, a, x]:
        return True
    k = s.acc_count[b]
    if k == s.acc.shape[1]:
        return False
    s.holds[b, a, x] = True
    s.acc[b, k, 0] = a
    s.acc[b, k, 1] = x
    s.acc[b, k, 2] = ACC_FLOODING
    s.holders[b, k, :] = 0
    s.holders[b, k, a >> 6] = np.uint64(1) << np.uint64(a & 63)
    s.frontier[b, k, :] = s.holders[b, k, :]
    s.acc_count[b] = k + 1
    s.acc_live[b] += 1
    return True


@njit(cache=True)
def gossip(s, b, bits, relay_word, new):
    """One hop of every flooding accusation of swarm ``b``; return how many floods ended.

    ``bits`` (n, W) the adjacency bitsets, ``relay_word`` (W,) the robots that forward,
    ``new`` (W,) scratch. Writes ``s.holders``, ``s.frontier``, ``s.holds``, the state
    of the accusations whose flood ended (``ACC_FINISHED``) and ``s.acc_live``.
    """
    words = bits.shape[1]
    ended = 0
    # The floods are independent: visit the live ones newest first and stop at the last
    # (once every flood has ended, nothing of the accusation arrays is read).
    found = 0
    k = s.acc_count[b]
    while found < s.acc_live[b]:
        k -= 1
        if s.acc[b, k, 2] != ACC_FLOODING:
            continue
        found += 1
        a = s.acc[b, k, 0]
        x = s.acc[b, k, 1]
        new[:] = 0
        for w in range(words):
            # Only cooperative robots forward; the accuser sends its own accusation once.
            f = s.frontier[b, k, w] & relay_word[w]
            if a >> 6 == w:
                f |= s.frontier[b, k, w] & (np.uint64(1) << np.uint64(a & 63))
            while f:
                low = f & (~f + np.uint64(1))
                i = w * 64 + trailing_zeros(low)
                for y in range(words):
                    new[y] |= bits[i, y]
                f ^= low
        any_new = False
        for w in range(words):
            fresh = new[w] & ~s.holders[b, k, w]
            s.frontier[b, k, w] = fresh
            s.holders[b, k, w] |= fresh
            any_new = any_new or fresh != 0
            while fresh:
                low = fresh & (~fresh + np.uint64(1))
                s.holds[b, w * 64 + trailing_zeros(low), x] = True
                fresh ^= low
        if not any_new:
            s.acc[b, k, 2] = ACC_FINISHED
            ended += 1
    s.acc_live[b] -= ended
    return ended


@njit(cache=True)
def flood_round(s, b, p, sc, draws):
    """Deliver last tick's reports, check, accuse, estimate; write next tick's reports.

    Scratch ``sc``: ``mark`` per-origin stamps (the running stamp in ``mark[n]``),
    ``kind`` the senders' reports and ``rep`` their bounds, ``slot_int`` and
    ``slot_vec`` the reports of the next tick.
    Returns True if an accusation did not fit (the capacity bound was broken).
    """
    nbr, deg, mark, kind, rep = sc.nbr, sc.deg, sc.mark, sc.kind, sc.rep
    slot_int, slot_vec = sc.slot_int, sc.slot_vec
    n = s.pos.shape[1]
    t = s.t[b]
    dbp = p.defence == DEFENCE_DBP
    full = False
    stamp = mark[n]
    sv = s.slot_vec[b]
    si = s.slot_int[b]
    # What each sender's report is, decided once: 0 nothing to deliver (none, past the
    # hop limit, or from a blocked origin under DBP), 1 to check at each receiver (its
    # bounds in ``rep``), 2 bad for every receiver (non-finite numbers, or under DBP
    # failing a rule that does not depend on the receiver).
    for u in range(n):
        kind[u] = 0
        if si[u, 1] < 0 or si[u, 2] + 1 > p.hop_limit or (dbp and s.blocked[b, si[u, 0]]):
            continue
        finite = (
            np.isfinite(sv[u, 0])
            and np.isfinite(sv[u, 1])
            and np.isfinite(sv[u, 2])
            and np.isfinite(sv[u, 3])
        )
        if not finite or (dbp and _bounds(p, t - si[u, 1], si[u, 2] + 1, sv[u], rep[u])):
            kind[u] = 2
        else:
            kind[u] = 1
    for v in range(n):
        slot_int[v, 1] = -1
        if s.byzantine[b, v]:
            continue
        px, py = s.pos[b, v, 0], s.pos[b, v, 1]
        sees = s.sees[b, v]
        ox, oy = s.obs[b, v, 0], s.obs[b, v, 1]
        best = -1
        bh = 0
        bo = 0
        bu = 0
        cnt = 0
        sx = 0.0
        sy = 0.0
        for e in range(deg[v]):
            u = nbr[v, e]
            if kind[u] == 0:
                continue
            ts = si[u, 1]
            o = si[u, 0]
            if o == v:
                continue  # its own report, come back
            bad = kind[u] == 2
            if dbp and not bad:
                # The receiver's rules: the claimed origin is out of reach, or the claimed
                # target is not where the receiver sees it (if it does), or lies where the
                # receiver would see it (if it does not).
                dx = sv[u, 0] - px
                dy = sv[u, 1] - py
                if sees:
                    ex = sv[u, 2] - ox
                    ey = sv[u, 3] - oy
                    off = ex * ex + ey * ey > rep[u, 1]
                else:
                    off = (sv[u, 2] - px) ** 2 + (sv[u, 3] - py) ** 2 < rep[u, 2]
                bad = dx * dx + dy * dy > rep[u, 0] or off
            if bad:
                # (holds is read only here: its rows are the swarm's largest random reads.)
                if dbp and not s.holds[b, v, o]:
                    full = full or not _issue(s, b, v, o)
                continue
            if ts < best:
                continue  # an older good report changes nothing
            h = si[u, 2] + 1
            if ts > best:
                best, bh, bo, bu, cnt, sx, sy = ts, h, o, u, 0, 0.0, 0.0
                stamp += 1  # a new group: origins counted at this timestamp
            elif ts == best and (h < bh or (h == bh and o < bo)):
                bh, bo, bu = h, o, u
            if ts == best and mark[o] != stamp:
                mark[o] = stamp
                cnt += 1
                sx += sv[u, 2]
                sy += sv[u, 3]
        if s.sees[b, v]:
            s.est[b, v, 0] = s.obs[b, v, 0]
            s.est[b, v, 1] = s.obs[b, v, 1]
            s.best_ts[b, v] = t
            slot_int[v, 0], slot_int[v, 1], slot_int[v, 2] = v, t, 0
            slot_vec[v, 0], slot_vec[v, 1] = s.pos[b, v, 0], s.pos[b, v, 1]
            slot_vec[v, 2], slot_vec[v, 3] = s.obs[b, v, 0], s.obs[b, v, 1]
        elif best >= 0:
            if best >= s.best_ts[b, v]:
                s.est[b, v, 0] = sx / cnt
                s.est[b, v, 1] = sy / cnt
                s.best_ts[b, v] = best
            slot_int[v, 0], slot_int[v, 1], slot_int[v, 2] = bo, best, bh
            for c in range(4):
                slot_vec[v, c] = sv[bu, c]
    mark[n] = stamp
    if dbp and p.attack == ATTACK_FALSE_ACCUSATION:
        for x in range(n):
            if not s.byzantine[b, x] or s.false_left[b, x] == 0:
                continue
            k = 0
            for e in range(deg[x]):
                j = nbr[x, e]
                if not s.byzantine[b, j] and not s.holds[b, x, j]:
                    k += 1
            if k == 0:
                continue
            pick = int(draws[b, 4 * n + 4 + x] * k)
            for e in range(deg[x]):
                j = nbr[x, e]
                if (not s.byzantine[b, j]) and not s.holds[b, x, j]:
                    if pick == 0:
                        full = full or not _issue(s, b, x, j)
                        s.false_left[b, x] -= 1
                        break
                    pick -= 1
    if p.attack != ATTACK_SILENT:
        _byzantine_reports(s, b, p, slot_int, slot_vec)
    for v in range(n):
        for c in range(3):
            s.slot_int[b, v, c] = slot_int[v, c]
        for c in range(4):
            s.slot_vec[b, v, c] = slot_vec[v, c]
    return full


@njit(cache=True)
def _byzantine_reports(s, b, p, slot_int, slot_vec):
    """Byzantine robots report the decoy, claiming a point within sensing range of it."""
    n = s.pos.shape[1]
    t = s.t[b]
    x0, y0 = s.decoy[b, 0, 0], s.decoy[b, 0, 1]
    reach = 0.9 * p.sensing_range
    for v in range(n):
        if not s.byzantine[b, v]:
            continue
        slot_int[v, 0], slot_int[v, 1], slot_int[v, 2] = v, t, 0
        if p.attack == ATTACK_GARBAGE:
            slot_vec[v, 0], slot_vec[v, 1] = np.nan, np.inf
            slot_vec[v, 2], slot_vec[v, 3] = -np.inf, np.nan
            continue
        dx = s.pos[b, v, 0] - x0
        dy = s.pos[b, v, 1] - y0
        dist = np.hypot(dx, dy)
        scale = reach / max(dist, 1e-12) if dist > reach else 1.0
        slot_vec[v, 0], slot_vec[v, 1] = x0 + dx * scale, y0 + dy * scale
        slot_vec[v, 2], slot_vec[v, 3] = x0, y0


@njit(cache=True)
def _wmsr_value(own, vals, k, f):
    """W-MSR on one coordinate: trim the f largest above and f smallest below ``own``."""
    vals[:k].sort()
    above = 0
    below = 0
    for i in range(k):
        above += vals[i] > own
        below += vals[i] < own
    total = own
    count = 1
    for i in range(k):
        x = vals[i]
        if x < own and i < min(f, below):
            continue
        if x > own and i >= k - min(f, above):
            continue
        total += x
        count += 1
    return total / count


@njit(cache=True)
def wmsr_round(s, b, p, nbr, deg, vals, new):
    """One W-MSR round on the estimates of swarm ``b``; observers take their observation.

    ``nbr`` (n, n - 1) and ``deg`` (n,) the neighbour lists, ``vals`` (n,) and ``new``
    (n, 2) scratch. Writes ``s.est``.
    """
    n = s.pos.shape[1]
    hidden = p.attack == ATTACK_SILENT or p.attack == ATTACK_GARBAGE
    for v in range(n):
        if s.byzantine[b, v] or s.sees[b, v]:
            continue
        for c in range(2):
            k = 0
            for e in range(deg[v]):
                u = nbr[v, e]
                if s.byzantine[b, u]:
                    if hidden:
                        continue
                    x = s.decoy[b, 0, c]
                else:
                    x = s.est[b, u, c]
                vals[k] = x
                k += 1
            new[v, c] = _wmsr_value(s.est[b, v, c], vals, k, p.wmsr_f)
    for v in range(n):
        if s.byzantine[b, v]:
            continue
        if s.sees[b, v]:
            s.est[b, v, 0] = s.obs[b, v, 0]
            s.est[b, v, 1] = s.obs[b, v, 1]
        else:
            s.est[b, v, 0] = new[v, 0]
            s.est[b, v, 1] = new[v, 1]
