"""Stable-Baselines3 on the batched consensus environment (needs the ``rl`` extra).

:class:`SB3ConsensusVecEnv` presents :class:`envs.vector.ByzantineConsensusVectorEnv`
as an SB3 ``VecEnv``: one Numba call steps every swarm, SB3's ``seed=`` reaches every
sub-environment (``seed + i``), and finished swarms are reset at once with their last
observation in ``info["terminal_observation"]``, as SB3 expects. This avoids wrapping
the PettingZoo env with SuperSuit's concatenated vector env, whose seeding SB3's
``seed=`` does not reach.

:func:`train_attacker` and :func:`evaluate_attacker` are the pieces of
``examples/train_ppo_attacker.py``.

Examples
--------
>>> import numpy as np
>>> from envs.sb3 import SB3ConsensusVecEnv, evaluate_attacker
>>> venv = SB3ConsensusVecEnv(2, n_robots=10, n_byzantine=1)
>>> venv.seed(0)                                        # sub-environment i gets 0 + i
[0, 1]
>>> obs = venv.reset()
>>> obs.shape, venv.action_space.shape                   # (num_envs, obs_dim), (act_dim,)
((2, 21), (10,))
>>> stats = evaluate_attacker(lambda o: np.zeros((len(o), 10)), protocol="wmsr",
...                           episodes=2, n_robots=10, n_byzantine=1)
>>> stats.hull_violation                                  # W-MSR keeps honest robots in the hull
0.0
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from envs.vector import ByzantineConsensusVectorEnv

try:
    from stable_baselines3.common.vec_env.base_vec_env import VecEnv
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("envs.sb3 needs Stable-Baselines3: pip install 'swarmgym[rl]'") from exc

__all__ = ["AttackStats", "SB3ConsensusVecEnv", "evaluate_attacker", "train_attacker"]


class SB3ConsensusVecEnv(VecEnv):
    """SB3 view of B swarms stepped together.

    Parameters
    ----------
    num_envs : int
        Number of swarms.
    **kwargs
        Arguments of :class:`envs.vector.ByzantineConsensusVectorEnv`.
    """

    render_mode = None

    def __init__(self, num_envs: int, **kwargs):
        if "autoreset_mode" in kwargs:
            raise TypeError(
                "SB3ConsensusVecEnv takes no 'autoreset_mode': it resets finished "
                "swarms itself, as SB3 expects"
            )
        self.venv = ByzantineConsensusVectorEnv(num_envs, autoreset_mode="DISABLED", **kwargs)
        super().__init__(
            num_envs, self.venv.single_observation_space, self.venv.single_action_space
        )
        self._actions: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        """Reset every swarm with the seeds SB3 set (then forget them, as SB3 does)."""
        seeds = list(self._seeds)
        obs, _ = self.venv.reset(seed=seeds)
        self._reset_seeds()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        """Store the actions for :meth:`step_wait`."""
        self._actions = np.asarray(actions)

    def step_wait(self):
        """Step every swarm; reset finished ones at once (SB3 semantics)."""
        obs, rewards, terminated, truncated, infos = self.venv.step(self._actions)
        done = terminated | truncated
        info_list = [
            {
                "honest_spread": float(infos["honest_spread"][i]),
                "hull_violation": float(infos["hull_violation"][i]),
            }
            for i in range(self.num_envs)
        ]
        if done.any():
            for i in np.flatnonzero(done):
                info_list[i]["terminal_observation"] = obs[i].copy()
                info_list[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            obs, _ = self.venv.reset(options={"reset_mask": done})
        return obs, rewards.astype(np.float32), done, info_list

    def close(self) -> None:
        """Nothing to release."""

    def get_attr(self, attr_name, indices=None):
        """Attributes of the batched env, repeated per sub-environment."""
        return [getattr(self.venv, attr_name)] * len(list(self._get_indices(indices)))

    def set_attr(self, attr_name, value, indices=None):
        """Set an attribute on the batched env."""
        setattr(self.venv, attr_name, value)

    def env_method(self, method_name, *method_args, indices=None, **method_kwargs):
        """Call a method of the batched env once per requested sub-environment."""
        fn = getattr(self.venv, method_name)
        return [fn(*method_args, **method_kwargs) for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class, indices=None):
        """No sub-environment is wrapped."""
        return [False] * len(list(self._get_indices(indices)))


@dataclass
class AttackStats:
    """What an attacker achieved over evaluation episodes (hull units).

    Attributes
    ----------
    displacement : float
        Mean over episodes of how far the final honest mean moved from the mean of the
        honest initial values.
    hull_violation : float
        Largest excursion of any honest value outside the honest initial hull.
    final_spread : float
        Mean final honest spread.
    """

    displacement: float
    hull_violation: float
    final_spread: float


def evaluate_attacker(
    policy: Callable[[np.ndarray], np.ndarray],
    *,
    protocol: str,
    episodes: int = 16,
    seed: int = 10_000,
    **env_kwargs,
) -> AttackStats:
    """Play ``policy`` as the Byzantine team for whole episodes and measure the damage.

    Parameters
    ----------
    policy : callable
        Maps observations (B, obs_dim) to actions (B, act_dim).
    protocol : {"wmsr", "lcp"}
        What the honest robots run.
    episodes : int
        Number of episodes (one swarm each, stepped together).
    seed : int
        Seed of the first swarm (the others ``seed + i``).
    **env_kwargs
        Further arguments of the environment.

    Returns
    -------
    AttackStats
        The damage.
    """
    vec = ByzantineConsensusVectorEnv(episodes, protocol=protocol, **env_kwargs)
    obs, _ = vec.reset(seed=seed)
    nh = vec.n_honest
    start = (vec.values[:, :nh].mean(axis=1) - vec.lo) / vec.width
    final_mean = np.zeros(episodes)
    final_spread = np.zeros(episodes)
    violation = np.zeros(episodes)
    live = np.ones(episodes, dtype=bool)
    while live.any():
        obs, _, term, trunc, infos = vec.step(policy(obs))
        h = (vec.values[:, :nh] - vec.lo[:, None]) / vec.width[:, None]
        violation = np.where(live, np.maximum(violation, infos["hull_violation"]), violation)
        ended = live & (term | trunc)
        final_mean[ended] = h[ended].mean(axis=1)
        final_spread[ended] = infos["honest_spread"][ended]
        live &= ~ended
    return AttackStats(
        displacement=float(np.mean(np.abs(final_mean - start))),
        hull_violation=float(violation.max()),
        final_spread=float(final_spread.mean()),
    )


def train_attacker(
    protocol: str,
    *,
    total_timesteps: int = 50_000,
    seed: int = 0,
    num_envs: int = 16,
    **env_kwargs,
):
    """Train a PPO attacker team against ``protocol``, seeded end to end.

    Parameters
    ----------
    protocol : {"wmsr", "lcp"}
        What the honest robots run.
    total_timesteps : int
        PPO budget (team steps summed over the swarms).
    seed : int
        Seeds PPO (torch, numpy) and every swarm through SB3's ``seed=``.
    num_envs : int
        Swarms stepped together.
    **env_kwargs
        Further arguments of the environment.

    Returns
    -------
    stable_baselines3.PPO
        The trained model.
    """
    import torch
    from stable_baselines3 import PPO

    torch.set_num_threads(1)
    venv = SB3ConsensusVecEnv(num_envs, protocol=protocol, **env_kwargs)
    model = PPO(
        "MlpPolicy",
        venv,
        seed=seed,
        n_steps=64,
        batch_size=256,
        n_epochs=5,
        learning_rate=1e-3,
        gamma=0.95,
        verbose=0,
        device="cpu",
    )
    model.learn(total_timesteps=total_timesteps)
    return model
