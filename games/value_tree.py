"""Budget-aware value tree search (BAVT) for tool-using language-model agents.

The search treats multi-hop reasoning as a tree: a node is an agent state (a question
and the tool calls made so far), an edge is one action proposed by the language model.
Following the BAVT paper (see ``shared/papers/bavt-value-tree-search.md``):

- nodes are selected with probability proportional to ``value ** (1 / r)``, where ``r``
  in ``[0, 1]`` is the fraction of the budget left (:func:`selection_probabilities`):
  value-proportional sampling with a full budget, greedy as it runs out;
- children are scored by a *residual* critic, which rates the progress a step makes
  relative to its parent rather than the absolute quality of a state
  (:func:`residual_critic_messages`); ``value(child) = value(parent) + delta``;
- steps that do not improve (``delta <= prune_margin``) and repeated tool calls are
  pruned; repeated calls are caught before they are executed, so they cost nothing;
- when the budget runs out a final-answer backstop always returns an answer, with a
  model call if one is still affordable and from the state alone otherwise.

Budgets (:class:`Budget`) are in tool calls and tokens (prompt plus completion, or
completion only). Tokens are counted from the usage the model reports
(:class:`Generation`); before every call the :class:`BudgetLedger` checks that the
call's worst case (an upper bound on the prompt, plus ``n * max_tokens``) fits, so a
budget is never exceeded by a model that honours ``max_tokens``. A budget of zero still
yields an answer.

This module knows nothing of any particular task: a task implements
:class:`SearchProblem`. The baselines (ReAct chain, parallel sampling with majority
vote, best-of-n by value, beam search) are in :mod:`games.search_baselines`.
"""

from __future__ import annotations

import contextlib
import math
import re
import warnings
from abc import ABC, abstractmethod
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "Action",
    "Budget",
    "BudgetLedger",
    "Generation",
    "LanguageModel",
    "ModelContractWarning",
    "Node",
    "OutOfBudget",
    "SearchProblem",
    "SearchResult",
    "absolute_critic_messages",
    "answer_reserve",
    "backstop",
    "bavt",
    "default_prompt_token_bound",
    "expand",
    "parse_absolute_score",
    "parse_residual_scores",
    "residual_critic_messages",
    "result_from",
    "selection_probabilities",
]

Messages = Sequence[Mapping[str, str]]


# --------------------------------------------------------------------------------------
# The language-model protocol
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Generation:
    """What one model call returns.

    Attributes
    ----------
    texts : tuple of str
        The completions (at most the ``n`` asked for; a server may return fewer).
    prompt_tokens : int
        Prompt tokens charged, as reported by the model.
    completion_tokens : int
        Completion tokens charged (all completions together), as reported.
    """

    texts: tuple[str, ...]
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


@runtime_checkable
class LanguageModel(Protocol):
    """A chat model: generate ``n`` completions for a chat and report the token usage.

    ``messages`` is a list of ``{"role": ..., "content": ...}`` dicts (OpenAI chat
    format). A model should honour ``max_tokens`` per completion. A model may also
    define ``prompt_token_bound(messages, n) -> int``, an upper bound on the prompt
    tokens a call with ``n`` completions can be charged; without it the search uses
    :func:`default_prompt_token_bound`.
    """

    def generate(
        self, messages: Messages, *, n: int = 1, max_tokens: int = 256, temperature: float = 1.0
    ) -> Generation:
        """Return ``n`` completions of the chat and the token usage."""
        ...


def default_prompt_token_bound(messages: Messages, n: int = 1) -> int:
    """Upper bound on the prompt tokens of a chat for byte-level tokenizers.

    Every token of a byte-level BPE or byte-fallback tokenizer covers at least one
    byte, so the UTF-8 length bounds the token count; 8 tokens a message and 64 more
    cover chat-template markers and a template's default system text.

    Parameters
    ----------
    messages : sequence of mapping
        The chat.
    n : int
        Completions asked for (the prompt is charged once).

    Returns
    -------
    int
        The bound, in tokens.
    """
    return sum(len(str(m.get("content", "")).encode("utf-8")) + 8 for m in messages) + 64


class ModelContractWarning(UserWarning):
    """A model reported more tokens than the call allowed (it ignored ``max_tokens``)."""


# --------------------------------------------------------------------------------------
# Budgets
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Budget:
    """A search budget.

    Parameters
    ----------
    tool_calls : int
        Tool executions allowed (answers are not tool calls), ``>= 0``.
    tokens : int
        Model tokens allowed, as reported by the model, ``>= 0``.
    count : {"total", "completion"}
        Which tokens count against ``tokens``: prompt plus completion (``"total"``, the
        default), or completion tokens only (``"completion"``, enforced exactly on any
        server since it needs no bound on prompt tokens).
    """

    tool_calls: int
    tokens: int
    count: str = "total"

    def __post_init__(self) -> None:
        for name in ("tool_calls", "tokens"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
                raise ValueError(f"Budget.{name} must be an integer >= 0, got {v!r}")
        if self.count not in ("total", "completion"):
            raise ValueError(f"Budget.count must be 'total' or 'completion', got {self.count!r}")


class OutOfBudget(Exception):
    """Raised inside a search when the next model call or tool call does not fit."""


class BudgetLedger:
    """Count tool calls and reported tokens against a :class:`Budget`; never overspend.

    Parameters
    ----------
    budget : Budget
        The limits.
    model : LanguageModel
        The model whose calls are counted.
    """

    def __init__(self, budget: Budget, model: LanguageModel) -> None:
        if not isinstance(budget, Budget):
            raise TypeError(f"budget must be a Budget, got {type(budget).__name__}")
        if not callable(getattr(model, "generate", None)):
            raise TypeError("model must have a generate(messages, *, n, max_tokens, temperature)"
                            " method (see games.value_tree.LanguageModel)")
        self.budget = budget
        self.model = model
        self.tokens_used = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.tool_calls_used = 0
        self.model_calls = 0
        self.model_overran = False
        self._bound = getattr(model, "prompt_token_bound", None) or default_prompt_token_bound

    @property
    def tokens_left(self) -> int:
        """Tokens still available."""
        return self.budget.tokens - self.tokens_used

    @property
    def tool_calls_left(self) -> int:
        """Tool calls still available."""
        return self.budget.tool_calls - self.tool_calls_used

    def remaining_fraction(self) -> float:
        """Return the fraction ``r`` of the scarcer budget left, in ``[0, 1]``."""
        fracs = []
        for left, total in ((self.tokens_left, self.budget.tokens),
                            (self.tool_calls_left, self.budget.tool_calls)):
            fracs.append(0.0 if total == 0 else max(left, 0) / total)
        return float(min(fracs))

    def prompt_bound(self, messages: Messages, n: int = 1) -> int:
        """Return the budgeted prompt tokens of a call: an upper bound, or 0 if not counted.

        The bound comes from the model's ``prompt_token_bound`` if it has one, else
        :func:`default_prompt_token_bound`.
        """
        if self.budget.count == "completion":
            return 0
        return int(self._bound(messages, n))

    def generate(
        self,
        messages: Messages,
        *,
        n: int = 1,
        max_tokens: int,
        temperature: float = 1.0,
        reserve: int = 0,
        min_tokens: int = 8,
    ) -> Generation:
        """Call the model if the call's worst case fits, leaving ``reserve`` tokens.

        ``max_tokens`` is lowered, and then ``n``, to fit; if not even one completion of
        ``min_tokens`` fits, :class:`OutOfBudget` is raised and nothing is spent.

        Parameters
        ----------
        messages : sequence of mapping
            The chat.
        n : int
            Completions wanted.
        max_tokens : int
            Tokens per completion wanted.
        temperature : float
            Sampling temperature.
        reserve : int
            Tokens that must remain after the call's worst case.
        min_tokens : int
            Smallest useful completion length.

        Returns
        -------
        Generation
            The model's reply; its usage is charged.
        """
        if self.model_overran:
            raise OutOfBudget("the model broke a max_tokens limit earlier; no more calls")
        while n >= 1:
            bound = self.prompt_bound(messages, n)
            afford = (self.tokens_left - reserve - bound) // n
            if afford >= min_tokens:
                break
            n -= 1
        else:
            raise OutOfBudget("no model call fits in the tokens left")
        max_tokens = int(min(max_tokens, afford))
        gen = self.model.generate(messages, n=n, max_tokens=max_tokens, temperature=temperature)
        if not isinstance(gen, Generation):
            raise TypeError(f"model.generate must return a Generation, got {type(gen).__name__}")
        self.model_calls += 1
        self.prompt_tokens += int(gen.prompt_tokens)
        self.completion_tokens += int(gen.completion_tokens)
        counted = gen.completion_tokens if self.budget.count == "completion" else gen.total_tokens
        self.tokens_used += int(counted)
        if (self.budget.count == "total" and gen.prompt_tokens > bound) \
                or gen.completion_tokens > n * max_tokens:
            self.model_overran = True
            warnings.warn(
                f"the model reported {gen.prompt_tokens} prompt and {gen.completion_tokens} "
                f"completion tokens for a call allowed {bound} and {n} x {max_tokens}; "
                "it ignores max_tokens or its prompt bound is wrong. The search stops calling it.",
                ModelContractWarning, stacklevel=2)
        return gen

    def use_tool(self) -> None:
        """Charge one tool call, or raise :class:`OutOfBudget` if none is left."""
        if self.tool_calls_left <= 0:
            raise OutOfBudget("no tool call left")
        self.tool_calls_used += 1


# --------------------------------------------------------------------------------------
# The search-problem interface
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Action:
    """One agent action: a tool call ``kind[argument]`` or the answer ``answer[text]``.

    Attributes
    ----------
    kind : str
        Tool name, or ``"answer"``.
    argument : str
        The tool's argument or the answer text.
    """

    kind: str
    argument: str

    @property
    def is_answer(self) -> bool:
        """True for a final answer (no tool is run)."""
        return self.kind == "answer"

    @property
    def text(self) -> str:
        """The action as the model writes it, ``kind[argument]``."""
        return f"{self.kind}[{self.argument}]"

    def key(self) -> tuple[str, str]:
        """Identity for duplicate detection: kind and case/space-folded argument."""
        return self.kind, " ".join(self.argument.lower().split())


class SearchProblem(ABC):
    """A task for tree search with a language model and tools.

    States are immutable values. A subclass supplies the prompts and runs the tools;
    the search supplies the critic prompts and does the budgeting.
    """

    @abstractmethod
    def initial_state(self) -> Hashable:
        """Return the state before any action."""

    @abstractmethod
    def action_messages(self, state: Hashable) -> list[dict[str, str]]:
        """Return the chat asking the model for the next action in ``state``."""

    @abstractmethod
    def parse_action(self, text: str) -> Action | None:
        """Return the action written in a completion, or None if there is none."""

    @abstractmethod
    def apply(self, state: Hashable, action: Action) -> Hashable:
        """Return the state after ``action`` (runs the tool for a tool call)."""

    @abstractmethod
    def answer(self, state: Hashable) -> str | None:
        """Return the final answer given in ``state``, or None if it has not answered."""

    @abstractmethod
    def describe(self, state: Hashable) -> str:
        """Return the task and the trajectory so far, as text for a critic."""

    @abstractmethod
    def describe_step(self, parent: Hashable, child: Hashable) -> str:
        """Return the step from ``parent`` to ``child`` (action and what it returned), as text."""

    @abstractmethod
    def final_messages(self, state: Hashable) -> list[dict[str, str]]:
        """Return the chat telling the model to answer now from ``state``."""

    @abstractmethod
    def fallback_answer(self, state: Hashable) -> str:
        """Return a non-empty answer from ``state`` alone, without a model (the last resort)."""

    def call_key(self, state: Hashable, action: Action) -> Hashable:
        """Return the identity of a tool call for duplicate detection.

        Two calls with equal keys on one path, or among one node's children, are
        duplicates: the second is pruned before it runs. The default, the action with
        the state it is made in, assumes deterministic tools; a task may widen it.
        """
        return action.key(), state

    def is_terminal(self, state: Hashable) -> bool:
        """Return True once the state holds a final answer."""
        return self.answer(state) is not None

    def normalize_answer(self, answer: str) -> str:
        """Key under which answers are counted as equal in a majority vote."""
        return " ".join(answer.lower().split())


# --------------------------------------------------------------------------------------
# Selection
# --------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------
# Critic prompts
# --------------------------------------------------------------------------------------
_RESIDUAL_SYSTEM = (
    "You are a strict critic of a tool-using research agent. Judge relative progress: "
    "for each candidate step, how much closer it brings the agent to a correct, "
    "well-supported final answer, compared with the trajectory before it. Do not rate "
    "how good the whole trajectory is, only the change the step makes. Score from -1 "
    "(misleading or a wrong answer) through 0 (no progress: redundant, uninformative, a "
    "failed search or a repeated call) to 1 (decisive progress, such as a final answer "
    "the observations support). Reply with one line per candidate, `[k] score`, and "
    "nothing else."
)

_ABSOLUTE_SYSTEM = (
    "You are a strict critic of a tool-using research agent. Rate how likely it is that "
    "the final answer in this trajectory is correct and supported by the observations, "
    "from 0 (certainly wrong or unsupported) to 1 (certainly right). Reply with the "
    "number only."
)


def residual_critic_messages(trajectory: str, steps: Sequence[str]) -> list[dict[str, str]]:
    """Build the residual critic prompt: rate each candidate step's progress over the parent.

    Parameters
    ----------
    trajectory : str
        The task and the trajectory up to the parent (``SearchProblem.describe``).
    steps : sequence of str
        The candidate steps (``SearchProblem.describe_step``), numbered from 1.

    Returns
    -------
    list of dict
        The chat.
    """
    listed = "\n".join(f"[{k}] {s}" for k, s in enumerate(steps, start=1))
    user = f"Trajectory so far:\n{trajectory}\n\nCandidate steps:\n{listed}\n\nScores:"
    return [{"role": "system", "content": _RESIDUAL_SYSTEM}, {"role": "user", "content": user}]


def absolute_critic_messages(trajectory: str) -> list[dict[str, str]]:
    """Build the absolute critic prompt (used by best-of-n): rate a finished trajectory."""
    user = f"Trajectory:\n{trajectory}\n\nRating:"
    return [{"role": "system", "content": _ABSOLUTE_SYSTEM}, {"role": "user", "content": user}]


_NUM = r"([+-]?(?:\d+(?:\.\d*)?|\.\d+))"


def parse_residual_scores(text: str, n: int) -> np.ndarray:
    """Scores ``[k] score`` from a residual critic reply, clipped to ``[-1, 1]``.

    A candidate the reply does not score gets 0 (no evidence of progress), which the
    search treats as non-improving.

    Parameters
    ----------
    text : str
        The critic's completion.
    n : int
        Number of candidates.

    Returns
    -------
    ndarray, shape (n,)
        The deltas.
    """
    out = np.zeros(n)
    for m in re.finditer(r"\[\s*(\d+)\s*\]\s*[:=]?\s*" + _NUM, text):
        k = int(m.group(1)) - 1
        if 0 <= k < n:
            x = float(m.group(2))
            out[k] = min(1.0, max(-1.0, x)) if math.isfinite(x) else 0.0
    return out


def parse_absolute_score(text: str) -> float:
    """Return the first number of an absolute critic reply, clipped to ``[0, 1]`` (0 if none)."""
    m = re.search(_NUM, text)
    if m is None:
        return 0.0
    x = float(m.group(1))
    return min(1.0, max(0.0, x)) if math.isfinite(x) else 0.0


# --------------------------------------------------------------------------------------
# Tree, result and backstop
# --------------------------------------------------------------------------------------
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


def result_from(ledger: BudgetLedger, method: str, answer: str, answered_by: str,
                trajectory: str, n_nodes: int = 0, n_pruned: int = 0) -> SearchResult:
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
        answer=answer, method=method, answered_by=answered_by, budget=ledger.budget,
        tokens_used=ledger.tokens_used, tool_calls_used=ledger.tool_calls_used,
        model_calls=ledger.model_calls, prompt_tokens=ledger.prompt_tokens,
        completion_tokens=ledger.completion_tokens, n_nodes=n_nodes, n_pruned=n_pruned,
        trajectory=trajectory, model_overran=ledger.model_overran)


def answer_reserve(problem: SearchProblem, ledger: BudgetLedger, state: Hashable,
                   answer_tokens: int) -> int:
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


# --------------------------------------------------------------------------------------
# BAVT
# --------------------------------------------------------------------------------------
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
    gen = ledger.generate(problem.action_messages(node.state), n=branching,
                          max_tokens=action_tokens, temperature=temperature, reserve=reserve)
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
                node.children.append(Node(state=node.state, value=node.value,
                                          depth=node.depth + 1, parent=node, action=action,
                                          pruned="duplicate tool call", key=key))
            continue
        seen.add(key)
        if not action.is_answer:
            ledger.use_tool()
        child = Node(state=problem.apply(node.state, action), value=node.value,
                     depth=node.depth + 1, parent=node, action=action, key=key)
        node.children.append(child)
        fresh.append(child)
    if not fresh:
        return []
    steps = [problem.describe_step(node.state, c.state) for c in fresh]
    critic = ledger.generate(residual_critic_messages(problem.describe(node.state), steps),
                             n=1, max_tokens=critic_tokens, temperature=0.0, reserve=reserve)
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
    for name, v in (("branching", branching), ("max_depth", max_depth),
                    ("max_expansions", max_expansions)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    if not 0.0 < root_value <= 1.0:
        raise ValueError(f"root_value must be in (0, 1], got {root_value!r}")
    ledger = BudgetLedger(budget, model)
    root = Node(state=problem.initial_state(), value=root_value)
    nodes = [root]

    def is_open(n: Node) -> bool:
        return (not n.pruned and not problem.is_terminal(n.state)
                and n.expansions < max_expansions and n.depth < max_depth)

    def unanswered() -> list[Node]:
        live = [n for n in nodes if not n.pruned and not problem.is_terminal(n.state)]
        return sorted(live, key=lambda n: (-n.value, -n.depth))

    with contextlib.suppress(OutOfBudget):
        while True:
            frontier = [n for n in nodes if is_open(n)]
            if not frontier:
                # Every open node is used up: reconsider steps pruned as non-improving
                # (the critic is noisy) rather than stop with budget left.
                revived = [n for n in nodes if n.pruned == "no progress"
                           and not problem.is_terminal(n.state)]
                for n in revived:
                    n.pruned = ""
                frontier = [n for n in revived if is_open(n)]
                if not frontier:
                    break
            best = max(frontier, key=lambda n: n.value)
            reserve = answer_reserve(problem, ledger, best.state, answer_tokens)
            p = selection_probabilities([n.value for n in frontier],
                                        ledger.remaining_fraction())
            node = frontier[int(rng.choice(len(frontier), p=p))]
            keys = {c.key for c in node.children}
            try:
                fresh = expand(problem, ledger, node, keys, branching=branching,
                               action_tokens=action_tokens, critic_tokens=critic_tokens,
                               temperature=temperature, prune_margin=prune_margin,
                               reserve=reserve)
            finally:
                nodes.extend(c for c in node.children if c not in nodes)
            done = [c for c in fresh if problem.is_terminal(c.state)]
            accepted = [c for c in done if not c.pruned]
            if accepted:
                win = max(accepted, key=lambda c: c.value)
                return result_from(ledger, "bavt", problem.answer(win.state) or "", "search",
                                   problem.describe(win.state), len(nodes),
                                   sum(bool(n.pruned) for n in nodes))
    answers = [n for n in nodes if problem.is_terminal(n.state)]
    answer, how, state = backstop(problem, ledger, unanswered() or [root], answers,
                                  answer_tokens=answer_tokens)
    return result_from(ledger, "bavt", answer, how, problem.describe(state), len(nodes),
                       sum(bool(n.pruned) for n in nodes))
