"""BAVT selection rule, budgets, pruning, backstop and the baselines, on a toy problem."""

import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from games.search_baselines import METHODS, parallel_vote
from games.value_tree import (
    Action,
    Budget,
    BudgetLedger,
    Generation,
    ModelContractWarning,
    OutOfBudget,
    SearchProblem,
    bavt,
    default_prompt_token_bound,
    parse_absolute_score,
    parse_residual_scores,
    residual_critic_messages,
    selection_probabilities,
)

values_st = st.lists(st.floats(1e-3, 1.0), min_size=1, max_size=12)


# ---------------------------------------------------------------------- selection rule
@given(values_st)
def test_full_budget_is_value_proportional(values):
    v = np.array(values)
    np.testing.assert_allclose(selection_probabilities(v, 1.0), v / v.sum(), rtol=1e-12)


@given(values_st, st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_top_probability_never_falls_as_budget_runs_out(values, r1, r2):
    hi, lo = max(r1, r2), min(r1, r2)
    v = np.array(values)
    top = int(np.argmax(v))
    assert selection_probabilities(v, lo)[top] >= selection_probabilities(v, hi)[top]


def test_closed_form_at_half_budget_is_value_squared():
    # r = 1/2: p ∝ v^2; the swapped rule v^r would give p ∝ sqrt(v) instead.
    p = selection_probabilities([1.0, 2.0], 0.5)
    np.testing.assert_allclose(p, [1 / 5, 4 / 5], rtol=1e-12)
    swapped = np.sqrt([1.0, 2.0]) / np.sqrt([1.0, 2.0]).sum()
    assert not np.allclose(p, swapped)


def test_ties_split_evenly_and_greedy_at_zero():
    v = [0.2, 0.9, 0.5, 0.9]
    for r in (0.0, 1e-300, 1e-9, 0.3, 1.0):
        p = selection_probabilities(v, r)
        assert p[1] == p[3]
        assert p.sum() == pytest.approx(1.0)
    np.testing.assert_array_equal(selection_probabilities(v, 0.0), [0, 0.5, 0, 0.5])
    np.testing.assert_allclose(selection_probabilities(v, 1e-6), [0, 0.5, 0, 0.5], atol=1e-300)


def test_values_clamped_positive_and_stable():
    p = selection_probabilities([-3.0, 0.0, 1.0], 1.0, floor=1e-6)
    np.testing.assert_allclose(p, np.array([1e-6, 1e-6, 1.0]) / (1 + 2e-6))
    p = selection_probabilities([1e-300, 2e-300], 1e-3, floor=1e-310)
    assert np.all(np.isfinite(p)) and p[1] == pytest.approx(1.0)


@pytest.mark.parametrize(
    "values, r", [([], 0.5), ([np.nan], 0.5), ([1.0], 1.5), ([1.0], -0.1), ([[1.0]], 0.5)]
)
def test_selection_rejects_bad_input(values, r):
    with pytest.raises(ValueError):
        selection_probabilities(values, r)


# ---------------------------------------------------------------------- critic parsing
def test_residual_scores_parsed_clipped_and_missing_is_zero():
    np.testing.assert_allclose(
        parse_residual_scores("[1] +0.5\n[3]: -2\n[9] 1", 3), [0.5, 0.0, -1.0]
    )
    assert parse_absolute_score("0.75") == 0.75
    assert parse_absolute_score("I think 7") == 1.0
    assert parse_absolute_score("no idea") == 0.0
    msgs = residual_critic_messages("Question: q", ["Action: a", "Action: b"])
    assert "[1] Action: a" in msgs[-1]["content"] and "[2] Action: b" in msgs[-1]["content"]
    assert "relative progress" in msgs[0]["content"]


# ---------------------------------------------------------------------- a toy problem
class Walk(SearchProblem):
    """Reach ``goal`` by ``step[up]`` tool calls; the answer is the number reached."""

    def __init__(self, goal=3):
        self.goal = goal

    def initial_state(self):
        return (0, (), None)

    def action_messages(self, state):
        return [
            {"role": "system", "content": "ACT"},
            {"role": "user", "content": f"at={state[0]} goal={self.goal}"},
        ]

    def parse_action(self, text):
        m = re.search(r"(step|answer)\[([^\]]*)\]", text)
        return Action(m.group(1), m.group(2)) if m and m.group(2) else None

    def apply(self, state, action):
        if action.is_answer:
            return (state[0], state[1], action.argument)
        delta = 1 if action.argument == "up" else -1
        return (state[0] + delta, (*state[1], action.text), None)

    def answer(self, state):
        return state[2]

    def describe(self, state):
        return f"at={state[0]} goal={self.goal} steps={len(state[1])}"

    def describe_step(self, parent, child):
        return f"Action: -> at={child[0]} answered={child[2]}"

    def final_messages(self, state):
        return [
            {"role": "system", "content": "FINAL"},
            {"role": "user", "content": f"at={state[0]} goal={self.goal}"},
        ]

    def fallback_answer(self, state):
        return str(state[0])


class Oracle:
    """Steps up until the goal, then answers; the residual critic is exact."""

    def __init__(self, pad=0, overreport=0):
        self.pad, self.overreport, self.calls = pad, overreport, 0

    def _reply(self, messages):
        sys_, user = messages[0]["content"], messages[-1]["content"]
        if "relative progress" in sys_:
            scores = []
            for k, at, ans in re.findall(r"\[(\d+)\] Action: -> at=(-?\d+) answered=(\S+)", user):
                good = (ans == "None" and int(at) > 0) or ans == "3"
                scores.append(f"[{k}] {0.3 if good else -0.3}")
            return "\n".join(scores)
        if "Rate how likely" in sys_:
            return "0.5"
        at = int(re.search(r"at=(-?\d+)", user).group(1))
        if sys_ == "FINAL" or at >= 3:
            return f"answer[{at}]"
        return "step[up]"

    def generate(self, messages, *, n=1, max_tokens=256, temperature=1.0):
        self.calls += 1
        texts = tuple(self._reply(messages) + " pad" * self.pad for _ in range(n))
        return Generation(
            texts, default_prompt_token_bound(messages, n), n * max_tokens + self.overreport
        )


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize(
    "tools, tokens", [(0, 0), (0, 50), (1, 400), (2, 900), (3, 2500), (10, 20000)]
)
def test_budget_never_exceeded_with_huge_completions(method, tools, tokens):
    model = Oracle(pad=100_000)  # every reply is huge and charged the full max_tokens
    budget = Budget(tools, tokens)
    res = METHODS[method](Walk(), model, budget, rng=np.random.default_rng(0))
    assert res.tokens_used <= tokens and res.tool_calls_used <= tools
    assert isinstance(res.answer, str) and res.answer
    if tools == 0 and tokens == 0:
        assert model.calls == 0 and res.answered_by == "backstop-heuristic"
        assert res.answer == "0"


@pytest.mark.parametrize("method", sorted(METHODS))
def test_ample_budget_solves_walk(method):
    res = METHODS[method](Walk(), Oracle(), Budget(20, 100_000), rng=np.random.default_rng(1))
    assert res.answer == "3"
    assert res.answered_by in ("search", "vote", "best-value")


def test_model_ignoring_max_tokens_is_flagged_and_still_answered():
    with pytest.warns(ModelContractWarning):
        res = bavt(Walk(), Oracle(overreport=10), Budget(10, 5000), rng=np.random.default_rng(0))
    assert res.model_overran and res.answer
    assert res.model_calls == 1


def test_duplicate_tool_calls_are_pruned_before_they_run():
    class Repeater(Oracle):
        def _reply(self, messages):
            if "relative progress" in messages[0]["content"]:
                return "[1] 0.2"
            return "answer[0]" if messages[0]["content"] == "FINAL" else "step[down]"

    res = bavt(
        Walk(),
        Repeater(),
        Budget(10, 50_000),
        rng=np.random.default_rng(0),
        branching=4,
        max_depth=1,
        max_expansions=1,
    )
    # four identical proposals from the root: one runs, three are duplicates
    assert res.tool_calls_used == 1
    assert res.n_pruned == 3


def test_non_improving_steps_are_pruned():
    class Gloomy(Oracle):
        def _reply(self, messages):
            if "relative progress" in messages[0]["content"]:
                return "[1] -0.1\n[2] -0.1"
            return super()._reply(messages)

    res = bavt(Walk(), Gloomy(), Budget(10, 50_000), rng=np.random.default_rng(0))
    # nothing the critic approves: the search cannot accept an answer and backstops
    assert res.answered_by.startswith("backstop")
    assert res.n_pruned >= 1


def test_ledger_lowers_n_then_refuses_without_spending():
    model = Oracle()
    msgs = Walk().action_messages(Walk().initial_state())
    bound = default_prompt_token_bound(msgs)
    ledger = BudgetLedger(Budget(5, bound + 2 * 10), model)
    gen = ledger.generate(msgs, n=4, max_tokens=50, min_tokens=10)
    assert len(gen.texts) == 2 and ledger.tokens_used == bound + 20
    with pytest.raises(OutOfBudget):
        ledger.generate(msgs, n=1, max_tokens=50)
    assert ledger.tokens_used == bound + 20 and model.calls == 1
    assert ledger.remaining_fraction() == 0.0


def test_budget_validation():
    with pytest.raises(ValueError, match="tool_calls"):
        Budget(-1, 10)
    with pytest.raises(TypeError, match=r"Budget\.tokens must be an integer, got float"):
        Budget(1, 2.5)
    with pytest.raises(TypeError, match="rng"):
        bavt(Walk(), Oracle(), Budget(1, 100), rng=0)


def test_majority_vote_picks_the_most_frequent_answer():
    class Voter(Oracle):
        answers = iter(["answer[7]", "answer[ 7 ]", "answer[5]"])

        def _reply(self, messages):
            return next(self.answers)

    res = parallel_vote(
        Walk(), Voter(), Budget(0, 100_000), rng=np.random.default_rng(0), max_chains=3
    )
    assert res.answer == "7" and res.answered_by == "vote"


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 12), st.integers(0, 6000), st.integers(0, 2**32 - 1))
def test_bavt_property_budget_and_answer(tools, tokens, seed):
    class Noisy(Oracle):
        def __init__(self, rng):
            super().__init__()
            self.rng = rng

        def _reply(self, messages):
            if "relative progress" in messages[0]["content"]:
                k = len(re.findall(r"^\[\d+\]", messages[-1]["content"], re.M))
                return "\n".join(f"[{i + 1}] {self.rng.normal():.2f}" for i in range(k))
            return ("step[up]", "step[down]", "answer[2]")[int(self.rng.integers(3))]

    rng = np.random.default_rng(seed)
    res = bavt(Walk(), Noisy(rng), Budget(tools, tokens), rng=rng)
    assert res.tokens_used <= tokens and res.tool_calls_used <= tools and res.answer


def test_same_seed_same_search():
    def run(seed):
        class R(Oracle):
            rng = np.random.default_rng(seed)

            def _reply(self, messages):
                if "relative progress" in messages[0]["content"]:
                    return "[1] 0.1\n[2] 0.2"
                return ("step[up]", "step[down]")[int(self.rng.integers(2))]

        return bavt(Walk(), R(), Budget(6, 8000), rng=np.random.default_rng(seed))

    a, b = run(3), run(3)
    assert (a.answer, a.tokens_used, a.tool_calls_used, a.trajectory) == (
        b.answer,
        b.tokens_used,
        b.tool_calls_used,
        b.trajectory,
    )


def test_contract_warning_is_not_raised_for_honest_models():
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelContractWarning)
        bavt(Walk(), Oracle(), Budget(10, 10_000), rng=np.random.default_rng(0))


@pytest.mark.parametrize("method", sorted(METHODS))
def test_model_reporting_no_usage_cannot_loop_forever(method):
    class Free(Oracle):
        def generate(self, messages, *, n=1, max_tokens=256, temperature=1.0):
            gen = super().generate(messages, n=n, max_tokens=max_tokens)
            return Generation(gen.texts, 0, 0)

    res = METHODS[method](Walk(), Free(), Budget(5, 1000), rng=np.random.default_rng(0))
    assert res.answer and res.tool_calls_used <= 5


@pytest.mark.parametrize("method", sorted(METHODS))
def test_completion_only_budget_ignores_prompt_tokens(method):
    model = Oracle(pad=1000)
    budget = Budget(4, 300, count="completion")
    res = METHODS[method](Walk(), model, budget, rng=np.random.default_rng(0))
    assert res.tokens_used == res.completion_tokens <= 300
    assert res.prompt_tokens > 0 and res.answer
    with pytest.raises(ValueError, match="count"):
        Budget(1, 1, count="prompt")


# ---------------------------------------------------------------------- terminal bound
class _CoinProblem(SearchProblem):
    """Every state is a fresh int; ``answer[yes]`` ends it. Tools never repeat."""

    def initial_state(self):
        return (0,)

    def action_messages(self, state):
        return [{"role": "user", "content": "act"}]

    def parse_action(self, text):
        m = re.match(r"(\w+)\[(.*)\]", text)
        return Action(m.group(1), m.group(2)) if m else None

    def apply(self, state, action):
        return ("done",) if action.is_answer else (*state, action.argument)

    def answer(self, state):
        return "yes" if state == ("done",) else None

    def describe(self, state):
        return "t"

    def describe_step(self, parent, child):
        return "answer[yes]" if child == ("done",) else "tool[x]"

    def final_messages(self, state):
        return [{"role": "user", "content": "final"}]

    def fallback_answer(self, state):
        return "no"


class _CoinModel:
    """Each proposal is an answer with probability ``a``; every call charges its bound."""

    PROMPT = 10

    def __init__(self, a, seed):
        self.a, self.rng = a, np.random.default_rng(seed)

    def prompt_token_bound(self, messages, n=1):
        return self.PROMPT

    def generate(self, messages, *, n=1, max_tokens=256, temperature=1.0):
        system = messages[0]["content"]
        if "relative progress" in system:
            steps = re.findall(r"\[(\d+)\] (\w+)", messages[-1]["content"])
            text = "\n".join(f"[{k}] {0.5 if kind == 'answer' else 0.1}" for k, kind in steps)
            return Generation((text,), self.PROMPT, max_tokens)
        texts = tuple(
            "answer[yes]" if self.rng.random() < self.a else f"tool[{self.rng.integers(1 << 40)}]"
            for _ in range(n)
        )
        return Generation(texts, self.PROMPT, n * max_tokens)


def test_terminal_bound_closed_form():
    from games.value_tree import terminal_budget_bound

    b = terminal_budget_bound(
        0.36,
        0.05,
        prompt_tokens=10,
        branching=2,
        action_tokens=48,
        critic_tokens=48,
        answer_tokens=32,
    )
    # ceil(log 0.05 / log 0.64) = ceil(6.71) = 7
    assert b.expansions == 7 and b.failure_probability == pytest.approx(0.64**7)
    assert b.budget.tool_calls == 14
    assert b.budget.tokens == 7 * (20 + 96 + 48) + 10 + 32
    assert terminal_budget_bound(1.0, 0.5, prompt_tokens=0).expansions == 1
    for bad in ({"p_terminal": 0.0}, {"epsilon": 1.0}, {"prompt_tokens": -1}):
        kw = {"p_terminal": 0.5, "epsilon": 0.1, "prompt_tokens": 5} | bad
        with pytest.raises(ValueError):
            terminal_budget_bound(**kw)


def test_bavt_answers_within_terminal_bound_with_probability_one_minus_epsilon():
    # Each expansion proposes 2 actions, each an answer w.p. a = 0.2, so it ends the
    # search w.p. q = 1 - 0.8^2 = 0.36 independently: the failure rate after the bound's
    # K expansions is exactly (1-q)^K <= eps, and with one expansion fewer it is > eps.
    from games.value_tree import terminal_budget_bound

    q, eps, n = 0.36, 0.05, 1500
    bound = terminal_budget_bound(
        q,
        eps,
        prompt_tokens=_CoinModel.PROMPT,
        branching=2,
        action_tokens=48,
        critic_tokens=48,
        answer_tokens=32,
    )
    per = 2 * _CoinModel.PROMPT + 2 * 48 + 48
    fewer = Budget(bound.budget.tool_calls - 2, bound.budget.tokens - per)
    for budget, k in ((bound.budget, bound.expansions), (fewer, bound.expansions - 1)):
        fails = 0
        for seed in range(n):
            res = bavt(
                _CoinProblem(),
                _CoinModel(0.2, seed),
                budget,
                rng=np.random.default_rng(seed),
                branching=2,
                max_depth=100,
                answer_tokens=32,
            )
            fails += res.answered_by != "search"
        p = (1 - q) ** k
        assert abs(fails / n - p) < 4 * np.sqrt(p * (1 - p) / n), (k, fails / n, p)
    assert (1 - q) ** bound.expansions <= eps < (1 - q) ** (bound.expansions - 1)
