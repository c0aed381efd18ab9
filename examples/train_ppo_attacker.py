"""Learn a Byzantine attack with PPO against LCP, then against W-MSR.

Needs the ``rl`` extra: ``pip install -e '.[rl]'``. Seeded end to end: the same seed
gives the same trained attacker. Run ``python examples/train_ppo_attacker.py``.

The learned attacker drags plain LCP's consensus far from where the honest robots
started, much further than a random attacker; against W-MSR on a (2F+1)-robust swarm it
cannot push an honest robot outside the hull of honest initial values, whatever it
learns.
"""

from __future__ import annotations

import argparse

import numpy as np

from envs.sb3 import evaluate_attacker, train_attacker

ENV = {"n_robots": 12, "n_byzantine": 2, "max_cycles": 25}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=60_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    dim = ENV["n_robots"] * ENV["n_byzantine"]

    def random_policy(obs):
        return rng.uniform(-1, 1, (obs.shape[0], dim)).astype(np.float32)

    print(
        f"{'protocol':8s} {'attacker':8s} {'displacement':>12s} {'hull_violation':>14s} "
        f"{'final_spread':>12s}"
    )
    for protocol in ("lcp", "wmsr"):
        model = train_attacker(protocol, total_timesteps=args.timesteps, seed=args.seed, **ENV)

        def learned(obs, model=model):
            return model.predict(obs, deterministic=True)[0]

        for name, policy in (("random", random_policy), ("PPO", learned)):
            s = evaluate_attacker(policy, protocol=protocol, **ENV)
            print(
                f"{protocol:8s} {name:8s} {s.displacement:12.3f} {s.hull_violation:14.3f} "
                f"{s.final_spread:12.3g}"
            )


if __name__ == "__main__":
    main()
