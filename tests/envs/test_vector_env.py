import numpy as np
import pytest

from envs.byzantine_consensus_v0 import ByzantineConsensusTeamEnv
from envs.vector import ByzantineConsensusVectorEnv

KW = {"n_robots": 13, "n_byzantine": 2, "max_cycles": 12}


def _actions(rng, B, dim, t):
    a = rng.uniform(-1, 1, (B, dim)).astype(np.float32)
    if t % 5 == 0:
        a[0, ::3] = np.nan  # silence on some edges
    return a


@pytest.mark.parametrize(
    "extra",
    [
        {"protocol": "wmsr"},
        {"protocol": "lcp"},
        {"protocol": "wmsr", "f": 1},
        {"protocol": "wmsr", "f": 3},
    ],
)
def test_batch_equals_separate_envs_bit_for_bit_across_autoresets(extra):
    # f <= 2 runs the one-pass kernel, f = 3 the exact one.
    B = 4
    vec = ByzantineConsensusVectorEnv(B, **extra, **KW)
    singles = [ByzantineConsensusTeamEnv(**extra, **KW) for _ in range(B)]
    obs_v, _ = vec.reset(seed=100)
    obs_s = [env.reset(seed=100 + i)[0] for i, env in enumerate(singles)]
    assert np.array_equal(obs_v, np.stack(obs_s))
    rng = np.random.default_rng(0)
    done = np.zeros(B, dtype=bool)
    n_resets = 0
    for t in range(40):
        acts = _actions(rng, B, vec.single_action_space.shape[0], t)
        obs_v, rew_v, term_v, trunc_v, _ = vec.step(acts)
        for i, env in enumerate(singles):
            if done[i]:  # NEXT_STEP autoreset: the env resets, the action is ignored
                o, _ = env.reset()
                r, te, tr = 0.0, False, False
                n_resets += 1
            else:
                o, r, te, tr, _ = env.step(acts[i])
            assert np.array_equal(obs_v[i], o), (t, i)
            assert rew_v[i] == r and term_v[i] == te and trunc_v[i] == tr
            done[i] = te or tr
    assert n_resets >= B  # every sub-env went through at least one autoreset


def test_partial_reset_by_mask_leaves_others_alone():
    vec = ByzantineConsensusVectorEnv(3, **KW)
    vec.reset(seed=1)
    acts = np.zeros((3, vec.single_action_space.shape[0]), dtype=np.float32)
    obs1, *_ = vec.step(acts)
    obs2, _ = vec.reset(seed=[None, 7, None], options={"reset_mask": [False, True, False]})
    assert np.array_equal(obs2[0], obs1[0]) and np.array_equal(obs2[2], obs1[2])
    fresh = ByzantineConsensusTeamEnv(**KW).reset(seed=7)[0]
    assert np.array_equal(obs2[1], fresh)


def test_spaces_have_a_leading_batch_axis():
    vec = ByzantineConsensusVectorEnv(5, **KW)
    obs, _ = vec.reset(seed=0)
    assert obs.shape == (5, *vec.single_observation_space.shape)
    assert vec.observation_space.contains(obs)
    assert vec.action_space.shape == (5, *vec.single_action_space.shape)
    assert vec.metadata["autoreset_mode"].name == "NEXT_STEP"


def test_bad_arguments():
    with pytest.raises(TypeError, match="role"):
        ByzantineConsensusVectorEnv(2, role="defender")
    with pytest.raises(ValueError, match="num_envs must be >= 1"):
        ByzantineConsensusVectorEnv(0)
    vec = ByzantineConsensusVectorEnv(2, **KW)
    vec.reset(seed=0)
    with pytest.raises(ValueError, match="actions must have shape"):
        vec.step(np.zeros((3, 5)))
