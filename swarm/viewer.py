"""An interactive viewer of consensus and DBP runs: one self-contained HTML file.

:func:`write_consensus_viewer` and :func:`write_dbp_viewer` write ``viewer.html``: the
network at the robots' positions, node colour by value with a colour bar, Byzantine
(and, for DBP, blocked) robots marked, a round slider with play/pause, every protocol
of the run side by side on the same layout, the spread (or error) over rounds with the
current round marked, and, on clicking a robot, its value history and what it received.

The page is plain JavaScript and SVG, inlined with its data (``viewer_page.html`` beside
this module): no server, no network. For the received values the file does not store
every message: it stores every robot's value per stored round and each Byzantine
robot's message along each of its out-edges, and the page rebuilds what robot ``i``
received and applies the W-MSR trimming rule of :mod:`protocols.wmsr` itself.

Size: consensus values are float64 (the page's trimming then sees exactly what the
kernel saw); DBP errors and positions, shown only, are float32.
When they would not fit in :data:`MAX_BYTES`, only every k-th round is kept (rounds
0, k, 2k, ... and the last), and the page says so.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> import numpy as np
>>> from swarm.attacks import make_attack
>>> from swarm.simulate import simulate_consensus
>>> from swarm.topology import robust_geometric, to_csr
>>> from swarm.viewer import write_consensus_viewer
>>> rng = np.random.default_rng(0)
>>> G = robust_geometric(20, 3, 0.3, rng)
>>> byzantine = np.arange(20) == 0
>>> run = simulate_consensus(to_csr(G), rng.random(20), byzantine, make_attack("two_faced"),
...                          protocol="wmsr", f=1, rounds=10, rng=np.random.default_rng(1))
>>> positions = np.array([G.nodes[i]["pos"] for i in range(20)])
>>> with tempfile.TemporaryDirectory() as folder:
...     path = write_consensus_viewer(Path(folder) / "viewer.html", G, [run], positions)
...     print(path.name, "<svg" in path.read_text(encoding="utf-8"))
viewer.html True
"""

from __future__ import annotations

import base64
import json
from importlib.resources import files
from pathlib import Path

import matplotlib
import networkx as nx
import numpy as np

from swarm.simulate import ConsensusResult
from swarm.topology import to_csr

__all__ = [
    "MAX_BYTES",
    "DBPRecorder",
    "consensus_stride",
    "dbp_every",
    "write_consensus_viewer",
    "write_dbp_viewer",
]

#: The viewer file stays below this many bytes: rounds are thinned to fit.
MAX_BYTES = 20_000_000
# Bytes the thinned per-round data may take (base64), leaving room for the rest.
_ROUND_BUDGET = 15_000_000
# Points of each spread / error curve (longer curves are thinned for the chart only).
_CHART_POINTS = 2000
_LABELS = {"lcp": "LCP", "wmsr": "W-MSR"}


def _b64(a: np.ndarray, dtype) -> str:
    return base64.b64encode(
        np.ascontiguousarray(a, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()
    ).decode("ascii")


def _stride(bytes_per_round: float, rounds: int, fixed: float) -> int:
    """Return a stride k (grown ~10% a step) with which rounds 0, k, 2k, ..., last fit.

    At least the first and the last round are kept, whatever their size.
    """
    budget = max(_ROUND_BUDGET - fixed, 2 * bytes_per_round)
    k = 1
    while (rounds // k + 2) * bytes_per_round > budget:
        k = max(k + 1, int(k * 1.1))
    return k


def consensus_stride(
    n: int, rounds: int, n_protocols: int, n_byzantine_edges: int, n_edges: int
) -> int:
    """Round stride k the consensus viewer keeps so that its file fits :data:`MAX_BYTES`.

    Parameters
    ----------
    n : int
        Robots.
    rounds : int
        Rounds simulated.
    n_protocols : int
        Protocols shown side by side.
    n_byzantine_edges : int
        In-edges whose sender is Byzantine (messages stored per round).
    n_edges : int
        Undirected edges of the graph.

    Returns
    -------
    int
        1 keeps every round; k keeps rounds 0, k, 2k, ... and the last.
    """
    per_round = n_protocols * (n + n_byzantine_edges) * 8 * 4 / 3
    fixed = (n * 8 + n_edges * 16 + n * 4) * 4 / 3 + n_protocols * 2 * _CHART_POINTS * 16
    return _stride(per_round, rounds, fixed)


def _stored_rounds(rounds: int, k: int) -> np.ndarray:
    return np.unique(np.append(np.arange(0, rounds + 1, k), rounds))


def _colormap() -> list[list[int]]:
    rgb = matplotlib.colormaps["viridis"](np.linspace(0.0, 1.0, 17))[:, :3]
    return np.round(rgb * 255).astype(int).tolist()


def _series(name: str, x: np.ndarray, y: np.ndarray) -> dict:
    step = max(1, -(-x.size // _CHART_POINTS))
    keep = np.unique(np.append(np.arange(0, x.size, step), x.size - 1))
    return {"name": name, "x": _b64(x[keep], "<f8"), "y": _b64(y[keep], "<f8")}


def _hull_violation_per_round(traj: np.ndarray, honest: np.ndarray) -> np.ndarray:
    h = traj[:, honest]
    lo, hi = h[0].min(), h[0].max()
    with np.errstate(invalid="ignore"):
        out = np.maximum(np.maximum(lo - h.min(axis=1), h.max(axis=1) - hi), 0.0)
    return np.where(np.isnan(out), np.inf, out)


def _write(path: Path, data: dict) -> Path:
    page = files("swarm").joinpath("viewer_page.html").read_text(encoding="utf-8")
    blob = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page.replace("/*__VIEWER_DATA__*/null", blob), encoding="utf-8")
    return path


def _fmt(v) -> float | None:
    return None if v is None or not np.isfinite(v) else float(v)


def write_consensus_viewer(
    path: str | Path,
    graph: nx.Graph,
    results: list[ConsensusResult],
    positions: np.ndarray,
    *,
    radius: float | None = None,
    title: str = "consensus",
    stride: int = 1,
) -> Path:
    """Write the viewer of a consensus run (one panel per protocol, same layout).

    Parameters
    ----------
    path : str or Path
        The HTML file to write.
    graph : networkx.Graph
        Communication graph on nodes ``0 .. n-1``.
    results : list of ConsensusResult
        One per protocol, all on ``graph`` with the same Byzantine robots. Those run with
        ``record_messages=stride`` let the page show what each robot received.
    positions : numpy.ndarray, shape (n, 2)
        Where to draw the robots.
    radius : float, optional
        Radio range: edges longer than it are drawn as robustness links (the extra
        edges of :func:`swarm.topology.robust_geometric`). None draws all edges alike.
    title : str
        Page title.
    stride : int
        Keep rounds 0, stride, 2 * stride, ... and the last (see :func:`consensus_stride`).

    Returns
    -------
    Path
        The written file.
    """
    if not results:
        raise ValueError("results must hold at least one ConsensusResult")
    n = graph.number_of_nodes()
    positions = np.asarray(positions, dtype=float)
    if positions.shape != (n, 2):
        raise ValueError(f"positions must have shape ({n}, 2), got {positions.shape}")
    if not isinstance(stride, int) or stride < 1:
        raise ValueError(f"stride must be an int >= 1, got {stride!r}")
    byz = results[0].byzantine
    honest = ~byz
    rounds = results[0].trajectories.shape[0] - 1
    for r in results:
        if r.trajectories.shape != (rounds + 1, n) or not np.array_equal(r.byzantine, byz):
            raise ValueError(
                f"results must all have {n} robots, {rounds} rounds and the same Byzantine robots"
            )
    stored = _stored_rounds(rounds, stride)
    indptr, indices = to_csr(graph)
    edges = np.array(sorted(graph.edges()), dtype=np.int64).reshape(-1, 2)
    init = results[0].trajectories[0, honest]
    vmin, vmax = (float(init.min()), float(init.max())) if init.size else (0.0, 1.0)
    if vmax <= vmin:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    panels = []
    for r in results:
        label = _LABELS[r.protocol] + (f" (f={r.f})" if r.protocol == "wmsr" else "")
        msgs = None
        if r.messages is not None and r.messages.shape[0]:
            rec_k = -(-rounds // r.messages.shape[0])
            if rec_k != stride:
                raise ValueError(
                    f"results of {r.protocol} recorded messages every {rec_k} "
                    f"rounds, but stride is {stride}"
                )
            msgs = _b64(r.messages, "<f8")
        x = np.arange(rounds + 1, dtype=float)
        panels.append(
            {
                "name": r.protocol,
                "label": label,
                "f": r.f if r.protocol == "wmsr" else None,
                "values": _b64(r.trajectories[stored], "<f8"),
                "messages": msgs,
                "final": {"name": "final spread", "value": _fmt(r.final_spread)},
                "summary": [
                    ["hull violation", _fmt(r.hull_violation)],
                    ["converged round", r.converged_round],
                    ["final mean", _fmt(r.final_mean)],
                ],
                "series": [
                    _series("spread", x, r.honest_spread),
                    _series("hull violation", x, _hull_violation_per_round(r.trajectories, honest)),
                ],
            }
        )
    data = {
        "kind": "consensus",
        "title": title,
        "n": n,
        "round_name": "round",
        "value_name": "value",
        "rounds": _b64(stored, "<i4"),
        "stride": stride,
        "total_rounds": rounds,
        "vmin": vmin,
        "vmax": vmax,
        "log_chart": True,
        "colormap": _colormap(),
        "byzantine": np.flatnonzero(byz).tolist(),
        "radius": radius,
        "positions": _b64(positions, "<f8"),
        "edges": _b64(edges, "<i4"),
        "indptr": _b64(indptr, "<i4"),
        "indices": _b64(indices, "<i4"),
        "panels": panels,
    }
    return _write(path, data)


class DBPRecorder:
    """Frames of one DBP case run for :func:`write_dbp_viewer`.

    Call :meth:`record` after every ``case.step()``: it keeps the positions, blocked
    robots and every cooperative robot's error of every ``every``-th tick (and the
    last), and every accusation issued so far (accuser, accused, tick).

    Parameters
    ----------
    every : int
        Keep ticks 1, 1 + every, 1 + 2 * every, ... and the last, >= 1.
    """

    def __init__(self, every: int = 1):
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be an int >= 1, got {every!r}")
        self.every = every
        self.ticks: list[int] = []
        self.positions: list[np.ndarray] = []
        self.blocked: list[np.ndarray] = []
        self.errors: list[np.ndarray] = []
        self.extras: dict[str, list] = {}
        self._accusations: dict[tuple[int, int], int] = {}

    def record(self, case) -> None:
        """Record the state of ``case`` (a :func:`swarm.dbp_cases.make_case` case) now."""
        g = case.gossip
        live = np.flatnonzero(g.accuser >= 0)
        for a, b, t in zip(
            g.accuser[live].tolist(),
            g.accused[live].tolist(),
            g.timestamp[live].tolist(),
            strict=True,
        ):
            self._accusations.setdefault((a, b), t)
        t = case.t
        if (t - 1) % self.every and t != case.cfg.ticks:
            return
        self.ticks.append(t)
        self.positions.append(case.swarm.positions.copy())
        self.blocked.append(case.blocked.copy())
        err = np.full(case.n, np.nan)
        err[case.coop] = case._errors()
        self.errors.append(err)
        for key, value in case._frame_extras().items():
            self.extras.setdefault(key, []).append(np.asarray(value))

    @property
    def accusations(self) -> np.ndarray:
        """Accusations seen, shape (k, 3): accuser, accused, tick issued."""
        rows = [(a, b, t) for (a, b), t in self._accusations.items()]
        return np.array(sorted(rows, key=lambda r: (r[2], r[0], r[1])), dtype=np.int64).reshape(
            -1, 3
        )


def dbp_every(n: int, ticks: int, n_defences: int) -> int:
    """Tick stride for :class:`DBPRecorder` so that the DBP viewer fits :data:`MAX_BYTES`."""
    # float32 error and position (display only), one byte for blocked.
    per_tick = n_defences * n * (4 + 8 + 1) * 4 / 3
    return _stride(per_tick, ticks, n_defences * 2 * _CHART_POINTS * 16)


def write_dbp_viewer(
    path: str | Path,
    recordings: dict[str, DBPRecorder],
    results: dict,
    labels: dict[str, str],
    *,
    arena: float,
    radio_range: float,
    title: str = "DBP",
    error_name: str = "error",
) -> Path:
    """Write the viewer of a DBP case study (one panel per defence).

    Parameters
    ----------
    path : str or Path
        The HTML file to write.
    recordings : dict of str to DBPRecorder
        Frames per defence, all recorded with the same ``every``.
    results : dict of str to swarm.dbp_cases.CaseResult
        The runs, keyed like ``recordings``.
    labels : dict of str to str
        Panel title per defence.
    arena : float
        Side of the square arena.
    radio_range : float
        Radio range: the page links robots within it.
    title : str
        Page title.
    error_name : str
        What the per-robot error measures (colour bar label).

    Returns
    -------
    Path
        The written file.
    """
    keys = list(recordings)
    if not keys:
        raise ValueError("recordings must hold at least one defence")
    first = recordings[keys[0]]
    ticks = np.array(first.ticks, dtype=np.int64)
    byz = next(iter(results.values())).byzantine
    finite = np.concatenate(
        [np.asarray(r.errors)[np.isfinite(r.errors)].ravel() for r in recordings.values()]
    )
    vmax = float(np.percentile(finite, 98)) if finite.size else 1.0
    panels = []
    for key in keys:
        rec, res = recordings[key], results[key]
        if rec.ticks != first.ticks:
            raise ValueError(f"recordings[{key!r}] kept other ticks than recordings[{keys[0]!r}]")
        x = np.arange(1, res.error.size + 1, dtype=float)
        extras = {
            k: _b64(np.stack(rec.extras[k]), "<f8") for k in ("target", "decoy") if k in rec.extras
        }
        panels.append(
            {
                "name": key,
                "label": labels[key],
                "f": None,
                "messages": None,
                "values": _b64(np.stack(rec.errors), "<f4"),
                "values_dtype": "f4",
                "positions": _b64(np.stack(rec.positions), "<f4"),
                "blocked": _b64(np.stack(rec.blocked), "u1"),
                "accusations": _b64(rec.accusations, "<i4"),
                "extras": extras,
                "final": {"name": "final error", "value": _fmt(res.error[-1])},
                "summary": [
                    ["all Byzantine blocked at tick", res.all_blocked_tick],
                    ["Byzantine blocked", int(res.byzantine_blocked[-1])],
                    ["cooperative blocked", int(res.cooperative_blocked[-1])],
                    ["accusations", res.accusations],
                ],
                "series": [
                    _series("mean error", x, res.error),
                    _series("max error", x, res.error_max),
                ],
            }
        )
    data = {
        "kind": "dbp",
        "title": title,
        "n": int(byz.size),
        "round_name": "tick",
        "value_name": error_name,
        "rounds": _b64(ticks, "<i4"),
        "stride": first.every,
        "total_rounds": int(next(iter(results.values())).error.size),
        "vmin": 0.0,
        "vmax": max(vmax, 1e-9),
        "log_chart": False,
        "colormap": _colormap(),
        "byzantine": np.flatnonzero(byz).tolist(),
        "radius": float(radio_range),
        "bounds": [0.0, float(arena)],
        "panels": panels,
    }
    return _write(path, data)
