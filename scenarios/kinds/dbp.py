"""DBP case studies: a mobile swarm under attack, no defence vs W-MSR vs DBP.

Runs one case study of :mod:`swarm.dbp_cases` (target tracking, time synchronisation or
localisation) with the same seed (same swarm, motion and Byzantine robots) against each
defence: ``none``, ``wmsr_small`` (W-MSR with an F that is too small), ``wmsr_large``
(W-MSR with F = the number of Byzantine robots) and ``dbp``. Optionally also runs the
paper's two claims (:mod:`swarm.dbp_claims`).

Artifacts: ``error_<defence>.png`` (error of the cooperative robots over time, one per
defence), ``error.png`` (all defences), ``swarm.gif`` (the swarm under DBP: Byzantine
and blocked robots marked, accusations drawn from accuser to accused, those of the last
few ticks highlighted), ``viewer.html`` (the interactive viewer of
:mod:`swarm.viewer`: every defence side by side, accusations drawn) and ``claims.png``
when ``claims`` is on.

Examples
--------
Which accusations a GIF frame draws, as earlier and recent (accuser, accused) pairs:

>>> import numpy as np
>>> acc = np.array([[0, 5, 1], [1, 5, 3], [2, 6, 9]])   # accuser, accused, tick issued
>>> earlier, recent = frame_accusations(acc, tick=4, recent=2)
>>> earlier.tolist(), recent.tolist()
([[0, 5]], [[1, 5]])
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from PIL import Image
from tqdm.auto import tqdm

from scenarios.config import Outcome, Param, ScenarioError
from swarm.dbp_cases import ATTACKS, CASES, DBPConfig, make_case
from swarm.dbp_claims import connectivity_claim, single_observer_claim
from swarm.mobility import MOTIONS
from swarm.plots import save_gif
from swarm.viewer import DBPRecorder, dbp_every, write_dbp_viewer

__all__ = [
    "DEFENCES",
    "DESCRIPTION",
    "METRICS",
    "PARAMS",
    "frame_accusations",
    "resolve",
    "run",
    "swarm_frame",
    "write_artifacts",
]

DESCRIPTION = "DBP case study on a mobile swarm: no defence vs W-MSR vs the blocklist."

DEFENCES = ("none", "wmsr_small", "wmsr_large", "dbp")
_FAR = 1e9  # bound of lengths, speeds and offsets: far beyond any arena, far from overflow
_ACCUSE = "darkviolet"  # colour of recent accusations in swarm.gif
_RECENT = 5  # ticks an accusation stays highlighted in swarm.gif (at least)
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
    "gif_frames": Param(40, int, "frames of swarm.gif (at most)", low=2, high=500),
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
    gif_every = -(-p["ticks"] // p["gif_frames"])  # ceil: at most gif_frames frames
    for defence in p["defences"]:
        every = gif_every if defence == animate else 0
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
        # swarm.gif highlights the accusations of the last few ticks (at least one frame's).
        "recent": max(_RECENT, gif_every),
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


def frame_accusations(
    accusations: np.ndarray, tick: int, recent: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split the accusations issued up to ``tick`` into earlier and recent ones.

    Parameters
    ----------
    accusations : numpy.ndarray of int, shape (k, 3)
        Accuser, accused, tick issued (as :attr:`swarm.viewer.DBPRecorder.accusations`).
    tick : int
        The frame's tick; accusations issued later are left out.
    recent : int
        Accusations issued in the last ``recent`` ticks (``tick - recent < issued <= tick``)
        are recent, >= 1.

    Returns
    -------
    earlier, recent : numpy.ndarray of int, shapes (k1, 2) and (k2, 2)
        Accuser, accused of each accusation; ``k1 + k2`` accusations issued up to ``tick``.
    """
    acc = np.asarray(accusations, dtype=np.int64).reshape(-1, 3)
    issued = acc[:, 2]
    done = issued <= tick
    new = done & (issued > tick - recent)
    return acc[done & ~new, :2], acc[new, :2]


def swarm_frame(
    frame: dict,
    byzantine: np.ndarray,
    arena: float,
    title: str,
    accusations: np.ndarray | None = None,
    recent: int = 1,
) -> Figure:
    """Draw one frame of ``swarm.gif``: robots, blocked robots and accusations.

    Cooperative robots are blue dots and Byzantine robots red triangles; a blocked robot
    (of either kind) is ringed black. Each accusation issued up to the frame's tick is a
    line from accuser to accused at their current positions: thin grey when earlier,
    a purple arrow when issued in the last ``recent`` ticks. The legend, below the
    arena, gives the counts.

    Parameters
    ----------
    frame : dict
        A frame of :attr:`swarm.dbp_cases.CaseResult.frames`: ``tick``, ``positions``
        (shape (n, 2)), ``blocked`` (shape (n,)) and optionally ``target``, ``decoy``,
        ``observer``, ``anchor``.
    byzantine : numpy.ndarray of bool, shape (n,)
        Byzantine robots.
    arena : float
        Side of the arena.
    title : str
        Title of the frame.
    accusations : numpy.ndarray of int, shape (k, 3), optional
        Accuser, accused, tick issued of every accusation of the run (see
        :func:`frame_accusations`); None: none drawn.
    recent : int
        Window of recent accusations in ticks, >= 1.

    Returns
    -------
    matplotlib.figure.Figure
        The figure; its accusation artists have gids ``"accusations-earlier"`` (a
        LineCollection) and ``"accusations-recent"`` (a Quiver).
    """
    fig = Figure(figsize=(4.0, 4.6), dpi=75, layout="constrained")
    ax = fig.add_subplot()
    pos = frame["positions"]
    blocked = frame["blocked"]
    coop = ~byzantine
    empty = np.zeros((0, 3), dtype=np.int64)
    earlier, new = frame_accusations(
        empty if accusations is None else accusations, frame["tick"], recent
    )
    # Aliased 1-pixel lines: flat colour, so the GIF stays small.
    ax.add_collection(
        LineCollection(
            pos[earlier],
            colors="0.8",
            linewidths=0.5,
            antialiased=False,
            zorder=1,
            gid="accusations-earlier",
        )
    )
    start = pos[new[:, 0]]
    delta = pos[new[:, 1]] - start
    ax.quiver(
        *start.T,
        *delta.T,
        angles="xy",
        scale_units="xy",
        scale=1,
        color=_ACCUSE,
        width=0.004,
        headwidth=4,
        headlength=5,
        zorder=1.5,
        gid="accusations-recent",
    )
    handles = [
        ax.scatter(*pos[coop].T, s=8, c="tab:blue", zorder=2, label=f"cooperative: {coop.sum()}"),
        ax.scatter(
            *pos[byzantine].T,
            s=16,
            c="tab:red",
            marker="^",
            zorder=3,
            label=f"Byzantine: {byzantine.sum()}",
        ),
        ax.scatter(
            *pos[blocked].T,
            s=70,
            facecolors="none",
            edgecolors="black",
            linewidths=0.9,
            zorder=3,
            label=f"blocked (ring): {(blocked & byzantine).sum()} Byz, "
            f"{(blocked & coop).sum()} coop",
        ),
        Line2D(
            [],
            [],
            color=_ACCUSE,
            lw=1.2,
            marker=">",
            markersize=4,
            label=f"accuser \u2192 accused, last {recent} ticks: {len(new)}",
        ),
        Line2D([], [], color="0.8", lw=0.8, label=f"accusation, earlier: {len(earlier)}"),
    ]
    for key, style in (
        ("target", dict(c="green", marker="*", s=120)),
        ("decoy", dict(c="tab:red", marker="*", s=80)),
    ):
        if key in frame:
            handles.append(ax.scatter(*frame[key], **style, zorder=5, label=key))
    for key in ("observer", "anchor"):
        if key in frame:
            handles.append(
                ax.scatter(
                    *pos[frame[key]].T,
                    marker="s",
                    s=40,
                    facecolors="none",
                    edgecolors="green",
                    zorder=2,
                    label=key,
                )
            )
    ax.set_xlim(0, arena)
    ax.set_ylim(0, arena)
    ax.set_aspect("equal")
    ax.tick_params(labelsize=6)
    fig.suptitle(title, fontsize=9)
    fig.legend(
        handles=handles, loc="outside lower center", ncols=2, fontsize=5.5, columnspacing=1.0
    )
    return fig


def _render(fig: Figure) -> Image.Image:
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
        accusations = d["recordings"][d["animate"]].accusations
        images = [
            _render(
                swarm_frame(
                    frame,
                    r.byzantine,
                    d["arena"],
                    f"{labels[d['animate']]}, tick {frame['tick']}",
                    accusations,
                    d["recent"],
                )
            )
            for frame in r.frames
        ]
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
