"""The multi-hop QA task behind :mod:`envs.multihop_qa_v0`, one topic a module.

- :mod:`envs.qa.scoring`: SQuAD / HotpotQA answer normalisation, exact match and F1;
- :mod:`envs.qa.knowledge`: pages, knowledge bases with ``search`` and ``lookup``, questions;
- :mod:`envs.qa.generate`: random typed knowledge graphs and generated questions;
- :mod:`envs.qa.hotpotqa`: HotpotQA-style questions from a JSON file;
- :mod:`envs.qa.problem`: actions, states, transitions and the BAVT search problem.

Examples
--------
>>> from envs.qa.problem import parse_action
>>> from envs.qa.scoring import f1_score
>>> parse_action("answer[Paris]").is_answer, f1_score("Paris", "Paris")
(True, 1.0)
"""

__all__: list[str] = []
