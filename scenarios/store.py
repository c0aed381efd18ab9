"""The results store of a sweep: one SQLite database, one row per run.

A sweep's output folder holds ``results.sqlite`` with two tables:

``runs``
    One row per run: its parameters (canonical JSON, every parameter of the kind), the
    seed index within the sweep and the integer seed given to the kind, the case label,
    the status (``"done"`` or ``"failed"``), the recorded metrics (JSON), the error text
    of a failed run, the duration in seconds, the swarmgym version that ran it and the
    UTC time it finished, and two fingerprints: of its resolved parameters
    (``params_fp``) and of the sweep spec it belongs to (``spec_fp``).
    ``(params, seed)`` is unique, so a run is present exactly once.
``meta``
    Key/value text about the sweep (its name, the sweep file's text, the metrics, the
    spec and its fingerprint).

Each run is written in its own transaction as it finishes, so a crash or Ctrl-C loses
nothing that finished. The database is in WAL mode: ``swarm report`` can read it while a
sweep is writing to it. A file that is not such a store (random bytes, an empty or
truncated file, another SQLite database) raises :class:`StoreError` naming the file; a
store locked by another process is waited for (saying so on stderr) for up to
``SWARM_STORE_TIMEOUT`` seconds (default 30), then a :class:`StoreError`.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> from scenarios.store import ResultStore, RunRecord, canonical_params
>>> canonical_params({"b": 2, "a": 1.5})
'{"a":1.5,"b":2}'
>>> with tempfile.TemporaryDirectory() as tmp:
...     path = Path(tmp) / "results.sqlite"
...     with ResultStore(path) as store:
...         store.record(RunRecord({"n": 3}, 0, 123, "", "done", {"x": 1.0}))
...     with ResultStore(path, create=False) as store:  # reopened: the run is there
...         print([(r.params, r.status, r.metrics) for r in store.runs()])
[({'n': 3}, 'done', {'x': 1.0})]
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import sys
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeVar

from scenarios.config import ScenarioError

__all__ = [
    "STORE_FILE",
    "ResultStore",
    "RunRecord",
    "StoreError",
    "canonical_params",
    "package_version",
]

T = TypeVar("T")

STORE_FILE = "results.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id          INTEGER PRIMARY KEY,
    params      TEXT    NOT NULL,
    seed        INTEGER NOT NULL,
    run_seed    INTEGER NOT NULL,
    label       TEXT    NOT NULL DEFAULT '',
    status      TEXT    NOT NULL CHECK (status IN ('done', 'failed')),
    metrics     TEXT,
    error       TEXT,
    duration    REAL    NOT NULL,
    version     TEXT    NOT NULL,
    finished_at TEXT    NOT NULL,
    params_fp   TEXT    NOT NULL DEFAULT '',
    spec_fp     TEXT    NOT NULL DEFAULT '',
    UNIQUE (params, seed)
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
_COLUMNS = {
    "params",
    "seed",
    "run_seed",
    "label",
    "status",
    "metrics",
    "error",
    "duration",
    "version",
    "finished_at",
}


class StoreError(ScenarioError):
    """A results store that cannot be used: not a store, damaged, or locked too long."""


def _lock_timeout() -> float:
    try:
        return max(0.0, float(os.environ.get("SWARM_STORE_TIMEOUT", "30")))
    except ValueError:
        return 30.0


@lru_cache(maxsize=1)
def package_version() -> str:
    """Return the swarmgym version: the installed one, else the source checkout's.

    In a checkout that is not installed (``PYTHONPATH`` pointing at it) the version is
    read from the checkout's ``pyproject.toml``; ``"unknown"`` only when neither exists.
    """
    with contextlib.suppress(PackageNotFoundError):
        return version("swarmgym")
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return "unknown"
    return str(project["version"]) if project.get("name") == "swarmgym" else "unknown"


def canonical_params(params: Mapping[str, Any]) -> str:
    """Canonical JSON of a run's parameters: sorted keys, no spaces.

    Two dicts with the same items give the same text whatever their key order, so the
    text identifies the parameters (it is the store's key, with the seed).

    Parameters
    ----------
    params : mapping
        JSON-serialisable parameter values.

    Returns
    -------
    str
        The JSON text.
    """
    return json.dumps(params, sort_keys=True, separators=(",", ":"), allow_nan=False)


@dataclass
class RunRecord:
    """One run of a sweep, as stored.

    Attributes
    ----------
    params : dict
        Every parameter of the kind, as run.
    seed : int
        Seed index within the sweep (0, 1, ... ``seeds - 1``).
    run_seed : int
        The seed given to the kind's ``run``, derived from (sweep, params, seed).
    label : str
        The case label from the sweep file ('' when the case has none).
    status : str
        ``"done"`` or ``"failed"``.
    metrics : dict
        Metric path -> value (None where the summary had no such entry); empty when failed.
    error : str or None
        ``"ExceptionType: message"`` of a failed run.
    duration : float
        Seconds the run took in its worker.
    version : str
        swarmgym version that ran it.
    finished_at : str
        UTC time, ISO 8601.
    params_fp : str
        Fingerprint of the resolved parameters ('' in stores of older versions).
    spec_fp : str
        Fingerprint of the sweep spec the run belongs to ('' in older stores).
    """

    params: dict[str, Any]
    seed: int
    run_seed: int
    label: str
    status: str
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    duration: float = 0.0
    version: str = field(default_factory=package_version)
    finished_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    params_fp: str = ""
    spec_fp: str = ""

    @property
    def key(self) -> tuple[str, int]:
        """The unique key: (canonical parameter JSON, seed index)."""
        return canonical_params(self.params), self.seed


class ResultStore:
    """A sweep's SQLite results database.

    Parameters
    ----------
    path : str or Path
        The database file (created with its folder unless ``create`` is False).
    create : bool
        Create the file if it does not exist; otherwise a missing file is an error.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with ResultStore(Path(tmp) / "results.sqlite") as store:
    ...         store.record(RunRecord({"n": 3}, 0, 123, "", "done", {"x": 1.0}))
    ...         print(store.count())
    1
    """

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        existed = self.path.exists()
        if not create and not self.path.is_file():
            raise FileNotFoundError(f"no results store at {self.path}")
        if existed and not self.path.is_file():
            raise StoreError(f"{self.path}: not a file, so not a results store")
        if existed and self.path.stat().st_size == 0:
            raise StoreError(
                f"{self.path}: an empty file, not a results store (move it away, "
                f"or run swarm sweep with --restart)"
            )
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._waited = False
        # Autocommit mode: every write below opens and commits its own transaction.
        try:
            self._conn = sqlite3.connect(self.path, timeout=1.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open ({exc})") from None
        try:
            # Read first, change nothing: another program's database stays as it was.
            tables = {
                r[0]
                for r in self._q(
                    lambda: self._conn.execute(
                        "SELECT name FROM sqlite_master WHERE type = 'table'"
                    ).fetchall()
                )
            }
            if existed and not {"runs", "meta"} <= tables:
                raise StoreError(
                    f"{self.path}: an SQLite database but not a swarm results "
                    f"store (its tables: {', '.join(sorted(tables)) or 'none'})"
                )
            if create:
                self._q(lambda: self._conn.execute("PRAGMA journal_mode=WAL").fetchall())
                self._q(lambda: self._conn.execute("PRAGMA synchronous=NORMAL"))
                self._q(lambda: self._conn.executescript(_SCHEMA))
            cols = {
                r[1]
                for r in self._q(lambda: self._conn.execute("PRAGMA table_info(runs)").fetchall())
            }
            if not _COLUMNS <= cols:
                raise StoreError(
                    f"{self.path}: its runs table lacks "
                    f"{', '.join(sorted(_COLUMNS - cols))}; not a swarm results "
                    f"store"
                )
            if create and "params_fp" not in cols:  # a store of an older version
                for col in ("params_fp", "spec_fp"):
                    self._q(
                        lambda c=col: self._conn.execute(
                            f"ALTER TABLE runs ADD COLUMN {c} TEXT NOT NULL DEFAULT ''"
                        )
                    )
                cols |= {"params_fp", "spec_fp"}
            self._fp_cols = (
                "params_fp, spec_fp" if "params_fp" in cols else "'' AS params_fp, '' AS spec_fp"
            )
        except BaseException:
            self._conn.close()
            raise

    def _q(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` (SQL on the connection): wait out locks, name a damaged file."""
        deadline = None
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                text = str(exc)
                if "locked" not in text and "busy" not in text:
                    raise StoreError(
                        f"{self.path}: {text} (damaged or not a results store?)"
                    ) from None
                if deadline is None:
                    deadline = time.monotonic() + _lock_timeout()
                if not self._waited:
                    print(
                        f"swarm: {self.path} is locked by another process; waiting up to "
                        f"{_lock_timeout():g} s",
                        file=sys.stderr,
                        flush=True,
                    )
                    self._waited = True
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"{self.path}: still locked by another process after "
                        f"{_lock_timeout():g} s; stop that process or wait for "
                        f"it, then try again"
                    ) from None
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"{self.path}: not a usable results store ({exc})") from None

    # -- context manager -------------------------------------------------------------
    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (everything recorded is already committed)."""
        self._conn.close()

    @property
    def journal_mode(self) -> str:
        """SQLite's journal mode (``"wal"``)."""
        return self._q(lambda: self._conn.execute("PRAGMA journal_mode").fetchone()[0])

    # -- writing ---------------------------------------------------------------------
    def record(self, run: RunRecord) -> None:
        """Write one finished run in its own transaction.

        A run already present under the same (params, seed) is replaced (a failed run
        retried), so each run is present exactly once.

        Parameters
        ----------
        run : RunRecord
            The finished run.
        """
        row = (
            canonical_params(run.params),
            run.seed,
            run.run_seed,
            run.label,
            run.status,
            json.dumps(run.metrics, sort_keys=True),
            run.error,
            float(run.duration),
            run.version,
            run.finished_at,
            run.params_fp,
            run.spec_fp,
        )
        with self._transaction():
            self._q(
                lambda: self._conn.execute(
                    "INSERT INTO runs (params, seed, run_seed, label, status, metrics, error, "
                    "duration, version, finished_at, params_fp, spec_fp) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (params, seed) DO UPDATE SET run_seed = excluded.run_seed, "
                    "label = excluded.label, status = excluded.status, "
                    "metrics = excluded.metrics, error = excluded.error, "
                    "duration = excluded.duration, version = excluded.version, "
                    "finished_at = excluded.finished_at, params_fp = excluded.params_fp, "
                    "spec_fp = excluded.spec_fp",
                    row,
                )
            )

    def set_meta(self, items: Mapping[str, str]) -> None:
        """Set key/value text about the sweep, in one transaction."""
        with self._transaction():
            self._q(
                lambda: self._conn.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    [(k, str(v)) for k, v in items.items()],
                )
            )

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._q(lambda: self._conn.execute("BEGIN IMMEDIATE"))
        try:
            yield
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        self._q(lambda: self._conn.execute("COMMIT"))

    # -- reading ---------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        """Return all key/value text about the sweep."""
        return dict(self._q(lambda: self._conn.execute("SELECT key, value FROM meta").fetchall()))

    def count(self, status: str | None = None) -> int:
        """Return the number of runs recorded (with ``status`` only, if given)."""
        if status is None:
            return self._q(lambda: self._conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
        return self._q(
            lambda: self._conn.execute(
                "SELECT COUNT(*) FROM runs WHERE status = ?", (status,)
            ).fetchone()[0]
        )

    def keys(self, status: str | None = None) -> set[tuple[str, int]]:
        """Return the (canonical params, seed) keys recorded (``status`` only, if given)."""
        sql = "SELECT params, seed FROM runs"
        args: tuple = ()
        if status is not None:
            sql += " WHERE status = ?"
            args = (status,)
        return {(p, s) for p, s in self._q(lambda: self._conn.execute(sql, args).fetchall())}

    def runs(self, status: str | None = None) -> list[RunRecord]:
        """Return every recorded run in the order written (``status`` only, if given)."""
        return list(self.iter_runs(status))

    def iter_runs(self, status: str | None = None) -> Iterator[RunRecord]:
        """Iterate over the recorded runs in the order written."""
        sql = (
            "SELECT params, seed, run_seed, label, status, metrics, error, duration, "
            f"version, finished_at, {self._fp_cols} FROM runs"
        )
        args: tuple = ()
        if status is not None:
            sql += " WHERE status = ?"
            args = (status,)
        cur = self._q(lambda: self._conn.execute(sql + " ORDER BY id", args))
        while rows := self._q(lambda: cur.fetchmany(1000)):
            for row in rows:
                (
                    params,
                    seed,
                    run_seed,
                    label,
                    st,
                    metrics,
                    error,
                    duration,
                    ver,
                    fin,
                    pfp,
                    sfp,
                ) = row
                try:
                    yield RunRecord(
                        params=json.loads(params),
                        seed=seed,
                        run_seed=run_seed,
                        label=label,
                        status=st,
                        metrics=json.loads(metrics or "{}"),
                        error=error,
                        duration=duration,
                        version=ver,
                        finished_at=fin,
                        params_fp=pfp or "",
                        spec_fp=sfp or "",
                    )
                except (TypeError, ValueError) as exc:
                    raise StoreError(f"{self.path}: a damaged run row ({exc})") from None
