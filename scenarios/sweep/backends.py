"""Executing the runs of a sweep: one run, and the local and Ray backends.

:func:`execute_run` is what every worker executes; :func:`run_local` runs tasks on a
pool of spawned processes and :func:`run_ray` on Ray. Both stop cleanly when a signal
sets their :class:`Stop`: finished runs are handed on, runs in flight are dropped.

Examples
--------
One run as a worker executes it, in this process:

>>> from scenarios.runner import load_scenario
>>> from scenarios.sweep.backends import RunTask, check_backend, execute_run
>>> small = ["n_robots=12", "topology=complete", "n_byzantine=1", "rounds=20"]
>>> scenario = load_scenario("byzantine-consensus", small)
>>> task = RunTask(scenario.kind, scenario.params, 0, 7, "", ("wmsr.converged_round",))
>>> record = execute_run(task)
>>> record.status, record.metrics
('done', {'wmsr.converged_round': 3})
>>> check_backend("local", 2, None)
2
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from scenarios.config import ScenarioError
from scenarios.runner import jsonable, load_kind
from scenarios.store import RunRecord

__all__ = [
    "BACKENDS",
    "RunTask",
    "Stop",
    "check_backend",
    "execute_run",
    "ray_session",
    "run_local",
    "run_ray",
    "signals_stop",
]

#: Execution backends of :func:`scenarios.sweep.run_sweep`.
BACKENDS = ("local", "ray")

_POLL = 0.2  # seconds between checks for Ctrl-C / SIGTERM while runs are in flight
_CONNECT_TIMEOUT = 5.0  # seconds to reach a Ray cluster's address before giving up


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
    params_fp: str = ""
    spec_fp: str = ""


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
    return RunRecord(
        params=task.params,
        seed=task.seed,
        run_seed=task.run_seed,
        label=task.label,
        status="failed" if error else "done",
        metrics=metrics,
        error=error,
        duration=time.perf_counter() - start,
        params_fp=task.params_fp,
        spec_fp=task.spec_fp,
    )


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
class Stop:
    """Set by SIGINT/SIGTERM; the backends poll it between results."""

    def __init__(self) -> None:
        self.signal: str | None = None

    def __bool__(self) -> bool:
        return self.signal is not None


@contextmanager
def signals_stop(stop: Stop) -> Iterator[None]:
    """Let SIGINT and SIGTERM set ``stop`` instead of raising, inside the block."""

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


def run_local(
    tasks: Iterator[RunTask], workers: int, on_result: Callable[[RunRecord], None], stop: Stop
) -> None:
    """Run ``tasks`` on a pool of ``workers`` spawned processes.

    Parameters
    ----------
    tasks : iterator of RunTask
        Runs to do, consumed as slots free up (a window of 4 per worker).
    workers : int
        Processes.
    on_result : callable
        Called with each finished run's record, in this process.
    stop : Stop
        Polled; when set, queued runs are dropped and the workers stopped.
    """
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_worker_init, initargs=(os.getpid(),)
    )
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
                        "finished run is saved: run the same command again to resume"
                    ) from None
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


def _reachable(address: str) -> None:
    """Refuse a ``host:port`` (or ``ray://host:port``) nothing answers on, within seconds."""
    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto" and other forms: Ray resolves them itself
    try:
        # Only whether something answers matters: connect, then hang up.
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=_CONNECT_TIMEOUT).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ScenarioError(
            f"--address {address}: no Ray cluster answers there ({reason}, "
            f"waited up to {_CONNECT_TIMEOUT:g} s); start one with `ray "
            f"start --head` or check the address"
        ) from None


@contextmanager
def ray_session(workers: int, address: str | None) -> Iterator[Any]:
    """Connect to (or start) Ray before anything is written; shut it down afterwards.

    Parameters
    ----------
    workers : int
        CPUs of a local Ray started here.
    address : str, optional
        Address of an existing cluster; checked to answer first.

    Yields
    ------
    module
        The ``ray`` module, initialised.
    """
    import ray

    started = False
    if not ray.is_initialized():
        if address:
            _reachable(address)
            try:
                ray.init(address=address, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                raise ScenarioError(
                    f"--address {address}: cannot connect to Ray: {first}"
                ) from None
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        started = True
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def run_ray(
    ray, tasks: Iterator[RunTask], workers: int, on_result: Callable[[RunRecord], None], stop: Stop
) -> None:
    """Run ``tasks`` as Ray tasks (Ray initialised by :func:`ray_session`).

    Parameters
    ----------
    ray : module
        The initialised ``ray`` module.
    tasks : iterator of RunTask
        Runs to do, consumed as slots free up.
    workers : int
        CPUs assumed when the cluster does not say.
    on_result : callable
        Called with each finished run's record, in this process.
    stop : Stop
        Polled; when set, runs in flight are cancelled and dropped.
    """
    with signals_stop(stop):  # ray.init installs its own handlers: ours come first
        _ray_loop(ray, tasks, workers, on_result, stop)


def _ray_loop(
    ray, tasks: Iterator[RunTask], workers: int, on_result: Callable[[RunRecord], None], stop: Stop
) -> None:
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
                rec = RunRecord(
                    params=task.params,
                    seed=task.seed,
                    run_seed=task.run_seed,
                    label=task.label,
                    status="failed",
                    error=f"{type(exc).__name__}: {first}",
                    params_fp=task.params_fp,
                    spec_fp=task.spec_fp,
                )
            on_result(rec)
        submit(len(ready))
    for ref in pending:
        ray.cancel(ref, force=True)


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def check_backend(backend: str, workers: int | None, address: str | None) -> int:
    """Check the backend options; return the number of workers to use."""
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
