"""Finding, loading and running scenarios.

Shipped scenarios live in ``scenarios/data/<name>.toml``; a scenario kind is a module
``scenarios/kinds/<kind>.py`` defining

- ``DESCRIPTION``: one line;
- ``PARAMS``: ``dict[str, Param]``, every parameter with its default and range;
- ``run(params, *, seed, progress) -> Outcome``;
- ``write_artifacts(outcome, out_dir) -> list[Path]``: plots and animations;

and optionally

- ``resolve(params) -> dict``: the parameters with every placeholder replaced by the
  value the run uses (``wmsr_f = -1`` becomes the number of Byzantine robots), recorded
  in ``summary.json``, printed by ``swarm run`` and fingerprinted by sweeps;
- ``METRICS``: patterns of the dotted metric paths its summary holds (``"*"`` matches
  one key), against which sweeps check their ``metrics`` before any run starts.

``swarm run`` writes into a temporary sibling folder and renames it into place only when
everything is written (:func:`run_scenario`): a failure or Ctrl-C leaves the previous
folder as it was and nothing half-written.

Examples
--------
The placeholder ``wmsr_f = -1`` resolves to the number of Byzantine robots; a small run
writes its ``summary.json`` into a temporary folder.

>>> import tempfile
>>> from pathlib import Path
>>> from scenarios.runner import load_scenario, resolve_params, run_scenario
>>> scenario = load_scenario("byzantine-consensus", ["n_byzantine=3"])
>>> scenario.params["wmsr_f"], resolve_params(scenario.kind, scenario.params)["wmsr_f"]
(-1, 3)
>>> small = ["n_robots=12", "topology=complete", "n_byzantine=1", "rounds=20"]
>>> with tempfile.TemporaryDirectory() as tmp:
...     out = run_scenario(load_scenario("byzantine-consensus", small),
...                        out_dir=Path(tmp) / "run", artifacts=False)
...     print(sorted(p.name for p in (Path(tmp) / "run").iterdir()))
['summary.json']
>>> out.summary["wmsr"]["converged_round"]
3
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
import os
import pkgutil
import platform
import shutil
import tempfile
import tomllib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from scenarios.config import (
    Outcome,
    Scenario,
    ScenarioError,
    check_name,
    parse_override,
    validate_params,
)
from scenarios.store import package_version

__all__ = [
    "available_kinds",
    "available_scenarios",
    "check_out_dir",
    "jsonable",
    "load_kind",
    "load_scenario",
    "provenance",
    "resolve_params",
    "run_scenario",
    "write_summary",
]

_TOP_KEYS = {"name", "kind", "description", "seed", "params"}


def available_kinds() -> list[str]:
    """Names of the scenario kinds (modules under ``scenarios/kinds``)."""
    import scenarios.kinds as kinds

    mods = pkgutil.iter_modules(kinds.__path__)
    return sorted(m.name for m in mods if not m.name.startswith("_"))


def load_kind(kind: str, *, where: str = "scenario") -> ModuleType:
    """Import the module of a scenario kind.

    Parameters
    ----------
    kind : str
        Kind name.
    where : str
        Source named in the error message.

    Returns
    -------
    module
        The kind module.
    """
    kinds = available_kinds()
    if kind not in kinds:
        raise ScenarioError(f"{where}: kind = {kind!r} is unknown; allowed: {', '.join(kinds)}")
    return importlib.import_module(f"scenarios.kinds.{kind}")


def _data_dir() -> Path:
    return Path(str(resources.files("scenarios") / "data"))


def available_scenarios() -> dict[str, Path]:
    """Shipped scenarios: name -> path of the TOML file."""
    return {p.stem: p for p in sorted(_data_dir().glob("*.toml"))}


def load_scenario(name_or_path: str | Path, overrides: Iterable[str] = ()) -> Scenario:
    """Read and validate a scenario.

    Parameters
    ----------
    name_or_path : str or Path
        A shipped scenario name (see :func:`available_scenarios`) or a TOML file.
    overrides : iterable of str
        ``key=value`` strings (``--set``) applied over the file's ``[params]``.

    Returns
    -------
    Scenario
        The validated scenario.
    """
    overrides = tuple(overrides)
    shipped = available_scenarios()
    text_name = str(name_or_path)
    if text_name in shipped:
        path = shipped[text_name]
    else:
        path = Path(name_or_path)
        if path.suffix != ".toml" or not path.is_file():
            known = ", ".join(shipped)
            raise ScenarioError(
                f"unknown scenario {text_name!r}: not a shipped scenario and not a .toml file; "
                f"known scenarios: {known}"
            )
    where = str(path)
    try:
        data = path.read_bytes()
        doc = tomllib.loads(data.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{where}: malformed TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            f"{where}: not UTF-8 text (byte {exc.start}); save the file as UTF-8"
        ) from None
    except OSError as exc:
        raise ScenarioError(f"{where}: cannot read: {exc.strerror}") from None
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise ScenarioError(
            f"{where}: unknown key {unknown[0]}; "
            f"allowed top-level keys: {', '.join(sorted(_TOP_KEYS))}"
        )
    if "kind" not in doc:
        raise ScenarioError(f"{where}: missing key kind; allowed: {', '.join(available_kinds())}")
    kind = doc["kind"]
    if not isinstance(kind, str):
        raise ScenarioError(
            f"{where}: kind must be a string; allowed: {', '.join(available_kinds())}"
        )
    module = load_kind(kind, where=where)
    name = check_name(doc.get("name", path.stem), where=where)
    description = doc.get("description", module.DESCRIPTION)
    if not isinstance(description, str):
        raise ScenarioError(f"{where}: description must be a string")
    seed = doc.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ScenarioError(f"{where}: seed = {seed!r} is not allowed; expected an integer >= 0")
    raw = doc.get("params", {})
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: params must be a table ([params])")
    raw = dict(raw)
    for text in overrides:
        key, value = parse_override(text)
        raw[key] = value
    source = f"{where} (with --set)" if overrides else where
    params = validate_params(raw, module.PARAMS, where=source)
    return Scenario(
        name=name,
        kind=kind,
        description=description,
        seed=seed,
        params=params,
        source=where,
        sha256=hashlib.sha256(data).hexdigest(),
        overrides=overrides,
    )


def resolve_params(kind: str | ModuleType, params: Mapping[str, Any]) -> dict[str, Any]:
    """Return the parameters a run uses: placeholders replaced by the kind's ``resolve``.

    Parameters
    ----------
    kind : str or module
        The scenario kind (or its module).
    params : mapping
        Checked parameters.

    Returns
    -------
    dict
        A copy with, for example, ``wmsr_f = -1`` replaced by the number of Byzantine
        robots; kinds without ``resolve`` return the parameters unchanged.
    """
    module = load_kind(kind) if isinstance(kind, str) else kind
    resolve = getattr(module, "resolve", None)
    return dict(resolve(dict(params)) if resolve is not None else params)


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"


def provenance(scenario: Scenario, *, command: Sequence[str] | None = None) -> dict[str, Any]:
    """Describe what produced a run: scenario file, its hash, overrides, command, versions.

    Parameters
    ----------
    scenario : Scenario
        What is run.
    command : sequence of str, optional
        The command line (``sys.argv`` of ``swarm run``).

    Returns
    -------
    dict
        ``scenario_file``, ``scenario_sha256``, ``overrides``, ``command``, and the
        versions of swarmgym, numpy, numba and Python, and the platform.
    """
    return {
        "scenario_file": scenario.source,
        "scenario_sha256": scenario.sha256,
        "overrides": list(scenario.overrides),
        "command": list(command) if command is not None else None,
        "swarmgym": package_version(),
        "numpy": np.__version__,
        "numba": _version("numba"),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def check_out_dir(out_dir: Path) -> None:
    """Refuse an output folder ``swarm run`` must not write or replace.

    ``out_dir`` may be missing (its parent is created), or an empty folder, or the
    folder of an earlier run (holding ``summary.json``): that one is replaced whole when
    the new run has written everything. Anything else is an error naming the folder.

    Parameters
    ----------
    out_dir : Path
        The output folder.
    """
    if out_dir.exists() or out_dir.is_symlink():
        if not out_dir.is_dir():
            raise ScenarioError(
                f"--out {out_dir}: exists and is not a folder; choose another --out"
            )
        if any(out_dir.iterdir()) and not (out_dir / "summary.json").is_file():
            raise ScenarioError(
                f"--out {out_dir}: a folder that is not the output of an "
                f"earlier run (no summary.json); swarm run replaces its "
                f"output folder whole, so choose a new or empty --out"
            )
    probe = out_dir.absolute().parent
    while not probe.exists() and not probe.is_symlink():
        probe = probe.parent
    if not probe.is_dir():
        raise ScenarioError(f"--out {out_dir}: {probe} is not a folder")
    try:  # the one sure test, also for root: make (and remove) a folder there
        os.rmdir(tempfile.mkdtemp(prefix=".swarm-probe-", dir=probe))
    except OSError as exc:
        raise ScenarioError(
            f"--out {out_dir}: cannot write in {probe} ({exc.strerror or exc})"
        ) from None


def jsonable(obj: Any) -> Any:
    """Turn results into plain JSON values.

    numpy arrays and scalars become lists and numbers, mapping keys become strings,
    non-finite floats (which JSON cannot hold) become None, and any other object its
    ``repr``.

    Parameters
    ----------
    obj : object
        A summary, metric or parameter value.

    Returns
    -------
    object
        ``None``, bool, int, float, str, or lists and dicts of them.
    """
    if isinstance(obj, np.ndarray):
        obj = obj.tolist()
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    return repr(obj)


def write_summary(
    scenario: Scenario,
    seed: int,
    outcome: Outcome,
    out_dir: Path,
    run_info: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``summary.json``: scenario, seed, resolved params, provenance, the results.

    Parameters
    ----------
    scenario : Scenario
        What was run.
    seed : int
        The seed used.
    outcome : Outcome
        The kind's results.
    out_dir : Path
        Output folder (created if needed).
    run_info : mapping, optional
        Provenance (:func:`provenance`, start and end times), under ``"run"``.

    Returns
    -------
    Path
        The written file.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = {
        "scenario": scenario.name,
        "kind": scenario.kind,
        "seed": seed,
        "params": resolve_params(scenario.kind, scenario.params),
        "params_given": scenario.params,
    }
    if run_info is not None:
        doc["run"] = dict(run_info)
    doc.update(outcome.summary)
    path = out_dir / "summary.json"
    path.write_text(json.dumps(jsonable(doc), indent=2) + "\n", encoding="utf-8")
    return path


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def run_scenario(
    scenario: Scenario,
    *,
    seed: int | None = None,
    out_dir: Path | None = None,
    progress: bool = False,
    artifacts: bool = True,
    command: Sequence[str] | None = None,
) -> Outcome:
    """Run a validated scenario, writing ``summary.json`` and artifacts to ``out_dir``.

    Everything is written into a temporary sibling folder first, which replaces
    ``out_dir`` (see :func:`check_out_dir`) only once everything is written; on any
    error or interruption it is removed and ``out_dir`` is left as it was.

    Parameters
    ----------
    scenario : Scenario
        From :func:`load_scenario`.
    seed : int, optional
        Overrides the scenario's seed (an integer >= 0).
    out_dir : Path, optional
        Where to write; nothing is written when None.
    progress : bool
        Show a progress bar on long runs.
    artifacts : bool
        Also write plots and animations.
    command : sequence of str, optional
        The command line, recorded in ``summary.json``.

    Returns
    -------
    Outcome
        The kind's results.
    """
    module = load_kind(scenario.kind, where=scenario.source)
    seed = scenario.seed if seed is None else seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**63:
        raise ScenarioError(f"seed = {seed!r} is not allowed; expected an integer in [0, 2**63)")
    seed = int(seed)
    if out_dir is not None:
        out_dir = Path(out_dir)
        check_out_dir(out_dir)
    started = _now()
    outcome = module.run(scenario.params, seed=seed, progress=progress)
    if out_dir is None:
        return outcome
    info = {**provenance(scenario, command=command), "started": started}
    out_dir.absolute().parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        tmp.mkdir()
        if artifacts:
            module.write_artifacts(outcome, tmp)
        write_summary(scenario, seed, outcome, tmp, {**info, "finished": _now()})
        _replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return outcome


def _replace_dir(new: Path, out_dir: Path) -> None:
    """Put the finished folder ``new`` in place of ``out_dir`` (two renames)."""
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}")
        out_dir.rename(old)
    try:
        new.rename(out_dir)
    except BaseException:
        if old is not None:
            old.rename(out_dir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
