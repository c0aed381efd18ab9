"""The robot world.

Topologies and their robustness checks, Byzantine attack models, the simulation loop,
metrics, plots and the interactive viewer (``swarm.viewer``).

Layering: ``swarm`` may import ``protocols`` and nothing else of swarmgym.

Examples
--------
Two Byzantine robots of eleven on a complete graph send 50 every round; W-MSR with
``f = 2`` keeps the honest robots inside their initial hull and brings them together.

>>> import numpy as np
>>> from swarm.attacks import make_attack, select_byzantine
>>> from swarm.simulate import simulate_consensus
>>> from swarm.topology import complete, to_csr
>>> rng = np.random.default_rng(0)
>>> graph = to_csr(complete(11))
>>> byzantine = select_byzantine(*graph, 2, rng)
>>> attack = make_attack("constant", value=50.0)
>>> r = simulate_consensus(graph, rng.uniform(0, 1, 11), byzantine, attack, f=2, rounds=30, rng=rng)
>>> r.hull_violation, r.converged_round
(0.0, 4)
"""

__all__: list[str] = []  # the package exports its modules, not names
