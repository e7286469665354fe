"""Rank-agreement metrics against scipy and hand-checked cases."""

import warnings

import numpy as np
import pytest
from scipy import stats

from aiida_ifacerank.analysis import metrics


@pytest.mark.parametrize('n', [30, 200])  # Kendall from all pairs up to 100 interfaces, by scipy above
@pytest.mark.parametrize('seed', range(5))
def test_spearman_kendall_pearson_match_scipy_with_ties(seed, n):
    rng = np.random.default_rng(seed)
    energy_a = rng.integers(0, 15, n) * 0.01  # many ties
    energy_b = energy_a + rng.integers(-3, 4, n) * 0.01
    result = metrics.pair_metrics(energy_a, energy_b)
    assert result['spearman_rho'] == pytest.approx(stats.spearmanr(energy_a, energy_b).statistic)
    assert result['kendall_tau_b'] == pytest.approx(stats.kendalltau(energy_a, energy_b, variant='b').statistic)
    assert result['pearson_r'] == pytest.approx(stats.pearsonr(energy_a, energy_b).statistic)
    np.testing.assert_allclose(metrics.ranks(energy_a), stats.rankdata(energy_a, method='average'))


def test_kendall_tau_b_and_spearman_by_hand():
    # concordant 4, discordant 0, one tie in each ranking: 4 / sqrt(5 * 5)
    assert metrics.kendall_tau_b([1, 1, 2, 3], [1, 2, 2, 3]) == pytest.approx(0.8)
    # one swap out of six pairs: (5 - 1) / 6
    assert metrics.kendall_tau_b([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(2 / 3)
    # Spearman by the textbook formula 1 - 6 sum d^2 / (n (n^2 - 1)) without ties
    assert metrics.pair_metrics([1, 2, 3, 4], [1, 3, 2, 4])['spearman_rho'] == pytest.approx(1 - 6 * 2 / (4 * 15))


@pytest.mark.parametrize(
    ('energy_a', 'energy_b'),
    [
        ([], []),
        ([0.1], [0.2]),
        ([0.1, 0.1, 0.1], [0.1, 0.2, 0.3]),
        ([0.1, 0.2, 0.3], [0.2, 0.2, 0.2]),
        (np.full(150, 0.1), np.linspace(0, 1, 150)),  # Kendall by scipy
    ],
)
def test_undefined_correlations_are_nan_without_warnings(energy_a, energy_b):
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        result = metrics.pair_metrics(energy_a, energy_b)
        assert np.isnan(metrics.kendall_tau_b(energy_a, energy_b))
    assert np.isnan([result['spearman_rho'], result['kendall_tau_b'], result['pearson_r']]).all()
    assert result['n'] == len(energy_a)


def test_two_interfaces_give_plus_or_minus_one():
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        result = metrics.pair_metrics([0.1, 0.2], [0.3, 0.1])
    assert result['spearman_rho'] == result['kendall_tau_b'] == result['pearson_r'] == -1


def test_non_finite_energies_are_refused():
    with pytest.raises(ValueError, match='finite'):
        metrics.pair_metrics([0.1, np.nan], [0.1, 0.2])


def test_top_n_overlap_by_hand():
    energy_a = [1, 2, 3, 4, 5, 6]
    energy_b = [1, 2, 6, 5, 4, 3]  # top 3 of b: interfaces 0, 1, 5
    result = metrics.pair_metrics(energy_a, energy_b, top_n=(3, 1, 6))
    assert (result['top3_overlap'], result['top3_fraction']) == (2, pytest.approx(2 / 3))
    assert (result['top1_overlap'], result['top1_fraction']) == (1, 1.0)
    assert np.isnan(result['top6_overlap']) and np.isnan(result['top6_fraction'])  # N >= n: trivially everything
    # ties at the cut go by input order: top 2 of b are interfaces 0 and 1, not 2
    assert metrics.pair_metrics([1, 2, 3], [1, 2, 2], top_n=(2,))['top2_overlap'] == 2
    assert metrics.pair_metrics([1, 2, 3], [2, 1, 1], top_n=(2,))['top2_overlap'] == 1
    with pytest.raises(ValueError, match='N >= 1'):
        metrics.pair_metrics(energy_a, energy_b, top_n=(0,))


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


@pytest.mark.parametrize('seed', range(10))
def test_discordant_pairs_within_groups_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 80))
    ties = seed % 2 == 0  # odd seeds: continuous energies (no ties)
    energy_a = rng.integers(0, 8, n).astype(float) if ties else rng.normal(0, 0.01, n)
    energy_b = energy_a + (rng.integers(-3, 4, n) if ties else rng.normal(0, 0.01, n))
    groups = rng.integers(0, 4, n).astype(np.int16)
    counts, pairs = metrics.discordant_pairs(energy_a, energy_b, groups=groups)
    discordant = (energy_a[:, None] - energy_a[None, :]) * (energy_b[:, None] - energy_b[None, :]) < 0
    discordant &= groups[:, None] == groups[None, :]
    np.testing.assert_array_equal(counts, discordant.sum(axis=1))
    np.testing.assert_array_equal(pairs, np.argwhere(np.triu(discordant)))
