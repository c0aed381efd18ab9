"""Language-model adapters implementing :class:`games.value_tree.LanguageModel`.

- :class:`OpenAIChatModel`: any OpenAI-compatible chat-completions server (vLLM,
  llama.cpp's server, Ollama, hosted APIs) over HTTP with the standard library only:
  base URL, model name, API key from an environment variable, timeouts, retries with
  exponential back-off on HTTP 429/5xx and dropped connections, clear errors on
  malformed replies, token usage read from the reply. A failed attempt returns no
  usage, so a retried request is charged once, for the attempt that succeeded.
- :class:`SimulatedQAModel`: a seeded stand-in for offline study of the multi-hop QA
  task (:mod:`envs.multihop_qa_v0`). It reads the same prompts a real model would,
  proposes the right next hop with probability ``skill`` and a plausible mistake
  otherwise, and rates steps with Gaussian noise of scale ``value_noise``; it needs no
  server and no weights.

Examples
--------
>>> import numpy as np
>>> from envs.llm import SimulatedQAModel
>>> from envs.multihop_qa_v0 import MultihopQAProblem, generate_questions
>>> [q] = generate_questions(np.random.default_rng(0), 1, min_hops=2, max_hops=2)
>>> model = SimulatedQAModel([q], skill=1.0, seed=0)     # always proposes the right hop
>>> problem = MultihopQAProblem(q)
>>> reply = model.generate(problem.action_messages(problem.initial_state()), max_tokens=32)
>>> reply.texts[0] == f"Action: search[{q.path[0]}]", reply.completion_tokens <= 32
(True, True)

:class:`OpenAIChatModel` is used the same way, given a server's base URL and model name,
e.g. ``OpenAIChatModel("http://localhost:8000/v1", "Qwen/Qwen2.5-7B-Instruct")``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from envs.multihop_qa_v0 import QAState, Question, exact_match, parse_action, step_state
from games.value_tree import Generation, default_prompt_token_bound
from protocols.checks import check_int

__all__ = [
    "ModelConnectionError",
    "ModelError",
    "ModelHTTPError",
    "ModelResponseError",
    "OpenAIChatModel",
    "SimulatedQAModel",
    "count_tokens",
]

Messages = Sequence[Mapping[str, str]]


class ModelError(RuntimeError):
    """Base class of the adapter's errors."""


class ModelHTTPError(ModelError):
    """The server answered with an HTTP error that retrying will not fix (or kept failing)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class ModelConnectionError(ModelError):
    """The server could not be reached, or kept dropping the connection."""


class ModelResponseError(ModelError):
    """The server's reply is not a well-formed chat-completions response."""


_RETRY_STATUS = frozenset({408, 409, 429}) | frozenset(range(500, 600))


def _check_messages(messages: Messages) -> list[dict[str, str]]:
    if isinstance(messages, str | bytes) or not isinstance(messages, Sequence) or not messages:
        raise TypeError("messages must be a non-empty list of {'role', 'content'} dicts")
    out = []
    for i, m in enumerate(messages):
        if (
            not isinstance(m, Mapping)
            or not isinstance(m.get("role"), str)
            or not isinstance(m.get("content"), str)
        ):
            raise TypeError(f"messages[{i}] must be a dict with str 'role' and 'content'")
        out.append({"role": m["role"], "content": m["content"]})
    return out


def _check_gen_args(n: int, max_tokens: int, temperature: float) -> None:
    check_int("n", n, low=1)
    check_int("max_tokens", max_tokens, low=1)
    if not (isinstance(temperature, int | float) and 0.0 <= temperature <= 2.0):
        raise ValueError(f"temperature must be in [0, 2], got {temperature!r}")


class OpenAIChatModel:
    """A chat model behind an OpenAI-compatible ``/chat/completions`` endpoint.

    Parameters
    ----------
    base_url : str
        The API root, such as ``http://127.0.0.1:8000/v1`` (``/chat/completions`` is
        appended unless the URL already ends with it).
    model : str
        The model name the server expects.
    api_key_env : str
        Environment variable holding the API key (sent as a bearer token); when it is
        unset no ``Authorization`` header is sent, as local servers need none.
    timeout : float
        Seconds to wait for each HTTP attempt.
    max_retries : int
        Extra attempts after a 408/409/429/5xx reply, a dropped connection or a
        timeout.
    backoff : float
        First back-off in seconds; doubled each retry, capped at ``max_backoff``. A
        ``Retry-After`` header in seconds is honoured up to ``max_backoff``.
    max_backoff : float
        Longest wait between attempts.
    prompt_overhead : int
        Tokens added to the byte-count bound of a prompt for the chat template (see
        :func:`games.value_tree.default_prompt_token_bound`, which includes 64).
    extra_body : mapping, optional
        More JSON fields for every request (``{"top_p": 0.9}``, ``{"seed": 1}``).
    sleep : callable
        ``sleep(seconds)``, replaceable in tests.

    Attributes
    ----------
    prompt_tokens, completion_tokens, requests, retries : int
        Totals over the adapter's life (usage of successful replies only).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        prompt_overhead: int = 0,
        extra_body: Mapping[str, Any] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not isinstance(base_url, str) or not re.match(r"https?://", base_url):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        if not isinstance(model, str) or not model:
            raise ValueError("model must be a non-empty string")
        if not isinstance(api_key_env, str):
            raise TypeError("api_key_env must be the name of an environment variable")
        if not (isinstance(timeout, int | float) and timeout > 0):
            raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
        check_int("max_retries", max_retries, low=0)
        if not (isinstance(backoff, int | float) and 0 <= backoff <= max_backoff):
            raise ValueError(f"need 0 <= backoff <= max_backoff, got {backoff!r}, {max_backoff!r}")
        check_int("prompt_overhead", prompt_overhead, low=0)
        url = base_url.rstrip("/")
        self.url = url if url.endswith("/chat/completions") else url + "/chat/completions"
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.prompt_overhead = prompt_overhead
        self.extra_body = dict(extra_body or {})
        self._sleep = sleep
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.requests = 0
        self.retries = 0

    def __repr__(self) -> str:
        return f"OpenAIChatModel(url={self.url!r}, model={self.model!r})"

    def prompt_token_bound(self, messages: Messages, n: int = 1) -> int:
        """Return an upper bound on the prompt tokens of a call (UTF-8 bytes + overhead)."""
        return default_prompt_token_bound(messages, n) + self.prompt_overhead

    def generate(
        self, messages: Messages, *, n: int = 1, max_tokens: int = 256, temperature: float = 1.0
    ) -> Generation:
        """Ask the server for ``n`` completions.

        Parameters
        ----------
        messages : sequence of mapping
            The chat, ``[{"role": ..., "content": ...}, ...]``.
        n : int
            Completions wanted (one request; a server that ignores ``n`` returns fewer).
        max_tokens : int
            Tokens per completion.
        temperature : float
            Sampling temperature in ``[0, 2]``.

        Returns
        -------
        Generation
            The texts and the usage the server reported.
        """
        chat = _check_messages(messages)
        _check_gen_args(n, max_tokens, temperature)
        body = dict(self.extra_body)
        body.update(
            {
                "model": self.model,
                "messages": chat,
                "n": n,
                "max_tokens": max_tokens,
                "temperature": float(temperature),
            }
        )
        reply = self._post(body)
        return self._parse(reply, n)

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _post(self, body: dict[str, Any]) -> bytes:
        data = json.dumps(body).encode("utf-8")
        last = ""
        for attempt in range(self.max_retries + 1):
            delay = min(self.max_backoff, self.backoff * 2.0**attempt)
            request = urllib.request.Request(
                self.url, data=data, headers=self._headers(), method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                    raw = resp.read()
                self.requests += 1
                return raw
            except urllib.error.HTTPError as exc:
                detail = exc.read(500).decode("utf-8", "replace").strip()
                exc.close()
                if exc.code not in _RETRY_STATUS:
                    raise ModelHTTPError(
                        f"{self.url} answered HTTP {exc.code}: {detail or exc.reason}", exc.code
                    ) from None
                last = f"HTTP {exc.code}: {detail or exc.reason}"
                retry_after = exc.headers.get("Retry-After") if exc.headers else None
                if retry_after is not None:
                    with contextlib.suppress(ValueError):
                        delay = min(self.max_backoff, max(0.0, float(retry_after)))
                status = exc.code
            except (
                urllib.error.URLError,
                http.client.HTTPException,
                ConnectionError,
                TimeoutError,
            ) as exc:
                reason = getattr(exc, "reason", exc)
                last = f"{type(reason).__name__}: {reason}"
                status = None
            if attempt == self.max_retries:
                if status is not None:
                    raise ModelHTTPError(
                        f"{self.url} still failing after {attempt + 1} attempts; last: {last}",
                        status,
                    )
                raise ModelConnectionError(
                    f"cannot get a reply from {self.url} after {attempt + 1} attempts; last: {last}"
                )
            self.retries += 1
            self._sleep(delay)
        raise AssertionError("unreachable")

    def _parse(self, raw: bytes, n: int) -> Generation:
        where = f"malformed reply from {self.url}"
        try:
            doc = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            head = raw[:200].decode("utf-8", "replace")
            raise ModelResponseError(f"{where}: the body is not JSON (starts {head!r})") from None
        if not isinstance(doc, dict):
            raise ModelResponseError(f"{where}: expected a JSON object, got {type(doc).__name__}")
        if "error" in doc and "choices" not in doc:
            raise ModelResponseError(f"{where}: the server reported an error: {doc['error']!r}")
        choices = doc.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ModelResponseError(f"{where}: 'choices' is missing or empty")
        texts = []
        for i, choice in enumerate(choices[:n]):
            msg = choice.get("message") if isinstance(choice, dict) else None
            content = msg.get("content") if isinstance(msg, dict) else None
            if content is None and isinstance(msg, dict) and "content" in msg:
                content = ""
            if not isinstance(content, str):
                raise ModelResponseError(f"{where}: choices[{i}].message.content is not a string")
            texts.append(content)
        usage = doc.get("usage")
        if not isinstance(usage, dict):
            raise ModelResponseError(
                f"{where}: no 'usage' object, so the tokens cannot be counted against a budget"
            )
        counts = []
        for key in ("prompt_tokens", "completion_tokens"):
            v = usage.get(key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ModelResponseError(f"{where}: usage.{key} = {v!r} is not an integer >= 0")
            counts.append(v)
        self.prompt_tokens += counts[0]
        self.completion_tokens += counts[1]
        return Generation(tuple(texts), counts[0], counts[1])


# --------------------------------------------------------------------------------------
# The simulated model
# --------------------------------------------------------------------------------------
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    """Count the simulated model's tokens: words and punctuation marks."""
    return len(_TOKEN_RE.findall(text))


def _truncate(text: str, max_tokens: int) -> str:
    tokens = list(_TOKEN_RE.finditer(text))
    if len(tokens) <= max_tokens:
        return text
    return text[: tokens[max_tokens - 1].end()]


#: True value of a wrong final answer: below every unanswered state (a harmful step).
_WRONG_ANSWER_VALUE = -0.5
_STEP_RE = re.compile(r"^Action \d+: (.*)$", re.MULTILINE)
_CAND_RE = re.compile(r"^\[(\d+)\] Action: (.*)$", re.MULTILINE)
_QUESTION_RE = re.compile(r"^Question: (.*)$", re.MULTILINE)


class SimulatedQAModel:
    """A seeded simulated language model for the multi-hop QA task.

    It reads the prompts of :class:`envs.multihop_qa_v0.MultihopQAProblem` and of the
    critics of :mod:`games.value_tree`, replays the trajectory on the question's
    knowledge base and knows the gold chain, and then:

    - as the actor, proposes the correct next action (search the next entity, look up
      the next relation, or answer) with probability ``skill``, and otherwise a
      plausible mistake, uniformly one of: look up a wrong relation, search a wrong
      entity, answer prematurely, or repeat the previous action;
    - as the residual critic, reports the change in the true value plus
      ``N(0, value_noise)``; the true value of an unanswered state is the fraction of
      the chain's search and lookup steps done, of a correct answer 1 and of a wrong
      answer -0.5 (a harmful step, as the critic prompt says);
    - as the absolute critic, ``c + (1 - c) * max(value, 0)`` plus the same noise,
      clipped to ``[0, 1]``, with ``c = overconfidence``: self-ratings are inflated and
      compressed towards 1, so they separate states less well than residual ones;
    - asked for a final answer, gives the entity its chain reached with probability
      ``skill`` if the chain is complete, otherwise the last entity it found.

    Errors can be correlated across samples, as a real model's are: every question has
    one misconception, a hop at which the model confuses the gold relation with a fixed
    wrong one. At that hop a mistake is the misconception with probability
    ``misconception`` (otherwise one of the slips above). A trajectory that looks up
    that wrong relation, by misconception or by a slip, follows it, so the samples that
    share the misconception reach the same wrong answer, which a majority vote cannot
    out-vote; the critics still judge against the gold chain.

    Temperature is ignored: ``skill`` is the per-step accuracy. Usage is counted with
    :func:`count_tokens` (4 extra tokens a message), completions are cut at
    ``max_tokens`` and :meth:`prompt_token_bound` is exact.

    Parameters
    ----------
    questions : iterable of Question
        Generated questions (with a gold chain) the model may be asked about.
    skill : float
        Probability of the correct action, in ``[0, 1]``.
    value_noise : float
        Standard deviation of the critic's noise, ``>= 0``.
    overconfidence : float
        Floor ``c`` of absolute ratings, in ``[0, 1]``.
    seed : int or numpy.random.Generator, optional
        Randomness.
    verbosity : int
        Filler words added after each completion (0: terse), to study long outputs.
    misconception : float
        Probability, in ``[0, 1]``, that a mistake at the question's confusable hop is
        the systematic confusion (0: independent slips only).
    """

    def __init__(
        self,
        questions: Iterable[Question],
        *,
        skill: float = 0.7,
        value_noise: float = 0.1,
        overconfidence: float = 0.2,
        seed: int | np.random.Generator | None = None,
        verbosity: int = 0,
        misconception: float = 0.0,
    ) -> None:
        self._questions: dict[str, Question] = {}
        for q in questions:
            if not isinstance(q, Question):
                raise TypeError(f"questions must be Question objects, got {type(q).__name__}")
            if not q.relations:
                raise ValueError(
                    f"question {q.qid!r} has no gold chain; the simulated model "
                    "only plays generated questions"
                )
            self._questions[q.question] = q
        if not self._questions:
            raise ValueError("questions is empty")
        if not 0.0 <= skill <= 1.0:
            raise ValueError(f"skill must be in [0, 1], got {skill!r}")
        if not (math.isfinite(value_noise) and value_noise >= 0):
            raise ValueError(f"value_noise must be >= 0, got {value_noise!r}")
        if not 0.0 <= overconfidence <= 1.0:
            raise ValueError(f"overconfidence must be in [0, 1], got {overconfidence!r}")
        check_int("verbosity", verbosity, low=0)
        self.skill = float(skill)
        self.value_noise = float(value_noise)
        self.overconfidence = float(overconfidence)
        self.verbosity = verbosity
        if not 0.0 <= misconception <= 1.0:
            raise ValueError(f"misconception must be in [0, 1], got {misconception!r}")
        self.misconception = float(misconception)
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self._confusion: dict[str, tuple[int, str]] = {}
        for q in self._questions.values():
            hop = int(self.rng.integers(len(q.relations)))
            page = q.kb.page(q.path[hop])
            others = [s.split(" of ", 1)[0].removeprefix("The ") for s in page.sentences]
            others = [r for r in others if r != q.relations[hop]] or [q.relations[hop]]
            self._confusion[q.qid] = (hop, others[int(self.rng.integers(len(others)))])
        self._entities = sorted({p.title for q in self._questions.values() for p in q.kb.pages})

    # -- accounting -------------------------------------------------------------------
    def prompt_token_bound(self, messages: Messages, n: int = 1) -> int:
        """Return the exact prompt tokens this model charges for ``messages``."""
        return sum(count_tokens(m["content"]) + 4 for m in messages) + 2

    def generate(
        self, messages: Messages, *, n: int = 1, max_tokens: int = 256, temperature: float = 1.0
    ) -> Generation:
        """Return ``n`` simulated completions and their usage (see the class docstring)."""
        chat = _check_messages(messages)
        _check_gen_args(n, max_tokens, temperature)
        system = chat[0]["content"] if chat[0]["role"] == "system" else ""
        user = chat[-1]["content"]
        texts = [self._reply(system, user) for _ in range(n)]
        if self.verbosity:
            texts = [t + "\n" + " ".join(["and"] * self.verbosity) for t in texts]
        texts = [_truncate(t, max_tokens) for t in texts]
        used = sum(min(count_tokens(t), max_tokens) for t in texts)
        return Generation(tuple(texts), self.prompt_token_bound(chat), used)

    # -- the oracle -------------------------------------------------------------------
    def _question(self, text: str) -> Question | None:
        m = _QUESTION_RE.search(text)
        return self._questions.get(m.group(1).strip()) if m else None

    @staticmethod
    def _replay(q: Question, actions: Sequence[str]) -> QAState:
        state = QAState()
        for text in actions:
            action = parse_action(text)
            if action is not None:
                state = step_state(q.kb, state, action)
        return state

    @staticmethod
    def _progress(q: Question, state: QAState) -> tuple[int, bool]:
        seen = " ".join(obs for act, obs in state.steps if act.startswith("lookup["))
        hops = 0
        while hops < len(q.relations) and q.fact(hops) in seen:
            hops += 1
        on_page = hops < len(q.relations) and state.page == q.path[hops]
        return hops, on_page

    def _value(self, q: Question, state: QAState) -> float:
        if state.answer is not None:
            return 1.0 if exact_match(state.answer, q.answer) else _WRONG_ANSWER_VALUE
        hops, on_page = self._progress(q, state)
        return (2 * hops + on_page) / (2 * len(q.relations) + 1)

    def _reply(self, system: str, user: str) -> str:
        q = self._question(user)
        if q is None:
            return "I cannot tell."
        prefix = user.split("\n\nCandidate steps:")[0]
        parent = self._replay(q, _STEP_RE.findall(prefix))
        if "relative progress" in system:
            cands = _CAND_RE.findall(user)
            lines = []
            base = self._value(q, parent)
            for k, act in cands:
                child = self._replay(q, [*_STEP_RE.findall(prefix), act])
                delta = self._value(q, child) - base + self.rng.normal(0.0, self.value_noise)
                lines.append(f"[{k}] {delta:+.2f}")
            return "\n".join(lines)
        if "Rate how likely" in system:
            v = max(self._value(q, parent), 0.0)
            v = self.overconfidence + (1.0 - self.overconfidence) * v
            v += self.rng.normal(0.0, self.value_noise)
            return f"{min(1.0, max(0.0, v)):.2f}"
        if "final answer now" in user:
            return f"Action: answer[{self._final(q, parent)}]"
        return f"Action: {self._act(q, parent)}"

    def _followed(self, q: Question, state: QAState) -> tuple[int, str]:
        """Return the hops this trajectory has followed and the entity it reached.

        From the start entity, each hop follows the gold relation if its fact was looked
        up, or else the question's misconception if that fact was looked up instead (the
        trajectory then strays from the gold chain and reaches a wrong entity).
        """
        seen = " ".join(obs for act, obs in state.steps if act.startswith("lookup["))
        cur = q.path[0]
        hop, wrong = self._confusion[q.qid]
        for i, rel in enumerate(q.relations):
            nxt = None
            for r in (rel, wrong) if i == hop else (rel,):
                m = re.search(re.escape(f"The {r} of {cur} is ") + r"(.+?)\.(?:\s|$)", seen)
                if m:
                    nxt = m.group(1)
                    break
            if nxt is None:
                return i, cur
            cur = nxt
        return len(q.relations), cur

    def _final(self, q: Question, state: QAState) -> str:
        hops, cur = self._followed(q, state)
        if hops == len(q.relations) and self.rng.random() < self.skill:
            return cur
        return cur if hops > 0 else self._random_entity(q.answer)

    def _random_entity(self, avoid: str) -> str:
        pool = [e for e in self._entities if e != avoid]
        return pool[int(self.rng.integers(len(pool)))]

    def _act(self, q: Question, state: QAState) -> str:
        hops, cur = self._followed(q, state)
        k = len(q.relations)
        page = q.kb.page(cur)
        on_page = page is not None and state.page == page.title
        rels = [s.split(" of ", 1)[0].removeprefix("The ") for s in page.sentences] if page else []
        if self.rng.random() < self.skill:
            if hops == k:
                return f"answer[{cur}]"
            if on_page:
                # a trajectory that strayed to an entity without the next relation settles
                return (
                    f"lookup[{q.relations[hops]}]"
                    if q.relations[hops] in rels
                    else f"answer[{cur}]"
                )
            return f"search[{cur}]"
        hop, wrong = self._confusion[q.qid]
        if hop == hops and on_page and self.rng.random() < self.misconception:
            return f"lookup[{wrong}]"
        mistake = int(self.rng.integers(4))
        if mistake == 3 and state.steps:
            return state.steps[-1][0]
        if mistake == 2:
            guess = cur if 0 < hops < k else self._random_entity(q.answer)
            return f"answer[{guess}]"
        if mistake == 1 or state.page is None:
            return f"search[{self._random_entity(cur)}]"
        page = q.kb.page(state.page)
        rels = [s.split(" of ", 1)[0].removeprefix("The ") for s in page.sentences] if page else []
        wrong_rels = [r for r in rels if hops >= k or r != q.relations[hops]] or ["name"]
        return f"lookup[{wrong_rels[int(self.rng.integers(len(wrong_rels)))]}]"
