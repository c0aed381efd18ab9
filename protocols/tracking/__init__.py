"""Batched cooperative target tracking under Byzantine lies: B swarms, one compiled call a tick.

Each swarm holds ``n`` robots in the square ``[0, arena]^2``, a target and a decoy moving
by random waypoint, and a Byzantine set. One call of :func:`tracking_step` advances every
active swarm by one tick:

1. **Move.** A robot with a finite commanded velocity takes it; the others (the
   Byzantine robots) head for their waypoint at full speed and draw a new one on
   arrival. Speeds are capped at ``max_speed``; walls reflect. Target and decoy move by
   random waypoint at ``target_speed``.
2. **Radio graph.** Robots within ``radio_range`` hear each other.
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

One topic a module: :mod:`~protocols.tracking.state` (the arrays),
:mod:`~protocols.tracking.draws` (the uniforms), :mod:`~protocols.tracking.motion`
(step 1), :mod:`~protocols.tracking.graph` (step 2), :mod:`protocols.tracking_defences`
(step 4), :mod:`~protocols.tracking.observe` (step 5) and :mod:`~protocols.tracking.step`
(the tick and its checked callers); every public name is importable from here.

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

from protocols.tracking.draws import fill_draws, generator_pointers
from protocols.tracking.motion import commands
from protocols.tracking.state import (
    TrackingOutput,
    TrackingParams,
    TrackingState,
    n_draws,
    new_output,
    new_state,
)
from protocols.tracking.step import observe_swarms, tracking_step, tracking_step_unchecked
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
    "commands",
    "fill_draws",
    "generator_pointers",
    "n_draws",
    "new_output",
    "new_state",
    "observe_swarms",
    "tracking_step",
    "tracking_step_unchecked",
]
