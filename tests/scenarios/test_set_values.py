"""Any ``--set`` value of any declared key runs or is refused in one line: never a traceback.

For every scenario kind, hypothesis draws one key of the kind's ``PARAMS`` and a value
for it, in range or not (other types, NaN, huge numbers, junk text, lists), and passes
it as ``--set key=value`` over a tiny version of a shipped scenario. The scenario is then
loaded and run in-process (without its plots, which cost seconds each; extreme values
that only the plots choke on are in ``test_cli_errors.py``). The only exception allowed
is a :class:`ScenarioError`, whose message is one line naming ``params``; a run that is
not refused must write its ``summary.json``.
"""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scenarios.config import ScenarioError
from scenarios.runner import available_kinds, load_kind, load_scenario, run_scenario

# One shipped scenario per kind, with overrides that keep every run tiny.
TINY = {
    "consensus": ("byzantine-consensus", {"n_robots": 12, "rounds": 20, "gif_frames": 2}),
    "dbp": (
        "dbp-target-tracking",
        {"n_robots": 12, "ticks": 5, "gif_frames": 2, "claims": False, "hop_limit": 2},
    ),
    "iwf": ("iwf-convergence", {"n_users": 3, "n_carriers": 4, "n_taps": 2, "max_iter": 50}),
    "gmfg": (
        "gmfg-convergence",
        {
            "graphons": ["constant"],
            "n_blocks": 3,
            "n_steps": 10,
            "max_iter": 3,
            "sigmas": [],
            "action_frequencies": [],
            "n_players": [5],
        },
    ),
    "sgn": ("sgn-certificate", {"iterations": 10, "n_starts": 1}),
    "bavt": (
        "bavt-budget",
        {"n_questions": 2, "tool_budgets": [8], "n_entities": 10, "max_depth": 4},
    ),
}
# Keys that would reach out of the process (a model server, a file on disk): not drawn.
OUTSIDE = {"bavt": {"model_url", "model", "api_key_env", "hotpotqa_path", "timeout", "max_retries"}}


def _toml(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    if isinstance(v, str):
        return json.dumps(v)
    return str(v)


JUNK = st.one_of(
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**18, max_value=10**30),
    st.floats(),
    st.text(max_size=8),
    st.lists(st.integers(-3, 50), max_size=3),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "-1", "0", '""', "[]", "{}"]),
)


def _valid(spec, base):
    """In-range values, small where the key sizes the run."""
    if spec.type is bool:
        return st.booleans()
    if spec.type is int:
        lo = int(spec.low) if spec.low is not None else -5
        cap = max(2 * abs(int(base)), lo + 4)
        hi = min(int(spec.high), cap) if spec.high is not None else cap
        return st.integers(lo, max(lo, hi))
    if spec.type is float:
        return st.floats(spec.low, spec.high, allow_nan=False, allow_infinity=False)
    if spec.type is str:
        return st.sampled_from(list(spec.choices)) if spec.choices else st.text(max_size=8)
    items = (
        st.sampled_from(list(spec.choices))
        if spec.choices is not None
        else st.one_of(st.integers(-2, 12), st.floats(-1.0, 20.0))
    )
    return st.lists(items, max_size=3)


def _case(kind):
    module = load_kind(kind)
    name, tiny = TINY[kind]
    keys = sorted(set(module.PARAMS) - OUTSIDE.get(kind, set()))

    @st.composite
    def draw(data):
        key = data(st.sampled_from(keys))
        spec = module.PARAMS[key]
        base = tiny.get(key, spec.default)
        value = data(st.one_of(_valid(spec, base if not isinstance(base, list) else 0), JUNK))
        text = value if isinstance(value, str) and data(st.booleans()) else _toml(value)
        return key, text

    return name, tiny, draw()


def test_every_kind_has_a_tiny_case():
    assert set(TINY) == set(available_kinds())


@pytest.mark.parametrize("kind", sorted(TINY))
def test_any_set_value_runs_or_is_refused_in_one_line(kind, tmp_path_factory):
    name, tiny, values = _case(kind)
    base = [f"{k}={_toml(v)}" for k, v in tiny.items()]

    @settings(max_examples=25)
    @given(values)
    def check(kv):
        key, text = kv
        out = tmp_path_factory.mktemp(kind) / "out"
        try:
            scenario = load_scenario(name, [*base, f"{key}={text}"])
            run_scenario(scenario, out_dir=out, artifacts=False)
        except ScenarioError as exc:
            msg = str(exc)
            assert "\n" not in msg and "params" in msg, msg
            assert not out.exists()
            return
        assert (out / "summary.json").is_file()

    check()
