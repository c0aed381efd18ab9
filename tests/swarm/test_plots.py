"""Pictures that explain themselves: radio vs robustness links, side-by-side GIF frames."""

import numpy as np
from PIL import Image
from scipy.spatial import cKDTree

from swarm import topology
from swarm.attacks import make_attack
from swarm.plots import animate_consensus, split_links
from swarm.simulate import simulate_consensus


def test_robustness_links_are_the_edges_beyond_radio_range():
    rng = np.random.default_rng(3)
    radius = 0.12
    G = topology.robust_geometric(60, 3, radius, rng)
    pos = topology.positions(G)
    radio, robust = split_links(G, pos, radius)
    # Independent reference: the pairs within radio range, from a k-d tree.
    within = {tuple(sorted(e)) for e in cKDTree(pos).query_pairs(radius)}
    assert {tuple(sorted(e)) for e in radio.tolist()} == within
    assert len(radio) + len(robust) == G.number_of_edges()
    assert len(robust) > 0  # r = 3 at this range needs added links
    lengths = np.linalg.norm(pos[robust[:, 0]] - pos[robust[:, 1]], axis=1)
    assert np.all(lengths > radius)
    none_radio, none_robust = split_links(G, pos, None)
    assert len(none_radio) == G.number_of_edges() and len(none_robust) == 0


def test_gif_shows_each_protocol_side_by_side(tmp_path):
    rng = np.random.default_rng(0)
    G = topology.robust_geometric(30, 3, 0.2, rng)
    indptr, indices = topology.to_csr(G)
    initial = rng.uniform(0, 1, 30)
    byz = np.zeros(30, dtype=bool)
    byz[[0, 1]] = True
    runs = [
        simulate_consensus(
            (indptr, indices),
            initial,
            byz,
            make_attack("two_faced"),
            protocol=p,
            f=1,
            rounds=20,
            rng=np.random.default_rng(1),
        )
        for p in ("lcp", "wmsr")
    ]
    one = animate_consensus(G, runs[:1], tmp_path / "one.gif", frames=4, radio_range=0.2)
    two = animate_consensus(G, runs, tmp_path / "two.gif", frames=4, radio_range=0.2)
    with Image.open(one) as a, Image.open(two) as b:
        assert b.n_frames == a.n_frames >= 2
        # Two panels of the same size side by side: about twice as wide, as tall.
        assert 1.7 < b.width / a.width < 2.3 and b.height == a.height
