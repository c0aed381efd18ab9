"""Plots of consensus runs: trajectories, the network, and an animated GIF.

All drawing uses ``matplotlib.figure.Figure`` with the Agg canvas (no pyplot state, no
display needed).

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> import numpy as np
>>> from swarm.attacks import make_attack
>>> from swarm.plots import plot_trajectories
>>> from swarm.simulate import simulate_consensus
>>> from swarm.topology import robust_geometric, to_csr
>>> rng = np.random.default_rng(0)
>>> G = robust_geometric(20, 3, 0.3, rng)
>>> byzantine = np.arange(20) == 0
>>> run = simulate_consensus(to_csr(G), rng.random(20), byzantine, make_attack("two_faced"),
...                          protocol="wmsr", f=1, rounds=10, rng=np.random.default_rng(1))
>>> with tempfile.TemporaryDirectory() as folder:
...     path = plot_trajectories([run], Path(folder) / "trajectories.png")
...     print(path.name, path.stat().st_size > 0)
trajectories.png True
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
    "save_gif",
    "split_links",
]

#: Colours of the GIF palette (shared by all frames).
GIF_COLOURS = 64
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


def split_links(
    G: nx.Graph, pos: np.ndarray, radio_range: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Split the edges into radio links (at most ``radio_range`` long) and the rest.

    :func:`swarm.topology.robust_geometric` adds, to the links within radio range, the
    links that make the graph robust; those are exactly its edges longer than the radio
    range, so they are recovered from the positions and the range.

    Parameters
    ----------
    G : networkx.Graph
        The graph.
    pos : numpy.ndarray, shape (n, 2)
        Node positions.
    radio_range : float or None
        The radio range in position units; None: every edge is a radio link.

    Returns
    -------
    radio, robustness : numpy.ndarray of int, shapes (m1, 2) and (m2, 2)
        The two sets of edges.
    """
    edges = np.array(list(G.edges), dtype=int).reshape(-1, 2)
    if radio_range is None or edges.size == 0:
        return edges, edges[:0]
    length = np.linalg.norm(pos[edges[:, 0]] - pos[edges[:, 1]], axis=1)
    long = length > radio_range * (1.0 + 1e-12)
    return edges[~long], edges[long]


def _draw_network(
    ax,
    G,
    pos,
    byzantine,
    values=None,
    vmin=0.0,
    vmax=1.0,
    radio_range=None,
    colorbar=True,
    legend=True,
):
    from matplotlib.collections import LineCollection

    radio, robust = split_links(G, pos, radio_range)
    if radio.size:
        label = (
            "radio link"
            if radio_range is None
            else f"radio link (<= {radio_range:g}): {len(radio)}"
        )
        ax.add_collection(
            LineCollection(pos[radio], colors="0.75", linewidths=0.5, zorder=1, label=label)
        )
    if robust.size:
        ax.add_collection(
            LineCollection(
                pos[robust],
                colors="tab:orange",
                linewidths=0.6,
                linestyles=(0, (3, 2)),
                alpha=0.6,
                zorder=1,
                label=f"robustness link (> {radio_range:g}): {len(robust)}",
            )
        )
    honest = ~byzantine
    if values is None:
        ax.scatter(*pos[honest].T, s=28, c=HONEST, zorder=2, label="honest")
    else:
        sc = ax.scatter(
            *pos[honest].T,
            s=28,
            c=values[honest],
            cmap="viridis",
            vmin=vmin,
            vmax=vmax,
            zorder=2,
            label="honest",
        )
        if colorbar:
            ax.figure.colorbar(sc, ax=ax, shrink=0.8, label="value")
    ax.scatter(*pos[byzantine].T, s=60, c=BYZANTINE, marker="X", zorder=3, label="Byzantine")
    ax.set_aspect("equal")
    ax.autoscale_view()
    ax.set_xticks([])
    ax.set_yticks([])
    if legend:
        ax.legend(loc="upper right", fontsize=7)


def plot_network(
    G: nx.Graph, byzantine: np.ndarray, path: str | Path, *, radio_range: float | None = None
) -> Path:
    """Draw the communication graph with the Byzantine robots marked.

    With ``radio_range`` given (and positions on the graph), links within radio range
    are drawn solid grey and longer ones, the robustness links that
    :func:`swarm.topology.robust_geometric` adds, dashed orange; the legend says which.

    Parameters
    ----------
    G : networkx.Graph
        The graph (positions from ``"pos"`` or a seeded layout).
    byzantine : numpy.ndarray of bool, shape (n,)
        Byzantine robots.
    path : str or Path
        PNG file to write.
    radio_range : float, optional
        Radio range in position units.

    Returns
    -------
    Path
        The written file.
    """
    fig = Figure(figsize=(6, 6.4), layout="constrained")
    ax = fig.subplots()
    rr = radio_range if positions(G) is not None else None
    _draw_network(ax, G, layout(G), np.asarray(byzantine, dtype=bool), radio_range=rr, legend=False)
    ax.set_title(
        f"{G.number_of_nodes()} robots, {int(np.sum(byzantine))} Byzantine, "
        f"{G.number_of_edges()} links"
    )
    fig.legend(loc="outside lower center", ncols=2, fontsize=8)
    path = Path(path)
    fig.savefig(path, dpi=100)
    return path


def _label(result: ConsensusResult) -> str:
    return f"W-MSR (f={result.f})" if result.protocol == "wmsr" else result.protocol.upper()


def network_frame(
    G: nx.Graph,
    byzantine: np.ndarray,
    values: np.ndarray | Sequence[np.ndarray],
    *,
    vmin: float,
    vmax: float,
    title: str | Sequence[str] = "",
    size: tuple[float, float] = (5.0, 4.5),
    dpi: int = 80,
    radio_range: float | None = None,
) -> np.ndarray:
    """Render the network coloured by value as an RGB array, one panel per value set.

    Parameters
    ----------
    G : networkx.Graph
        The graph.
    byzantine : numpy.ndarray of bool, shape (n,)
        Byzantine robots.
    values : numpy.ndarray, shape (n,), or a sequence of them
        Values to colour the honest robots by; several give side-by-side panels on
        the same layout.
    vmin, vmax : float
        Colour scale (shared by the panels).
    title : str or sequence of str
        Panel titles.
    size : tuple of float
        Size of one panel in inches.
    dpi : int
        Resolution.
    radio_range : float, optional
        Draw links longer than this as robustness links (see :func:`plot_network`).

    Returns
    -------
    numpy.ndarray of uint8, shape (H, W, 3)
        The frame.
    """
    values = [values] if isinstance(values, np.ndarray) and values.ndim == 1 else list(values)
    titles = [title] * len(values) if isinstance(title, str) else list(title)
    fig = Figure(figsize=(size[0] * len(values), size[1]), layout="constrained")
    axes = fig.subplots(1, len(values), squeeze=False)[0]
    pos = layout(G)
    rr = radio_range if positions(G) is not None else None
    byz = np.asarray(byzantine, dtype=bool)
    for k, (ax, v, t) in enumerate(zip(axes, values, titles, strict=True)):
        _draw_network(
            ax,
            G,
            pos,
            byz,
            v,
            vmin,
            vmax,
            radio_range=rr,
            colorbar=k == len(values) - 1,
            legend=False,
        )
        ax.set_title(t, fontsize=10)
    fig.legend(
        *axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=4, fontsize=7
    )
    fig.set_dpi(dpi)
    return _fig_to_rgb(fig)


def animate_consensus(
    G: nx.Graph,
    results: ConsensusResult | Sequence[ConsensusResult],
    path: str | Path,
    *,
    frames: int = 30,
    radio_range: float | None = None,
    dpi: int = 72,
) -> Path:
    """Animated GIF of honest values spreading over the network, protocols side by side.

    Every protocol's run is drawn on the same layout and colour scale, one panel each
    (LCP beside W-MSR), Byzantine robots marked with a red cross.

    Parameters
    ----------
    G : networkx.Graph
        The graph the runs used.
    results : ConsensusResult or sequence of ConsensusResult
        The runs (same graph, same Byzantine robots, same number of rounds).
    path : str or Path
        GIF file to write.
    frames : int
        Number of frames at most, spaced geometrically over the rounds.
    radio_range : float, optional
        Draw robustness links apart from radio links (see :func:`plot_network`).
    dpi : int
        Resolution of the frames.

    Returns
    -------
    Path
        The written file.
    """
    results = [results] if isinstance(results, ConsensusResult) else list(results)
    first = results[0]
    honest = ~first.byzantine
    traj0 = first.trajectories
    vmin, vmax = float(traj0[0, honest].min()), float(traj0[0, honest].max())
    n_rounds = min(r.trajectories.shape[0] for r in results)
    # Denser frames early on, where most of the change happens.
    idx = np.unique(np.geomspace(1, n_rounds, frames).round().astype(int) - 1)
    rgb = [
        Image.fromarray(
            network_frame(
                G,
                first.byzantine,
                [r.trajectories[t] for r in results],
                vmin=vmin,
                vmax=vmax,
                title=[f"{_label(r)}, round {t}" for r in results],
                size=(4.2, 4.0),
                dpi=dpi,
                radio_range=radio_range,
            )
        )
        for t in idx
    ]
    return save_gif(rgb, path, duration=150)


def save_gif(frames: Sequence[Image.Image], path: str | Path, *, duration: int = 150) -> Path:
    """Write RGB frames as a looping GIF with one shared, undithered palette.

    The palette (:data:`GIF_COLOURS` colours) is fitted to the first, middle and last
    frames together (colours such as markers that appear late are kept); without
    dithering, flat areas compress well, so the GIF stays small.

    Parameters
    ----------
    frames : sequence of PIL.Image.Image
        Frames of one size, RGB.
    path : str or Path
        GIF file to write.
    duration : int
        Milliseconds a frame.

    Returns
    -------
    Path
        The written file.
    """
    rgb = [im.convert("RGB") for im in frames]
    picks = [rgb[0], rgb[len(rgb) // 2], rgb[-1]]
    sample = Image.new("RGB", (rgb[0].width, rgb[0].height * len(picks)))
    for k, im in enumerate(picks):
        sample.paste(im, (0, k * rgb[0].height))
    palette = sample.quantize(
        GIF_COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    images = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in rgb]
    path = Path(path)
    images[0].save(
        path, save_all=True, append_images=images[1:], duration=duration, loop=0, optimize=True
    )
    return path
