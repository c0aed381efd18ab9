"""DBP case studies: a mobile swarm under attack, no defence vs W-MSR vs DBP.

Runs one case study of :mod:`swarm.dbp_cases` (target tracking, time synchronisation or
localisation) with the same seed (same swarm, motion and Byzantine robots) against each
defence: ``none``, ``wmsr_small`` (W-MSR with an F that is too small), ``wmsr_large``
(W-MSR with F = the number of Byzantine robots) and ``dbp``. Optionally also runs the
paper's two claims (:mod:`swarm.dbp_claims`).

Artifacts: ``error_<defence>.png`` (error of the cooperative robots over time, one per
defence), ``error.png`` (all defences), ``swarm.gif`` (the swarm under DBP, Byzantine
and blocked robots marked), ``viewer.html`` (the interactive viewer of
:mod:`swarm.viewer`: every defence side by side, accusations drawn) and ``claims.png``
when ``claims`` is on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image
from tqdm.auto import tqdm

from scenarios.config import Outcome, Param, ScenarioError
from swarm.dbp_cases import ATTACKS, CASES, DBPConfig, make_case
from swarm.dbp_claims import connectivity_claim, single_observer_claim
from swarm.mobility import MOTIONS
from swarm.plots import save_gif
from swarm.viewer import DBPRecorder, dbp_every, write_dbp_viewer

DESCRIPTION = "DBP case study on a mobile swarm: no defence vs W-MSR vs the blocklist."

DEFENCES = ("none", "wmsr_small", "wmsr_large", "dbp")
_FAR = 1e9  # bound of lengths, speeds and offsets: far beyond any arena, far from overflow
_UNITS = {
    "target_tracking": "distance to target",
    "time_sync": "clock error (s)",
    "localization": "distance to box centre",
}

PARAMS: dict[str, Param] = {
    "case": Param("target_tracking", str, "case study", choices=CASES),
    "n_robots": Param(100, int, "number of robots", low=2, high=100_000),
    "byzantine_fraction": Param(0.1, float, "fraction of Byzantine robots", low=0.0, high=0.49),
    "attack": Param("fake", str, "Byzantine behaviour", choices=ATTACKS),
    "defences": Param(
        list(DEFENCES),
        list,
        "defences compared",
        choices=DEFENCES,
        check=lambda v: len(v) > 0 and len(set(v)) == len(v),
        check_msg="(non-empty, no repeats)",
    ),
    "wmsr_f_small": Param(
        1,
        int,
        "F of the too-small W-MSR (< n_robots)",
        low=0,
        high=100_000,
        applies=lambda p: "wmsr_small" in p["defences"],
    ),
    "wmsr_f_large": Param(
        -1,
        int,
        "F of the large W-MSR (-1: number of Byzantine robots; < n_robots)",
        low=-1,
        high=100_000,
        applies=lambda p: "wmsr_large" in p["defences"],
    ),
    "ticks": Param(80, int, "ticks simulated", low=1, high=1_000_000),
    "hop_limit": Param(4, int, "hop limit of observations", low=0, high=100_000),
    "arena": Param(
        100.0, float, "side of the square arena (units)", low=0.0, low_open=True, high=_FAR
    ),
    "radio_range": Param(20.0, float, "radio range (units)", low=0.0, high=_FAR),
    "sensing_range": Param(15.0, float, "sensing range (units)", low=0.0, high=_FAR),
    "max_speed": Param(1.0, float, "robot speed bound (units/s)", low=0.0, high=_FAR),
    "motion": Param("random_waypoint", str, "motion model", choices=MOTIONS),
    "target_speed": Param(1.0, float, "target and decoy speed (units/s)", low=0.0, high=_FAR),
    "noise": Param(0.5, float, "sensing noise bound per coordinate (units)", low=0.0, high=_FAR),
    "coarse_error": Param(
        10.0, float, "half-side of a robot's own position box (units)", low=0.0, high=_FAR
    ),
    "n_anchors": Param(
        5, int, "reference robots (clock observers / position anchors)", low=0, high=100_000
    ),
    "max_clock_offset": Param(
        10.0, float, "cooperative clocks lag by up to this (s)", low=0.0, high=_FAR
    ),
    "byzantine_offset": Param(
        50.0, float, "offset of Byzantine clocks (s) or boxes (units)", low=0.0, high=_FAR
    ),
    "false_accusations": Param(
        3, int, "accusations per Byzantine robot (false_accusation)", low=0, high=100_000
    ),
    "claims": Param(False, bool, "also run the paper's two claims against W-MSR"),
    "claims_f": Param(2, int, "F of the claim experiments", low=1, high=20),
    "gif_frames": Param(40, int, "frames of swarm.gif", low=2, high=500),
}


#: Dotted paths of the summary (sweeps check their ``metrics`` against these).
METRICS = (
    *(
        f"defences.{d}.{m}"
        for d in DEFENCES
        for m in (
            "final_error",
            "mean_error_last_10pct",
            "max_error_final",
            "all_byzantine_blocked_tick",
            "byzantine_blocked",
            "cooperative_wrongly_blocked",
            "accusations",
        )
    ),
    "n_byzantine",
    "claims.*.*.final_error",
)


def resolve(params: dict) -> dict:
    """Return ``params`` with ``wmsr_f_large = -1`` replaced by the number of Byzantine robots."""
    p = dict(params)
    if p["wmsr_f_large"] < 0:
        p["wmsr_f_large"] = round(p["byzantine_fraction"] * p["n_robots"])
    return p


def _config(p: dict, defence: str, record_every: int) -> DBPConfig:
    n_byz = round(p["byzantine_fraction"] * p["n_robots"])
    if defence == "wmsr_small":
        f = p["wmsr_f_small"]
    elif defence == "wmsr_large":
        f = n_byz if p["wmsr_f_large"] < 0 else p["wmsr_f_large"]
    else:
        f = 0
    keys = (
        "n_robots",
        "byzantine_fraction",
        "attack",
        "ticks",
        "hop_limit",
        "arena",
        "radio_range",
        "sensing_range",
        "max_speed",
        "motion",
        "target_speed",
        "noise",
        "coarse_error",
        "n_anchors",
        "max_clock_offset",
        "byzantine_offset",
        "false_accusations",
    )
    return DBPConfig(
        defence="wmsr" if defence.startswith("wmsr") else defence,
        wmsr_f=f,
        record_every=record_every,
        **{k: p[k] for k in keys},
    )


def run(params: dict, *, seed: int, progress: bool = False) -> Outcome:
    """Run the case study against every defence with the same seed."""
    p = params
    used = resolve(p)
    for key, defence in (("wmsr_f_small", "wmsr_small"), ("wmsr_f_large", "wmsr_large")):
        if defence in p["defences"] and used[key] >= p["n_robots"]:
            raise ScenarioError(
                f"params.{key} = {used[key]} must be < n_robots = "
                f"{p['n_robots']}: W-MSR would trim every message"
            )
    animate = "dbp" if "dbp" in p["defences"] else p["defences"][0]
    results = {}
    fs = {}
    recordings = {}
    view_every = dbp_every(p["n_robots"], p["ticks"], len(p["defences"]))
    for defence in p["defences"]:
        every = max(1, p["ticks"] // p["gif_frames"]) if defence == animate else 0
        cfg = _config(p, defence, every)
        fs[defence] = cfg.wmsr_f
        case = make_case(p["case"], cfg, np.random.default_rng(seed))
        recordings[defence] = DBPRecorder(view_every)
        for _ in tqdm(range(cfg.ticks), desc=defence, leave=False, disable=not progress):
            case.step()
            recordings[defence].record(case)
        results[defence] = case.result()
    rows = []
    summary: dict = {"case": p["case"], "defences": {}}
    for defence, r in results.items():
        tail = r.error[-max(1, len(r.error) // 10) :]
        label = f"wmsr (F={fs[defence]})" if defence.startswith("wmsr") else defence
        entry = {
            "label": label,
            "final_error": float(r.error[-1]),
            "mean_error_last_10pct": float(np.mean(tail)),
            "max_error_final": float(r.error_max[-1]),
            "all_byzantine_blocked_tick": r.all_blocked_tick,
            "byzantine_blocked": int(r.byzantine_blocked[-1]),
            "cooperative_wrongly_blocked": int(r.cooperative_blocked[-1]),
            "accusations": r.accusations,
            "error": r.error,
        }
        summary["defences"][defence] = entry
        rows.append(
            [
                label,
                entry["final_error"],
                entry["mean_error_last_10pct"],
                r.all_blocked_tick,
                entry["byzantine_blocked"],
                entry["cooperative_wrongly_blocked"],
                r.accusations,
            ]
        )
    summary["n_byzantine"] = int(next(iter(results.values())).byzantine.sum())
    tables = [
        (
            f"{p['case']} under attack '{p['attack']}' ({_UNITS[p['case']]})",
            [
                "defence",
                "final error",
                "mean error (last 10%)",
                "all blocked at",
                "byz blocked",
                "coop blocked",
                "accusations",
            ],
            rows,
        )
    ]
    claims = None
    if p["claims"]:
        f = p["claims_f"]
        claims = {
            "connectivity": connectivity_claim(f),
            "single_observer": single_observer_claim(f),
        }
        crow = []
        for name, res in claims.items():
            for proto, r in res.items():
                crow.append([name, proto, float(r.error[-1]), int(r.blocked.sum())])
        summary["claims"] = {
            name: {
                proto: {"final_error": float(r.error[-1]), "error": r.error}
                for proto, r in res.items()
            }
            for name, res in claims.items()
        }
        tables.append(
            (
                f"paper's claims, F = {f} (error: largest cooperative distance to truth)",
                ["claim", "protocol", "final error", "blocked"],
                crow,
            )
        )
    data = {
        "results": results,
        "labels": {d: summary["defences"][d]["label"] for d in results},
        "animate": animate,
        "case": p["case"],
        "arena": p["arena"],
        "claims": claims,
        "recordings": recordings,
        "radio_range": p["radio_range"],
        "title": f"DBP {p['case'].replace('_', ' ')}: {p['n_robots']} robots, "
        f"attack '{p['attack']}'",
    }
    return Outcome(summary=summary, tables=tables, data=data)


def _error_figure(items, case: str, title: str) -> Figure:
    fig = Figure(figsize=(6.4, 3.8), dpi=100)
    ax = fig.add_subplot()
    for label, r in items:
        ticks = np.arange(1, len(r.error) + 1)
        ax.plot(ticks, r.error, label=f"{label} (mean)")
        ax.plot(
            ticks,
            r.error_max,
            ls=":",
            lw=0.8,
            color=ax.lines[-1].get_color(),
            label=f"{label} (worst)",
        )
        if r.all_blocked_tick is not None:
            ax.axvline(r.all_blocked_tick, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("tick")
    ax.set_ylabel(f"cooperative {_UNITS[case]}")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_ylim(bottom=0.0)
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _frame(frame: dict, byzantine: np.ndarray, arena: float, title: str) -> Image.Image:
    fig = Figure(figsize=(4.0, 4.0), dpi=75)
    ax = fig.add_subplot()
    pos = frame["positions"]
    blocked = frame["blocked"]
    coop = ~byzantine
    ax.scatter(*pos[coop & ~blocked].T, s=8, c="tab:blue", label="cooperative")
    ax.scatter(*pos[byzantine & ~blocked].T, s=14, c="tab:red", marker="^", label="Byzantine")
    ax.scatter(*pos[byzantine & blocked].T, s=18, c="black", marker="x", label="Byzantine, blocked")
    ax.scatter(
        *pos[coop & blocked].T, s=18, c="tab:orange", marker="x", label="cooperative, blocked"
    )
    for key, style in (
        ("target", dict(c="green", marker="*", s=120)),
        ("decoy", dict(c="tab:red", marker="*", s=80)),
    ):
        if key in frame:
            ax.scatter(*frame[key], **style, label=key)
    for key, style in (
        ("observer", dict(facecolors="none", edgecolors="green", s=40)),
        ("anchor", dict(facecolors="none", edgecolors="green", s=40)),
    ):
        if key in frame:
            ax.scatter(*pos[frame[key]].T, **style, label=key)
    ax.set_xlim(0, arena)
    ax.set_ylim(0, arena)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=5, loc="upper right")
    fig.tight_layout()
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    return Image.fromarray(rgba[..., :3].copy())


def write_viewer(outcome: Outcome, out_dir: Path) -> Path:
    """Write ``viewer.html``, every defence side by side; return its path."""
    d = outcome.data
    return write_dbp_viewer(
        Path(out_dir) / "viewer.html",
        d["recordings"],
        d["results"],
        d["labels"],
        arena=d["arena"],
        radio_range=d["radio_range"],
        title=d["title"],
        error_name=_UNITS[d["case"]],
    )


def write_artifacts(outcome: Outcome, out_dir: Path) -> list[Path]:
    """Write the error plots, the swarm animation, ``viewer.html`` and the claims plot."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    d = outcome.data
    written = []
    labels = d["labels"]
    for defence, r in d["results"].items():
        fig = _error_figure([(labels[defence], r)], d["case"], f"{d['case']}: {labels[defence]}")
        FigureCanvasAgg(fig)
        path = out_dir / f"error_{defence}.png"
        fig.savefig(path)
        written.append(path)
    fig = _error_figure(
        [(labels[k], r) for k, r in d["results"].items()], d["case"], f"{d['case']}: all defences"
    )
    FigureCanvasAgg(fig)
    fig.savefig(out_dir / "error.png")
    written.append(out_dir / "error.png")
    r = d["results"][d["animate"]]
    if r.frames:
        images = []
        for frame in r.frames:
            fig_title = f"{labels[d['animate']]}, tick {frame['tick']}"
            fig = _frame(frame, r.byzantine, d["arena"], fig_title)
            images.append(fig)
        path = out_dir / "swarm.gif"
        save_gif(images, path, duration=120)
        written.append(path)
    written.append(write_viewer(outcome, out_dir))
    if d["claims"]:
        fig = Figure(figsize=(8.0, 3.4), dpi=100)
        FigureCanvasAgg(fig)
        for k, (name, res) in enumerate(d["claims"].items()):
            ax = fig.add_subplot(1, 2, k + 1)
            for proto, cr in res.items():
                ax.plot(cr.error, label=proto)
            ax.set_title(name.replace("_", " "))
            ax.set_xlabel("round")
            ax.set_ylabel("worst cooperative error")
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out_dir / "claims.png")
        written.append(out_dir / "claims.png")
    return written
