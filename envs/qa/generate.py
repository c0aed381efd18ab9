"""Random typed knowledge graphs and multi-hop questions generated over them.

Examples
--------
>>> import numpy as np
>>> from envs.qa.generate import generate_questions
>>> [q] = generate_questions(np.random.default_rng(0), 1, n_entities=12, min_hops=2, max_hops=2)
>>> q.hops, len(q.path), q.path[-1] == q.answer      # start, middle entity, answer
(2, 3, True)
>>> q.question.startswith("What is the "), q.question.endswith(f"of {q.path[0]}?")
(True, True)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from envs.qa.knowledge import KnowledgeBase, Page, Question, fact_sentence, title_key
from protocols.checks import check_int

__all__ = ["generate_questions", "random_knowledge_graph"]


_SCHEMA: dict[str, tuple[tuple[str, str], ...]] = {
    "person": (
        ("birthplace", "city"),
        ("employer", "company"),
        ("spouse", "person"),
        ("mentor", "person"),
        ("alma mater", "university"),
    ),
    "city": (("country", "country"), ("mayor", "person"), ("twin town", "city")),
    "company": (("headquarters", "city"), ("founder", "person"), ("owner", "company")),
    "country": (("capital", "city"), ("head of state", "person")),
    "university": (("location", "city"), ("president", "person")),
}
_TYPE_SHARE = {"person": 0.4, "city": 0.2, "company": 0.15, "country": 0.1, "university": 0.15}
_SYLLABLES = (
    "ka",
    "ro",
    "mi",
    "ta",
    "lo",
    "ve",
    "sa",
    "ni",
    "do",
    "ra",
    "bel",
    "tor",
    "vin",
    "mar",
    "sel",
    "quo",
    "zen",
    "fa",
    "li",
    "gu",
    "pe",
    "sha",
    "dro",
    "nel",
)


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
    check_int("n_entities", n_entities, low=10)
    kinds = list(_TYPE_SHARE)
    counts = {k: max(2, round(_TYPE_SHARE[k] * n_entities)) for k in kinds}
    names: dict[str, list[str]] = {k: [] for k in kinds}
    used: set[str] = set()
    for kind in kinds:
        while len(names[kind]) < counts[kind]:
            nm = _name(kind, rng)
            if title_key(nm) not in used:
                used.add(title_key(nm))
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
        sentences = tuple(fact_sentence(ent, r, o) for r, o in facts[ent].items())
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
    check_int("n_questions", n_questions, low=1)
    if not (
        isinstance(min_hops, int) and isinstance(max_hops, int) and 2 <= min_hops <= max_hops <= 4
    ):
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
        out.append(
            Question(
                qid=f"gen-{len(out)}",
                question=_phrase(rels, path[0]),
                answer=path[-1],
                kb=kb,
                hops=hops,
                path=tuple(path),
                relations=tuple(rels),
            )
        )
    return out
