"""The search tree, the result of a search and the final-answer backstop.

Shared by :func:`games.value_tree.bavt` and the baselines of
:mod:`games.search_baselines`: every method builds :class:`Node` objects, ends with
:func:`backstop` when it has no accepted answer (so it always answers) and reports a
:class:`SearchResult` built by :func:`result_from`.

Examples
--------
>>> from games.value_tree.problem import Action
>>> from games.value_tree.tree import Node
>>> root = Node(state="q", value=0.1)
>>> child = Node(state="q+A", value=0.4, depth=1, parent=root,
...              action=Action("search", "A"), key=("search", "a"))
>>> root.children.append(child)
>>> child.path_keys(), root.path_keys()
({('search', 'a')}, set())
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from games.value_tree.budget import Budget, BudgetLedger, OutOfBudget
from games.value_tree.problem import Action, SearchProblem

__all__ = ["Node", "SearchResult", "answer_reserve", "backstop", "result_from"]


@dataclass(eq=False)
class Node:
    """A node of the search tree.

    Attributes
    ----------
    state : hashable
        The problem state.
    value : float
        Estimated value in ``(0, 1]``.
    depth : int
        Steps from the root.
    parent : Node or None
        The parent.
    action : Action or None
        The action that led here.
    delta : float
        The residual critic's score of that action.
    expansions : int
        How many times the node was expanded.
    pruned : str
        Why it was pruned (empty if not).
    children : list of Node
        The children.
    key : hashable
        ``SearchProblem.call_key`` of the action that led here.
    """

    state: Any
    value: float
    depth: int = 0
    parent: Node | None = None
    action: Action | None = None
    delta: float = 0.0
    expansions: int = 0
    pruned: str = ""
    children: list[Node] = field(default_factory=list)
    key: Hashable = None

    def path_keys(self) -> set:
        """Return the call keys of the actions on the path from the root to this node."""
        keys, node = set(), self
        while node is not None and node.action is not None:
            keys.add(node.key)
            node = node.parent
        return keys


@dataclass
class SearchResult:
    """The outcome of one search.

    Attributes
    ----------
    answer : str
        The final answer (never empty).
    method : str
        The search method.
    answered_by : str
        ``"search"`` (a node the search accepted), ``"vote"``, ``"best-value"``,
        ``"backstop-model"`` (forced final-answer call), ``"backstop-answer"`` (best
        rejected answer) or ``"backstop-heuristic"`` (no model call was affordable).
    budget : Budget
        The limits.
    tokens_used, tool_calls_used, model_calls : int
        What was spent (``tokens_used`` as the budget counts tokens).
    prompt_tokens, completion_tokens : int
        All tokens the model reported, by kind.
    n_nodes, n_pruned : int
        Tree size and pruned nodes (chains count one node a step).
    trajectory : str
        ``describe`` of the state the answer came from.
    model_overran : bool
        The model reported more tokens than a call allowed.
    """

    answer: str
    method: str
    answered_by: str
    budget: Budget
    tokens_used: int
    tool_calls_used: int
    model_calls: int
    prompt_tokens: int = 0
    completion_tokens: int = 0
    n_nodes: int = 0
    n_pruned: int = 0
    trajectory: str = ""
    model_overran: bool = False


def result_from(
    ledger: BudgetLedger,
    method: str,
    answer: str,
    answered_by: str,
    trajectory: str,
    n_nodes: int = 0,
    n_pruned: int = 0,
) -> SearchResult:
    """Build a :class:`SearchResult` from a ledger (shared by every method).

    Parameters
    ----------
    ledger : BudgetLedger
        What was spent.
    method : str
        The method's name.
    answer, answered_by, trajectory : str
        See :class:`SearchResult`.
    n_nodes, n_pruned : int
        Tree statistics.

    Returns
    -------
    SearchResult
        The result.
    """
    return SearchResult(
        answer=answer,
        method=method,
        answered_by=answered_by,
        budget=ledger.budget,
        tokens_used=ledger.tokens_used,
        tool_calls_used=ledger.tool_calls_used,
        model_calls=ledger.model_calls,
        prompt_tokens=ledger.prompt_tokens,
        completion_tokens=ledger.completion_tokens,
        n_nodes=n_nodes,
        n_pruned=n_pruned,
        trajectory=trajectory,
        model_overran=ledger.model_overran,
    )


def answer_reserve(
    problem: SearchProblem, ledger: BudgetLedger, state: Hashable, answer_tokens: int
) -> int:
    """Return the tokens to keep for the final-answer backstop from ``state``.

    Parameters
    ----------
    problem : SearchProblem
        The task (gives the final-answer prompt).
    ledger : BudgetLedger
        The budget (gives the prompt bound, 0 when only completions count).
    state : hashable
        Where the backstop would answer from.
    answer_tokens : int
        Completion tokens allowed for the answer.

    Returns
    -------
    int
        Tokens.
    """
    return ledger.prompt_bound(problem.final_messages(state)) + answer_tokens


def backstop(
    problem: SearchProblem,
    ledger: BudgetLedger,
    candidates: Sequence[Node],
    answers: Sequence[Node] = (),
    *,
    answer_tokens: int = 32,
) -> tuple[str, str, Hashable]:
    """Produce an answer, always, when the search ends without an accepted one.

    In order: one forced final-answer call from the best candidate whose prompt fits
    the tokens left; else the highest-valued answer the search rejected; else the
    problem's ``fallback_answer`` of the best candidate (no model call).

    Parameters
    ----------
    problem : SearchProblem
        The task.
    ledger : BudgetLedger
        The budget.
    candidates : sequence of Node
        Unanswered nodes, best first (at least one, usually the root among them).
    answers : sequence of Node
        Rejected answer nodes.
    answer_tokens : int
        Completion tokens allowed for the answer.

    Returns
    -------
    tuple of (str, str, state)
        The answer, how it was found (see :class:`SearchResult`) and its state.
    """
    for node in candidates:
        messages = problem.final_messages(node.state)
        if ledger.prompt_bound(messages) + 8 > ledger.tokens_left:
            continue
        try:
            gen = ledger.generate(messages, n=1, max_tokens=answer_tokens, temperature=0.0)
        except OutOfBudget:
            break
        for text in gen.texts:
            action = problem.parse_action(text)
            if action is not None and action.is_answer and action.argument.strip():
                return action.argument.strip(), "backstop-model", node.state
        break
    if answers:
        best = max(answers, key=lambda a: a.value)
        return problem.answer(best.state) or "", "backstop-answer", best.state
    state = candidates[0].state if candidates else problem.initial_state()
    text = problem.fallback_answer(state).strip() or "unknown"
    return text, "backstop-heuristic", state
