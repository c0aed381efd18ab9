"""Motion of a swarm: commanded or random-waypoint robots, target and decoy, walls reflect.

Examples
--------
>>> import numpy as np
>>> from protocols.tracking.motion import commands
>>> control = np.full((1, 3, 2), np.nan)
>>> commands(np.array([[[0.5, np.nan], [9.0, -np.inf]]]), np.array([[0, 2]]), 2.0, control)
>>> control[0].tolist()
[[1.0, 0.0], [nan, nan], [2.0, -2.0]]
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["commands", "move"]


@njit(cache=True)
def commands(actions, coop_idx, max_speed, control):
    """Write the agents' commanded velocities, ``clip(actions, -1, 1) * max_speed``.

    Parameters
    ----------
    actions : float64 (B, m, 2)
        Agents' actions in units of ``max_speed``; NaN counts as 0, infinities as +-1.
    coop_idx : int64 (B, m)
        The robot of each agent.
    max_speed : float
        Speed of an action of 1.
    control : float64 (B, n, 2)
        Written: ``control[b, coop_idx[b, j]] = clip(actions[b, j], -1, 1) * max_speed``;
        the other rows (the Byzantine robots) are left as they are.
    """
    for b in range(actions.shape[0]):
        for j in range(actions.shape[1]):
            v = coop_idx[b, j]
            for c in range(2):
                x = actions[b, j, c]
                if np.isnan(x):
                    x = 0.0
                control[b, v, c] = min(max(x, -1.0), 1.0) * max_speed


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
def _reflect(x, arena):
    """Fold the coordinate ``x`` back into ``[0, arena]`` (walls reflect)."""
    x = abs(x)
    if x > arena:
        x = 2 * arena - x
    return min(max(x, 0.0), arena)


@njit(cache=True)
def move(s, b, p, control, draws):
    """Move swarm ``b``'s robots, target and decoy by one tick.

    A robot with a finite commanded velocity takes it; the others head for their
    waypoint at full speed and draw a new one on arrival. Speeds are capped at
    ``max_speed``.

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
    dt = p.dt
    arena = p.arena
    pos, vel = s.pos, s.vel
    for i in range(n):
        cx = control[b, i, 0]
        cy = control[b, i, 1]
        if np.isfinite(cx) and np.isfinite(cy):
            vx, vy = cx, cy
        else:
            dx = s.waypoint[b, i, 0] - pos[b, i, 0]
            dy = s.waypoint[b, i, 1] - pos[b, i, 1]
            dist = np.hypot(dx, dy)
            if dist <= vmax * dt:
                vx, vy = dx / dt, dy / dt
                s.waypoint[b, i, 0] = draws[b, 2 * n + 2 * i] * arena
                s.waypoint[b, i, 1] = draws[b, 2 * n + 2 * i + 1] * arena
            else:
                vx, vy = dx / dist * vmax, dy / dist * vmax
        s2 = vx * vx + vy * vy
        if s2 > vmax * vmax:
            scale = vmax / np.sqrt(s2)
            vx *= scale
            vy *= scale
        x = _reflect(pos[b, i, 0] + vx * dt, arena)
        y = _reflect(pos[b, i, 1] + vy * dt, arena)
        vel[b, i, 0] = (x - pos[b, i, 0]) / dt
        vel[b, i, 1] = (y - pos[b, i, 1]) / dt
        pos[b, i, 0] = x
        pos[b, i, 1] = y
    _waypoint_move(s.target[b], draws[b, 4 * n], draws[b, 4 * n + 1], arena, p.target_speed, dt)
    _waypoint_move(s.decoy[b], draws[b, 4 * n + 2], draws[b, 4 * n + 3], arena, p.target_speed, dt)
