"""The robot world.

Topologies and their robustness checks, Byzantine attack models, the simulation loop,
metrics, plots and the interactive viewer (``swarm.viewer``).

Layering: ``swarm`` may import ``protocols`` and nothing else of swarmgym.
"""
