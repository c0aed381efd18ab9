"""Gymnasium and PettingZoo environments over ``swarm`` and ``games``.

Every environment module is named ``<name>_v<N>`` and is listed in
:data:`envs.registry.PARALLEL_ENVS`; single-agent views are registered with Gymnasium
under the ``swarmgym/`` namespace on import of this package.

Layering: ``envs`` may import ``swarm``, ``games`` and ``protocols``.

Examples
--------
Importing the package registers the Gymnasium ids:

>>> import gymnasium
>>> import envs
>>> env = gymnasium.make("swarmgym/MultihopQA-v0")
>>> obs, info = env.reset(seed=0)
>>> obs.startswith("Question: "), env.spec.max_episode_steps
(True, 16)
"""

from envs.registry import register_gymnasium_envs

__all__ = ["register_gymnasium_envs"]

register_gymnasium_envs()
