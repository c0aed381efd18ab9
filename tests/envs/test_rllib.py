"""RLlib's ParallelPettingZooEnv wraps every registered env (needs the rllib extra)."""

import numpy as np
import pytest

pytest.importorskip("ray.rllib")

from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv

from envs.registry import PARALLEL_ENVS, load_env_module


@pytest.mark.parametrize("name", sorted(PARALLEL_ENVS))
def test_rllib_wrapper_steps_every_env_to_the_end(name):
    mod = load_env_module(name)
    kw = dict(getattr(mod, "TEST_KWARGS", {}))
    kw["max_cycles"] = 6
    env = ParallelPettingZooEnv(mod.parallel_env(**kw))
    obs, _ = env.reset(seed=0)
    agents = set(env.par_env.possible_agents)
    assert set(obs) == agents
    for aid, o in obs.items():
        space = env.observation_space[aid]
        assert space.contains(np.asarray(o, dtype=space.dtype))
    env.action_space.seed(0)
    for _ in range(6):
        actions = {aid: env.action_space[aid].sample() for aid in env.par_env.agents}
        obs, rew, term, trunc, _ = env.step(actions)
        assert set(rew) <= agents
        if term["__all__"] or trunc["__all__"]:
            break
    assert term["__all__"] or trunc["__all__"]
