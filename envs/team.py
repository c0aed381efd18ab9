"""One controller for a whole team: a Gymnasium view of a PettingZoo parallel env.

Examples
--------
>>> from envs.power_control_v0 import parallel_env
>>> from envs.team import TeamEnv
>>> env = TeamEnv(parallel_env, n_users=2, n_carriers=3)   # 2 users x 6 observations
>>> obs, info = env.reset(seed=0)
>>> obs.shape, env.action_space.shape
((12,), (6,))
>>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
>>> obs.shape, isinstance(reward, float)
((12,), True)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

__all__ = ["TeamEnv"]


class TeamEnv(gymnasium.Env):
    """Concatenate the agents of a parallel env into one Gymnasium agent.

    Every agent must have a flat ``Box`` observation and action space, and the env must
    keep all its agents until the episode ends together. The observation is the agents'
    observations side by side (in ``possible_agents`` order), the action is split the
    same way, the reward is the mean of the agents' rewards, and the episode ends when
    every agent is done.

    Parameters
    ----------
    make_parallel : callable
        ``make_parallel(render_mode=..., **kwargs)`` builds the parallel env.
    render_mode : str, optional
        Passed to the parallel env.
    **kwargs
        Arguments of the parallel env.
    """

    metadata: ClassVar[dict] = {"render_modes": ["human", "rgb_array"], "render_fps": 5}

    def __init__(
        self, make_parallel: Callable[..., ParallelEnv], render_mode: str | None = None, **kwargs
    ):
        self.par = make_parallel(render_mode=render_mode, **kwargs)
        self.render_mode = render_mode
        self.agents = list(self.par.possible_agents)
        obs_spaces = [self.par.observation_space(a) for a in self.agents]
        act_spaces = [self.par.action_space(a) for a in self.agents]
        for sp in (*obs_spaces, *act_spaces):
            if not isinstance(sp, spaces.Box) or len(sp.shape) != 1:
                raise TypeError("TeamEnv needs flat Box spaces for every agent")
        self.observation_space = spaces.Box(
            np.concatenate([s.low for s in obs_spaces]),
            np.concatenate([s.high for s in obs_spaces]),
            dtype=obs_spaces[0].dtype,
        )
        self.action_space = spaces.Box(
            np.concatenate([s.low for s in act_spaces]),
            np.concatenate([s.high for s in act_spaces]),
            dtype=act_spaces[0].dtype,
        )
        self._splits = np.cumsum([s.shape[0] for s in act_spaces])[:-1]

    def _join(self, obs: dict) -> np.ndarray:
        return np.concatenate([obs[a] for a in self.agents]).astype(self.observation_space.dtype)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Reset the team; the parallel env is seeded from this env's generator."""
        super().reset(seed=seed)
        obs, infos = self.par.reset(seed=int(self.np_random.integers(2**63)), options=options)
        return self._join(obs), infos[self.agents[0]]

    def step(self, action):
        """Split ``action`` among the agents and step them together."""
        parts = np.split(np.asarray(action), self._splits)
        obs, rew, term, trunc, infos = self.par.step(dict(zip(self.agents, parts, strict=True)))
        return (
            self._join(obs),
            float(np.mean([rew[a] for a in self.agents])),
            all(term.values()),
            all(trunc.values()) and not all(term.values()),
            infos[self.agents[0]],
        )

    def render(self):
        """Render the parallel env."""
        return self.par.render()

    def close(self):
        """Close the parallel env."""
        self.par.close()
