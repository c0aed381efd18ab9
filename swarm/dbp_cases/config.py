"""Configuration and result of a DBP case-study run (:mod:`swarm.dbp_cases`).

Examples
--------
>>> from swarm.dbp_cases import DBPConfig
>>> DBPConfig(n_robots=50, byzantine_fraction=0.1).n_byzantine
5
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from protocols.checks import check_float, check_int, check_nonneg_float
from swarm.mobility import MOTIONS

__all__ = ["ATTACKS", "CASES", "DEFENCES", "CaseResult", "DBPConfig"]

DEFENCES = ("none", "wmsr", "dbp")
ATTACKS = ("fake", "false_accusation", "silent", "garbage")
CASES = ("target_tracking", "time_sync", "localization")


@dataclass(frozen=True)
class DBPConfig:
    """Parameters of a case-study run (units: arena units, seconds).

    Attributes
    ----------
    n_robots : int
        Swarm size.
    byzantine_fraction : float
        Fraction of Byzantine robots, in [0, 0.5).
    defence : str
        ``"none"``, ``"wmsr"`` or ``"dbp"``.
    wmsr_f : int
        W-MSR trimming parameter F.
    attack : str
        ``"fake"``, ``"false_accusation"``, ``"silent"`` or ``"garbage"``.
    ticks : int
        Number of ticks simulated.
    hop_limit : int
        Hop limit of observations.
    arena, radio_range, sensing_range, max_speed, dt : float
        Swarm geometry and kinematics (see :class:`swarm.mobility.MobileSwarm`).
    motion : str
        ``"random_waypoint"``, ``"flocking"`` or ``"static"``.
    target_speed : float
        Speed of the target (and of the decoy) in target tracking.
    noise : float
        Sensing noise bound: every observed coordinate is off by at most this much.
    coarse_error : float
        Localisation: half-side of the box a non-anchor robot measures around itself.
    n_anchors : int
        Reference robots: observers with the true clock (time sync), anchors that know
        their position (localisation).
    max_clock_offset : float
        Cooperative clocks lag the true time by up to this much (seconds).
    byzantine_offset : float
        Offset of the Byzantine reports (seconds ahead for clocks, units for boxes).
    false_accusations : int
        Cooperative neighbours each Byzantine robot accuses under ``false_accusation``.
    record_every : int
        Keep a frame of the swarm every this many ticks (0: none).
    """

    n_robots: int = 100
    byzantine_fraction: float = 0.1
    defence: str = "dbp"
    wmsr_f: int = 1
    attack: str = "fake"
    ticks: int = 60
    hop_limit: int = 4
    arena: float = 100.0
    radio_range: float = 20.0
    sensing_range: float = 15.0
    max_speed: float = 1.0
    dt: float = 1.0
    motion: str = "random_waypoint"
    target_speed: float = 1.0
    noise: float = 0.5
    coarse_error: float = 10.0
    n_anchors: int = 5
    max_clock_offset: float = 10.0
    byzantine_offset: float = 50.0
    false_accusations: int = 3
    record_every: int = 0

    def __post_init__(self):
        check_int("n_robots", self.n_robots, low=2)
        check_float(
            "byzantine_fraction", self.byzantine_fraction, low=0.0, high=0.5, high_open=True
        )
        for name, allowed in (("defence", DEFENCES), ("attack", ATTACKS), ("motion", MOTIONS)):
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}"
                )
        for name in (
            "wmsr_f",
            "ticks",
            "hop_limit",
            "n_anchors",
            "false_accusations",
            "record_every",
        ):
            check_int(name, getattr(self, name), low=0)
        for name in ("arena", "dt"):
            check_nonneg_float(name, getattr(self, name), positive=True)
        for name in (
            "radio_range",
            "sensing_range",
            "max_speed",
            "target_speed",
            "noise",
            "coarse_error",
            "max_clock_offset",
            "byzantine_offset",
        ):
            check_nonneg_float(name, getattr(self, name))

    @property
    def n_byzantine(self) -> int:
        """Number of Byzantine robots."""
        return round(self.byzantine_fraction * self.n_robots)


@dataclass
class CaseResult:
    """Per-tick metrics of one run.

    Attributes
    ----------
    case, defence, attack : str
        What was run.
    error : numpy.ndarray, shape (ticks,)
        Mean error of the cooperative robots' estimates (target distance, clock error in
        seconds, or distance from the box centre), per tick.
    error_max : numpy.ndarray, shape (ticks,)
        Largest error among cooperative robots, per tick.
    byzantine_blocked : numpy.ndarray of int, shape (ticks,)
        Byzantine robots on the blocklist at the end of each tick.
    cooperative_blocked : numpy.ndarray of int, shape (ticks,)
        Cooperative robots wrongly on the blocklist.
    all_blocked_tick : int or None
        First tick at which every Byzantine robot was blocked (None if never).
    accusations : int
        Distinct accusations issued (cooperative and Byzantine).
    byzantine : numpy.ndarray of bool, shape (n,)
        Which robots were Byzantine.
    frames : list of dict
        Recorded frames: ``tick``, ``positions``, ``blocked`` and case extras.
    """

    case: str
    defence: str
    attack: str
    error: np.ndarray
    error_max: np.ndarray
    byzantine_blocked: np.ndarray
    cooperative_blocked: np.ndarray
    all_blocked_tick: int | None
    accusations: int
    byzantine: np.ndarray
    frames: list = field(default_factory=list)
