"""Batched cooperative target tracking under Byzantine lies: B swarms, one compiled call a tick.

Each swarm holds ``n`` robots in the square ``[0, arena]^2``, a target and a decoy moving
by random waypoint, and a Byzantine set. One call of :func:`tracking_step` advances every
active swarm by one tick:

1. **Move.** A robot with a finite commanded velocity takes it; the others (the
   Byzantine robots) head for their waypoint at full speed and draw a new one on
   arrival. Speeds are capped at ``max_speed``; walls reflect. Target and decoy move by
   random waypoint at ``target_speed``.
2. **Radio graph.** Robots within ``radio_range`` hear each other (all pairs).
3. **Sense.** A cooperative robot within ``sensing_range`` of the target observes it,
   each coordinate off by at most ``noise``.
4. **Defence** (``DEFENCE_NONE``, ``DEFENCE_WMSR`` or ``DEFENCE_DBP``):

   - *Flooding* (none, DBP). Every robot sends one report a tick: ``(origin, timestamp,
     hops, claimed origin position, claimed target)``. An observer sends its own
     observation; a cooperative robot that accepted reports this tick forwards the
     freshest (fewest hops, then lowest origin, on ties) with one more hop, as long as
     the hop count stays within ``hop_limit``; Byzantine robots never forward and send a
     decoy report instead (``ATTACK_GARBAGE``: non-finite numbers; ``ATTACK_SILENT``:
     nothing). A cooperative robot estimates the target as its own observation, or else
     as the mean claimed target of the distinct origins of the freshest reports it
     accepted (kept until fresher ones arrive). Non-finite reports are always dropped;
     so are a robot's own reports coming back.
   - *DBP*. Receivers drop reports from blocked origins and check the others with the
     sound rules of :mod:`swarm.dbp_cases` (the claimed origin could not have reached
     the receiver in the hops travelled; the claimed target lies outside the claimed
     origin's sensing range; the receiver sees the target somewhere the claim cannot be;
     the receiver sees no target where the claim puts one) and accuse the origins of
     failed or non-finite reports; a robot never accuses a robot it already holds an
     accusation against (its own or received). Silent robots are not accused
     (:mod:`swarm.dbp_cases`' rule for missing reports is not part of this kernel): they
     harm only by not relaying. Under ``ATTACK_FALSE_ACCUSATION`` every
     Byzantine robot also accuses one cooperative neighbour a tick, ``false_accusations``
     times in all. An accusation floods through the cooperative robots (one hop a tick,
     the accuser always sending it once); when a tick adds no new holder its flood has
     ended and the kernel marks it ``ACC_FINISHED``: the caller then adds it to the
     swarm's blocklist (:class:`protocols.dbp.DynamicBlocklist`, the matching
     blocklist) and writes ``blocked``, which receivers use from the next tick on.
   - *W-MSR*. Observers hold their observation; the others run one W-MSR round per
     coordinate on their neighbours' estimates (non-finite values dropped, the ``wmsr_f``
     largest above and smallest below the own value trimmed, the rest averaged with the
     own value); Byzantine neighbours send the decoy (silent and garbage: nothing).
5. **Metrics and observations** of the cooperative robots (see :func:`observe_swarms`).

Random numbers are drawn outside: ``draws[b]`` holds :func:`n_draws` uniforms in
``[0, 1)`` for swarm ``b`` and this tick (noise, new waypoints, target and decoy goals,
false-accusation picks), whatever the state, so a swarm's trajectory depends only on its
own draws and commands.

Examples
--------
Allocate two swarms of 10 robots (one Byzantine) and their outputs; a tick of each swarm
consumes ``n_draws(n)`` uniforms drawn outside, from that swarm's generator:

>>> from protocols.tracking import n_draws, new_output, new_state
>>> state = new_state(2, 10, 1, false_accusations=0)
>>> state.pos.shape, state.acc.shape, n_draws(10)
((2, 10, 2), (2, 9, 3), 54)
>>> new_output(2, 9, 4).obs.shape[:2]
(2, 9)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from protocols.checks import check_float_array
from protocols.tracking_defences import (
    ACC_DONE,
    ACC_FINISHED,
    ACC_FLOODING,
    ATTACK_FAKE,
    ATTACK_FALSE_ACCUSATION,
    ATTACK_GARBAGE,
    ATTACK_SILENT,
    ATTACKS,
    DEFENCE_DBP,
    DEFENCE_NONE,
    DEFENCE_WMSR,
    DEFENCES,
    farther,
    flood_round,
    gossip,
    wmsr_round,
)

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
    "TrackingOutput",
    "TrackingParams",
    "TrackingState",
    "n_draws",
    "new_output",
    "new_state",
    "observe_swarms",
    "tracking_step",
    "tracking_step_unchecked",
]


class TrackingParams(NamedTuple):
    """Scalar parameters shared by the swarms (units: arena units, seconds)."""

    arena: float
    radio_range: float
    sensing_range: float
    max_speed: float
    target_speed: float
    dt: float
    noise: float
    hop_limit: int
    defence: int
    wmsr_f: int
    attack: int
    false_accusations: int
    n_neighbours: int
    connectivity_weight: float


class TrackingState(NamedTuple):
    """The state of B swarms of n robots (written in place by the kernels).

    Attributes
    ----------
    t : int64 (B,)
        Ticks since reset.
    pos, vel, waypoint : float64 (B, n, 2)
        Positions, velocities (units per second), random-waypoint goals.
    byzantine, blocked, sees : bool (B, n)
        Byzantine set, the swarm's blocklist, who observes the target this tick.
    coop_idx : int64 (B, m)
        The cooperative robots in increasing order (the agents).
    target, decoy : float64 (B, 2, 2)
        Row 0 the position, row 1 the waypoint.
    obs, est : float64 (B, n, 2)
        Own observation of the target; target estimate.
    best_ts : int64 (B, n)
        Timestamp of the information behind ``est`` (-1: none yet).
    slot_int : int64 (B, n, 3)
        Report each robot sends next tick: origin, timestamp (-1: none), hops.
    slot_vec : float64 (B, n, 4)
        Its claimed origin position and claimed target.
    holds : bool (B, n, n)
        ``holds[b, a, x]``: robot a holds an accusation against robot x (its own or one
        it received); it never accuses x again.
    acc : int64 (B, M, 3)
        Accusations: accuser, accused, state (0 unused, ``ACC_*``).
    acc_count : int64 (B,)
        Accusations used.
    holders, frontier : uint64 (B, M, W)
        Bitsets (W = ceil(n / 64) words) of who holds each accusation and who got it last.
    false_left : int64 (B, n)
        False accusations each Byzantine robot may still make.
    """

    t: np.ndarray
    pos: np.ndarray
    vel: np.ndarray
    waypoint: np.ndarray
    byzantine: np.ndarray
    blocked: np.ndarray
    sees: np.ndarray
    coop_idx: np.ndarray
    target: np.ndarray
    decoy: np.ndarray
    obs: np.ndarray
    est: np.ndarray
    best_ts: np.ndarray
    slot_int: np.ndarray
    slot_vec: np.ndarray
    holds: np.ndarray
    acc: np.ndarray
    acc_count: np.ndarray
    holders: np.ndarray
    frontier: np.ndarray
    false_left: np.ndarray


class TrackingOutput(NamedTuple):
    """What a tick returns per swarm (written by the kernels).

    Attributes
    ----------
    obs : float32 (B, m, 11 + 2K)
        Agents' observations (see :func:`observe_swarms`).
    error : float64 (B,)
        Mean distance between the cooperative robots' estimates and the target.
    connected : float64 (B,)
        Fraction of cooperative robots in the largest connected group of them.
    reward : float64 (B,)
        ``-error / arena - connectivity_weight * (1 - connected)``.
    finished : int64 (B,)
        Accusations whose flood ended this tick (state ``ACC_FINISHED``).
    """

    obs: np.ndarray
    error: np.ndarray
    connected: np.ndarray
    reward: np.ndarray
    finished: np.ndarray


def n_draws(n: int) -> int:
    """Uniform draws a swarm of ``n`` robots consumes per tick (``5 n + 4``)."""
    return 5 * n + 4


def new_state(n_envs: int, n: int, n_byzantine: int, false_accusations: int) -> TrackingState:
    """Allocate the state of ``n_envs`` swarms of ``n`` robots (zeros; reset fills it).

    The accusation capacity is ``(n - n_byzantine) * n_byzantine + n_byzantine *
    false_accusations``: cooperative robots accuse only Byzantine ones (the rules are
    sound), each pair once.
    """
    B, m = n_envs, n - n_byzantine
    cap = max(1, m * n_byzantine + n_byzantine * false_accusations)
    words = (n + 63) // 64
    return TrackingState(
        t=np.zeros(B, np.int64),
        pos=np.zeros((B, n, 2)),
        vel=np.zeros((B, n, 2)),
        waypoint=np.zeros((B, n, 2)),
        byzantine=np.zeros((B, n), bool),
        blocked=np.zeros((B, n), bool),
        sees=np.zeros((B, n), bool),
        coop_idx=np.zeros((B, m), np.int64),
        target=np.zeros((B, 2, 2)),
        decoy=np.zeros((B, 2, 2)),
        obs=np.zeros((B, n, 2)),
        est=np.zeros((B, n, 2)),
        best_ts=np.full((B, n), -1, np.int64),
        slot_int=np.zeros((B, n, 3), np.int64),
        slot_vec=np.zeros((B, n, 4)),
        holds=np.zeros((B, n, n), bool),
        acc=np.zeros((B, cap, 3), np.int64),
        acc_count=np.zeros(B, np.int64),
        holders=np.zeros((B, cap, words), np.uint64),
        frontier=np.zeros((B, cap, words), np.uint64),
        false_left=np.zeros((B, n), np.int64),
    )


def new_output(n_envs: int, n_agents: int, n_neighbours: int) -> TrackingOutput:
    """Allocate the output arrays of ``n_envs`` swarms."""
    B = n_envs
    return TrackingOutput(
        obs=np.zeros((B, n_agents, 11 + 2 * n_neighbours), np.float32),
        error=np.zeros(B),
        connected=np.zeros(B),
        reward=np.zeros(B),
        finished=np.zeros(B, np.int64),
    )


# ----------------------------------------------------------------------------- geometry
@njit(cache=True)
def _waypoint_move(point, u0, u1, arena, speed, dt):
    """Move ``point`` (rows: position, goal) toward its goal; draw a new goal on arrival."""
    dx = point[1, 0] - point[0, 0]
    dy = point[1, 1] - point[0, 1]
    dist = np.hypot(dx, dy)
    reach = speed * dt
    if dist <= reach:
        point[0, 0] = point[1, 0]
        point[0, 1] = point[1, 1]
        point[1, 0] = u0 * arena
        point[1, 1] = u1 * arena
    else:
        point[0, 0] += dx / dist * reach
        point[0, 1] += dy / dist * reach


@njit(cache=True)
def _move(s, b, p, control, draws):
    """Move swarm ``b``'s robots, target and decoy by one tick (step 1 of the module docstring).

    Parameters
    ----------
    s : TrackingState
        Written: ``pos``, ``vel`` (B, n, 2) and ``waypoint`` (B, n, 2) of row ``b``, and
        ``target[b]``, ``decoy[b]`` (2, 2: position, goal).
    b : int
        The swarm.
    p : TrackingParams
        ``max_speed``, ``dt``, ``arena``, ``target_speed``.
    control : float64 (B, n, 2)
        Commanded velocities; a non-finite row follows the robot's waypoint.
    draws : float64 (B, n_draws(n))
        This tick's uniforms: ``[2n, 4n)`` new waypoints, ``[4n, 4n + 4)`` target and
        decoy goals.
    """
    n = s.pos.shape[1]
    vmax = p.max_speed
    for i in range(n):
        cx = control[b, i, 0]
        cy = control[b, i, 1]
        if np.isfinite(cx) and np.isfinite(cy):
            vx, vy = cx, cy
        else:
            dx = s.waypoint[b, i, 0] - s.pos[b, i, 0]
            dy = s.waypoint[b, i, 1] - s.pos[b, i, 1]
            dist = np.hypot(dx, dy)
            if dist <= vmax * p.dt:
                vx, vy = dx / p.dt, dy / p.dt
                s.waypoint[b, i, 0] = draws[b, 2 * n + 2 * i] * p.arena
                s.waypoint[b, i, 1] = draws[b, 2 * n + 2 * i + 1] * p.arena
            else:
                vx, vy = dx / dist * vmax, dy / dist * vmax
        s2 = vx * vx + vy * vy
        if s2 > vmax * vmax:
            scale = vmax / np.sqrt(s2)
            vx *= scale
            vy *= scale
        for c, v in ((0, vx), (1, vy)):
            x = abs(s.pos[b, i, c] + v * p.dt)
            if x > p.arena:
                x = 2 * p.arena - x
            x = min(max(x, 0.0), p.arena)
            s.vel[b, i, c] = (x - s.pos[b, i, c]) / p.dt
            s.pos[b, i, c] = x
    _waypoint_move(s.target[b], draws[b, 4 * n], draws[b, 4 * n + 1], p.arena, p.target_speed, p.dt)
    _waypoint_move(
        s.decoy[b], draws[b, 4 * n + 2], draws[b, 4 * n + 3], p.arena, p.target_speed, p.dt
    )


@njit(cache=True)
def _graph(pos, b, r, sc):
    """Neighbour lists (increasing), their squared distances and adjacency bitsets."""
    nbr, nd2, deg, bits, row = sc.nbr, sc.nd2, sc.deg, sc.bits, sc.vals
    n = pos.shape[1]
    r2 = r * r
    deg[:] = 0
    bits[:] = 0
    for i in range(n):
        xi = pos[b, i, 0]
        yi = pos[b, i, 1]
        for j in range(i + 1, n):
            row[j] = (pos[b, j, 0] - xi) ** 2 + (pos[b, j, 1] - yi) ** 2
        for j in range(i + 1, n):
            d2 = row[j]
            if d2 <= r2:
                nbr[i, deg[i]] = j
                nd2[i, deg[i]] = d2
                deg[i] += 1
                nbr[j, deg[j]] = i
                nd2[j, deg[j]] = d2
                deg[j] += 1
                bits[i, j >> 6] |= np.uint64(1) << np.uint64(j & 63)
                bits[j, i >> 6] |= np.uint64(1) << np.uint64(i & 63)
    # Row j receives i < j in increasing i, then (at i = j) the j' > j in increasing
    # order: every row comes out sorted.


# ------------------------------------------------------------------ observations, metrics
@njit(cache=True)
def _clip(x):
    """Return float ``x`` as float32 clipped to [-1, 1] (NaN as 0, infinities as +-1)."""
    if not np.isfinite(x):
        return np.float32(0.0) if np.isnan(x) else np.float32(np.sign(x))
    return np.float32(min(max(x, -1.0), 1.0))


@njit(cache=True)
def _observe_one(s, b, p, out, sc):
    """Observations, tracking error, connectivity and reward of swarm ``b``."""
    nbr, nd2, deg, queue, seen, kd, ki = sc.nbr, sc.nd2, sc.deg, sc.queue, sc.seen, sc.kd, sc.ki
    n = s.pos.shape[1]
    m = s.coop_idx.shape[1]
    K = p.n_neighbours
    nblocked = 0
    for i in range(n):
        nblocked += s.blocked[b, i]
    frac = nblocked / n
    a = p.arena
    err = 0.0
    for j in range(m):
        v = s.coop_idx[b, j]
        o = out.obs[b, j]
        px, py = s.pos[b, v, 0], s.pos[b, v, 1]
        ex, ey = s.est[b, v, 0], s.est[b, v, 1]
        o[0], o[1] = _clip(px / a), _clip(py / a)
        o[2], o[3] = _clip(s.vel[b, v, 0] / p.max_speed), _clip(s.vel[b, v, 1] / p.max_speed)
        o[4], o[5] = _clip(ex / a), _clip(ey / a)
        o[6], o[7] = _clip((ex - px) / a), _clip((ey - py) / a)
        o[8] = np.float32(1.0) if s.sees[b, v] else np.float32(0.0)
        o[9] = _clip(deg[v] / max(n - 1, 1))
        o[10] = _clip(frac)
        # The K nearest neighbours in radio range, nearest first (ties: lower index).
        k = 0
        for e in range(deg[v]):
            u = nbr[v, e]
            d2 = nd2[v, e]
            q = min(k, K)
            while q > 0 and kd[q - 1] > d2:
                if q < K:
                    kd[q] = kd[q - 1]
                    ki[q] = ki[q - 1]
                q -= 1
            if q < K:
                kd[q] = d2
                ki[q] = u
            k = min(k + 1, K)
        for q in range(K):
            if q < k:
                u = ki[q]
                o[11 + 2 * q] = _clip((s.pos[b, u, 0] - px) / p.radio_range)
                o[12 + 2 * q] = _clip((s.pos[b, u, 1] - py) / p.radio_range)
            else:
                o[11 + 2 * q] = 0.0
                o[12 + 2 * q] = 0.0
        err += np.hypot(ex - s.target[b, 0, 0], ey - s.target[b, 0, 1])
    out.error[b] = err / m
    # Largest connected group of cooperative robots (edges between cooperative robots).
    seen[:] = False
    largest = 0
    for j in range(m):
        r = s.coop_idx[b, j]
        if seen[r]:
            continue
        seen[r] = True
        queue[0] = r
        head, tail = 0, 1
        while head < tail:
            v = queue[head]
            head += 1
            for e in range(deg[v]):
                u = nbr[v, e]
                if not seen[u] and not s.byzantine[b, u]:
                    seen[u] = True
                    queue[tail] = u
                    tail += 1
        largest = max(largest, tail)
    out.connected[b] = largest / m
    out.reward[b] = -out.error[b] / a - p.connectivity_weight * (1.0 - out.connected[b])


class _Scratch(NamedTuple):
    """A tick's work arrays (see :func:`_scratch`); written by the kernels that use them."""

    nbr: np.ndarray
    nd2: np.ndarray
    deg: np.ndarray
    bits: np.ndarray
    words: np.ndarray
    mark: np.ndarray
    kind: np.ndarray
    me: np.ndarray
    slot_int: np.ndarray
    slot_vec: np.ndarray
    vals: np.ndarray
    est: np.ndarray
    queue: np.ndarray
    seen: np.ndarray
    kd: np.ndarray
    ki: np.ndarray


@njit(cache=True)
def _scratch(n, k):
    """Allocate a tick's work arrays for swarms of ``n`` robots observing ``k`` neighbours.

    Returns
    -------
    _Scratch
        Zeroed arrays: neighbour lists ``nbr`` (n, n - 1), squared distances ``nd2``,
        degrees ``deg`` (n,), adjacency bitsets ``bits`` (n, words), ``words`` (2, words),
        the flooding work arrays (``mark`` (n + 1,), ``kind`` int8 (n,), ``me`` (5,),
        ``slot_int`` (n, 3), ``slot_vec`` (n, 4), ``vals`` (n,), ``est`` (n, 2)), the
        connectivity search's ``queue`` and ``seen`` (n,), and the nearest-neighbour
        buffers ``kd``, ``ki`` (max(k, 1),).
    """
    w = (n + 63) // 64
    return _Scratch(
        np.zeros((n, max(n - 1, 1)), np.int64),
        np.zeros((n, max(n - 1, 1))),
        np.zeros(n, np.int64),
        np.zeros((n, w), np.uint64),
        np.zeros((2, w), np.uint64),
        np.zeros(n + 1, np.int64),
        np.zeros(n, np.int8),
        np.zeros(5),
        np.zeros((n, 3), np.int64),
        np.zeros((n, 4)),
        np.zeros(n),
        np.zeros((n, 2)),
        np.zeros(n, np.int64),
        np.zeros(n, np.bool_),
        np.zeros(max(k, 1)),
        np.zeros(max(k, 1), np.int64),
    )


@njit(cache=True)
def _observe_kernel(s, p, which, out):
    """Observe the swarms with ``which[b]`` (bool (B,)) without moving them.

    Rebuilds each such swarm's radio graph from ``s.pos`` and writes its rows of
    ``out.obs`` (B, m, 11 + 2K), ``out.error``, ``out.connected`` and ``out.reward`` (B,);
    ``s`` is read only (see :func:`observe_swarms`).
    """
    n = s.pos.shape[1]
    sc = _scratch(n, p.n_neighbours)
    for b in range(s.t.shape[0]):
        if which[b]:
            _graph(s.pos, b, p.radio_range, sc)
            _observe_one(s, b, p, out, sc)


@njit(cache=True)
def tracking_step_unchecked(s, p, control, draws, active, out):
    """One tick of every active swarm, unchecked (see :func:`tracking_step`).

    Writes ``s`` (the active swarms' rows) and ``out``; returns True if some accusation
    did not fit the capacity (which sound rules never cause).
    """
    n = s.pos.shape[1]
    sc = _scratch(n, p.n_neighbours)
    full = False
    tol = p.noise
    for b in range(s.t.shape[0]):
        out.finished[b] = 0
        if not active[b]:
            continue
        s.t[b] += 1
        _move(s, b, p, control, draws)
        _graph(s.pos, b, p.radio_range, sc)
        tx, ty = s.target[b, 0, 0], s.target[b, 0, 1]
        for v in range(n):
            s.sees[b, v] = (not s.byzantine[b, v]) and not farther(
                s.pos[b, v, 0] - tx, s.pos[b, v, 1] - ty, p.sensing_range
            )
            if s.sees[b, v]:
                s.obs[b, v, 0] = tx + (2.0 * draws[b, 2 * v] - 1.0) * tol
                s.obs[b, v, 1] = ty + (2.0 * draws[b, 2 * v + 1] - 1.0) * tol
            else:
                s.obs[b, v, 0] = 0.0
                s.obs[b, v, 1] = 0.0
        if p.defence == DEFENCE_WMSR:
            wmsr_round(s, b, p, sc.nbr, sc.deg, sc.vals, sc.est)
        else:
            if p.defence == DEFENCE_DBP:
                relay = sc.words[0]
                relay[:] = 0
                for v in range(n):
                    if not s.byzantine[b, v]:
                        relay[v >> 6] |= np.uint64(1) << np.uint64(v & 63)
                out.finished[b] = gossip(s, b, sc.bits, relay, sc.words[1])
            full = flood_round(s, b, p, sc, draws) or full
        _observe_one(s, b, p, out, sc)
    return full


def _check_batch(name: str, value, shape, dtype) -> np.ndarray:
    arr = np.asarray(value)
    if arr.shape != shape or arr.dtype != dtype:
        raise ValueError(
            f"{name} must be a {np.dtype(dtype).name} array of shape {shape}, "
            f"got {arr.dtype.name} {arr.shape}"
        )
    return arr


def observe_swarms(
    state: TrackingState, params: TrackingParams, which, out: TrackingOutput
) -> None:
    """Write the observations and metrics of the swarms in ``which`` (after a reset).

    Parameters
    ----------
    state : TrackingState
        The swarms.
    params : TrackingParams
        Their parameters.
    which : numpy.ndarray of bool, shape (B,)
        Swarms to observe.
    out : TrackingOutput
        Receives, for those swarms, ``obs[b]`` (m, 11 + 2K): per cooperative robot (in
        ``coop_idx`` order) position / arena (2), velocity / max_speed (2), estimate /
        arena (2), estimate minus position / arena (2), sees the target (1), neighbours /
        (n - 1) (1), fraction of robots blocked (1), the K nearest neighbours' relative
        positions / radio range (2K, nearest first, zero-padded), clipped to [-1, 1]; and
        ``error``, ``connected``, ``reward``.
    """
    B = state.t.shape[0]
    which = _check_batch("which", which, (B,), np.bool_)
    _observe_kernel(state, params, which, out)


def tracking_step(
    state: TrackingState, params: TrackingParams, control, draws, active, out: TrackingOutput
) -> None:
    """Advance every active swarm by one tick (see the module docstring).

    Parameters
    ----------
    state : TrackingState
        The B swarms (written in place).
    params : TrackingParams
        Their parameters.
    control : numpy.ndarray of float64, shape (B, n, 2)
        Commanded velocities (units per second); a non-finite row lets the robot follow
        its random waypoint.
    draws : numpy.ndarray of float64, shape (B, n_draws(n))
        This tick's uniforms in [0, 1) of each swarm.
    active : numpy.ndarray of bool, shape (B,)
        Swarms to step; the others are left untouched.
    out : TrackingOutput
        Receives the active swarms' observations and metrics (see :func:`observe_swarms`)
        and ``finished``; accusations whose flood ended are in state ``ACC_FINISHED``.
    """
    B, n = state.byzantine.shape
    control = _check_batch("control", control, (B, n, 2), np.float64)
    draws = check_float_array("draws", draws, shape=(B, n_draws(n)), finite=True)
    if draws.size and (draws.min() < 0.0 or draws.max() >= 1.0):
        raise ValueError("draws must lie in [0, 1)")
    active = _check_batch("active", active, (B,), np.bool_)
    if tracking_step_unchecked(state, params, control, draws, active, out):
        raise RuntimeError(
            "an accusation did not fit the capacity bound of new_state: a "
            "cooperative robot accused a cooperative one"
        )
