"""Sweep files: parsing, validation, seeding and fingerprints.

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
error names the file and the key (``grid.n_robots[2]``, ``cases[1].wmsr_f``). Metric
paths are checked against the patterns the kind declares (``METRICS``).

Each run is seeded from (sweep name, parameters, seed index) alone through a SHA-256
hash and a :class:`numpy.random.SeedSequence` (:func:`derive_seed`), so the local and
Ray backends, any number of workers and any order of execution give bit-identical
results. Runs are derived lazily (:meth:`Sweep.iter_runs`): a million seeds start at
once.

A sweep's *spec fingerprint* (:attr:`Sweep.fingerprint`) hashes everything that decides
what its runs are: the kind, the name, the resolved parameters of every combination
(after the scenario file, ``[params]``, cases and grid, with placeholders such as
``wmsr_f = -1`` resolved), the seeds and the metrics. Comments, the description and the
order of keys do not change it.

Examples
--------
A run's seed depends on (sweep name, parameters, seed index) only, not on key order:

>>> from scenarios.sweep.spec import derive_seed, metric_matches
>>> derive_seed("demo", {"a": 1, "b": 2}, 0) == derive_seed("demo", {"b": 2, "a": 1}, 0)
True
>>> derive_seed("demo", {"a": 1, "b": 2}, 0) == derive_seed("demo", {"a": 1, "b": 2}, 1)
False
>>> metric_matches("wmsr.final_spread", "*.final_spread")
True
"""

from __future__ import annotations

import hashlib
import itertools
import json
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from scenarios.config import Scenario, ScenarioError, check_name
from scenarios.runner import available_scenarios, load_kind, load_scenario, resolve_params
from scenarios.store import canonical_params

__all__ = [
    "MAX_SEEDS",
    "RunSpec",
    "Sweep",
    "available_sweeps",
    "changed_keys",
    "derive_seed",
    "fingerprint",
    "load_sweep",
    "metric_matches",
]

#: Largest ``seeds`` of a sweep file.
MAX_SEEDS = 1_000_000
_TOP_KEYS = {"name", "description", "scenario", "seeds", "metrics", "params", "grid", "cases"}


def fingerprint(obj: Any) -> str:
    """Return the SHA-256 (hex, first 16 digits) of ``obj``'s canonical JSON.

    Parameters
    ----------
    obj : object
        JSON values (dict keys are sorted).

    Returns
    -------
    str
        16 hexadecimal digits.
    """
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


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
    params_fp : str
        :func:`fingerprint` of the resolved parameters.
    """

    params: dict[str, Any]
    seed: int
    label: str
    run_seed: int
    params_fp: str = ""

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
    combinations : tuple of (str, dict, str)
        Every distinct (case label, parameters, resolved-parameter fingerprint).
    source : str
        The sweep file.
    text : str
        The sweep file's text (kept in the store).
    spec : dict
        What the spec fingerprint covers, readable (kept in the store, to name what
        changed between two versions of a sweep).
    """

    name: str
    description: str
    scenario: Scenario
    seeds: int
    metrics: tuple[str, ...]
    varying: tuple[str, ...]
    combinations: tuple[tuple[str, dict[str, Any], str], ...]
    source: str
    text: str
    spec: dict[str, Any]

    @property
    def kind(self) -> str:
        """The scenario kind every run uses."""
        return self.scenario.kind

    @property
    def n_combinations(self) -> int:
        """Number of distinct parameter combinations."""
        return len(self.combinations)

    @property
    def n_runs(self) -> int:
        """Number of runs: combinations times seeds."""
        return len(self.combinations) * self.seeds

    @property
    def fingerprint(self) -> str:
        """The spec fingerprint (see the module docstring)."""
        return fingerprint(self.spec)

    def iter_runs(self) -> Iterator[RunSpec]:
        """Yield every run, seed-major (all combinations at seed 0 first), lazily.

        A sweep stopped part-way has covered the parameter space evenly.
        """
        for s in range(self.seeds):
            for label, params, fp in self.combinations:
                yield RunSpec(
                    params=params,
                    seed=s,
                    label=label,
                    run_seed=derive_seed(self.name, params, s),
                    params_fp=fp,
                )

    @cached_property
    def runs(self) -> tuple[RunSpec, ...]:
        """Every run as a tuple (see :meth:`iter_runs`, which does not hold them all)."""
        return tuple(self.iter_runs())


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
    text = json.dumps(
        {"sweep": sweep_name, "params": dict(params), "seed": int(seed)},
        sort_keys=True,
        separators=(",", ":"),
        allow_nan=False,
    )
    entropy = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest(), "little")
    hi, lo = np.random.SeedSequence(entropy).generate_state(2, np.uint32)
    return ((int(hi) << 32) | int(lo)) >> 1


# --------------------------------------------------------------------------- metrics
def metric_matches(path: str, pattern: str) -> bool:
    """Whether a dotted metric path matches a kind's pattern.

    A pattern is dotted too; ``*`` matches any one key and a final ``**`` any rest.

    Parameters
    ----------
    path : str
        Like ``"wmsr.final_spread"``.
    pattern : str
        Like ``"*.final_spread"``.

    Returns
    -------
    bool
        True when they match.
    """
    parts, pats = path.split("."), pattern.split(".")
    if pats and pats[-1] == "**":
        pats = pats[:-1]
        if len(parts) < len(pats):
            return False
        parts = parts[: len(pats)]
    return len(parts) == len(pats) and all(
        p == "*" or p == q for p, q in zip(pats, parts, strict=True)
    )


def _check_metric(path: Any, where: str, i: int, kind: str, patterns: Sequence[str] | None) -> str:
    parts = path.split(".") if isinstance(path, str) else []
    if not parts or any(not p or p != p.strip() for p in parts):
        raise ScenarioError(
            f"{where}: metrics[{i}] = {path!r} is not a dotted path into the run's summary, "
            f'like "wmsr.final_spread"'
        )
    if patterns is not None and not any(metric_matches(path, p) for p in patterns):
        last = path.rsplit(".", 1)[-1]
        near = [p for p in patterns if p.rsplit(".", 1)[-1] == last] or list(patterns)
        shown = ", ".join(near[:8]) + (", ..." if len(near) > 8 else "")
        raise ScenarioError(
            f"{where}: metrics[{i}] = {path!r} is not a metric of kind "
            f"{kind!r} (* is any key); its metrics include: {shown}"
        )
    return path


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
        raise ScenarioError(
            f"{where}: unknown key {label}; the kind's params are: {', '.join(sorted(schema))}"
        )
    return schema[key].validate(value, where=where, label=label)


def _read(path: Path) -> tuple[str, dict]:
    where = str(path)
    try:
        text = path.read_bytes().decode("utf-8")
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{where}: malformed TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            f"{where}: not UTF-8 text (byte {exc.start}); save the file as UTF-8"
        ) from None
    except OSError as exc:
        raise ScenarioError(f"{where}: cannot read: {exc.strerror}") from None


def _cases(doc: dict, schema: Mapping, grid_values: Mapping, where: str) -> list[tuple[str, dict]]:
    raw_cases = doc.get("cases", [{}])
    if (
        not isinstance(raw_cases, list)
        or not raw_cases
        or not all(isinstance(c, dict) for c in raw_cases)
    ):
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
                raise ScenarioError(
                    f"{where}: cases[{i}].{key} is also a grid key; set it in one place"
                )
            over[key] = _check_value(schema, key, value, where, f"cases[{i}].{key}")
        cases.append((label, over))
    return cases


def load_sweep(name_or_path: str | Path) -> Sweep:
    """Read and validate a sweep file; nothing is run or written.

    Parameters
    ----------
    name_or_path : str or Path
        A shipped sweep name (see :func:`available_sweeps`) or a TOML file.

    Returns
    -------
    Sweep
        The validated sweep; its runs are derived lazily.
    """
    path = _resolve(name_or_path)
    where = str(path)
    text, doc = _read(path)
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise ScenarioError(
            f"{where}: unknown key {unknown[0]}; allowed top-level keys: "
            f"{', '.join(sorted(_TOP_KEYS))}"
        )
    name = check_name(doc.get("name", path.stem), where=where)
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise ScenarioError(f"{where}: description must be a string")

    # The base scenario: a shipped name, or a path relative to the sweep file.
    if "scenario" not in doc:
        raise ScenarioError(
            f"{where}: missing key scenario (a shipped scenario name or a "
            f"path to a scenario .toml); shipped: "
            f"{', '.join(available_scenarios())}"
        )
    base = doc["scenario"]
    if not isinstance(base, str):
        raise ScenarioError(f"{where}: scenario must be a string")
    if base not in available_scenarios() and not Path(base).is_absolute():
        base = str(path.parent / base)
    try:
        scenario = load_scenario(base)
    except ScenarioError as exc:
        raise ScenarioError(f"{where}: scenario = {doc['scenario']!r}: {exc}") from None
    module = load_kind(scenario.kind)
    schema = module.PARAMS

    seeds = doc.get("seeds")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= MAX_SEEDS:
        raise ScenarioError(
            f"{where}: seeds = {seeds!r} is not allowed; expected an integer "
            f"in [1, {MAX_SEEDS}] (the number of seeds per combination)"
        )

    metrics = doc.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        raise ScenarioError(
            f"{where}: metrics must be a non-empty list of dotted paths into "
            f'the run\'s summary, like ["wmsr.final_spread"]'
        )
    patterns = getattr(module, "METRICS", None)
    metrics = [_check_metric(m, where, i, scenario.kind, patterns) for i, m in enumerate(metrics)]
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
            raise ScenarioError(f"{where}: grid.{key} is also set in [params]; set it in one place")
        grid_values[key] = [
            _check_value(schema, key, v, where, f"grid.{key}[{i}]") for i, v in enumerate(values)
        ]
    cases = _cases(doc, schema, grid_values, where)

    varying = list(grid_values)
    for _, over in cases:
        varying += [k for k in over if k not in varying]

    # Every combination, checked as a whole; no two may give the same parameters.
    combos: list[tuple[str, dict, str]] = []
    seen: dict[str, str] = {}
    keys = list(grid_values)
    for i, (label, over) in enumerate(cases):
        for point in itertools.product(*(grid_values[k] for k in keys)):
            params = {**scenario.params, **fixed, **over, **dict(zip(keys, point, strict=True))}
            what = f"cases[{i}]" + (
                f" with grid point {dict(zip(keys, point, strict=True))}" if keys else ""
            )
            canon = canonical_params(params)
            if canon in seen:
                raise ScenarioError(
                    f"{where}: {what} gives the same parameters as "
                    f"{seen[canon]}; every run must differ"
                )
            seen[canon] = what
            combos.append((label, params, fingerprint(resolve_params(module, params))))

    base_params = resolve_params(module, {**scenario.params, **fixed})
    spec = {
        "kind": scenario.kind,
        "name": name,
        "seeds": seeds,
        "metrics": list(metrics),
        "params": base_params,
        "grid": {k: v for k, v in grid_values.items()},
        "cases": [{"label": label, **over} for label, over in cases],
        "runs": sorted([label, fp] for label, _, fp in combos),
    }
    return Sweep(
        name=name,
        description=description or f"sweep of {scenario.name}",
        scenario=scenario,
        seeds=seeds,
        metrics=tuple(metrics),
        varying=tuple(varying),
        combinations=tuple(combos),
        source=where,
        text=text,
        spec=spec,
    )


def changed_keys(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Name what differs between two sweep specs (``params.n_robots``, ``seeds``...).

    Parameters
    ----------
    old, new : mapping
        :attr:`Sweep.spec` of two versions.

    Returns
    -------
    list of str
        The changed keys, ``params.KEY`` for each base parameter.
    """
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if key == "params" and isinstance(a, dict) and isinstance(b, dict):
            out += [f"params.{k}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        elif key != "runs" and a != b:
            out.append(key)
    if not out and old.get("runs") != new.get("runs"):
        out.append("the runs' resolved parameters")
    return out
