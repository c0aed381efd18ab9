"""Gymnasium and PettingZoo environments over ``swarm`` and ``games``.

Every environment module is named ``<name>_v<N>`` and is listed in
:data:`envs.registry.PARALLEL_ENVS`; single-agent views are registered with Gymnasium
under the ``swarmgym/`` namespace on import of this package.

Layering: ``envs`` may import ``swarm``, ``games`` and ``protocols``.
"""

from envs.registry import register_gymnasium_envs

register_gymnasium_envs()
