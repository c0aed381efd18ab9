"""Environment throughput: the batched forms against their own parallel API, in one run.

Agent-steps per second (agents simulated per second, CPU time of this process):

- ``byzantine_consensus_v0`` through the PettingZoo parallel API at 10 and 100 robots
  (``role="defender"``, so every honest robot is an agent), against MPE2's
  ``simple_spread_v3`` with the same number of agents;
- ``ByzantineConsensusVectorEnv`` with B = 1,024 swarms of 100 robots (every robot
  counted), against VMAS ``simple_spread`` on the CPU with 1,024 environments of 100
  agents;
- the per-agent batched forms against the parallel API of the same environment:
  ``PowerControlBatchedEnv`` (Q = 4 users, N = 64 carriers), ``DifferentiableGameBatchedEnv``
  (random game, 8 players of block 2) and ``ConsensusDefenderBatchedEnv`` (100 robots).

Goals from the issues: the consensus vector env at least 10 million agent-steps per
second on one core; batched power control and differentiable game at least 30x their
parallel API. The anchors are installed with the ``bench`` extra
(``pip install -e '.[bench]'``) and skipped when absent. Run
``python benchmarks/bench_envs.py`` (``--smoke``: tiny sizes, a few seconds) or
``swarm bench envs``.
"""

from __future__ import annotations

import argparse

import numpy as np
from _anchors import mpe2_simple_spread, parallel_rate, rate, vmas_simple_spread

from envs.byzantine_consensus_v0 import parallel_env as consensus_parallel
from envs.consensus_batched import ConsensusDefenderBatchedEnv
from envs.differentiable_game_v0 import DifferentiableGameBatchedEnv
from envs.differentiable_game_v0 import parallel_env as game_parallel
from envs.power_control_v0 import PowerControlBatchedEnv
from envs.power_control_v0 import parallel_env as power_parallel
from envs.vector import ByzantineConsensusVectorEnv

NEVER = 10**9  # max_cycles that no measurement reaches
SECONDS = 3.0


def batched_rate(env) -> float:
    """Measure a per-agent or vector batched env: steps with a fixed action array."""
    env.reset(seed=0)
    env.action_space.seed(0)
    actions = env.action_space.sample()
    per_step = int(np.prod(env.action_space.shape[:-1]))
    return rate(lambda: env.step(actions), per_step, SECONDS)


def fmt(x: float | None) -> str:
    return "    (not installed)" if x is None else f"{x / 1e6:11.4f} M/s"


def ratio(ours: float, ref: float | None) -> str:
    return f"{ours / ref:8.1f}x" if ref else "       -"


def main(smoke: bool) -> None:
    global SECONDS
    if smoke:
        SECONDS = 0.05
    robots = (6, 10) if smoke else (10, 100)
    B = 8 if smoke else 1024
    print("agent-steps per second (CPU time, one core):")

    print("PettingZoo parallel API against MPE2 simple_spread (same agents):")
    for n in robots:
        env = consensus_parallel(
            n_robots=n, n_byzantine=1, role="defender", max_cycles=NEVER, tol=1e-300
        )
        ours, ref = (
            parallel_rate(env, SECONDS),
            (None if smoke else mpe2_simple_spread(n - 1, SECONDS)),
        )
        print(
            f"  consensus defender, {n - 1:3d} agents: swarmgym {fmt(ours)}   "
            f"MPE2 {fmt(ref)}   ratio {ratio(ours, ref)}"
        )

    n = robots[-1]
    vec = ByzantineConsensusVectorEnv(B, n_robots=n, n_byzantine=2, max_cycles=NEVER, tol=1e-300)
    ours = batched_rate(vec) * n  # every robot counted, not only the attackers
    ref = None if smoke else vmas_simple_spread(B, n, SECONDS)
    print(
        f"consensus vector env, {B} x {n} robots: swarmgym {fmt(ours)}   VMAS {fmt(ref)}   "
        f"ratio {ratio(ours, ref)}   (goal >= 10 M/s)"
    )

    print("per-agent batched forms against their own parallel API (same run):")
    Bb = 8 if smoke else 256
    nc = 8 if smoke else 64
    cases = [
        (
            f"power control, Q = 4, N = {nc}",
            {"n_users": 4, "n_carriers": nc},
            power_parallel,
            PowerControlBatchedEnv,
            "(goal >= 30x)",
        ),
        (
            "differentiable game, 8 players x 2",
            {"game": "random", "n_players": 8, "block_size": 2},
            game_parallel,
            DifferentiableGameBatchedEnv,
            "(goal >= 30x)",
        ),
        (
            f"consensus defender, {n} robots",
            {"n_robots": n, "n_byzantine": 1, "tol": 1e-300},
            lambda **kw: consensus_parallel(role="defender", **kw),
            ConsensusDefenderBatchedEnv,
            "",
        ),
    ]
    for label, kw, make_parallel, batched_cls, goal in cases:
        par = parallel_rate(make_parallel(max_cycles=NEVER, **kw), SECONDS)
        bat = batched_rate(batched_cls(Bb, max_cycles=NEVER, **kw))
        print(
            f"  {label}: parallel {fmt(par)}   batched B = {Bb} {fmt(bat)}   "
            f"ratio {ratio(bat, par)} {goal}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds")
    main(parser.parse_args().smoke)
