"""The task interface of the search: actions and :class:`SearchProblem`.

A task (such as :class:`envs.multihop_qa_v0.MultihopQAProblem`) supplies the prompts,
parses the model's actions and runs the tools; the search does the budgeting and the
critic prompts.

Examples
--------
>>> from games.value_tree.problem import Action
>>> action = Action("search", "Ada  Lovelace")
>>> action.text, action.is_answer, action.key()       # the key folds case and spaces
('search[Ada  Lovelace]', False, ('search', 'ada lovelace'))
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable
from dataclasses import dataclass

__all__ = ["Action", "SearchProblem"]


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
