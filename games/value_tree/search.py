"""BAVT itself: budget-conditioned selection, expansion with the residual critic, search.

See the package docstring of :mod:`games.value_tree` for how each part maps to the
paper.

Examples
--------
>>> from games.value_tree.search import selection_probabilities, terminal_budget_bound
>>> selection_probabilities([0.2, 0.8], 1.0)      # full budget: value-proportional
array([0.2, 0.8])
>>> selection_probabilities([0.2, 0.8], 0.25).round(4)   # a quarter left: p ~ value ** 4
array([0.0039, 0.9961])
>>> bound = terminal_budget_bound(0.5, 0.05, prompt_tokens=200)
>>> bound.expansions, bound.failure_probability     # (1 - 0.5) ** 5 <= 0.05 < 0.5 ** 4
(5, 0.03125)
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from games.value_tree.budget import Budget, BudgetLedger, LanguageModel, OutOfBudget
from games.value_tree.critic import parse_residual_scores, residual_critic_messages
from games.value_tree.problem import SearchProblem
from games.value_tree.tree import Node, SearchResult, answer_reserve, backstop, result_from
from protocols.checks import check_int

__all__ = [
    "TerminalBound",
    "bavt",
    "expand",
    "selection_probabilities",
    "terminal_budget_bound",
]


def selection_probabilities(
    values: Sequence[float] | np.ndarray, remaining: float, *, floor: float = 1e-6
) -> np.ndarray:
    """BAVT's budget-conditioned selection distribution, ``p_i ∝ value_i ** (1 / r)``.

    Computed in log space, ``p ∝ exp((log v_i - max_j log v_j) / r)``, so it stays
    exact as ``r -> 0``: with a full budget (``r = 1``) it is ``v / sum(v)``; as ``r``
    falls the mass moves to the highest values; at ``r = 0`` it is greedy, the mass
    split evenly among the nodes tied for the highest value.

    Parameters
    ----------
    values : array_like, shape (n,)
        Node values, finite; values below ``floor`` (zero or negative) are clamped up
        to ``floor`` so every node keeps a positive weight when ``r > 0``.
    remaining : float
        Fraction of the budget left, ``r`` in ``[0, 1]``.
    floor : float
        Positive clamp for the values.

    Returns
    -------
    ndarray, shape (n,)
        Selection probabilities, summing to 1.
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"values must be a non-empty 1-D array, got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError("values must be finite (no NaN or inf)")
    r = float(remaining)
    if not 0.0 <= r <= 1.0:
        raise ValueError(f"remaining must be in [0, 1], got {remaining!r}")
    if not floor > 0.0:
        raise ValueError(f"floor must be > 0, got {floor!r}")
    logv = np.log(np.maximum(v, floor))
    top = logv.max()
    if r == 0.0:
        w = (logv == top).astype(float)
    else:
        with np.errstate(over="ignore", divide="ignore"):
            w = np.exp((logv - top) / r)
    return w / w.sum()


def expand(
    problem: SearchProblem,
    ledger: BudgetLedger,
    node: Node,
    siblings_keys: set,
    *,
    branching: int,
    action_tokens: int,
    critic_tokens: int,
    temperature: float,
    prune_margin: float,
    reserve: int,
) -> list[Node]:
    """Propose, execute and score up to ``branching`` children of ``node``.

    Unparseable proposals are dropped; a tool call repeated on the path or among the
    node's children is pruned before it runs (no tool call spent); the rest are run and
    scored in one residual-critic call. A child whose delta is ``<= prune_margin`` is
    pruned. If the tool budget or the critic call does not fit, :class:`OutOfBudget`
    propagates after the children already made are attached.

    Parameters
    ----------
    problem : SearchProblem
        The task.
    ledger : BudgetLedger
        The budget every call and tool run is charged to.
    node : Node
        The node to expand (its ``expansions`` is incremented, children appended).
    siblings_keys : set
        Call keys of the node's existing children.
    branching : int
        Proposals asked for (one call with ``n = branching``).
    action_tokens, critic_tokens : int
        Completion-token limits of the proposal and critic calls.
    temperature : float
        Sampling temperature of the proposals.
    prune_margin : float
        Children scored ``<= prune_margin`` are pruned.
    reserve : int
        Tokens every call must leave for the backstop.

    Returns
    -------
    list of Node
        The children that ran and were scored (pruned ones included, marked);
        duplicates are attached to ``node`` but not returned.
    """
    gen = ledger.generate(
        problem.action_messages(node.state),
        n=branching,
        max_tokens=action_tokens,
        temperature=temperature,
        reserve=reserve,
    )
    node.expansions += 1
    seen = node.path_keys() | siblings_keys
    fresh: list[Node] = []
    for text in gen.texts:
        action = problem.parse_action(text)
        if action is None:
            continue
        key = problem.call_key(node.state, action)
        if key in seen:
            if not action.is_answer:
                node.children.append(
                    Node(
                        state=node.state,
                        value=node.value,
                        depth=node.depth + 1,
                        parent=node,
                        action=action,
                        pruned="duplicate tool call",
                        key=key,
                    )
                )
            continue
        seen.add(key)
        if not action.is_answer:
            ledger.use_tool()
        child = Node(
            state=problem.apply(node.state, action),
            value=node.value,
            depth=node.depth + 1,
            parent=node,
            action=action,
            key=key,
        )
        node.children.append(child)
        fresh.append(child)
    if not fresh:
        return []
    steps = [problem.describe_step(node.state, c.state) for c in fresh]
    critic = ledger.generate(
        residual_critic_messages(problem.describe(node.state), steps),
        n=1,
        max_tokens=critic_tokens,
        temperature=0.0,
        reserve=reserve,
    )
    deltas = parse_residual_scores(critic.texts[0] if critic.texts else "", len(fresh))
    for child, delta in zip(fresh, deltas, strict=True):
        child.delta = float(delta)
        child.value = float(min(1.0, max(1e-3, node.value + delta)))
        if delta <= prune_margin:
            child.pruned = "no progress"
    return fresh


def bavt(
    problem: SearchProblem,
    model: LanguageModel,
    budget: Budget,
    *,
    rng: np.random.Generator,
    branching: int = 2,
    max_depth: int = 12,
    max_expansions: int = 2,
    root_value: float = 0.1,
    prune_margin: float = 0.0,
    action_tokens: int = 48,
    critic_tokens: int = 48,
    answer_tokens: int = 32,
    temperature: float = 1.0,
) -> SearchResult:
    """Budget-aware value tree search.

    Repeats until an answer is accepted or the budget runs out: select an open node
    with :func:`selection_probabilities` of the node values and the remaining budget
    fraction; ask the model for ``branching`` next actions; prune repeated tool calls;
    run the rest; score them with the residual critic; prune non-improving children.
    An answer child the critic scores above ``prune_margin`` ends the search. Enough
    tokens are kept back for the final-answer backstop of the best open node.

    Parameters
    ----------
    problem : SearchProblem
        The task.
    model : LanguageModel
        The model (actor and critic).
    budget : Budget
        Tool-call and token limits; never exceeded.
    rng : numpy.random.Generator
        Source of the selection draws.
    branching : int
        Actions proposed per expansion (one call with ``n = branching``).
    max_depth : int
        Longest trajectory (steps).
    max_expansions : int
        Times a node may be expanded.
    root_value : float
        Value of the root, in ``(0, 1]``.
    prune_margin : float
        Children whose residual score is ``<= prune_margin`` are pruned.
    action_tokens, critic_tokens, answer_tokens : int
        Completion-token limits of the actor, critic and final-answer calls.
    temperature : float
        Sampling temperature of the actor.

    Returns
    -------
    SearchResult
        The answer and what it cost.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator")
    for name, v in (
        ("branching", branching),
        ("max_depth", max_depth),
        ("max_expansions", max_expansions),
    ):
        check_int(name, v, low=1)
    if not 0.0 < root_value <= 1.0:
        raise ValueError(f"root_value must be in (0, 1], got {root_value!r}")
    ledger = BudgetLedger(budget, model)
    root = Node(state=problem.initial_state(), value=root_value)
    nodes = [root]

    def is_open(n: Node) -> bool:
        return (
            not n.pruned
            and not problem.is_terminal(n.state)
            and n.expansions < max_expansions
            and n.depth < max_depth
        )

    def unanswered() -> list[Node]:
        live = [n for n in nodes if not n.pruned and not problem.is_terminal(n.state)]
        return sorted(live, key=lambda n: (-n.value, -n.depth))

    with contextlib.suppress(OutOfBudget):
        while True:
            frontier = [n for n in nodes if is_open(n)]
            if not frontier:
                # Every open node is used up: reconsider steps pruned as non-improving
                # (the critic is noisy) rather than stop with budget left.
                revived = [
                    n
                    for n in nodes
                    if n.pruned == "no progress" and not problem.is_terminal(n.state)
                ]
                for n in revived:
                    n.pruned = ""
                frontier = [n for n in revived if is_open(n)]
                if not frontier:
                    break
            best = max(frontier, key=lambda n: n.value)
            reserve = answer_reserve(problem, ledger, best.state, answer_tokens)
            p = selection_probabilities([n.value for n in frontier], ledger.remaining_fraction())
            node = frontier[int(rng.choice(len(frontier), p=p))]
            keys = {c.key for c in node.children}
            try:
                fresh = expand(
                    problem,
                    ledger,
                    node,
                    keys,
                    branching=branching,
                    action_tokens=action_tokens,
                    critic_tokens=critic_tokens,
                    temperature=temperature,
                    prune_margin=prune_margin,
                    reserve=reserve,
                )
            finally:
                nodes.extend(c for c in node.children if c not in nodes)
            done = [c for c in fresh if problem.is_terminal(c.state)]
            accepted = [c for c in done if not c.pruned]
            if accepted:
                win = max(accepted, key=lambda c: c.value)
                return result_from(
                    ledger,
                    "bavt",
                    problem.answer(win.state) or "",
                    "search",
                    problem.describe(win.state),
                    len(nodes),
                    sum(bool(n.pruned) for n in nodes),
                )
    answers = [n for n in nodes if problem.is_terminal(n.state)]
    answer, how, state = backstop(
        problem, ledger, unanswered() or [root], answers, answer_tokens=answer_tokens
    )
    return result_from(
        ledger,
        "bavt",
        answer,
        how,
        problem.describe(state),
        len(nodes),
        sum(bool(n.pruned) for n in nodes),
    )


class TerminalBound(NamedTuple):
    """A budget after which BAVT has answered with probability ``>= 1 - epsilon``.

    Attributes
    ----------
    expansions : int
        Expansions ``K`` the budget pays for.
    budget : Budget
        Tool calls and total tokens of ``K`` expansions plus the backstop's reserve.
    failure_probability : float
        ``(1 - q) ** K``, the bound on the chance of no accepted answer (``<= epsilon``).
    """

    expansions: int
    budget: Budget
    failure_probability: float


def terminal_budget_bound(
    p_terminal: float,
    epsilon: float,
    *,
    prompt_tokens: int,
    branching: int = 2,
    action_tokens: int = 48,
    critic_tokens: int = 48,
    answer_tokens: int = 32,
) -> TerminalBound:
    """Return the finite budget after which :func:`bavt` answers w.p. ``>= 1 - ε``.

    Suppose that, whatever happened before, each expansion ends the search (proposes
    an answer the residual critic scores above ``prune_margin``) with probability at
    least ``q = p_terminal``, and that the tree does not run out of open nodes. Then
    ``K`` expansions all fail with probability at most ``(1 - q) ** K``, which is
    ``<= ε`` for ``K = ceil(log ε / log(1 - q))``. An expansion costs at most
    ``branching`` tool calls (answers are not tool calls) and two model calls, the
    proposal (at most ``prompt_tokens + branching * action_tokens``) and the critic
    (at most ``prompt_tokens + critic_tokens``); every call keeps back the backstop's
    ``prompt_tokens + answer_tokens``. So a budget of ``K * branching`` tool calls and

        ``K * (2 * prompt_tokens + branching * action_tokens + critic_tokens)
        + prompt_tokens + answer_tokens``

    total tokens pays for ``K`` full expansions, and the search reaches a terminal
    answer with probability at least ``1 - ε``. The paper's summary states that such a
    bound exists but not its form; this is the geometric bound for this
    implementation's costs.

    Parameters
    ----------
    p_terminal : float
        ``q`` in ``(0, 1]``, a lower bound on the chance an expansion ends the search.
    epsilon : float
        Allowed failure probability, in ``(0, 1)``.
    prompt_tokens : int
        Upper bound on the prompt tokens of any call of the search (``>= 0``).
    branching, action_tokens, critic_tokens, answer_tokens : int
        As given to :func:`bavt`.

    Returns
    -------
    TerminalBound
        ``K``, the :class:`Budget` (``count="total"``) and ``(1 - q) ** K``.
    """
    if not (isinstance(p_terminal, int | float) and 0.0 < p_terminal <= 1.0):
        raise ValueError(f"p_terminal must be in (0, 1], got {p_terminal!r}")
    if not (isinstance(epsilon, int | float) and 0.0 < epsilon < 1.0):
        raise ValueError(f"epsilon must be in (0, 1), got {epsilon!r}")
    for name, v, low in (
        ("prompt_tokens", prompt_tokens, 0),
        ("branching", branching, 1),
        ("action_tokens", action_tokens, 1),
        ("critic_tokens", critic_tokens, 1),
        ("answer_tokens", answer_tokens, 1),
    ):
        check_int(name, v, low=low)
    q = float(p_terminal)
    k = 1 if q == 1.0 else max(1, math.ceil(math.log(epsilon) / math.log1p(-q)))
    per = 2 * prompt_tokens + branching * action_tokens + critic_tokens
    budget = Budget(k * branching, k * per + prompt_tokens + answer_tokens)
    return TerminalBound(k, budget, (1.0 - q) ** k)
