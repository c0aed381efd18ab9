"""Scenario kinds: one module a kind, each declaring ``PARAMS`` and a ``run`` function.

Examples
--------
The runner finds a kind by name; its ``PARAMS`` declare every parameter with its default:

>>> from scenarios.runner import load_kind
>>> consensus = load_kind("consensus")
>>> consensus.PARAMS["n_robots"].default, consensus.PARAMS["n_robots"].allowed()
(100, 'an integer in [2, 100000]')
"""

__all__: list[str] = []  # the package exports its modules, not names
