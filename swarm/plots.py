"""Plots of consensus runs: trajectories, the network, and an animated GIF.

All drawing uses ``matplotlib.figure.Figure`` with the Agg canvas (no pyplot state, no
display needed).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import networkx as nx
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from swarm.simulate import ConsensusResult
from swarm.topology import positions

__all__ = [
    "animate_consensus",
    "layout",
    "network_frame",
    "plot_network",
    "plot_trajectories",
]

HONEST = "#1f77b4"
BYZANTINE = "#d62728"


def layout(G: nx.Graph) -> np.ndarray:
    """Node positions of shape (n, 2): the ``"pos"`` attribute, else a seeded spring layout."""
    pos = positions(G)
    if pos is None:
        lay = nx.spring_layout(G, seed=0)
        pos = np.array([lay[i] for i in range(G.number_of_nodes())])
    return pos


def _fig_to_rgb(fig: Figure) -> np.ndarray:
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def plot_trajectories(results: Sequence[ConsensusResult], path: str | Path) -> Path:
    """Honest and Byzantine value trajectories, one panel per protocol.

    The vertical range covers the honest values and any Byzantine message within two
    honest widths of them; the lowest and highest message of each Byzantine robot per
    round are drawn dotted, clipped to the frame (huge or non-finite ones sit at the
    edge or are absent).

    Parameters
    ----------
    results : sequence of ConsensusResult
        Runs to draw, one panel each.
    path : str or Path
        PNG file to write.

    Returns
    -------
    Path
        The written file.
    """
    fig = Figure(figsize=(5 * len(results), 3.8), layout="constrained")
    axes = fig.subplots(1, len(results), squeeze=False)[0]
    for ax, res in zip(axes, results, strict=True):
        traj = res.trajectories
        honest = ~res.byzantine
        rounds = np.arange(traj.shape[0])
        h = traj[:, honest]
        lo, hi = float(np.nanmin(h)), float(np.nanmax(h))
        width = hi - lo if hi > lo else 1.0
        sent = res.sent_range[np.isfinite(res.sent_range)]
        near = sent[(sent >= lo - 2 * width) & (sent <= hi + 2 * width)]
        if near.size:
            lo, hi = min(lo, float(near.min())), max(hi, float(near.max()))
        pad = 0.08 * (hi - lo if hi > lo else 1.0)
        ylo, yhi = lo - pad, hi + pad
        ax.plot(rounds, h, color=HONEST, lw=0.6, alpha=0.5)
        if res.byzantine.any():
            band = np.clip(res.sent_range, ylo, yhi)
            for k in range(band.shape[1]):
                ax.step(rounds[1:], band[:, k, 0], color=BYZANTINE, lw=0.9, ls=":")
                ax.step(rounds[1:], band[:, k, 1], color=BYZANTINE, lw=0.9, ls=":")
        ax.set_ylim(ylo, yhi)
        label = f"W-MSR (f={res.f})" if res.protocol == "wmsr" else res.protocol.upper()
        ax.set_title(f"{label}: final spread {res.final_spread:.2g}")
        ax.set_xlabel("round")
        ax.set_ylabel("value")
        ax.plot([], [], color=HONEST, label="honest robots")
        ax.plot([], [], color=BYZANTINE, ls=":", label="Byzantine: lowest / highest sent")
        ax.legend(loc="upper right", fontsize=8)
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path


def _draw_network(ax, G, pos, byzantine, values=None, vmin=0.0, vmax=1.0):
    edges = np.array(list(G.edges), dtype=int).reshape(-1, 2)
    if edges.size:
        from matplotlib.collections import LineCollection

        ax.add_collection(LineCollection(pos[edges], colors="0.75", linewidths=0.5, zorder=1))
    honest = ~byzantine
    if values is None:
        ax.scatter(*pos[honest].T, s=28, c=HONEST, zorder=2, label="honest")
    else:
        sc = ax.scatter(*pos[honest].T, s=28, c=values[honest], cmap="viridis",
                        vmin=vmin, vmax=vmax, zorder=2, label="honest")
        ax.figure.colorbar(sc, ax=ax, shrink=0.8, label="value")
    ax.scatter(*pos[byzantine].T, s=60, c=BYZANTINE, marker="X", zorder=3, label="Byzantine")
    ax.set_aspect("equal")
    ax.autoscale_view()
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(loc="upper right", fontsize=8)


def plot_network(G: nx.Graph, byzantine: np.ndarray, path: str | Path) -> Path:
    """Draw the communication graph with the Byzantine robots marked.

    Parameters
    ----------
    G : networkx.Graph
        The graph (positions from ``"pos"`` or a seeded layout).
    byzantine : numpy.ndarray of bool, shape (n,)
        Byzantine robots.
    path : str or Path
        PNG file to write.

    Returns
    -------
    Path
        The written file.
    """
    fig = Figure(figsize=(6, 6), layout="constrained")
    ax = fig.subplots()
    _draw_network(ax, G, layout(G), np.asarray(byzantine, dtype=bool))
    ax.set_title(f"{G.number_of_nodes()} robots, {int(np.sum(byzantine))} Byzantine")
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path


def network_frame(
    G: nx.Graph,
    byzantine: np.ndarray,
    values: np.ndarray,
    *,
    vmin: float,
    vmax: float,
    title: str = "",
    size: tuple[float, float] = (5.0, 4.5),
    dpi: int = 80,
) -> np.ndarray:
    """Render the network coloured by value as an RGB array.

    Parameters
    ----------
    G : networkx.Graph
        The graph.
    byzantine : numpy.ndarray of bool, shape (n,)
        Byzantine robots.
    values : numpy.ndarray, shape (n,)
        Values to colour the honest robots by.
    vmin, vmax : float
        Colour scale.
    title : str
        Frame title.
    size : tuple of float
        Figure size in inches.
    dpi : int
        Resolution.

    Returns
    -------
    numpy.ndarray of uint8, shape (H, W, 3)
        The frame.
    """
    fig = Figure(figsize=size, layout="constrained")
    ax = fig.subplots()
    _draw_network(ax, G, layout(G), np.asarray(byzantine, dtype=bool), values, vmin, vmax)
    ax.set_title(title)
    fig.set_dpi(dpi)
    return _fig_to_rgb(fig)


def animate_consensus(
    G: nx.Graph, result: ConsensusResult, path: str | Path, *, frames: int = 30
) -> Path:
    """Animated GIF of honest values spreading over the network.

    Parameters
    ----------
    G : networkx.Graph
        The graph the run used.
    result : ConsensusResult
        The run.
    path : str or Path
        GIF file to write.
    frames : int
        Number of frames at most, spaced geometrically over the rounds.

    Returns
    -------
    Path
        The written file.
    """
    traj = result.trajectories
    honest = ~result.byzantine
    vmin, vmax = float(traj[0, honest].min()), float(traj[0, honest].max())
    # Denser frames early on, where most of the change happens.
    idx = np.unique(np.geomspace(1, traj.shape[0], frames).round().astype(int) - 1)
    label = f"W-MSR f={result.f}" if result.protocol == "wmsr" else result.protocol.upper()
    images = [
        Image.fromarray(network_frame(G, result.byzantine, traj[t], vmin=vmin, vmax=vmax,
                                      title=f"{label}, round {t}"))
        for t in idx
    ]
    path = Path(path)
    images[0].save(path, save_all=True, append_images=images[1:], duration=150, loop=0)
    return path
