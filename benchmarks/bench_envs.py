"""Environment throughput: byzantine_consensus_v0 against MPE2 and VMAS, in one run.

Agent-steps per second (robots simulated per second):

- ``byzantine_consensus_v0`` through the PettingZoo parallel API at 10 and 100 robots
  (``role="defender"``, so every honest robot is an agent), against MPE2's
  ``simple_spread_v3`` with the same number of agents;
- the batched mode, ``ByzantineConsensusVectorEnv`` with B = 1,024 swarms of 100 robots
  (every robot counted), against VMAS ``simple_spread`` on the CPU with 1,024
  environments of 100 agents.

Goals from the environments issue: the parallel API at least 50x MPE2 at 100 agents;
the batched mode at least 10 million agent-steps per second on one core. The anchors
are installed for the benchmark only: ``pip install mpe2 vmas``. Run:
``python benchmarks/bench_envs.py`` or ``swarm bench envs``.
"""

from __future__ import annotations

import time

import numpy as np

from envs.byzantine_consensus_v0 import parallel_env
from envs.vector import ByzantineConsensusVectorEnv

SECONDS = 3.0


def rate(step, agents_per_step: int) -> float:
    """Agent-steps per second of ``step`` run repeatedly for SECONDS (CPU time)."""
    step()
    n = 0
    t0 = time.process_time()
    while time.process_time() - t0 < SECONDS:
        step()
        n += 1
    return n * agents_per_step / (time.process_time() - t0)


def ours_parallel(n_robots: int) -> float:
    env = parallel_env(n_robots=n_robots, n_byzantine=1, role="defender", max_cycles=10**9,
                       tol=1e-300)
    env.reset(seed=0)
    actions = {a: env.action_space(a).sample() for a in env.agents}
    return rate(lambda: env.step(actions), len(env.agents))


def mpe2_parallel(n_agents: int) -> float | None:
    try:
        from mpe2 import simple_spread_v3
    except ImportError:
        return None
    env = simple_spread_v3.parallel_env(N=n_agents, max_cycles=10**9, continuous_actions=True)
    env.reset(seed=0)
    actions = {a: env.action_space(a).sample() for a in env.agents}
    return rate(lambda: env.step(actions), len(env.agents))


def ours_batched(num_envs: int, n_robots: int) -> tuple[float, float]:
    vec = ByzantineConsensusVectorEnv(num_envs, n_robots=n_robots, n_byzantine=2,
                                      max_cycles=10**9, tol=1e-300)
    vec.reset(seed=0)
    actions = np.random.default_rng(0).uniform(
        -1, 1, (num_envs, vec.single_action_space.shape[0])).astype(np.float32)
    degree = float(np.diff(vec.indptr, axis=1).mean())
    return rate(lambda: vec.step(actions), num_envs * n_robots), degree


def vmas_batched(num_envs: int, n_agents: int) -> float | None:
    try:
        import torch
        import vmas
    except ImportError:
        return None
    torch.set_num_threads(1)
    env = vmas.make_env("simple_spread", num_envs=num_envs, device="cpu", continuous_actions=True,
                        n_agents=n_agents, seed=0)
    env.reset()
    actions = [torch.zeros(num_envs, 2) for _ in range(n_agents)]
    return rate(lambda: env.step(actions), num_envs * n_agents)


def fmt(x: float | None) -> str:
    return "   (not installed)" if x is None else f"{x / 1e6:10.3f} M/s"


def main() -> None:
    print("agent-steps per second (CPU time, one core):")
    for n in (10, 100):
        ours, ref = ours_parallel(n), mpe2_parallel(n)
        ratio = f"{ours / ref:8.1f}x" if ref else "      -"
        goal = "  (goal >= 50x)" if n == 100 else ""
        print(f"  parallel API, {n:3d} agents: swarmgym {fmt(ours)}   MPE2 {fmt(ref)}   "
              f"ratio {ratio}{goal}")
    ours, degree = ours_batched(1024, 100)
    ref = vmas_batched(1024, 100)
    ratio = f"{ours / ref:8.1f}x" if ref else "      -"
    print(f"  batched, 1024 x 100 robots (mean degree {degree:.1f}): swarmgym {fmt(ours)}   "
          f"VMAS {fmt(ref)}   ratio {ratio}   (goal >= 10 M/s)")


if __name__ == "__main__":
    main()
