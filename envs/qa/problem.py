"""Actions, states and transitions of the QA task, and the task as a BAVT search problem.

Examples
--------
>>> from envs.qa.knowledge import KnowledgeBase, Page
>>> from envs.qa.problem import QAState, parse_action, step_state
>>> kb = KnowledgeBase([Page("Paris", "Paris is a city.", ("Paris is in France.",))])
>>> state = step_state(kb, QAState(), parse_action("search[Paris]"))
>>> state = step_state(kb, state, parse_action("lookup[France]"))
>>> state.page, state.steps[-1]
('Paris', ('lookup[France]', 'Paris is in France.'))
>>> step_state(kb, state, parse_action("answer[France]")).answer
'France'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from envs.qa.knowledge import KnowledgeBase, Question
from envs.qa.scoring import normalize_answer
from games.value_tree import Action, SearchProblem

__all__ = ["MultihopQAProblem", "QAState", "parse_action", "step_state", "transcript"]


_ACTION_RE = re.compile(r"\b(search|lookup|answer|finish)\s*\[([^\[\]\n]*)\]", re.IGNORECASE)


def parse_action(text: str) -> Action | None:
    """Read ``search[...]``, ``lookup[...]`` or ``answer[...]`` (``finish[...]``) from text.

    The action after the last ``Action:`` label wins; without a label, the first action
    in the text. Returns None if there is none or its argument is empty.

    Parameters
    ----------
    text : str
        A model completion or an env action.

    Returns
    -------
    Action or None
        The action.
    """
    idx = text.lower().rfind("action:")
    m = _ACTION_RE.search(text, idx if idx >= 0 else 0) or _ACTION_RE.search(text)
    if m is None:
        return None
    kind = m.group(1).lower()
    arg = " ".join(m.group(2).split())
    if not arg:
        return None
    return Action("answer" if kind == "finish" else kind, arg)


@dataclass(frozen=True)
class QAState:
    """An agent state: the steps so far, the open page and the answer if given.

    Attributes
    ----------
    steps : tuple of (str, str)
        ``(action text, observation)`` pairs.
    page : str or None
        Title of the open page.
    answer : str or None
        The final answer once given.
    """

    steps: tuple[tuple[str, str], ...] = ()
    page: str | None = None
    answer: str | None = None


def step_state(kb: KnowledgeBase, state: QAState, action: Action) -> QAState:
    """Apply one action to a state with the knowledge base's tools.

    Parameters
    ----------
    kb : KnowledgeBase
        The tools.
    state : QAState
        Before.
    action : Action
        ``search``, ``lookup`` or ``answer``.

    Returns
    -------
    QAState
        After; the observation is the last step's second item.
    """
    if action.kind == "search":
        title, obs = kb.search(action.argument)
        page = title if title is not None else state.page
        return QAState((*state.steps, (action.text, obs)), page, None)
    if action.kind == "lookup":
        obs = kb.lookup(state.page, action.argument)
        return QAState((*state.steps, (action.text, obs)), state.page, None)
    if action.kind == "answer":
        return QAState((*state.steps, (action.text, "")), state.page, action.argument)
    raise ValueError(f"unknown action kind {action.kind!r}; expected search, lookup or answer")


def transcript(question: str, state: QAState) -> str:
    """Return the question and the numbered actions and observations of ``state``."""
    lines = [f"Question: {question}"]
    for k, (act, obs) in enumerate(state.steps, start=1):
        lines.append(f"Action {k}: {act}")
        if obs:
            lines.append(f"Observation {k}: {obs}")
    return "\n".join(lines)


_SYSTEM = (
    "You answer multi-hop questions by using tools on a knowledge base, one action at a "
    "time. Available actions:\n"
    "search[entity]: open the page of an entity and see its summary.\n"
    "lookup[keyword]: show the sentences of the open page that contain the keyword, "
    "such as a relation name.\n"
    "answer[text]: give the final answer, a short entity name, and stop.\n"
    "Work from the innermost part of the question outwards. Reply with one line "
    "`Action: <action>`, optionally after one line `Thought: <reasoning>`."
)
_FINAL = (
    "No tool calls are left: give your final answer now, as one line "
    "`Action: answer[<short answer>]`, using the observations so far."
)


class MultihopQAProblem(SearchProblem):
    """A :class:`Question` as a search problem for BAVT and its baselines.

    Parameters
    ----------
    question : Question
        The question and its knowledge base.
    """

    def __init__(self, question: Question) -> None:
        if not isinstance(question, Question):
            raise TypeError(f"question must be a Question, got {type(question).__name__}")
        self.question = question

    def initial_state(self) -> QAState:
        """Return the empty state."""
        return QAState()

    def action_messages(self, state: QAState) -> list[dict[str, str]]:
        """Return the ReAct prompt for the next action."""
        user = transcript(self.question.question, state) + "\nNext action?"
        return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]

    def parse_action(self, text: str) -> Action | None:
        """Read an action from a completion (see :func:`parse_action`)."""
        return parse_action(text)

    def call_key(self, state: QAState, action: Action) -> tuple:
        """Return a search's entity, or a lookup's keyword with the open page."""
        page = state.page if action.kind == "lookup" else None
        return (*action.key(), page and normalize_answer(page))

    def apply(self, state: QAState, action: Action) -> QAState:
        """Run the action's tool on the question's knowledge base."""
        return step_state(self.question.kb, state, action)

    def answer(self, state: QAState) -> str | None:
        """Return the state's answer, if given."""
        return state.answer

    def describe(self, state: QAState) -> str:
        """Return the question and the numbered steps."""
        return transcript(self.question.question, state)

    def describe_step(self, parent: QAState, child: QAState) -> str:
        """Return the child's last action and observation."""
        act, obs = child.steps[-1]
        return f"Action: {act}" + (f"\nObservation: {obs}" if obs else "")

    def final_messages(self, state: QAState) -> list[dict[str, str]]:
        """Return the prompt forcing a final answer."""
        user = transcript(self.question.question, state) + "\n" + _FINAL
        return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]

    def fallback_answer(self, state: QAState) -> str:
        """Return the object of the last fact looked up, else the open page, else "unknown"."""
        for act, obs in reversed(state.steps):
            if act.startswith("lookup["):
                m = re.search(r"\bis (.+?)\.(?:\s|$)", obs)
                if m:
                    return m.group(1)
        return state.page or "unknown"

    def normalize_answer(self, answer: str) -> str:
        """Return the SQuAD-normalised answer (votes count equal answers together)."""
        return normalize_answer(answer)
