"""IPPO on batched target tracking: every cooperative robot learns to keep the target tracked.

A CleanRL-style loop (numpy environment, torch policy, CPU): independent PPO with one set
of parameters shared by all agents (each agent acts on its own observation and learns
from its own advantage), on :class:`envs.tracking_vector.TargetTrackingBatchEnv`, B
swarms stepped in one Numba call a step with per-agent arrays. Seeded end to end.
Needs torch (the ``rl`` extra). Run ``python examples/ippo_target_tracking.py``; it
prints the mean tracking error of the random policy, of :func:`pursue_policy` (head for
the own estimate of the target) and of the learned policy, on the same evaluation seeds.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from envs.target_tracking_v0 import pursue_policy
from envs.tracking_vector import TargetTrackingBatchEnv


@dataclass
class Args:
    """Sizes and hyper-parameters (the command-line flags)."""

    seed: int = 0
    iterations: int = 150
    num_envs: int = 16
    n_robots: int = 20
    max_cycles: int = 50
    defence: str = "dbp"
    lr: float = 1e-3
    gamma: float = 0.99
    gae_lambda: float = 0.95
    epochs: int = 4
    minibatches: int = 4
    clip: float = 0.2
    ent_coef: float = 0.0
    eval_envs: int = 16


def env_kwargs(args: Args) -> dict:
    return {"n_robots": args.n_robots, "defence": args.defence, "max_cycles": args.max_cycles}


class Agent(nn.Module):
    """Gaussian actor and critic on one agent's observation (shared by all agents)."""

    def __init__(self, obs_dim: int, act_dim: int = 2, hidden: int = 64):
        super().__init__()

        def mlp(out: int, std: float) -> nn.Sequential:
            layers = [
                nn.Linear(obs_dim, hidden),
                nn.Tanh(),
                nn.Linear(hidden, hidden),
                nn.Tanh(),
                nn.Linear(hidden, out),
            ]
            for layer in layers[::2]:
                nn.init.orthogonal_(layer.weight, np.sqrt(2))
                nn.init.zeros_(layer.bias)
            nn.init.orthogonal_(layers[-1].weight, std)
            return nn.Sequential(*layers)

        self.critic = mlp(1, 1.0)
        self.actor = mlp(act_dim, 0.01)
        self.log_std = nn.Parameter(torch.full((act_dim,), -0.5))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """Critic's value of each observation."""
        return self.critic(obs).squeeze(-1)

    def act(self, obs: torch.Tensor, action: torch.Tensor | None = None):
        """Sample (or score) actions; return action, log-prob, entropy and value."""
        dist = torch.distributions.Normal(self.actor(obs), self.log_std.exp())
        if action is None:
            action = dist.sample()
        return action, dist.log_prob(action).sum(-1), dist.entropy().sum(-1), self.value(obs)


def train(args: Args) -> Agent:
    """Run IPPO for ``args.iterations`` rollouts of one episode per swarm."""
    torch.manual_seed(args.seed)
    env = TargetTrackingBatchEnv(args.num_envs, autoreset_mode="disabled", **env_kwargs(args))
    agent = Agent(env.obs_dim)
    opt = torch.optim.Adam(agent.parameters(), lr=args.lr, eps=1e-5)
    B, m, T = args.num_envs, env.n_agents, args.max_cycles
    obs_buf = torch.zeros(T, B, m, env.obs_dim)
    act_buf = torch.zeros(T, B, m, 2)
    logp_buf = torch.zeros(T, B, m)
    rew_buf = torch.zeros(T, B, m)
    val_buf = torch.zeros(T, B, m)
    for it in range(args.iterations):
        obs, _ = env.reset(seed=args.seed * 100_003 + it * B)
        obs = torch.as_tensor(obs)
        for t in range(T):
            with torch.no_grad():
                action, logp, _, value = agent.act(obs)
            obs_buf[t], act_buf[t], logp_buf[t], val_buf[t] = obs, action, logp, value
            nxt, rew, _, _, _ = env.step(action.numpy())
            rew_buf[t] = torch.as_tensor(rew, dtype=torch.float32)
            obs = torch.as_tensor(nxt)
        # The episode ends by truncation: bootstrap from the last observation's value.
        with torch.no_grad():
            next_value = agent.value(obs)
        adv = torch.zeros_like(rew_buf)
        last = torch.zeros(B, m)
        for t in reversed(range(T)):
            nv = next_value if t == T - 1 else val_buf[t + 1]
            delta = rew_buf[t] + args.gamma * nv - val_buf[t]
            last = delta + args.gamma * args.gae_lambda * last
            adv[t] = last
        ret = adv + val_buf
        b_obs, b_act = obs_buf.reshape(-1, env.obs_dim), act_buf.reshape(-1, 2)
        b_logp, b_adv, b_ret = logp_buf.reshape(-1), adv.reshape(-1), ret.reshape(-1)
        n = b_obs.shape[0]
        size = n // args.minibatches
        gen = torch.Generator().manual_seed(args.seed + it)
        for _ in range(args.epochs):
            perm = torch.randperm(n, generator=gen)
            for k in range(args.minibatches):
                idx = perm[k * size : (k + 1) * size]
                _, logp, ent, value = agent.act(b_obs[idx], b_act[idx])
                ratio = (logp - b_logp[idx]).exp()
                a = b_adv[idx]
                a = (a - a.mean()) / (a.std() + 1e-8)
                pg = torch.max(-a * ratio, -a * ratio.clamp(1 - args.clip, 1 + args.clip)).mean()
                v_loss = 0.5 * ((value - b_ret[idx]) ** 2).mean()
                loss = pg + 0.5 * v_loss - args.ent_coef * ent.mean()
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), 0.5)
                opt.step()
    return agent


def evaluate(policy, args: Args, seed: int = 10**6) -> float:
    """Mean tracking error (units) over one episode of ``args.eval_envs`` swarms.

    ``policy(obs)`` maps observations (B, m, obs_dim) to actions (B, m, 2).
    """
    env = TargetTrackingBatchEnv(args.eval_envs, autoreset_mode="disabled", **env_kwargs(args))
    obs, _ = env.reset(seed=seed)
    errors = []
    for _ in range(args.max_cycles):
        obs, _, _, _, info = env.step(policy(obs))
        errors.append(info["tracking_error"])
    return float(np.mean(errors))


def baselines(args: Args) -> dict[str, float]:
    """Tracking error of the random policy and of ``pursue_policy``."""
    rng = np.random.default_rng(args.seed)

    def random_policy(obs):
        return rng.uniform(-1, 1, (*obs.shape[:2], 2))

    def pursue(obs):
        return np.apply_along_axis(pursue_policy, 2, obs)

    return {"random": evaluate(random_policy, args), "pursue_policy": evaluate(pursue, args)}


def learned_policy(agent: Agent):
    """Return the trained policy's mean action as a numpy policy."""

    def policy(obs):
        with torch.no_grad():
            return agent.actor(torch.as_tensor(obs)).clamp(-1, 1).numpy()

    return policy


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in vars(Args()).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default)
    args = Args(**vars(parser.parse_args(argv)))
    torch.set_num_threads(1)
    results = baselines(args)
    agent = train(args)
    results["IPPO"] = evaluate(learned_policy(agent), args)
    print(
        f"mean tracking error over {args.eval_envs} swarms x {args.max_cycles} ticks "
        f"({args.n_robots} robots, {args.defence}):"
    )
    for name, err in results.items():
        print(f"  {name:14s} {err:8.3f}")
    return results


if __name__ == "__main__":
    main()
