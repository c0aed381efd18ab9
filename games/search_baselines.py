"""Baselines for budget-aware value tree search, run at equal cost.

Every method takes the same ``(problem, model, budget, *, rng, ...)`` arguments and
spends through the same :class:`games.value_tree.BudgetLedger`, so at one
:class:`games.value_tree.Budget` they cost at most the same tool calls and tokens:

- :func:`react`: one ReAct-style chain (think, act, observe) until it answers;
- :func:`parallel_vote`: independent sampled chains until the budget is spent, then a
  majority vote over their answers (self-consistency);
- :func:`best_of_n`: sampled chains, each finished one rated by the absolute critic,
  the best-rated answer wins;
- :func:`beam`: breadth-limited search keeping the ``width`` best children by
  residual value at each depth.

All of them end with the same final-answer backstop as BAVT, so each always answers.
:data:`METHODS` maps names to the methods, BAVT included.

Examples
--------
The baselines on the multi-hop QA task of :mod:`envs.multihop_qa_v0`, with the offline
simulated model of :mod:`envs.llm`, all at one budget:

>>> import numpy as np
>>> from envs.llm import SimulatedQAModel
>>> from envs.multihop_qa_v0 import MultihopQAProblem, generate_questions
>>> from games.search_baselines import METHODS
>>> from games.value_tree import Budget
>>> [q] = generate_questions(np.random.default_rng(0), 1, min_hops=2, max_hops=2)
>>> model = SimulatedQAModel([q], skill=1.0, value_noise=0.0, seed=0)
>>> for name in ("react", "parallel", "best_of_n", "beam"):
...     result = METHODS[name](MultihopQAProblem(q), model, Budget(4, 3000),
...                            rng=np.random.default_rng(0))
...     print(name, result.answer == q.answer, result.tool_calls_used <= 4)
react True True
parallel True True
best_of_n True True
beam True True
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np

from games.value_tree import (
    Budget,
    BudgetLedger,
    LanguageModel,
    Node,
    OutOfBudget,
    SearchProblem,
    SearchResult,
    absolute_critic_messages,
    answer_reserve,
    backstop,
    bavt,
    expand,
    parse_absolute_score,
    result_from,
)
from protocols.checks import check_int

__all__ = ["METHODS", "beam", "best_of_n", "parallel_vote", "react"]


def _check_common(rng, max_depth: int) -> None:
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator")
    check_int("max_depth", max_depth, low=1)


def _chain(
    problem: SearchProblem,
    ledger: BudgetLedger,
    trace: list[Node],
    *,
    max_depth: int,
    action_tokens: int,
    answer_tokens: int,
    temperature: float,
) -> bool:
    """Run one chain, appending its nodes to ``trace``; True if it answered.

    ``max_depth`` bounds the model calls (an unparseable reply costs a call and makes no
    step). Tokens for the backstop from the current state are kept back.
    """
    node = Node(state=problem.initial_state(), value=0.0)
    trace.append(node)
    for _ in range(max_depth):
        reserve = answer_reserve(problem, ledger, node.state, answer_tokens)
        gen = ledger.generate(
            problem.action_messages(node.state),
            n=1,
            max_tokens=action_tokens,
            temperature=temperature,
            reserve=reserve,
        )
        action = problem.parse_action(gen.texts[0]) if gen.texts else None
        if action is None:
            continue
        if not action.is_answer:
            ledger.use_tool()
        node = Node(
            state=problem.apply(node.state, action),
            value=0.0,
            depth=node.depth + 1,
            parent=node,
            action=action,
        )
        trace.append(node)
        if problem.is_terminal(node.state):
            return True
    return False


def _finish(
    problem: SearchProblem, ledger: BudgetLedger, method: str, trace: list[Node], answer_tokens: int
) -> SearchResult:
    """Backstop from the deepest unanswered node of ``trace``."""
    open_nodes = [n for n in trace if not problem.is_terminal(n.state)]
    open_nodes.sort(key=lambda n: -n.depth)
    answers = [n for n in trace if problem.is_terminal(n.state)]
    answer, how, state = backstop(problem, ledger, open_nodes, answers, answer_tokens=answer_tokens)
    return result_from(ledger, method, answer, how, problem.describe(state), len(trace))


def react(
    problem: SearchProblem,
    model: LanguageModel,
    budget: Budget,
    *,
    rng: np.random.Generator,
    max_depth: int = 12,
    action_tokens: int = 48,
    answer_tokens: int = 32,
    temperature: float = 0.0,
) -> SearchResult:
    """Run a single ReAct-style chain: one action a call until it answers or the budget ends.

    Parameters
    ----------
    problem, model, budget
        As for :func:`games.value_tree.bavt`.
    rng : numpy.random.Generator
        Unused by the chain itself (the model holds its own randomness); taken so all
        methods share one signature.
    max_depth : int
        Model calls allowed in the chain.
    action_tokens, answer_tokens : int
        Completion-token limits.
    temperature : float
        Sampling temperature (greedy by default).

    Returns
    -------
    SearchResult
        The answer and its cost.
    """
    _check_common(rng, max_depth)
    ledger = BudgetLedger(budget, model)
    trace: list[Node] = []
    with contextlib.suppress(OutOfBudget):
        if _chain(
            problem,
            ledger,
            trace,
            max_depth=max_depth,
            action_tokens=action_tokens,
            answer_tokens=answer_tokens,
            temperature=temperature,
        ):
            last = trace[-1]
            return result_from(
                ledger,
                "react",
                problem.answer(last.state) or "",
                "search",
                problem.describe(last.state),
                len(trace),
            )
    if not trace:
        trace.append(Node(state=problem.initial_state(), value=0.0))
    return _finish(problem, ledger, "react", trace, answer_tokens)


def parallel_vote(
    problem: SearchProblem,
    model: LanguageModel,
    budget: Budget,
    *,
    rng: np.random.Generator,
    max_chains: int | None = None,
    max_depth: int = 12,
    action_tokens: int = 48,
    answer_tokens: int = 32,
    temperature: float = 1.0,
) -> SearchResult:
    """Parallel sampling with majority vote (self-consistency) at a fixed budget.

    Independent sampled chains are run until the budget (or ``max_chains``) is used
    up; a chain cut off by the budget casts no vote. The most frequent normalised
    answer wins, ties broken uniformly at random with ``rng``. With no finished chain,
    the backstop answers.

    Parameters
    ----------
    problem, model, budget
        As for :func:`games.value_tree.bavt`.
    rng : numpy.random.Generator
        Breaks ties in the vote.
    max_chains : int, optional
        Most chains to run (default: as many as the budget allows).
    max_depth, action_tokens, answer_tokens, temperature
        As for :func:`react`.

    Returns
    -------
    SearchResult
        The voted answer and its cost.
    """
    _check_common(rng, max_depth)
    ledger = BudgetLedger(budget, model)
    trace: list[Node] = []
    finished: list[Node] = []
    with contextlib.suppress(OutOfBudget):
        while max_chains is None or len(finished) < max_chains:
            before = ledger.tokens_used
            if _chain(
                problem,
                ledger,
                trace,
                max_depth=max_depth,
                action_tokens=action_tokens,
                answer_tokens=answer_tokens,
                temperature=temperature,
            ):
                finished.append(trace[-1])
            if ledger.tokens_used == before:
                break  # a model that reports no usage would never exhaust the budget
    if not finished:
        if not trace:
            trace.append(Node(state=problem.initial_state(), value=0.0))
        return _finish(problem, ledger, "parallel", trace, answer_tokens)
    counts: dict[str, list[Node]] = {}
    for node in finished:
        counts.setdefault(problem.normalize_answer(problem.answer(node.state) or ""), []).append(
            node
        )
    top = max(len(v) for v in counts.values())
    tied = [k for k, v in counts.items() if len(v) == top]
    winner = counts[tied[int(rng.integers(len(tied)))]][0]
    return result_from(
        ledger,
        "parallel",
        problem.answer(winner.state) or "",
        "vote",
        problem.describe(winner.state),
        len(trace),
    )


def best_of_n(
    problem: SearchProblem,
    model: LanguageModel,
    budget: Budget,
    *,
    rng: np.random.Generator,
    max_chains: int | None = None,
    max_depth: int = 12,
    action_tokens: int = 48,
    critic_tokens: int = 16,
    answer_tokens: int = 32,
    temperature: float = 1.0,
) -> SearchResult:
    """Best-of-n by value: sampled chains rated by the absolute critic; the best wins.

    Chains run until the budget (or ``max_chains``) is used up; each finished chain's
    trajectory is rated once (0 to 1) by :func:`games.value_tree.absolute_critic_messages`.
    A finished chain whose rating no longer fits ranks below every rated one. Ties go
    to a uniformly random chain (``rng``).

    Parameters
    ----------
    problem, model, budget
        As for :func:`games.value_tree.bavt`.
    rng : numpy.random.Generator
        Breaks ties.
    max_chains : int, optional
        Most chains to run.
    max_depth, action_tokens, answer_tokens, temperature
        As for :func:`react`.
    critic_tokens : int
        Completion-token limit of a rating.

    Returns
    -------
    SearchResult
        The best-rated answer and its cost.
    """
    _check_common(rng, max_depth)
    ledger = BudgetLedger(budget, model)
    trace: list[Node] = []
    finished: list[Node] = []
    with contextlib.suppress(OutOfBudget):
        while max_chains is None or len(finished) < max_chains:
            before = ledger.tokens_used
            if _chain(
                problem,
                ledger,
                trace,
                max_depth=max_depth,
                action_tokens=action_tokens,
                answer_tokens=answer_tokens,
                temperature=temperature,
            ):
                node = trace[-1]
                node.value = -1.0
                finished.append(node)
                gen = ledger.generate(
                    absolute_critic_messages(problem.describe(node.state)),
                    n=1,
                    max_tokens=critic_tokens,
                    temperature=0.0,
                )
                node.value = parse_absolute_score(gen.texts[0] if gen.texts else "")
            if ledger.tokens_used == before:
                break  # a model that reports no usage would never exhaust the budget
    if not finished:
        if not trace:
            trace.append(Node(state=problem.initial_state(), value=0.0))
        return _finish(problem, ledger, "best_of_n", trace, answer_tokens)
    values = np.array([n.value for n in finished])
    tied = np.flatnonzero(values == values.max())
    winner = finished[int(tied[rng.integers(tied.size)])]
    return result_from(
        ledger,
        "best_of_n",
        problem.answer(winner.state) or "",
        "best-value",
        problem.describe(winner.state),
        len(trace),
    )


def beam(
    problem: SearchProblem,
    model: LanguageModel,
    budget: Budget,
    *,
    rng: np.random.Generator,
    width: int = 2,
    branching: int = 2,
    max_depth: int = 12,
    root_value: float = 0.1,
    action_tokens: int = 48,
    critic_tokens: int = 48,
    answer_tokens: int = 32,
    temperature: float = 1.0,
) -> SearchResult:
    """Beam search by residual value.

    At each depth every beam node proposes ``branching`` actions (repeated tool calls
    are dropped unrun), the children are scored by the residual critic (value = parent
    value + score) and the ``width`` best unanswered children form the next beam. When
    the best child of a depth is an answer, it is returned. Ties are broken at random.

    Parameters
    ----------
    problem, model, budget
        As for :func:`games.value_tree.bavt`.
    rng : numpy.random.Generator
        Breaks ties between equal values.
    width : int
        Beam width.
    branching : int
        Proposals per beam node.
    max_depth, root_value, action_tokens, critic_tokens, answer_tokens, temperature
        As for :func:`games.value_tree.bavt`.

    Returns
    -------
    SearchResult
        The answer and its cost.
    """
    _check_common(rng, max_depth)
    for name, v in (("width", width), ("branching", branching)):
        check_int(name, v, low=1)
    ledger = BudgetLedger(budget, model)
    root = Node(state=problem.initial_state(), value=root_value)
    nodes = [root]
    beam_nodes = [root]
    with contextlib.suppress(OutOfBudget):
        for _ in range(max_depth):
            pool: list[Node] = []
            for node in beam_nodes:
                reserve = answer_reserve(problem, ledger, node.state, answer_tokens)
                keys = {c.key for c in node.children}
                try:
                    pool += expand(
                        problem,
                        ledger,
                        node,
                        keys,
                        branching=branching,
                        action_tokens=action_tokens,
                        critic_tokens=critic_tokens,
                        temperature=temperature,
                        prune_margin=-np.inf,
                        reserve=reserve,
                    )
                finally:
                    nodes.extend(c for c in node.children if c not in nodes)
            if not pool:
                break
            ties = rng.random(len(pool))
            order = [
                pool[i] for i in sorted(range(len(pool)), key=lambda i: (-pool[i].value, ties[i]))
            ]
            if problem.is_terminal(order[0].state):
                win = order[0]
                return result_from(
                    ledger,
                    "beam",
                    problem.answer(win.state) or "",
                    "search",
                    problem.describe(win.state),
                    len(nodes),
                )
            beam_nodes = [c for c in order if not problem.is_terminal(c.state)][:width]
    open_nodes = sorted(
        (n for n in nodes if not n.pruned and not problem.is_terminal(n.state)),
        key=lambda n: (-n.value, -n.depth),
    )
    answers = [n for n in nodes if problem.is_terminal(n.state)]
    answer, how, state = backstop(problem, ledger, open_nodes, answers, answer_tokens=answer_tokens)
    return result_from(ledger, "beam", answer, how, problem.describe(state), len(nodes))


#: Search methods by name, each ``method(problem, model, budget, *, rng, **options)``.
METHODS: dict[str, Callable[..., SearchResult]] = {
    "bavt": bavt,
    "react": react,
    "parallel": parallel_vote,
    "best_of_n": best_of_n,
    "beam": beam,
}
