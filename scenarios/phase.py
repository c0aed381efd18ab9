"""``swarm report DIR --heatmap X Y``: a metric over two swept parameters, as heat maps.

A phase diagram of a sweep: for every recorded metric (or the one asked for), one
figure of heat maps, the metric's mean in each cell of the ``X`` by ``Y`` grid. Every
other parameter the sweep varies splits the figure into panels (the first such
parameter across the columns, the others down the rows); panels in which ``X`` or ``Y``
takes a single value are left out.

Colours are diverging around zero (blue above, red below, one shared scale). A cell's
standard error is, when the sweep recorded the metric's companion ``<metric>_stderr``,
``sqrt(sum se_i^2) / k`` over its ``k`` runs (the runs are independent), otherwise the
spread over seeds ``std(ddof=1) / sqrt(k)``; a cell's number is bold when its mean is
more than two standard errors from zero.

Examples
--------
Two seeds in each cell of an ``f`` by ``n`` grid:

>>> from scenarios.phase import heatmap_cells
>>> from scenarios.store import RunRecord
>>> runs = [
...     RunRecord({"f": f, "n": n}, s, s, "", "done", {"gap": f * n + s})
...     for f in (1, 2) for n in (10, 20) for s in (0, 1)
... ]
>>> cells = heatmap_cells(runs, "gap", "f", "n", facets=[])[()]
>>> cells[("2", "20")]
Cell(n=2, mean=40.5, stderr=0.5)
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from scenarios.config import ScenarioError
from scenarios.report import _safe, _select_metrics, _show, _sort_key
from scenarios.store import STORE_FILE, ResultStore, RunRecord

__all__ = ["Cell", "heatmap_cells", "write_heatmaps"]

STDERR_SUFFIX = "_stderr"


@dataclass(frozen=True)
class Cell:
    """One cell of a heat map.

    Attributes
    ----------
    n : int
        Runs averaged.
    mean : float
        Mean of the metric over them.
    stderr : float
        Standard error of the mean (NaN when unknown: one run, no companion).
    """

    n: int
    mean: float
    stderr: float

    @property
    def significant(self) -> bool:
        """True when the mean is more than two standard errors from zero."""
        return math.isfinite(self.stderr) and abs(self.mean) > 2.0 * self.stderr


def _key(v: Any) -> str:
    return json.dumps(v, sort_keys=True)


def _order(text: str) -> tuple:
    """Sort key of a JSON-encoded parameter value; lists of numbers compare numerically."""
    v = json.loads(text)
    if isinstance(v, list) and all(_number(e) is not None for e in v):
        return (*_sort_key(0), tuple(float(e) for e in v))
    return (*_sort_key(v), ())


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return float(v)


def heatmap_cells(
    runs: Sequence[RunRecord], metric: str, x: str, y: str, facets: Sequence[str]
) -> dict[tuple, dict[tuple, Cell]]:
    """Group finished runs into heat-map cells.

    Parameters
    ----------
    runs : sequence of RunRecord
        Runs of one sweep; those not ``"done"`` or without a numeric ``metric`` are
        left out.
    metric : str
        Metric path.
    x, y : str
        The parameters on the two axes.
    facets : sequence of str
        Parameters splitting the runs into panels.

    Returns
    -------
    dict
        Panel key (facet values as JSON, in ``facets`` order) -> cell key
        ``(x JSON, y JSON)`` -> :class:`Cell`.
    """
    groups: dict[tuple, dict[tuple, list[tuple[float, float | None]]]] = {}
    for r in runs:
        value = _number(r.metrics.get(metric))
        if r.status != "done" or value is None or x not in r.params or y not in r.params:
            continue
        panel = tuple(_key(r.params.get(f)) for f in facets)
        cell = (_key(r.params[x]), _key(r.params[y]))
        se = _number(r.metrics.get(metric + STDERR_SUFFIX))
        groups.setdefault(panel, {}).setdefault(cell, []).append((value, se))
    out: dict[tuple, dict[tuple, Cell]] = {}
    for panel, cells in groups.items():
        out[panel] = {}
        for cell, vals in cells.items():
            v = np.array([a for a, _ in vals])
            ses = [s for _, s in vals]
            if all(s is not None for s in ses):
                se = math.sqrt(sum(s * s for s in ses)) / len(ses)
            elif len(v) > 1:
                se = float(v.std(ddof=1)) / math.sqrt(len(v))
            else:
                se = math.nan
            out[panel][cell] = Cell(len(v), float(v.mean()), se)
    return out


def _plot(
    cells: dict[tuple, dict[tuple, Cell]],
    metric: str,
    x: str,
    y: str,
    facets: Sequence[str],
    title: str,
    path: Path,
) -> None:
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.figure import Figure

    def axis(i: int) -> list[str]:
        keys = {c[i] for panel in cells.values() for c in panel}
        return sorted(keys, key=_order)

    xs, ys = axis(0), axis(1)
    col_vals = sorted({p[0] for p in cells}, key=_order) if facets else [None]
    row_vals = (
        sorted({p[1:] for p in cells}, key=lambda k: [_order(e) for e in k]) if facets else [()]
    )
    vmax = max(abs(c.mean) for panel in cells.values() for c in panel.values()) or 1.0
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-vmax, vmax=vmax)
    w, h = 0.55 * len(xs) + 1.1, 0.42 * len(ys) + 1.0
    fig = Figure(
        figsize=(w * len(col_vals) + 1.0, h * len(row_vals) + 0.9), dpi=90, layout="constrained"
    )
    axes = fig.subplots(len(row_vals), len(col_vals), squeeze=False)
    image = None
    for (i, row), (j, col) in itertools.product(enumerate(row_vals), enumerate(col_vals)):
        ax = axes[i][j]
        panel = cells.get(((col,) if facets else ()) + row)
        if panel is None:
            ax.set_axis_off()
            continue
        grid = np.full((len(ys), len(xs)), np.nan)
        for (cx, cy), c in panel.items():
            grid[ys.index(cy), xs.index(cx)] = c.mean
        image = ax.imshow(grid, cmap="RdBu", norm=norm, origin="lower", aspect="auto")
        for (cx, cy), c in panel.items():
            ax.text(
                xs.index(cx),
                ys.index(cy),
                f"{c.mean:+.2f}",
                ha="center",
                va="center",
                fontsize=7,
                fontweight="bold" if c.significant else "normal",
                color="black" if c.significant else "0.35",
            )
        ax.set_xticks(range(len(xs)), [_show(json.loads(v)) for v in xs], fontsize=7)
        ax.set_yticks(range(len(ys)), [_show(json.loads(v)) for v in ys], fontsize=7)
        if i == len(row_vals) - 1:
            ax.set_xlabel(x, fontsize=8)
        if j == 0:
            ax.set_ylabel(y, fontsize=8)
        names = [
            f"{f}={_show(json.loads(v))}"
            for f, v in zip(facets, ((col,) if facets else ()) + row, strict=True)
        ]
        ax.set_title("\n".join([", ".join(names[:1]), ", ".join(names[1:])]).strip(), fontsize=7)
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.6, label=metric)
    fig.suptitle(f"{title}\nbold: more than 2 standard errors from 0", fontsize=9)
    fig.savefig(path)


def _write_csv(
    cells: dict[tuple, dict[tuple, Cell]], x: str, y: str, facets: Sequence[str], path: Path
) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([*facets, x, y, "n", "mean", "stderr"])
        for panel, row in cells.items():
            for (cx, cy), c in row.items():
                w.writerow(
                    [
                        *(_show(json.loads(v)) for v in panel),
                        _show(json.loads(cx)),
                        _show(json.loads(cy)),
                        c.n,
                        repr(c.mean),
                        "" if math.isnan(c.stderr) else repr(c.stderr),
                    ]
                )


def write_heatmaps(
    out_dir: str | Path,
    x: str,
    y: str,
    *,
    metric: str | None = None,
    dest: str | Path | None = None,
) -> list[Path]:
    """Draw a sweep's metrics over two of its parameters; write PNG and CSV files.

    Parameters
    ----------
    out_dir : str or Path
        A sweep's output folder (holding ``results.sqlite``).
    x, y : str
        Parameters of the horizontal and vertical axes; both must vary in the sweep.
    metric : str, optional
        A recorded metric path or its last part. Default: every recorded metric except
        the ``*_stderr`` companions.
    dest : str or Path, optional
        Where to write (default: ``out_dir``).

    Returns
    -------
    list of Path
        ``<metric>-heatmap-<x>-<y>.png`` and ``.csv`` for each metric.
    """
    out_dir = Path(out_dir)
    path = out_dir / STORE_FILE
    if not path.is_file():
        raise ScenarioError(
            f"{out_dir}: no {STORE_FILE}; run `swarm sweep FILE --out {out_dir}` first"
        )
    with ResultStore(path, create=False) as store:
        meta = store.meta()
        runs = store.runs("done")
    if not runs:
        raise ScenarioError(f"{path}: no finished runs yet")
    recorded = json.loads(meta.get("metrics", "[]")) or sorted({m for r in runs for m in r.metrics})
    varying = json.loads(meta.get("varying", "[]"))
    moving = [q for q in varying if len({_key(r.params.get(q)) for r in runs}) > 1]
    for name, value in (("x", x), ("y", y)):
        if value not in moving:
            raise ScenarioError(
                f"heatmap {name} = {value!r} does not vary in this sweep; it "
                f"varies: {', '.join(moving) or '(nothing)'}"
            )
    if x == y:
        raise ScenarioError(f"heatmap needs two different parameters, got {x!r} twice")
    if metric is None:
        paths = [m for m in recorded if not m.endswith(STDERR_SUFFIX)]
    else:
        paths = _select_metrics(recorded, metric)
    facets = [q for q in moving if q not in (x, y)]
    labels = {r.label for r in runs}
    if len(labels) > 1:
        facets.append("label")
        runs = [replace(r, params={**r.params, "label": r.label}) for r in runs]
    dest = Path(dest) if dest is not None else out_dir
    dest.mkdir(parents=True, exist_ok=True)
    sweep = meta.get("sweep", out_dir.name)
    written = []
    for m in paths:
        cells = heatmap_cells(runs, m, x, y, facets)
        cells = {
            p: c
            for p, c in cells.items()
            if len({k[0] for k in c}) > 1 and len({k[1] for k in c}) > 1
        }
        if not cells:
            continue
        stem = f"{_safe(m)}-heatmap-{_safe(x)}-{_safe(y)}"
        _plot(cells, m, x, y, facets, f"{sweep}: {m}", dest / f"{stem}.png")
        _write_csv(cells, x, y, facets, dest / f"{stem}.csv")
        written += [dest / f"{stem}.png", dest / f"{stem}.csv"]
    if not written:
        raise ScenarioError(f"{path}: no numeric values of {', '.join(paths)} over {x} and {y}")
    return written
