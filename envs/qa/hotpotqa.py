"""Loading HotpotQA-style questions from a JSON file on disk.

Examples
--------
>>> import json, tempfile
>>> from pathlib import Path
>>> from envs.qa.hotpotqa import load_hotpotqa
>>> records = [{"_id": "q1", "question": "Where is the Louvre?", "answer": "Paris",
...             "context": [["Louvre", ["The Louvre is a museum in Paris."]]]}]
>>> with tempfile.TemporaryDirectory() as folder:
...     path = Path(folder) / "dev.json"
...     _ = path.write_text(json.dumps(records))
...     [q] = load_hotpotqa(path)
>>> q.answer, q.kb.search("louvre")
('Paris', ('Louvre', 'The Louvre is a museum in Paris.'))
"""

from __future__ import annotations

import json
from pathlib import Path

from envs.qa.knowledge import KnowledgeBase, Page, Question, title_key

__all__ = ["load_hotpotqa"]


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
            if (
                not isinstance(item, list | tuple)
                or len(item) != 2
                or not isinstance(item[0], str)
                or not isinstance(item[1], list)
            ):
                raise ValueError(f"{where}: context items must be [title, [sentences]]")
            title, sents = item[0], tuple(" ".join(str(s).split()) for s in item[1])
            if title_key(title) in {title_key(t) for t in pages}:
                continue
            pages[title] = Page(title, sents[0] if sents else "", sents)
        support = {t for t, *_ in rec.get("supporting_facts", []) if isinstance(t, str)}
        out.append(
            Question(
                qid=str(rec.get("_id", i)),
                question=str(rec["question"]),
                answer=str(rec["answer"]),
                kb=KnowledgeBase(list(pages.values())),
                hops=len(support),
            )
        )
    return out
