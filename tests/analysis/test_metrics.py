"""Rank-agreement metrics against scipy and hand-checked cases."""

import numpy as np
import pytest
from scipy import stats

from aiida_ifacerank.analysis import metrics


@pytest.mark.parametrize('seed', range(5))
def test_spearman_kendall_pearson_match_scipy_with_ties(seed):
    rng = np.random.default_rng(seed)
    energy_a = rng.integers(0, 15, 200) * 0.01  # many ties
    energy_b = energy_a + rng.integers(-3, 4, 200) * 0.01
    assert metrics.spearman_rho(energy_a, energy_b) == pytest.approx(stats.spearmanr(energy_a, energy_b).statistic)
    assert metrics.kendall_tau_b(energy_a, energy_b) == pytest.approx(
        stats.kendalltau(energy_a, energy_b, variant='b').statistic
    )
    assert metrics.pearson_r(energy_a, energy_b) == pytest.approx(stats.pearsonr(energy_a, energy_b).statistic)
    np.testing.assert_allclose(metrics.ranks(energy_a), stats.rankdata(energy_a, method='average'))


def test_kendall_tau_b_by_hand():
    # concordant 4, discordant 0, one tie in each ranking: 4 / sqrt(5 * 5)
    assert metrics.kendall_tau_b([1, 1, 2, 3], [1, 2, 2, 3]) == pytest.approx(0.8)
    # one swap out of six pairs: (5 - 1) / 6
    assert metrics.kendall_tau_b([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(2 / 3)
    # Spearman by the textbook formula 1 - 6 sum d^2 / (n (n^2 - 1)) without ties
    assert metrics.spearman_rho([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(1 - 6 * 2 / (4 * 15))


def test_undefined_correlations_are_nan_not_errors():
    assert np.isnan(metrics.spearman_rho([0.1], [0.2]))
    assert np.isnan(metrics.kendall_tau_b([0.1, 0.1, 0.1], [0.1, 0.2, 0.3]))


def test_non_finite_energies_are_refused():
    with pytest.raises(ValueError, match='finite'):
        metrics.pair_metrics([0.1, np.nan], [0.1, 0.2])


def test_top_n_overlap_by_hand():
    energy_a = [1, 2, 3, 4, 5, 6]
    energy_b = [1, 2, 6, 5, 4, 3]  # top 3 of b: interfaces 0, 1, 5
    assert metrics.top_n_overlap(energy_a, energy_b, 3) == 2
    assert metrics.top_n_overlap(energy_a, energy_b, 1) == 1
    assert metrics.top_n_overlap(energy_a, energy_b, 6) is None  # N >= n: trivially everything
    with pytest.raises(ValueError, match='N >= 1'):
        metrics.top_n_overlap(energy_a, energy_b, 0)


def test_rank_shift_by_hand():
    np.testing.assert_array_equal(metrics.rank_shift([0.1, 0.2, 0.3], [0.3, 0.2, 0.1]), [2, 0, -2])
    np.testing.assert_array_equal(metrics.rank_shift([0.1, 0.2, 0.2], [0.1, 0.2, 0.3]), [0, -0.5, 0.5])


def test_class_flips_and_boundary_inversions_by_hand():
    energy_a = np.array([-0.04, -0.01, 0.02, 0.50])
    energy_b = np.array([-0.02, 0.03, 0.01, 0.60])
    np.testing.assert_array_equal(metrics.class_flips(energy_a, energy_b, 0.0), [False, True, False, False])
    counts, pairs = metrics.boundary_inversions(energy_a, energy_b, threshold=0.0, window=0.05)
    np.testing.assert_array_equal(pairs, [[1, 2]])
    np.testing.assert_array_equal(counts, [0, 1, 1, 0])
    # interface 3 is far from the boundary: its flip with 2 would count without the window
    counts, pairs = metrics.boundary_inversions([0.0, 0.5], [0.6, 0.1], threshold=0.0, window=0.05)
    assert len(pairs) == 0
    counts, pairs = metrics.boundary_inversions([0.0, 0.5], [0.6, 0.1], threshold=0.0, window=1.0)
    np.testing.assert_array_equal(pairs, [[0, 1]])


@pytest.mark.parametrize('seed', range(20))
def test_discordant_pairs_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 60))
    energy_a = rng.integers(0, 8, n).astype(float)
    energy_b = energy_a + rng.integers(-3, 4, n)
    counts, pairs = metrics.discordant_pairs(energy_a, energy_b)
    discordant = (energy_a[:, None] - energy_a[None, :]) * (energy_b[:, None] - energy_b[None, :]) < 0
    np.testing.assert_array_equal(counts, discordant.sum(axis=1))
    np.testing.assert_array_equal(pairs, np.argwhere(np.triu(discordant)))
    # total discordant pairs agree with Kendall's tau-b via scipy's concordant/discordant count
    if n > 2 and len(set(energy_a)) > 1 and len(set(energy_b)) > 1:
        concordant = ((energy_a[:, None] - energy_a[None, :]) * (energy_b[:, None] - energy_b[None, :]) > 0).sum() / 2
        tie_a = sum(c * (c - 1) / 2 for c in np.unique(energy_a, return_counts=True)[1])
        tie_b = sum(c * (c - 1) / 2 for c in np.unique(energy_b, return_counts=True)[1])
        total = n * (n - 1) / 2
        tau = (concordant - len(pairs)) / np.sqrt((total - tie_a) * (total - tie_b))
        assert tau == pytest.approx(stats.kendalltau(energy_a, energy_b).statistic)
