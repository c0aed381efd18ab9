"""The bavt-budget scenario end to end: simulated model, and a model behind HTTP."""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from envs.llm import SimulatedQAModel
from envs.multihop_qa_v0 import generate_questions
from games.search_baselines import METHODS
from scenarios.cli import main

SMALL = [
    "--set",
    "n_questions=4",
    "--set",
    "tool_budgets=[3, 12]",
    "--set",
    "n_entities=20",
    "--set",
    "max_hops=3",
]


def test_simulated_run_writes_table_plot_and_headline(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "bavt-budget", "--out", str(out), "--quiet", *SMALL]) == 0
    text = capsys.readouterr().out
    assert "Headline: BAVT at budget b vs parallel" in text
    doc = json.loads((out / "summary.json").read_text())
    assert (out / "accuracy_vs_budget.png").stat().st_size > 10_000
    assert set(doc["results"]) == set(METHODS)
    for method, per_budget in doc["results"].items():
        assert set(per_budget) == {"3", "12"}, method
        for b, stats in per_budget.items():
            assert 0.0 <= stats["em"] <= stats["f1"] + 1e-12 <= 1.0 + 1e-12
            assert stats["mean_tool_calls"] <= int(b)
            assert stats["mean_tokens"] <= int(b) * 400
    (head,) = doc["headline"]
    assert (head["budget"], head["parallel_budget"]) == (3, 12)
    assert head["holds"] == (head["bavt_em"] >= head["parallel_em"])
    assert doc["headline_holds_at_low_budget"] == head["holds"]


def test_same_seed_same_summary(tmp_path):
    docs = []
    for k in range(2):
        out = tmp_path / f"r{k}"
        assert (
            main(["run", "bavt-budget", "--out", str(out), "--quiet", "--seed", "3", *SMALL]) == 0
        )
        doc = json.loads((out / "summary.json").read_text())
        doc.pop("run")  # provenance: times and command line differ
        docs.append(doc)
    assert docs[0] == docs[1]


class _SimServer(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests += 1
        gen = self.server.sim.generate(
            body["messages"],
            n=body["n"],
            max_tokens=body["max_tokens"],
            temperature=body["temperature"],
        )
        doc = {
            "choices": [
                {"index": i, "message": {"role": "assistant", "content": t}}
                for i, t in enumerate(gen.texts)
            ],
            "usage": {
                "prompt_tokens": gen.prompt_tokens,
                "completion_tokens": gen.completion_tokens,
            },
        }
        payload = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def sim_server():
    # the scenario draws its questions first from default_rng(seed): regenerate them here
    qs = generate_questions(np.random.default_rng(5), 3, n_entities=20, min_hops=2, max_hops=2)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _SimServer)
    srv.daemon_threads = True
    srv.sim = SimulatedQAModel(qs, skill=1.0, value_noise=0.0, seed=0)
    srv.requests = 0
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


def test_same_command_against_an_openai_compatible_server(tmp_path, sim_server):
    url = f"http://127.0.0.1:{sim_server.server_address[1]}/v1"
    out = tmp_path / "real"
    argv = [
        "run",
        "bavt-budget",
        "--out",
        str(out),
        "--quiet",
        "--seed",
        "5",
        "--set",
        f'model_url="{url}"',
        "--set",
        'model="sim"',
        "--set",
        "n_questions=3",
        "--set",
        "n_entities=20",
        "--set",
        "max_hops=2",
        "--set",
        "tool_budgets=[8]",
        "--set",
        "tokens_per_tool_call=1500",
    ]
    assert main(argv) == 0
    doc = json.loads((out / "summary.json").read_text())
    assert doc["model"]["url"] == url + "/chat/completions" and doc["model"]["retries"] == 0
    assert sim_server.requests > 0
    # a perfect model with room for 2 hops (4 tool calls + answer) answers everything
    for method in METHODS:
        assert doc["results"][method]["8"]["em"] == 1.0, method


@pytest.mark.parametrize(
    "override, match",
    [
        ('model_url="ftp://x"', "model_url"),
        ('hotpotqa_path="x.json"', "needs params.model_url"),
        ("methods=['bavt', 'nope']", "methods"),
        ("tool_budgets=[0]", "tool_budgets"),
    ],
)
def test_bad_params_are_user_errors(tmp_path, capsys, override, match):
    argv = ["run", "bavt-budget", "--out", str(tmp_path), "--quiet", "--set", override]
    if "ftp" in override:
        argv += ["--set", 'model="m"']
    assert main(argv) == 2
    assert match in capsys.readouterr().err


def test_unreachable_server_is_a_user_error(tmp_path, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = [
        "run",
        "bavt-budget",
        "--out",
        str(tmp_path),
        "--quiet",
        "--set",
        f'model_url="http://127.0.0.1:{port}/v1"',
        "--set",
        'model="m"',
        "--set",
        "max_retries=0",
        "--set",
        "n_questions=1",
    ]
    assert main(argv) == 2
    assert "the model server failed: cannot get a reply" in capsys.readouterr().err


class _FixedReply(_SimServer):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        doc = {
            "choices": [
                {"index": i, "message": {"role": "assistant", "content": "Action: answer[Bar]"}}
                for i in range(body["n"])
            ],
            "usage": {"prompt_tokens": 50, "completion_tokens": 5 * body["n"]},
        }
        payload = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def test_hotpotqa_file_through_a_server(tmp_path):
    data = tmp_path / "dev.json"
    data.write_text(
        json.dumps(
            [
                {
                    "question": "Where was Baz born?",
                    "answer": "Bar",
                    "context": [["Baz", ["Baz was born in Bar."]]],
                },
                {
                    "question": "Is Baz a city?",
                    "answer": "no",
                    "context": [["Baz", ["Baz is a writer."]]],
                },
            ]
        )
    )
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _FixedReply)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        out = tmp_path / "out"
        argv = [
            "run",
            "bavt-budget",
            "--out",
            str(out),
            "--quiet",
            "--set",
            f'model_url="http://127.0.0.1:{srv.server_address[1]}/v1"',
            "--set",
            'model="m"',
            "--set",
            f'hotpotqa_path="{data}"',
            "--set",
            "tool_budgets=[2]",
        ]
        assert main(argv) == 0
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)
    doc = json.loads((out / "summary.json").read_text())
    assert doc["n_questions"] == 2
    for method in METHODS:  # the model always answers "Bar": right once, wrong once
        assert doc["results"][method]["2"]["em"] == 0.5, method


def test_phase_region_matches_the_per_method_results(tmp_path, capsys):
    out = tmp_path / "phase"
    args = [
        "--set",
        "n_questions=6",
        "--set",
        "tool_budgets=[2, 8]",
        "--set",
        "n_entities=20",
        "--set",
        "max_hops=2",
        "--set",
        'methods=["bavt", "parallel", "best_of_n"]',
    ]
    assert main(["run", "bavt-budget", "--out", str(out), "--quiet", *args]) == 0
    assert "that cell of the `swarm sweep bavt-phase` map" in capsys.readouterr().out
    doc = json.loads((out / "summary.json").read_text())
    res = doc["results"]
    by_b = {e["b"]: e for e in doc["phase_by_budget"]}
    assert doc["phase"] == by_b[2]
    # The mean of paired differences is the difference of the means.
    assert by_b[2]["vs_parallel_4b"] == pytest.approx(
        res["bavt"]["2"]["em"] - res["parallel"]["8"]["em"]
    )
    for b in (2, 8):
        assert by_b[b]["vs_best_of_n"] == pytest.approx(
            res["bavt"][str(b)]["em"] - res["best_of_n"][str(b)]["em"]
        )
    assert "vs_parallel_4b" not in by_b[8]  # no parallel run at 32
    for e in by_b.values():
        for key in ("vs_parallel_4b", "vs_best_of_n"):
            if key in e:
                d, se = e[key], e[key + "_stderr"]
                want = "wins" if d > 2 * se else "loses" if d < -2 * se else "tie"
                assert e[key + "_region"] == want


def test_phase_sweep_compares_b_with_4b_and_holds_the_defaults_cell():
    from scenarios.runner import load_scenario
    from scenarios.sweep import load_sweep

    sweep = load_sweep("bavt-phase")
    assert len(sweep.runs) == 72
    defaults = load_scenario("bavt-budget").params
    cell = {k: defaults[k] for k in ("skill", "misconception", "value_noise", "overconfidence")}
    hits = 0
    for run in sweep.runs:
        b, b4 = run.params["tool_budgets"]
        assert b4 == 4 * b
        assert {"bavt", "parallel", "best_of_n"} <= set(run.params["methods"])
        hits += all(run.params[k] == v for k, v in cell.items())
    assert hits == 2  # the defaults' cell, at b = 8 and b = 16
