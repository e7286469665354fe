"""Rank-agreement metrics against scipy and hand-checked cases."""

import warnings

import numpy as np
import pytest
from scipy import stats
from scipy.sparse.csgraph import connected_components

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


def _linked_groups(energy, tolerance):
    """Brute force: components of the graph 'closer than tolerance or equal', numbered by their lowest energy."""
    energy = np.asarray(energy, dtype=float)
    close = np.abs(energy[:, None] - energy[None, :])
    close = (close < tolerance) | (close == 0)
    _, labels = connected_components(close.astype(int), directed=False)
    lowest = np.array([energy[labels == label].min() for label in labels])
    return stats.rankdata(lowest, method='dense') - 1


def test_tie_levels_chain_and_exact_ties_by_hand():
    tolerance = 1e-4
    # single linkage: 0 and 1.2 tol are further apart than tol but tied through 0.6 tol
    energy = [1.2 * tolerance, 0.0, 3.0 * tolerance, 0.6 * tolerance]
    np.testing.assert_array_equal(metrics.tie_levels(energy, tolerance), [0, 0, 1, 0])
    np.testing.assert_array_equal(metrics.ranks(energy, tolerance), [2, 2, 4, 2])
    np.testing.assert_array_equal(metrics.tie_levels(energy, 0.0), [2, 0, 3, 1])
    np.testing.assert_array_equal(metrics.tie_levels([0.2, 0.1, 0.1], 0.0), [1, 0, 0])  # equal energies always tie
    np.testing.assert_array_equal(metrics.tie_levels([0.0, tolerance], tolerance), [0, 1])  # a gap of tol: no tie
    # with groups, chains form within a group only: 0 (group 0) and 1.2 tol (group 0) no longer meet via 0.6 tol
    np.testing.assert_array_equal(metrics.tie_levels(energy, tolerance, groups=[0, 0, 0, 1]), [1, 0, 2, 3])


@pytest.mark.parametrize('seed', range(10))
def test_tie_levels_match_brute_force_single_linkage(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    energy = np.round(rng.normal(0, 0.01, n), 3)  # some exact ties too
    tolerance = [0.0, 5e-4, 2e-3][seed % 3]
    expected = _linked_groups(energy, tolerance)
    np.testing.assert_array_equal(metrics.tie_levels(energy, tolerance), expected)
    np.testing.assert_allclose(metrics.ranks(energy, tolerance), stats.rankdata(expected))
    groups = rng.integers(0, 3, n)
    levels = metrics.tie_levels(energy, tolerance, groups=groups)
    for group in np.unique(groups):  # within each group the brute force of that group, in order
        members = groups == group
        expected = _linked_groups(energy[members], tolerance)
        np.testing.assert_array_equal(levels[members] - levels[members].min(), expected)
    assert len(np.unique(levels)) == sum(len(np.unique(levels[groups == g])) for g in np.unique(groups))


@pytest.mark.parametrize('n', [30, 200])  # Kendall from all pairs up to 100 interfaces, by scipy above
@pytest.mark.parametrize('seed', range(5))
def test_metrics_with_tolerance_match_scipy_on_tie_levels(seed, n):
    rng = np.random.default_rng(seed)
    energy_a = rng.normal(0.0, 0.01, n)
    energy_b = energy_a + rng.normal(0.0, 0.002, n)
    tolerance = 2e-4 if n == 30 else 2e-5
    levels_a, levels_b = _linked_groups(energy_a, tolerance), _linked_groups(energy_b, tolerance)
    assert 2 < len(np.unique(levels_a)) < n and 2 < len(np.unique(levels_b)) < n  # ties, but not one group
    result = metrics.pair_metrics(energy_a, energy_b, top_n=(5, 10), threshold=0.0, tolerance=tolerance)
    assert result['spearman_rho'] == pytest.approx(stats.spearmanr(levels_a, levels_b).statistic)
    assert result['kendall_tau_b'] == pytest.approx(stats.kendalltau(levels_a, levels_b).statistic)
    assert result['spearman_rho'] != pytest.approx(stats.spearmanr(energy_a, energy_b).statistic)
    assert result['pearson_r'] == pytest.approx(stats.pearsonr(energy_a, energy_b).statistic)  # raw energies
    assert result['rmse'] == pytest.approx(np.sqrt(np.mean((energy_b - energy_a) ** 2)))
    shift = stats.rankdata(levels_b) - stats.rankdata(levels_a)
    np.testing.assert_allclose(metrics.rank_shift(energy_a, energy_b, tolerance), shift)
    assert result['max_abs_rank_shift'] == pytest.approx(np.abs(shift).max())
    for top in (5, 10):  # by level, ties by input order
        first_a, first_b = np.argsort(levels_a, kind='stable')[:top], np.argsort(levels_b, kind='stable')[:top]
        assert result[f'top{top}_overlap'] == len(set(first_a) & set(first_b))


def test_top_n_ties_at_the_cut_go_by_input_order_with_tolerance():
    tolerance = 1e-4
    energy_a = [0.0, 0.5 * tolerance, 2 * tolerance, 3 * tolerance]
    energy_b = [0.5 * tolerance, 0.0, 2 * tolerance, 3 * tolerance]
    assert metrics.pair_metrics(energy_a, energy_b, top_n=(1,))['top1_overlap'] == 0  # 0 vs 1
    assert metrics.pair_metrics(energy_a, energy_b, top_n=(1,), tolerance=tolerance)['top1_overlap'] == 1  # 0 vs 0


def test_class_flips_with_tolerance_by_hand():
    energy_a = np.array([-0.02, -0.01, 0.0, 0.01, 0.02])
    energy_b = energy_a[::-1]
    # tolerance 0.01: a is favourable, undecided, undecided, unfavourable (E >= t + tol), unfavourable
    np.testing.assert_array_equal(
        metrics.class_flips(energy_a, energy_b, 0.0, tolerance=0.01), [True, False, False, False, True]
    )
    np.testing.assert_array_equal(metrics.class_flips(energy_a, energy_b, 0.0), [True, True, False, True, True])
    # tolerance 0 is the rule without one, favourable iff E < t: E = t is unfavourable
    np.testing.assert_array_equal(metrics.class_flips([0.0, 0.1], [-0.1, 0.0], 0.0), [True, False])
    np.testing.assert_array_equal(metrics.class_flips([0.1, 0.2], [0.05, 0.1], 0.1), [True, False])
    rng = np.random.default_rng(0)
    energy_a, energy_b = rng.integers(-3, 4, 200) * 0.01, rng.integers(-3, 4, 200) * 0.01
    np.testing.assert_array_equal(metrics.class_flips(energy_a, energy_b, 0.01), (energy_a < 0.01) != (energy_b < 0.01))


def test_homointerface_noise_is_neither_a_flip_nor_an_inversion_with_tolerance():
    energy_a = np.array([1e-6, -1e-6, -0.005, 0.004])  # two bulk-like homointerfaces, two clear heterointerfaces
    energy_b = np.array([-1e-6, 1e-6, -0.004, 0.006])
    assert metrics.class_flips(energy_a, energy_b).tolist() == [True, True, False, False]
    np.testing.assert_array_equal(metrics.boundary_inversions(energy_a, energy_b)[1], [[0, 1]])
    assert not metrics.class_flips(energy_a, energy_b, tolerance=1e-4).any()
    counts, pairs = metrics.boundary_inversions(energy_a, energy_b, tolerance=1e-4)
    assert counts.tolist() == [0, 0, 0, 0] and len(pairs) == 0


@pytest.mark.parametrize('seed', range(10))
def test_boundary_inversions_with_tolerance_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 80))
    energy_a = rng.normal(0, 0.01, n)
    energy_b = energy_a + rng.normal(0, 0.005, n)
    tolerance = 1e-3
    levels_a, levels_b = _linked_groups(energy_a, tolerance), _linked_groups(energy_b, tolerance)
    near = (np.abs(energy_a) <= 0.01) | (np.abs(energy_b) <= 0.01)
    inverted = (levels_a[:, None] - levels_a[None, :]) * (levels_b[:, None] - levels_b[None, :]) < 0
    inverted &= near[:, None] & near[None, :]
    counts, pairs = metrics.boundary_inversions(energy_a, energy_b, 0.0, 0.01, tolerance=tolerance)
    np.testing.assert_array_equal(counts, inverted.sum(axis=1))
    np.testing.assert_array_equal(pairs, np.argwhere(np.triu(inverted)))


@pytest.mark.parametrize('tolerance', [-1e-4, np.nan])
def test_negative_tolerance_is_refused(tolerance):
    for call in (
        lambda: metrics.tie_levels([0.1, 0.2], tolerance),
        lambda: metrics.ranks([0.1, 0.2], tolerance),
        lambda: metrics.class_flips([0.1, 0.2], [0.1, 0.2], 0.0, tolerance),
        lambda: metrics.pair_metrics([0.1, 0.2], [0.1, 0.2], tolerance=tolerance),
        lambda: metrics.boundary_inversions([0.1, 0.2], [0.1, 0.2], tolerance=tolerance),
    ):
        with pytest.raises(ValueError, match='tolerance must be >= 0'):
            call()


def test_one_tie_group_leaves_rank_correlations_undefined_but_not_pearson():
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        result = metrics.pair_metrics([0.0, 1e-5, 2e-5], [0.0, 2e-5, 1e-5], tolerance=1e-4)
    assert np.isnan(result['spearman_rho']) and np.isnan(result['kendall_tau_b'])
    assert result['pearson_r'] == pytest.approx(0.5)
    assert result['max_abs_rank_shift'] == 0
