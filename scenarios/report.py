"""``swarm report``: a metric against a parameter, from a sweep's results store.

For every line (a protocol, and the case label when the sweep has labelled cases) and
every value of the parameter, the runs that finished are averaged over seeds, with a
95% confidence band from Student's t distribution: ``mean ± t(0.975, n-1) s / sqrt(n)``.
Runs whose metric is missing or null (a protocol the case did not run, a round that
was never reached) are left out of that point; ``n`` says how many seeds remain.

The lines of a metric named by its last component (``--metric final_spread``) are the
recorded metric paths ending with it (``lcp.final_spread``, ``wmsr.final_spread``), named
by what precedes it. A parameter that varies besides the plotted one, and that is not
fixed by the case and the plotted value, splits the lines further.

Only runs of the store's current sweep spec (its fingerprint, see
:mod:`scenarios.sweep.execute`) are aggregated, so a report never mixes two versions of
a sweep.

Examples
--------
>>> from scenarios.report import aggregate, t_band
>>> from scenarios.store import RunRecord
>>> tuple(round(v, 3) for v in t_band([1.0, 2.0, 3.0]))  # mean, 95% band
(2.0, -0.484, 4.484)
>>> runs = [
...     RunRecord({"f": f}, s, s, "", "done", {"wmsr.final_spread": f + s})
...     for f in (1, 2) for s in (0, 1, 2)
... ]
>>> [line] = aggregate(runs, ["wmsr.final_spread"], "f")
>>> line.name, line.x, line.n, line.mean
('wmsr', [1, 2], [3, 3], [2.0, 3.0])
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scenarios.config import ScenarioError
from scenarios.store import STORE_FILE, ResultStore, RunRecord

__all__ = ["Series", "aggregate", "t_band", "write_report"]


@dataclass
class Series:
    """One line of a report.

    Attributes
    ----------
    metric : str
        The metric path (``wmsr.final_spread``).
    name : str
        The line's name in the legend and the CSV.
    x : list
        Parameter values, sorted.
    n : list of int
        Seeds with a value at each x.
    mean, low, high, std : list of float
        Mean, 95% band (NaN when n < 2) and sample standard deviation at each x.
    """

    metric: str
    name: str
    x: list
    n: list[int]
    mean: list[float]
    low: list[float]
    high: list[float]
    std: list[float]


def t_band(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided Student-t confidence interval of the mean.

    Parameters
    ----------
    values : sequence of float
        Independent samples (one per seed), at least one.
    confidence : float
        Coverage in (0, 1).

    Returns
    -------
    mean, low, high : float
        ``low`` and ``high`` are NaN for a single sample and equal to the mean when
        every sample is the same.
    """
    from scipy import stats

    a = np.asarray(values, dtype=float)
    if a.size == 0:
        raise ValueError("values must hold at least one sample")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    mean = float(a.mean())
    if a.size < 2:
        return mean, math.nan, math.nan
    sem = float(a.std(ddof=1)) / math.sqrt(a.size)
    if sem == 0.0:
        return mean, mean, mean
    low, high = stats.t.interval(confidence, a.size - 1, loc=mean, scale=sem)
    return mean, float(low), float(high)


def _sort_key(v: Any) -> tuple:
    if isinstance(v, bool):
        return (1, int(v), "")
    if isinstance(v, int | float):
        return (0, float(v), "")
    return (2, 0.0, json.dumps(v, sort_keys=True))


def _show(v: Any) -> str:
    return json.dumps(v) if isinstance(v, list | dict) else str(v)


def _line_names(paths: Sequence[str]) -> dict[str, str]:
    """Name each metric path by its parts before the metric, dropping shared leading parts."""
    heads = [p.split(".")[:-1] for p in paths]
    if not all(heads):
        return {p: p for p in paths}
    common = 0
    while all(len(h) > common + 1 for h in heads) and len({h[common] for h in heads}) == 1:
        common += 1
    return {p: ".".join(h[common:]) for p, h in zip(paths, heads, strict=True)}


def _select_metrics(recorded: Sequence[str], metric: str) -> list[str]:
    if metric in recorded:
        return [metric]
    chosen = [m for m in recorded if m.endswith("." + metric)]
    if not chosen:
        suffixes = sorted({m.rsplit(".", 1)[-1] for m in recorded})
        raise ScenarioError(
            f"metric {metric!r} was not recorded; recorded: "
            f"{', '.join(recorded)} (or by last part: {', '.join(suffixes)})"
        )
    return chosen


def aggregate(
    runs: Sequence[RunRecord], metric_paths: Sequence[str], param: str, varying: Sequence[str] = ()
) -> list[Series]:
    """Mean and 95% band of each metric path against ``param``, one series per line.

    Parameters
    ----------
    runs : sequence of RunRecord
        Finished runs (status ``"done"``); others are ignored.
    metric_paths : sequence of str
        Metric paths drawn as lines (named by :func:`_line_names`).
    param : str
        Parameter on the x axis.
    varying : sequence of str
        Parameters the sweep varies; those not fixed by (label, ``param``) split lines.

    Returns
    -------
    list of Series
        One per (metric path, label, split values) with at least one value.
    """
    runs = [r for r in runs if r.status == "done" and param in r.params]
    others = [q for q in varying if q != param]
    split = []
    for q in others:
        seen: dict[tuple, set] = {}
        for r in runs:
            seen.setdefault((r.label, json.dumps(r.params[param], sort_keys=True)), set()).add(
                json.dumps(r.params.get(q), sort_keys=True)
            )
        if any(len(v) > 1 for v in seen.values()):
            split.append(q)
    names = _line_names(metric_paths)
    groups: dict[tuple, dict[str, tuple[Any, list[float]]]] = {}
    for path in metric_paths:
        for r in runs:
            v = r.metrics.get(path)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                continue
            extra = tuple(json.dumps(r.params.get(q), sort_keys=True) for q in split)
            line = groups.setdefault((path, r.label, extra), {})
            xk = json.dumps(r.params[param], sort_keys=True)
            line.setdefault(xk, (r.params[param], []))[1].append(float(v))
    out = []
    for (path, label, extra), points in groups.items():
        name = names[path]
        if label:
            name += f" ({label})"
        if split:
            name += ", " + ", ".join(
                f"{q}={_show(json.loads(e))}" for q, e in zip(split, extra, strict=True)
            )
        s = Series(metric=path, name=name, x=[], n=[], mean=[], low=[], high=[], std=[])
        for x, vals in sorted(points.values(), key=lambda p: _sort_key(p[0])):
            mean, low, high = t_band(vals)
            s.x.append(x)
            s.n.append(len(vals))
            s.mean.append(mean)
            s.low.append(low)
            s.high.append(high)
            s.std.append(float(np.std(vals, ddof=1)) if len(vals) > 1 else math.nan)
        out.append(s)
    return out


def _plot(
    series: Sequence[Series], metric: str, param: str, title: str, path: Path, logy: bool
) -> None:
    from matplotlib.figure import Figure

    xs_all = sorted({json.dumps(x, sort_keys=True) for s in series for x in s.x})
    numeric = all(
        isinstance(x, int | float) and not isinstance(x, bool) for s in series for x in s.x
    )
    categories = sorted((json.loads(x) for x in xs_all), key=_sort_key)
    pos = {json.dumps(c, sort_keys=True): i for i, c in enumerate(categories)}

    fig = Figure(figsize=(6.4, 4.2), dpi=100)
    ax = fig.add_subplot()
    for s in series:
        x = (
            np.asarray(s.x, dtype=float)
            if numeric
            else np.array([pos[json.dumps(v, sort_keys=True)] for v in s.x], dtype=float)
        )
        mean = np.asarray(s.mean)
        low, high = np.asarray(s.low), np.asarray(s.high)
        if logy:  # no log below zero: a band reaching it is drawn down to its mean only
            low = np.where(low > 0, low, mean)
        (line,) = ax.plot(x, mean, marker="o", ms=4, label=f"{s.name} (n={max(s.n)})")
        ax.fill_between(x, low, high, color=line.get_color(), alpha=0.2, lw=0)
    if not numeric:
        ax.set_xticks(range(len(categories)), [_show(c) for c in categories])
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(param)
    ax.set_ylabel(metric)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def _write_csv(series: Sequence[Series], param: str, path: Path) -> None:
    def num(v: float) -> str:
        return "" if math.isnan(v) else repr(v)

    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["metric", "line", param, "n", "mean", "ci95_low", "ci95_high", "std"])
        for s in series:
            for i, x in enumerate(s.x):
                w.writerow(
                    [
                        s.metric,
                        s.name,
                        _show(x),
                        s.n[i],
                        num(s.mean[i]),
                        num(s.low[i]),
                        num(s.high[i]),
                        num(s.std[i]),
                    ]
                )


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)


def write_report(
    out_dir: str | Path,
    *,
    metric: str | None = None,
    param: str | None = None,
    logy: bool = False,
    dest: str | Path | None = None,
) -> list[Path]:
    """Plot metrics against a parameter from a sweep folder; write PNG and CSV files.

    Parameters
    ----------
    out_dir : str or Path
        A sweep's output folder (holding ``results.sqlite``).
    metric : str, optional
        A recorded metric path, or its last part to draw every protocol's line
        (``final_spread``). Default: one report for each last part recorded.
    param : str, optional
        The x-axis parameter. Default: the first parameter the sweep varies.
    logy : bool
        Logarithmic y axis.
    dest : str or Path, optional
        Where to write (default: ``out_dir``).

    Returns
    -------
    list of Path
        ``<metric>-vs-<param>.png`` and ``.csv`` for each report.
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
        n_failed = store.count("failed")
    spec_fp = meta.get("spec_fp")
    if spec_fp is not None:  # stores of older versions have no fingerprints
        runs = [r for r in runs if r.spec_fp == spec_fp]
    if not runs:
        raise ScenarioError(f"{path}: no finished runs yet ({n_failed} failed)")
    recorded = json.loads(meta.get("metrics", "[]")) or sorted({m for r in runs for m in r.metrics})
    varying = json.loads(meta.get("varying", "[]"))
    moving = [
        q for q in varying if len({json.dumps(r.params.get(q), sort_keys=True) for r in runs}) > 1
    ]
    if param is None:
        if not moving:
            raise ScenarioError(
                f"{path}: no parameter varies across the runs; nothing to plot against"
            )
        param = moving[0]
    elif not any(param in r.params for r in runs):
        raise ScenarioError(
            f"param {param!r} is not a parameter of these runs; the sweep "
            f"varies: {', '.join(moving) or '(nothing)'}"
        )
    if metric is None:
        metrics = list(dict.fromkeys(m.rsplit(".", 1)[-1] for m in recorded))
    else:
        metrics = [metric]
    dest = Path(dest) if dest is not None else out_dir
    dest.mkdir(parents=True, exist_ok=True)
    sweep = meta.get("sweep", out_dir.name)
    written = []
    for m in metrics:
        paths = _select_metrics(recorded, m)
        series = aggregate(runs, paths, param, varying)
        if not series:
            continue
        stem = f"{_safe(m)}-vs-{_safe(param)}"
        title = f"{sweep}: {m} vs {param} (mean, 95% t-band over seeds)"
        _plot(series, m, param, title, dest / f"{stem}.png", logy)
        _write_csv(series, param, dest / f"{stem}.csv")
        written += [dest / f"{stem}.png", dest / f"{stem}.csv"]
    if not written:
        raise ScenarioError(f"{path}: no numeric values of {', '.join(metrics)} in any run")
    return written
