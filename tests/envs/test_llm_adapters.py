"""The OpenAI-compatible adapter against a loopback server, and the simulated model."""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from envs.llm import (
    ModelConnectionError,
    ModelHTTPError,
    ModelResponseError,
    OpenAIChatModel,
    SimulatedQAModel,
    count_tokens,
)
from envs.multihop_qa_v0 import MultihopQAProblem, generate_questions
from games.search_baselines import METHODS
from games.value_tree import Budget, residual_critic_messages

CHAT = [{"role": "user", "content": "hello"}]


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length))
        srv = self.server
        srv.seen.append(
            {"body": body, "auth": self.headers.get("Authorization"), "path": self.path}
        )
        what = srv.script.pop(0) if srv.script else "ok"
        if what == "slow":
            time.sleep(0.6)  # longer than the client's timeout
        if what == "drop":
            self.close_connection = True
            return  # no status line: the client sees the connection close
        if what == "429":
            return self._send(429, b'{"error": "slow down"}', {"Retry-After": "0"})
        if what in ("500", "503"):
            return self._send(int(what), b"overloaded")
        if what == "400":
            return self._send(400, b'{"error": {"message": "bad model"}}')
        if what == "malformed":
            return self._send(200, b"<html>not json")
        n = body.get("n", 1)
        doc = {
            "id": "x",
            "object": "chat.completion",
            "choices": [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": f"r{i}"},
                    "finish_reason": "stop",
                }
                for i in range(n)
            ],
            "usage": {"prompt_tokens": 11, "completion_tokens": 3 * n, "total_tokens": 11 + 3 * n},
        }
        if what == "nousage":
            del doc["usage"]
        if what == "nocontent":
            doc["choices"] = [{"index": 0, "message": {"role": "assistant"}}]
            doc["choices"][0]["message"]["content"] = 5
        return self._send(200, json.dumps(doc).encode())

    def _send(self, status, payload, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client that timed out leaves a broken pipe behind: expected here


@pytest.fixture
def server():
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.script, srv.seen = [], []
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


def _model(srv, **kw):
    sleeps = []
    kw.setdefault("max_retries", 3)
    m = OpenAIChatModel(
        f"http://127.0.0.1:{srv.server_address[1]}/v1",
        "tiny",
        timeout=5,
        backoff=0.01,
        sleep=sleeps.append,
        **kw,
    )
    return m, sleeps


def test_usage_counted_and_request_well_formed(server, monkeypatch):
    monkeypatch.setenv("SWARMGYM_TEST_KEY", "sk-test")
    m, _ = _model(server, api_key_env="SWARMGYM_TEST_KEY")
    gen = m.generate(CHAT, n=2, max_tokens=7, temperature=0.5)
    assert gen.texts == ("r0", "r1")
    assert (gen.prompt_tokens, gen.completion_tokens) == (11, 6)
    m.generate(CHAT)
    assert (m.prompt_tokens, m.completion_tokens, m.requests) == (22, 9, 2)
    first = server.seen[0]
    assert first["path"] == "/v1/chat/completions"
    assert first["auth"] == "Bearer sk-test"
    assert first["body"] == {
        "model": "tiny",
        "messages": CHAT,
        "n": 2,
        "max_tokens": 7,
        "temperature": 0.5,
    }
    assert "sk-test" not in repr(m)


def test_no_key_no_authorization_header(server, monkeypatch):
    monkeypatch.delenv("SWARMGYM_TEST_KEY", raising=False)
    m, _ = _model(server, api_key_env="SWARMGYM_TEST_KEY")
    m.generate(CHAT)
    assert server.seen[0]["auth"] is None


@pytest.mark.parametrize("failures", [["429"], ["drop"], ["500", "503"], ["drop", "429"]])
def test_retries_then_charged_once(server, failures):
    server.script = [*failures, "ok"]
    m, sleeps = _model(server)
    gen = m.generate(CHAT)
    assert gen.prompt_tokens == 11 and gen.completion_tokens == 3
    assert m.retries == len(failures) and len(server.seen) == len(failures) + 1
    assert (m.prompt_tokens, m.completion_tokens) == (11, 3)
    assert len(sleeps) == len(failures)


def test_timeout_is_retried(server):
    server.script = ["slow", "ok"]
    m, sleeps = _model(server)
    m.timeout = 0.3
    assert sleeps == []
    gen = m.generate(CHAT)
    assert gen.texts == ("r0",) and m.retries == 1 and m.prompt_tokens == 11
    assert sleeps == [0.01]


def test_backoff_doubles_and_honours_retry_after(server):
    server.script = ["500", "500", "429", "ok"]
    m, sleeps = _model(server)
    m.generate(CHAT)
    assert sleeps == pytest.approx([0.01, 0.02, 0.0])


def test_gives_up_after_max_retries(server):
    server.script = ["503"] * 10
    m, _ = _model(server, max_retries=2)
    with pytest.raises(ModelHTTPError, match="after 3 attempts") as err:
        m.generate(CHAT)
    assert err.value.status == 503 and len(server.seen) == 3
    assert m.prompt_tokens == 0


def test_client_error_is_not_retried(server):
    server.script = ["400"]
    m, _ = _model(server)
    with pytest.raises(ModelHTTPError, match=r"HTTP 400.*bad model"):
        m.generate(CHAT)
    assert len(server.seen) == 1


@pytest.mark.parametrize(
    "what, match", [("malformed", "not JSON"), ("nousage", "usage"), ("nocontent", "content")]
)
def test_malformed_reply_is_a_clear_error(server, what, match):
    server.script = [what]
    m, _ = _model(server)
    with pytest.raises(ModelResponseError, match=match):
        m.generate(CHAT)
    assert len(server.seen) == 1 and m.prompt_tokens == 0


def test_unreachable_server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps = []
    m = OpenAIChatModel(
        f"http://127.0.0.1:{port}/v1",
        "tiny",
        timeout=2,
        max_retries=1,
        backoff=0.01,
        sleep=sleeps.append,
    )
    with pytest.raises(ModelConnectionError, match="after 2 attempts"):
        m.generate(CHAT)
    assert sleeps == [0.01]


@pytest.mark.parametrize(
    "kw", [{"base_url": "ftp://x"}, {"model": ""}, {"timeout": 0}, {"max_retries": -1}]
)
def test_constructor_validation(kw):
    args = {"base_url": "http://127.0.0.1:1/v1", "model": "m", **kw}
    with pytest.raises(ValueError):
        OpenAIChatModel(args.pop("base_url"), args.pop("model"), **args)


def test_bad_messages_rejected():
    m = OpenAIChatModel("http://127.0.0.1:1/v1", "m")
    with pytest.raises(TypeError):
        m.generate("hello")
    with pytest.raises(ValueError):
        m.generate(CHAT, n=0)


def test_prompt_bound_covers_bytes():
    m = OpenAIChatModel("http://127.0.0.1:1/v1", "m", prompt_overhead=10)
    chat = [{"role": "user", "content": "héllo"}]
    assert m.prompt_token_bound(chat) >= len("héllo".encode()) + 10


def test_search_through_http_never_overspends(server):
    m, _ = _model(server)  # every reply "r0": unparseable actions, so the backstop answers
    q = generate_questions(np.random.default_rng(0), 1, min_hops=2, max_hops=2)[0]
    budget = Budget(3, 3000)
    res = METHODS["bavt"](MultihopQAProblem(q), m, budget, rng=np.random.default_rng(0))
    assert res.tokens_used <= budget.tokens and res.answer
    assert res.tokens_used == m.prompt_tokens + m.completion_tokens


# ---------------------------------------------------------------------- simulated model
def _questions(n=6, hops=3, seed=0):
    return generate_questions(np.random.default_rng(seed), n, min_hops=hops, max_hops=hops)


def test_simulated_usage_and_bound_are_exact():
    qs = _questions()
    sim = SimulatedQAModel(qs, seed=1, verbosity=500)
    msgs = MultihopQAProblem(qs[0]).action_messages(MultihopQAProblem(qs[0]).initial_state())
    gen = sim.generate(msgs, n=3, max_tokens=9)
    assert gen.prompt_tokens == sim.prompt_token_bound(msgs)
    assert gen.prompt_tokens == sum(count_tokens(m["content"]) + 4 for m in msgs) + 2
    assert all(count_tokens(t) == 9 for t in gen.texts)
    assert gen.completion_tokens == 27


def test_simulated_same_seed_same_replies():
    qs = _questions()
    p = MultihopQAProblem(qs[0])
    msgs = p.action_messages(p.initial_state())
    a = [SimulatedQAModel(qs, skill=0.5, seed=3).generate(msgs, n=8).texts for _ in range(2)]
    assert a[0] == a[1]


def test_perfect_model_walks_the_gold_chain():
    q = _questions()[0]
    sim = SimulatedQAModel([q], skill=1.0, value_noise=0.0, seed=0)
    p = MultihopQAProblem(q)
    state = p.initial_state()
    while p.answer(state) is None:
        action = p.parse_action(sim.generate(p.action_messages(state)).texts[0])
        state = p.apply(state, action)
    assert state.answer == q.answer
    assert len(state.steps) == 2 * q.hops + 1  # search + lookup per hop, then answer


def test_noiseless_residual_critic_scores_true_progress():
    q = _questions(hops=2)[0]
    sim = SimulatedQAModel([q], skill=1.0, value_noise=0.0, seed=0)
    p = MultihopQAProblem(q)
    s0 = p.initial_state()
    good = p.apply(s0, p.parse_action(f"search[{q.path[0]}]"))
    bad = p.apply(s0, p.parse_action("search[Nowhere]"))
    wrong = p.apply(s0, p.parse_action("answer[Nowhere]"))
    msgs = residual_critic_messages(
        p.describe(s0), [p.describe_step(s0, c) for c in (good, bad, wrong)]
    )
    text = sim.generate(msgs, max_tokens=64).texts[0]
    # 2 hops: 5 steps (search, lookup, search, lookup, answer) => one step is +1/5;
    # a failed search is no progress; a wrong answer is harmful (-0.5)
    assert text.splitlines() == ["[1] +0.20", "[2] +0.00", "[3] -0.50"]


def test_zero_skill_never_takes_the_right_step():
    q = _questions()[0]
    sim = SimulatedQAModel([q], skill=0.0, seed=0)
    p = MultihopQAProblem(q)
    texts = sim.generate(p.action_messages(p.initial_state()), n=50).texts
    assert f"Action: search[{q.path[0]}]" not in texts


def test_simulated_model_validation():
    qs = _questions()
    with pytest.raises(ValueError):
        SimulatedQAModel(qs, skill=1.5)
    with pytest.raises(ValueError):
        SimulatedQAModel([])


def test_misconception_is_the_same_wrong_lookup_every_time():
    q = _questions(hops=3)[0]
    sim = SimulatedQAModel([q], skill=0.0, misconception=1.0, seed=2)
    hop, wrong = sim._confusion[q.qid]
    assert wrong != q.relations[hop]
    p = MultihopQAProblem(q)
    state = p.initial_state()
    for i in range(hop):  # walk the gold chain up to the confusable hop
        state = p.apply(state, p.parse_action(f"search[{q.path[i]}]"))
        state = p.apply(state, p.parse_action(f"lookup[{q.relations[i]}]"))
    state = p.apply(state, p.parse_action(f"search[{q.path[hop]}]"))
    texts = set(sim.generate(p.action_messages(state), n=20).texts)
    assert texts == {f"Action: lookup[{wrong}]"}
