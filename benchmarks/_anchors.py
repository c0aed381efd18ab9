"""Shared by the environment benchmarks: the throughput loop and the VMAS / MPE2 anchors.

The anchors are optional (``pip install -e '.[bench]'``); each returns None when its
package is missing.
"""

from __future__ import annotations

import contextlib
import time
from importlib.metadata import PackageNotFoundError, version


def rate(step, agents_per_step: int, seconds: float) -> float:
    """Agent-steps per second of ``step`` run repeatedly for ``seconds`` (CPU time)."""
    step()
    n = 0
    t0 = time.process_time()
    while time.process_time() - t0 < seconds or n < 2:
        step()
        n += 1
    return n * agents_per_step / (time.process_time() - t0)


def parallel_rate(env, seconds: float) -> float:
    """Agent-steps per second of a PettingZoo parallel env stepped with a fixed action dict."""
    env.reset(seed=0)
    for i, a in enumerate(env.agents):
        env.action_space(a).seed(i)
    actions = {a: env.action_space(a).sample() for a in env.agents}
    return rate(lambda: env.step(actions), len(env.agents), seconds)


def vmas_simple_spread(num_envs: int, n_agents: int, seconds: float) -> float | None:
    """VMAS ``simple_spread`` on the CPU (one torch thread), or None if not installed."""
    try:
        import torch
        import vmas
    except ImportError:
        return None
    torch.set_num_threads(1)
    env = vmas.make_env(
        "simple_spread",
        num_envs=num_envs,
        device="cpu",
        continuous_actions=True,
        n_agents=n_agents,
        seed=0,
    )
    env.reset()
    actions = [torch.zeros(num_envs, 2) for _ in range(n_agents)]
    return rate(lambda: env.step(actions), num_envs * n_agents, seconds)


def mpe2_simple_spread(n_agents: int, seconds: float) -> float | None:
    """MPE2 ``simple_spread_v3`` through its parallel API, or None if not installed."""
    try:
        from mpe2 import simple_spread_v3
    except ImportError:
        return None
    env = simple_spread_v3.parallel_env(N=n_agents, max_cycles=10**9, continuous_actions=True)
    return parallel_rate(env, seconds)


def installed(package: str) -> str:
    """Return ``package``'s version, or an empty string if it is not installed."""
    with contextlib.suppress(PackageNotFoundError):
        return version(package)
    return ""
