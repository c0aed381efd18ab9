"""Multi-hop QA: answer scores, generated questions, the HotpotQA loader and the env."""

import json

import gymnasium
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envs.llm import SimulatedQAModel
from envs.multihop_qa_v0 import (
    MultihopQAEnv,
    MultihopQAProblem,
    exact_match,
    f1_score,
    generate_questions,
    load_hotpotqa,
    normalize_answer,
    parse_action,
    random_knowledge_graph,
)
from envs.registry import register_gymnasium_envs
from games.search_baselines import METHODS
from games.value_tree import Action, Budget


# ---------------------------------------------------------------------- EM and F1
def test_standard_normalisation_cases():
    assert exact_match("The Apple.", "apple") == 1.0
    assert f1_score("yes", "no") == 0.0
    assert exact_match("yes", "no") == 0.0
    assert normalize_answer("  A  cat, an owl & THE dog! ") == "cat owl dog"
    # precision 1/2, recall 1 => F1 = 2/3 (SQuAD token F1)
    assert f1_score("Barack Obama", "Obama") == pytest.approx(2 / 3)
    # HotpotQA: yes/no only match exactly, even when tokens overlap
    assert f1_score("no", "no way") == 0.0
    assert f1_score("", "") == 1.0 and f1_score("the", "apple") == 0.0


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=30), st.text(max_size=30))
def test_scores_are_bounded_and_symmetric(a, b):
    assert 0.0 <= f1_score(a, b) <= 1.0
    assert f1_score(a, b) == pytest.approx(f1_score(b, a))
    assert exact_match(a, b) <= f1_score(a, b) or normalize_answer(a) in {"yes", "no", "noanswer"}


# ---------------------------------------------------------------------- questions
@pytest.mark.parametrize("seed", range(5))
def test_generated_chains_are_answerable_with_the_tools(seed):
    qs = generate_questions(np.random.default_rng(seed), 8, n_entities=30)
    for q in qs:
        assert 2 <= q.hops <= 4 and len(q.path) == q.hops + 1 and len(set(q.path)) == len(q.path)
        for rel in q.relations:
            assert f"the {rel} of" in q.question
        assert q.question.endswith(f"of {q.path[0]}?")
        entity = q.path[0]
        for rel in q.relations:  # follow the chain with search + lookup only
            title, _ = q.kb.search(entity)
            assert title == entity
            hit = q.kb.lookup(title, rel)
            entity = hit.removeprefix(f"The {rel} of {title} is ").removesuffix(".")
        assert entity == q.answer


def test_knowledge_graph_schema():
    kb, types, facts = random_knowledge_graph(np.random.default_rng(0), 50)
    assert len(kb.pages) == len(types) >= 50
    for ent, rels in facts.items():
        for _rel, obj in rels.items():
            assert obj != ent and obj in types
    with pytest.raises(ValueError, match="n_entities"):
        random_knowledge_graph(np.random.default_rng(0), 3)


def test_search_miss_suggests_similar_titles():
    kb, types, _ = random_knowledge_graph(np.random.default_rng(0), 20)
    name = next(iter(types))
    title, obs = kb.search(name.upper())
    assert title == name
    title, obs = kb.search(name[:-1])
    assert title is None and name in obs
    assert kb.lookup(None, "x").startswith("No page is open")


def test_parse_action():
    assert parse_action("Thought: maybe search[A]\nAction: lookup[born in]") == Action(
        "lookup", "born in"
    )
    assert parse_action("finish[ Paris ]") == Action("answer", "Paris")
    assert parse_action("SEARCH[x]") == Action("search", "x")
    assert parse_action("no action here") is None
    assert parse_action("answer[]") is None


def test_lookup_call_key_depends_on_page():
    q = generate_questions(np.random.default_rng(0), 1)[0]
    p = MultihopQAProblem(q)
    s0 = p.initial_state()
    s1 = p.apply(s0, Action("search", q.path[0]))
    look = Action("lookup", "mentor")
    assert p.call_key(s0, look) != p.call_key(s1, look)
    assert p.call_key(s1, Action("search", "X")) == p.call_key(s0, Action("search", " x "))


def test_hotpotqa_loader(tmp_path):
    records = [
        {
            "_id": "a1",
            "question": "Where was the author of Foo born?",
            "answer": "Bar",
            "supporting_facts": [["Foo", 0], ["Baz Qux", 1]],
            "context": [
                ["Foo", ["Foo is a novel by Baz Qux.", "It won prizes."]],
                ["Baz Qux", ["Baz Qux is a writer.", "Qux was born in Bar."]],
            ],
        }
    ]
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(records))
    (q,) = load_hotpotqa(path)
    assert (q.qid, q.answer, q.hops) == ("a1", "Bar", 2)
    assert q.kb.search("baz qux") == ("Baz Qux", "Baz Qux is a writer.")
    assert q.kb.lookup("Baz Qux", "born") == "Qux was born in Bar."
    bad = tmp_path / "bad.json"
    bad.write_text('[{"question": "q"}]')
    with pytest.raises(ValueError, match=r"bad\.json: record 0: missing key 'answer'"):
        load_hotpotqa(bad)
    bad.write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_hotpotqa(bad)


# ---------------------------------------------------------------------- env
def _solve(env, q):
    for rel, ent in zip(q.relations, q.path, strict=False):
        for action in (f"search[{ent}]", f"lookup[{rel}]"):
            obs, r, term, _trunc, _info = env.step(action)
            assert obs in env.observation_space and not term and r == 0.0
    return env.step(f"answer[{q.answer.lower()}]")


def test_env_episode_with_the_right_actions():
    env = MultihopQAEnv(n_entities=20, max_steps=20, step_cost=0.0)
    obs, info = env.reset(seed=4)
    assert obs.startswith("Question: ") and obs in env.observation_space
    obs, r, term, trunc, info = _solve(env, env.question)
    assert term and not trunc and r == 1.0
    assert info["em"] == 1.0 and info["f1"] == 1.0 and info["tool_calls"] == 2 * env.question.hops


def test_env_invalid_action_wrong_answer_and_truncation():
    env = MultihopQAEnv(n_entities=20, max_steps=3, reward="em", step_cost=0.1)
    env.reset(seed=0)
    obs, r, term, trunc, _ = env.step("dance[now]")
    assert "Invalid action" in obs and r == 0.0 and not term
    obs, r, term, trunc, _ = env.step("search[Nobody Here]")
    assert r == pytest.approx(-0.1) and "Could not find" in obs and not trunc
    obs, r, term, trunc, info = env.step("lookup[mentor]")
    assert trunc and not term and "No page is open" in obs
    env.reset(seed=0)
    _, r, term, _, info = env.step("answer[certainly not this]")
    assert term and r == 0.0 and info["gold_answer"] == env.question.answer


def test_env_same_seed_same_question_and_kwargs_checked():
    a, b = MultihopQAEnv(n_entities=20), MultihopQAEnv(n_entities=20)
    assert a.reset(seed=9)[0] == b.reset(seed=9)[0]
    with pytest.raises(TypeError):
        MultihopQAEnv(no_such_argument=1)
    with pytest.raises(ValueError, match="reward"):
        MultihopQAEnv(reward="bleu")
    qs = generate_questions(np.random.default_rng(0), 3)
    env = MultihopQAEnv(questions=qs, render_mode="ansi")
    env.reset(seed=0, options={"index": 2})
    assert env.question is qs[2] and env.render().startswith(f"Question: {qs[2].question}")


def test_registered_with_gymnasium():
    register_gymnasium_envs()
    env = gymnasium.make("swarmgym/MultihopQA-v0", n_entities=20)
    obs, _ = env.reset(seed=1)
    assert isinstance(obs, str)
    env.close()


def test_observation_sanitised_into_charset(tmp_path):
    records = [
        {
            "question": "Qui est né à Zürich — 東京?",
            "answer": "x",
            "context": [["Zürich", ["Zürich ist schön."]]],
        }
    ]
    path = tmp_path / "u.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    env = MultihopQAEnv(hotpotqa_path=path)
    obs, _ = env.reset(seed=0)
    assert obs in env.observation_space
    obs, *_ = env.step("search[Zurich]")
    # the page's text is kept (Latin-1 letters are in the charset), CJK becomes "?"
    assert "Zürich ist schön." in obs and obs in env.observation_space


# ---------------------------------------------------------------------- search on QA
@pytest.mark.parametrize("method", sorted(METHODS))
def test_perfect_model_answers_every_question_within_budget(method):
    qs = generate_questions(np.random.default_rng(5), 4, n_entities=30)
    for i, q in enumerate(qs):
        sim = SimulatedQAModel([q], skill=1.0, value_noise=0.0, seed=i)
        budget = Budget(12, 12_000)
        res = METHODS[method](MultihopQAProblem(q), sim, budget, rng=np.random.default_rng(i))
        assert res.tokens_used <= budget.tokens and res.tool_calls_used <= budget.tool_calls
        assert exact_match(res.answer, q.answer) == 1.0


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("tools, tokens", [(0, 0), (2, 500), (8, 3000), (16, 9000)])
def test_budgets_hold_with_verbose_model(method, tools, tokens):
    q = generate_questions(np.random.default_rng(2), 1, n_entities=20)[0]
    sim = SimulatedQAModel([q], skill=0.6, seed=0, verbosity=10_000)  # every reply maxed out
    res = METHODS[method](
        MultihopQAProblem(q), sim, Budget(tools, tokens), rng=np.random.default_rng(0)
    )
    assert res.tokens_used <= tokens and res.tool_calls_used <= tools
    assert res.answer.strip()
