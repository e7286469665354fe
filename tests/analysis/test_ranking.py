"""The ranking analysis on hand-checked tables: completeness, flags, groups, files and bad input."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from aiida_ifacerank.analysis import analyse, build_table, read_results_csv


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
