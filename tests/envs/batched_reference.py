"""A reference for the per-agent batched envs: B PettingZoo envs stepped one by one.

It applies Gymnasium's documented autoreset rules to B separate parallel environments,
with dicts, so a batched env can be compared with it bit for bit.
"""

import numpy as np
from gymnasium.vector import AutoresetMode


def _stack(d, agents):
    return np.stack([np.asarray(d[a]) for a in agents])


def _check_infos(info_b, i, info, agents, where):
    """Batched infos (B,) or (B, n_agents) against the single env's per-agent infos."""
    for k in info[agents[0]]:
        got = np.asarray(info_b[k][i])
        want = np.array([info[a][k] for a in agents]) if got.ndim == 1 else info[agents[0]][k]
        np.testing.assert_array_equal(got, want, err_msg=f"{k} {where}")


def compare_with_singles(batched, make_single, *, seed, steps, mode, rng, nan_every=0):
    """Step ``batched`` and B singles with the same actions; assert equal results.

    Returns the number of automatic resets seen (so a test can insist on some).
    """
    B = batched.num_envs
    singles = [make_single() for _ in range(B)]
    agents = batched.possible_agents
    obs_b, info_b = batched.reset(seed=seed)
    for i, env in enumerate(singles):
        o, info = env.reset(seed=seed + i)
        np.testing.assert_array_equal(obs_b[i], _stack(o, agents))
        _check_infos(info_b, i, info, agents, (i, "reset"))
    ended = np.zeros(B, dtype=bool)
    resets = 0
    space = batched.action_space
    for t in range(steps):
        acts = rng.uniform(space.low, space.high).astype(space.dtype)
        if nan_every and t % nan_every == 0:
            acts[0, ::2] = np.nan
        if mode == AutoresetMode.DISABLED and ended.any():
            obs_b, _ = batched.reset(options={"reset_mask": ended.copy()})
            for i in np.flatnonzero(ended):
                o, _ = singles[i].reset()
                np.testing.assert_array_equal(obs_b[i], _stack(o, agents))
            resets += int(ended.sum())
            ended[:] = False
        obs_b, rew_b, term_b, trunc_b, info_b = batched.step(acts)
        for i, env in enumerate(singles):
            if mode == AutoresetMode.NEXT_STEP and ended[i]:
                o, _ = env.reset()
                resets += 1
                np.testing.assert_array_equal(obs_b[i], _stack(o, agents))
                assert not rew_b[i].any() and not term_b[i].any() and not trunc_b[i].any()
                ended[i] = False
                continue
            o, r, te, tr, info = env.step({a: acts[i, j] for j, a in enumerate(agents)})
            np.testing.assert_array_equal(rew_b[i], _stack(r, agents), err_msg=f"{t} {i}")
            np.testing.assert_array_equal(term_b[i], _stack(te, agents))
            np.testing.assert_array_equal(trunc_b[i], _stack(tr, agents))
            done = bool(term_b[i].any() or trunc_b[i].any())
            if mode == AutoresetMode.SAME_STEP and done:
                np.testing.assert_array_equal(info_b["final_obs"][i], _stack(o, agents))
                assert info_b["_final_obs"][i]
                o, _ = env.reset()
                resets += 1
            else:
                _check_infos(info_b, i, info, agents, (i, t))
            np.testing.assert_array_equal(obs_b[i], _stack(o, agents), err_msg=f"{t} {i}")
            ended[i] = done
    return resets
