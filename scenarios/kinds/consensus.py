"""Byzantine consensus: LCP and W-MSR on the same swarm, graph, attackers and seed.

Examples
--------
Twelve robots on a complete graph, one of them Byzantine (two-faced): W-MSR agrees
within 20 rounds, LCP does not.

>>> from scenarios.config import validate_params
>>> from scenarios.kinds import consensus
>>> from scenarios.runner import resolve_params
>>> raw = {"n_robots": 12, "topology": "complete", "n_byzantine": 1, "rounds": 20}
>>> params = resolve_params(consensus, validate_params(raw, consensus.PARAMS, where="demo"))
>>> out = consensus.run(params, seed=0)
>>> {p: out.summary[p]["converged_round"] for p in ("lcp", "wmsr")}
{'lcp': None, 'wmsr': 3}
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scenarios.config import Outcome, Param, ScenarioError
from swarm import topology
from swarm.attacks import ATTACKS, make_attack, select_byzantine
from swarm.plots import animate_consensus, layout, plot_network, plot_trajectories
from swarm.robustness import robustness_bounds
from swarm.simulate import PROTOCOLS, simulate_consensus
from swarm.viewer import consensus_stride, write_consensus_viewer

__all__ = ["DESCRIPTION", "METRICS", "PARAMS", "TOPOLOGIES", "resolve", "run", "write_artifacts"]

DESCRIPTION = "Robots reach agreement while Byzantine robots attack; LCP vs W-MSR."

TOPOLOGIES = ("robust_geometric", "robust", "geometric", "erdos_renyi", "ring", "complete")
_INIT = 1e300  # |initial value| bound: the plots' axis arithmetic overflows near 1.8e308


def _topology_in(*names: str):
    return lambda p: p["topology"] in names


PARAMS: dict[str, Param] = {
    "n_robots": Param(100, int, "number of robots", low=2, high=100_000),
    "topology": Param("robust_geometric", str, "communication graph builder", choices=TOPOLOGIES),
    "robustness": Param(
        0,
        int,
        "r of the robust builders (0: 2 * n_byzantine + 1)",
        low=0,
        high=100_000,
        applies=_topology_in("robust_geometric", "robust"),
    ),
    "radio_range": Param(
        0.15,
        float,
        "radio range in units of the square's side (geometric)",
        low=0.0,
        low_open=True,
        applies=_topology_in("robust_geometric", "geometric"),
    ),
    "ring_k": Param(
        2, int, "neighbours on each side (ring)", low=1, high=100_000, applies=_topology_in("ring")
    ),
    "edge_probability": Param(
        0.1,
        float,
        "edge probability (erdos_renyi)",
        low=0.0,
        high=1.0,
        applies=_topology_in("erdos_renyi"),
    ),
    "n_byzantine": Param(2, int, "number of Byzantine robots (F)", low=0, high=100_000),
    "threat": Param("total", str, "threat model", choices=("total", "local")),
    "attack": Param("two_faced", str, "attack model", choices=tuple(ATTACKS)),
    "protocols": Param(
        ["lcp", "wmsr"],
        list,
        "protocols compared",
        choices=PROTOCOLS,
        check=lambda v: len(v) > 0 and len(set(v)) == len(v),
        check_msg="(non-empty, no repeats)",
    ),
    "wmsr_f": Param(
        -1,
        int,
        "W-MSR trimming parameter (-1: n_byzantine; at most the graph's largest in-degree)",
        low=-1,
        high=100_000,
        applies=lambda p: "wmsr" in p["protocols"] or p["threat"] == "local",
    ),
    "rounds": Param(200, int, "number of rounds", low=1, high=1_000_000),
    "tol": Param(
        1e-3, float, "spread below which the swarm counts as converged", low=0.0, low_open=True
    ),
    "init_low": Param(
        0.0, float, "lower end of the uniform initial values", low=-_INIT, high=_INIT
    ),
    "init_high": Param(
        1.0, float, "upper end of the uniform initial values", low=-_INIT, high=_INIT
    ),
    "gif_frames": Param(30, int, "frames of consensus.gif", low=2, high=500),
}


#: Dotted paths of the summary (sweeps check their ``metrics`` against these).
METRICS = (
    *(
        f"{proto}.{m}"
        for proto in PROTOCOLS
        for m in ("final_spread", "hull_violation", "converged_round", "final_mean")
    ),
    *(
        f"graph.{m}"
        for m in ("nodes", "edges", "lower", "upper", "min_degree", "node_connectivity")
    ),
)


def resolve(params: dict) -> dict:
    """Return ``params`` with the placeholders replaced by the values a run uses.

    ``robustness = 0`` becomes ``2 * n_byzantine + 1`` (robust topologies) and
    ``wmsr_f = -1`` becomes ``n_byzantine``.
    """
    p = dict(params)
    if p["topology"] in ("robust_geometric", "robust") and p["robustness"] == 0:
        p["robustness"] = 2 * p["n_byzantine"] + 1
    if p["wmsr_f"] < 0:
        p["wmsr_f"] = p["n_byzantine"]
    return p


def _build_graph(p: dict, rng: np.random.Generator):
    n = p["n_robots"]
    r = p["robustness"]
    kind = p["topology"]
    try:
        if kind == "robust_geometric":
            return topology.robust_geometric(n, r, p["radio_range"], rng)
        if kind == "robust":
            return topology.robust_graph(n, r, rng)
        if kind == "geometric":
            return topology.random_geometric(n, p["radio_range"], rng)
        if kind == "erdos_renyi":
            return topology.erdos_renyi(n, p["edge_probability"], rng)
        if kind == "ring":
            return topology.ring_lattice(n, p["ring_k"])
        return topology.complete(n)
    except ValueError as exc:
        raise ScenarioError(f"params for topology {kind!r}: {exc}") from None


def run(params: dict, *, seed: int, progress: bool = False) -> Outcome:
    """Run every protocol of ``params["protocols"]`` on one swarm.

    Parameters
    ----------
    params : dict
        Checked parameters (see ``PARAMS``).
    seed : int
        Seeds the graph, the initial values, the Byzantine set and the attack.
    progress : bool
        Show progress bars.

    Returns
    -------
    Outcome
        Summary keyed by protocol, a comparison table, and the runs for plotting.
    """
    p = resolve(params)
    if p["init_high"] < p["init_low"]:
        raise ScenarioError("params.init_high must be >= params.init_low")
    if p["n_byzantine"] >= p["n_robots"]:
        raise ScenarioError("params.n_byzantine must be < params.n_robots")
    g_graph, g_init, g_byz, g_attack = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )
    G = _build_graph(p, g_graph)
    indptr, indices = topology.to_csr(G)
    initial = g_init.uniform(p["init_low"], p["init_high"], p["n_robots"])
    f = p["wmsr_f"]
    max_in = int(np.diff(indptr).max(initial=0))
    if f > max_in and ("wmsr" in p["protocols"] or p["threat"] == "local"):
        which = "wmsr_f" if params["wmsr_f"] >= 0 else "wmsr_f (= n_byzantine)"
        raise ScenarioError(
            f"params.{which} = {f} exceeds the graph's largest in-degree "
            f"{max_in}: W-MSR would trim every message; use at most {max_in}"
        )
    try:
        byz = select_byzantine(indptr, indices, p["n_byzantine"], g_byz, threat=p["threat"], f=f)
    except ValueError as exc:
        raise ScenarioError(f"params.n_byzantine: {exc}") from None
    attack_seed = g_attack.integers(2**63)
    stride = consensus_stride(
        p["n_robots"],
        p["rounds"],
        len(p["protocols"]),
        int(byz[indices].sum()),
        G.number_of_edges(),
    )
    results = []
    for proto in p["protocols"]:
        res = simulate_consensus(
            (indptr, indices),
            initial,
            byz,
            make_attack(p["attack"]),
            protocol=proto,
            f=f,
            rounds=p["rounds"],
            rng=np.random.default_rng(attack_seed),
            tol=p["tol"],
            progress=progress,
            record_messages=stride,
        )
        results.append(res)
    summary = {r.protocol: r.metrics() for r in results}
    summary["byzantine"] = np.flatnonzero(byz).tolist()
    summary["graph"] = {
        "nodes": G.number_of_nodes(),
        "edges": G.number_of_edges(),
        **robustness_bounds(G),
    }
    rows = [
        [
            r.protocol if r.protocol == "lcp" else f"wmsr (f={r.f})",
            r.final_spread,
            r.hull_violation,
            r.converged_round,
            r.final_mean,
        ]
        for r in results
    ]
    table = (
        f"{p['n_robots']} robots, {int(byz.sum())} Byzantine ({p['attack']}), {p['rounds']} rounds",
        ["protocol", "final_spread", "hull_violation", "converged_round", "final_mean"],
        rows,
    )
    radius = p["radio_range"] if p["topology"] in ("robust_geometric", "geometric") else None
    title = (
        f"Byzantine consensus: {p['n_robots']} robots, {p['topology']} graph, {p['attack']} attack"
    )
    return Outcome(
        summary=summary,
        tables=[table],
        data={
            "graph": G,
            "results": results,
            "gif_frames": p["gif_frames"],
            "radio_range": radius,
            "viewer": {"stride": stride, "radius": radius, "title": title},
        },
    )


def write_artifacts(outcome: Outcome, out_dir: Path) -> list[Path]:
    """Write ``trajectories.png``, ``network.png``, ``consensus.gif`` and ``viewer.html``.

    The GIF shows the protocols side by side on the same layout.

    Parameters
    ----------
    outcome : Outcome
        From :func:`run`.
    out_dir : Path
        Output folder.

    Returns
    -------
    list of Path
        The written files.
    """
    G = outcome.data["graph"]
    results = outcome.data["results"]
    frames = outcome.data["gif_frames"]
    rr = outcome.data.get("radio_range")
    return [
        plot_trajectories(results, out_dir / "trajectories.png"),
        plot_network(G, results[0].byzantine, out_dir / "network.png", radio_range=rr),
        animate_consensus(G, results, out_dir / "consensus.gif", frames=frames, radio_range=rr),
        write_consensus_viewer(
            out_dir / "viewer.html", G, results, layout(G), **outcome.data["viewer"]
        ),
    ]
