"""Decentralized Blocklist Protocol (DBP): flooding, accusations and the matching blocklist.

Robots accuse neighbours whose messages contradict what they observe themselves; the
accusations flood the network, and every robot blocks both endpoints of every edge of a
maximum-cardinality matching of the undirected accusation graph (Wardega, von Hippel,
Tron, Nita-Rotaru and Li, "Byzantine Resilience at Swarm Scale", AAMAS 2023).

Why a matching: a cooperative robot only accuses a Byzantine one (sound accusations),
so every accusation edge holds at least one Byzantine endpoint; a matching therefore
blocks at most one cooperative robot per Byzantine robot it blocks. And if every
Byzantine robot is accused by a distinct cooperative robot, those edges form a matching
of size ``B`` (the number of Byzantine robots), every maximum matching has size ``>= B``
and, each of its edges holding a Byzantine endpoint, it covers all ``B`` of them.

Modules:

- :mod:`protocols.dbp.matching`: the canonical matching, :func:`blocklist` and
  :class:`DynamicBlocklist` (the blocklist updated one accusation at a time);
- :mod:`protocols.dbp.flood`: :class:`Flood`, messages forwarded hop by hop;
- :mod:`protocols.dbp.gossip`: :class:`AccusationGossip`, accusations flooded to the
  whole network as per-robot bitsets;
- :mod:`protocols.dbp.tracking`, :mod:`protocols.dbp.timesync`,
  :mod:`protocols.dbp.localization`: the receive kernels (suspicion rules and estimate
  updates) of the three case studies of :mod:`swarm.dbp_cases`.

The flood and gossip steps run on :func:`numba.get_num_threads` threads (set with
``NUMBA_NUM_THREADS`` or :func:`numba.set_num_threads`) and give the same result, bit
for bit, for any thread count.

Examples
--------
>>> from protocols.dbp import blocklist
>>> blocklist([[0, 1], [2, 3], [4, 1]], 5).tolist()
[True, True, True, True, False]
"""

from protocols.dbp.flood import (
    ACCUSATION,
    OBSERVATION,
    Deliveries,
    DeliveryArrays,
    Flood,
    Messages,
)
from protocols.dbp.gossip import AccusationGossip, locality_order
from protocols.dbp.matching import (
    DynamicBlocklist,
    accusation_graph,
    blocklist,
    check_accusations,
    maximum_matching,
)

__all__ = [
    "ACCUSATION",
    "OBSERVATION",
    "AccusationGossip",
    "Deliveries",
    "DeliveryArrays",
    "DynamicBlocklist",
    "Flood",
    "Messages",
    "accusation_graph",
    "blocklist",
    "check_accusations",
    "locality_order",
    "maximum_matching",
]
