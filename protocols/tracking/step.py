"""One tick of B swarms: the compiled step and observation kernels and their checked callers.

Examples
--------
>>> import numpy as np
>>> from protocols.tracking import DEFENCE_DBP, ATTACK_FAKE, TrackingParams
>>> from protocols.tracking import n_draws, new_output, new_state, tracking_step
>>> p = TrackingParams(60.0, 20.0, 15.0, 1.0, 1.0, 1.0, 0.5, 4, DEFENCE_DBP, 1,
...                    ATTACK_FAKE, 0, 4, 1.0)
>>> s, out = new_state(1, 10, 1, 0), new_output(1, 9, 4)
>>> s.byzantine[0, 9] = True
>>> s.coop_idx[0] = np.arange(9)
>>> s.slot_int[0, :, 1] = -1
>>> draws = np.random.default_rng(0).random((1, n_draws(10)))
>>> tracking_step(s, p, np.zeros((1, 10, 2)), draws, np.ones(1, bool), out)
>>> s.t.tolist(), out.obs.shape
([1], (1, 9, 19))
"""

from __future__ import annotations

import numpy as np
from numba import njit

from protocols.checks import check_float_array
from protocols.tracking.graph import radio_graph, scratch
from protocols.tracking.motion import move
from protocols.tracking.observe import observe_one
from protocols.tracking.state import TrackingOutput, TrackingParams, TrackingState, n_draws
from protocols.tracking_defences import (
    DEFENCE_DBP,
    DEFENCE_WMSR,
    farther,
    flood_round,
    gossip,
    wmsr_round,
)

__all__ = ["observe_swarms", "tracking_step", "tracking_step_unchecked"]


@njit(cache=True)
def _observe_kernel(s, p, which, out):
    """Observe the swarms with ``which[b]`` (bool (B,)) without moving them.

    Rebuilds each such swarm's radio graph from ``s.pos`` and writes its rows of
    ``out.obs`` (B, m, 11 + 2K), ``out.error``, ``out.connected`` and ``out.reward`` (B,);
    ``s`` is read only (see :func:`observe_swarms`).
    """
    n = s.pos.shape[1]
    sc = scratch(n, p.n_neighbours)
    for b in range(s.t.shape[0]):
        if which[b]:
            radio_graph(s.pos, b, p.radio_range, sc)
            observe_one(s, b, p, out, sc)


@njit(cache=True)
def _sense(s, b, p, draws):
    """Who of swarm ``b`` observes the target this tick, and where (``s.sees``, ``s.obs``)."""
    n = s.pos.shape[1]
    tol = p.noise
    tx, ty = s.target[b, 0, 0], s.target[b, 0, 1]
    for v in range(n):
        sees = (not s.byzantine[b, v]) and not farther(
            s.pos[b, v, 0] - tx, s.pos[b, v, 1] - ty, p.sensing_range
        )
        s.sees[b, v] = sees
        if sees:
            s.obs[b, v, 0] = tx + (2.0 * draws[b, 2 * v] - 1.0) * tol
            s.obs[b, v, 1] = ty + (2.0 * draws[b, 2 * v + 1] - 1.0) * tol
        else:
            s.obs[b, v, 0] = 0.0
            s.obs[b, v, 1] = 0.0


@njit(cache=True)
def tracking_step_unchecked(s, p, control, draws, active, out):
    """One tick of every active swarm, unchecked (see :func:`tracking_step`).

    Writes ``s`` (the active swarms' rows) and ``out``; returns True if some accusation
    did not fit the capacity (which sound rules never cause).
    """
    n = s.pos.shape[1]
    sc = scratch(n, p.n_neighbours)
    full = False
    for b in range(s.t.shape[0]):
        out.finished[b] = 0
        if not active[b]:
            continue
        s.t[b] += 1
        move(s, b, p, control, draws)
        radio_graph(s.pos, b, p.radio_range, sc)
        _sense(s, b, p, draws)
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
        observe_one(s, b, p, out, sc)
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
    """Advance every active swarm by one tick (see :mod:`protocols.tracking`).

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
