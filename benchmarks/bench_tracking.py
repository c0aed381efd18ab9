"""Batched target tracking against its own parallel API, VMAS and MPE2, in one run.

Agent-steps per second (cooperative robots stepped per second, CPU time, one core):

- the per-agent batched form, ``TargetTrackingBatchEnv`` with B = 256 swarms of 100
  robots (90 agents each), DBP defence, one Numba call per step;
- the team ``VectorEnv`` (``TargetTrackingTeam-v0`` batched), same sizes;
- the PettingZoo parallel API of ``target_tracking_v0`` (one swarm of 100, dicts), which
  runs the same kernel with B = 1;
- one swarm of :class:`swarm.dbp_cases.TargetTracking` stepped with commanded velocities,
  the Python orchestration (k-d tree graph, floods, gossip) ``target_tracking_v0`` ran on
  before the batched kernel;
- anchors, if installed (``pip install vmas mpe2``): VMAS ``simple_spread`` on the CPU
  with 256 environments of 90 agents, MPE2 ``simple_spread_v3`` with 90 agents.

Goals from the environments issue: the batched form at least 1 M agent-steps/s on one
core, and at least 30x its own parallel API. Run ``python benchmarks/bench_tracking.py``
(``--smoke``: tiny sizes, a few seconds) or ``swarm bench tracking``.
"""

from __future__ import annotations

import argparse

import numpy as np
from _anchors import installed, mpe2_simple_spread, rate, vmas_simple_spread

from envs.target_tracking_v0 import parallel_env
from envs.tracking_vector import TargetTrackingBatchEnv, TargetTrackingVectorEnv
from swarm.dbp_cases import DBPConfig, TargetTracking


def _kwargs(n_robots: int) -> dict:
    # Episodes long enough that the timed steps never reset.
    return {"n_robots": n_robots, "defence": "dbp", "max_cycles": 10**6}


def ours_batched(num_envs: int, n_robots: int, seconds: float) -> float:
    env = TargetTrackingBatchEnv(num_envs, **_kwargs(n_robots))
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (num_envs, env.n_agents, 2))
    for _ in range(20):  # past the first accusation floods
        env.step(actions)
    return rate(lambda: env.step(actions), num_envs * env.n_agents, seconds)


def ours_vector(num_envs: int, n_robots: int, seconds: float) -> float:
    env = TargetTrackingVectorEnv(num_envs, **_kwargs(n_robots))
    env.reset(seed=0)
    actions = np.random.default_rng(0).uniform(-1, 1, env.action_space.shape)
    actions = actions.astype(np.float32)
    for _ in range(20):
        env.step(actions)
    return rate(lambda: env.step(actions), num_envs * env.world.n_agents, seconds)


def ours_parallel(n_robots: int, seconds: float) -> float:
    env = parallel_env(**_kwargs(n_robots))
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = {a: rng.uniform(-1, 1, 2).astype(np.float32) for a in env.agents}
    for _ in range(20):
        env.step(actions)
    return rate(lambda: env.step(actions), len(env.agents), seconds)


def dbp_case(n_robots: int, seconds: float) -> float:
    case = TargetTracking(
        DBPConfig(n_robots=n_robots, arena=60.0, ticks=10**6), np.random.default_rng(0)
    )
    rng = np.random.default_rng(0)
    control = np.full((n_robots, 2), np.nan)
    control[case.coop_idx] = rng.uniform(-1, 1, (case.coop_idx.size, 2))
    case.control = control
    for _ in range(20):
        case.step()
    return rate(case.step, case.coop_idx.size, seconds)


def fmt(x: float | None) -> str:
    return "(not installed: pip install vmas mpe2)" if x is None else f"{x / 1e6:8.4g} M/s"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds")
    args = parser.parse_args(argv)
    B, n, seconds = (4, 20, 0.2) if args.smoke else (256, 100, 3.0)
    batched = ours_batched(B, n, seconds)
    vector = ours_vector(B, n, seconds)
    single = ours_parallel(n, seconds)
    case = dbp_case(n, seconds)
    m = TargetTrackingBatchEnv(1, n_robots=n).n_agents
    print(
        f"target tracking, DBP, {B} swarms x {n} robots ({m} agents each); "
        "agent-steps per second (CPU time, one core):"
    )
    print(
        f"  per-agent batched form   {fmt(batched)}   ratio to parallel API "
        f"{batched / single:7.1f}x   (goals: >= 1 M/s, >= 30x)"
    )
    print(
        f"  team VectorEnv           {fmt(vector)}   ratio to parallel API {vector / single:7.1f}x"
    )
    print(f"  PettingZoo parallel API  {fmt(single)}   (one swarm of {n}, same kernel)")
    print(
        f"  swarm.dbp_cases, 1 swarm {fmt(case)}   batched form is "
        f"{batched / case:7.1f}x this (the engine target_tracking_v0 used before)"
    )
    vmas, mpe2 = vmas_simple_spread(B, m, seconds), mpe2_simple_spread(m, seconds)
    print(f"  VMAS {installed('vmas')} simple_spread, {B} envs x {m} agents (CPU): {fmt(vmas)}")
    print(f"  MPE2 {installed('mpe2')} simple_spread_v3, {m} agents: {fmt(mpe2)}")


if __name__ == "__main__":
    main()
