"""protocols.robustness: the validated bitmask entry point of the exact robustness search."""

import numpy as np
import pytest

from protocols.robustness import MAX_MASK_NODES, rs_robust_masks


def _masks(n, edges):
    m = np.zeros(n, dtype=np.int64)
    for u, v in edges:
        m[u] |= 1 << v
        m[v] |= 1 << u
    return m


@pytest.mark.parametrize("n", range(2, 9))
def test_complete_graph_is_exactly_ceil_half_robust(n):
    """K_n is ceil(n/2)-robust and not more (LeBlanc et al. 2013, Lemma 3)."""
    m = _masks(n, [(u, v) for u in range(n) for v in range(u + 1, n)])
    k = (n + 1) // 2
    assert rs_robust_masks(m, k, 1)
    assert not rs_robust_masks(m, k + 1, 1)


def test_ring_is_1_robust_not_2_robust():
    m = _masks(6, [(i, (i + 1) % 6) for i in range(6)])
    assert rs_robust_masks(m, 1, 1) and not rs_robust_masks(m, 2, 1)


@pytest.mark.parametrize(
    ("masks", "r", "s", "message"),
    [
        (np.array([0b10, 0b01]), -1, 1, "r must be >= 0"),
        (np.array([0b10, 0b01]), 1, 3, "s must be <= 2"),
        (np.array([0b10, 0b00]), 1, 1, "symmetric"),
        (np.array([0b11, 0b01]), 1, 1, "symmetric with no self bits"),
        (np.array([0b100, 0b000]), 1, 1, "only set bits 0 .. 1"),
        (np.zeros(MAX_MASK_NODES + 1, dtype=np.int64), 1, 1, f"n must be <= {MAX_MASK_NODES}"),
        (np.array([0.5, 1.0]), 1, 1, "1-D integer array"),
    ],
)
def test_bad_input_is_one_clear_line(masks, r, s, message):
    with pytest.raises(ValueError, match=message) as info:
        rs_robust_masks(masks, r, s)
    assert "\n" not in str(info.value)
