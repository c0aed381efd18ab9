"""Answer normalisation, exact match and F1 (SQuAD v1.1 / HotpotQA evaluation scripts).

Examples
--------
>>> from envs.qa.scoring import exact_match, f1_score, normalize_answer
>>> normalize_answer("The  Eiffel Tower!")            # lower case, no articles or punctuation
'eiffel tower'
>>> exact_match("the eiffel tower", "Eiffel Tower")
1.0
>>> round(f1_score("Eiffel tower", "the Eiffel Tower in Paris"), 4)   # 2 of 4 gold tokens
0.6667
"""

from __future__ import annotations

import collections
import re
import string

__all__ = ["exact_match", "f1_score", "normalize_answer"]


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
