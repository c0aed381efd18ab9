"""Batched envs against their references: Gymnasium's SyncVectorEnv and B single envs."""

import gymnasium
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import envs  # noqa: F401  (registers the ids)
from envs.batched import autoreset_mode_from
from envs.byzantine_consensus_v0 import parallel_env as consensus_parallel
from envs.consensus_batched import ConsensusDefenderBatchedEnv
from tests.envs.batched_reference import compare_with_singles

MODES = list(AutoresetMode)
ATTACK_ID = "swarmgym/ByzantineConsensusAttack-v0"
ATTACK_KW = {"n_robots": 10, "n_byzantine": 1, "max_cycles": 9}


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.name)
def test_vector_entry_point_matches_gymnasium_sync_vector_env_in_every_mode(mode):
    """Gymnasium's own SyncVectorEnv over single envs (with its TimeLimit) is the reference."""
    B = 3
    kw = dict(ATTACK_KW, max_episode_steps=7)
    ours = gymnasium.make_vec(
        ATTACK_ID, num_envs=B, vectorization_mode="vector_entry_point", autoreset_mode=mode, **kw
    )
    ref = gymnasium.make_vec(
        ATTACK_ID,
        num_envs=B,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": mode},
        **kw,
    )
    assert ours.metadata["autoreset_mode"] == ours.autoreset_mode == mode
    o1, _ = ours.reset(seed=5)
    o2, _ = ref.reset(seed=5)
    np.testing.assert_array_equal(o1, o2)
    rng = np.random.default_rng(1)
    ended = np.zeros(B, dtype=bool)
    n_ends = 0
    for t in range(30):
        if mode == AutoresetMode.DISABLED and ended.any():
            o1, _ = ours.reset(options={"reset_mask": ended.copy()})
            o2, _ = ref.reset(options={"reset_mask": ended.copy()})
            np.testing.assert_array_equal(o1, o2)
        a = rng.uniform(-1, 1, ours.action_space.shape).astype(np.float32)
        o1, r1, te1, tr1, i1 = ours.step(a)
        o2, r2, te2, tr2, i2 = ref.step(a)
        np.testing.assert_array_equal(o1, o2, err_msg=str(t))
        np.testing.assert_array_equal(r1, r2)
        np.testing.assert_array_equal(te1, te2)
        np.testing.assert_array_equal(tr1, tr2)
        ended = te1 | tr1
        n_ends += int(ended.sum())
        if mode == AutoresetMode.SAME_STEP:
            np.testing.assert_array_equal(
                i1.get("_final_obs", np.zeros(B, bool)), i2.get("_final_obs", np.zeros(B, bool))
            )
            for i in np.flatnonzero(ended):
                np.testing.assert_array_equal(i1["final_obs"][i], i2["final_obs"][i])
    assert n_ends >= 2 * B  # the time limit (7 steps) ended every episode several times


def test_disabled_mode_refuses_to_step_an_ended_sub_env():
    vec = gymnasium.make_vec(ATTACK_ID, num_envs=2, autoreset_mode="DISABLED", **ATTACK_KW)
    vec.reset(seed=0)
    a = np.zeros(vec.action_space.shape, dtype=np.float32)
    for _ in range(ATTACK_KW["max_cycles"]):
        _, _, term, trunc, _ = vec.step(a)
    assert (term | trunc).all()
    with pytest.raises(RuntimeError, match="reset_mask"):
        vec.step(a)
    vec.reset(options={"reset_mask": np.array([True, True])})
    vec.step(a)


def test_autoreset_mode_names_and_errors():
    assert autoreset_mode_from("SAME_STEP") is AutoresetMode.SAME_STEP
    assert autoreset_mode_from("NextStep") is AutoresetMode.NEXT_STEP
    assert autoreset_mode_from("disabled") is AutoresetMode.DISABLED
    with pytest.raises(ValueError, match="autoreset_mode must be one of"):
        autoreset_mode_from("sometimes")
    vec = gymnasium.make_vec(ATTACK_ID, num_envs=2, **ATTACK_KW)
    with pytest.raises(RuntimeError, match="before reset"):
        vec.step(np.zeros(vec.action_space.shape))
    vec.reset(seed=0)
    with pytest.raises(ValueError, match="reset_mask"):
        vec.reset(options={"reset_mask": np.array([1, 0])})


def test_registrations_carry_max_episode_steps_and_vector_entry_points():
    from envs.registry import GYMNASIUM_ENVS, VECTOR_ENTRY_POINTS

    for env_id in GYMNASIUM_ENVS:
        spec = gymnasium.spec(env_id)
        assert spec.max_episode_steps is not None and spec.max_episode_steps >= 1
    for env_id in VECTOR_ENTRY_POINTS:
        vec = gymnasium.make_vec(env_id, num_envs=2)
        assert vec.num_envs == 2 and "autoreset_mode" in vec.metadata
        assert type(vec).__name__ != "SyncVectorEnv"


DEFENDER_KW = {"n_robots": 9, "n_byzantine": 2, "max_cycles": 8}


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.name)
@pytest.mark.parametrize("attack", ["two_faced", "noise", "non_finite"])
def test_defender_batched_equals_single_envs_bit_for_bit(mode, attack):
    kw = dict(DEFENDER_KW, attack=attack)
    batched = ConsensusDefenderBatchedEnv(3, autoreset_mode=mode, **kw)
    assert batched.observation_space.shape == (3, 7, 2 * 9 + 2)
    resets = compare_with_singles(
        batched,
        lambda: consensus_parallel(role="defender", **kw),
        seed=20,
        steps=20,
        mode=mode,
        rng=np.random.default_rng(3),
        nan_every=4,
    )
    assert resets >= 3


def test_defender_batched_refuses_bad_arguments():
    with pytest.raises(TypeError, match="role"):
        ConsensusDefenderBatchedEnv(2, role="attacker")
    with pytest.raises(TypeError):
        ConsensusDefenderBatchedEnv(2, no_such_argument=1)
    env = ConsensusDefenderBatchedEnv(2, **DEFENDER_KW)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"\(num_envs, n_agents, act_dim\)"):
        env.step(np.zeros((2, 7)))


POWER_KW = {"n_users": 3, "n_carriers": 5, "max_cycles": 6}


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.name)
def test_power_control_batched_equals_single_envs_bit_for_bit(mode):
    from envs.power_control_v0 import PowerControlBatchedEnv, parallel_env

    batched = PowerControlBatchedEnv(3, autoreset_mode=mode, nash_info=True, **POWER_KW)
    assert batched.observation_space.shape == (3, 3, 10)
    resets = compare_with_singles(
        batched,
        lambda: parallel_env(**POWER_KW),
        seed=7,
        steps=16,
        mode=mode,
        rng=np.random.default_rng(5),
        nan_every=3,
    )
    assert resets >= 3


def test_power_control_batched_iwf_reaches_the_equilibrium_of_each_game():
    """Water-filling on the batched observations is simultaneous IWF in every game."""
    from envs.power_control_v0 import PowerControlBatchedEnv, iwf_policy

    env = PowerControlBatchedEnv(4, n_users=3, n_carriers=8, max_cycles=200, nash_info=True)
    obs, _ = env.reset(seed=0)
    for _ in range(60):
        acts = np.empty(env.action_space.shape)
        for b in range(4):
            for q in range(3):
                acts[b, q] = iwf_policy(obs[b, q], env.games[b].budget[q])
        obs, _, _, _, infos = env.step(acts)
    certified = [b for b, game in enumerate(env.games) if game.spectral_radius() < 1]
    assert len(certified) >= 2
    for b in certified:  # certified: a unique equilibrium, reached by every schedule
        eq = env.games[b].solve("sequential", tol=1e-12).power
        np.testing.assert_allclose(env.state.power[b], eq, atol=1e-6)
        assert infos["nash_gap"][b] < 1e-6


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.name)
@pytest.mark.parametrize(
    "kw",
    [
        {"max_cycles": 5},
        {"game": "random", "n_players": 3, "block_size": 2, "max_cycles": 4, "bound": 3.0},
    ],
    ids=["toy", "random"],
)
def test_differentiable_game_batched_equals_single_envs_bit_for_bit(mode, kw):
    from envs.differentiable_game_v0 import DifferentiableGameBatchedEnv, parallel_env

    batched = DifferentiableGameBatchedEnv(3, autoreset_mode=mode, **kw)
    single = parallel_env(**kw)
    assert batched.action_space.shape == (
        3,
        len(single.possible_agents),
        single.action_space("player_0").shape[0],
    )
    resets = compare_with_singles(
        batched,
        lambda: parallel_env(**kw),
        seed=11,
        steps=14,
        mode=mode,
        rng=np.random.default_rng(2),
        nan_every=3,
    )
    assert resets >= 3


def test_differentiable_game_batched_rewards_are_minus_costs():
    from envs.differentiable_game_v0 import DifferentiableGameBatchedEnv

    env = DifferentiableGameBatchedEnv(2, max_cycles=5)
    env.reset(seed=0)
    _, rew, *_ = env.step(np.array([[[2.0], [3.0]], [[1.0], [-1.0]]]))
    # toy game, mu = 1, l12 = 10, l21 = 0.05: f1 = x1^2/2 + 10 x1 x2, f2 = x2^2/2 + .05 x1 x2
    np.testing.assert_allclose(rew, [[-(2 + 60), -(4.5 + 0.3)], [-(0.5 - 10), -(0.5 - 0.05)]])


def _batched_classes():
    from envs.differentiable_game_v0 import DifferentiableGameBatchedEnv
    from envs.power_control_v0 import PowerControlBatchedEnv
    from envs.vector import ByzantineConsensusVectorEnv

    return [
        ByzantineConsensusVectorEnv,
        ConsensusDefenderBatchedEnv,
        PowerControlBatchedEnv,
        DifferentiableGameBatchedEnv,
    ]


@pytest.mark.parametrize("cls", _batched_classes(), ids=lambda c: c.__name__)
def test_unknown_keyword_arguments_are_an_error(cls):
    with pytest.raises(TypeError, match="no_such_argument"):
        cls(2, no_such_argument=1)


@pytest.mark.parametrize(
    "env_id", ["swarmgym/ByzantineConsensusAttack-v0", "swarmgym/TargetTrackingTeam-v0"]
)
def test_gymnasium_ids_refuse_unknown_keyword_arguments(env_id):
    with pytest.raises(TypeError, match="no_such_argument"):
        gymnasium.make(env_id, no_such_argument=1)
