"""The consensus simulation loop: a protocol on a graph under attack for T rounds.

Examples
--------
One Byzantine robot of five on a complete graph sends 100 every round: W-MSR with
``f = 1`` stays in the honest hull [0, 3] and converges; LCP is dragged out of it.

>>> import numpy as np
>>> from swarm.attacks import make_attack
>>> from swarm.simulate import simulate_consensus
>>> from swarm.topology import complete
>>> x0, byzantine = [0.0, 1.0, 2.0, 3.0, 4.0], [False, False, False, False, True]
>>> attack, rng = make_attack("constant", value=100.0), np.random.default_rng(0)
>>> r = simulate_consensus(complete(5), x0, byzantine, attack, rounds=20, rng=rng)
>>> r.hull_violation, r.converged_round, round(r.final_mean, 6)
(0.0, 6, 2.0)
>>> lcp = simulate_consensus(complete(5), x0, byzantine, attack, protocol="lcp", rounds=20, rng=rng)
>>> bool(lcp.hull_violation > 90)
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import numpy as np
from tqdm.auto import tqdm

from protocols.checks import check_csr, check_float_array, check_int, check_nonneg_float
from protocols.wmsr import wmsr_step
from swarm.attacks import Attack, AttackContext
from swarm.metrics import converged_round, honest_spread, hull_violation
from swarm.topology import to_csr

__all__ = ["PROTOCOLS", "ConsensusResult", "simulate_consensus"]

#: Protocols the loop can run.
PROTOCOLS = ("lcp", "wmsr")


@dataclass
class ConsensusResult:
    """Trajectories and metrics of one consensus run.

    Attributes
    ----------
    protocol : str
        ``"lcp"`` or ``"wmsr"``.
    f : int
        W-MSR trimming parameter (0 for LCP).
    trajectories : numpy.ndarray, shape (rounds + 1, n)
        Row t holds every robot's value after t rounds. For a Byzantine robot it is
        the mean of the finite messages it sent that round (NaN when silent).
    byzantine : numpy.ndarray of bool, shape (n,)
        Byzantine robots.
    tol : float
        Spread tolerance used for ``converged_round``.
    sent_range : numpy.ndarray, shape (rounds, n_byzantine, 2)
        Lowest and highest finite message each Byzantine robot sent in each round
        (NaN when it sent none): a two-faced robot shows a wide range.
    honest_spread : numpy.ndarray, shape (rounds + 1,)
        Max minus min of honest values per round.
    hull_violation : float
        How far an honest value ever left the honest initial interval (0 when safe).
    converged_round : int or None
        First round with spread below ``tol``.
    final_mean : float
        Mean honest value at the end.
    messages : numpy.ndarray or None, shape (ceil(rounds / k), n_byzantine_edges)
        With ``record_messages=k``: row j holds what the Byzantine robots sent in round
        ``j * k`` along each in-edge whose sender is Byzantine, in CSR edge order (NaN
        where silent); None when not recorded.
    """

    protocol: str
    f: int
    trajectories: np.ndarray
    byzantine: np.ndarray
    tol: float
    sent_range: np.ndarray
    messages: np.ndarray | None = None
    honest_spread: np.ndarray = field(init=False)
    hull_violation: float = field(init=False)
    converged_round: int | None = field(init=False)
    final_mean: float = field(init=False)

    def __post_init__(self):
        honest = ~self.byzantine
        self.honest_spread = honest_spread(self.trajectories, honest)
        self.hull_violation = hull_violation(self.trajectories, honest)
        self.converged_round = converged_round(self.honest_spread, self.tol)
        h = self.trajectories[-1, honest]
        self.final_mean = float(h.mean()) if h.size else float("nan")

    @property
    def final_spread(self) -> float:
        """Honest spread after the last round."""
        return float(self.honest_spread[-1])

    def metrics(self) -> dict:
        """Return the summary metrics: final_spread, hull_violation, converged_round, final_mean."""
        return {
            "final_spread": self.final_spread,
            "hull_violation": self.hull_violation,
            "converged_round": self.converged_round,
            "final_mean": self.final_mean,
        }


def simulate_consensus(
    graph: nx.Graph | tuple[np.ndarray, np.ndarray],
    initial,
    byzantine,
    attack: Attack | None,
    *,
    protocol: str = "wmsr",
    f: int = 1,
    rounds: int = 100,
    rng: np.random.Generator,
    tol: float = 1e-3,
    progress: bool = False,
    record_messages: int = 0,
) -> ConsensusResult:
    """Run a consensus protocol for ``rounds`` synchronous rounds under an attack.

    Honest robots send their current value to every out-neighbour; Byzantine robots
    send what ``attack`` says (silence if ``attack`` is None); every robot then applies
    the protocol. Byzantine robots' own updates are ignored.

    Parameters
    ----------
    graph : networkx.Graph or (indptr, indices)
        Communication graph on nodes ``0 .. n-1``, or its in-edge CSR arrays.
    initial : array_like of float, shape (n,)
        Initial values (finite).
    byzantine : array_like of bool, shape (n,)
        Byzantine robots.
    attack : Attack or None
        What the Byzantine robots send.
    protocol : {"lcp", "wmsr"}
        The update rule.
    f : int
        W-MSR trimming parameter, >= 0 (ignored by LCP).
    rounds : int
        Number of rounds, >= 0.
    rng : numpy.random.Generator
        Source of randomness for the attack.
    tol : float
        Spread tolerance for ``converged_round``, > 0.
    progress : bool
        Show a progress bar.
    record_messages : int
        Keep the Byzantine messages of every k-th round (rounds 0, k, 2k, ...) in
        ``ConsensusResult.messages``; 0 keeps none.

    Returns
    -------
    ConsensusResult
        Trajectories and metrics.
    """
    if isinstance(graph, nx.Graph):
        indptr, indices = to_csr(graph)
        n = graph.number_of_nodes()
    else:
        indptr, indices = graph
        n = np.asarray(indptr).shape[0] - 1
    indptr, indices = check_csr(indptr, indices, n)
    initial = check_float_array("initial", initial, shape=(n,), finite=True)
    byzantine = np.asarray(byzantine)
    if byzantine.shape != (n,) or byzantine.dtype != bool:
        raise ValueError(f"byzantine must be a boolean mask of shape ({n},)")
    if n and byzantine.all():
        raise ValueError("byzantine marks every robot: at least one robot must be honest")
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    f = check_int("f", f, low=0, high=2**63 - 1) if protocol == "wmsr" else 0
    rounds = check_int("rounds", rounds, low=0)
    tol = check_nonneg_float("tol", tol, positive=True)
    record_messages = check_int("record_messages", record_messages, low=0)

    ctx = AttackContext(indptr, indices, byzantine, initial, f)
    if attack is not None:
        attack.reset(ctx, rng)
    traj = np.empty((rounds + 1, n))
    traj[0] = initial
    values = initial.copy()
    messages = np.empty(indices.shape[0])
    new = np.empty(n)
    byz_idx = np.flatnonzero(byzantine)
    sent_sum = np.zeros(n)
    sent_cnt = np.zeros(n)
    sent_lo = np.empty(n)
    sent_hi = np.empty(n)
    sent_range = np.full((rounds, byz_idx.size, 2), np.nan)
    n_byz_edges = ctx.edge_index.size
    kept = None
    if record_messages:
        kept = np.empty((-(-rounds // record_messages), n_byz_edges))
    for t in tqdm(range(rounds), disable=not progress, desc=protocol, leave=False):
        np.take(values, indices, out=messages)
        if attack is not None:
            sent = np.asarray(attack.messages(t, values), dtype=np.float64)
            if sent.shape != (n_byz_edges,):
                raise ValueError(
                    f"{type(attack).__name__}.messages returned shape {sent.shape}, "
                    f"expected ({n_byz_edges},)"
                )
        else:
            sent = np.full(n_byz_edges, np.nan)
        messages[ctx.edge_index] = sent
        if kept is not None and t % record_messages == 0:
            kept[t // record_messages] = sent
        # Arrays checked once above: the unchecked per-round path.
        wmsr_step(
            values, indptr, indices, messages, f if protocol == "wmsr" else 0, new, check=False
        )
        # A Byzantine robot's trajectory: the mean of the finite messages it sent.
        finite = np.isfinite(sent)
        sent_sum[:] = 0.0
        sent_cnt[:] = 0.0
        with np.errstate(over="ignore", invalid="ignore"):
            np.add.at(sent_sum, ctx.sender[finite], sent[finite])
            np.add.at(sent_cnt, ctx.sender[finite], 1.0)
        sent_lo[:] = np.inf
        sent_hi[:] = -np.inf
        np.minimum.at(sent_lo, ctx.sender[finite], sent[finite])
        np.maximum.at(sent_hi, ctx.sender[finite], sent[finite])
        with np.errstate(over="ignore", invalid="ignore"):
            new[byz_idx] = np.where(
                sent_cnt[byz_idx] > 0, sent_sum[byz_idx] / np.maximum(sent_cnt[byz_idx], 1), np.nan
            )
        spoke = sent_cnt[byz_idx] > 0
        sent_range[t, spoke, 0] = sent_lo[byz_idx][spoke]
        sent_range[t, spoke, 1] = sent_hi[byz_idx][spoke]
        values, new = new, values
        traj[t + 1] = values
        # Byzantine entries of `values` are never read by honest robots (their
        # messages come from the attack), so the NaN placeholders are harmless; keep
        # the kernels' finite-input contract all the same.
        values[byz_idx] = np.where(np.isfinite(values[byz_idx]), values[byz_idx], 0.0)
    return ConsensusResult(
        protocol=protocol,
        f=f,
        trajectories=traj,
        byzantine=byzantine,
        tol=tol,
        sent_range=sent_range,
        messages=kept,
    )
