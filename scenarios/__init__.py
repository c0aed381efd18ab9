"""Named scenarios shipped as TOML data, the runner, sweeps and the ``swarm`` CLI.

A scenario file names a *kind* (a module ``scenarios/kinds/<kind>.py`` that declares
its parameters and runs them) and gives values for its parameters.

Layering: ``scenarios`` may import ``envs``, ``swarm``, ``games`` and ``protocols``.

Examples
--------
Load a shipped scenario with an override, as ``swarm run byzantine-consensus --set
rounds=50`` does:

>>> from scenarios.runner import load_scenario
>>> scenario = load_scenario("byzantine-consensus", ["rounds=50"])
>>> scenario.kind, scenario.seed, scenario.params["rounds"]
('consensus', 7, 50)
"""

__all__: list[str] = []  # the package exports its modules, not names
