"""Critic prompts and the parsers of their replies.

The residual critic rates the progress each candidate step makes over its parent, in
``[-1, 1]`` (BAVT's residual value predictor); the absolute critic rates a finished
trajectory in ``[0, 1]`` (used by best-of-n). One model plays actor and both critics.

Examples
--------
>>> from games.value_tree.critic import parse_residual_scores, residual_critic_messages
>>> chat = residual_critic_messages("Question: q", ["search[A]", "answer[B]"])
>>> [m["role"] for m in chat]
['system', 'user']
>>> parse_residual_scores("[1] 0.5 [2] -0.25", 2)    # one score per candidate step
array([ 0.5 , -0.25])
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

__all__ = [
    "absolute_critic_messages",
    "parse_absolute_score",
    "parse_residual_scores",
    "residual_critic_messages",
]


_RESIDUAL_SYSTEM = (
    "You are a strict critic of a tool-using research agent. Judge relative progress: "
    "for each candidate step, how much closer it brings the agent to a correct, "
    "well-supported final answer, compared with the trajectory before it. Do not rate "
    "how good the whole trajectory is, only the change the step makes. Score from -1 "
    "(misleading or a wrong answer) through 0 (no progress: redundant, uninformative, a "
    "failed search or a repeated call) to 1 (decisive progress, such as a final answer "
    "the observations support). Reply with one line per candidate, `[k] score`, and "
    "nothing else."
)

_ABSOLUTE_SYSTEM = (
    "You are a strict critic of a tool-using research agent. Rate how likely it is that "
    "the final answer in this trajectory is correct and supported by the observations, "
    "from 0 (certainly wrong or unsupported) to 1 (certainly right). Reply with the "
    "number only."
)


def residual_critic_messages(trajectory: str, steps: Sequence[str]) -> list[dict[str, str]]:
    """Build the residual critic prompt: rate each candidate step's progress over the parent.

    Parameters
    ----------
    trajectory : str
        The task and the trajectory up to the parent (``SearchProblem.describe``).
    steps : sequence of str
        The candidate steps (``SearchProblem.describe_step``), numbered from 1.

    Returns
    -------
    list of dict
        The chat.
    """
    listed = "\n".join(f"[{k}] {s}" for k, s in enumerate(steps, start=1))
    user = f"Trajectory so far:\n{trajectory}\n\nCandidate steps:\n{listed}\n\nScores:"
    return [{"role": "system", "content": _RESIDUAL_SYSTEM}, {"role": "user", "content": user}]


def absolute_critic_messages(trajectory: str) -> list[dict[str, str]]:
    """Build the absolute critic prompt (used by best-of-n): rate a finished trajectory."""
    user = f"Trajectory:\n{trajectory}\n\nRating:"
    return [{"role": "system", "content": _ABSOLUTE_SYSTEM}, {"role": "user", "content": user}]


_NUM = r"([+-]?(?:\d+(?:\.\d*)?|\.\d+))"


def parse_residual_scores(text: str, n: int) -> np.ndarray:
    """Scores ``[k] score`` from a residual critic reply, clipped to ``[-1, 1]``.

    A candidate the reply does not score gets 0 (no evidence of progress), which the
    search treats as non-improving.

    Parameters
    ----------
    text : str
        The critic's completion.
    n : int
        Number of candidates.

    Returns
    -------
    ndarray, shape (n,)
        The deltas.
    """
    out = np.zeros(n)
    for m in re.finditer(r"\[\s*(\d+)\s*\]\s*[:=]?\s*" + _NUM, text):
        k = int(m.group(1)) - 1
        if 0 <= k < n:
            x = float(m.group(2))
            out[k] = min(1.0, max(-1.0, x)) if math.isfinite(x) else 0.0
    return out


def parse_absolute_score(text: str) -> float:
    """Return the first number of an absolute critic reply, clipped to ``[0, 1]`` (0 if none)."""
    m = re.search(_NUM, text)
    if m is None:
        return 0.0
    x = float(m.group(1))
    return min(1.0, max(0.0, x)) if math.isfinite(x) else 0.0
