"""Byzantine consensus: LCP and W-MSR on the same swarm, graph, attackers and seed."""

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

DESCRIPTION = "Robots reach agreement while Byzantine robots attack; LCP vs W-MSR."

TOPOLOGIES = ("robust_geometric", "robust", "geometric", "erdos_renyi", "ring", "complete")

PARAMS: dict[str, Param] = {
    "n_robots": Param(100, int, "number of robots", low=2, high=100_000),
    "topology": Param("robust_geometric", str, "communication graph builder", choices=TOPOLOGIES),
    "robustness": Param(0, int, "r of the robust builders (0: 2 * n_byzantine + 1)", low=0),
    "radio_range": Param(0.15, float, "radio range in units of the square's side (geometric)",
                         low=0.0, check=lambda v: v > 0, check_msg="and > 0"),
    "ring_k": Param(2, int, "neighbours on each side (ring)", low=1),
    "edge_probability": Param(0.1, float, "edge probability (erdos_renyi)", low=0.0, high=1.0),
    "n_byzantine": Param(2, int, "number of Byzantine robots (F)", low=0),
    "threat": Param("total", str, "threat model", choices=("total", "local")),
    "attack": Param("two_faced", str, "attack model", choices=tuple(ATTACKS)),
    "protocols": Param(["lcp", "wmsr"], list, "protocols compared", choices=PROTOCOLS,
                       check=lambda v: len(v) > 0 and len(set(v)) == len(v),
                       check_msg="(non-empty, no repeats)"),
    "wmsr_f": Param(-1, int, "W-MSR trimming parameter (-1: n_byzantine)", low=-1),
    "rounds": Param(200, int, "number of rounds", low=1, high=1_000_000),
    "tol": Param(1e-3, float, "spread below which the swarm counts as converged",
                 low=0.0, check=lambda v: v > 0, check_msg="and > 0"),
    "init_low": Param(0.0, float, "lower end of the uniform initial values"),
    "init_high": Param(1.0, float, "upper end of the uniform initial values"),
    "gif_frames": Param(30, int, "frames of consensus.gif", low=2, high=500),
}


def _build_graph(p: dict, rng: np.random.Generator):
    n = p["n_robots"]
    r = p["robustness"] or 2 * p["n_byzantine"] + 1
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
    p = params
    if p["init_high"] < p["init_low"]:
        raise ScenarioError("params.init_high must be >= params.init_low")
    if p["n_byzantine"] >= p["n_robots"]:
        raise ScenarioError("params.n_byzantine must be < params.n_robots")
    g_graph, g_init, g_byz, g_attack = (np.random.default_rng(s)
                                        for s in np.random.SeedSequence(seed).spawn(4))
    G = _build_graph(p, g_graph)
    indptr, indices = topology.to_csr(G)
    initial = g_init.uniform(p["init_low"], p["init_high"], p["n_robots"])
    f = p["n_byzantine"] if p["wmsr_f"] < 0 else p["wmsr_f"]
    try:
        byz = select_byzantine(indptr, indices, p["n_byzantine"], g_byz, threat=p["threat"], f=f)
    except ValueError as exc:
        raise ScenarioError(f"params.n_byzantine: {exc}") from None
    attack_seed = g_attack.integers(2**63)
    stride = consensus_stride(p["n_robots"], p["rounds"], len(p["protocols"]),
                              int(byz[indices].sum()), G.number_of_edges())
    results = []
    for proto in p["protocols"]:
        res = simulate_consensus(
            (indptr, indices), initial, byz, make_attack(p["attack"]),
            protocol=proto, f=f, rounds=p["rounds"], rng=np.random.default_rng(attack_seed),
            tol=p["tol"], progress=progress, record_messages=stride,
        )
        results.append(res)
    summary = {r.protocol: r.metrics() for r in results}
    summary["byzantine"] = np.flatnonzero(byz).tolist()
    summary["graph"] = {"nodes": G.number_of_nodes(), "edges": G.number_of_edges(),
                        **robustness_bounds(G)}
    rows = [[r.protocol if r.protocol == "lcp" else f"wmsr (f={r.f})", r.final_spread,
             r.hull_violation, r.converged_round, r.final_mean] for r in results]
    table = (f"{p['n_robots']} robots, {int(byz.sum())} Byzantine ({p['attack']}), "
             f"{p['rounds']} rounds",
             ["protocol", "final_spread", "hull_violation", "converged_round", "final_mean"],
             rows)
    radius = p["radio_range"] if p["topology"] in ("robust_geometric", "geometric") else None
    title = (f"Byzantine consensus: {p['n_robots']} robots, {p['topology']} graph, "
             f"{p['attack']} attack")
    return Outcome(summary=summary, tables=[table],
                   data={"graph": G, "results": results, "gif_frames": p["gif_frames"],
                         "radio_range": radius,
                         "viewer": {"stride": stride, "radius": radius, "title": title}})


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
        animate_consensus(G, results, out_dir / "consensus.gif", frames=frames,
                          radio_range=rr),
        write_consensus_viewer(out_dir / "viewer.html", G, results, layout(G),
                               **outcome.data["viewer"]),
    ]
