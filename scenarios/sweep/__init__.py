"""Scenario sweeps: many runs of one scenario kind, stored as they finish, resumable.

The sweep file format, its validation, seeding and fingerprints are in
:mod:`scenarios.sweep.spec`; executing runs (local process pool, Ray) in
:mod:`scenarios.sweep.backends`; running a sweep into its folder, one writer and one
spec per folder, in :mod:`scenarios.sweep.execute`. Every public name is importable from
``scenarios.sweep``.

Examples
--------
>>> from scenarios.sweep import load_sweep
>>> sweep = load_sweep("wmsr-vs-f")
>>> sweep.kind, sweep.seeds, sweep.n_combinations, sweep.n_runs
('consensus', 20, 11, 220)
>>> sweep.varying
('n_byzantine', 'protocols', 'wmsr_f')
"""

from scenarios.sweep.backends import BACKENDS, RunTask, execute_run
from scenarios.sweep.execute import LOCK_FILE, SweepResult, run_sweep, run_tasks_inline
from scenarios.sweep.spec import (
    MAX_SEEDS,
    RunSpec,
    Sweep,
    available_sweeps,
    changed_keys,
    derive_seed,
    fingerprint,
    load_sweep,
    metric_matches,
)

__all__ = [
    "BACKENDS",
    "LOCK_FILE",
    "MAX_SEEDS",
    "RunSpec",
    "RunTask",
    "Sweep",
    "SweepResult",
    "available_sweeps",
    "changed_keys",
    "derive_seed",
    "execute_run",
    "fingerprint",
    "load_sweep",
    "metric_matches",
    "run_sweep",
    "run_tasks_inline",
]
