"""Budget-aware value tree search (BAVT) for tool-using language-model agents.

The search treats multi-hop reasoning as a tree: a node is an agent state (a question
and the tool calls made so far), an edge is one action proposed by the language model.
How each claim of the BAVT paper (``shared/papers/bavt-value-tree-search.md``) is built:

- *"a budget-conditioned node selection mechanism that uses the remaining resource
  ratio as a natural scaling exponent over node values ... from broad exploration to
  greedy exploitation as the budget depletes"*: an open node is drawn with probability
  ``p_i ∝ value_i ** (1 / r)``, ``r`` the fraction of the scarcer budget (tokens or
  tool calls) left (:func:`selection_probabilities`). The exponent is ``1 / r`` rather
  than ``r``: ``value ** r`` would flatten to uniform as ``r -> 0``, the opposite of
  the stated transition; ``1 / r`` gives value-proportional sampling at a full budget
  and greedy selection as it runs out, with no parameter;
- *"a residual value predictor that scores relative progress rather than absolute
  state quality"*: one critic call (same model) rates each new child's progress over
  its parent in ``[-1, 1]`` (:func:`residual_critic_messages`), and
  ``value(child) = value(parent) + delta``;
- *"pruning of uninformative or redundant tool calls"*: a child with
  ``delta <= prune_margin`` is pruned, and a tool call repeated on the path or among
  siblings is pruned before it runs, so it costs nothing (:func:`expand`). Pruned nodes
  are never selected while an unpruned node is open; only when none is left are the
  non-improving ones reconsidered (the critic is noisy), so the search keeps expanding
  while budget is left, which the guarantee below needs;
- *"reaches a terminal answer with probability at least 1 - ε under an explicit finite
  budget bound"*: :func:`terminal_budget_bound` gives the budget (tool calls, tokens)
  after which the search has ended with an accepted answer with probability
  ``>= 1 - ε`` when every expansion ends it with probability at least ``q``; and when a
  budget runs out first, a final-answer backstop still returns an answer, with a model
  call if one is affordable and from the state alone otherwise (:func:`backstop`).

Budgets (:class:`Budget`) are in tool calls and tokens (prompt plus completion, or
completion only), counted from the usage the model reports (:class:`Generation`);
before every call the :class:`BudgetLedger` checks that the call's worst case fits, so
a budget is never exceeded by a model that honours ``max_tokens``. A budget of zero
still yields an answer.

This package knows nothing of any particular task: a task implements
:class:`SearchProblem`. The modules: :mod:`~games.value_tree.budget` (model protocol,
ledger), :mod:`~games.value_tree.problem` (task interface),
:mod:`~games.value_tree.critic` (critic prompts), :mod:`~games.value_tree.tree` (nodes,
results, backstop), :mod:`~games.value_tree.search` (selection, expansion, BAVT). The
baselines (ReAct chain, parallel sampling with majority vote, best-of-n by value, beam
search) are in :mod:`games.search_baselines`.

Examples
--------
A run on the multi-hop QA task of :mod:`envs.multihop_qa_v0` with the offline simulated
model of :mod:`envs.llm`:

>>> import numpy as np
>>> from envs.llm import SimulatedQAModel
>>> from envs.multihop_qa_v0 import MultihopQAProblem, generate_questions
>>> from games.value_tree import Budget, bavt
>>> [q] = generate_questions(np.random.default_rng(0), 1, min_hops=2, max_hops=2)
>>> model = SimulatedQAModel([q], skill=1.0, value_noise=0.0, seed=0)
>>> result = bavt(MultihopQAProblem(q), model, Budget(4, 3000), rng=np.random.default_rng(0))
>>> result.answer == q.answer, result.tool_calls_used <= 4, result.tokens_used <= 3000
(True, True, True)
"""

from games.value_tree.budget import (
    Budget,
    BudgetLedger,
    Generation,
    LanguageModel,
    Messages,
    ModelContractWarning,
    OutOfBudget,
    default_prompt_token_bound,
)
from games.value_tree.critic import (
    absolute_critic_messages,
    parse_absolute_score,
    parse_residual_scores,
    residual_critic_messages,
)
from games.value_tree.problem import Action, SearchProblem
from games.value_tree.search import (
    TerminalBound,
    bavt,
    expand,
    selection_probabilities,
    terminal_budget_bound,
)
from games.value_tree.tree import Node, SearchResult, answer_reserve, backstop, result_from

__all__ = [
    "Action",
    "Budget",
    "BudgetLedger",
    "Generation",
    "LanguageModel",
    "Messages",
    "ModelContractWarning",
    "Node",
    "OutOfBudget",
    "SearchProblem",
    "SearchResult",
    "TerminalBound",
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
    "terminal_budget_bound",
]
