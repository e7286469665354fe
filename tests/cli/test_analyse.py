"""``aiida-ifacerank analyse`` on a CSV file, with and without storing in the profile."""

import pandas as pd
import pytest
from click.testing import CliRunner

from aiida_ifacerank.analysis import analyse
from aiida_ifacerank.cli import cmd_root


def test_analyse_prints_stats_and_writes_csvs(mixed_table, tmp_path):
    source = tmp_path / 'in.csv'
    mixed_table.to_csv(source, index=False, na_rep='nan')
    result = CliRunner().invoke(cmd_root, ['analyse', str(source), '-o', str(tmp_path / 'out'), '--top-n', '3'])
    assert result.exit_code == 0, result.output
    assert 'spearman_rho' in result.output and 'Completeness' in result.output
    stats = pd.read_csv(tmp_path / 'out' / 'stats.csv')
    expected = analyse(mixed_table, top_n=[3]).stats
    assert stats['spearman_rho'].to_numpy() == pytest.approx(expected['spearman_rho'].to_numpy(), nan_ok=True)
    results = pd.read_csv(tmp_path / 'out' / 'results.csv')
    assert len(results) == 8 and 'rank_shift_MLP@MLP' in results


def test_analyse_store_runs_the_calcfunction(mixed_table, tmp_path):
    source = tmp_path / 'in.csv'
    mixed_table.to_csv(source, index=False, na_rep='nan')
    result = CliRunner().invoke(cmd_root, ['analyse', str(source), '-o', str(tmp_path), '--store'])
    assert result.exit_code == 0, result.output
    assert 'Stored the analysis as calcfunction node' in result.output
    stored, direct = pd.read_csv(tmp_path / 'stats.csv'), analyse(mixed_table).stats
    assert stored['kendall_tau_b'].to_numpy() == pytest.approx(direct['kendall_tau_b'].to_numpy(), nan_ok=True)
    assert 'fraction_ok' in result.output  # the completeness summary of the stored tables


def test_analyse_bad_input_gives_a_clear_message(mixed_table, tmp_path):
    source = tmp_path / 'bad.csv'
    source.write_text('interface,lower,upper,energy_DFT@DFT,energy_DFT@GAP\na,Si,Ge,0.1,0.2\n')
    result = CliRunner().invoke(cmd_root, ['analyse', str(source), '-o', str(tmp_path)])
    assert result.exit_code != 0
    assert 'unknown evaluation mode' in result.output
    good = tmp_path / 'good.csv'
    mixed_table.to_csv(good, index=False, na_rep='nan')
    result = CliRunner().invoke(cmd_root, ['analyse', str(good), '-o', str(tmp_path), '--subset', 'oops'])
    assert result.exit_code != 0 and 'NAME=CONDITION' in result.output


@pytest.mark.parametrize('store', [False, True])
def test_analyse_tolerance(mixed_table, tmp_path, store):
    source = tmp_path / 'in.csv'
    mixed_table.to_csv(source, index=False, na_rep='nan')
    arguments = ['analyse', str(source), '-o', str(tmp_path / 'out'), '--tolerance', '0.011']
    result = CliRunner().invoke(cmd_root, arguments + (['--store'] if store else []))
    assert result.exit_code == 0, result.output
    stats = pd.read_csv(tmp_path / 'out' / 'stats.csv')
    expected = analyse(mixed_table, tolerance=0.011).stats
    assert stats['kendall_tau_b'].to_numpy() == pytest.approx(expected['kendall_tau_b'].to_numpy(), nan_ok=True)
    # without the tolerance if1 and if2 flip class and swap order between DFT@DFT and MLP@MLP (see test_rank.py)
    row = stats[(stats.mode_a == 'DFT@DFT') & (stats.mode_b == 'MLP@MLP') & (stats.group_key == 'all')].iloc[0]
    assert (row['class_flips'], row['boundary_inversions']) == (0, 0)
    results = pd.read_csv(tmp_path / 'out' / 'results.csv').set_index('interface')
    assert results.loc[['if1', 'if2'], 'rank_MLP@MLP'].tolist() == [2.5, 2.5]


def test_analyse_refuses_a_negative_tolerance(mixed_table, tmp_path):
    source = tmp_path / 'in.csv'
    mixed_table.to_csv(source, index=False, na_rep='nan')
    result = CliRunner().invoke(cmd_root, ['analyse', str(source), '-o', str(tmp_path), '--tolerance', '-0.01'])
    assert result.exit_code != 0 and '--tolerance' in result.output
