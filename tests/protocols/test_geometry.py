import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import cKDTree

from protocols.csr import csr_from_edges
from protocols.geometry import grid_shape, radius_csr
from swarm.mobility import MobileSwarm


def reference(pos, r):
    """The disk graph as scipy's k-d tree finds it (the former implementation)."""
    pos = np.asarray(pos, dtype=float)
    pairs = cKDTree(pos).query_pairs(r, output_type="ndarray").astype(np.int64)
    return csr_from_edges(pos.shape[0], pairs)


def assert_same(pos, r):
    got = radius_csr(pos, r)
    want = reference(pos, r)
    assert got.indptr.dtype == np.int64 and got.indices.dtype == np.int64
    np.testing.assert_array_equal(got.indptr, want.indptr)
    np.testing.assert_array_equal(got.indices, want.indices)
    return got


@st.composite
def point_sets(draw):
    n = draw(st.integers(2, 60))
    d = draw(st.sampled_from([1, 2, 2, 2, 3, 5]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["uniform", "grid", "duplicates", "clustered"]))
    scale = draw(st.sampled_from([1.0, 10.0, 1e-6, 1e6]))
    shift = draw(st.sampled_from([0.0, -5.0, 1e9, -1e12]))
    if kind == "uniform":
        pos = rng.uniform(0, scale, size=(n, d))
    elif kind == "grid":  # integer coordinates: many pairs exactly at an integer radius
        pos = rng.integers(-4, 5, size=(n, d)).astype(float)
    elif kind == "duplicates":
        base = rng.uniform(0, scale, size=(max(1, n // 4), d))
        pos = base[rng.integers(0, base.shape[0], size=n)]
    else:
        pos = rng.normal(0, scale, size=(n, d)) * rng.choice([1e-3, 1.0], size=(n, 1))
    if kind == "grid":
        r = float(draw(st.sampled_from([0, 1, 2, 3, 5, 13])))
    else:
        r = draw(st.sampled_from([0.0, 1e-9, 0.05, 0.3, 1.0, 1e3])) * scale
    return pos + shift, r


@settings(max_examples=300, deadline=None)
@given(point_sets())
def test_matches_ckdtree(case):
    pos, r = case
    assert_same(pos, r)


@given(st.integers(0, 10**6), st.floats(0.0, 30.0))
def test_rows_are_sorted_symmetric_and_exclude_self(seed, r):
    pos = np.random.default_rng(seed).uniform(0, 100, size=(200, 2))
    indptr, indices = radius_csr(pos, r)
    rows = [indices[indptr[i] : indptr[i + 1]] for i in range(200)]
    for i, row in enumerate(rows):
        assert np.all(np.diff(row) > 0) and i not in row
        assert all(i in rows[j] for j in row)
        d = np.linalg.norm(pos[row] - pos[i], axis=1)
        assert np.all(d <= r * (1 + 1e-12))


def test_pair_exactly_at_the_radius_is_kept():
    # (0, 0)-(3, 4) is at distance 5 exactly; 3-4-5 triangles on a lattice.
    g = assert_same([[0.0, 0.0], [3.0, 4.0], [-3.0, -4.0], [6.0, 8.0]], 5.0)
    assert g.indices[g.indptr[0] : g.indptr[1]].tolist() == [1, 2]
    g = assert_same([[0.0, 0.0], [3.0, 4.0]], np.nextafter(5.0, 0.0))
    assert g.indices.size == 0
    assert_same([[0.1, 0.2], [0.4, 0.6]], 0.5)  # 0.3, 0.4 are not exact in binary
    pts = np.array([[x, y] for x in range(-6, 7) for y in range(-6, 7)], dtype=float)
    for r in (1.0, np.sqrt(2.0), 5.0, 5.000000000000001):
        assert_same(pts, r)


def test_radius_zero_links_coincident_points_only():
    pos = [[1.0, 1.0], [2.0, 2.0], [1.0, 1.0], [1.0, 1.0 + 1e-15]]
    g = assert_same(pos, 0.0)
    assert g.indices.tolist() == [2, 0]


def test_degenerate_inputs():
    for n in (0, 1):
        g = radius_csr(np.zeros((n, 2)), 1.0)
        assert g.indptr.tolist() == [0] * (n + 1) and g.indices.size == 0
    same = np.full((30, 2), 7.5)  # every point in one cell
    g = assert_same(same, 0.0)
    assert np.all(np.diff(g.indptr) == 29)
    line = np.column_stack([np.arange(40.0), np.zeros(40)])  # zero extent on one axis
    assert_same(line, 1.0)
    with pytest.raises(ValueError, match="at least one coordinate"):
        radius_csr(np.zeros((3, 0)), 1.0)
    with pytest.raises(ValueError):
        radius_csr([[0.0, np.nan], [1.0, 1.0]], 1.0)
    with pytest.raises(ValueError):
        radius_csr([[0.0, 0.0], [1.0, 1.0]], -1.0)


def test_huge_radius_is_a_complete_graph_on_a_small_grid():
    pos = np.random.default_rng(1).uniform(-50, 50, size=(40, 2))
    g = assert_same(pos, 1e12)
    assert g.indices.size == 40 * 39
    assert grid_shape(pos, 1e12)[2:] == (1, 1)
    assert_same(pos, 1e300)  # radius squared overflows to inf


def test_grid_stays_linear_in_the_number_of_points():
    rng = np.random.default_rng(2)
    pos = rng.uniform(0, 1e9, size=(50, 2))
    for r in (0.0, 1e-9, 1.0):
        _, side, nx, ny = grid_shape(pos, r)
        assert nx * ny <= 4 * 50 + 16 and side >= r
        assert_same(pos, r)


def test_overflowing_extent_does_not_crash():
    # The spread overflows float64; cKDTree refuses it, the grid gives up on that axis.
    pos = np.array([[-1e308, 0.0], [1e308, 0.0], [1e308, 1.0], [-1e308, 3.0]])
    g = radius_csr(pos, 2.0)
    assert g.indptr.tolist() == [0, 0, 1, 2, 2] and g.indices.tolist() == [2, 1]


@pytest.mark.parametrize("motion", ["random_waypoint", "flocking"])
def test_case_study_geometry_matches_ckdtree_every_tick(motion):
    # The DBP case studies' setting: constant density, radio range 20.
    n = 2_000
    swarm = MobileSwarm(
        n,
        np.random.default_rng(4),
        arena=100.0 * np.sqrt(n / 100),
        radio_range=20.0,
        motion=motion,
    )
    for _ in range(5):
        swarm.step()
        got = swarm.comm_graph()
        want = reference(swarm.positions, 20.0)
        np.testing.assert_array_equal(got.indptr, want.indptr)
        np.testing.assert_array_equal(got.indices, want.indices)
