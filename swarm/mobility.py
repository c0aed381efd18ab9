"""Mobile robots in a square arena: motion models and the per-tick radio graph.

Robots have positions and velocities (arena units, units per second), a radio range
(two robots within it hear each other) and a sensing range (a robot observes what lies
within it). The communication graph is rebuilt every tick from the positions on a
cell grid (:func:`protocols.geometry.radius_csr`, no all-pairs loop). Motion is random
waypoint or flocking (Reynolds' separation, alignment and cohesion); every random draw
comes from the :class:`numpy.random.Generator` the swarm was built with.

Examples
--------
>>> import numpy as np
>>> from swarm.mobility import MobileSwarm, radius_graph
>>> g = radius_graph([[0.0, 0.0], [3.0, 0.0], [10.0, 0.0]], 4.0)  # only 0 and 1 in range
>>> g.indptr.tolist(), g.indices.tolist()
([0, 1, 2, 2], [1, 0])
>>> swarm = MobileSwarm(20, np.random.default_rng(0), arena=50.0, max_speed=2.0, motion="flocking")
>>> before = swarm.positions.copy()
>>> swarm.step()
>>> bool(np.all(np.linalg.norm(swarm.positions - before, axis=1) <= 2.0 + 1e-12))
True
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from protocols.checks import check_float_array, check_int, check_nonneg_float
from protocols.csr import CSR
from protocols.geometry import radius_csr

__all__ = ["MOTIONS", "MobileSwarm", "pairs_within", "radius_graph"]

MOTIONS = ("random_waypoint", "flocking", "static")


def pairs_within(positions, radius: float) -> np.ndarray:
    """Unordered pairs of robots closer than or at ``radius``, via a k-d tree.

    Parameters
    ----------
    positions : array_like of float, shape (n, d)
        Robot positions.
    radius : float
        Distance bound (>= 0).

    Returns
    -------
    numpy.ndarray of int64, shape (m, 2)
        Rows ``(i, j)`` with ``i < j``, sorted.
    """
    pos = check_float_array("positions", positions, ndim=2, finite=True)
    radius = check_nonneg_float("radius", radius)
    if pos.shape[0] < 2:
        return np.empty((0, 2), dtype=np.int64)
    pairs = cKDTree(pos).query_pairs(radius, output_type="ndarray").astype(np.int64)
    if pairs.shape[0] == 0:
        return np.empty((0, 2), dtype=np.int64)
    pairs = np.sort(pairs, axis=1)
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    return np.ascontiguousarray(pairs[order])


def radius_graph(positions, radius: float) -> CSR:
    """Symmetric CSR of the disk graph: robots within ``radius`` are neighbours.

    Parameters
    ----------
    positions : array_like of float, shape (n, d)
        Robot positions.
    radius : float
        Radio range (>= 0).

    Returns
    -------
    CSR
        ``indptr`` (int64, shape (n + 1,)) and ``indices`` (int64): neighbours of ``i``
        are ``indices[indptr[i]:indptr[i + 1]]``, increasing. The graph is undirected, so
        this is both the in-edge and the out-edge CSR.
    """
    pos = check_float_array("positions", positions, ndim=2, finite=True)
    n = pos.shape[0]
    radius = check_nonneg_float("radius", radius)
    if n < 2:
        return CSR(np.zeros(n + 1, dtype=np.int64), np.empty(0, dtype=np.int64))
    return radius_csr(pos, radius)


class MobileSwarm:
    """Robots moving in the square ``[0, arena]^2``.

    Parameters
    ----------
    n : int
        Number of robots.
    rng : numpy.random.Generator
        Source of every random draw (initial positions, waypoints, flocking noise).
    arena : float
        Side of the square arena (units).
    radio_range, sensing_range : float
        Communication and sensing radii (units).
    max_speed : float
        Speed bound (units per second); no robot ever moves faster.
    dt : float
        Seconds per tick.
    motion : {"random_waypoint", "flocking", "static"}
        Motion model.
    positions : array_like of float, shape (n, 2), optional
        Initial positions (uniform in the arena if omitted).

    Attributes
    ----------
    positions, velocities : numpy.ndarray, shape (n, 2)
        Current state (units, units per second).
    """

    def __init__(
        self,
        n: int,
        rng: np.random.Generator,
        *,
        arena: float = 100.0,
        radio_range: float = 15.0,
        sensing_range: float = 10.0,
        max_speed: float = 1.0,
        dt: float = 1.0,
        motion: str = "random_waypoint",
        positions=None,
    ):
        self.n = check_int("n", n, low=1)
        if not isinstance(rng, np.random.Generator):
            raise TypeError("rng must be a numpy.random.Generator")
        self.rng = rng
        self.arena = check_nonneg_float("arena", arena, positive=True)
        self.radio_range = check_nonneg_float("radio_range", radio_range)
        self.sensing_range = check_nonneg_float("sensing_range", sensing_range)
        self.max_speed = check_nonneg_float("max_speed", max_speed)
        self.dt = check_nonneg_float("dt", dt, positive=True)
        if motion not in MOTIONS:
            raise ValueError(f"motion must be one of {', '.join(MOTIONS)}, got {motion!r}")
        self.motion = motion
        if positions is None:
            self.positions = rng.uniform(0.0, self.arena, size=(self.n, 2))
        else:
            self.positions = check_float_array(
                "positions", positions, shape=(self.n, 2), finite=True
            ).copy()
            if np.any(self.positions < 0) or np.any(self.positions > self.arena):
                raise ValueError(f"positions must lie in [0, {self.arena}]^2")
        self.velocities = np.zeros((self.n, 2))
        self.waypoints = rng.uniform(0.0, self.arena, size=(self.n, 2))
        if motion == "flocking":
            angle = rng.uniform(0.0, 2 * np.pi, size=self.n)
            self.velocities = self.max_speed * np.column_stack([np.cos(angle), np.sin(angle)])

    def comm_graph(self) -> CSR:
        """Radio graph of the current positions (symmetric CSR, see :func:`radius_graph`)."""
        return radius_graph(self.positions, self.radio_range)

    def step(self, control: np.ndarray | None = None) -> None:
        """Move every robot by one tick (speed at most ``max_speed``).

        Parameters
        ----------
        control : numpy.ndarray, shape (n, 2), optional
            Commanded velocities (units per second); a row of NaN leaves that robot to
            its motion model. Commands faster than ``max_speed`` are scaled down.
        """
        if self.max_speed == 0:
            self.velocities[:] = 0.0
            return
        if self.motion == "static":
            self.velocities[:] = 0.0
        elif self.motion == "random_waypoint":
            self._waypoint_velocities()
        else:
            self._flocking_velocities()
        if control is not None:
            control = np.asarray(control, dtype=np.float64)
            if control.shape != (self.n, 2):
                raise ValueError(f"control must have shape ({self.n}, 2), got {control.shape}")
            given = np.all(np.isfinite(control), axis=1)
            self.velocities[given] = control[given]
        speed = np.linalg.norm(self.velocities, axis=1)
        too_fast = speed > self.max_speed
        self.velocities[too_fast] *= (self.max_speed / speed[too_fast])[:, None]
        new = self.positions + self.velocities * self.dt
        # Reflect at the walls (a reflection never lengthens the step).
        new = np.abs(new)
        over = new > self.arena
        new[over] = 2 * self.arena - new[over]
        new = np.clip(new, 0.0, self.arena)
        self.velocities = (new - self.positions) / self.dt
        self.positions = new

    def _waypoint_velocities(self) -> None:
        delta = self.waypoints - self.positions
        dist = np.linalg.norm(delta, axis=1)
        reach = self.max_speed * self.dt
        arrived = dist <= reach
        # Robots that reach their waypoint this tick land on it and draw a new one.
        vel = np.zeros_like(delta)
        far = ~arrived
        vel[far] = delta[far] / dist[far, None] * self.max_speed
        vel[arrived] = delta[arrived] / self.dt
        self.velocities = vel
        k = int(arrived.sum())
        if k:
            self.waypoints[arrived] = self.rng.uniform(0.0, self.arena, size=(k, 2))

    def _flocking_velocities(
        self,
        separation: float = 0.3,
        alignment: float = 0.05,
        cohesion: float = 0.01,
        noise: float = 0.05,
    ) -> None:
        pairs = pairs_within(self.positions, self.radio_range)
        n = self.n
        i, j = pairs[:, 0], pairs[:, 1]
        deg = np.bincount(i, minlength=n) + np.bincount(j, minlength=n)
        has = deg > 0
        d = self.positions[j] - self.positions[i]
        vel_sum = np.zeros((n, 2))
        pos_sum = np.zeros((n, 2))
        sep = np.zeros((n, 2))
        np.add.at(vel_sum, i, self.velocities[j])
        np.add.at(vel_sum, j, self.velocities[i])
        np.add.at(pos_sum, i, self.positions[j])
        np.add.at(pos_sum, j, self.positions[i])
        dist2 = np.maximum(np.einsum("ij,ij->i", d, d), 1e-9)
        close = dist2 < (0.5 * self.radio_range) ** 2
        push = d[close] / dist2[close, None]
        np.add.at(sep, i[close], -push)
        np.add.at(sep, j[close], push)
        v = self.velocities.copy()
        v[has] += alignment * (vel_sum[has] / deg[has, None] - v[has])
        v[has] += cohesion * (pos_sum[has] / deg[has, None] - self.positions[has])
        v += separation * sep
        # Steer away from walls within one radio range.
        margin = self.radio_range
        v += (
            0.05
            * self.max_speed
            * ((self.positions < margin).astype(float) - (self.positions > self.arena - margin))
        )
        v += noise * self.max_speed * self.rng.standard_normal((n, 2))
        speed = np.linalg.norm(v, axis=1)
        slow = speed < 0.5 * self.max_speed
        if np.any(slow):
            safe = np.maximum(speed[slow], 1e-12)
            v[slow] *= (0.5 * self.max_speed / safe)[:, None]
        self.velocities = v
