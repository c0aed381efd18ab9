import pickle

import gymnasium
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from hypothesis import given, settings
from hypothesis import strategies as st

import envs  # noqa: F401  (registers the Gymnasium ids)
from envs.target_tracking_v0 import TargetTrackingTeamEnv, parallel_env
from envs.tracking_vector import TargetTrackingBatchEnv, TargetTrackingVectorEnv
from protocols import tracking as tk
from protocols.dbp import blocklist
from swarm.dbp_cases import DBPConfig, TargetTracking

KW = {"n_robots": 14, "byzantine_fraction": 0.2, "arena": 40.0, "max_cycles": 9}
CASES = [
    {"defence": "dbp"},
    {"defence": "wmsr", "wmsr_f": 2},
    {"defence": "none"},
    {"defence": "dbp", "attack": "false_accusation"},
    {"defence": "dbp", "attack": "garbage", "n_neighbours": 0},
    {"defence": "none", "attack": "silent", "hop_limit": 1},
]


def _actions(rng, shape, t):
    a = rng.uniform(-1.5, 1.5, shape)
    if t % 4 == 0:
        a.reshape(-1)[::5] = np.nan  # NaN counts as 0, norms above 1 are capped
    return a.astype(np.float32)


@pytest.mark.parametrize("extra", CASES)
def test_team_vector_equals_separate_team_envs_bit_for_bit_across_autoresets(extra):
    B = 3
    vec = TargetTrackingVectorEnv(B, **KW, **extra)
    singles = [TargetTrackingTeamEnv(**KW, **extra) for _ in range(B)]
    obs_v, _ = vec.reset(seed=50)
    obs_s = [env.reset(seed=50 + i)[0] for i, env in enumerate(singles)]
    assert np.array_equal(obs_v, np.stack(obs_s))
    rng = np.random.default_rng(0)
    done = np.zeros(B, dtype=bool)
    resets = 0
    for t in range(25):
        acts = _actions(rng, vec.action_space.shape, t)
        obs_v, rew_v, term_v, trunc_v, info_v = vec.step(acts)
        for i, env in enumerate(singles):
            if done[i]:  # NEXT_STEP: the env resets, the action is ignored
                o, info = env.reset()
                r, te, tr = 0.0, False, False
                resets += 1
            else:
                o, r, te, tr, info = env.step(acts[i])
            assert np.array_equal(obs_v[i], o), (t, i)
            assert rew_v[i] == r and term_v[i] == te and trunc_v[i] == tr
            assert info_v["tracking_error"][i] == info["tracking_error"]
            assert info_v["byzantine_blocked"][i] == info["byzantine_blocked"]
            done[i] = te or tr
    assert resets == 2 * B


@pytest.mark.parametrize("extra", CASES[:4])
def test_per_agent_batch_equals_separate_parallel_envs_bit_for_bit(extra):
    B = 3
    batch = TargetTrackingBatchEnv(B, **KW, **extra)
    singles = [parallel_env(**KW, **extra) for _ in range(B)]
    obs_b, _ = batch.reset(seed=[7, 8, 9])
    for i, env in enumerate(singles):
        obs, _ = env.reset(seed=7 + i)
        assert np.array_equal(obs_b[i], np.stack([obs[a] for a in env.possible_agents]))
    rng = np.random.default_rng(1)
    done = np.zeros(B, dtype=bool)
    for t in range(22):
        acts = _actions(rng, (B, batch.n_agents, 2), t)
        obs_b, rew_b, term_b, trunc_b, _ = batch.step(acts)
        assert obs_b.shape == (B, batch.n_agents, batch.obs_dim)
        for i, env in enumerate(singles):
            if done[i]:
                obs, _ = env.reset()
                rew = dict.fromkeys(env.agents, 0.0)
                trunc = dict.fromkeys(env.agents, False)
            else:
                obs, rew, _, trunc, _ = env.step(
                    {a: acts[i, j] for j, a in enumerate(env.possible_agents)}
                )
            agents = env.possible_agents
            assert np.array_equal(obs_b[i], np.stack([obs[a] for a in agents])), (t, i)
            assert np.array_equal(rew_b[i], [rew[a] for a in agents])
            assert np.array_equal(trunc_b[i], [trunc[a] for a in agents])
            assert not term_b[i].any()
            done[i] = trunc_b[i, 0]


@pytest.mark.parametrize("mode", [AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP])
def test_autoreset_modes_match_gymnasium_sync_vector_env(mode):
    B = 2
    kw = {**KW, "max_cycles": 4}
    ours = TargetTrackingVectorEnv(B, autoreset_mode=mode, **kw)
    ref = SyncVectorEnv([lambda: TargetTrackingTeamEnv(**kw)] * B, autoreset_mode=mode)
    assert ours.metadata["autoreset_mode"] is mode and ours.autoreset_mode is mode
    o1, _ = ours.reset(seed=3)
    o2, _ = ref.reset(seed=3)
    assert np.array_equal(o1, o2)
    rng = np.random.default_rng(2)
    ended = 0
    for t in range(11):
        a = _actions(rng, ours.action_space.shape, t)
        r1, r2 = ours.step(a), ref.step(a)
        for x, y in zip(r1[:4], r2[:4], strict=True):
            assert np.array_equal(x, y), t
        if "_final_obs" in r2[4]:
            mask = r2[4]["_final_obs"]
            assert np.array_equal(r1[4]["_final_obs"], mask)
            for i in np.flatnonzero(mask):
                assert np.array_equal(r1[4]["final_obs"][i], r2[4]["final_obs"][i])
                assert (
                    r1[4]["final_info"]["tracking_error"][i]
                    == r2[4]["final_info"]["tracking_error"][i]
                )
            ended += int(mask.sum())
        assert np.array_equal(r1[4]["tracking_error"], r2[4]["tracking_error"])
    assert ended == (2 * B if mode is AutoresetMode.SAME_STEP else 0)


def test_disabled_mode_needs_explicit_partial_resets():
    vec = TargetTrackingVectorEnv(3, autoreset_mode="disabled", **{**KW, "max_cycles": 2})
    with pytest.raises(ValueError, match="first reset"):
        vec.reset(options={"reset_mask": np.array([True, False, True])})
    vec.reset(seed=1)
    a = np.zeros(vec.action_space.shape, dtype=np.float32)
    vec.step(a)
    obs2, _, _, trunc, _ = vec.step(a)
    assert trunc.all()
    with pytest.raises(ValueError, match="reset_mask"):
        vec.step(a)
    obs3, _ = vec.reset(seed=[None, 2, None], options={"reset_mask": [False, True, False]})
    assert np.array_equal(obs3[0], obs2[0]) and np.array_equal(obs3[2], obs2[2])
    fresh = TargetTrackingTeamEnv(**{**KW, "max_cycles": 2}).reset(seed=2)[0]
    assert np.array_equal(obs3[1], fresh)


def test_make_vec_uses_the_batched_entry_point():
    vec = gymnasium.make_vec(
        "swarmgym/TargetTrackingTeam-v0", num_envs=4, vectorization_mode="vector_entry_point", **KW
    )
    assert isinstance(vec.unwrapped, TargetTrackingVectorEnv) and vec.num_envs == 4
    obs, _ = vec.reset(seed=0)
    assert vec.observation_space.contains(obs)
    assert vec.single_action_space.shape == (2 * 11,)


def test_initial_swarm_is_drawn_as_the_dbp_case_draws_it():
    # swarm.dbp_cases.TargetTracking is the reference: same generator, same initial world.
    world = TargetTrackingBatchEnv(1, **KW).world
    world.reset_one(0, np.random.default_rng(5))
    cfg = DBPConfig(n_robots=14, byzantine_fraction=0.2, arena=40.0)
    case = TargetTracking(cfg, np.random.default_rng(5))
    s = world.state
    assert np.array_equal(s.pos[0], case.swarm.positions)
    assert np.array_equal(s.waypoint[0], case.swarm.waypoints)
    assert np.array_equal(s.byzantine[0], case.byzantine)
    assert np.array_equal(s.target[0], [case.target.pos, case.target.goal])
    assert np.array_equal(s.decoy[0], [case.decoy.pos, case.decoy.goal])


@pytest.mark.parametrize("attack", ["fake", "false_accusation", "garbage"])
def test_accusations_are_sound_and_the_blocklist_is_the_matching_one(attack):
    batch = TargetTrackingBatchEnv(
        6, n_robots=40, byzantine_fraction=0.2, arena=60.0, attack=attack, max_cycles=60
    )
    batch.reset(seed=11)
    for _ in range(59):
        batch.step(np.zeros((6, batch.n_agents, 2)))
    s = batch.world.state
    for b in range(6):
        acc = s.acc[b, : s.acc_count[b]]
        byz = s.byzantine[b]
        # Cooperative robots accuse only Byzantine ones; Byzantine ones only lie about
        # cooperative ones.
        assert np.all(byz[acc[:, 0]] != byz[acc[:, 1]])
        assert np.all(byz[acc[:, 1]] | byz[acc[:, 0]])
        done = acc[acc[:, 2] == tk.ACC_DONE, :2]
        assert np.array_equal(s.blocked[b], blocklist(done, 40))
        assert s.acc_live[b] == np.count_nonzero(acc[:, 2] == tk.ACC_FLOODING)
    # DBP finds the liars: every Byzantine robot of most swarms is blocked.
    assert (s.blocked & s.byzantine).sum(axis=1).tolist().count(8) >= 4


def test_dbp_beats_no_defence_in_every_batched_swarm():
    errs = {}
    for defence in ("dbp", "none"):
        batch = TargetTrackingBatchEnv(8, n_robots=30, arena=60.0, defence=defence, max_cycles=80)
        batch.reset(seed=3)
        tail = []
        for t in range(80):
            _, _, _, _, info = batch.step(np.zeros((8, batch.n_agents, 2)))
            if t >= 60:
                tail.append(info["tracking_error"])
        errs[defence] = np.mean(tail, axis=0)
    assert np.mean(errs["dbp"]) < 0.5 * np.mean(errs["none"])


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    scale=st.sampled_from([0.0, 1.0, 1e6]),
    defence=st.sampled_from(["dbp", "wmsr", "none"]),
)
def test_robots_stay_in_the_arena_below_max_speed(seed, scale, defence):
    batch = TargetTrackingBatchEnv(
        2, n_robots=12, arena=30.0, max_speed=1.5, defence=defence, max_cycles=10
    )
    batch.reset(seed=seed)
    rng = np.random.default_rng(seed)
    s = batch.world.state
    for _ in range(9):
        before = s.pos.copy()
        obs, *_ = batch.step(rng.standard_normal((2, batch.n_agents, 2)) * scale)
        step = np.hypot(*(s.pos - before).transpose(2, 0, 1))
        assert np.all(step <= 1.5 + 1e-9)
        assert np.all((s.pos >= 0) & (s.pos <= 30.0))
        assert np.all(np.abs(obs) <= 1.0) and np.isfinite(obs).all()


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_envs must be >= 1"):
        TargetTrackingVectorEnv(0)
    with pytest.raises(ValueError, match="autoreset_mode must be one of"):
        TargetTrackingBatchEnv(2, autoreset_mode="sometimes")
    with pytest.raises(ValueError, match="defence must be one of"):
        TargetTrackingBatchEnv(2, defence="prayer")
    with pytest.raises(TypeError, match="render_mode"):
        TargetTrackingVectorEnv(2, render_mode="human")
    vec = TargetTrackingVectorEnv(2, **KW)
    vec.reset(seed=0)
    with pytest.raises(ValueError, match="actions must have shape"):
        vec.step(np.zeros((3, 22)))


def test_torchrl_gym_wrapper_rolls_out_the_vector_env():
    pytest.importorskip("torchrl")
    from torchrl.envs import GymWrapper
    from torchrl.envs.utils import check_env_specs

    vec = TargetTrackingVectorEnv(3, autoreset_mode="disabled", **{**KW, "max_cycles": 5})
    env = GymWrapper(vec)
    check_env_specs(env)
    td = env.rollout(12, break_when_any_done=False)
    assert td.batch_size == (3, 12)
    assert td["next", "truncated"].sum() >= 3 * 2


def test_validated_kernel_api_checks_arguments_and_leaves_inactive_swarms_alone():
    env = TargetTrackingBatchEnv(2, **KW)
    env.reset(seed=4)
    w = env.world
    before = [x.copy() for x in w.state]
    draws = np.random.default_rng(0).random((2, tk.n_draws(14)))
    control = np.full((2, 14, 2), np.nan)  # every robot follows its waypoint
    tk.tracking_step(w.state, w.params, control, draws, np.array([False, True]), w.out)
    for old, new in zip(before, w.state, strict=True):
        assert np.array_equal(old[0], new[0])  # swarm 0 untouched
    assert w.state.t.tolist() == [0, 1]
    assert not np.array_equal(before[1][1], w.state.pos[1])
    with pytest.raises(ValueError, match="draws must lie in"):
        tk.tracking_step(w.state, w.params, control, draws + 1.0, np.ones(2, bool), w.out)
    with pytest.raises(ValueError, match="control must be a float64 array of shape"):
        tk.tracking_step(w.state, w.params, control[:1], draws, np.ones(2, bool), w.out)


def test_a_pickled_batch_draws_from_its_own_generators_bit_for_bit():
    # The kernel draws through generator addresses: a copy must take its own.
    env = TargetTrackingBatchEnv(3, **KW)
    env.reset(seed=5)
    rng = np.random.default_rng(0)
    for t in range(3):
        env.step(_actions(rng, (3, env.n_agents, 2), t))
    clone = pickle.loads(pickle.dumps(env))
    for t in range(8):  # across the automatic resets after max_cycles = 9
        a = _actions(rng, (3, env.n_agents, 2), t)
        (obs_e, rew_e, *_), (obs_c, rew_c, *_) = env.step(a), clone.step(a)
        assert np.array_equal(obs_e, obs_c) and np.array_equal(rew_e, rew_c), t
