"""Policy optimisation on linear-quadratic graphon mean-field games, one run per graphon.

For every graphon family in ``graphons`` the scenario builds the game
(:class:`games.graphon_mfg.LQGraphonMFG`, initial means
``m0(u) = m0_mean + m0_amplitude sin(2 pi u)``), computes its exact equilibrium and runs
the bilevel policy optimisation (:func:`games.graphon_po.policy_optimization`) from the
zero policy. It reports, per graphon, the outer iterations, convergence, the final
distance to the exact equilibrium and the final exploitability, and, for every ``N`` in
``n_players``, the exploitability of the graphon equilibrium policy in an N-player game
on a graph sampled from the graphon (:func:`games.graphon_mfg.n_player_exploitability`).
With ``sigmas`` and/or ``action_frequencies`` set, every graphon is rerun for each noise
level and action frequency (the paper's robustness experiment) and a table reports the
final distance to the exact equilibrium and the exploitability of each run.

Artifacts: ``slope.png`` (the equilibrium slope, shared by all labels and graphons,
and the learned one), ``intercepts.png`` (equilibrium intercepts per label over time,
one panel per graphon), ``convergence.png`` (distance and exploitability per outer
iteration, log scale), ``means.png`` (population mean paths per label) and
``convergence.csv`` (the per-iteration table).

Examples
--------
>>> from scenarios.config import validate_params
>>> from scenarios.kinds import gmfg
>>> raw = {
...     "graphons": ["uniform_attachment"],
...     "n_blocks": 4,
...     "n_steps": 20,
...     "max_iter": 20,
...     "n_players": [],
... }
>>> out = gmfg.run(validate_params(raw, gmfg.PARAMS, where="demo"), seed=0, progress=False)
>>> result = out.summary["graphons"]["uniform_attachment"]
>>> result["converged"], result["iterations"], bool(result["slope_error"] < 1e-6)
(True, 12, True)
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from games.graphon_mfg import GRAPHON_FAMILIES, LQGraphonMFG, n_player_exploitability
from games.graphon_po import policy_optimization
from protocols.checks import ConvergenceWarning
from scenarios.config import Outcome, Param, ScenarioError

__all__ = ["DESCRIPTION", "METRICS", "PARAMS", "run", "write_artifacts"]

DESCRIPTION = (
    "LQ graphon mean-field games: exact equilibrium, policy-optimisation "
    "convergence per graphon, N-player exploitability."
)

_FAMILIES = tuple(GRAPHON_FAMILIES)
_POS = {"low": 0.0, "low_open": True}

PARAMS: dict[str, Param] = {
    "graphons": Param(
        ["ranked_attachment", "uniform_attachment", "exponential", "sbm", "threshold", "constant"],
        list,
        "graphon families, default parameters",
        choices=_FAMILIES,
        check=lambda v: len(v) > 0 and len(set(v)) == len(v),
        check_msg="non-empty, no repeats",
    ),
    "A": Param(0.3, float, "state drift coefficient", low=-100.0, high=100.0),
    "B": Param(
        1.0,
        float,
        "control coefficient (nonzero)",
        low=-100.0,
        high=100.0,
        check=lambda v: v != 0,
        check_msg="and nonzero",
    ),
    "Abar": Param(0.5, float, "aggregate drift coefficient", low=-100.0, high=100.0),
    "Q": Param(1.0, float, "running state weight", low=0.0, high=1e6),
    "R": Param(0.5, float, "action weight", low=1e-6, high=1e6),
    "G": Param(0.8, float, "terminal weight", low=0.0, high=1e6),
    "H": Param(0.6, float, "running target: H times the aggregate", low=-100.0, high=100.0),
    "Hbar": Param(0.4, float, "terminal target: Hbar times the aggregate", low=-100.0, high=100.0),
    "sigma": Param(0.3, float, "noise intensity", low=0.0, high=100.0),
    "T": Param(1.0, float, "horizon", high=100.0, **_POS),
    "m0_mean": Param(1.0, float, "average initial mean", low=-1e6, high=1e6),
    "m0_amplitude": Param(
        0.5, float, "amplitude of sin(2 pi u) in the initial means", low=-1e6, high=1e6
    ),
    "n_blocks": Param(20, int, "label blocks M", low=1, high=2000),
    "n_steps": Param(200, int, "time steps of the grid", low=1, high=100_000),
    "n_actions": Param(
        0,
        int,
        "action intervals (action frequency; 0: every time step; must divide n_steps)",
        low=0,
        high=100_000,
    ),
    "method": Param("natural", str, "policy-gradient method", choices=("natural", "vanilla")),
    "max_iter": Param(100, int, "outer iterations at most", low=1, high=100_000),
    "tol": Param(1e-10, float, "stop when the aggregate changes by less", high=1.0, **_POS),
    "damping": Param(1.0, float, "population update weight, in (0, 1]", high=1.0, **_POS),
    "sigmas": Param(
        [],
        list,
        "robustness table: noise levels to rerun every graphon with",
        check=lambda v: all(
            isinstance(x, int | float) and not isinstance(x, bool) and 0 <= x <= 100 for x in v
        ),
        check_msg="of numbers in [0, 100]",
    ),
    "action_frequencies": Param(
        [],
        list,
        "robustness table: action intervals (each divides n_steps) to rerun every graphon with",
        check=lambda v: all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in v),
        check_msg="of integers >= 1",
    ),
    "interpolation": Param(
        "linear",
        str,
        "players' intercepts from the blocks: linear between midpoints or piecewise constant",
        choices=("linear", "block"),
    ),
    "n_players": Param(
        [10, 100, 1000],
        list,
        "N of the sampled N-player games (<= 8000)",
        check=lambda v: all(
            isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 8000 for n in v
        ),
        check_msg="of integers in [1, 8000]",
    ),
}


#: Dotted paths of the summary (sweeps check their ``metrics`` against these).
METRICS = (
    *(
        f"graphons.*.{m}"
        for m in (
            "converged",
            "iterations",
            "distance",
            "slope_error",
            "intercept_error",
            "exploitability",
            "initial_exploitability",
            "mean_equilibrium_cost",
        )
    ),
    "graphons.*.n_player_exploitability.*.max",
    "graphons.*.n_player_exploitability.*.mean",
    "n_actions",
    "slope_at_0",
)


def run(params: dict, *, seed: int, progress: bool) -> Outcome:
    """Run policy optimisation for every graphon and measure N-player exploitability."""
    p = params
    n_actions = p["n_actions"] or p["n_steps"]
    if p["n_steps"] % n_actions:
        raise ScenarioError(
            f"params.n_actions = {p['n_actions']} must divide n_steps = {p['n_steps']}"
        )
    for na in p["action_frequencies"]:
        if p["n_steps"] % na:
            raise ScenarioError(
                f"params.action_frequencies: {na} does not divide n_steps = {p['n_steps']}"
            )
    mean, amp = p["m0_mean"], p["m0_amplitude"]
    rows_r = []
    robust = {}
    results = {}
    rows = []
    rows_n = []
    data = {}
    for family in p["graphons"]:
        game = LQGraphonMFG(
            p["A"],
            p["B"],
            p["Abar"],
            p["Q"],
            p["R"],
            p["G"],
            p["H"],
            p["Hbar"],
            p["sigma"],
            p["T"],
            family,
            lambda u: mean + amp * np.sin(2 * np.pi * u),
            p["n_blocks"],
            p["n_steps"],
        )
        try:
            eq = game.equilibrium()
        except ValueError as exc:
            raise ScenarioError(f"params: graphon {family!r}: {exc}") from None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            try:
                res = policy_optimization(
                    game,
                    n_actions=n_actions,
                    method=p["method"],
                    max_iter=p["max_iter"],
                    tol=p["tol"],
                    damping=p["damping"],
                    progress=progress,
                )
            except ValueError as exc:
                raise ScenarioError(
                    f"params: graphon {family!r}: policy optimisation did not "
                    f"stay finite ({exc}); the parameters are too "
                    f"extreme (try a larger R or a smaller B, A or T)"
                ) from None
        h = res.history
        expl = {
            n: n_player_exploitability(game, n, seed=seed, interpolation=p["interpolation"])
            for n in p["n_players"]
        }
        results[family] = {
            "converged": res.converged,
            "iterations": res.iterations,
            "distance": float(h["distance"][-1]),
            "slope_error": float(h["slope_error"][-1]),
            "intercept_error": float(h["intercept_error"][-1]),
            "exploitability": float(h["exploitability"][-1]),
            "initial_exploitability": float(h["exploitability"][0]),
            "mean_equilibrium_cost": float(eq.costs.mean()),
            "n_player_exploitability": {
                str(n): {"max": r.max_gain, "mean": r.mean_gain} for n, r in expl.items()
            },
        }
        rows.append(
            [
                family,
                res.iterations,
                res.converged,
                float(h["distance"][-1]),
                float(h["exploitability"][0]),
                float(h["exploitability"][-1]),
                float(eq.costs.mean()),
            ]
        )
        for n, r in expl.items():
            rows_n.append([family, n, r.mean_gain, r.max_gain])
        data[family] = {"eq": eq, "res": res}
        for sigma in p["sigmas"] or [p["sigma"]]:
            for na in p["action_frequencies"] or [n_actions]:
                if not (p["sigmas"] or p["action_frequencies"]):
                    continue
                g2 = LQGraphonMFG(
                    p["A"],
                    p["B"],
                    p["Abar"],
                    p["Q"],
                    p["R"],
                    p["G"],
                    p["H"],
                    p["Hbar"],
                    float(sigma),
                    p["T"],
                    family,
                    lambda u: mean + amp * np.sin(2 * np.pi * u),
                    p["n_blocks"],
                    p["n_steps"],
                )
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    r2 = policy_optimization(
                        g2,
                        n_actions=na,
                        method=p["method"],
                        max_iter=p["max_iter"],
                        tol=p["tol"],
                        damping=p["damping"],
                    )
                h2 = r2.history
                robust[f"{family}/sigma={sigma:g}/n_actions={na}"] = {
                    "converged": r2.converged,
                    "iterations": r2.iterations,
                    "distance": float(h2["distance"][-1]),
                    "exploitability": float(h2["exploitability"][-1]),
                }
                rows_r.append(
                    [
                        family,
                        float(sigma),
                        na,
                        r2.iterations,
                        r2.converged,
                        float(h2["distance"][-1]),
                        float(h2["exploitability"][-1]),
                    ]
                )
    summary = {
        "graphons": results,
        "n_actions": n_actions,
        "robustness": robust,
        "slope_at_0": float(next(iter(data.values()))["eq"].slope[0]),
    }
    tables = [
        (
            "Policy optimisation against the exact equilibrium",
            [
                "graphon",
                "outer iters",
                "converged",
                "distance",
                "exploit. start",
                "exploit. end",
                "mean cost",
            ],
            rows,
        ),
    ]
    if rows_n:
        tables.append(
            (
                "Exploitability of the graphon equilibrium in N-player games",
                ["graphon", "N", "mean gain", "max gain"],
                rows_n,
            )
        )
    if rows_r:
        tables.append(
            (
                "Robustness: noise level and action frequency",
                [
                    "graphon",
                    "sigma",
                    "n_actions",
                    "outer iters",
                    "converged",
                    "distance",
                    "exploitability",
                ],
                rows_r,
            )
        )
    return Outcome(summary=summary, tables=tables, data=data)


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return path


def _grid(n: int) -> tuple[int, int]:
    cols = min(3, n)
    return (n + cols - 1) // cols, cols


def write_artifacts(outcome: Outcome, out_dir: Path) -> list[Path]:
    """Write slope, intercept, convergence and mean-path plots and the convergence table."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = outcome.data
    families = list(data)
    written = []
    first = data[families[0]]
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(first["eq"].t, first["eq"].slope, color="k", lw=2, label="exact K(t)")
    for fam in families:
        ax.plot(first["eq"].t, data[fam]["res"].solution.slope, ls="--", label=f"learned ({fam})")
    ax.set_xlabel("t")
    ax.set_ylabel("slope K(t)")
    ax.set_title("Equilibrium slope (shared by all labels)")
    ax.legend(fontsize="small")
    written.append(_save(fig, out_dir / "slope.png"))

    rows, cols = _grid(len(families))
    for name, key, label in (
        ("intercepts.png", "intercepts", "intercept k(u, t)"),
        ("means.png", "means", "mean E[X_u(t)]"),
    ):
        fig = Figure(figsize=(4.2 * cols, 3.2 * rows))
        for i, fam in enumerate(families):
            ax = fig.add_subplot(rows, cols, i + 1)
            eq = data[fam]["eq"]
            vals = getattr(eq, key)
            colors = matplotlib.colormaps["viridis"](np.linspace(0, 1, vals.shape[0]))
            for j in range(vals.shape[0]):
                ax.plot(eq.t, vals[j], color=colors[j], lw=1)
            ax.set_title(f"{fam}")
            ax.set_xlabel("t")
            ax.set_ylabel(label)
        fig.suptitle(f"{label} per label (colour: u from 0 to 1)")
        written.append(_save(fig, out_dir / name))

    fig = Figure(figsize=(10, 4))
    ax1 = fig.add_subplot(1, 2, 1)
    ax2 = fig.add_subplot(1, 2, 2)
    for fam in families:
        h = data[fam]["res"].history
        it = np.arange(1, len(h["distance"]) + 1)
        ax1.semilogy(it, np.maximum(h["distance"], 1e-16), marker=".", label=fam)
        ax2.semilogy(it, np.maximum(np.abs(h["exploitability"]), 1e-16), marker=".", label=fam)
    ax1.set_xlabel("outer iteration")
    ax1.set_ylabel("relative distance to exact equilibrium")
    ax2.set_xlabel("outer iteration")
    ax2.set_ylabel("exploitability")
    ax1.legend(fontsize="small")
    written.append(_save(fig, out_dir / "convergence.png"))

    path = out_dir / "convergence.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "graphon",
                "iteration",
                "slope_error",
                "intercept_error",
                "distance",
                "exploitability",
                "aggregate_change",
                "inner_iterations",
            ]
        )
        for fam in families:
            h = data[fam]["res"].history
            for i in range(len(h["distance"])):
                w.writerow(
                    [
                        fam,
                        i + 1,
                        *(
                            repr(float(h[k][i]))
                            for k in (
                                "slope_error",
                                "intercept_error",
                                "distance",
                                "exploitability",
                                "aggregate_change",
                                "inner_iterations",
                            )
                        ),
                    ]
                )
    written.append(path)
    return written
