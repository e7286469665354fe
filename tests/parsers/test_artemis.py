"""ArtemisParser on outputs recorded from a real ARTEMIS 2.0 run (Si|Ge (001) on conventional cells, see fixtures/).

The fixture ``artemis_si_ge_001`` was recorded from the inputs that ``ifacerank.artemis`` writes
(``param.in.recorded``: USE_PRICEL F, TOL_MAXSIZE 2, NTERM 1, ISHIFT 4, NSHIFT 3, CLOCK 1) for the
cubic cells of Si (5.431 Å) and Ge (5.658 Å): two lattice matches, both cube on cube, ``D01`` a
2×1 supercell (area 2a²) and ``D02`` the a × a cell, three shifts each.
"""

import shutil
from pathlib import Path

import pytest
from aiida.common.links import LinkType
from aiida.orm import CalcJobNode, Dict, FolderData, StructureData
from aiida.plugins import ParserFactory
from ase.build import bulk

from aiida_ifacerank.common.candidates import CANDIDATE_ATTRIBUTE, CANDIDATE_KEYS
from aiida_ifacerank.parsers.artemis import read_match, read_shifts

FIXTURE = Path(__file__).parent / 'fixtures' / 'artemis_si_ge_001'
ArtemisParser = ParserFactory('ifacerank.artemis')
A_SI, A_GE = 5.431, 5.658
BIAXIAL = ((A_SI / A_GE) ** 2 - 1) / 2  # Green-Lagrange strain of Ge made to fit Si, cube on cube: -3.93 %


def _node_with_retrieved(aiida_localhost, folder: Path, cubic: bool = True) -> CalcJobNode:
    node = CalcJobNode(computer=aiida_localhost, process_type='aiida.calculations:ifacerank.artemis')
    node.set_option('resources', {'num_machines': 1, 'num_mpiprocs_per_machine': 1})
    for label, element, a in (('lower', 'Si', A_SI), ('upper', 'Ge', A_GE)):
        structure = StructureData(ase=bulk(element, 'diamond', a, cubic=cubic)).store()
        node.base.links.add_incoming(structure, LinkType.INPUT_CALC, label)
    node.base.links.add_incoming(Dict({}).store(), LinkType.INPUT_CALC, 'parameters')
    node.store()
    retrieved = FolderData()
    retrieved.base.repository.put_object_from_tree(str(folder))
    retrieved.base.links.add_incoming(node, LinkType.CREATE, 'retrieved')
    retrieved.store()
    return node


def _candidates(results) -> dict:
    return {
        key: value.base.attributes.get(CANDIDATE_ATTRIBUTE)
        for key, value in results.items()
        if key[:10] == 'candidate_'
    }


def test_recorded_output_files_are_read_by_hand_checked_values():
    match = read_match(FIXTURE / 'DINTERFACES' / 'D01' / 'struc_data.txt')
    assert match['lattice_match'] == 1
    assert match['transform_lower'] == [[0, -1, 0], [2, 1, 0], [0, 0, 1]]
    assert match['transform_upper'] == [[0, 1, 0], [-2, -1, 0], [0, 0, 1]]
    assert match['vector_mismatch'] == pytest.approx(A_GE / A_SI - 1, abs=1e-6)
    assert (match['miller_lower'], match['miller_upper'], match['termination']) == ([0, 0, 1], [0, 0, 1], [1, 1])
    match = read_match(FIXTURE / 'DINTERFACES' / 'D02' / 'struc_data.txt')
    assert match['lattice_match'] == 2
    assert match['transform_lower'] == match['transform_upper'] == [[0, 1, 0], [-1, 0, 0], [0, 0, 1]]
    shifts = read_shifts(FIXTURE / 'DINTERFACES' / 'D02' / 'DSHIFT' / 'shift_data.txt')
    assert shifts == {1: (0.037736, 0.037736, 1.5), 2: (0.320755, 0.320755, 0.5), 3: (0.339623, 0.339623, 0.8)}


def test_parser_normalises_recorded_output(aiida_localhost):
    node = _node_with_retrieved(aiida_localhost, FIXTURE)
    results, calcfunction = ArtemisParser.parse_from_node(node, store_provenance=False)
    assert calcfunction.is_finished_ok, calcfunction.exit_message
    candidates = _candidates(results)
    assert list(candidates) == [f'candidate_{i:04d}' for i in range(6)]  # 2 matches x NTERM 1 x NSHIFT 3
    for label, metadata in candidates.items():
        assert set(metadata) == set(CANDIDATE_KEYS)
        assert metadata['candidate'] == label and metadata['backend'] == 'artemis' and metadata['raw_matches'] == 1
        assert (metadata['lower'], metadata['upper'], metadata['miller_lower'], metadata['miller_upper']) == (
            'Si',
            'Ge',
            '001',
            '001',
        )
        assert metadata['strain_11'] == pytest.approx(BIAXIAL, abs=1e-9)
        assert metadata['strain_22'] == pytest.approx(BIAXIAL, abs=1e-9)
        assert metadata['strain_12'] == pytest.approx(0, abs=1e-9)
        assert metadata['von_mises_strain'] == pytest.approx(2 / 3 * abs(BIAXIAL), abs=1e-9)
        assert metadata['length_strain'] == pytest.approx(A_GE / A_SI - 1, abs=1e-9)
        assert metadata['angle_strain'] == pytest.approx(0, abs=1e-9)
        assert metadata['termination'] == [1, 1] and metadata['termination_index'] == 0
        assert metadata['model'] == 'periodic'
    first, fourth = candidates['candidate_0000'], candidates['candidate_0003']
    assert (first['match_id'], first['atoms']) == ('001|001#0', 16)
    assert first['area_ang2'] == pytest.approx(2 * A_SI**2, rel=1e-6)
    assert (fourth['match_id'], fourth['atoms']) == ('001|001#1', 8)
    assert fourth['area_ang2'] == pytest.approx(A_SI**2, rel=1e-6)
    assert fourth['shift'] == [0.037736, 0.037736] and fourth['gap_ang'] == pytest.approx(1.5)
    # lower slab first (the POSCAR's Si block); ARTEMIS's separation is the first interface's gap
    assert (first['atoms_lower'], fourth['atoms_lower']) == (8, 4)
    assert fourth['interfaces'][0]['gap_ang'] == pytest.approx(1.5, abs=1e-5)
    assert len(fourth['interfaces']) == 2 and isinstance(fourth['interfaces_equivalent'], bool)
    table = results['candidates'].get_dataframe()
    assert list(table.columns) == list(CANDIDATE_KEYS) and list(table['candidate']) == list(candidates)
    assert results['report']['counts'] == {'unique_matches': 2, 'candidates': 6}
    assert results['report']['backend'] == 'artemis'


def test_termination_index_counts_folders_of_the_same_lattice_match(aiida_localhost, tmp_path):
    folder = tmp_path / 'same_match'
    shutil.copytree(FIXTURE, folder)
    struc_data = folder / 'DINTERFACES' / 'D02' / 'struc_data.txt'
    struc_data.write_text(struc_data.read_text().replace('Lattice match: 2', 'Lattice match: 1'))
    results, calcfunction = ArtemisParser.parse_from_node(
        _node_with_retrieved(aiida_localhost, folder), store_provenance=False
    )
    assert calcfunction.is_finished_ok, calcfunction.exit_message
    candidates = _candidates(results)
    assert [m['match_id'] for m in candidates.values()] == ['001|001#0'] * 6
    assert [m['termination_index'] for m in candidates.values()] == [0, 0, 0, 1, 1, 1]
    assert results['report']['counts'] == {'unique_matches': 1, 'candidates': 6}


def test_transforms_not_of_the_input_cells_are_refused(aiida_localhost):
    """The recorded transforms refer to the cubic cells; given primitive cells as inputs, the lengths differ."""
    node = _node_with_retrieved(aiida_localhost, FIXTURE, cubic=False)
    _, calcfunction = ArtemisParser.parse_from_node(node, store_provenance=False)
    assert calcfunction.exit_status == 302
    assert 'do not refer to the input cells' in calcfunction.exit_message


def test_corrupt_and_missing_output_give_exit_codes(aiida_localhost, tmp_path):
    corrupt = tmp_path / 'corrupt'
    shutil.copytree(FIXTURE, corrupt)
    (corrupt / 'DINTERFACES' / 'D01' / 'struc_data.txt').write_text('Lattice match: 1\n garbage\n')
    _, calcfunction = ArtemisParser.parse_from_node(
        _node_with_retrieved(aiida_localhost, corrupt), store_provenance=False
    )
    assert calcfunction.exit_status == 302
    assert 'no transformation matrices' in calcfunction.exit_message

    missing = tmp_path / 'missing'
    missing.mkdir()
    (missing / 'artemis.out').write_text((FIXTURE / 'artemis.out').read_text())
    _, calcfunction = ArtemisParser.parse_from_node(
        _node_with_retrieved(aiida_localhost, missing), store_provenance=False
    )
    assert calcfunction.exit_status == 301


def test_artemis_internal_error_gives_its_exit_code_and_message(aiida_localhost):
    """Recorded: Si|Ge, NMILLER 3, ISHIFT 4 stops in get_shifts_DON after matching (ARTEMIS 2.0.0.dev3)."""
    node = _node_with_retrieved(aiida_localhost, FIXTURE.with_name('artemis_don_error'))
    _, calcfunction = ArtemisParser.parse_from_node(node, store_provenance=False)
    assert calcfunction.exit_status == 320
    assert 'get_shifts_DON' in calcfunction.exit_message
