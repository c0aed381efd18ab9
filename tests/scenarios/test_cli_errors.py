"""Bad invocations of the installed ``swarm`` console script: one clear line, nothing written.

Every case runs ``swarm`` in a subprocess (the console script when installed, else
``python -m scenarios.cli``) with this checkout first on ``PYTHONPATH``, in a folder of
its own. Each must exit non-zero, print a short message on stderr that names the
problem, print no traceback, and leave its folder exactly as it was.
"""

import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from scenarios.store import ResultStore, RunRecord

ROOT = Path(__file__).resolve().parents[2]
SWARM = shutil.which("swarm")
CMD = [SWARM] if SWARM else [sys.executable, "-m", "scenarios.cli"]
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
    "SWARM_STORE_TIMEOUT": "1",
    "MPLBACKEND": "Agg",
}

TINY = ["--set", "n_robots=12", "--set", "rounds=20", "--set", "gif_frames=2", "--quiet"]
SWEEP = """
name = "tiny"
scenario = "byzantine-consensus"
seeds = 2
metrics = ["wmsr.final_spread"]
[params]
n_robots = 12
rounds = 20
[grid]
n_byzantine = [1, 2]
"""


def _store(path: Path, meta: dict[str, str] | None = None, n: int = 1) -> None:
    with ResultStore(path) as store:
        store.set_meta(
            meta
            or {"sweep": "tiny", "metrics": '["wmsr.final_spread"]', "varying": '["n_byzantine"]'}
        )
        for i in range(n):
            store.record(
                RunRecord({"n_byzantine": i}, 0, 1, "", "done", {"wmsr.final_spread": 0.1 * i})
            )


def _truncated(path: Path) -> None:
    _store(path, n=200)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _foreign(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE photos (id INTEGER, name TEXT)")
    conn.commit()
    conn.close()


def _sweep_file(d: Path, text: str = SWEEP) -> str:
    (d / "tiny.toml").write_text(text)
    return str(d / "tiny.toml")


def _scenario_file(d: Path, text: str, name: str = "sc.toml") -> str:
    (d / name).write_text(text) if isinstance(text, str) else (d / name).write_bytes(text)
    return str(d / name)


def _run_folder(d: Path) -> str:
    out = d / "old-run"
    out.mkdir()
    (out / "summary.json").write_text('{"scenario": "x"}')
    (out / "marker.png").write_bytes(b"earlier run")
    return str(out)


def _busy_folder(d: Path) -> str:
    (d / "mine").mkdir()
    (d / "mine" / "thesis.tex").write_text("precious")
    return str(d / "mine")


# id -> (setup(d) -> argv, text the message must contain). ``d`` is the case's folder
# (also its working directory). Every case is tiny: most stop at validation.
CASES = {
    "unknown-scenario": (lambda d: ["run", "nope"], "unknown scenario 'nope'"),
    "no-command": (lambda d: [], "required: COMMAND"),
    "unknown-command": (lambda d: ["frobnicate"], "invalid choice: 'frobnicate'"),
    "seed-negative": (
        lambda d: ["run", "byzantine-consensus", "--seed", "-1"],
        "--seed: -1 is not allowed; expected an integer in [0, 2**63)",
    ),
    "seed-text": (
        lambda d: ["run", "byzantine-consensus", "--seed", "abc"],
        "--seed: 'abc' is not an integer",
    ),
    "seed-huge": (
        lambda d: ["run", "byzantine-consensus", "--seed", str(2**63)],
        "is not allowed; expected an integer in [0, 2**63)",
    ),
    "set-range": (
        lambda d: ["run", "byzantine-consensus", "--set", "rounds=0"],
        "params.rounds = 0 is not allowed; expected an integer in [1, 1000000]",
    ),
    "set-unknown-key": (
        lambda d: ["run", "byzantine-consensus", "--set", "n_robotz=5"],
        "unknown key params.n_robotz",
    ),
    "set-no-equals": (
        lambda d: ["run", "byzantine-consensus", "--set", "rounds"],
        "--set 'rounds': expected key=value",
    ),
    "set-empty-key": (lambda d: ["run", "byzantine-consensus", "--set", "=3"], "the key is empty"),
    "set-duplicates": (
        lambda d: ["run", "byzantine-consensus", "--set", 'protocols=["lcp", "lcp"]'],
        "lists 'lcp' more than once; duplicates are not allowed",
    ),
    "set-choice": (
        lambda d: ["run", "byzantine-consensus", "--set", "attack=polite"],
        "params.attack = 'polite' is not allowed; expected one of constant",
    ),
    "set-bool-as-int": (
        lambda d: ["run", "byzantine-consensus", "--set", "rounds=true"],
        "params.rounds = True is not allowed",
    ),
    "set-nan": (
        lambda d: ["run", "byzantine-consensus", "--set", "tol=nan"],
        "params.tol = nan is not allowed; expected a number > 0",
    ),
    "set-positive": (
        lambda d: ["run", "byzantine-consensus", "--set", "radio_range=0"],
        "params.radio_range = 0 is not allowed; expected a number > 0",
    ),
    "wmsr-f-huge": (
        lambda d: ["run", "byzantine-consensus", "--set", "wmsr_f=1000000000000000000000"],
        "params.wmsr_f = 1000000000000000000000 is not allowed; expected an "
        "integer in [-1, 100000]",
    ),
    "wmsr-f-above-degree": (
        lambda d: ["run", "byzantine-consensus", "--set", "wmsr_f=50", "--out", "o", *TINY],
        "exceeds the graph's largest in-degree",
    ),
    "init-overflow": (
        lambda d: [
            "run",
            "byzantine-consensus",
            "--set",
            "init_low=-1.7e308",
            "--set",
            "init_high=1.7e308",
        ],
        "params.init_low = -1.7e+308 is not allowed; expected a number in [-1e+300, 1e+300]",
    ),
    "init-near-max": (
        lambda d: [
            "run",
            "byzantine-consensus",
            "--set",
            "init_low=1e308",
            "--set",
            "init_high=1.7e308",
        ],
        "params.init_low = 1e+308 is not allowed",
    ),
    "init-order": (
        lambda d: [
            "run",
            "byzantine-consensus",
            "--set",
            "init_low=2",
            "--set",
            "init_high=1",
            "--out",
            "o",
            *TINY,
        ],
        "init_high must be >= params.init_low",
    ),
    "all-byzantine": (
        lambda d: ["run", "byzantine-consensus", "--set", "n_byzantine=12", "--out", "o", *TINY],
        "n_byzantine must be < params.n_robots",
    ),
    "iwf-memory": (
        lambda d: ["run", "iwf-convergence", "--set", "n_users=1000", "--set", "n_carriers=16384"],
        "GiB",
    ),
    "iwf-taps": (
        lambda d: ["run", "iwf-convergence", "--set", "n_taps=64", "--quiet"],
        "params.n_taps = 64 must be <= n_carriers = 32",
    ),
    "gmfg-tiny-R": (
        lambda d: ["run", "gmfg-convergence", "--set", "R=1e-300"],
        "params.R = 1e-300 is not allowed; expected a number in [1e-06, 1000000]",
    ),
    "gmfg-divide": (
        lambda d: ["run", "gmfg-convergence", "--set", "n_actions=7", "--quiet"],
        "params.n_actions = 7 must divide n_steps = 200",
    ),
    "sgn-uncertified": (
        lambda d: ["run", "sgn-certificate", "--set", "l21=20", "--quiet"],
        "is not certified",
    ),
    "bavt-hops": (
        lambda d: ["run", "bavt-budget", "--set", "min_hops=4", "--set", "max_hops=2", "--quiet"],
        "min_hops must be <= params.max_hops",
    ),
    "file-not-utf8": (
        lambda d: ["run", _scenario_file(d, b'kind = "consensus"\nname = "\xff"\n')],
        "not UTF-8 text",
    ),
    "file-name-escapes": (
        lambda d: ["run", _scenario_file(d, 'kind = "consensus"\nname = "../../x"\n')],
        "name = '../../x' is not allowed",
    ),
    "file-name-empty": (
        lambda d: ["run", _scenario_file(d, 'kind = "consensus"\nname = ""\n')],
        "name = '' is not allowed",
    ),
    "file-name-absolute": (
        lambda d: ["run", _scenario_file(d, 'kind = "consensus"\nname = "/tmp/x"\n')],
        "name = '/tmp/x' is not allowed",
    ),
    "file-malformed": (
        lambda d: ["run", _scenario_file(d, 'kind = "consensus"\n[params\n')],
        "malformed TOML",
    ),
    "file-unknown-kind": (
        lambda d: ["run", _scenario_file(d, 'kind = "warp"\n')],
        "kind = 'warp' is unknown",
    ),
    "file-seed": (
        lambda d: ["run", _scenario_file(d, 'kind = "consensus"\nseed = -1\n')],
        "seed = -1 is not allowed",
    ),
    "out-is-a-file": (
        lambda d: ["run", "byzantine-consensus", "--out", _scenario_file(d, "x", "taken.txt")],
        "exists and is not a folder",
    ),
    "out-busy-folder": (
        lambda d: ["run", "byzantine-consensus", "--out", _busy_folder(d)],
        "not the output of an earlier run",
    ),
    "out-under-a-file": (
        lambda d: ["run", "byzantine-consensus", "--out", _scenario_file(d, "x", "f.txt") + "/sub"],
        "is not a folder",
    ),
    "out-unwritable": (
        lambda d: ["run", "byzantine-consensus", "--out", "/proc/swarm-out"],
        "cannot write in /proc",
    ),
    "failed-run-keeps-old-folder": (
        lambda d: [
            "run",
            "byzantine-consensus",
            "--out",
            _run_folder(d),
            "--set",
            "wmsr_f=50",
            *TINY,
        ],
        "exceeds the graph's largest in-degree",
    ),
    "sweep-unknown": (lambda d: ["sweep", "nope"], "unknown sweep 'nope'"),
    "sweep-metric-typo": (
        lambda d: ["sweep", _sweep_file(d, SWEEP.replace("wmsr.final_spread", "wmsr.final_sprad"))],
        "metrics[0] = 'wmsr.final_sprad' is not a metric of kind 'consensus'",
    ),
    "sweep-seeds": (
        lambda d: ["sweep", _sweep_file(d, SWEEP.replace("seeds = 2", "seeds = 0"))],
        "seeds = 0 is not allowed",
    ),
    "sweep-name": (
        lambda d: ["sweep", _sweep_file(d, SWEEP.replace('"tiny"', '"../tiny"'))],
        "name = '../tiny' is not allowed",
    ),
    "sweep-not-utf8": (
        lambda d: ["sweep", _scenario_file(d, b"name = '\xfe'\n", "s.toml")],
        "not UTF-8 text",
    ),
    "sweep-workers": (
        lambda d: ["sweep", "wmsr-vs-f", "--workers", "0"],
        "--workers: 0 is not >= 1",
    ),
    "sweep-address-needs-ray": (
        lambda d: ["sweep", _sweep_file(d), "--address", "auto"],
        "address is for the ray backend only (--backend ray)",
    ),
    "sweep-ray-unreachable": (
        lambda d: [
            "sweep",
            _sweep_file(d),
            "--backend",
            "ray",
            "--address",
            "127.0.0.1:1",
            "--out",
            "o",
        ],
        "--address 127.0.0.1:1: no Ray cluster answers there",
    ),
    "sweep-store-random": (
        lambda d: [
            (d / "o").mkdir(),
            (d / "o" / "results.sqlite").write_bytes(os.urandom(5000)),
            "sweep",
            _sweep_file(d),
            "--out",
            "o",
        ][2:],
        "results.sqlite: not a usable results store",
    ),
    "sweep-store-empty": (
        lambda d: [
            (d / "o").mkdir(),
            (d / "o" / "results.sqlite").write_bytes(b""),
            "sweep",
            _sweep_file(d),
            "--out",
            "o",
        ][2:],
        "results.sqlite: an empty file, not a results store",
    ),
    "sweep-store-foreign": (
        lambda d: [
            (d / "o").mkdir(),
            _foreign(d / "o" / "results.sqlite"),
            "sweep",
            _sweep_file(d),
            "--out",
            "o",
        ][2:],
        "an SQLite database but not a swarm results store",
    ),
    "sweep-store-other-spec": (
        lambda d: [
            _store(
                d / "o" / "results.sqlite",
                {"sweep": "tiny", "spec_fp": "0" * 16, "spec": '{"seeds": 3}'},
            ),
            "sweep",
            _sweep_file(d),
            "--out",
            "o",
        ][1:],
        "holds 1 runs of another version of sweep 'tiny' (changed: ",
    ),
    "report-no-store": (lambda d: ["report", str(d)], "no results.sqlite"),
    "report-store-random": (
        lambda d: [(d / "results.sqlite").write_bytes(os.urandom(5000)), "report", "."][1:],
        "results.sqlite: not a usable results store",
    ),
    "report-store-empty": (
        lambda d: [(d / "results.sqlite").write_bytes(b""), "report", "."][1:],
        "an empty file, not a results store",
    ),
    "report-store-foreign": (
        lambda d: [_foreign(d / "results.sqlite"), "report", "."][1:],
        "an SQLite database but not a swarm results store",
    ),
    "report-store-truncated": (
        lambda d: [_truncated(d / "results.sqlite"), "report", "."][1:],
        "results.sqlite: ",
    ),
    "report-metric-typo": (
        lambda d: [_store(d / "results.sqlite", n=3), "report", ".", "--metric", "final_sprad"][1:],
        "metric 'final_sprad' was not recorded",
    ),
    "bench-unknown": (lambda d: ["bench", "nope"], "unknown benchmark 'nope'"),
}


def _snapshot(d: Path) -> dict[str, str]:
    out = {}
    for p in sorted(d.rglob("*")):
        if p.name.endswith(("-wal", "-shm")):
            continue
        rel = str(p.relative_to(d))
        out[rel] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return out


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """Run every case at once (a few at a time): id -> (folder before, after, process)."""
    base = tmp_path_factory.mktemp("cli-errors")
    prepared = {}
    for name, (setup, _) in CASES.items():
        d = base / name
        d.mkdir()
        argv = setup(d)
        prepared[name] = (d, argv, _snapshot(d))

    def run(name):
        d, argv, before = prepared[name]
        proc = subprocess.run(
            [*CMD, *argv], cwd=d, env=ENV, capture_output=True, text=True, timeout=300
        )
        return name, (before, _snapshot(d), proc)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(run, CASES))


def test_at_least_forty_cases():
    assert len(CASES) >= 40


@pytest.mark.parametrize("name", list(CASES))
def test_bad_invocation_is_one_clear_line_and_writes_nothing(outcomes, name):
    if name == "sweep-ray-unreachable":
        pytest.importorskip("ray")
    if name == "out-unwritable" and not Path("/proc").is_dir():
        pytest.skip("needs /proc")
    before, after, proc = outcomes[name]
    expected = CASES[name][1]
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    assert expected in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    # One line; argparse prints its usage (maybe wrapped) first.
    usage = lines[0].startswith("usage:") and all(ln.startswith(" ") for ln in lines[1:-1])
    assert len(lines) == 1 or usage, proc.stderr
    assert " error: " in lines[-1] and len(lines[-1]) < 400, proc.stderr
    assert after == before


def test_ctrl_c_during_run_exits_130_with_one_line_and_no_folder(tmp_path):
    proc = subprocess.Popen(
        [
            *CMD,
            "run",
            "byzantine-consensus",
            "--set",
            "rounds=1000000",
            "--set",
            "n_robots=50",
            "--quiet",
            "--out",
            "o",
        ],
        cwd=tmp_path,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    header = proc.stdout.readline()  # printed once the scenario is validated: running now
    assert header.startswith("scenario byzantine-consensus")
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert err.strip().splitlines() == ["swarm: interrupted; nothing half-written was left behind"]
    assert list(tmp_path.iterdir()) == []  # no output folder, no partial one


def test_closed_stdout_is_a_quiet_broken_pipe(tmp_path):
    # ``swarm list | head -1``: the reader is gone before swarm writes.
    proc = subprocess.Popen(
        [*CMD, "list"], cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert proc.returncode == 141
    assert "Traceback" not in err and "Exception ignored" not in err, err


def test_locked_store_says_so_then_fails_clearly(tmp_path):
    _store(tmp_path / "results.sqlite", n=3)
    holder = sqlite3.connect(tmp_path / "results.sqlite", isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        start = time.monotonic()
        proc = subprocess.run(
            [*CMD, "report", "."],
            cwd=tmp_path,
            env=ENV,
            capture_output=True,
            text=True,
            timeout=120,
        )
        waited = time.monotonic() - start
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert lines[0].endswith("is locked by another process; waiting up to 1 s")
    assert "still locked by another process after 1 s" in lines[-1] and len(lines) == 2
    assert waited >= 1.0
