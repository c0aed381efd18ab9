"""How much the search machinery costs on top of the model calls it makes.

For each method, the searches run against the simulated model (the cheapest model
there is, so the search's own share is as large as it can be). The reference replays
exactly the same model calls (same prompts, same n and max_tokens) with no search
around them. The ratio is search time / bare model-call time; a real server's calls
take 10^4 to 10^6 times longer than the simulated model's, so whatever the search adds
above 1x is negligible in practice. Run: ``python benchmarks/bench_value_tree.py`` or
``swarm bench value_tree``; ``--smoke`` runs 3 questions at a budget of 8 calls.
"""

import sys
import time

import numpy as np

from envs.llm import SimulatedQAModel
from envs.multihop_qa_v0 import MultihopQAProblem, generate_questions
from games.search_baselines import METHODS
from games.value_tree import Budget


class Recorder:
    """Wrap a model and record every call."""

    def __init__(self, model):
        self.model, self.calls = model, []

    def prompt_token_bound(self, messages, n=1):
        """Pass the model's exact bound through."""
        return self.model.prompt_token_bound(messages, n)

    def generate(self, messages, *, n=1, max_tokens=256, temperature=1.0):
        """Record the call, then make it."""
        self.calls.append((messages, n, max_tokens, temperature))
        return self.model.generate(messages, n=n, max_tokens=max_tokens, temperature=temperature)


def main(smoke: bool = False) -> None:
    qs = generate_questions(np.random.default_rng(0), 3 if smoke else 40, n_entities=40)
    calls = 8 if smoke else 32
    budget = Budget(calls, calls * 400)
    print(f"{'method':<10} {'calls':>6} {'search s':>9} {'calls s':>8} {'ratio':>6}")
    for name, method in METHODS.items():
        recorders, t0 = [], time.perf_counter()
        for i, q in enumerate(qs):
            rec = Recorder(SimulatedQAModel([q], seed=i))
            method(MultihopQAProblem(q), rec, budget, rng=np.random.default_rng(i))
            recorders.append((q, i, rec.calls))
        search_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for q, i, calls in recorders:
            sim = SimulatedQAModel([q], seed=i)
            for messages, n, max_tokens, temperature in calls:
                sim.generate(messages, n=n, max_tokens=max_tokens, temperature=temperature)
        calls_s = time.perf_counter() - t0
        n_calls = sum(len(c) for _, _, c in recorders)
        print(
            f"{name:<10} {n_calls:>6} {search_s:>9.3f} {calls_s:>8.3f} {search_s / calls_s:>5.2f}x"
        )


if __name__ == "__main__":
    main(smoke="--smoke" in sys.argv[1:])
