"""Model calls and budgets of a search: the model protocol and the budget ledger.

A :class:`LanguageModel` returns a :class:`Generation` (texts and the token usage it
reports). A :class:`BudgetLedger` counts tool calls and reported tokens against a
:class:`Budget` and checks, before every call, that the call's worst case (an upper
bound on the prompt plus ``n * max_tokens``) fits, so a budget is never exceeded by a
model that honours ``max_tokens``; when nothing fits it raises :class:`OutOfBudget`.

Examples
--------
>>> from games.value_tree.budget import Budget, BudgetLedger, Generation
>>> class Yes:                                  # any object with this generate()
...     def generate(self, messages, *, n=1, max_tokens=256, temperature=1.0):
...         return Generation(("answer[yes]",) * n, 20, 3 * n)
>>> ledger = BudgetLedger(Budget(tool_calls=2, tokens=500), Yes())
>>> ledger.generate([{"role": "user", "content": "Is it?"}], max_tokens=8).texts
('answer[yes]',)
>>> ledger.use_tool()
>>> ledger.tokens_used, ledger.tokens_left, ledger.tool_calls_left   # 20 + 3 tokens
(23, 477, 1)
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from protocols.checks import check_int

__all__ = [
    "Budget",
    "BudgetLedger",
    "Generation",
    "LanguageModel",
    "Messages",
    "ModelContractWarning",
    "OutOfBudget",
    "default_prompt_token_bound",
]

#: A chat: ``[{"role": ..., "content": ...}, ...]`` (OpenAI chat format).
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
            check_int(f"Budget.{name}", v, low=0)
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
            raise TypeError(
                "model must have a generate(messages, *, n, max_tokens, temperature)"
                " method (see games.value_tree.LanguageModel)"
            )
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
        for left, total in (
            (self.tokens_left, self.budget.tokens),
            (self.tool_calls_left, self.budget.tool_calls),
        ):
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
        if (
            self.budget.count == "total" and gen.prompt_tokens > bound
        ) or gen.completion_tokens > n * max_tokens:
            self.model_overran = True
            warnings.warn(
                f"the model reported {gen.prompt_tokens} prompt and {gen.completion_tokens} "
                f"completion tokens for a call allowed {bound} and {n} x {max_tokens}; "
                "it ignores max_tokens or its prompt bound is wrong. The search stops calling it.",
                ModelContractWarning,
                stacklevel=2,
            )
        return gen

    def use_tool(self) -> None:
        """Charge one tool call, or raise :class:`OutOfBudget` if none is left."""
        if self.tool_calls_left <= 0:
            raise OutOfBudget("no tool call left")
        self.tool_calls_used += 1
