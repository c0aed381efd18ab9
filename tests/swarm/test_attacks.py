import numpy as np
import pytest

from swarm.attacks import (
    ATTACKS,
    AttackContext,
    StealthyDriftAttack,
    TwoFacedAttack,
    make_attack,
    select_byzantine,
)
from swarm.topology import robust_graph, to_csr


def _ctx(seed=0, n=20, n_byz=3, f=1):
    rng = np.random.default_rng(seed)
    indptr, indices = to_csr(robust_graph(n, 3, rng))
    byz = select_byzantine(indptr, indices, n_byz, rng)
    return AttackContext(indptr, indices, byz, rng.uniform(0, 1, n), f), rng


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_every_attack_sends_one_message_per_byzantine_out_edge(name):
    ctx, rng = _ctx()
    attack = make_attack(name)
    attack.reset(ctx, rng)
    for t in range(3):
        msgs = attack.messages(t, ctx.initial.copy())
        assert msgs.shape == ctx.edge_index.shape
    assert np.all(ctx.byzantine[ctx.indices[ctx.edge_index]])


def test_two_faced_tells_neighbours_different_things():
    ctx, rng = _ctx()
    attack = TwoFacedAttack()
    attack.reset(ctx, rng)
    msgs = attack.messages(0, ctx.initial)
    for b in np.flatnonzero(ctx.byzantine):
        sent = set(msgs[ctx.sender == b].tolist())
        assert sent == {ctx.honest_lo - ctx.width, ctx.honest_hi + ctx.width}


def test_stealthy_drift_stays_within_each_receivers_honest_range():
    ctx, rng = _ctx(seed=3)
    attack = StealthyDriftAttack(rate=1.0)
    attack.reset(ctx, rng)
    values = rng.uniform(0, 1, ctx.byzantine.size)
    msgs = attack.messages(0, values)
    for k, j in enumerate(ctx.receiver):
        nbrs = ctx.indices[ctx.indptr[j] : ctx.indptr[j + 1]]
        honest_vals = values[nbrs[~ctx.byzantine[nbrs]]]
        assert values[j] <= msgs[k] <= max(values[j], honest_vals.max(initial=-np.inf))


def test_f_local_selection_respects_the_local_bound():
    rng = np.random.default_rng(1)
    indptr, indices = to_csr(robust_graph(60, 3, rng))
    byz = select_byzantine(indptr, indices, 8, rng, threat="local", f=1)
    assert byz.sum() == 8
    for i in np.flatnonzero(~byz):
        assert byz[indices[indptr[i] : indptr[i + 1]]].sum() <= 1


def test_f_local_impossible_request_is_a_clear_error():
    indptr, indices = to_csr(robust_graph(6, 3, np.random.default_rng(0)))
    with pytest.raises(ValueError, match="cannot place 5 Byzantine robots"):
        select_byzantine(indptr, indices, 5, np.random.default_rng(0), threat="local", f=0)


@pytest.mark.parametrize(
    ("name", "kwargs", "exc", "match"),
    [
        ("nope", {}, ValueError, "unknown attack 'nope'"),
        ("constant", {"bogus": 1}, TypeError, "bogus"),
        ("oscillating", {"period": 1}, ValueError, "period must be >= 2"),
        ("stealthy_drift", {"rate": 2.0}, ValueError, r"rate must be in \[0, 1\]"),
        ("constant", {"value": float("nan")}, ValueError, "value must be finite"),
    ],
)
def test_bad_attack_arguments(name, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        make_attack(name, **kwargs)
