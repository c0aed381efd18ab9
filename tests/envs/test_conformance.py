"""Registry-driven conformance suite: every registered env passes PettingZoo's tests.

Each env module may define ``TEST_KWARGS`` (small, fast constructor arguments used here)
and ``GYM_TEST_KWARGS`` (env id -> kwargs for ``gymnasium.make``).
"""

import importlib
import pickle
import pkgutil

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import (
    api_test,
    max_cycles_test,
    parallel_api_test,
    parallel_seed_test,
    render_test,
    seed_test,
)

import envs
from envs.registry import GYMNASIUM_ENVS, PARALLEL_ENVS, load_env_module

NAMES = sorted(PARALLEL_ENVS)


def _kwargs(name):
    return dict(getattr(load_env_module(name), "TEST_KWARGS", {}))


def test_every_env_module_is_registered():
    modules = {
        m.name
        for m in pkgutil.iter_modules(envs.__path__)
        if "_v" in m.name and m.name.rsplit("_v", 1)[-1].isdigit()
    }
    registered = {path.rsplit(".", 1)[-1] for path in PARALLEL_ENVS.values()}
    registered |= {ep.split(":")[0].rsplit(".", 1)[-1] for ep in GYMNASIUM_ENVS.values()}
    missing = modules - registered
    assert not missing, f"env modules missing from envs.registry: {missing}"
    for name in PARALLEL_ENVS:
        assert importlib.import_module(PARALLEL_ENVS[name])


@pytest.mark.parametrize("env_id", sorted(GYMNASIUM_ENVS))
def test_gymnasium_env_checker(env_id):
    module = importlib.import_module(GYMNASIUM_ENVS[env_id].split(":")[0])
    kwargs = dict(getattr(module, "GYM_TEST_KWARGS", {}).get(env_id, {}))
    env = gymnasium.make(env_id, **kwargs)
    check_env(env.unwrapped, skip_render_check=False)
    env.close()


@pytest.mark.parametrize("name", NAMES)
def test_parallel_api(name):
    parallel_api_test(load_env_module(name).parallel_env(**_kwargs(name)), num_cycles=50)


@pytest.mark.parametrize("name", NAMES)
def test_aec_api(name):
    api_test(load_env_module(name).env(**_kwargs(name)), num_cycles=50)


@pytest.mark.parametrize("name", NAMES)
def test_seeds(name):
    mod = load_env_module(name)
    kw = _kwargs(name)
    parallel_seed_test(lambda: mod.parallel_env(**kw))
    seed_test(lambda: mod.env(**kw))


@pytest.mark.parametrize("name", NAMES)
def test_max_cycles(name):
    max_cycles_test(load_env_module(name))


@pytest.mark.parametrize("name", NAMES)
def test_render(name):
    mod = load_env_module(name)
    kw = _kwargs(name)
    render_test(lambda render_mode=None: mod.env(render_mode=render_mode, **kw))
    env = mod.parallel_env(render_mode="rgb_array", **kw)
    env.reset(seed=0)
    frame = env.render()
    assert frame.ndim == 3 and frame.shape[2] == 3
    assert frame.std() > 0, "rgb_array frame is blank"
    env.close()


@pytest.mark.parametrize("name", NAMES)
def test_spaces_cached(name):
    env = load_env_module(name).parallel_env(**_kwargs(name))
    for agent in env.possible_agents:
        assert env.observation_space(agent) is env.observation_space(agent)
        assert env.action_space(agent) is env.action_space(agent)


@pytest.mark.parametrize("name", NAMES)
def test_unknown_kwarg_is_an_error(name):
    with pytest.raises(TypeError):
        load_env_module(name).parallel_env(no_such_argument=1, **_kwargs(name))


def _rollout(env, seed, steps=20):
    obs, _ = env.reset(seed=seed)
    trace = [obs]
    for agent in env.possible_agents:
        env.action_space(agent).seed(seed)
    for _ in range(steps):
        if not env.agents:
            break
        actions = {a: env.action_space(a).sample() for a in env.agents}
        obs, rew, term, trunc, _ = env.step(actions)
        trace.append((obs, rew, term, trunc))
    return trace


def _assert_same(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, tuple | list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_same(x, y)
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_rollout_and_pickle(name):
    mod = load_env_module(name)
    kw = _kwargs(name)
    env = mod.parallel_env(**kw)
    clone = pickle.loads(pickle.dumps(env))
    _assert_same(_rollout(env, 3), _rollout(clone, 3))
    _assert_same(_rollout(mod.parallel_env(**kw), 3), _rollout(mod.parallel_env(**kw), 3))


@pytest.mark.parametrize("name", NAMES)
def test_step_takes_a_dict_with_one_action_per_live_agent(name):
    """PettingZoo's parallel API: step() gets a dict keyed by every agent in env.agents."""
    env = load_env_module(name).parallel_env(**_kwargs(name))
    env.reset(seed=0)
    actions = {a: env.action_space(a).sample() for a in env.agents}
    with pytest.raises(TypeError, match="actions must be a dict"):
        env.step(list(actions.values()))
    first = env.agents[0]
    with pytest.raises(ValueError, match=f"no action for live agent.*'{first}'"):
        env.step({a: v for a, v in actions.items() if a != first})
    with pytest.raises(ValueError, match="'nobody' that are not live"):
        env.step({**actions, "nobody": actions[first]})
    env.step(actions)  # the complete dict still steps after the refusals
