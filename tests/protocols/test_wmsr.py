import math
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.wmsr import (
    AttackedSwarms,
    attacked_round_batch,
    lcp_step,
    message_sources,
    wmsr_step,
)
from protocols.wmsr import attacked as wmsr_attacked
from protocols.wmsr import rounds as wmsr_rounds
from protocols.wmsr._fast import _insert_high, _insert_low


def reference_wmsr(values, indptr, indices, messages, f):
    """The rule written out plainly, with an exact (rational) mean."""
    out = []
    for i, x in enumerate(values):
        got = [m for m in messages[indptr[i] : indptr[i + 1]] if math.isfinite(m)]
        above = sorted(v for v in got if v > x)
        below = sorted(v for v in got if v < x)
        equal = [v for v in got if v == x]
        above = above[: max(len(above) - f, 0)]
        below = below[min(f, len(below)) :]
        kept = [x, *below, *equal, *above]
        out.append(float(sum(map(Fraction, kept)) / len(kept)))
    return np.array(out)


def random_csr(rng, n, max_deg):
    deg = rng.integers(0, max_deg + 1, size=n)
    indptr = np.concatenate([[0], np.cumsum(deg)])
    indices = rng.integers(0, n, size=indptr[-1])
    return indptr, indices


SPECIAL = np.array([np.nan, np.inf, -np.inf, 1e300, -1e300, 0.0, 1.0])


@pytest.mark.parametrize("seed", range(40))
def test_wmsr_matches_reference_with_nan_inf_huge_and_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 25))
    indptr, indices = random_csr(rng, n, 40)
    # Values on a coarse grid so ties with the own value and between messages are common.
    values = rng.integers(-3, 4, size=n).astype(float)
    messages = rng.integers(-3, 4, size=indices.size).astype(float)
    special = rng.random(indices.size) < 0.25
    messages[special] = rng.choice(SPECIAL, size=special.sum())
    # f <= 8 and f > 8 take different selection paths in the kernel.
    for f in (0, 1, 2, 3, 4, 8, 9, 12, 20):
        got = wmsr_step(values, indptr, indices, messages, f)
        want = reference_wmsr(values, indptr, indices, messages, f)
        np.testing.assert_allclose(got, want, rtol=4e-16 * 16, atol=0)


@given(
    own=st.floats(-1e6, 1e6),
    msgs=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=0, max_size=40),
    f=st.integers(0, 15),
)
def test_wmsr_single_node_property(own, msgs, f):
    indptr = np.array([0, len(msgs)])
    indices = np.zeros(len(msgs), dtype=np.int64)
    got = wmsr_step([own], indptr, indices, np.array(msgs, dtype=float), f)[0]
    want = reference_wmsr([own], indptr, indices, msgs, f)[0]
    assert math.isfinite(got)
    assert got == pytest.approx(want, rel=1e-14, abs=0)


def test_huge_trimmed_value_does_not_cost_precision():
    honest = 1.0 + np.arange(6) * 1e-12
    msgs = np.concatenate([honest, [1e300, -1e300]])
    indptr = np.array([0, msgs.size])
    indices = np.zeros(msgs.size, dtype=np.int64)
    got = wmsr_step([1.0 + 2.5e-12], indptr, indices, msgs, f=1)[0]
    kept = [1.0 + 2.5e-12, *honest]
    assert got == float(sum(map(Fraction, kept)) / len(kept))


def test_overflowing_sum_stays_finite_and_exact():
    indptr = np.array([0, 2])
    indices = np.zeros(2, dtype=np.int64)
    got = lcp_step([1.7e308], indptr, indices, [1.7e308, 1.7e308])[0]
    assert got == 1.7e308


def test_f_zero_is_plain_averaging_and_lcp():
    rng = np.random.default_rng(1)
    indptr, indices = random_csr(rng, 30, 8)
    values = rng.normal(size=30)
    messages = values[indices]
    want = np.array([np.mean([values[i], *messages[indptr[i] : indptr[i + 1]]]) for i in range(30)])
    np.testing.assert_allclose(wmsr_step(values, indptr, indices, messages, 0), want, rtol=1e-14)
    np.testing.assert_allclose(lcp_step(values, indptr, indices, messages), want, rtol=1e-14)


def test_lcp_discards_non_finite():
    indptr = np.array([0, 3])
    indices = np.zeros(3, dtype=np.int64)
    assert lcp_step([0.0], indptr, indices, [np.nan, np.inf, 3.0])[0] == 1.5


def test_out_buffer_and_in_place():
    rng = np.random.default_rng(2)
    indptr, indices = random_csr(rng, 20, 6)
    values = rng.normal(size=20)
    messages = values[indices]
    want = wmsr_step(values, indptr, indices, messages, 1)
    buf = values.copy()
    res = wmsr_step(buf, indptr, indices, messages, 1, out=buf)
    assert res is buf
    np.testing.assert_array_equal(buf, want)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"f": -1}, ValueError, "f must be >= 0"),
        ({"f": 1.5}, TypeError, "f must be an integer"),
        ({"values": [np.nan, 0.0]}, ValueError, "values must be finite"),
        ({"messages": [1.0]}, ValueError, "messages must have shape"),
        ({"indptr": [0, 1]}, ValueError, "indptr must have length"),
        ({"indices": [0, 5]}, ValueError, r"indices must lie in \[0, 2\)"),
        ({"values": ["a", "b"]}, TypeError, "values must hold real numbers"),
        ({"out": np.empty(3)}, ValueError, "out must be"),
    ],
)
def test_bad_input_errors(kwargs, exc, match):
    args = {
        "values": [0.0, 1.0],
        "indptr": [0, 1, 2],
        "indices": [1, 0],
        "messages": [1.0, 0.0],
        "f": 1,
    }
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        wmsr_step(**args)


# ------------------------------------------ the environments' bounded-message kernel


def _bounded_round(values, indptr, indices, messages, f):
    """Run :func:`attacked_round_batch` with every message an attacker action.

    Each in-edge gets its own "Byzantine" sender whose action reproduces ``messages``
    (robots are honest, senders are extra robots), so the kernel sees exactly these
    messages in this order.
    """
    n = len(values)
    m = len(messages)
    # Robots 0..n-1 honest, then one Byzantine robot per edge; messages in hull units
    # with lo = 0, width = 1, bound chosen so that a = (v - 0.5) / (0.5 + bound) stays
    # within [-1, 1].
    bound = float(np.nanmax(np.abs(np.asarray(messages, dtype=float)), initial=0.0)) + 1.0
    total = n + m
    acts = np.full((1, m, total), np.nan)
    senders = np.empty(m, dtype=np.int64)
    for e in range(m):
        i = int(np.searchsorted(indptr, e, side="right") - 1)
        senders[e] = n + e
        acts[0, e, i] = (messages[e] - 0.5) / (0.5 + bound)
    vals = np.concatenate([np.asarray(values, dtype=float), np.zeros(m)])
    full_indptr = np.concatenate([indptr, np.full(m, indptr[-1])])
    sources = message_sources(full_indptr, senders, n)
    swarms = AttackedSwarms(full_indptr[None], sources[None], np.zeros(1), np.ones(1), n, bound, f)
    out = attacked_round_batch(swarms, vals[None], acts)
    # The messages the kernel actually used (the action mapping rounds).
    used = np.array(
        [
            0.5 + (0.5 + bound) * acts[0, e, int(np.searchsorted(indptr, e, "right") - 1)]
            for e in range(m)
        ]
    )
    return out[0, :n], used


@pytest.mark.parametrize("seed", range(30))
def test_bounded_kernel_matches_reference_with_silence_and_ties(seed):
    # The batched environments' W-MSR (one pass, trimmed values subtracted) against the
    # rule written out with an exact mean, for f = 0..4 (f > 2 takes the exact kernel).
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(1, 12))
    indptr, _ = random_csr(rng, n, 30)
    values = rng.integers(-3, 4, size=n).astype(float) / 4 + 0.5
    messages = rng.integers(-3, 4, size=indptr[-1]).astype(float) / 4 + 0.5
    if seed % 2:
        values += rng.normal(0, 0.1, size=n)
        messages += rng.normal(0, 0.1, size=messages.size)
    messages[rng.random(messages.size) < 0.2] = np.nan  # silence
    for f in (0, 1, 2, 3, 4):
        got, used = _bounded_round(
            values, indptr, np.zeros(messages.size, dtype=np.int64), messages, f
        )
        want = reference_wmsr(values, indptr, None, used, f)
        # Offsets from the own value are summed and the trimmed ones subtracted: a few
        # roundings of values of size ~1.
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-14)


@given(
    own=st.floats(-1.0, 2.0),
    msgs=st.lists(st.one_of(st.floats(-1.0, 2.0), st.just(np.nan)), min_size=0, max_size=30),
    f=st.integers(0, 2),
)
def test_bounded_kernel_stays_in_the_kept_range(own, msgs, f):
    indptr = np.array([0, len(msgs)])
    got, used = _bounded_round([own], indptr, None, np.array(msgs, dtype=float), f)
    finite = sorted(v for v in used if math.isfinite(v))
    above = [v for v in finite if v > own][: max(len([v for v in finite if v > own]) - f, 0)]
    below = [v for v in finite if v < own][f:]
    kept = [own, *below, *[v for v in finite if v == own], *above]
    assert min(kept) <= got[0] <= max(kept)
    assert got[0] == pytest.approx(
        reference_wmsr([own], indptr, None, used, f)[0], rel=0, abs=1e-14
    )


@given(st.lists(st.one_of(st.floats(-10.0, 10.0), st.just(np.nan)), max_size=12))
def test_top_three_trackers_ignore_silence(values):
    high = (-np.inf,) * 3
    low = (np.inf,) * 3
    for v in values:
        high = _insert_high(v, *high)
        low = _insert_low(v, *low)
    finite = sorted(v for v in values if not math.isnan(v))
    assert list(high) == (finite[::-1] + [-np.inf] * 3)[:3]
    assert list(low) == (finite + [np.inf] * 3)[:3]


# ------------------------------------------------- fast paths, threads, public API


@pytest.mark.parametrize("seed", range(20))
def test_two_pass_path_matches_reference_on_continuous_values(seed):
    # Continuous values (ties at the trimming cut are rare, so the two-pass path of
    # f <= 2 runs) with Byzantine outliers, silence and inf: within 1.5 roundings of the
    # exact mean.
    rng = np.random.default_rng(1000 + seed)
    n = 200
    indptr, indices = random_csr(rng, n, 35)
    values = rng.normal(0.5, 0.3, n) * 10.0 ** rng.integers(-3, 4)
    messages = values[indices] + rng.normal(0, 0.05, indices.size)
    special = rng.random(indices.size) < 0.05
    messages[special] = rng.choice(SPECIAL[:5], size=special.sum())
    for f in (0, 1, 2):
        got = wmsr_step(values, indptr, indices, messages, f)
        want = reference_wmsr(values, indptr, indices, messages, f)
        np.testing.assert_allclose(got, want, rtol=1.5 * 2.0**-52, atol=0)


def test_unchecked_path_gives_the_same_bits():
    rng = np.random.default_rng(3)
    indptr, indices = random_csr(rng, 300, 20)
    values = rng.uniform(size=300)
    messages = values[indices]
    messages[::7] = 1e300
    for f in (0, 2, 5):
        out = np.empty(300)
        wmsr_step(values, indptr.astype(np.int64), indices, messages, f, out, check=False)
        np.testing.assert_array_equal(out, wmsr_step(values, indptr, indices, messages, f))


@pytest.mark.parametrize("f", [10**30, 2**63])
def test_f_too_large_for_int64_is_one_clear_error(f):
    with pytest.raises(ValueError, match=r"^f must be <= 9223372036854775807, got \d+$"):
        wmsr_step([0.0], [0, 1], [0], [1.0], f=f)


def test_f_larger_than_every_degree_keeps_only_equal_values():
    # f = 2**63 - 1 trims everything above and below: the own value stays.
    assert wmsr_step([0.5], [0, 3], [0, 0, 0], [0.5, 9.0, -9.0], f=2**63 - 1)[0] == 0.5


def _thread_case():
    rng = np.random.default_rng(4)
    n = 5000  # several chunks of nodes
    indptr, indices = random_csr(rng, n, 30)
    values = rng.uniform(size=n)
    messages = values[indices] + rng.normal(0, 0.01, indices.size)
    messages[rng.random(indices.size) < 0.03] = np.nan
    messages[rng.random(indices.size) < 0.03] = 1e300
    return values, indptr, indices, messages


def _attacked_case():
    rng = np.random.default_rng(5)
    B, n, nb = 40, 12, 2
    indptr = np.zeros((B, n + 1), dtype=np.int64)
    sources = np.zeros((B, n * n), dtype=np.uint32)
    for b in range(B):
        ip, ind = random_csr(rng, n, n - 1)
        indptr[b] = ip
        sources[b, : ind.size] = message_sources(ip, ind, n - nb)
    swarms = AttackedSwarms(
        indptr, sources, rng.uniform(size=B), 1.0 + rng.uniform(size=B), n - nb, 2.0, 1
    )
    actions = rng.uniform(-1, 1, (B, nb, n))
    return swarms, rng.uniform(size=(B, n)), actions


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 Numba threads")
def test_results_are_bit_identical_for_one_and_two_threads(monkeypatch):
    # Small cases, so force the parallel kernels (they run above a size threshold).
    monkeypatch.setattr(wmsr_rounds, "PARALLEL_MIN_EDGES", 0)
    monkeypatch.setattr(wmsr_attacked, "PARALLEL_MIN_EDGES", 0)
    args = _thread_case()
    swarms, values, actions = _attacked_case()
    got = {}
    before = numba.get_num_threads()
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            got[threads] = [wmsr_step(*args, f) for f in (0, 2, 4)]
            got[threads].append(attacked_round_batch(swarms, values, actions))
    finally:
        numba.set_num_threads(before)
    for a, b in zip(got[1], got[2], strict=True):
        assert a.tobytes() == b.tobytes()


def test_thread_count_from_the_environment_gives_the_same_bits():
    # NUMBA_NUM_THREADS fixes the pool at start-up: compare whole processes.
    code = (
        "import hashlib, numba, numpy as np\n"
        "from tests.protocols.test_wmsr import _thread_case, _attacked_case\n"
        "from protocols.wmsr import attacked, rounds, wmsr_step, attacked_round_batch\n"
        "rounds.PARALLEL_MIN_EDGES = attacked.PARALLEL_MIN_EDGES = 0\n"
        "h = hashlib.sha256()\n"
        "for f in (0, 2, 4):\n"
        "    h.update(wmsr_step(*_thread_case(), f).tobytes())\n"
        "h.update(attacked_round_batch(*_attacked_case()).tobytes())\n"
        "print(numba.get_num_threads(), h.hexdigest())\n"
    )
    root = Path(__file__).resolve().parents[2]
    digests = set()
    for threads in ("1", "2"):
        env = {
            **os.environ,
            "NUMBA_NUM_THREADS": threads,
            "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
        }
        proc = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env=env,
            cwd=root,
            check=True,
        )
        used, digest = proc.stdout.split()
        assert used == threads
        digests.add(digest)
    assert len(digests) == 1


def test_attacked_round_batch_validates():
    swarms, values, actions = _attacked_case()
    with pytest.raises(ValueError, match=r"actions must have shape \(40, 2, 12\)"):
        attacked_round_batch(swarms, values, actions[:, :1])
    with pytest.raises(ValueError, match=r"swarms\.width must be > 0"):
        attacked_round_batch(swarms._replace(width=np.zeros(40)), values, actions)
    with pytest.raises(ValueError, match=r"swarms.indptr must have shape \(40, 13\)"):
        attacked_round_batch(swarms._replace(indptr=swarms.indptr[:, :5]), values, actions)
    with pytest.raises(TypeError, match="swarms must be an AttackedSwarms"):
        attacked_round_batch(tuple(swarms), values, actions)


def test_message_sources_layout_and_errors():
    # Robot 0 hears honest robot 1 and Byzantine robot 2 (k = 0); robot 2 hears robot 0.
    got = message_sources([0, 2, 2, 3], [1, 2, 0], n_honest=2)
    np.testing.assert_array_equal(got, [1, 2 + 0 * 3 + 0, 0])
    with pytest.raises(ValueError, match=r"n_honest must be <= 3"):
        message_sources([0, 2, 2, 3], [1, 2, 0], n_honest=4)
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 3\)"):
        message_sources([0, 2, 2, 3], [1, 7, 0], n_honest=2)
