"""The DBP case studies: cooperative target tracking, time synchronisation, localisation.

Each case runs a mobile swarm (:mod:`swarm.mobility`) with a fraction of Byzantine
robots against one defence:

- ``"none"``: observations flood (hop limit) and are all believed;
- ``"wmsr"``: the application runs over W-MSR-style trimming with parameter ``wmsr_f``
  on direct neighbours' values (mean consensus for tracking, :func:`protocols.wmsr.wmsr_step`;
  the same trimming rule before the max / the intersection for clocks and boxes);
- ``"dbp"``: observations flood, cooperative robots accuse the origins of observations
  that contradict what they observe themselves (the case's suspicion rules, below),
  accusations flood the whole network, and once an accusation's flood has ended (every
  robot it can reach holds it) it enters the blocklist (:class:`protocols.dbp.DynamicBlocklist`),
  whose robots' observations every receiver drops.

Attacks: ``"fake"`` (Byzantine robots report a fake target / a large clock offset / an
offset box), ``"false_accusation"`` (the same, plus each Byzantine robot accuses up to
``false_accusations`` cooperative neighbours), ``"garbage"`` (non-finite reports: NaN
and infinities) and ``"silent"`` (Byzantine robots stop
sending). Byzantine robots never forward other robots' messages.

Suspicion rules (all sound: a cooperative robot never accuses a cooperative one, given
the bounds in :class:`DBPConfig`):

Target tracking (payload: claimed origin position, claimed target position)
    the claimed origin could not have reached the receiver in the hops travelled
    (``|p_claim - p_me| > hops * (radio_range + max_speed * dt)``: the message "moved
    faster than information can flood"); the claimed target lies outside the claimed
    origin's sensing range; the receiver sees the target somewhere the claim cannot be
    (beyond the target's speed times the elapsed time plus twice the noise bound); the
    receiver sees no target where the claim puts one; or a neighbour that must have seen
    the target the receiver saw (both in its sensing range) sent nothing (this catches
    robots that stop sending).
Time synchronisation (payload: the origin's own clock reading when sent)
    an observer (a robot with the reference clock) accuses any origin whose reported time
    is at or above its own clock: an honest report was read at least one tick earlier.
Localisation (payload: the origin's position box)
    a robot accuses a box that does not meet its own box grown by the distance the origin
    can be from it: ``hops * radio_range + elapsed * max_speed * dt``.

Every random draw comes from the :class:`numpy.random.Generator` given to the case.

Examples
--------
Target tracking under DBP: the blocklist grows as the accusations' floods end; the
matching blocks at most one cooperative accuser per Byzantine robot it blocks.

>>> import numpy as np
>>> from swarm.dbp_cases import run_case
>>> r = run_case("target_tracking", defence="dbp", n_robots=30, ticks=5, seed=0)
>>> int(r.byzantine.sum()), r.byzantine_blocked.tolist()
(3, [0, 0, 0, 0, 2])
>>> bool(np.all(r.cooperative_blocked <= r.byzantine_blocked))
True
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from swarm.dbp_cases.base import CaseStudy, garbage_reports
from swarm.dbp_cases.config import ATTACKS, CASES, DEFENCES, CaseResult, DBPConfig
from swarm.dbp_cases.localization import Localization
from swarm.dbp_cases.target_tracking import TargetTracking
from swarm.dbp_cases.time_sync import TimeSync

__all__ = [
    "ATTACKS",
    "CASES",
    "DEFENCES",
    "CaseResult",
    "CaseStudy",
    "DBPConfig",
    "Localization",
    "TargetTracking",
    "TimeSync",
    "garbage_reports",
    "make_case",
    "run_case",
]

_CASES = {"target_tracking": TargetTracking, "time_sync": TimeSync, "localization": Localization}


def make_case(case: str, config: DBPConfig, rng: np.random.Generator) -> CaseStudy:
    """Build a case-study simulation.

    Parameters
    ----------
    case : str
        ``"target_tracking"``, ``"time_sync"`` or ``"localization"``.
    config : DBPConfig
        Parameters.
    rng : numpy.random.Generator
        Source of every random draw.

    Returns
    -------
    TargetTracking, TimeSync or Localization
        Call ``step()`` per tick or ``run()``.
    """
    if case not in _CASES:
        raise ValueError(f"case must be one of {', '.join(CASES)}, got {case!r}")
    return _CASES[case](config, rng)


def run_case(
    case: str, config: DBPConfig | None = None, *, seed: int = 0, **overrides
) -> CaseResult:
    """Run one case study and return its per-tick metrics.

    Parameters
    ----------
    case : str
        ``"target_tracking"``, ``"time_sync"`` or ``"localization"``.
    config : DBPConfig, optional
        Parameters (defaults if omitted).
    seed : int
        Seed of the :class:`numpy.random.Generator`.
    **overrides
        Fields of :class:`DBPConfig` replacing those of ``config``.

    Returns
    -------
    CaseResult
        Metrics per tick.
    """
    config = DBPConfig() if config is None else config
    if overrides:
        names = {f.name for f in fields(DBPConfig)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise TypeError(f"unknown DBPConfig field {unknown[0]!r}")
        config = DBPConfig(
            **{**{f.name: getattr(config, f.name) for f in fields(DBPConfig)}, **overrides}
        )
    return make_case(case, config, np.random.default_rng(seed)).run()
