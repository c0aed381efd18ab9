"""Tool-using multi-hop question answering over a knowledge base (Gymnasium).

=====================  ==============================================================
Agents                 one (single-agent Gymnasium env, id ``swarmgym/MultihopQA-v0``)
Action space           ``Text``: ``search[entity]``, ``lookup[keyword]``, ``answer[text]``
Observation space      ``Text``: the question and the last tool result
Rewards                F1 (or EM) of the answer against the gold answer, on ``answer``;
                       ``-step_cost`` for each search or lookup
Termination            on ``answer``
Truncation             after ``max_steps`` actions
=====================  ==============================================================

``search[entity]`` opens an entity's page and shows its summary (for generated
questions, the relations the page records; a missed search lists similar titles);
``lookup[keyword]`` returns the sentences of the open page that contain the keyword;
``answer[text]`` ends the episode. Anything else is an invalid action: the episode goes
on with an error message as the observation.

Questions come from a random knowledge graph generated at every ``reset`` (2 to 4
hops: "What is the capital of the country of the birthplace of Varo Melik?"), or from
a list of :class:`Question` such as :func:`load_hotpotqa` returns. Scores are SQuAD /
HotpotQA exact match and F1 after the standard normalisation (:func:`normalize_answer`).
:class:`MultihopQAProblem` exposes a question as a
:class:`games.value_tree.SearchProblem` for BAVT and its baselines. The parts live in
:mod:`envs.qa` (``scoring``, ``knowledge``, ``generate``, ``hotpotqa``, ``problem``);
their public names are re-exported here.

Arguments
---------
questions : questions to draw from (default: generate one per reset).
hotpotqa_path : a HotpotQA-style JSON file to load the questions from.
n_entities : entities of the generated knowledge graph (>= 10).
min_hops, max_hops : hop range of generated questions (2 <= min <= max <= 4).
max_steps : actions before truncation.
reward : ``"f1"`` or ``"em"``.
step_cost : reward subtracted per tool call (>= 0).
max_observation_length, max_action_length : lengths of the Text spaces.
render_mode : ``"ansi"`` (returns the transcript) or ``"human"`` (prints it).

Examples
--------
>>> from envs.multihop_qa_v0 import MultihopQAEnv
>>> env = MultihopQAEnv(min_hops=2, max_hops=2)
>>> obs, info = env.reset(seed=0)
>>> obs.startswith("Question: "), info["hops"]
(True, 2)
>>> obs, reward, terminated, truncated, info = env.step("answer[no idea]")
>>> reward, terminated, truncated
(0.0, True, False)
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import gymnasium
from gymnasium import spaces

from envs.qa.generate import generate_questions, random_knowledge_graph
from envs.qa.hotpotqa import load_hotpotqa
from envs.qa.knowledge import KnowledgeBase, Page, Question
from envs.qa.problem import MultihopQAProblem, QAState, parse_action, step_state, transcript
from envs.qa.scoring import exact_match, f1_score, normalize_answer
from protocols.checks import check_int

__all__ = [
    "CHARSET",
    "GYM_TEST_KWARGS",
    "KnowledgeBase",
    "MultihopQAEnv",
    "MultihopQAProblem",
    "Page",
    "QAState",
    "Question",
    "exact_match",
    "f1_score",
    "generate_questions",
    "load_hotpotqa",
    "normalize_answer",
    "parse_action",
    "random_knowledge_graph",
    "sanitize",
    "step_state",
]


#: Characters allowed in observations and actions: printable ASCII and Latin-1 letters.
CHARSET = frozenset(ch for ch in string.printable if ch not in "\x0b\x0c\r") | frozenset(
    chr(c) for c in range(0xC0, 0x100) if chr(c).isalpha()
)


def sanitize(text: str, limit: int) -> str:
    """Map ``text`` into :data:`CHARSET` (accents stripped, else ``?``), cut to ``limit``."""
    if limit < 3:
        raise ValueError(f"limit must be >= 3, got {limit!r}")
    out = []
    for ch in text:
        if ch in CHARSET:
            out.append(ch)
        else:
            base = "".join(c for c in unicodedata.normalize("NFKD", ch) if c in CHARSET)
            out.append(base or "?")
    s = "".join(out)
    return s if len(s) <= limit else s[: limit - 3] + "..."


class MultihopQAEnv(gymnasium.Env):
    """Multi-hop QA with search/lookup/answer tools; see the module docstring."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi", "human"], "render_fps": 1}

    def __init__(
        self,
        *,
        questions: Sequence[Question] | None = None,
        hotpotqa_path: str | Path | None = None,
        n_entities: int = 40,
        min_hops: int = 2,
        max_hops: int = 4,
        max_steps: int = 16,
        reward: str = "f1",
        step_cost: float = 0.0,
        max_observation_length: int = 2000,
        max_action_length: int = 200,
        render_mode: str | None = None,
    ) -> None:
        if questions is not None and hotpotqa_path is not None:
            raise ValueError("give questions or hotpotqa_path, not both")
        if hotpotqa_path is not None:
            questions = load_hotpotqa(hotpotqa_path)
        if questions is not None:
            questions = list(questions)
            if not questions or not all(isinstance(q, Question) for q in questions):
                raise ValueError("questions must be a non-empty sequence of Question")
        self.questions = questions
        check_int("n_entities", n_entities, low=10)
        if not (
            isinstance(min_hops, int)
            and isinstance(max_hops, int)
            and 2 <= min_hops <= max_hops <= 4
        ):
            raise ValueError(f"need 2 <= min_hops <= max_hops <= 4, got {min_hops}, {max_hops}")
        check_int("max_steps", max_steps, low=1)
        if reward not in ("f1", "em"):
            raise ValueError(f"reward must be 'f1' or 'em', got {reward!r}")
        if not (isinstance(step_cost, int | float) and step_cost >= 0):
            raise ValueError(f"step_cost must be a number >= 0, got {step_cost!r}")
        for name, v in (
            ("max_observation_length", max_observation_length),
            ("max_action_length", max_action_length),
        ):
            check_int(name, v, low=16)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None, 'ansi' or 'human', got {render_mode!r}")
        self.n_entities, self.min_hops, self.max_hops = n_entities, min_hops, max_hops
        self.max_steps, self.reward_kind, self.step_cost = max_steps, reward, float(step_cost)
        self.max_observation_length = max_observation_length
        self.render_mode = render_mode
        self.observation_space = spaces.Text(max_observation_length, min_length=1, charset=CHARSET)
        self.action_space = spaces.Text(max_action_length, min_length=1, charset=CHARSET)
        self.question: Question | None = None
        self.state = QAState()

    def _obs(self, last: str | None) -> str:
        assert self.question is not None
        head = f"Question: {self.question.question}"
        if last is not None:
            head += f"\nObservation {len(self.state.steps)}: {last}"
        return sanitize(head, self.max_observation_length)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start an episode; ``options={"index": i}`` picks question ``i`` of a list."""
        super().reset(seed=seed)
        options = options or {}
        if self.questions is not None:
            idx = options.get("index")
            if idx is None:
                idx = int(self.np_random.integers(len(self.questions)))
            if not isinstance(idx, int) or not 0 <= idx < len(self.questions):
                raise ValueError(f"options['index'] must be in [0, {len(self.questions)})")
            self.question = self.questions[idx]
        else:
            self.question = generate_questions(
                self.np_random,
                1,
                n_entities=self.n_entities,
                min_hops=self.min_hops,
                max_hops=self.max_hops,
            )[0]
        self.state = QAState()
        info = {"qid": self.question.qid, "hops": self.question.hops, "tool_calls": 0}
        return self._obs(None), info

    def step(self, action: str):
        """Apply one text action; see the module docstring."""
        if self.question is None:
            raise RuntimeError("call reset() before step()")
        if not isinstance(action, str):
            raise TypeError(f"action must be a str, got {type(action).__name__}")
        parsed = parse_action(action)
        reward, terminated, info = 0.0, False, {}
        if parsed is None:
            last = "Invalid action: expected search[entity], lookup[keyword] or answer[text]."
            self.state = QAState(
                (*self.state.steps, (sanitize(action, 80), last)), self.state.page, None
            )
        else:
            self.state = step_state(self.question.kb, self.state, parsed)
            last = self.state.steps[-1][1]
            if parsed.is_answer:
                em = exact_match(parsed.argument, self.question.answer)
                f1 = f1_score(parsed.argument, self.question.answer)
                reward = f1 if self.reward_kind == "f1" else em
                terminated = True
                last = f"Answered [{parsed.argument}]."
                info = {"em": em, "f1": f1, "gold_answer": self.question.answer}
            else:
                reward = -self.step_cost
        info["tool_calls"] = sum(
            1 for a, _ in self.state.steps if a.startswith(("search[", "lookup["))
        )
        truncated = not terminated and len(self.state.steps) >= self.max_steps
        if self.render_mode == "human":
            print(self.render_text())
        return self._obs(last), float(reward), terminated, truncated, info

    def render_text(self) -> str:
        """Return the episode's transcript so far."""
        if self.question is None:
            return "(no episode: call reset())"
        return transcript(self.question.question, self.state)

    def render(self):
        """Return the transcript (``"ansi"``) or print it (``"human"``)."""
        if self.render_mode == "ansi":
            return self.render_text()
        if self.render_mode == "human":
            print(self.render_text())
        return None


#: Small arguments for the Gymnasium conformance check.
GYM_TEST_KWARGS = {"swarmgym/MultihopQA-v0": {"n_entities": 20, "max_steps": 8}}
