"""The DBP paper's two claims against W-MSR, as runnable experiments on static graphs.

1. :func:`connectivity_claim`: on a network that is ``(F+1)``-connected but not
   ``(2F+1)``-robust (two cliques joined by ``F+1`` disjoint bridges, ``F`` of them held
   by Byzantine robots), DBP brings every cooperative robot to the value the observers
   see, while W-MSR with parameter ``F`` leaves the far clique where it started.
2. :func:`single_observer_claim`: on a complete graph (as robust as a graph can be), one
   cooperative observer of a new value is enough for DBP to spread it, whereas W-MSR
   needs ``F + 1`` observers (a single outlier is always trimmed), even when the ``F``
   Byzantine robots it must be ready for stay silent.

In both, observers measure the true value exactly each round and flood it (hop limit
``hop_limit``); Byzantine robots flood a fake value; an observer accuses the origin of any
value different from its own measurement; non-observers take the mean of the freshest
values from robots they do not block. Under W-MSR the observers hold the true value and
the others run :func:`protocols.wmsr.wmsr_step`, Byzantine robots sending the fake value.

Examples
--------
Claim 1 with ``F = 1``: the largest cooperative error after 10 rounds.

>>> from swarm.dbp_claims import connectivity_claim
>>> r = connectivity_claim(f=1, rounds=10)
>>> {protocol: float(result.error[-1]) for protocol, result in r.items()}
{'dbp': 0.0, 'wmsr': 1.0}
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

from protocols.checks import check_int
from protocols.dbp import AccusationGossip, DynamicBlocklist, Flood
from protocols.wmsr import wmsr_step
from swarm.topology import to_csr

__all__ = [
    "ClaimResult",
    "bridged_cliques",
    "connectivity_claim",
    "run_scalar",
    "single_observer_claim",
]


@dataclass
class ClaimResult:
    """Outcome of one scalar-consensus run.

    Attributes
    ----------
    protocol : str
        ``"dbp"`` or ``"wmsr"``.
    values : numpy.ndarray, shape (rounds + 1, n)
        Every robot's value per round (Byzantine entries are their reports).
    error : numpy.ndarray, shape (rounds + 1,)
        Largest distance of a cooperative robot's value from the true value.
    blocked : numpy.ndarray of bool, shape (n,)
        Final blocklist (all False under W-MSR).
    """

    protocol: str
    values: np.ndarray
    error: np.ndarray
    blocked: np.ndarray


def bridged_cliques(clique: int, f: int) -> tuple[nx.Graph, list[int]]:
    """Two cliques ``A = [0, clique)`` and ``B = [clique, 2 clique)`` joined by ``f + 1`` bridges.

    Bridge ``i`` joins ``i`` and ``clique + i``. The graph is ``(f+1)``-connected (the
    bridges are vertex-disjoint) when ``clique > f + 1``, and not 2-robust: in the pair
    of sets ``(A, B)`` no robot has more than one neighbour outside its own set.

    Parameters
    ----------
    clique : int
        Size of each clique, ``> f + 1``.
    f : int
        Number of Byzantine robots to tolerate, ``>= 1``.

    Returns
    -------
    G : networkx.Graph
        The graph.
    bridges : list of int
        The bridge endpoints in ``A`` (``0 .. f``).
    """
    f = check_int("f", f, low=1)
    clique = check_int("clique", clique, low=f + 2)
    G = nx.complete_graph(clique)
    G.add_edges_from(nx.relabel_nodes(nx.complete_graph(clique), lambda v: v + clique).edges)
    G.add_edges_from((i, clique + i) for i in range(f + 1))
    return G, list(range(f + 1))


def run_scalar(
    G: nx.Graph,
    observers,
    byzantine,
    *,
    protocol: str,
    truth: float = 1.0,
    initial: float = 0.0,
    fake: float | None = -1.0,
    f: int = 1,
    rounds: int = 30,
    hop_limit: int = 4,
    tol: float = 1e-9,
) -> ClaimResult:
    """Spread an observed scalar through a static graph under DBP or W-MSR.

    Parameters
    ----------
    G : networkx.Graph
        Undirected communication graph on nodes ``0 .. n-1``.
    observers : sequence of int
        Cooperative robots that measure ``truth``.
    byzantine : sequence of int
        Byzantine robots (report ``fake``, never forward).
    protocol : {"dbp", "wmsr"}
        Defence.
    truth, initial : float
        True value, starting value of the non-observers.
    fake : float or None
        Byzantine report; ``None`` makes the Byzantine robots silent.
    f : int
        W-MSR parameter.
    rounds : int
        Number of rounds.
    hop_limit : int
        DBP observation hop limit.
    tol : float
        Observers accuse a report farther than this from their measurement.

    Returns
    -------
    ClaimResult
        Values and error per round.
    """
    if protocol not in ("dbp", "wmsr"):
        raise ValueError(f"protocol must be 'dbp' or 'wmsr', got {protocol!r}")
    n = G.number_of_nodes()
    rounds = check_int("rounds", rounds, low=0)
    indptr, indices = to_csr(G)
    obs = np.zeros(n, dtype=bool)
    obs[list(observers)] = True
    byz = np.zeros(n, dtype=bool)
    byz[list(byzantine)] = True
    if np.any(obs & byz):
        raise ValueError("observers must be cooperative (not in byzantine)")
    coop = ~byz
    silent = fake is None
    fake = np.nan if silent else float(fake)
    x = np.full(n, float(initial))
    x[obs] = truth
    x[byz] = initial if silent else fake
    values = [x.copy()]
    bl = DynamicBlocklist(n)
    if protocol == "wmsr":
        for _ in range(rounds):
            msgs = x[indices]
            msgs[byz[indices]] = fake
            x = wmsr_step(x, indptr, indices, msgs, f)
            x[obs] = truth
            x[byz] = initial if silent else fake
            values.append(x.copy())
    else:
        flood = Flood(n, payload_dim=1, hop_limit=hop_limit)
        gossip = AccusationGossip(n)
        best_ts = np.full(n, -1, dtype=np.int64)
        acc_sum = np.zeros(n)
        acc_cnt = np.zeros(n, dtype=np.int64)
        issued: set[tuple[int, int]] = set()
        relays = coop.copy()
        senders = np.flatnonzero(obs | (byz & (not silent)))
        for t in range(1, rounds + 1):
            flood.send_observations(senders, t - 1, np.where(byz[senders], fake, truth)[:, None])
            fin = gossip.step(indptr, indices, relays, symmetric=True)
            if fin["accuser"].size:
                bl.add_many(np.column_stack([fin["accuser"], fin["accused"]]))
            d = flood.step(indptr, indices, bl.blocked.copy(), relays, symmetric=True)
            new_a, new_b = [], []
            for v, o, ts, val in zip(
                d.receiver, d.origin, d.timestamp, d.payload[:, 0], strict=True
            ):
                if byz[v] or bl.blocked[o]:
                    continue
                if obs[v]:
                    if abs(val - truth) > tol and (v, o) not in issued:
                        issued.add((int(v), int(o)))
                        new_a.append(int(v))
                        new_b.append(int(o))
                    continue
                if ts > best_ts[v]:
                    best_ts[v], acc_sum[v], acc_cnt[v] = ts, 0.0, 0
                if ts == best_ts[v]:
                    acc_sum[v] += val
                    acc_cnt[v] += 1
            if new_a:
                gossip.issue(new_a, new_b, t)
            has = (acc_cnt > 0) & ~obs & coop
            x[has] = acc_sum[has] / acc_cnt[has]
            values.append(x.copy())
    vals = np.array(values)
    error = np.max(np.abs(vals[:, coop] - truth), axis=1)
    vals[:, byz] = np.where(silent, np.nan, vals[:, byz])
    return ClaimResult(protocol=protocol, values=vals, error=error, blocked=bl.blocked.copy())


def connectivity_claim(
    f: int = 2, clique: int | None = None, rounds: int = 30
) -> dict[str, ClaimResult]:
    """Claim 1: DBP succeeds on an (F+1)-connected, not (2F+1)-robust graph; W-MSR fails.

    Byzantine robots sit on ``F`` of the ``F + 1`` bridge endpoints in clique ``A``;
    every cooperative robot of ``A`` observes the true value; clique ``B`` starts at 0.

    Parameters
    ----------
    f : int
        Number of Byzantine robots (and W-MSR parameter), ``>= 1``.
    clique : int, optional
        Clique size (default ``2 f + 3``).
    rounds : int
        Rounds simulated.

    Returns
    -------
    dict
        ``"dbp"`` and ``"wmsr"`` results.
    """
    f = check_int("f", f, low=1)
    clique = 2 * f + 3 if clique is None else clique
    G, bridges = bridged_cliques(clique, f)
    byz = bridges[:f]
    observers = [v for v in range(clique) if v not in byz]
    return {
        p: run_scalar(G, observers, byz, protocol=p, f=f, rounds=rounds) for p in ("dbp", "wmsr")
    }


def single_observer_claim(
    f: int = 2, n: int | None = None, rounds: int = 20
) -> dict[str, ClaimResult]:
    """Claim 2: one observer spreads a new value under DBP; W-MSR needs F + 1.

    On the complete graph ``K_n`` with ``F`` silent Byzantine robots.

    Parameters
    ----------
    f : int
        Number of Byzantine robots (and W-MSR parameter), ``>= 1``.
    n : int, optional
        Number of robots (default ``4 f + 3``).
    rounds : int
        Rounds simulated.

    Returns
    -------
    dict
        ``"dbp"`` (one observer), ``"wmsr"`` (one observer) and ``"wmsr_f+1"``
        (``F + 1`` observers) results.
    """
    f = check_int("f", f, low=1)
    n = 4 * f + 3 if n is None else check_int("n", n, low=3 * f + 2)
    G = nx.complete_graph(n)
    byz = list(range(n - f, n))
    out = {
        p: run_scalar(G, [0], byz, protocol=p, f=f, fake=None, rounds=rounds)
        for p in ("dbp", "wmsr")
    }
    out["wmsr_f+1"] = run_scalar(
        G, list(range(f + 1)), byz, protocol="wmsr", f=f, fake=None, rounds=rounds
    )
    return out
