import gymnasium
import numpy as np
import pytest

import envs  # noqa: F401  (registers the Gymnasium ids)
from envs.byzantine_consensus_v0 import parallel_env, protocol_policy
from swarm.attacks import make_attack
from swarm.simulate import simulate_consensus


def test_protocol_policy_reproduces_wmsr_under_the_builtin_attack():
    env = parallel_env(
        n_robots=13, n_byzantine=2, role="defender", attack="two_faced", max_cycles=40, tol=1e-12
    )
    obs, _ = env.reset(seed=4)
    w = env.world
    ref = simulate_consensus(
        (w.indptr, w.indices),
        w.values.copy(),
        w.byzantine,
        make_attack("two_faced"),
        protocol="wmsr",
        f=2,
        rounds=40,
        rng=np.random.default_rng(0),
    )
    for t in range(40):
        obs, *_ = env.step(env.defender_actions(obs))
        np.testing.assert_allclose(
            w.values[w.honest], ref.trajectories[t + 1, w.honest], rtol=1e-6, atol=1e-6 * w.width
        )
        if not env.agents:
            break


def test_attacker_cannot_break_wmsr_safety_but_breaks_lcp():
    for protocol, expect_violation in (("wmsr", False), ("lcp", True)):
        env = parallel_env(n_robots=17, n_byzantine=2, protocol=protocol, max_cycles=60)
        env.reset(seed=1)
        worst = 0.0
        while env.agents:
            # Extreme messages, all high: the strongest pull a constant attacker has.
            actions = {a: np.ones(17, dtype=np.float32) for a in env.agents}
            _, _, _, _, infos = env.step(actions)
            if infos:
                worst = max(worst, next(iter(infos.values()))["hull_violation"])
        assert (worst > 0.1) == expect_violation


def test_silent_attackers_let_the_swarm_agree_and_terminate():
    env = parallel_env(n_robots=17, n_byzantine=2, max_cycles=500)
    env.reset(seed=2)
    steps = 0
    while env.agents:
        _, _, terms, truncs, _ = env.step({a: np.full(17, np.nan) for a in env.agents})
        steps += 1
    assert all(terms.values()) and not any(truncs.values())
    assert steps < 500


def test_messages_reach_only_out_neighbours():
    env = parallel_env(n_robots=13, n_byzantine=2, max_cycles=5)
    env.reset(seed=3)
    w = env.world
    act = np.full((2, 13), 0.25)
    msgs = w.attacker_messages(act)
    assert msgs.shape == w.ctx.edge_index.shape
    for k, j in zip(w.byz_sender, w.ctx.receiver, strict=True):
        assert w.adjacency[j, 11 + k]


def test_team_env_same_seed_same_episode():
    def roll(seed):
        env = gymnasium.make(
            "swarmgym/ByzantineConsensusAttack-v0", n_robots=10, n_byzantine=1, max_cycles=15
        )
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        out = [obs]
        for _ in range(15):
            obs, r, term, trunc, _ = env.step(env.action_space.sample())
            out.append(np.append(obs, r))
            if term or trunc:
                break
        return np.concatenate(out)

    assert np.array_equal(roll(5), roll(5))
    assert not np.array_equal(roll(5), roll(6))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"role": "spy"}, "role must be one of"),
        ({"n_robots": 6, "n_byzantine": 2}, "n_robots must be >= 4 \\* n_byzantine \\+ 1 = 9"),
        ({"protocol": "vote"}, "protocol must be one of"),
        ({"attack": "polite"}, "attack must be one of"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        parallel_env(**kwargs)


def test_protocol_policy_maps_to_action_units():
    # Own value 0.2 hull units, 0 and 1 received: LCP gives 0.4, W-MSR (f=1) trims both
    # and keeps 0.2; action a means 0.5 + 2.5 a hull units (message_bound 2).
    obs = np.array([0.2, 0.0, 0.0, 1.0, 1.0, 1.0], dtype=np.float32)
    assert protocol_policy(obs, f=0)[0] == pytest.approx((0.4 - 0.5) / 2.5, rel=1e-6)
    assert protocol_policy(obs, f=1)[0] == pytest.approx((0.2 - 0.5) / 2.5, rel=1e-6)


def _play(protocol, policy, seed=0, cycles=40):
    env = parallel_env(n_robots=17, n_byzantine=2, protocol=protocol, max_cycles=cycles, tol=1e-9)
    env.reset(seed=seed)
    info = None
    while env.agents:
        _, _, _, _, infos = env.step({a: policy(a) for a in env.agents})
        info = next(iter(infos.values())) if infos else info
    return env, info


def test_dbp_blocks_two_faced_attackers_and_the_swarm_agrees():
    # Tell even-numbered robots -1 and odd ones +1 (hull units -2 and 3): equivocation.
    faces = np.where(np.arange(17) % 2 == 0, -1.0, 1.0).astype(np.float32)
    env, info = _play("dbp", lambda a: faces)
    w = env.world
    assert w.blocklist.blocked[w.byzantine].all()
    # Each block costs at most one honest accuser (matching on sound accusations).
    assert w.blocklist.blocked[w.honest].sum() <= 2
    assert info["honest_spread"] < 1e-3
    _, lcp_info = _play("lcp", lambda a: faces)
    assert lcp_info["honest_spread"] > 0.1


def test_dbp_without_observations_cannot_catch_a_consistent_liar():
    env, info = _play("dbp", lambda a: np.ones(17, dtype=np.float32), cycles=60)
    assert not env.world.blocklist.blocked.any()
    assert info["hull_violation"] > 0.5  # dragged like LCP


def test_batched_mode_refuses_dbp():
    from envs.vector import ByzantineConsensusVectorEnv

    with pytest.raises(ValueError, match="batched mode runs protocol"):
        ByzantineConsensusVectorEnv(2, protocol="dbp")


def test_dbp_accusations_match_a_brute_force_of_the_relay_rule():
    from protocols.dbp import blocklist

    rng = np.random.default_rng(7)
    for seed in range(5):
        env = parallel_env(n_robots=17, n_byzantine=2, protocol="dbp")
        env.reset(seed=seed)
        w = env.world
        acts = rng.choice([-1.0, 0.0, 1.0, np.nan], size=(2, 17))
        msgs = w.gather(w.attacker_messages(acts))
        told = {}  # (byzantine k, receiver j) -> value
        for e, (k, j) in enumerate(zip(w.ctx.sender, w.ctx.receiver, strict=True)):
            v = msgs[w.ctx.edge_index[e]]
            if np.isfinite(v):
                told[(int(k), int(j))] = float(v)
        accusations = []
        for h in np.flatnonzero(w.honest):
            nbrs = [int(j) for j in w.indices[w.indptr[h] : w.indptr[h + 1]] if w.honest[j]]
            for k in np.flatnonzero(w.byzantine):
                held = {told[(k, j)] for j in [int(h), *nbrs] if (k, j) in told}
                if len(held) > 1:
                    accusations.append((int(h), int(k)))
        w.dbp_filter(msgs.copy())
        want = blocklist(np.array(accusations, dtype=np.int64).reshape(-1, 2), 17)
        np.testing.assert_array_equal(w.blocklist.blocked, want)
