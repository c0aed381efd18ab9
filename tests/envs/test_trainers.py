"""The trainers' own wrappers on the batched envs, and ids usable from worker processes."""

import gymnasium
import numpy as np
import pytest

from envs.registry import VECTOR_ENTRY_POINTS

ATTACK = "swarmgym/ByzantineConsensusAttack-v0"
KW = {"n_robots": 10, "n_byzantine": 1, "max_cycles": 5, "tol": 1e-300}


@pytest.mark.parametrize("mode", ["SAME_STEP", "DISABLED"])
def test_torchrl_gym_wrapper_on_the_consensus_vector_env(mode):
    """TorchRL accepts SAME_STEP and DISABLED; its rollout must see the true last frames."""
    pytest.importorskip("torchrl")
    from torchrl.envs import GymWrapper
    from torchrl.envs.utils import check_env_specs

    from envs.vector import ByzantineConsensusVectorEnv

    env = GymWrapper(ByzantineConsensusVectorEnv(3, autoreset_mode=mode, **KW))
    env.set_seed(0)
    check_env_specs(env)
    td = env.rollout(12, break_when_any_done=False)
    assert td.batch_size == (3, 12)
    done = td["next", "done"][..., 0].numpy()
    # tol = 1e-300: only truncation, after 5 rounds of each episode (steps 5 and 10).
    assert done.sum(axis=1).tolist() == [2, 2, 2]
    assert done[:, 4].all() and done[:, 9].all()
    frac = td["next", "observation"][..., -1].numpy()  # elapsed fraction of max_cycles
    np.testing.assert_array_equal(frac[:, 4], 1.0)  # the episode's real last frame
    np.testing.assert_array_equal(td["observation"][:, 5, -1].numpy(), 0.0)  # then a reset


def _gym_test_kwargs(env_id):
    import importlib

    from envs.registry import GYMNASIUM_ENVS

    module = importlib.import_module(GYMNASIUM_ENVS[env_id].split(":")[0])
    return dict(getattr(module, "GYM_TEST_KWARGS", {}).get(env_id, {}))


@pytest.mark.parametrize("env_id", sorted(VECTOR_ENTRY_POINTS))
@pytest.mark.parametrize("mode", ["SAME_STEP", "DISABLED"])
def test_torchrl_gym_wrapper_on_every_registered_vector_env(env_id, mode):
    pytest.importorskip("torchrl")
    from torchrl.envs import GymWrapper
    from torchrl.envs.utils import check_env_specs

    vec = gymnasium.make_vec(
        env_id,
        num_envs=2,
        vectorization_mode="vector_entry_point",
        autoreset_mode=mode,
        **_gym_test_kwargs(env_id),
    )
    env = GymWrapper(vec)
    env.set_seed(1)
    check_env_specs(env)
    td = env.rollout(4, break_when_any_done=False)
    assert td.batch_size == (2, 4)
    assert td["next", "reward"].isfinite().all()


@pytest.mark.slow
def test_envs_prefixed_id_works_in_gymnasium_async_workers():
    """Spawned workers know nothing of this process: the ``envs:`` prefix registers the ids."""
    vec = gymnasium.make_vec(
        f"envs:{ATTACK}",
        num_envs=2,
        vectorization_mode="async",
        vector_kwargs={"context": "spawn"},
        **KW,
    )
    try:
        obs, _ = vec.reset(seed=3)
        from envs.byzantine_consensus_v0 import ByzantineConsensusTeamEnv

        ref = gymnasium.wrappers.TimeLimit(ByzantineConsensusTeamEnv(**KW), 100)
        np.testing.assert_array_equal(obs[1], ref.reset(seed=4)[0])
    finally:
        vec.close()


@pytest.mark.slow
def test_envs_prefixed_id_works_in_sb3_subproc_vec_env():
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import SubprocVecEnv

    vec = make_vec_env(
        f"envs:{ATTACK}",
        n_envs=2,
        seed=5,
        env_kwargs=KW,
        vec_env_cls=SubprocVecEnv,
        vec_env_kwargs={"start_method": "spawn"},
    )
    try:
        obs = vec.reset()
        assert obs.shape == (2, 2 * 10 + 1)  # (F + 1) n + 1
        for t in range(1, 6):
            obs, _, done, infos = vec.step(np.zeros((2, 10), dtype=np.float32))
            assert done.tolist() == [t == 5] * 2  # max_cycles = 5, tol = 1e-300
        # SB3 reset each worker itself and kept the true last frame (elapsed fraction 1).
        assert all(i["TimeLimit.truncated"] for i in infos)
        assert [i["terminal_observation"][-1] for i in infos] == [1.0, 1.0]
        assert obs[:, -1].tolist() == [0.0, 0.0]
    finally:
        vec.close()


@pytest.mark.parametrize(
    "env_id", ["swarmgym/ByzantineConsensusAttack-v0", "swarmgym/TargetTrackingTeam-v0"]
)
def test_sb3_env_checker_on_every_numeric_gymnasium_id(env_id):
    """SB3's own checker (MultihopQA-v0 has text spaces, which SB3 does not take)."""
    pytest.importorskip("stable_baselines3")
    import warnings

    from stable_baselines3.common.env_checker import check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # SB3 warns about anything non-conformant
        check_env(gymnasium.make(env_id, **_gym_test_kwargs(env_id)).unwrapped)


def test_sb3_vec_env_checks_on_the_batched_consensus_env():
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.vec_env import VecCheckNan

    from envs.sb3 import SB3ConsensusVecEnv

    vec = VecCheckNan(SB3ConsensusVecEnv(3, **KW), raise_exception=True)
    vec.seed(4)
    obs = vec.reset()
    assert obs.shape == (3, 21)
    for t in range(1, 7):
        obs, _, done, _ = vec.step(np.zeros((3, 10), dtype=np.float32))
        assert done.tolist() == [t == 5] * 3
    np.testing.assert_array_equal(obs[:, -1], np.float32(1 / 5))  # reset at 5, one round since
