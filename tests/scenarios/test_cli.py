import json
import subprocess
import sys

import pytest

from scenarios.cli import main
from scenarios.runner import available_scenarios, load_scenario

SMALL = ["--set", "n_robots=20", "--set", "rounds=60", "--set", "gif_frames=3", "--quiet"]


def test_run_writes_summary_plots_and_animation(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "byzantine-consensus", "--out", str(out), "--seed", "3", *SMALL]) == 0
    printed = capsys.readouterr().out
    assert "lcp" in printed and "wmsr (f=2)" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "byzantine-consensus"
    assert summary["seed"] == 3
    assert summary["params"]["n_robots"] == 20
    for proto in ("lcp", "wmsr"):
        assert set(summary[proto]) == {
            "final_spread",
            "hull_violation",
            "converged_round",
            "final_mean",
        }
    # W-MSR on a (2F+1)-robust graph: safe and converged; the two-faced attack keeps
    # LCP apart.
    assert summary["wmsr"]["hull_violation"] == 0
    assert summary["wmsr"]["converged_round"] is not None
    assert summary["lcp"]["final_spread"] > 100 * summary["wmsr"]["final_spread"]
    for name in ("trajectories.png", "network.png", "consensus.gif"):
        assert (out / name).stat().st_size > 1000
    assert (out / "consensus.gif").read_bytes()[:3] == b"GIF"


def test_same_seed_same_summary(tmp_path):
    for d in ("a", "b"):
        main(["run", "byzantine-consensus", "--out", str(tmp_path / d), "--seed", "5", *SMALL])
    a = json.loads((tmp_path / "a" / "summary.json").read_text())
    b = json.loads((tmp_path / "b" / "summary.json").read_text())
    # Everything but the provenance (times, command line) is the same, bit for bit.
    run_a, run_b = a.pop("run"), b.pop("run")
    assert a == b
    assert run_a["command"][-len(SMALL) :] == SMALL and run_a["command"] != run_b["command"]


def test_list_shows_every_shipped_scenario(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in available_scenarios():
        assert name in out
    assert "byzantine-consensus" in out


def test_unknown_scenario_lists_known_ones(capsys):
    assert main(["run", "no-such-scenario"]) == 2
    err = capsys.readouterr().err
    assert "unknown scenario 'no-such-scenario'" in err
    assert "byzantine-consensus" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('kind = "consensus"\n[params\n', "malformed TOML"),
        ('kind = "consensus"\nfoo = 1\n', "unknown key foo"),
        ('kind = "warp"\n', "kind = 'warp' is unknown; allowed: "),
        ('kind = "consensus"\n[params]\nn_robotz = 5\n', "unknown key params.n_robotz"),
        (
            'kind = "consensus"\n[params]\nn_robots = -5\n',
            "params.n_robots = -5 is not allowed; expected an integer in [2, 100000]",
        ),
        (
            'kind = "consensus"\n[params]\nattack = "polite"\n',
            "params.attack = 'polite' is not allowed; expected one of constant",
        ),
        ('kind = "consensus"\nseed = -1\n', "seed = -1 is not allowed"),
    ],
)
def test_bad_scenario_files_name_the_file_and_key(tmp_path, capsys, text, expected):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert main(["run", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert str(path) in err
    assert expected in err
    assert not (tmp_path / "o").exists()


def test_bad_override_names_the_key(capsys):
    assert main(["run", "byzantine-consensus", "--set", "rounds=0"]) == 2
    assert "params.rounds = 0 is not allowed" in capsys.readouterr().err


def test_console_script_exits_non_zero_without_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "scenarios.cli", "run", "nope"], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "unknown scenario" in proc.stderr


def test_every_shipped_scenario_file_validates():
    for name in available_scenarios():
        sc = load_scenario(name)
        assert sc.name == name


def test_summary_records_resolved_params_and_provenance(tmp_path, capsys):
    import hashlib

    import numpy as np

    out = tmp_path / "run"
    assert main(["run", "byzantine-consensus", "--out", str(out), "--seed", "3", *SMALL]) == 0
    header = capsys.readouterr().out.split("\n\n")[0]
    # The header describes what runs: 20 robots, F = 2, r = 2F + 1 = 5.
    assert "n_robots=20" in header and "wmsr_f=2" in header and "robustness=5" in header
    summary = json.loads((out / "summary.json").read_text())
    assert summary["params"]["wmsr_f"] == 2 and summary["params"]["robustness"] == 5
    assert summary["params_given"]["wmsr_f"] == -1
    run = summary["run"]
    path = available_scenarios()["byzantine-consensus"]
    assert run["scenario_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert run["overrides"] == [SMALL[i] for i in range(1, len(SMALL) - 1, 2)]
    assert run["numpy"] == np.__version__ and run["python"].count(".") == 2
    assert run["started"] <= run["finished"]
    assert sorted(p.name for p in out.iterdir()) == [
        "consensus.gif",
        "network.png",
        "summary.json",
        "trajectories.png",
        "viewer.html",
    ]
