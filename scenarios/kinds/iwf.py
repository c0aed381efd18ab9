"""Iterative water-filling schedules compared on one power-control game.

The game is either a random frequency-selective Rayleigh channel with path loss
(``channel = "rayleigh"``) or the two-user, two-carrier game with symmetric cross gains
``cross_gain`` times the direct ones (``channel = "two-user-oscillating"``; for
``cross_gain > 1``, ``rho(S_max) = cross_gain > 1``, simultaneous IWF oscillates for ever
and sequential IWF converges, to one of several equilibria).

Every schedule in ``schedules`` is run from silence (all powers zero): ``sequential``
(Gauss-Seidel), ``simultaneous`` (Jacobi), ``asynchronous`` (random subsets, stale views
up to ``max_delay`` ticks old) and ``damped`` (Jacobi with relaxation ``step``). The
outcome reports ``rho(S_max)``, each schedule's convergence, iterations, final Nash gap,
sum rate and distance to the first schedule's end point; the plots show the Nash gap
against the iteration (log scale) and each user's power over the carriers.

Examples
--------
The oscillating two-user game: sequential IWF converges, simultaneous IWF does not.

>>> from scenarios.config import validate_params
>>> from scenarios.kinds import iwf
>>> raw = {
...     "channel": "two-user-oscillating",
...     "schedules": ["sequential", "simultaneous"],
...     "max_iter": 50,
... }
>>> out = iwf.run(validate_params(raw, iwf.PARAMS, where="demo"), seed=0)
>>> round(out.summary["spectral_radius"], 9)
2.0
>>> {s: r["converged"] for s, r in out.summary["schedules"].items()}
{'sequential': True, 'simultaneous': False}
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from games.power_control import PowerControlGame
from protocols.checks import ConvergenceWarning
from scenarios.config import Outcome, Param, ScenarioError

__all__ = ["DESCRIPTION", "METRICS", "PARAMS", "run", "write_artifacts"]

DESCRIPTION = "Iterative water-filling: schedules compared, Nash gap and power allocation."

_SCHEDULES = ("sequential", "simultaneous", "asynchronous", "damped")
_POS = {"low": 0.0, "low_open": True}
_RAYLEIGH = {"applies": lambda p: p["channel"] == "rayleigh"}
_BYTES_PER_GAIN = 40  # peak bytes per entry of the Q x Q x N channel (complex FFT and more)

PARAMS: dict[str, Param] = {
    "channel": Param(
        "rayleigh", str, "the game's channel", choices=("rayleigh", "two-user-oscillating")
    ),
    "n_users": Param(8, int, "users Q (rayleigh channel)", low=1, high=1000, **_RAYLEIGH),
    "n_carriers": Param(32, int, "carriers N (rayleigh channel)", low=1, high=16384, **_RAYLEIGH),
    "area": Param(
        2000.0, float, "side of the square holding the transmitters (m)", **_POS, **_RAYLEIGH
    ),
    "link_min": Param(
        10.0, float, "shortest transmitter-receiver distance (m)", **_POS, **_RAYLEIGH
    ),
    "link_max": Param(
        50.0, float, "longest transmitter-receiver distance (m)", **_POS, **_RAYLEIGH
    ),
    "path_loss_exponent": Param(
        3.5, float, "distance path-loss exponent", low=0.0, high=10.0, **_RAYLEIGH
    ),
    "n_taps": Param(
        8,
        int,
        "taps of the frequency-selective fading (<= n_carriers)",
        low=1,
        high=16384,
        **_RAYLEIGH,
    ),
    "noise": Param(1e-8, float, "noise power per carrier (W)", **_POS, **_RAYLEIGH),
    "budget": Param(1.0, float, "power budget of every user (W)", **_POS),
    "cross_gain": Param(
        2.0,
        float,
        "cross over direct gain (two-user-oscillating channel)",
        low=0.0,
        high=1e6,
        applies=lambda p: p["channel"] == "two-user-oscillating",
    ),
    "schedules": Param(
        list(_SCHEDULES),
        list,
        "IWF schedules to compare",
        choices=_SCHEDULES,
        check=lambda v: len(v) > 0 and len(set(v)) == len(v),
        check_msg="non-empty, no repeats",
    ),
    "tol": Param(1e-9, float, "target relative Nash gap", low=0.0, high=1.0),
    "max_iter": Param(500, int, "largest number of updates per schedule", low=1, high=10_000_000),
    "step": Param(
        0.5,
        float,
        "relaxation of the damped schedule",
        low=0.0,
        low_open=True,
        high=1.0,
        applies=lambda p: "damped" in p["schedules"],
    ),
    "update_prob": Param(
        0.5,
        float,
        "asynchronous: probability a user updates at a tick",
        low=0.0,
        low_open=True,
        high=1.0,
        applies=lambda p: "asynchronous" in p["schedules"],
    ),
    "max_delay": Param(
        3,
        int,
        "asynchronous: largest age of a user's view (ticks)",
        low=0,
        high=1000,
        applies=lambda p: "asynchronous" in p["schedules"],
    ),
    "measurement_noise": Param(
        0.0, float, "std of the log-normal error on measured interference", low=0.0, high=10.0
    ),
}


#: Dotted paths of the summary (sweeps check their ``metrics`` against these).
METRICS = (
    "n_users",
    "n_carriers",
    "spectral_radius",
    "certified",
    "converged_spread",
    *(
        f"schedules.{s}.{m}"
        for s in _SCHEDULES
        for m in ("converged", "iterations", "nash_gap", "sum_rate", "distance_to_first")
    ),
)


def _memory_limit() -> int:
    """Half the machine's memory (bytes), or 8 GiB where it cannot be read."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (AttributeError, OSError, ValueError):
        return 8 * 2**30


def _check_memory(p: dict) -> None:
    need = _BYTES_PER_GAIN * p["n_users"] ** 2 * p["n_carriers"]
    limit = _memory_limit()
    if need > limit:
        raise ScenarioError(
            f"params: n_users = {p['n_users']} and n_carriers = {p['n_carriers']} need about "
            f"{need / 2**30:.3g} GiB (the channel has n_users^2 x n_carriers gains), more "
            f"than half this machine's memory ({limit / 2**30:.3g} GiB); lower n_users or "
            f"n_carriers"
        )


def _game(p: dict, rng: np.random.Generator) -> PowerControlGame:
    if p["channel"] == "two-user-oscillating":
        g = np.full((2, 2, 2), p["cross_gain"])
        g[0, 0] = g[1, 1] = 1.0
        # Slightly different noise on the two carriers, so that the symmetric start is
        # not already the symmetric (mixed) equilibrium.
        return PowerControlGame(g, np.array([[0.1, 0.2], [0.1, 0.2]]), p["budget"])
    if p["link_min"] > p["link_max"]:
        raise ScenarioError(
            f"params: link_min = {p['link_min']} must be <= link_max = {p['link_max']}"
        )
    if p["n_taps"] > p["n_carriers"]:
        raise ScenarioError(
            f"params.n_taps = {p['n_taps']} must be <= n_carriers = {p['n_carriers']}"
        )
    _check_memory(p)
    return PowerControlGame.rayleigh(
        p["n_users"],
        p["n_carriers"],
        seed=rng,
        noise=p["noise"],
        budget=p["budget"],
        area=p["area"],
        link_length=(p["link_min"], p["link_max"]),
        path_loss_exponent=p["path_loss_exponent"],
        n_taps=p["n_taps"],
    )


def run(params: dict, *, seed: int, progress: bool = False) -> Outcome:
    """Build the game and run every schedule on it.

    Parameters
    ----------
    params : dict
        Checked parameters (see ``PARAMS``).
    seed : int
        Seed of the channel draw, the asynchronous schedule and the measurement noise.
    progress : bool
        Show a progress bar over the schedules.

    Returns
    -------
    Outcome
        Summary per schedule, a table, and the results for the plots.
    """
    p = params
    rng = np.random.default_rng(seed)
    game = _game(p, rng)
    rho = game.spectral_radius()
    schedules = list(p["schedules"])
    results = {}
    it = schedules
    if progress:
        from tqdm import tqdm

        it = tqdm(schedules, desc="schedules", leave=False)
    for name in it:
        kind = "simultaneous" if name == "damped" else name
        opts = {"step": p["step"]} if name == "damped" else {}
        if name == "asynchronous":
            opts.update(update_prob=p["update_prob"], max_delay=p["max_delay"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            results[name] = game.solve(
                kind,
                tol=p["tol"],
                max_iter=p["max_iter"],
                seed=rng,
                measurement_noise=p["measurement_noise"],
                **opts,
            )
    ref = results[schedules[0]].solution
    summary_sched = {}
    rows = []
    for name, res in results.items():
        dist = float(np.abs(res.solution - ref).max() / game.budget.max())
        summary_sched[name] = {
            "converged": res.converged,
            "iterations": res.iterations,
            "nash_gap": res.nash_gap,
            "sum_rate": res.sum_rate,
            "rates": res.rates,
            "distance_to_first": dist,
        }
        rows.append([name, res.converged, res.iterations, res.nash_gap, res.sum_rate, dist])
    converged = [r.solution for r in results.values() if r.converged]
    spread = max(
        (float(np.abs(a - b).max() / game.budget.max()) for a in converged for b in converged),
        default=0.0,
    )
    summary = {
        "channel": p["channel"],
        "n_users": game.n_users,
        "n_carriers": game.n_carriers,
        "spectral_radius": rho,
        "certified": rho < 1.0,
        "schedules": summary_sched,
        "converged_spread": spread,
    }
    verdict = (
        "unique equilibrium, every schedule converges"
        if rho < 1
        else "no guarantee: schedules may oscillate or reach different equilibria"
    )
    tables = [
        (
            f"IWF on {game.n_users} users x {game.n_carriers} carriers: rho(S_max) = {rho:.4g} "
            f"({verdict})",
            [
                "schedule",
                "converged",
                "iterations",
                "Nash gap",
                "sum rate (bit/s/Hz)",
                "max |p - p_first| / budget",
            ],
            rows,
        )
    ]
    return Outcome(
        summary=summary,
        tables=tables,
        data={"game": game, "results": results, "tol": p["tol"], "rho": rho},
    )


def write_artifacts(outcome: Outcome, out_dir: Path) -> list[Path]:
    """Write ``nash_gap.png`` and ``power_allocation.png``.

    Parameters
    ----------
    outcome : Outcome
        From :func:`run`.
    out_dir : Path
        Output folder.

    Returns
    -------
    list of Path
        The written files.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = outcome.data
    game, results, rho = data["game"], data["results"], data["rho"]
    floor = 1e-17  # exact zeros (a converged sequential sweep) drawn at the floor
    written = []

    fig = Figure(figsize=(7, 4.5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for name, res in results.items():
        hist = np.maximum(res.residuals, floor)
        label = f"{name} ({'converged' if res.converged else 'not converged'}, "
        label += f"{res.iterations} it.)"
        ax.semilogy(np.arange(hist.size), hist, label=label, lw=1.5)
    ax.axhline(data["tol"], color="k", ls=":", lw=1, label=f"tol = {data['tol']:g}")
    ax.set_xlabel("iteration (sweep, round or tick)")
    ax.set_ylabel("relative Nash gap")
    ax.set_title(
        f"IWF on {game.n_users} users x {game.n_carriers} carriers, rho(S_max) = {rho:.3g}"
    )
    ax.legend(fontsize="small")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    path = out_dir / "nash_gap.png"
    fig.savefig(path)
    written.append(path)

    n_show = min(game.n_users, 8)
    ncols = min(n_show, 4)
    nrows = int(np.ceil(n_show / ncols))
    fig = Figure(figsize=(3.2 * ncols, 2.6 * nrows + 0.6), dpi=100)
    FigureCanvasAgg(fig)
    carriers = np.arange(game.n_carriers)
    width = 0.8 / len(results)
    for q in range(n_show):
        ax = fig.add_subplot(nrows, ncols, q + 1)
        for i, (name, res) in enumerate(results.items()):
            ax.bar(
                carriers + (i - (len(results) - 1) / 2) * width,
                res.solution[q],
                width=width,
                label=name,
            )
        ax.set_title(
            f"user {q}: rate {results[next(iter(results))].rates[q]:.3g}", fontsize="small"
        )
        ax.set_xlabel("carrier", fontsize="small")
        ax.set_ylabel("power (W)", fontsize="small")
    fig.axes[0].legend(fontsize="x-small")
    shown = "" if n_show == game.n_users else f" (first {n_show} of {game.n_users} users)"
    fig.suptitle(f"power allocation at the end of each schedule{shown}")
    fig.tight_layout()
    path = out_dir / "power_allocation.png"
    fig.savefig(path)
    written.append(path)
    return written
