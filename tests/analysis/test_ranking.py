"""The ranking analysis on hand-checked tables: completeness, flags, groups, files and bad input."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from aiida_ifacerank.analysis import analyse, build_table, metrics, read_results_csv
from aiida_ifacerank.analysis.ranking import group_labels


def _row(analysis, mode_b, key='all', group='all', mode_a='DFT@DFT'):
    frame = analysis.stats
    selected = frame[
        (frame.mode_a == mode_a) & (frame.mode_b == mode_b) & (frame.group_key == key) & (frame.group == group)
    ]
    assert len(selected) == 1
    return selected.iloc[0]


def test_completeness_reports_every_failure_with_its_reason(mixed_table):
    analysis = analyse(mixed_table)
    report = analysis.completeness.set_index(['interface', 'mode'])
    assert report.loc[('if4', 'MLP@MLP'), 'status'] == 'nan'
    assert report.loc[('if7', 'MLP@MLP'), 'status'] == 'missing'
    assert report.loc[('if3', 'DFT@MLP'), 'status'] == 'inf'
    assert report.loc[('if5', 'DFT@MLP'), 'status'] == 'unphysical'
    assert report.loc[('if1', 'MLP@DFT'), 'status'] == 'failed'
    assert report.loc[('if1', 'MLP@DFT'), 'reason'] == 'exit status 410: SCF not converged'
    assert (report['status'] == 'ok').sum() == 4 * 8 - 5
    summary = analysis.completeness_summary
    assert summary.loc['MLP@MLP', 'ok'] == 6
    assert summary.loc['DFT@DFT', 'fraction_ok'] == 1.0


def test_no_invalid_value_enters_a_metric(mixed_table):
    analysis = analyse(mixed_table)
    row = _row(analysis, 'MLP@MLP')
    keep = [0, 1, 2, 3, 5, 6]
    energy_a = mixed_table['energy_DFT@DFT'].to_numpy()[keep]
    energy_b = mixed_table['energy_MLP@MLP'].to_numpy()[keep]
    assert row['n'] == 6
    assert row['spearman_rho'] == pytest.approx(stats.spearmanr(energy_a, energy_b).statistic)
    assert row['kendall_tau_b'] == pytest.approx(stats.kendalltau(energy_a, energy_b).statistic)
    assert row['rmse'] == pytest.approx(np.sqrt(np.mean((energy_b - energy_a) ** 2)))
    assert row['mae'] == pytest.approx(np.mean(np.abs(energy_b - energy_a)))
    assert np.isfinite(analysis.stats[['spearman_rho', 'rmse', 'mae']].to_numpy()[analysis.stats['n'] >= 3]).all()
    assert _row(analysis, 'MLP@DFT')['n'] == 7  # the failed job (if1) is out, its energy is never used
    assert _row(analysis, 'DFT@MLP')['n'] == 6  # inf and unphysical are out


def test_flags_at_the_favourability_boundary(mixed_table):
    analysis = analyse(mixed_table, threshold=0.0, window=0.01)
    results = analysis.results.set_index('interface')
    assert results['class_flip_MLP@MLP'].dropna().to_dict() == {
        'if0': False,
        'if1': True,
        'if2': True,
        'if3': False,
        'if5': False,
        'if6': False,
    }
    assert pd.isna(results.loc['if4', 'class_flip_MLP@MLP'])  # NaN energy: no flag either way
    inversions = analysis.inversions[analysis.inversions.mode_b == 'MLP@MLP']
    assert inversions[['mode_a', 'interface_i', 'interface_j']].values.tolist() == [['DFT@DFT', 'if1', 'if2']]
    assert results.loc['if1', 'boundary_inversions_MLP@MLP'] == 1
    assert _row(analysis, 'MLP@MLP')['boundary_inversions'] == 1
    assert _row(analysis, 'MLP@MLP')['class_flips'] == 2
    # ranks and rank distance: MLP@MLP moves if2 (3rd in DFT@DFT) to 2nd among the six common interfaces
    assert results.loc['if2', 'rank_DFT@DFT'] == 3
    assert results.loc['if2', 'rank_shift_MLP@MLP'] == -1
    assert results.loc['if1', 'rank_shift_MLP@MLP'] == 1


def test_groups_by_material_miller_plane_class_and_subsets(mixed_table):
    analysis = analyse(mixed_table, subsets={'lower Ge': "lower == 'Ge'"})
    lower_si = _row(analysis, 'MLP@MLP', 'lower', 'Si')
    assert (lower_si['n_interfaces'], lower_si['n']) == (4, 3)
    assert _row(analysis, 'MLP@MLP', 'pair', 'Si|Ge')['n_interfaces'] == 2
    assert _row(analysis, 'MLP@MLP', 'class', 'homostructure')['n_interfaces'] == 4
    assert _row(analysis, 'MLP@MLP', 'miller', '(001)|(001)')['n_interfaces'] == 4
    assert _row(analysis, 'MLP@MLP', 'subset', 'lower Ge')['n_interfaces'] == 4
    assert set(analysis.stats.group_key) == {'all', 'lower', 'upper', 'pair', 'miller', 'class', 'subset'}
    assert len(analysis.stats.groupby(['mode_a', 'mode_b'])) == 6  # every pair of the four modes


def test_files_round_trip(mixed_table, tmp_path):
    analysis = analyse(mixed_table)
    paths = analysis.write(tmp_path)
    assert sorted(path.name for path in paths.values()) == [
        'completeness.csv',
        'inversions.csv',
        'results.csv',
        'stats.csv',
    ]
    again = analyse(read_results_csv(paths['results']))
    pd.testing.assert_frame_equal(again.stats, analysis.stats)
    pd.testing.assert_frame_equal(again.completeness, analysis.completeness, check_dtype=False)


def test_csv_distinguishes_missing_from_nan(tmp_path):
    path = tmp_path / 'in.csv'
    path.write_text(
        '# origin: hand-written test file\n'
        'interface,lower,upper,energy_DFT@DFT,energy_MLP@MLP,exit_status_MLP@MLP\n'
        'a,Si,Ge,0.01,,\n'
        'b,Si,Ge,0.02,nan,\n'
        'c,Si,Ge,0.03,0.03,302\n'
        'd,Si,Ge,0.04,0.05,0\n'
    )
    status = analyse(read_results_csv(path)).completeness.set_index(['interface', 'mode'])['status']
    assert [status[(name, 'MLP@MLP')] for name in 'abcd'] == ['missing', 'nan', 'failed', 'ok']


@pytest.mark.parametrize(
    ('change', 'message'),
    [
        (lambda t: t.rename(columns={'energy_MLP@MLP': 'energy_MLP@XYZ'}), r'unknown evaluation mode.*MLP@XYZ'),
        (lambda t: t.iloc[:0], 'empty'),
        (lambda t: t.drop(columns='lower'), "lacks column.*'lower'"),
        (lambda t: t.assign(interface='same'), 'unique'),
        (lambda t: t.assign(**{'class': 'alloy'}), 'unknown value'),
        (lambda t: t.assign(**{'energy_DFT@DFT': 'high'}), 'must hold numbers'),
        (lambda t: t[['interface', 'lower', 'upper', 'energy_DFT@DFT']], 'at least two modes'),
    ],
)
def test_bad_tables_are_refused_with_a_clear_error(mixed_table, change, message):
    with pytest.raises(ValueError, match=message):
        analyse(change(mixed_table))


def test_bad_arguments_are_refused_with_a_clear_error(mixed_table):
    with pytest.raises(ValueError, match='mismatched lengths'):
        build_table(['a', 'b'], ['Si', 'Si'], ['Ge'], {'DFT@DFT': [0.1, 0.2]})
    with pytest.raises(ValueError, match='selects no interfaces'):
        analyse(mixed_table, subsets={'alloys': "`class` == 'ordered alloy'"})
    with pytest.raises(ValueError, match='backticks'):
        analyse(mixed_table, subsets={'hetero': "class == 'heterostructure'"})
    with pytest.raises(ValueError, match='unknown grouping'):
        analyse(mixed_table, group_by=['planet'])
    with pytest.raises(ValueError, match='unknown evaluation mode'):
        analyse(mixed_table, reference='DFT')
    with pytest.raises(ValueError, match='Top-N'):
        analyse(mixed_table, top_n=[0])
    with pytest.raises(ValueError, match='tolerance must be >= 0'):
        analyse(mixed_table, tolerance=-1e-4)


def _bulk_like_table():
    """Two bulk-like homointerfaces whose noise (±1e-6 eV/Å²) swaps sign between the modes, two clear
    heterointerfaces, and one exactly-zero homointerface without an MLP@MLP result."""
    return build_table(
        interfaces=['SiSi', 'GeGe', 'SiGe', 'GeSi', 'CC'],
        lower=['Si', 'Ge', 'Si', 'Ge', 'C'],
        upper=['Si', 'Ge', 'Ge', 'Si', 'C'],
        energies={
            'DFT@DFT': [1e-6, -1e-6, -0.005, 0.004, 0.0],
            'MLP@MLP': [-1e-6, 1e-6, -0.004, 0.006, np.nan],
        },
        exit_statuses={'MLP@MLP': [0, 0, 0, 0, -1]},
    )


def test_tolerance_stops_noise_around_zero_from_flipping_classes_and_orders():
    table = _bulk_like_table()
    exact, tolerant = analyse(table), analyse(table, tolerance=1e-4)
    results = exact.results.set_index('interface')
    assert results['class_flip_MLP@MLP'].dropna().to_dict() == {
        'SiSi': True,
        'GeGe': True,
        'SiGe': False,
        'GeSi': False,
    }
    assert results['boundary_inversions_MLP@MLP'].dropna().to_dict() == {'SiSi': 1, 'GeGe': 1, 'SiGe': 0, 'GeSi': 0}
    assert exact.inversions[['interface_i', 'interface_j']].values.tolist() == [['SiSi', 'GeGe']]
    row = _row(exact, 'MLP@MLP')
    assert (row['class_flips'], row['boundary_inversions']) == (2, 1)
    assert (row['spearman_rho'], row['kendall_tau_b']) == (pytest.approx(1 - 6 * 2 / (4 * 15)), pytest.approx(2 / 3))
    assert results['bulk_like_DFT@DFT'].tolist() == [False, False, False, False, True]  # exactly zero only

    results = tolerant.results.set_index('interface')
    assert not results['class_flip_MLP@MLP'].dropna().any()
    assert (results['boundary_inversions_MLP@MLP'].dropna() == 0).all()
    assert len(tolerant.inversions) == 0
    row = _row(tolerant, 'MLP@MLP')
    assert (row['class_flips'], row['boundary_inversions'], row['spearman_rho'], row['kendall_tau_b']) == (0, 0, 1, 1)
    assert results['rank_shift_MLP@MLP'].dropna().to_dict() == {'SiSi': 0, 'GeGe': 0, 'SiGe': 0, 'GeSi': 0}
    # DFT@DFT ranks all five: GeGe, CC and SiSi (-1e-6, 0, 1e-6) tie at the average of ranks 2 to 4
    assert results['rank_DFT@DFT'].to_dict() == {'SiSi': 3, 'GeGe': 3, 'SiGe': 1, 'GeSi': 5, 'CC': 3}
    assert results['bulk_like_DFT@DFT'].tolist() == [True, True, False, False, True]
    assert results['bulk_like_MLP@MLP'].tolist()[:4] == [True, True, False, False]
    assert pd.isna(results.loc['CC', 'bulk_like_MLP@MLP'])  # no result: neither bulk-like nor not
    assert tolerant.parameters['tolerance_ev_ang2'] == 1e-4 and exact.parameters['tolerance_ev_ang2'] == 0


@pytest.mark.parametrize('seed', range(3))
def test_every_statistic_with_tolerance_is_that_of_its_group(seed):
    rng = np.random.default_rng(seed)
    n, tolerance, threshold, window = 150, 1e-3, 0.0, 0.01
    energy_a = rng.normal(0.0, 0.01, n)
    energy_b = energy_a + rng.normal(0.0, 0.005, n)
    energy_b[rng.choice(n, 5, replace=False)] = np.nan
    table = build_table(
        [f'if{i}' for i in range(n)],
        rng.choice(['Si', 'Ge', 'C'], n),
        rng.choice(['Si', 'Ge', 'C'], n),
        {'DFT@DFT': energy_a, 'MLP@MLP': energy_b},
    )
    analysis = analyse(table, top_n=(3,), threshold=threshold, window=window, tolerance=tolerance)
    ok = np.isfinite(energy_b)
    for _, row in analysis.stats.iterrows():
        labels = np.full(n, 'all') if row['group_key'] == 'all' else group_labels(table, row['group_key']).to_numpy()
        rows = ok & (labels == row['group'])
        a, b = energy_a[rows], energy_b[rows]
        expected = metrics.pair_metrics(a, b, (3,), threshold, tolerance)
        actual = row[list(expected)].to_dict()
        assert actual == pytest.approx(expected, nan_ok=True), (row['group_key'], row['group'])
        # inversions by tie levels among the group's interfaces, counted by brute force
        levels_a, levels_b = metrics.tie_levels(a, tolerance), metrics.tie_levels(b, tolerance)
        near = (np.abs(a - threshold) <= window) | (np.abs(b - threshold) <= window)
        inverted = (levels_a[:, None] - levels_a[None, :]) * (levels_b[:, None] - levels_b[None, :]) < 0
        assert row['boundary_inversions'] == np.triu(inverted & near[:, None] & near[None, :]).sum()
    results = analysis.results
    shift = metrics.rank_shift(energy_a[ok], energy_b[ok], tolerance)
    np.testing.assert_allclose(results['rank_shift_MLP@MLP'].to_numpy()[ok], shift)
    counts = metrics.boundary_inversions(energy_a[ok], energy_b[ok], threshold, window, tolerance=tolerance)[0]
    np.testing.assert_array_equal(results['boundary_inversions_MLP@MLP'].to_numpy()[ok].astype(int), counts)
    assert counts.sum() // 2 == len(analysis.inversions) == _row(analysis, 'MLP@MLP')['boundary_inversions']
    assert counts.sum() // 2 != metrics.boundary_inversions(energy_a[ok], energy_b[ok], threshold, window)[0].sum() // 2
