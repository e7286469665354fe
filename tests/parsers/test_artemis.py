"""ArtemisParser on outputs recorded from a real ARTEMIS 2.0 run (Si|Ge (001), see fixtures/)."""

import shutil
from pathlib import Path

import pytest
from aiida.common.links import LinkType
from aiida.orm import CalcJobNode, Dict, FolderData, StructureData
from aiida.plugins import ParserFactory
from ase.build import bulk

from aiida_ifacerank.calculations.generate import METADATA_KEY
from aiida_ifacerank.science.artemis import read_match, read_shifts

FIXTURE = Path(__file__).parent / 'fixtures' / 'artemis_si_ge_001'
ArtemisParser = ParserFactory('ifacerank.artemis')


def _node_with_retrieved(aiida_localhost, folder: Path) -> CalcJobNode:
    node = CalcJobNode(computer=aiida_localhost, process_type='aiida.calculations:ifacerank.artemis')
    node.set_option('resources', {'num_machines': 1, 'num_mpiprocs_per_machine': 1})
    for label, element, a in (('lower', 'Si', 5.431), ('upper', 'Ge', 5.658)):
        structure = StructureData(ase=bulk(element, 'diamond', a, cubic=True)).store()
        node.base.links.add_incoming(structure, LinkType.INPUT_CALC, label)
    node.base.links.add_incoming(Dict({}).store(), LinkType.INPUT_CALC, 'parameters')
    node.store()
    retrieved = FolderData()
    retrieved.base.repository.put_object_from_tree(str(folder))
    retrieved.base.links.add_incoming(node, LinkType.CREATE, 'retrieved')
    retrieved.store()
    return node


def test_recorded_output_files_are_read_by_hand_checked_values():
    match = read_match(FIXTURE / 'DINTERFACES' / 'D01' / 'struc_data.txt')
    assert match['transform_lower'] == [[1, -3, 0], [3, -2, 0], [0, 0, 1]]
    assert match['length_strain'] == pytest.approx(0.03284671068)
    assert (match['miller_lower'], match['miller_upper'], match['termination']) == ([0, 0, 1], [0, 0, 1], [1, 1])
    shifts = read_shifts(FIXTURE / 'DINTERFACES' / 'D01' / 'DSHIFT' / 'shift_data.txt')
    assert shifts[2] == (0.098039, 0.254902, 1.967213)


def test_parser_normalises_recorded_output(aiida_localhost):
    node = _node_with_retrieved(aiida_localhost, FIXTURE)
    results, calcfunction = ArtemisParser.parse_from_node(node, store_provenance=False)
    assert calcfunction.is_finished_ok
    candidates = {key: value for key, value in results.items() if key.startswith('candidate_')}
    assert len(candidates) == 3
    metadata = candidates['candidate_0001'].base.attributes.get(METADATA_KEY)
    assert metadata['shift'] == [0.098039, 0.254902] and metadata['gap_ang'] == pytest.approx(1.967213)
    assert metadata['atoms'] == 56 and metadata['match_id'] == 'D01'
    assert results['report']['counts'] == {'unique_matches': 1, 'candidates': 3}


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
