"""Named scenarios shipped as TOML data, the runner, sweeps and the ``swarm`` CLI.

A scenario file names a *kind* (a module ``scenarios/kinds/<kind>.py`` that declares
its parameters and runs them) and gives values for its parameters.

Layering: ``scenarios`` may import ``envs``, ``swarm``, ``games`` and ``protocols``.
"""
