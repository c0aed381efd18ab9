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
:class:`games.value_tree.SearchProblem` for BAVT and its baselines.

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
"""

from __future__ import annotations

import collections
import difflib
import json
import re
import string
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import gymnasium
import numpy as np
from gymnasium import spaces

from games.value_tree import Action, SearchProblem

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

# --------------------------------------------------------------------------------------
# Answer normalisation and scores (SQuAD v1.1 / HotpotQA evaluation scripts)
# --------------------------------------------------------------------------------------
_PUNCT = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """Normalise an answer as the SQuAD and HotpotQA evaluation scripts do.

    Lower case, drop punctuation, drop the articles *a*, *an*, *the*, collapse spaces.

    Parameters
    ----------
    text : str
        An answer.

    Returns
    -------
    str
        The normalised answer.
    """
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCT)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction: str, gold: str) -> float:
    """Return 1.0 if the normalised prediction equals the normalised gold answer, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1_score(prediction: str, gold: str) -> float:
    """Token-level F1 of the normalised answers (HotpotQA's rule for yes/no included).

    A prediction or gold answer of *yes*, *no* or *noanswer* scores 0 unless both are
    equal; two empty answers score 1, one empty answer 0.

    Parameters
    ----------
    prediction, gold : str
        The answers.

    Returns
    -------
    float
        F1 in ``[0, 1]``.
    """
    pred, ref = normalize_answer(prediction), normalize_answer(gold)
    special = {"yes", "no", "noanswer"}
    if (pred in special or ref in special) and pred != ref:
        return 0.0
    p_toks, g_toks = pred.split(), ref.split()
    if not p_toks or not g_toks:
        return float(p_toks == g_toks)
    common = collections.Counter(p_toks) & collections.Counter(g_toks)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p_toks), same / len(g_toks)
    return 2 * precision * recall / (precision + recall)


# --------------------------------------------------------------------------------------
# Knowledge base
# --------------------------------------------------------------------------------------
def _key(title: str) -> str:
    """Fold case, accents and punctuation, so ``search[zurich]`` finds "Zürich"."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", title.lower())
                    if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w\s]", " ", plain).split())


@dataclass(frozen=True)
class Page:
    """A knowledge-base page: what ``search`` shows and what ``lookup`` searches."""

    title: str
    summary: str
    sentences: tuple[str, ...]


@dataclass
class KnowledgeBase:
    """Pages by title, with the ``search`` and ``lookup`` tools.

    Parameters
    ----------
    pages : sequence of Page
        The pages; titles must be distinct after case and punctuation folding.
    max_lookup_results : int
        Most sentences a lookup returns.
    """

    pages: Sequence[Page]
    max_lookup_results: int = 3
    _index: dict[str, Page] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._index = {}
        for page in self.pages:
            k = _key(page.title)
            if k in self._index:
                raise ValueError(f"pages: duplicate title {page.title!r}")
            self._index[k] = page

    def page(self, title: str) -> Page | None:
        """Return the page titled ``title`` (case and punctuation folded), if any."""
        return self._index.get(_key(title))

    def search(self, query: str) -> tuple[str | None, str]:
        """Open the page of ``query``: its title (None if missing) and what is shown."""
        page = self.page(query)
        if page is not None:
            return page.title, page.summary
        close = difflib.get_close_matches(_key(query), list(self._index), n=3, cutoff=0.6)
        similar = ", ".join(self._index[c].title for c in close)
        hint = f" Similar: [{similar}]." if similar else ""
        return None, f"Could not find [{query}].{hint}"

    def lookup(self, title: str | None, keyword: str) -> str:
        """Return the sentences of page ``title`` containing ``keyword`` (case-folded)."""
        if title is None:
            return "No page is open: search an entity first."
        kw = " ".join(keyword.lower().split())
        if not kw:
            return "Empty keyword."
        hits = [s for s in self._index[_key(title)].sentences if kw in s.lower()]
        if not hits:
            return f"No sentence of [{title}] mentions [{keyword}]."
        return " ".join(hits[: self.max_lookup_results])


@dataclass(frozen=True)
class Question:
    """A question over a knowledge base.

    Attributes
    ----------
    qid : str
        Identifier.
    question : str
        The question text.
    answer : str
        The gold answer.
    kb : KnowledgeBase
        Where the tools look.
    hops : int
        Hops needed (0 when unknown).
    path : tuple of str
        Entities along the gold chain, start first and answer last (generated
        questions; empty for loaded ones).
    relations : tuple of str
        Relations along the chain (``len(path) - 1`` of them).
    """

    qid: str
    question: str
    answer: str
    kb: KnowledgeBase = field(repr=False, compare=False)
    hops: int = 0
    path: tuple[str, ...] = ()
    relations: tuple[str, ...] = ()

    def fact(self, i: int) -> str:
        """Return the sentence stating hop ``i`` (0-based) of the gold chain."""
        return _fact(self.path[i], self.relations[i], self.path[i + 1])


# --------------------------------------------------------------------------------------
# Random knowledge graphs and generated questions
# --------------------------------------------------------------------------------------
_SCHEMA: dict[str, tuple[tuple[str, str], ...]] = {
    "person": (("birthplace", "city"), ("employer", "company"), ("spouse", "person"),
               ("mentor", "person"), ("alma mater", "university")),
    "city": (("country", "country"), ("mayor", "person"), ("twin town", "city")),
    "company": (("headquarters", "city"), ("founder", "person"), ("owner", "company")),
    "country": (("capital", "city"), ("head of state", "person")),
    "university": (("location", "city"), ("president", "person")),
}
_TYPE_SHARE = {"person": 0.4, "city": 0.2, "company": 0.15, "country": 0.1, "university": 0.15}
_SYLLABLES = ("ka", "ro", "mi", "ta", "lo", "ve", "sa", "ni", "do", "ra", "bel", "tor", "vin",
              "mar", "sel", "quo", "zen", "fa", "li", "gu", "pe", "sha", "dro", "nel")


def _fact(subject: str, relation: str, obj: str) -> str:
    return f"The {relation} of {subject} is {obj}."


def _word(rng: np.random.Generator, lo: int = 2, hi: int = 3) -> str:
    k = int(rng.integers(lo, hi + 1))
    return "".join(_SYLLABLES[int(i)] for i in rng.integers(len(_SYLLABLES), size=k)).title()


def _name(kind: str, rng: np.random.Generator) -> str:
    w = _word(rng)
    if kind == "person":
        return f"{w} {_word(rng)}"
    if kind == "company":
        return f"{w} {('Corp', 'Works', 'Ltd', 'Group')[int(rng.integers(4))]}"
    if kind == "country":
        return f"{w}{('ia', 'land', 'stan', 'ora')[int(rng.integers(4))]}"
    if kind == "university":
        return f"University of {w}"
    return w


def random_knowledge_graph(
    rng: np.random.Generator, n_entities: int = 40
) -> tuple[KnowledgeBase, dict[str, str], dict[str, dict[str, str]]]:
    """Generate a random typed knowledge graph and its pages.

    Every entity gets every relation of its type (person: birthplace, employer, spouse,
    mentor, alma mater; city: country, mayor, twin town; company: headquarters, founder,
    owner; country: capital, head of state; university: location, president), each
    pointing to a uniformly random other entity of the right type.

    Parameters
    ----------
    rng : numpy.random.Generator
        Randomness.
    n_entities : int
        Number of entities, ``>= 10``.

    Returns
    -------
    kb : KnowledgeBase
        One page per entity.
    types : dict
        Entity -> type.
    facts : dict
        Entity -> relation -> object.
    """
    if isinstance(n_entities, bool) or not isinstance(n_entities, int) or n_entities < 10:
        raise ValueError(f"n_entities must be an integer >= 10, got {n_entities!r}")
    kinds = list(_TYPE_SHARE)
    counts = {k: max(2, round(_TYPE_SHARE[k] * n_entities)) for k in kinds}
    names: dict[str, list[str]] = {k: [] for k in kinds}
    used: set[str] = set()
    for kind in kinds:
        while len(names[kind]) < counts[kind]:
            nm = _name(kind, rng)
            if _key(nm) not in used:
                used.add(_key(nm))
                names[kind].append(nm)
    types = {nm: kind for kind in kinds for nm in names[kind]}
    facts: dict[str, dict[str, str]] = {}
    for ent, kind in types.items():
        facts[ent] = {}
        for rel, target in _SCHEMA[kind]:
            pool = [x for x in names[target] if x != ent]
            facts[ent][rel] = pool[int(rng.integers(len(pool)))]
    pages = []
    for ent, kind in types.items():
        rels = ", ".join(facts[ent])
        summary = f"{ent} is a {kind}. The page records: {rels}."
        sentences = tuple(_fact(ent, r, o) for r, o in facts[ent].items())
        pages.append(Page(ent, summary, sentences))
    return KnowledgeBase(pages), types, facts


def _phrase(relations: Sequence[str], start: str) -> str:
    inner = start
    for rel in relations:
        inner = f"the {rel} of {inner}"
    return f"What is {inner}?"


def generate_questions(
    rng: np.random.Generator,
    n_questions: int,
    *,
    n_entities: int = 40,
    min_hops: int = 2,
    max_hops: int = 4,
) -> list[Question]:
    """Generate multi-hop questions over one random knowledge graph.

    Each question follows a random walk of ``hops`` relations from a random entity,
    visiting no entity twice; its answer is the walk's end. Hop counts are uniform in
    ``[min_hops, max_hops]``.

    Parameters
    ----------
    rng : numpy.random.Generator
        Randomness.
    n_questions : int
        Questions to generate, ``>= 1``.
    n_entities : int
        Entities of the graph.
    min_hops, max_hops : int
        Hop range, ``2 <= min_hops <= max_hops <= 4``.

    Returns
    -------
    list of Question
        The questions, sharing one knowledge base.
    """
    if isinstance(n_questions, bool) or not isinstance(n_questions, int) or n_questions < 1:
        raise ValueError(f"n_questions must be an integer >= 1, got {n_questions!r}")
    if not (isinstance(min_hops, int) and isinstance(max_hops, int)
            and 2 <= min_hops <= max_hops <= 4):
        raise ValueError(f"need 2 <= min_hops <= max_hops <= 4, got {min_hops}, {max_hops}")
    kb, _types, facts = random_knowledge_graph(rng, n_entities)
    entities = list(facts)
    out: list[Question] = []
    while len(out) < n_questions:
        hops = int(rng.integers(min_hops, max_hops + 1))
        path = [entities[int(rng.integers(len(entities)))]]
        rels: list[str] = []
        while len(rels) < hops:
            options = [r for r, o in facts[path[-1]].items() if o not in path]
            if not options:
                break
            rel = options[int(rng.integers(len(options)))]
            rels.append(rel)
            path.append(facts[path[-1]][rel])
        if len(rels) < hops:
            continue
        out.append(Question(qid=f"gen-{len(out)}", question=_phrase(rels, path[0]),
                            answer=path[-1], kb=kb, hops=hops, path=tuple(path),
                            relations=tuple(rels)))
    return out


def load_hotpotqa(path: str | Path, *, limit: int | None = None) -> list[Question]:
    """Load HotpotQA-style questions from a JSON file on disk.

    The file is a list of records with ``question``, ``answer`` and ``context`` (a list
    of ``[title, [sentence, ...]]``), and optionally ``_id``, ``supporting_facts`` and
    ``level``, as in the HotpotQA distractor and fullwiki sets. Each question gets its
    own knowledge base of its context paragraphs: ``search`` shows a paragraph's first
    sentence, ``lookup`` searches all of them.

    Parameters
    ----------
    path : str or Path
        The JSON file.
    limit : int, optional
        Load at most this many questions.

    Returns
    -------
    list of Question
        The questions (``hops`` is the number of distinct supporting titles, or 0).
    """
    path = Path(path)
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(records, list):
        raise ValueError(f"{path}: expected a JSON list of question records")
    out = []
    for i, rec in enumerate(records[:limit] if limit is not None else records):
        where = f"{path}: record {i}"
        if not isinstance(rec, dict):
            raise ValueError(f"{where}: expected an object")
        for key in ("question", "answer", "context"):
            if key not in rec:
                raise ValueError(f"{where}: missing key {key!r}")
        pages: dict[str, Page] = {}
        for item in rec["context"]:
            if (not isinstance(item, list | tuple) or len(item) != 2
                    or not isinstance(item[0], str) or not isinstance(item[1], list)):
                raise ValueError(f"{where}: context items must be [title, [sentences]]")
            title, sents = item[0], tuple(" ".join(str(s).split()) for s in item[1])
            if _key(title) in {_key(t) for t in pages}:
                continue
            pages[title] = Page(title, sents[0] if sents else "", sents)
        support = {t for t, *_ in rec.get("supporting_facts", []) if isinstance(t, str)}
        out.append(Question(qid=str(rec.get("_id", i)), question=str(rec["question"]),
                            answer=str(rec["answer"]), kb=KnowledgeBase(list(pages.values())),
                            hops=len(support)))
    return out


# --------------------------------------------------------------------------------------
# Actions, states and transitions (shared by the env and the search problem)
# --------------------------------------------------------------------------------------
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


def _transcript(question: str, state: QAState) -> str:
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
_FINAL = ("No tool calls are left: give your final answer now, as one line "
          "`Action: answer[<short answer>]`, using the observations so far.")


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
        user = _transcript(self.question.question, state) + "\nNext action?"
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
        return _transcript(self.question.question, state)

    def describe_step(self, parent: QAState, child: QAState) -> str:
        """Return the child's last action and observation."""
        act, obs = child.steps[-1]
        return f"Action: {act}" + (f"\nObservation: {obs}" if obs else "")

    def final_messages(self, state: QAState) -> list[dict[str, str]]:
        """Return the prompt forcing a final answer."""
        user = _transcript(self.question.question, state) + "\n" + _FINAL
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


# --------------------------------------------------------------------------------------
# The Gymnasium environment
# --------------------------------------------------------------------------------------
#: Characters allowed in observations and actions: printable ASCII and Latin-1 letters.
CHARSET = frozenset(ch for ch in string.printable if ch not in "\x0b\x0c\r") | frozenset(
    chr(c) for c in range(0xC0, 0x100) if chr(c).isalpha())


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
        if isinstance(n_entities, bool) or not isinstance(n_entities, int) or n_entities < 10:
            raise ValueError(f"n_entities must be an integer >= 10, got {n_entities!r}")
        if not (isinstance(min_hops, int) and isinstance(max_hops, int)
                and 2 <= min_hops <= max_hops <= 4):
            raise ValueError(f"need 2 <= min_hops <= max_hops <= 4, got {min_hops}, {max_hops}")
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be an integer >= 1, got {max_steps!r}")
        if reward not in ("f1", "em"):
            raise ValueError(f"reward must be 'f1' or 'em', got {reward!r}")
        if not (isinstance(step_cost, int | float) and step_cost >= 0):
            raise ValueError(f"step_cost must be a number >= 0, got {step_cost!r}")
        for name, v in (("max_observation_length", max_observation_length),
                        ("max_action_length", max_action_length)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 16:
                raise ValueError(f"{name} must be an integer >= 16, got {v!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None, 'ansi' or 'human', got {render_mode!r}")
        self.n_entities, self.min_hops, self.max_hops = n_entities, min_hops, max_hops
        self.max_steps, self.reward_kind, self.step_cost = max_steps, reward, float(step_cost)
        self.max_observation_length = max_observation_length
        self.render_mode = render_mode
        self.observation_space = spaces.Text(max_observation_length, min_length=1,
                                             charset=CHARSET)
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
            self.question = generate_questions(self.np_random, 1, n_entities=self.n_entities,
                                               min_hops=self.min_hops,
                                               max_hops=self.max_hops)[0]
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
            last = ("Invalid action: expected search[entity], lookup[keyword] or "
                    "answer[text].")
            self.state = QAState((*self.state.steps, (sanitize(action, 80), last)),
                                 self.state.page, None)
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
        info["tool_calls"] = sum(1 for a, _ in self.state.steps
                                 if a.startswith(("search[", "lookup[")))
        truncated = not terminated and len(self.state.steps) >= self.max_steps
        if self.render_mode == "human":
            print(self.render_text())
        return self._obs(last), float(reward), terminated, truncated, info

    def render_text(self) -> str:
        """Return the episode's transcript so far."""
        if self.question is None:
            return "(no episode: call reset())"
        return _transcript(self.question.question, self.state)

    def render(self):
        """Return the transcript (``"ansi"``) or print it (``"human"``)."""
        if self.render_mode == "ansi":
            return self.render_text()
        if self.render_mode == "human":
            print(self.render_text())
        return None


#: Small arguments for the Gymnasium conformance check.
GYM_TEST_KWARGS = {"swarmgym/MultihopQA-v0": {"n_entities": 20, "max_steps": 8}}
