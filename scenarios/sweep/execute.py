"""Running a sweep into its folder: one writer, one spec, resumable.

:func:`run_sweep` records every run in the folder's
:class:`~scenarios.store.ResultStore` as it finishes, and skips the runs already there.
A folder holds the runs of one version of one sweep: the store keeps the sweep's spec
fingerprint, and a *changed* sweep (another parameter, grid, case, seed count or metric
list, or an edited base scenario) run into the same folder is refused with one line
naming what changed, unless ``restart=True`` (``swarm sweep --restart``) moves the
folder's earlier contents aside into ``replaced-TIME/`` first. So no report ever
aggregates runs of two versions.

Examples
--------
A sweep of four small runs, written into a temporary folder and run in this process
(:func:`run_sweep` runs the same records on a pool of workers and stores them):

>>> import tempfile
>>> from pathlib import Path
>>> from scenarios.sweep import load_sweep, run_tasks_inline
>>> text = '''
... scenario = "byzantine-consensus"
... seeds = 2
... metrics = ["wmsr.hull_violation"]
... [params]
... n_robots = 12
... rounds = 10
... protocols = ["wmsr"]
... [grid]
... n_byzantine = [0, 1]
... '''
>>> with tempfile.TemporaryDirectory() as tmp:
...     path = Path(tmp) / "tiny.toml"
...     _ = path.write_text(text)
...     sweep = load_sweep(path)
>>> sweep.name, sweep.n_runs
('tiny', 4)
>>> [(r.params["n_byzantine"], r.seed, r.status) for r in run_tasks_inline(sweep)]
[(0, 0, 'done'), (1, 0, 'done'), (0, 1, 'done'), (1, 1, 'done')]
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from scenarios.config import ScenarioError
from scenarios.store import STORE_FILE, ResultStore, RunRecord
from scenarios.sweep.backends import (
    RunTask,
    Stop,
    check_backend,
    execute_run,
    ray_session,
    run_local,
    run_ray,
    signals_stop,
)
from scenarios.sweep.spec import RunSpec, Sweep, changed_keys

__all__ = ["LOCK_FILE", "SweepResult", "run_sweep", "run_tasks_inline"]

LOCK_FILE = "sweep.lock"


@dataclass
class SweepResult:
    """What :func:`run_sweep` did.

    Attributes
    ----------
    total : int
        Runs in the sweep.
    skipped : int
        Runs already in the store, not run again.
    done, failed : int
        Runs that finished this time, successfully or with an error.
    interrupted : str or None
        ``"SIGINT"`` or ``"SIGTERM"`` when a signal stopped the sweep, else None.
    store : Path
        The results database.
    failures : list of RunRecord
        The runs that failed this time.
    missing_metrics : list of str
        Metric paths that no successful run of this sweep had in its summary.
    moved_aside : Path or None
        Where ``restart`` moved the folder's earlier contents.
    """

    total: int
    skipped: int
    done: int = 0
    failed: int = 0
    interrupted: str | None = None
    store: Path = Path()
    failures: list[RunRecord] = field(default_factory=list)
    missing_metrics: list[str] = field(default_factory=list)
    moved_aside: Path | None = None


@contextmanager
def _only_writer(out_dir: Path) -> Iterator[None]:
    """Refuse a second ``swarm sweep`` into the same folder while one is running."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no guard
        yield
        return
    try:
        fh = (out_dir / LOCK_FILE).open("w")
    except OSError as exc:
        raise ScenarioError(f"--out {out_dir}: cannot write there ({exc.strerror})") from None
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ScenarioError(
                f"{out_dir}: another sweep is writing to this folder; wait for "
                f"it to finish or choose another --out"
            ) from None
        yield


def _conflict(path: Path, sweep: Sweep) -> str | None:
    """Why the store at ``path`` may not take ``sweep``'s runs, or None if it may."""
    with ResultStore(path, create=False) as old:
        meta = old.meta()
        n = old.count()
    owner = meta.get("sweep")
    if owner is not None and owner != sweep.name:
        return f"{path.parent} holds the results of sweep {owner!r}, not {sweep.name!r}"
    fp = meta.get("spec_fp")
    if fp is None:
        return (
            None
            if n == 0
            else f"{path} holds {n} runs recorded without a sweep "
            f"fingerprint (an older swarmgym), so they cannot be told apart"
        )
    if fp == sweep.fingerprint:
        return None
    try:
        what = changed_keys(json.loads(meta.get("spec", "{}")), sweep.spec)
    except ValueError:
        what = []
    return (
        f"{path.parent} holds {n} runs of another version of sweep {sweep.name!r} "
        f"(changed: {', '.join(what) or 'the spec'})"
    )


def _move_aside(out_dir: Path) -> Path | None:
    """Move the folder's contents (but earlier ``replaced-*`` folders) into ``replaced-TIME``."""
    items = [
        p for p in out_dir.iterdir() if p.name != LOCK_FILE and not p.name.startswith("replaced-")
    ]
    if not items:
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    dest = out_dir / f"replaced-{stamp}"
    dest.mkdir()
    for p in items:
        p.rename(dest / p.name)
    return dest


def run_sweep(
    sweep: Sweep,
    out_dir: str | Path,
    *,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    progress: bool = True,
    retry_failed: bool = False,
    restart: bool = False,
) -> SweepResult:
    """Run every run of ``sweep`` not yet in ``out_dir``'s store, recording each.

    Parameters
    ----------
    sweep : Sweep
        From :func:`~scenarios.sweep.load_sweep`.
    out_dir : str or Path
        Folder of the results store (``results.sqlite``); created if needed.
    backend : {"local", "ray"}
        ``"local"``: a :class:`~concurrent.futures.ProcessPoolExecutor` of ``workers``
        spawned processes. ``"ray"``: Ray tasks, on the cluster at ``address``, on the
        already initialised Ray, or on a local Ray with ``num_cpus=workers``. Ray is
        reached before anything is written: an address nothing answers on is an error
        within seconds, and leaves no folder behind.
    workers : int, optional
        Local processes, or CPUs of a local Ray (default: the usable CPUs).
    address : str, optional
        Address of an existing Ray cluster (``"auto"``, ``"ray://host:10001"``...);
        its nodes need swarmgym installed (the same version) to import the kinds.
    progress : bool
        Show a progress bar (runs done, failed, ETA) on stderr.
    retry_failed : bool
        Run again the runs recorded as failed (they are skipped otherwise).
    restart : bool
        Move the folder's earlier contents aside (``replaced-TIME/``) and start afresh;
        without it, a folder holding runs of another version of the sweep is refused.

    Returns
    -------
    SweepResult
        Counts, failures, and whether a signal (SIGINT, SIGTERM) stopped the sweep.
        A signal stops the sweep cleanly: finished runs are recorded, runs in flight
        are dropped (they run again on resume).
    """
    workers = check_backend(backend, workers, address)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ScenarioError(f"--out {out_dir}: exists and is not a folder")
    path = out_dir / STORE_FILE
    if path.exists() and not restart:
        try:
            problem = _conflict(path, sweep)
        except ScenarioError as exc:
            raise ScenarioError(f"{exc}; --restart moves it aside") from None
        if problem is not None:
            raise ScenarioError(
                f"{problem}; choose another --out, or --restart to move those results aside"
            )
    with ExitStack() as stack:
        ray = stack.enter_context(ray_session(workers, address)) if backend == "ray" else None
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ScenarioError(f"--out {out_dir}: cannot create it ({exc.strerror})") from None
        stack.enter_context(_only_writer(out_dir))
        moved = _move_aside(out_dir) if restart else None
        store = stack.enter_context(ResultStore(path))
        store.set_meta(
            {
                "sweep": sweep.name,
                "description": sweep.description,
                "kind": sweep.kind,
                "scenario": sweep.scenario.name,
                "source": sweep.source,
                "sweep_file": sweep.text,
                "metrics": json.dumps(list(sweep.metrics)),
                "varying": json.dumps(list(sweep.varying)),
                "spec": json.dumps(sweep.spec, sort_keys=True),
                "spec_fp": sweep.fingerprint,
            }
        )
        have = store.keys("done") if retry_failed else store.keys()
        result = SweepResult(total=sweep.n_runs, skipped=len(have), store=path, moved_aside=moved)
        seen_metrics: set[str] = set()
        spec_fp = sweep.fingerprint
        tasks = (
            RunTask(
                kind=sweep.kind,
                params=r.params,
                seed=r.seed,
                run_seed=r.run_seed,
                label=r.label,
                metrics=sweep.metrics,
                params_fp=r.params_fp,
                spec_fp=spec_fp,
            )
            for r in sweep.iter_runs()
            if r.key not in have
        )

        from tqdm.auto import tqdm

        bar = tqdm(
            total=result.total,
            initial=result.skipped,
            unit="run",
            desc=sweep.name,
            disable=not progress,
            dynamic_ncols=True,
            smoothing=0.1,
        )

        def on_result(rec: RunRecord) -> None:
            store.record(rec)
            if rec.status == "done":
                result.done += 1
                seen_metrics.update(k for k, v in rec.metrics.items() if v is not None)
            else:
                result.failed += 1
                result.failures.append(rec)
            bar.set_postfix({"ok": result.done, "failed": result.failed}, refresh=False)
            bar.update(1)

        stop = Stop()
        try:
            with signals_stop(stop):
                if result.skipped < result.total:
                    if ray is None:
                        run_local(tasks, workers, on_result, stop)
                    else:
                        run_ray(ray, tasks, workers, on_result, stop)
        finally:
            bar.close()
        if result.skipped + result.done + result.failed < result.total:
            result.interrupted = stop.signal
        if result.done:
            result.missing_metrics = [m for m in sweep.metrics if m not in seen_metrics]
    return result


def run_tasks_inline(sweep: Sweep, specs: Sequence[RunSpec] | None = None) -> list[RunRecord]:
    """Run ``specs`` (default: every run) of ``sweep`` one after another in this process.

    No store and no pool: the reference the benchmarks and tests compare backends with.

    Parameters
    ----------
    sweep : Sweep
        From :func:`~scenarios.sweep.load_sweep`.
    specs : sequence of RunSpec, optional
        The runs to do.

    Returns
    -------
    list of RunRecord
        One record per run, in order.
    """
    specs = sweep.iter_runs() if specs is None else specs
    fp = sweep.fingerprint
    return [
        execute_run(
            RunTask(
                kind=sweep.kind,
                params=r.params,
                seed=r.seed,
                run_seed=r.run_seed,
                label=r.label,
                metrics=sweep.metrics,
                params_fp=r.params_fp,
                spec_fp=fp,
            )
        )
        for r in specs
    ]
