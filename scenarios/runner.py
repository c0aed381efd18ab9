"""Finding, loading and running scenarios.

Shipped scenarios live in ``scenarios/data/<name>.toml``; a scenario kind is a module
``scenarios/kinds/<kind>.py`` defining

- ``DESCRIPTION``: one line;
- ``PARAMS``: ``dict[str, Param]``, every parameter with its default and range;
- ``run(params, *, seed, progress) -> Outcome``;
- ``write_artifacts(outcome, out_dir) -> list[Path]``: plots and animations.
"""

from __future__ import annotations

import importlib
import json
import math
import pkgutil
import tomllib
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from scenarios.config import Outcome, Scenario, ScenarioError, parse_override, validate_params

__all__ = [
    "available_kinds",
    "available_scenarios",
    "jsonable",
    "load_kind",
    "load_scenario",
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
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{where}: malformed TOML: {exc}") from None
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
    name = doc.get("name", path.stem)
    description = doc.get("description", module.DESCRIPTION)
    if not isinstance(name, str) or not isinstance(description, str):
        raise ScenarioError(f"{where}: name and description must be strings")
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
    return Scenario(name=name, kind=kind, description=description, seed=seed, params=params,
                    source=where)


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


def write_summary(scenario: Scenario, seed: int, outcome: Outcome, out_dir: Path) -> Path:
    """Write ``summary.json``: scenario, seed, params and the kind's summary.

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

    Returns
    -------
    Path
        The written file.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = {"scenario": scenario.name, "seed": seed, "params": scenario.params}
    doc.update(outcome.summary)
    path = out_dir / "summary.json"
    path.write_text(json.dumps(jsonable(doc), indent=2) + "\n", encoding="utf-8")
    return path


def run_scenario(
    scenario: Scenario,
    *,
    seed: int | None = None,
    out_dir: Path | None = None,
    progress: bool = False,
    artifacts: bool = True,
) -> Outcome:
    """Run a validated scenario, writing ``summary.json`` and artifacts to ``out_dir``.

    Parameters
    ----------
    scenario : Scenario
        From :func:`load_scenario`.
    seed : int, optional
        Overrides the scenario's seed.
    out_dir : Path, optional
        Where to write; nothing is written when None.
    progress : bool
        Show a progress bar on long runs.
    artifacts : bool
        Also write plots and animations.

    Returns
    -------
    Outcome
        The kind's results.
    """
    module = load_kind(scenario.kind, where=scenario.source)
    seed = scenario.seed if seed is None else seed
    outcome = module.run(scenario.params, seed=seed, progress=progress)
    if out_dir is not None:
        write_summary(scenario, seed, outcome, out_dir)
        if artifacts:
            module.write_artifacts(outcome, out_dir)
    return outcome
