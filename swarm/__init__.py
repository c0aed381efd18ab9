"""The robot world.

Topologies and their robustness checks, Byzantine attack models, the simulation loop,
metrics and plots.

Layering: ``swarm`` may import ``protocols`` and nothing else of swarmgym.
"""
