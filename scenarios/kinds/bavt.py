"""Accuracy against budget for budget-aware value tree search (BAVT) and its baselines.

Every method answers the same multi-hop questions under the same budgets (tool calls,
and tokens = tool calls x ``tokens_per_tool_call``); the kind reports exact match and
F1 per method and budget, what each spent, and the paper's headline check: BAVT at a
budget ``b`` against parallel sampling with majority vote at ``4 b``.

By default the model is :class:`envs.llm.SimulatedQAModel` (no server, no weights) on
questions generated from a random knowledge graph. With ``model_url`` set, the same
run uses an OpenAI-compatible server (``--set model_url=http://127.0.0.1:8000/v1
--set model=NAME``; the API key, if any, is read from the variable ``api_key_env``),
and ``hotpotqa_path`` may point to HotpotQA-style questions on disk.

Examples
--------
Ten generated questions, a budget of 8 tool calls, the simulated model:

>>> from scenarios.config import validate_params
>>> from scenarios.kinds import bavt
>>> raw = {"n_questions": 10, "tool_budgets": [8], "methods": ["bavt", "react"]}
>>> out = bavt.run(validate_params(raw, bavt.PARAMS, where="demo"), seed=0)
>>> {m: float(r["8"]["em"]) for m, r in out.summary["results"].items()}  # exact match
{'bavt': 0.2, 'react': 0.4}
>>> all(r["8"]["mean_tool_calls"] <= 8 for r in out.summary["results"].values())
True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from envs.llm import ModelError, OpenAIChatModel, SimulatedQAModel
from envs.multihop_qa_v0 import (
    MultihopQAProblem,
    exact_match,
    f1_score,
    generate_questions,
    load_hotpotqa,
)
from games.search_baselines import METHODS
from games.value_tree import Budget
from scenarios.config import Outcome, Param, ScenarioError

__all__ = ["DESCRIPTION", "METRICS", "PARAMS", "run", "write_artifacts"]

DESCRIPTION = "BAVT vs ReAct, parallel vote, best-of-n and beam: EM/F1 against budget"


def _positive_ints(v: list) -> bool:
    return bool(v) and all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in v)


PARAMS: dict[str, Param] = {
    "n_questions": Param(40, int, "questions answered per method and budget", low=1, high=100000),
    "n_entities": Param(40, int, "entities of the generated knowledge graph", low=10, high=100000),
    "min_hops": Param(2, int, "fewest hops of a generated question", low=2, high=4),
    "max_hops": Param(4, int, "most hops of a generated question", low=2, high=4),
    "tool_budgets": Param(
        [8, 16, 32, 64],
        list,
        "tool-call budgets compared",
        check=_positive_ints,
        check_msg="of integers >= 1",
    ),
    "tokens_per_tool_call": Param(
        400, int, "token budget per allowed tool call", low=0, high=10**7
    ),
    "tokens_counted": Param(
        "total", str, "tokens the budget counts", choices=["total", "completion"]
    ),
    "methods": Param(
        list(METHODS),
        list,
        "search methods compared",
        choices=list(METHODS),
        check=bool,
        check_msg="(not empty)",
    ),
    "branching": Param(2, int, "actions proposed per BAVT/beam expansion", low=1, high=16),
    "beam_width": Param(2, int, "beam search width", low=1, high=16),
    "max_depth": Param(12, int, "longest trajectory (steps)", low=1, high=200),
    "skill": Param(
        0.7, float, "simulated model: probability of the right action", low=0.0, high=1.0
    ),
    "value_noise": Param(0.1, float, "simulated model: critic noise (std)", low=0.0, high=10.0),
    "overconfidence": Param(
        0.3, float, "simulated model: floor of absolute self-ratings", low=0.0, high=1.0
    ),
    "misconception": Param(
        0.5,
        float,
        "simulated model: share of mistakes at a question's "
        "confusable hop that are its fixed misconception",
        low=0.0,
        high=1.0,
    ),
    "model_url": Param(
        "", str, "OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (empty: simulated model)"
    ),
    "model": Param("", str, "model name on that server"),
    "api_key_env": Param("OPENAI_API_KEY", str, "environment variable with the API key"),
    "timeout": Param(60.0, float, "seconds per HTTP attempt", low=0.1, high=3600.0),
    "max_retries": Param(
        4, int, "HTTP retries after 429/5xx or a dropped connection", low=0, high=100
    ),
    "temperature": Param(1.0, float, "sampling temperature of sampled methods", low=0.0, high=2.0),
    "hotpotqa_path": Param("", str, "HotpotQA-style JSON file (needs model_url)"),
}


#: Dotted paths of the summary (sweeps check their ``metrics`` against these): per
#: method and tool budget, and the headline comparison.
METRICS = (
    *(
        f"results.*.*.{m}"
        for m in ("em", "f1", "em_stderr", "mean_tokens", "mean_tool_calls", "backstop_rate")
    ),
    "headline.*.**",
    "headline_holds_at_low_budget",
    "n_questions",
    "phase.*",
    "phase_by_budget.*.*",
)


def _questions(params: dict[str, Any], rng: np.random.Generator) -> list:
    if params["hotpotqa_path"]:
        if not params["model_url"]:
            raise ScenarioError(
                "params.hotpotqa_path needs params.model_url: the simulated "
                "model only plays generated questions"
            )
        try:
            return load_hotpotqa(params["hotpotqa_path"], limit=params["n_questions"])
        except ValueError as exc:
            raise ScenarioError(f"params.hotpotqa_path: {exc}") from None
    if params["min_hops"] > params["max_hops"]:
        raise ScenarioError("params.min_hops must be <= params.max_hops")
    return generate_questions(
        rng,
        params["n_questions"],
        n_entities=params["n_entities"],
        min_hops=params["min_hops"],
        max_hops=params["max_hops"],
    )


def _options(name: str, params: dict[str, Any]) -> dict[str, Any]:
    opts: dict[str, Any] = {"max_depth": params["max_depth"]}
    if name in ("bavt", "beam"):
        opts["branching"] = params["branching"]
    if name == "beam":
        opts["width"] = params["beam_width"]
    if name != "react":
        opts["temperature"] = params["temperature"]
    return opts


def _region(diff: float, stderr: float) -> str:
    """Name the side of zero a paired difference lies on, at 2 standard errors."""
    if diff > 2.0 * stderr:
        return "wins"
    if diff < -2.0 * stderr:
        return "loses"
    return "tie"


def _phase(
    rows: dict[tuple[int, str], list[tuple]], budgets: list[int], methods: list[str]
) -> list[dict[str, Any]]:
    """BAVT at budget b against parallel vote at 4b and best-of-n at b, per budget b.

    The differences are of exact match, paired over the same questions: the mean of
    ``em_bavt(q) - em_baseline(q)`` and its standard error ``std(ddof=1) / sqrt(n)``
    (0 with one question). A budget enters when BAVT and at least one comparison ran.
    """
    out = []
    for b in budgets:
        if "bavt" not in methods:
            break
        ours = np.array([r[0] for r in rows[(b, "bavt")]])
        entry: dict[str, Any] = {"b": b, "bavt_em": float(ours.mean())}
        for key, other in (
            ("vs_parallel_4b", (4 * b, "parallel")),
            ("vs_best_of_n", (b, "best_of_n")),
        ):
            if other not in rows:
                continue
            d = ours - np.array([r[0] for r in rows[other]])
            se = float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else 0.0
            entry[key] = float(d.mean())
            entry[key + "_stderr"] = se
            entry[key + "_region"] = _region(float(d.mean()), se)
        if len(entry) > 2:
            out.append(entry)
    return out


def run(params: dict[str, Any], *, seed: int, progress: bool = False) -> Outcome:
    """Answer every question with every method at every budget; tabulate EM and F1."""
    rng = np.random.default_rng(seed)
    questions = _questions(params, rng)
    budgets = sorted(set(params["tool_budgets"]))
    methods = list(dict.fromkeys(params["methods"]))
    real = None
    if params["model_url"]:
        if not params["model"]:
            raise ScenarioError(
                "params.model must name the server's model when params.model_url is set"
            )
        try:
            real = OpenAIChatModel(
                params["model_url"],
                params["model"],
                api_key_env=params["api_key_env"],
                timeout=params["timeout"],
                max_retries=params["max_retries"],
            )
        except ValueError as exc:
            raise ScenarioError(f"params.model_url: {exc}") from None
    jobs = [(b, m, qi) for b in budgets for m in methods for qi in range(len(questions))]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), desc="bavt-budget", unit="search")
    rows: dict[tuple[int, str], list[tuple[float, float, int, int, bool]]] = {}
    for b, m, qi in jobs:
        q = questions[qi]
        budget = Budget(b, b * params["tokens_per_tool_call"], count=params["tokens_counted"])
        model_seed, search_seed = (
            np.random.SeedSequence([seed, qi, b, methods.index(m), k]) for k in (0, 1)
        )
        model = real or SimulatedQAModel(
            [q],
            skill=params["skill"],
            value_noise=params["value_noise"],
            overconfidence=params["overconfidence"],
            misconception=params["misconception"],
            seed=np.random.default_rng(model_seed),
        )
        try:
            res = METHODS[m](
                MultihopQAProblem(q),
                model,
                budget,
                rng=np.random.default_rng(search_seed),
                **_options(m, params),
            )
        except ModelError as exc:
            raise ScenarioError(f"params.model_url: the model server failed: {exc}") from None
        if res.tokens_used > budget.tokens or res.tool_calls_used > budget.tool_calls:
            raise RuntimeError(
                f"{m} overspent: {res.tokens_used}/{budget.tokens} tokens, "
                f"{res.tool_calls_used}/{budget.tool_calls} tool calls"
            )
        rows.setdefault((b, m), []).append(
            (
                exact_match(res.answer, q.answer),
                f1_score(res.answer, q.answer),
                res.tokens_used,
                res.tool_calls_used,
                res.answered_by.startswith("backstop"),
            )
        )
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()

    results: dict[str, dict[str, Any]] = {m: {} for m in methods}
    table = []
    for b in budgets:
        for m in methods:
            arr = np.array(rows[(b, m)], dtype=float)
            em, f1 = arr[:, 0].mean(), arr[:, 1].mean()
            stats = {
                "em": em,
                "f1": f1,
                "em_stderr": arr[:, 0].std(ddof=1) / np.sqrt(len(arr)) if len(arr) > 1 else 0.0,
                "mean_tokens": arr[:, 2].mean(),
                "mean_tool_calls": arr[:, 3].mean(),
                "backstop_rate": arr[:, 4].mean(),
            }
            results[m][str(b)] = stats
            table.append(
                [
                    m,
                    b,
                    b * params["tokens_per_tool_call"],
                    em,
                    f1,
                    stats["mean_tool_calls"],
                    stats["mean_tokens"],
                    stats["backstop_rate"],
                ]
            )
    headline = []
    if "bavt" in methods and "parallel" in methods:
        for b in budgets:
            if 4 * b in budgets:
                ours, theirs = results["bavt"][str(b)], results["parallel"][str(4 * b)]
                headline.append(
                    {
                        "budget": b,
                        "bavt_em": ours["em"],
                        "bavt_f1": ours["f1"],
                        "parallel_budget": 4 * b,
                        "parallel_em": theirs["em"],
                        "parallel_f1": theirs["f1"],
                        "holds": bool(ours["em"] >= theirs["em"]),
                    }
                )
    tables = [
        (
            f"EM and F1 against budget ({params['tokens_counted']} token budget = tool "
            f"budget x {params['tokens_per_tool_call']}; {len(questions)} questions)",
            [
                "method",
                "tool budget",
                "token budget",
                "EM",
                "F1",
                "tool calls used",
                "tokens used",
                "backstop",
            ],
            table,
        )
    ]
    if headline:
        tables.append(
            (
                "Headline: BAVT at budget b vs parallel sampling + vote at 4b (EM)",
                ["b", "BAVT EM", "BAVT F1", "4b", "parallel EM", "parallel F1", "BAVT >= parallel"],
                [
                    [
                        h["budget"],
                        h["bavt_em"],
                        h["bavt_f1"],
                        h["parallel_budget"],
                        h["parallel_em"],
                        h["parallel_f1"],
                        "yes" if h["holds"] else "NO",
                    ]
                    for h in headline
                ],
            )
        )
    phase = _phase(rows, budgets, methods)
    if phase:
        where = (
            ""
            if real is not None
            else f" at skill={params['skill']:g}, misconception={params['misconception']:g}, "
            f"value_noise={params['value_noise']:g}, "
            f"overconfidence={params['overconfidence']:g} (that cell of the "
            "`swarm sweep bavt-phase` map)"
        )
        tables.append(
            (
                f"Phase region{where}: BAVT EM minus baseline EM, paired over questions; "
                "'wins'/'loses' beyond 2 standard errors, else 'tie'",
                ["b", "comparison", "BAVT EM - baseline EM", "stderr", "region"],
                [
                    [ph["b"], label, ph[key], ph[key + "_stderr"], ph[key + "_region"]]
                    for ph in phase
                    for key, label in (
                        ("vs_parallel_4b", "parallel at 4b"),
                        ("vs_best_of_n", "best-of-n at b"),
                    )
                    if key in ph
                ],
            )
        )
    summary = {
        "model": (
            "simulated"
            if real is None
            else {"url": real.url, "model": real.model, "retries": real.retries}
        ),
        "n_questions": len(questions),
        "budgets": budgets,
        "results": results,
        "headline": headline,
        "headline_holds_at_low_budget": headline[0]["holds"] if headline else None,
        "phase": phase[0] if phase else {},
        "phase_by_budget": phase,
    }
    return Outcome(
        summary=summary,
        tables=tables,
        data={
            "budgets": budgets,
            "methods": methods,
            "results": results,
            "tokens_per_tool_call": params["tokens_per_tool_call"],
        },
    )


def write_artifacts(outcome: Outcome, out_dir: Path) -> list[Path]:
    """Write ``accuracy_vs_budget.png``: EM and F1 against the tool budget per method."""
    data = outcome.data
    fig = Figure(figsize=(10, 4), dpi=100)
    axes = fig.subplots(1, 2, sharey=True)
    budgets = data["budgets"]
    for ax, metric, label in zip(axes, ("em", "f1"), ("exact match", "F1"), strict=True):
        for m in data["methods"]:
            ys = [data["results"][m][str(b)][metric] for b in budgets]
            ax.plot(budgets, ys, marker="o", label=m, lw=2.5 if m == "bavt" else 1.5)
        ax.set_xscale("log", base=2)
        ax.set_xticks(budgets, [str(b) for b in budgets])
        ax.set_xlabel(f"tool-call budget (tokens = x{data['tokens_per_tool_call']})")
        ax.set_ylabel(label)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle("Accuracy against budget")
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "accuracy_vs_budget.png"
    fig.savefig(path)
    return [path]
