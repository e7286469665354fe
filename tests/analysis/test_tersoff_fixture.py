"""The Tersoff results fixture: states its origin, is complete where it says so, analyses cleanly."""

from pathlib import Path

from aiida_ifacerank.analysis import MODES, analyse, read_results_csv

EXAMPLE = Path(__file__).parents[1] / 'fixtures' / 'tersoff_sige_results.csv'


def test_example_states_its_origin_and_has_all_four_modes():
    header = [line for line in EXAMPLE.read_text().splitlines() if line.startswith('#')]
    assert any('Tersoff' in line for line in header) and any('MACE' in line for line in header)
    assert any('make_tersoff_sige_results.py' in line for line in header)
    table = read_results_csv(EXAMPLE)
    assert all(f'energy_{mode}' in table for mode in MODES)
    assert len(table) >= 30


def test_example_analysis_is_complete_or_explained():
    analysis = analyse(read_results_csv(EXAMPLE))
    report = analysis.completeness
    assert set(report['status']) <= {'ok', 'failed'}
    assert (report.loc[report['status'] == 'failed', 'reason'].str.contains('not converged')).all()
    overall = analysis.stats[analysis.stats.group_key == 'all'].set_index('mode_b')
    assert overall.loc['MLP@MLP', 'n'] >= 30
