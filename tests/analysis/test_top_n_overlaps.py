"""Top-N overlap for every N (``metrics.top_n_overlaps``) against ``pair_metrics`` and direct set counts."""

import numpy as np
import pytest

from aiida_ifacerank.analysis import metrics


@pytest.mark.parametrize('tolerance', [0.0, 0.015])
@pytest.mark.parametrize('seed', range(4))
def test_top_n_overlaps_match_pair_metrics_for_every_n(seed, tolerance):
    rng = np.random.default_rng(seed)
    energy_a = rng.integers(0, 12, 40) * 0.01  # many ties, and tie chains at the tolerance
    energy_b = energy_a + rng.integers(-4, 5, 40) * 0.01
    overlaps = metrics.top_n_overlaps(energy_a, energy_b, tolerance)
    n = len(energy_a)
    assert overlaps.shape == (n,)
    expected = metrics.pair_metrics(energy_a, energy_b, range(1, n), tolerance=tolerance)
    np.testing.assert_array_equal(overlaps[:-1], [expected[f'top{top}_overlap'] for top in range(1, n)])
    assert overlaps[-1] == n
    assert (np.diff(overlaps) >= 0).all() and (overlaps <= np.arange(1, n + 1)).all()


def test_top_n_overlaps_by_hand():
    # a orders 0 1 2 3, b orders 3 2 1 0: Top-1 {0}/{3}, Top-2 {0,1}/{3,2}, Top-3 {0,1,2}/{3,2,1}
    np.testing.assert_array_equal(metrics.top_n_overlaps([1, 2, 3, 4], [4, 3, 2, 1]), [0, 0, 2, 4])
    # a tie at the cut is broken by input order in both rankings: Top-1 of [1, 1, 2] is interface 0
    np.testing.assert_array_equal(metrics.top_n_overlaps([1, 1, 2], [2, 1, 1]), [0, 1, 3])
    assert metrics.top_n_overlaps([], []).shape == (0,)
    with pytest.raises(ValueError, match='finite'):
        metrics.top_n_overlaps([1.0, np.nan], [1.0, 2.0])
