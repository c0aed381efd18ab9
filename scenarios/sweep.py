"""Scenario sweeps: many runs of one scenario kind, stored as they finish, resumable.

A sweep file is TOML::

    name = "wmsr-vs-f"                      # default: the file's stem
    description = "One line."
    scenario = "byzantine-consensus"        # shipped scenario name, or a path to its
                                            # .toml (relative to this file)
    seeds = 20                              # every combination runs with seeds 0..19
    metrics = ["lcp.final_spread", "wmsr.final_spread"]   # dotted paths into the
                                            # Outcome summary of each run

    [params]                                # overrides of the scenario's params, all runs
    n_robots = 40

    [grid]                                  # every combination of these values
    n_byzantine = [0, 1, 2, 3]

    [[cases]]                               # a list of overrides, each combined with
    label = "F too small"                   # every grid point; the optional label
    wmsr_f = 0                              # names the case in reports

Every key and value is checked against the kind's parameters before anything runs; an
error names the file and the key (``grid.n_robots[2]``, ``cases[1].wmsr_f``).

Each run is seeded from (sweep name, parameters, seed index) alone through a SHA-256
hash and a :class:`numpy.random.SeedSequence` (:func:`derive_seed`), so the local and
Ray backends, any number of workers and any order of execution give bit-identical
results. Runs are recorded in a :class:`~scenarios.store.ResultStore` as they finish;
re-running the same sweep into the same folder skips every run already recorded.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
import tomllib
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from scenarios.config import Scenario, ScenarioError
from scenarios.runner import available_scenarios, jsonable, load_kind, load_scenario
from scenarios.store import STORE_FILE, ResultStore, RunRecord, canonical_params

__all__ = [
    "BACKENDS",
    "RunSpec",
    "RunTask",
    "Sweep",
    "SweepResult",
    "available_sweeps",
    "derive_seed",
    "execute_run",
    "load_sweep",
    "run_sweep",
    "run_tasks_inline",
]

#: Execution backends of :func:`run_sweep`.
BACKENDS = ("local", "ray")

_TOP_KEYS = {"name", "description", "scenario", "seeds", "metrics", "params", "grid", "cases"}
_MAX_SEEDS = 1_000_000
_POLL = 0.2  # seconds between checks for Ctrl-C / SIGTERM while runs are in flight


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep.

    Attributes
    ----------
    params : dict
        Every parameter of the kind (the scenario's, then ``[params]``, the case and the
        grid point), checked.
    seed : int
        Seed index within the sweep.
    label : str
        Label of the case ('' if none).
    run_seed : int
        Seed given to the kind's ``run``: :func:`derive_seed` of (sweep, params, seed).
    """

    params: dict[str, Any]
    seed: int
    label: str
    run_seed: int

    @property
    def key(self) -> tuple[str, int]:
        """The store's unique key: (canonical parameter JSON, seed index)."""
        return canonical_params(self.params), self.seed


@dataclass(frozen=True)
class Sweep:
    """A validated sweep: what ``swarm sweep`` executes.

    Attributes
    ----------
    name : str
        Sweep name (seeds every run, names the default output folder).
    description : str
        One line.
    scenario : Scenario
        The base scenario.
    seeds : int
        Number of seeds per combination.
    metrics : tuple of str
        Dotted paths into each run's Outcome summary.
    varying : tuple of str
        Parameters set by the grid or by cases, in file order.
    runs : tuple of RunSpec
        Every run, seed-major (all combinations at seed 0 first), so a sweep stopped
        part-way has covered the parameter space evenly.
    source : str
        The sweep file.
    text : str
        The sweep file's text (kept in the store).
    """

    name: str
    description: str
    scenario: Scenario
    seeds: int
    metrics: tuple[str, ...]
    varying: tuple[str, ...]
    runs: tuple[RunSpec, ...]
    source: str
    text: str

    @property
    def kind(self) -> str:
        """The scenario kind every run uses."""
        return self.scenario.kind

    @property
    def n_combinations(self) -> int:
        """Number of distinct parameter combinations."""
        return len(self.runs) // self.seeds


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
        Metric paths that no successful run of this sweep had in its summary (a typo?).
    """

    total: int
    skipped: int
    done: int = 0
    failed: int = 0
    interrupted: str | None = None
    store: Path = Path()
    failures: list[RunRecord] = field(default_factory=list)
    missing_metrics: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- seeding
def derive_seed(sweep_name: str, params: Mapping[str, Any], seed: int) -> int:
    """Seed of one run, from (sweep name, parameters, seed index) alone.

    The canonical JSON of the three is hashed with SHA-256 (stable across processes,
    machines and Python versions, unlike ``hash``); the digest is the entropy of a
    :class:`numpy.random.SeedSequence`, whose first 63 bits of state are the seed.

    Parameters
    ----------
    sweep_name : str
        The sweep's name.
    params : mapping
        Every parameter of the run (JSON values).
    seed : int
        Seed index within the sweep, >= 0.

    Returns
    -------
    int
        A seed in ``[0, 2**63)``.
    """
    text = json.dumps({"sweep": sweep_name, "params": dict(params), "seed": int(seed)},
                      sort_keys=True, separators=(",", ":"), allow_nan=False)
    entropy = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest(), "little")
    hi, lo = np.random.SeedSequence(entropy).generate_state(2, np.uint32)
    return ((int(hi) << 32) | int(lo)) >> 1


# --------------------------------------------------------------------------- parsing
def _sweeps_dir() -> Path:
    return Path(str(resources.files("scenarios") / "sweeps"))


def available_sweeps() -> dict[str, Path]:
    """Shipped sweeps: name -> path of the TOML file."""
    folder = _sweeps_dir()
    return {p.stem: p for p in sorted(folder.glob("*.toml"))} if folder.is_dir() else {}


def _resolve(name_or_path: str | Path) -> Path:
    shipped = available_sweeps()
    text = str(name_or_path)
    if text in shipped:
        return shipped[text]
    path = Path(name_or_path)
    if path.suffix != ".toml" or not path.is_file():
        raise ScenarioError(
            f"unknown sweep {text!r}: not a shipped sweep and not a .toml file; "
            f"shipped sweeps: {', '.join(shipped) or '(none)'}"
        )
    return path


def _check_value(schema: Mapping, key: str, value: Any, where: str, label: str) -> Any:
    if key not in schema:
        raise ScenarioError(f"{where}: unknown key {label}; the kind's params are: "
                            f"{', '.join(sorted(schema))}")
    return schema[key].validate(value, where=where, label=label)


def _check_metric(path: Any, where: str, i: int) -> str:
    parts = path.split(".") if isinstance(path, str) else []
    if not parts or any(not p or p != p.strip() for p in parts):
        raise ScenarioError(
            f"{where}: metrics[{i}] = {path!r} is not a dotted path into the run's summary, "
            f"like \"wmsr.final_spread\""
        )
    return path


def load_sweep(name_or_path: str | Path) -> Sweep:
    """Read and validate a sweep file; nothing is run or written.

    Parameters
    ----------
    name_or_path : str or Path
        A shipped sweep name (see :func:`available_sweeps`) or a TOML file.

    Returns
    -------
    Sweep
        The validated sweep with every run spelled out.
    """
    path = _resolve(name_or_path)
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{where}: malformed TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{where}: cannot read: {exc}") from None
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise ScenarioError(f"{where}: unknown key {unknown[0]}; allowed top-level keys: "
                            f"{', '.join(sorted(_TOP_KEYS))}")
    name = doc.get("name", path.stem)
    if (not isinstance(name, str) or not name.strip() or name in (".", "..")
            or any(c in name for c in "/\\")):
        raise ScenarioError(f"{where}: name must be a non-empty string without / or \\ "
                            f"(it names the default output folder runs/NAME)")
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise ScenarioError(f"{where}: description must be a string")

    # The base scenario: a shipped name, or a path relative to the sweep file.
    if "scenario" not in doc:
        raise ScenarioError(f"{where}: missing key scenario (a shipped scenario name or a "
                            f"path to a scenario .toml); shipped: "
                            f"{', '.join(available_scenarios())}")
    base = doc["scenario"]
    if not isinstance(base, str):
        raise ScenarioError(f"{where}: scenario must be a string")
    if base not in available_scenarios() and not Path(base).is_absolute():
        base = str(path.parent / base)
    try:
        scenario = load_scenario(base)
    except ScenarioError as exc:
        raise ScenarioError(f"{where}: scenario = {doc['scenario']!r}: {exc}") from None
    schema = load_kind(scenario.kind).PARAMS

    seeds = doc.get("seeds")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= _MAX_SEEDS:
        raise ScenarioError(f"{where}: seeds = {seeds!r} is not allowed; expected an integer "
                            f"in [1, {_MAX_SEEDS}] (the number of seeds per combination)")

    metrics = doc.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        raise ScenarioError(f"{where}: metrics must be a non-empty list of dotted paths into "
                            f"the run's summary, like [\"wmsr.final_spread\"]")
    metrics = [_check_metric(m, where, i) for i, m in enumerate(metrics)]
    dup = next((m for i, m in enumerate(metrics) if m in metrics[:i]), None)
    if dup is not None:
        raise ScenarioError(f"{where}: metrics lists {dup!r} twice")

    fixed = doc.get("params", {})
    if not isinstance(fixed, dict):
        raise ScenarioError(f"{where}: params must be a table ([params])")
    fixed = {k: _check_value(schema, k, v, where, f"params.{k}") for k, v in fixed.items()}

    grid = doc.get("grid", {})
    if not isinstance(grid, dict):
        raise ScenarioError(f"{where}: grid must be a table ([grid]) of lists of values")
    grid_values: dict[str, list] = {}
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ScenarioError(f"{where}: grid.{key} must be a non-empty list of values")
        if key in fixed:
            raise ScenarioError(f"{where}: grid.{key} is also set in [params]; set it in one "
                                f"place")
        grid_values[key] = [_check_value(schema, key, v, where, f"grid.{key}[{i}]")
                            for i, v in enumerate(values)]

    raw_cases = doc.get("cases", [{}])
    if not isinstance(raw_cases, list) or not raw_cases or not all(
            isinstance(c, dict) for c in raw_cases):
        raise ScenarioError(f"{where}: cases must be a non-empty array of tables ([[cases]])")
    cases: list[tuple[str, dict]] = []
    for i, case in enumerate(raw_cases):
        label = case.get("label", "")
        if not isinstance(label, str):
            raise ScenarioError(f"{where}: cases[{i}].label must be a string")
        over = {}
        for key, value in case.items():
            if key == "label":
                continue
            if key in grid_values:
                raise ScenarioError(f"{where}: cases[{i}].{key} is also a grid key; set it "
                                    f"in one place")
            over[key] = _check_value(schema, key, value, where, f"cases[{i}].{key}")
        cases.append((label, over))

    varying = list(grid_values)
    for _, over in cases:
        varying += [k for k in over if k not in varying]

    # Every combination, checked as a whole; no two may give the same parameters.
    combos: list[tuple[str, dict]] = []
    seen: dict[str, str] = {}
    keys = list(grid_values)
    for i, (label, over) in enumerate(cases):
        for point in itertools.product(*(grid_values[k] for k in keys)):
            params = {**scenario.params, **fixed, **over, **dict(zip(keys, point, strict=True))}
            what = f"cases[{i}]" + (f" with grid point {dict(zip(keys, point, strict=True))}"
                                    if keys else "")
            canon = canonical_params(params)
            if canon in seen:
                raise ScenarioError(f"{where}: {what} gives the same parameters as "
                                    f"{seen[canon]}; every run must differ")
            seen[canon] = what
            combos.append((label, params))

    runs = tuple(
        RunSpec(params=params, seed=s, label=label, run_seed=derive_seed(name, params, s))
        for s in range(seeds) for label, params in combos
    )
    return Sweep(name=name, description=description or f"sweep of {scenario.name}",
                 scenario=scenario, seeds=seeds, metrics=tuple(metrics),
                 varying=tuple(varying), runs=runs, source=where, text=text)


# --------------------------------------------------------------------------- one run
@dataclass(frozen=True)
class RunTask:
    """What a worker needs for one run: the kind, the run's identity and metric paths."""

    kind: str
    params: dict[str, Any]
    seed: int
    run_seed: int
    label: str
    metrics: tuple[str, ...]


def _lookup(summary: Mapping[str, Any], path: str) -> Any:
    node: Any = summary
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return jsonable(node)


def execute_run(task: RunTask) -> RunRecord:
    """Run one task of a sweep and return its record; never raises for a run's error.

    This is what the workers of every backend execute (a module-level function, so it
    pickles by reference under ``spawn`` and Ray).

    Parameters
    ----------
    task : RunTask
        Kind, parameters, seed index, run seed, label and metric paths.

    Returns
    -------
    RunRecord
        ``status="done"`` with the metrics, or ``status="failed"`` with the error text
        (exception type and message, then the traceback).
    """
    start = time.perf_counter()
    metrics: dict[str, Any] = {}
    error = None
    try:
        module = load_kind(task.kind)
        outcome = module.run(dict(task.params), seed=task.run_seed, progress=False)
        metrics = {m: _lookup(outcome.summary, m) for m in task.metrics}
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
    return RunRecord(params=task.params, seed=task.seed, run_seed=task.run_seed,
                     label=task.label, status="failed" if error else "done",
                     metrics=metrics, error=error, duration=time.perf_counter() - start)


def _worker_init(parent: int) -> None:
    # Ctrl-C in a terminal reaches the whole process group: the parent alone decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # If the parent is killed outright (SIGKILL, OOM), Linux ends its workers too; they
    # would otherwise wait forever on the pool's queue.
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)
    # tqdm makes a multiprocessing lock on first use (kinds build disabled bars); a worker
    # stopped by terminate() would leave it to the resource tracker, which warns. Workers
    # never draw bars: a thread lock does.
    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())


# --------------------------------------------------------------------------- backends
class _Stop:
    """Set by SIGINT/SIGTERM; the backends poll it between results."""

    def __init__(self) -> None:
        self.signal: str | None = None

    def __bool__(self) -> bool:
        return self.signal is not None


@contextmanager
def _signals_stop(stop: _Stop) -> Iterator[None]:
    def handler(signum, frame):
        stop.signal = signal.Signals(signum).name

    saved = {}
    with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
        for sig in (signal.SIGINT, signal.SIGTERM):
            saved[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old)


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    try:
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _run_local(tasks: Iterator[RunTask], workers: int, on_result: Callable[[RunRecord], None],
               stop: _Stop) -> None:
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init,
                               initargs=(os.getpid(),))
    window = 4 * workers
    pending: set = set()
    clean = False
    try:
        # The first submits spawn the workers: they start with SIGINT ignored (inherited
        # through exec), so a Ctrl-C while they import prints no traceback from them.
        with _sigint_ignored():
            for task in itertools.islice(tasks, window):
                pending.add(pool.submit(execute_run, task))
        while pending and not stop:
            done, pending = wait(pending, timeout=_POLL, return_when=FIRST_COMPLETED)
            for fut in done:
                try:
                    rec = fut.result()
                except BrokenProcessPool:
                    if stop:  # Ctrl-C reached a worker still starting: an interruption
                        continue
                    raise ScenarioError(
                        "a worker process died (killed, out of memory or crashed); every "
                        "finished run is saved: run the same command again to resume") from None
                on_result(rec)
            if stop:
                break
            for task in itertools.islice(tasks, len(done)):
                pending.add(pool.submit(execute_run, task))
        clean = not pending
    finally:
        if clean:
            pool.shutdown(wait=True)
        else:
            # Interrupted or failed: drop queued runs and stop the workers now; nothing
            # in flight has been recorded, so a re-run does those runs again.
            procs = list(getattr(pool, "_processes", {}).values())
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.join()
            pool.shutdown(wait=True, cancel_futures=True)


def _run_ray(tasks: Iterator[RunTask], workers: int, address: str | None,
             on_result: Callable[[RunRecord], None], stop: _Stop) -> None:
    import ray

    started = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        started = True
    try:
        with _signals_stop(stop):  # ray.init installs its own handlers: ours come first
            _ray_loop(ray, tasks, workers, on_result, stop)
    finally:
        if started:
            ray.shutdown()


def _ray_loop(ray, tasks: Iterator[RunTask], workers: int,
              on_result: Callable[[RunRecord], None], stop: _Stop) -> None:
    # Cancelled runs in flight are dropped: not recorded, so a re-run does them.
    cpus = int(ray.cluster_resources().get("CPU", workers)) or workers
    remote = ray.remote(num_cpus=1)(execute_run)
    window = 4 * max(cpus, 1)
    pending: dict = {}

    def submit(n: int) -> None:
        for task in itertools.islice(tasks, n):
            pending[remote.remote(task)] = task

    submit(window)
    while pending and not stop:
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=_POLL)
        if ready:
            ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0)
        for ref in ready:
            task = pending.pop(ref)
            try:
                rec = ray.get(ref)
            except ray.exceptions.RayError as exc:
                # The worker died or Ray failed the task: a failed run, named.
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                rec = RunRecord(params=task.params, seed=task.seed,
                                run_seed=task.run_seed, label=task.label,
                                status="failed", error=f"{type(exc).__name__}: {first}")
            on_result(rec)
        submit(len(ready))
    for ref in pending:
        ray.cancel(ref, force=True)


# --------------------------------------------------------------------------- a sweep
LOCK_FILE = "sweep.lock"


@contextmanager
def _only_writer(out_dir: Path) -> Iterator[None]:
    """Refuse a second ``swarm sweep`` into the same folder while one is running."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no guard
        yield
        return
    with (out_dir / LOCK_FILE).open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ScenarioError(f"{out_dir}: another sweep is writing to this folder; wait for "
                                f"it to finish or choose another --out") from None
        yield


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _check_backend(backend: str, workers: int | None, address: str | None) -> int:
    if backend not in BACKENDS:
        raise ScenarioError(f"backend = {backend!r} is unknown; allowed: {', '.join(BACKENDS)}")
    if workers is None:
        workers = _default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ScenarioError(f"workers = {workers!r} is not allowed; expected an integer >= 1")
    if address is not None and backend != "ray":
        raise ScenarioError("address is for the ray backend only (--backend ray)")
    if backend == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise ScenarioError("the ray backend needs Ray: pip install 'swarmgym[ray]'") from None
    return workers


def run_sweep(
    sweep: Sweep,
    out_dir: str | Path,
    *,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    progress: bool = True,
    retry_failed: bool = False,
) -> SweepResult:
    """Run every run of ``sweep`` not yet in ``out_dir``'s store, recording each.

    Parameters
    ----------
    sweep : Sweep
        From :func:`load_sweep`.
    out_dir : str or Path
        Folder of the results store (``results.sqlite``); created if needed.
    backend : {"local", "ray"}
        ``"local"``: a :class:`~concurrent.futures.ProcessPoolExecutor` of ``workers``
        spawned processes. ``"ray"``: Ray tasks, on the cluster at ``address``, on the
        already initialised Ray, or on a local Ray with ``num_cpus=workers``.
    workers : int, optional
        Local processes, or CPUs of a local Ray (default: the usable CPUs).
    address : str, optional
        Address of an existing Ray cluster (``"auto"``, ``"ray://host:10001"``...);
        its nodes need swarmgym installed (the same version) to import the kinds.
    progress : bool
        Show a progress bar (runs done, failed, ETA) on stderr.
    retry_failed : bool
        Run again the runs recorded as failed (they are skipped otherwise).

    Returns
    -------
    SweepResult
        Counts, failures, and whether a signal (SIGINT, SIGTERM) stopped the sweep.
        A signal stops the sweep cleanly: finished runs are recorded, runs in flight
        are dropped (they run again on resume).
    """
    workers = _check_backend(backend, workers, address)
    out_dir = Path(out_dir)
    path = out_dir / STORE_FILE
    if path.is_file():
        with ResultStore(path, create=False) as old:
            owner = old.meta().get("sweep")
        if owner is not None and owner != sweep.name:
            raise ScenarioError(f"{out_dir} holds the results of sweep {owner!r}, not "
                                f"{sweep.name!r}; choose another --out")
    out_dir.mkdir(parents=True, exist_ok=True)
    with _only_writer(out_dir), ResultStore(path) as store:
        store.set_meta({
            "sweep": sweep.name, "description": sweep.description, "kind": sweep.kind,
            "scenario": sweep.scenario.name, "source": sweep.source, "sweep_file": sweep.text,
            "metrics": json.dumps(list(sweep.metrics)), "varying": json.dumps(list(sweep.varying)),
        })
        have = store.keys("done") if retry_failed else store.keys()
        todo = [r for r in sweep.runs if r.key not in have]
        result = SweepResult(total=len(sweep.runs), skipped=len(sweep.runs) - len(todo),
                             store=path)
        seen_metrics: set[str] = set()
        tasks = (RunTask(kind=sweep.kind, params=r.params, seed=r.seed, run_seed=r.run_seed,
                       label=r.label, metrics=sweep.metrics) for r in todo)

        from tqdm.auto import tqdm

        bar = tqdm(total=result.total, initial=result.skipped, unit="run", desc=sweep.name,
                   disable=not progress, dynamic_ncols=True, smoothing=0.1)

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

        stop = _Stop()
        try:
            with _signals_stop(stop):
                if todo:
                    if backend == "local":
                        _run_local(tasks, workers, on_result, stop)
                    else:
                        _run_ray(tasks, workers, address, on_result, stop)
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
        From :func:`load_sweep`.
    specs : sequence of RunSpec, optional
        The runs to do.

    Returns
    -------
    list of RunRecord
        One record per run, in order.
    """
    specs = sweep.runs if specs is None else specs
    return [execute_run(RunTask(kind=sweep.kind, params=r.params, seed=r.seed,
                              run_seed=r.run_seed, label=r.label, metrics=sweep.metrics))
            for r in specs]
