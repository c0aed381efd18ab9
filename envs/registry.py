"""The registry of swarmgym environments.

Every PettingZoo environment module ``envs/<name>_v<N>.py`` must appear in
:data:`PARALLEL_ENVS`; the conformance suite fails if one is missing. Each module
exposes ``parallel_env(**kwargs)`` (the parallel env), ``env(**kwargs)`` (the AEC env
derived with ``parallel_to_aec``) and ``raw_env``.

Examples
--------
>>> from envs.registry import PARALLEL_ENVS, make_parallel
>>> "power_control_v0" in PARALLEL_ENVS
True
>>> env = make_parallel("power_control_v0", n_users=2, n_carriers=3)
>>> obs, infos = env.reset(seed=0)
>>> sorted(obs), obs["user_0"].shape
(['user_0', 'user_1'], (6,))
"""

from __future__ import annotations

import importlib
from types import ModuleType

import gymnasium

__all__ = [
    "GYMNASIUM_ENVS",
    "MAX_EPISODE_STEPS",
    "PARALLEL_ENVS",
    "VECTOR_ENTRY_POINTS",
    "load_env_module",
    "make_parallel",
    "register_gymnasium_envs",
]

#: PettingZoo environments: name -> module path.
PARALLEL_ENVS: dict[str, str] = {
    "byzantine_consensus_v0": "envs.byzantine_consensus_v0",
    "differentiable_game_v0": "envs.differentiable_game_v0",
    "graphon_mfg_v0": "envs.graphon_mfg_v0",
    "power_control_v0": "envs.power_control_v0",
    "target_tracking_v0": "envs.target_tracking_v0",
}

#: Gymnasium single-agent views: id -> entry point ``module:Class``.
GYMNASIUM_ENVS: dict[str, str] = {
    "swarmgym/TargetTrackingTeam-v0": "envs.target_tracking_v0:TargetTrackingTeamEnv",
    "swarmgym/ByzantineConsensusAttack-v0": "envs.byzantine_consensus_v0:ByzantineConsensusTeamEnv",
    "swarmgym/MultihopQA-v0": "envs.multihop_qa_v0:MultihopQAEnv",
}

#: Batched forms: id -> ``module:Class`` for ``gymnasium.make_vec`` (``vector_entry_point``).
VECTOR_ENTRY_POINTS: dict[str, str] = {
    "swarmgym/TargetTrackingTeam-v0": "envs.tracking_vector:TargetTrackingVectorEnv",
    "swarmgym/ByzantineConsensusAttack-v0": "envs.vector:ByzantineConsensusVectorEnv",
}

#: Episode length of every id (the env's default ``max_cycles`` / ``max_steps``). Gymnasium
#: adds a ``TimeLimit`` of this length: pass ``max_episode_steps=`` with a longer
#: ``max_cycles``.
MAX_EPISODE_STEPS: dict[str, int] = {
    "swarmgym/TargetTrackingTeam-v0": 200,
    "swarmgym/ByzantineConsensusAttack-v0": 100,
    "swarmgym/MultihopQA-v0": 16,
}


def load_env_module(name: str) -> ModuleType:
    """Import the module of a registered PettingZoo environment.

    Parameters
    ----------
    name : str
        A key of :data:`PARALLEL_ENVS`, such as ``"byzantine_consensus_v0"``.

    Returns
    -------
    module
        The environment module.
    """
    if name not in PARALLEL_ENVS:
        known = ", ".join(sorted(PARALLEL_ENVS)) or "(none)"
        raise ValueError(f"unknown environment {name!r}; registered: {known}")
    return importlib.import_module(PARALLEL_ENVS[name])


def make_parallel(name: str, **kwargs):
    """Build the parallel form of a registered environment.

    Parameters
    ----------
    name : str
        A key of :data:`PARALLEL_ENVS`.
    **kwargs
        Constructor arguments of that environment; unknown ones are an error.

    Returns
    -------
    pettingzoo.ParallelEnv
        The environment.
    """
    return load_env_module(name).parallel_env(**kwargs)


def register_gymnasium_envs() -> None:
    """Register every id of :data:`GYMNASIUM_ENVS` with Gymnasium.

    Each id gets its :data:`MAX_EPISODE_STEPS` and, where it has a batched form, its
    :data:`VECTOR_ENTRY_POINTS` entry. In worker processes (``AsyncVectorEnv``, SB3's
    ``SubprocVecEnv``, RLlib env runners) write ``"envs:swarmgym/<Id>"``: Gymnasium
    imports ``envs`` (which registers the ids) before it looks the id up.
    """
    for env_id, entry_point in GYMNASIUM_ENVS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(
                id=env_id,
                entry_point=entry_point,
                vector_entry_point=VECTOR_ENTRY_POINTS.get(env_id),
                max_episode_steps=MAX_EPISODE_STEPS.get(env_id),
            )
