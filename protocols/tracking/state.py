"""The arrays of batched target tracking: parameters, state, outputs and their allocation.

Examples
--------
>>> from protocols.tracking.state import new_state
>>> new_state(3, 10, 2, false_accusations=1).holders.shape  # 8 x 2 + 2 x 1 accusations
(3, 18, 1)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = [
    "TrackingOutput",
    "TrackingParams",
    "TrackingState",
    "n_draws",
    "new_output",
    "new_state",
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
    acc_live : int64 (B,)
        Accusations still flooding (state ``ACC_FLOODING``).
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
    acc_live: np.ndarray
    holders: np.ndarray
    frontier: np.ndarray
    false_left: np.ndarray


class TrackingOutput(NamedTuple):
    """What a tick returns per swarm (written by the kernels).

    Attributes
    ----------
    obs : float32 (B, m, 11 + 2K)
        Agents' observations (see :func:`protocols.tracking.observe_swarms`).
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
        acc_live=np.zeros(B, np.int64),
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
