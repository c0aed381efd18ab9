"""Scenario files: parameters, validation and the outcome of a run.

A scenario file is TOML::

    name = "byzantine-consensus"
    kind = "consensus"              # module scenarios/kinds/consensus.py
    description = "One line for `swarm list`."
    seed = 7

    [params]                        # checked against the kind's PARAMS
    n_robots = 100

Every error a user can cause is a :class:`ScenarioError` naming the file and the key.

Examples
--------
>>> from scenarios.config import Param, ScenarioError, parse_override, validate_params
>>> schema = {"n_robots": Param(20, int, "number of robots", low=1)}
>>> validate_params({}, schema, where="demo.toml")
{'n_robots': 20}
>>> try:
...     validate_params({"n_robots": 0}, schema, where="demo.toml")
... except ScenarioError as exc:
...     print(exc)
demo.toml: params.n_robots = 0 is not allowed; expected an integer >= 1
>>> parse_override("params.noise=0.5"), parse_override("attack=two_faced")
(('noise', 0.5), ('attack', 'two_faced'))
"""

from __future__ import annotations

import contextlib
import json
import math
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Outcome",
    "Param",
    "Scenario",
    "ScenarioError",
    "check_name",
    "parse_override",
    "validate_params",
]


class ScenarioError(Exception):
    """A user error in a scenario name, file, key or value (no traceback is shown)."""


@dataclass(frozen=True)
class Param:
    """One parameter of a scenario kind.

    Parameters
    ----------
    default : object
        Value used when the file does not set the key.
    type : type
        ``int``, ``float``, ``bool``, ``str`` or ``list``.
    help : str
        One line saying what the parameter is (with units).
    low, high : float, optional
        Numeric bounds, inclusive unless ``low_open`` / ``high_open``.
    low_open, high_open : bool
        Exclude the bound itself (``low=0.0, low_open=True``: a number > 0).
    choices : sequence of str, optional
        Allowed strings (for ``str``), or allowed items (for ``list``).
    check : callable, optional
        Extra predicate on the converted value; ``check_msg`` says what it requires.
    check_msg : str
        Human text for ``check``.
    applies : callable, optional
        Predicate on all the (checked) parameters saying whether this one is used
        (``swarm list -v`` shows only the parameters a scenario uses); default: always.
    """

    default: Any
    type: type
    help: str
    low: float | None = None
    high: float | None = None
    choices: Sequence[str] | None = None
    check: Callable[[Any], bool] | None = None
    check_msg: str = ""
    low_open: bool = False
    high_open: bool = False
    applies: Callable[[Mapping[str, Any]], bool] | None = None

    def allowed(self) -> str:
        """Describe the allowed values, for error messages and ``swarm list -v``."""
        extra = f" {self.check_msg}" if self.check_msg else ""
        if self.choices is not None:
            if self.type is str:
                return f"one of {', '.join(map(str, self.choices))}{extra}"
            note = f" ({self.check_msg.strip('()')})" if self.check_msg else ""
            return f"a list drawn from {', '.join(map(str, self.choices))}{note}"
        parts = [
            {
                int: "an integer",
                float: "a number",
                bool: "true or false",
                str: "a string",
                list: "a list",
            }[self.type]
        ]
        lo, hi = _num(self.low), _num(self.high)
        if self.low is not None and self.high is not None:
            parts.append(
                f"in {'(' if self.low_open else '['}{lo}, {hi}{')' if self.high_open else ']'}"
            )
        elif self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {lo}")
        elif self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {hi}")
        return " ".join(parts) + extra

    def used(self, params: Mapping[str, Any]) -> bool:
        """Whether the parameter matters given all the parameters (see ``applies``)."""
        return self.applies is None or bool(self.applies(params))

    def validate(self, value: Any, *, where: str, label: str) -> Any:
        """Return ``value`` converted, or raise a :class:`ScenarioError` naming the key.

        Parameters
        ----------
        value : object
            The value given.
        where : str
            The file (or other source) named in the message.
        label : str
            The key as the user wrote it, such as ``params.n_robots``.

        Returns
        -------
        object
            The converted value.
        """
        with contextlib.suppress(ValueError, TypeError, OverflowError):
            return self.convert(value)
        if self.type is list and isinstance(value, list):
            seen = [json.dumps(v, sort_keys=True) for v in value]
            dup = next((value[i] for i, v in enumerate(seen) if v in seen[:i]), None)
            if dup is not None:
                raise ScenarioError(
                    f"{where}: {label} = {_show(value)} lists {dup!r} more "
                    f"than once; duplicates are not allowed"
                ) from None
        raise ScenarioError(
            f"{where}: {label} = {_show(value)} is not allowed; expected {self.allowed()}"
        ) from None

    def convert(self, value: Any) -> Any:
        """Return ``value`` converted to the parameter's type, or raise ``ValueError``."""
        t = self.type
        if t is bool:
            if not isinstance(value, bool):
                raise ValueError
        elif t is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError
        elif t is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError
            value = float(value)
            if not math.isfinite(value):
                raise ValueError
        elif t is str:
            if not isinstance(value, str):
                raise ValueError
            if self.choices is not None and value not in self.choices:
                raise ValueError
        elif t is list:
            if not isinstance(value, list):
                raise ValueError
            if self.choices is not None and any(v not in self.choices for v in value):
                raise ValueError
        if t in (int, float):
            if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
                raise ValueError
            if self.high is not None and (
                value > self.high or (self.high_open and value == self.high)
            ):
                raise ValueError
        if self.check is not None and not self.check(value):
            raise ValueError
        return value


def _num(v: float | None) -> str:
    """Format a bound as a user writes it: 0 not 0.0, 100000 not 100000.0, 1e-06."""
    if v is None:
        return ""
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    return f"{v:g}"


def _show(value: Any) -> str:
    """Show a value in a message, shortened when huge (a 10**4000 integer, a long list)."""
    text = (
        repr(value)
        if not isinstance(value, int) or value.bit_length() < 200
        else (f"{str(value)[:12]}...({len(str(value))} digits)")
    )
    return text if len(text) <= 80 else text[:77] + "..."


def check_name(name: Any, *, where: str, what: str = "name") -> str:
    """Check a scenario or sweep name: it names the default output folder ``runs/NAME``.

    Parameters
    ----------
    name : object
        The name read from the file.
    where : str
        The file named in the error message.
    what : str
        The key, for the message.

    Returns
    -------
    str
        The name.
    """
    if (
        not isinstance(name, str)
        or not name.strip()
        or name in (".", "..")
        or any(c in name for c in "/\\\0")
        or name != name.strip()
    ):
        raise ScenarioError(
            f"{where}: {what} = {name!r} is not allowed; expected a non-empty string without "
            f"/, \\, leading or trailing spaces, and not . or .. (it names the default "
            f"output folder runs/NAME)"
        )
    return name


def validate_params(
    raw: Mapping[str, Any], schema: Mapping[str, Param], *, where: str
) -> dict[str, Any]:
    """Check ``raw`` against ``schema`` and fill defaults.

    Parameters
    ----------
    raw : mapping
        Parameter values from a file or overrides.
    schema : mapping of str to Param
        The kind's parameters.
    where : str
        The file (or other source) named in error messages.

    Returns
    -------
    dict
        Every parameter of the schema with its checked value.
    """
    unknown = sorted(set(raw) - set(schema))
    if unknown:
        raise ScenarioError(
            f"{where}: unknown key params.{unknown[0]}; allowed keys: {', '.join(sorted(schema))}"
        )
    return {
        key: spec.validate(raw.get(key, spec.default), where=where, label=f"params.{key}")
        for key, spec in schema.items()
    }


def parse_override(text: str) -> tuple[str, Any]:
    """Parse one ``--set key=value`` override; the value is read as TOML.

    A value that is not valid TOML (``--set attack=two_faced``) is taken as a string.

    Parameters
    ----------
    text : str
        ``key=value``; ``params.`` before the key is optional.

    Returns
    -------
    tuple of (str, object)
        The key and the parsed value.
    """
    if "=" not in text:
        raise ScenarioError(f"--set {text!r}: expected key=value")
    key, _, value = text.partition("=")
    key = key.strip().removeprefix("params.")
    if not key:
        raise ScenarioError(f"--set {text!r}: the key is empty")
    try:
        parsed = tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value.strip()
    return key, parsed


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: what ``swarm run`` executes.

    Attributes
    ----------
    name : str
        Scenario name (the file stem for shipped scenarios).
    kind : str
        Module under ``scenarios/kinds`` that runs it.
    description : str
        One line.
    seed : int
        Default seed.
    params : dict
        Every parameter of the kind, checked.
    source : str
        Where it was read from (a path), for messages.
    sha256 : str
        SHA-256 of the scenario file's bytes (hex).
    overrides : tuple of str
        The ``--set key=value`` texts applied over the file.
    """

    name: str
    kind: str
    description: str
    seed: int
    params: dict[str, Any]
    source: str
    sha256: str = ""
    overrides: tuple[str, ...] = ()


@dataclass
class Outcome:
    """What a scenario kind's ``run`` returns.

    Attributes
    ----------
    summary : dict
        JSON-serialisable results written to ``summary.json`` (next to ``scenario``,
        ``seed`` and ``params``), for example per-protocol metrics keyed by protocol.
    tables : list of (str, list of str, list of list)
        Tables printed by the CLI: title, column headers, rows.
    data : object
        Whatever the kind's ``write_artifacts`` needs (trajectories, graphs...).
    """

    summary: dict[str, Any]
    tables: list[tuple[str, list[str], list[list[Any]]]] = field(default_factory=list)
    data: Any = None
