"""envs.batched's autoreset machine against Gymnasium's SyncVectorEnv, on a tiny env.

A countdown env (episode length drawn per reset, observation = steps left, reward =
action) is written once as a Gymnasium Env and once as a BatchedVectorEnv; for any number
of sub-envs, seeds, time limit and autoreset mode, both vector forms must agree exactly.
"""

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.wrappers import TimeLimit
from hypothesis import given, settings
from hypothesis import strategies as st

from envs.batched import BatchedVectorEnv

OBS = spaces.Box(0.0, 10.0, (1,), np.float64)
ACT = spaces.Box(-1.0, 1.0, (1,), np.float64)


class Countdown(gymnasium.Env):
    observation_space, action_space = OBS, ACT

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.left = int(self.np_random.integers(1, 6))
        return np.array([float(self.left)]), {"left": self.left}

    def step(self, action):
        self.left -= 1
        obs = np.array([float(self.left)])
        return obs, float(action[0]), self.left == 0, False, {"left": self.left}


class BatchedCountdown(BatchedVectorEnv):
    def __init__(self, num_envs, autoreset_mode, max_episode_steps=None):
        self._init_batch(num_envs, autoreset_mode, max_episode_steps)
        self._init_spaces(OBS, ACT)
        self.envs = [Countdown() for _ in range(num_envs)]
        self.left = np.zeros(num_envs, dtype=np.int64)

    def _reset_envs(self, indices, seeds):
        for b, seed in zip(indices, seeds, strict=True):
            self.left[b] = self.envs[b].reset(seed=seed)[1]["left"]

    def _observe(self):
        return self.left[:, None].astype(float), {
            "left": self.left.copy(),
            "_left": np.ones(self.num_envs, bool),
        }

    def _advance(self, actions, active):
        self.left[active] -= 1
        obs, infos = self._observe()
        return obs, actions[:, 0].copy(), self.left == 0, np.zeros(self.num_envs, bool), infos


@settings(max_examples=40, deadline=None)
@given(
    B=st.integers(1, 4),
    seed=st.integers(0, 2**31),
    mode=st.sampled_from(list(AutoresetMode)),
    limit=st.one_of(st.none(), st.integers(1, 6)),
    steps=st.integers(1, 25),
)
def test_batched_core_matches_sync_vector_env(B, seed, mode, limit, steps):
    def make():
        return Countdown() if limit is None else TimeLimit(Countdown(), limit)

    ref = SyncVectorEnv([make] * B, autoreset_mode=mode)
    ours = BatchedCountdown(B, mode, limit)
    o1, _ = ours.reset(seed=seed)
    o2, _ = ref.reset(seed=seed)
    np.testing.assert_array_equal(o1, o2)
    rng = np.random.default_rng(seed)
    ended = np.zeros(B, bool)
    for _ in range(steps):
        if mode == AutoresetMode.DISABLED and ended.any():
            np.testing.assert_array_equal(
                ours.reset(options={"reset_mask": ended.copy()})[0],
                ref.reset(options={"reset_mask": ended.copy()})[0],
            )
        a = rng.uniform(-1, 1, (B, 1))
        r1, r2 = ours.step(a), ref.step(a)
        for x, y in zip(r1[:4], r2[:4], strict=True):
            np.testing.assert_array_equal(x, y)
        ended = r1[2] | r1[3]
        if mode == AutoresetMode.SAME_STEP:
            mask = r2[4].get("_final_obs", np.zeros(B, bool))
            np.testing.assert_array_equal(r1[4].get("_final_obs", np.zeros(B, bool)), mask)
            for i in np.flatnonzero(mask):
                np.testing.assert_array_equal(r1[4]["final_obs"][i], r2[4]["final_obs"][i])
                assert r1[4]["final_info"]["left"][i] == r2[4]["final_info"]["left"][i]
