"""``aiida-ifacerank study`` and ``export`` on the session's stored Si|Ge study (``stored_study``), and bad input."""

import itertools

import pandas as pd
import pytest
import yaml
from aiida.common.links import LinkType
from aiida.orm import CalcJobNode, Group, ProcessNode, QueryBuilder, WorkChainNode, load_node
from ase.io import read

from aiida_ifacerank.analysis.table import MODES
from aiida_ifacerank.common.study import STUDY_ENTRY_POINT, called
from aiida_ifacerank.tools.plots import REPORT_PLOTS
from aiida_ifacerank.workflows.study import StudyWorkChain
from tests.command_line import invoke, one_clean_error
from tests.studies import TINY

pytestmark = pytest.mark.slow


def count(node_class, **filters) -> int:
    return QueryBuilder().append(node_class, filters=filters).count()


def test_status_shows_every_stage_with_its_counts(stored_study):
    result = invoke('study', 'status', stored_study.pk)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f'ifacerank.study<{stored_study.pk}> Si | Ge: finished, exit status 0'
    rows = {line[2:30].strip(): line[30:].split() for line in lines[1:]}
    expected = {  # two bulk crystals; 3 candidates, DFT on 2; MLP@DFT on those 2 and both bulks
        'bulk references': '3/3',
        'generation': '1/1',
        'MLP relaxation': '1/1',
        'DFT relaxation': '2/2',
        'MLP@DFT single points': '4/4',
        'DFT@MLP single points': '1/1',
        'formation, ranking, report': '3/3',
    }
    for stage, counted in expected.items():
        bar, shown = rows[stage][:2]
        assert shown == counted and bar == '[' + '#' * 24 + ']', (stage, rows[stage])
    assert 'Failures:' not in result.output
    # an ended study: --watch prints it once and returns
    assert invoke('study', 'status', stored_study.pk, '--watch', 5).output.splitlines() == ['[0 s]', *lines]


def test_report_writes_the_tables_and_a_summary(stored_study, tmp_path):
    result = invoke('study', 'report', stored_study.pk, '-o', tmp_path)
    assert result.exit_code == 0, result.output
    print(result.output)
    formation = pd.read_csv(tmp_path / 'formation.csv')
    stored = stored_study.outputs.formation.get_dataframe()
    assert len(formation) == 3 * 4
    pd.testing.assert_series_equal(formation['formation_ev_ang2'], stored['formation_ev_ang2'], check_dtype=False)
    assert len(pd.read_csv(tmp_path / 'ranking_results.csv')) == 3
    assert len(pd.read_csv(tmp_path / 'ranking_completeness.csv')) == 3 * 4
    assert len(pd.read_csv(tmp_path / 'report_agreement.csv')) == 2  # the DFT subset
    summary = (tmp_path / 'summary.txt').read_text()
    assert '3 candidates' in summary
    for mode in MODES:
        rows = stored[stored['mode'] == mode]
        finished, outside = (rows['exit_status'] == 0).sum(), (rows['failure'] == 'not in the DFT subset').sum()
        assert f'{mode:<8} {finished:>4} / {0:>3} / {outside:>3}' in summary
    stats = stored_study.outputs.ranking.stats.get_dataframe()
    pair = stats[(stats['group_key'] == 'all') & (stats['mode_a'] == 'DFT@DFT') & (stats['mode_b'] == 'MLP@MLP')]
    pair = pair.iloc[0]
    lines = summary.splitlines()
    header = next(line.split() for line in lines if line.strip().startswith('mode pair'))
    row = next(line.split() for line in lines if line.strip().startswith('MLP@MLP vs DFT@DFT'))
    tops = [int(name[4:]) for name in header if name.startswith('Top-')]
    assert tops
    overlaps = ['-' if pd.isna(pair[f'top{n}_overlap']) else f'{int(pair[f"top{n}_overlap"])}/{n}' for n in tops]
    assert row[3:] == [
        str(pair['n']),
        f'{pair["spearman_rho"]:.3f}',
        f'{pair["kendall_tau_b"]:.3f}',
        *overlaps,
        f'{pair["rmse"]:.4f}',
        f'{pair["mae"]:.4f}',
        str(pair['class_flips']),
        str(pair['boundary_inversions']),
    ]
    for name in (*REPORT_PLOTS, 'matched_planes'):
        for suffix in ('png', 'svg'):
            assert (tmp_path / f'{name}.{suffix}').stat().st_size > 1000, name


def test_export_round_trip_gives_the_stored_energies(stored_study, tmp_path):
    result = invoke('export', stored_study.pk, '-o', tmp_path)
    assert result.exit_code == 0, result.output
    children = called(stored_study)
    mlp = pd.concat([children[name].outputs.results.get_dataframe() for name in ('mlp_bulk', 'mlp_relax')]).set_index(
        'label'
    )
    frames = read(tmp_path / 'structures_MLP_at_MLP.extxyz', index=':')
    assert len(frames) == 3 + 2  # candidates and the two bulk references
    for atoms in frames:
        assert atoms.get_potential_energy() == mlp.at[atoms.info['interface'], 'energy_ev']
    frames = read(tmp_path / 'structures_DFT_at_DFT.extxyz', index=':')
    assert len(frames) == 2 + 2
    for atoms in frames:
        assert atoms.get_potential_energy() == children[f'dft_relax_{atoms.info["interface"]}'].outputs.energy.value
    formation = stored_study.outputs.formation.get_dataframe().set_index(['interface', 'mode'])
    for atoms in read(tmp_path / 'structures_MLP_at_DFT.extxyz', index=':'):
        if atoms.info['interface'].startswith('candidate_'):
            expected = formation.at[(atoms.info['interface'], 'MLP@DFT'), 'formation_ev_ang2']
            assert atoms.info['formation_ev_ang2'] == expected
    table = pd.read_csv(tmp_path / 'energies.csv')
    assert len(table) == 5 + 4 + 4 + 4 and set(table['mode']) == set(MODES)


def test_reanalyse_makes_only_a_new_ranking_node(stored_study):
    original = called(stored_study)['rank']
    before = {kind: count(kind) for kind in (CalcJobNode, WorkChainNode, ProcessNode)}
    result = invoke('study', 'reanalyse', stored_study.pk, '--threshold', 0.02, '--top-n', 1)
    assert result.exit_code == 0, result.output
    node = load_node(int(result.output.split('ifacerank.rank<')[1].split('>')[0]))
    assert node.process_label == 'rank' and node.is_finished_ok
    assert {kind: count(kind) for kind in (CalcJobNode, WorkChainNode)} == {
        kind: before[kind] for kind in (CalcJobNode, WorkChainNode)
    }
    assert count(ProcessNode) == before[ProcessNode] + 1
    old = {link.link_label: link.node.uuid for link in original.base.links.get_incoming(link_type=LinkType.INPUT_CALC)}
    new = {link.link_label: link.node.uuid for link in node.base.links.get_incoming(link_type=LinkType.INPUT_CALC)}
    assert {key: value for key, value in new.items() if key != 'parameters'} == {
        key: value for key, value in old.items() if key != 'parameters'
    }
    assert node.inputs.parameters['threshold'] == 0.02 and node.inputs.parameters['top_n'] == [1]
    assert node.inputs.parameters['tolerance'] == original.inputs.parameters['tolerance']
    assert stored_study.outputs.ranking.results.uuid == original.outputs.results.uuid  # the study is unchanged
    results = node.outputs.results.get_dataframe()
    finished = results['status_DFT@DFT'] == 'ok'
    expected = results.loc[finished, 'energy_DFT@DFT'] < 0.02
    assert (results.loc[finished, 'favourable_DFT@DFT'] == expected).all()


def test_list_shows_the_study(stored_study):
    result = invoke('study', 'list')
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.startswith(f'{stored_study.pk} '))
    assert 'Si|Ge' in row and 'finished' in row and 'MLP@MLP:3' in row and 'DFT@DFT:2' in row


def _config(tmp_path, codes, model_file, **changes):
    values = {
        'lower': 'examples/bulk/Si.cif',
        'upper': 'examples/bulk/Ge.cif',
        'mlp_code': codes[0].pk,
        'dft_code': codes[1].label,
        'protocol': 'fast',
        'model': str(model_file),
        **changes,
    }
    path = tmp_path / 'study.yaml'
    path.write_text(yaml.safe_dump(values))
    return path


@pytest.mark.services
def test_submit_runs_and_status_gives_the_failure(study_codes, trained_mace_file, tmp_path, started_daemon_client):
    """A study submitted from a file and options through the daemon; no lattice match under 10 Å², so it ends at
    its generation, before any job, with exit status 300, and ``study status`` says why."""
    overrides = {**TINY, 'generation': {**TINY['generation'], 'max_area': 10.0}}
    path = _config(
        tmp_path, study_codes, trained_mace_file, protocol='balanced', group='cli/tests', overrides=overrides
    )
    result = invoke('study', 'submit', path, '--dry-run')
    assert result.exit_code == 0 and 'nothing submitted' in result.output, result.output
    result = invoke('study', 'submit', path, '--protocol', 'fast')
    assert result.exit_code == 0, result.output
    node = load_node(int(result.output.split('ifacerank.study<')[1].split('>')[0]))
    assert node.process_type == f'aiida.workflows:{STUDY_ENTRY_POINT}'
    assert node.inputs.fmax_ev_ang.value == 0.05  # fast (the option) over balanced (the file)
    assert node.pk in [member.pk for member in Group.collection.get(label='cli/tests').nodes]
    # --watch follows the study in one process until it ends: a block per change, the last one the end
    watched = invoke('study', 'status', node.pk, '--watch', 1).output.splitlines()
    assert node.is_terminated
    assert node.exit_status == StudyWorkChain.exit_codes.ERROR_GENERATION_FAILED.status, node.exit_message
    lines = invoke('study', 'status', node.pk).output.splitlines()
    assert lines[0] == f'ifacerank.study<{node.pk}> Si | Ge: finished, exit status 300'
    headers = [index for index, line in enumerate(watched) if line.startswith('[') and line.endswith(' s]')]
    assert headers[0] == 0 and watched[headers[-1] + 1 :] == lines
    blocks = [watched[start + 1 : end] for start, end in itertools.pairwise([*headers, len(watched)])]
    assert all(before != after for before, after in itertools.pairwise(blocks))  # printed only when it changed
    failures = lines[lines.index('Failures:') + 1 :]
    assert len(failures) == 1 and failures[0].startswith('  generation: generate_interfaces<')
    assert 'no lattice match within max_area 10.0' in failures[0] and 'no lattice match' in node.exit_message
    assert not node.called_descendants[1:]  # the generation only
    rows = [line.split() for line in invoke('query', '--failures').output.splitlines()[1:]]
    assert [row[:3] for row in rows if row[0] == str(node.pk)] == [[str(node.pk), 'generation', failures[0].split()[1]]]


@pytest.mark.parametrize(
    ('arguments', 'message'),
    [
        (('study', 'status', 99999999), 'no node with identifier'),
        (('study', 'report', 99999999, '-o', 'out'), 'no node with identifier'),
        (('export', 'not-a-pk', '-o', 'out'), 'no node with identifier'),
    ],
)
def test_unknown_study_is_one_clean_error(arguments, message):
    one_clean_error(invoke(*arguments), message)


def test_a_node_that_is_not_a_study_is_refused(stored_study, tmp_path):
    formation = called(stored_study)['formation']
    one_clean_error(
        invoke('study', 'report', formation.pk, '-o', tmp_path),
        f'node {formation.pk} is a formation_energies, not an ifacerank.study work chain.',
    )
    one_clean_error(invoke('study', 'reanalyse', stored_study.pk, '--subset', 'oops'), '--subset')


def direct_rows(study) -> dict:
    """What a query filters on, from the study's ranking tables (not its summary): elements, plane pairs, and
    Spearman ρ of MLP@MLP against DFT@DFT over all interfaces (None when undefined)."""
    results = study.outputs.ranking.results.get_dataframe()
    stats = study.outputs.ranking.stats.get_dataframe()
    row = stats[(stats['group_key'] == 'all') & (stats['mode_a'] == 'DFT@DFT') & (stats['mode_b'] == 'MLP@MLP')]
    rho = row['spearman_rho'].iloc[0] if len(row) else float('nan')
    return {
        'elements': set(results['lower']) | set(results['upper']),
        'planes': set('(' + results['miller_lower'] + ')|(' + results['miller_upper'] + ')'),
        'rho': None if pd.isna(rho) else rho,
    }


@pytest.mark.parametrize(
    ('arguments', 'keep'),
    [
        ((), lambda row: True),
        (('--material', 'Ge'), lambda row: 'Ge' in row['elements']),
        (('--material', 'Si', '--material', 'Ge'), lambda row: {'Si', 'Ge'} <= row['elements']),
        (('--material', 'Sn'), lambda row: False),
        (('--plane', '001|001'), lambda row: '(001)|(001)' in row['planes']),
        (('--plane', '(110)|(110)'), lambda row: False),
        (('--below', 2.0), lambda row: row['rho'] is not None),
        (('--below', 0.0), lambda row: row['rho'] is not None and row['rho'] < 0),
        (('--material', 'Si', '--above', -2.0), lambda row: 'Si' in row['elements'] and row['rho'] is not None),
    ],
)
def test_query_finds_exactly_the_studies_a_direct_filter_keeps(stored_study, second_study, arguments, keep):
    studies = [
        node
        for node in QueryBuilder()
        .append(WorkChainNode, filters={'process_type': f'aiida.workflows:{STUDY_ENTRY_POINT}'})
        .all(flat=True)
        if 'ranking' in node.outputs
    ]
    assert {stored_study.pk, second_study.pk} <= {node.pk for node in studies}
    expected = sorted(node.pk for node in studies if keep(direct_rows(node)))
    result = invoke('query', *arguments)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    found = sorted(int(line.split()[0]) for line in lines[1:]) if expected else []
    assert found == expected, result.output
    if not expected:
        assert lines == ['no study matches']


def test_query_interfaces_lists_the_energies_of_the_matching_studies(stored_study, second_study):
    result = invoke('query', '--material', 'Ge', '--interfaces')
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.output.splitlines()[1:]]
    own = [row for row in rows if int(row[0]) == stored_study.pk]
    assert len(own) == 3 and not [row for row in rows if int(row[0]) == second_study.pk]
    results = stored_study.outputs.ranking.results.get_dataframe().set_index('interface')
    for row in own:
        assert float(row[6]) == pytest.approx(results.at[row[1], 'energy_DFT@DFT'], abs=5e-5) or (
            row[6] == 'NaN' and pd.isna(results.at[row[1], 'energy_DFT@DFT'])
        )


def test_query_refuses_a_bad_plane_or_metric():
    one_clean_error(invoke('query', '--plane', '001'), "plane pair '001'")
    one_clean_error(invoke('query', '--metric', 'r2'), "metric 'r2'")
