"""Game models and solvers.

Power control, differentiable games with Small-Gain Nash certificates, linear-quadratic
graphon mean-field games and budget-aware value tree search.

Layering: ``games`` may import ``protocols`` and nothing else of swarmgym.
"""
