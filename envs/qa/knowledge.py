"""Knowledge bases of pages with the ``search`` and ``lookup`` tools, and questions over them.

Examples
--------
>>> from envs.qa.knowledge import KnowledgeBase, Page
>>> kb = KnowledgeBase([Page("Paris", "Paris is a city.",
...                          ("Paris is in France.", "Paris has the Louvre."))])
>>> kb.search("paris")                      # (title, summary) of the page found
('Paris', 'Paris is a city.')
>>> kb.lookup("Paris", "Louvre")
'Paris has the Louvre.'
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["KnowledgeBase", "Page", "Question", "fact_sentence", "title_key"]


def title_key(title: str) -> str:
    """Return the lookup key of a title: case, accents and punctuation folded.

    So ``search[zurich]`` finds "Zürich".
    """
    plain = "".join(
        c for c in unicodedata.normalize("NFKD", title.lower()) if not unicodedata.combining(c)
    )
    return " ".join(re.sub(r"[^\w\s]", " ", plain).split())


def fact_sentence(subject: str, relation: str, obj: str) -> str:
    """Return the sentence stating a fact: ``The {relation} of {subject} is {obj}.``."""
    return f"The {relation} of {subject} is {obj}."


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
            k = title_key(page.title)
            if k in self._index:
                raise ValueError(f"pages: duplicate title {page.title!r}")
            self._index[k] = page

    def page(self, title: str) -> Page | None:
        """Return the page titled ``title`` (case and punctuation folded), if any."""
        return self._index.get(title_key(title))

    def search(self, query: str) -> tuple[str | None, str]:
        """Open the page of ``query``: its title (None if missing) and what is shown."""
        page = self.page(query)
        if page is not None:
            return page.title, page.summary
        close = difflib.get_close_matches(title_key(query), list(self._index), n=3, cutoff=0.6)
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
        hits = [s for s in self._index[title_key(title)].sentences if kw in s.lower()]
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
        return fact_sentence(self.path[i], self.relations[i], self.path[i + 1])
