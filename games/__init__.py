"""Game models and solvers.

Power control, differentiable games with Small-Gain Nash certificates, linear-quadratic
graphon mean-field games and budget-aware value tree search.

Layering: ``games`` may import ``protocols`` and nothing else of swarmgym.

Examples
--------
>>> from games.power_control import PowerControlGame
>>> game = PowerControlGame.rayleigh(3, 4, seed=0)   # 3 users, 4 carriers
>>> result = game.solve("sequential")
>>> result.converged, result.solution.shape
(True, (3, 4))
"""

__all__: list[str] = []  # the package exports its modules, not names
