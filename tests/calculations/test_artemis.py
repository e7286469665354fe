"""``ifacerank.artemis``: input files, real ARTEMIS runs on Si|Ge (001) with small settings, bad input,
and the same candidate metadata as the pymatgen backend."""

import pytest
from aiida.common.folders import Folder
from aiida.engine import run_get_node
from aiida.orm import Dict, QueryBuilder, StructureData
from aiida.plugins import CalculationFactory
from ase.build import bulk

from aiida_ifacerank.calculations.generate import run_generation
from aiida_ifacerank.common.candidates import CANDIDATE_ATTRIBUTE, CANDIDATE_KEYS, CANDIDATE_PREFIX
from aiida_ifacerank.science.generation import min_distance_violation
from aiida_ifacerank.science.lattice import interface_area

ArtemisCalculation = CalculationFactory('ifacerank.artemis')
A_SI, A_GE = 5.431, 5.658
SMALL = {
    'NMATCH': 1,
    'TOL_VEC': 5.0,
    'TOL_ANG': 1.0,
    'TOL_AREA': 10.0,
    'TOL_MAXSIZE': 1,  # on the conventional cells 2 takes seconds, 3 minutes
    'LW_MILLER': [0, 0, 1],
    'UP_MILLER': [0, 0, 1],
    'LW_NUM_LAYERS': 2,
    'UP_NUM_LAYERS': 2,
    'NTERM': 1,
    'ISHIFT': 4,
    'NSHIFT': 3,
    'C_SCALE': 1.0,
    'CLOCK': 1,
}
STRAINS = ('strain_11', 'strain_22', 'strain_12', 'von_mises_strain', 'length_strain', 'angle_strain')


@pytest.fixture
def si_ge():
    lower = StructureData(ase=bulk('Si', 'diamond', A_SI, cubic=True))
    upper = StructureData(ase=bulk('Ge', 'diamond', A_GE, cubic=True))
    return lower, upper


def _candidates(outputs) -> list:
    return [value for key, value in sorted(outputs.items()) if key.startswith(CANDIDATE_PREFIX)]


def test_input_files(si_ge, artemis_code, tmp_path):
    lower, upper = si_ge
    builder = ArtemisCalculation.get_builder()
    builder.code, builder.lower, builder.upper, builder.parameters = artemis_code, lower, upper, Dict(SMALL)
    process = ArtemisCalculation(inputs=dict(builder))
    calcinfo = process.prepare_for_submission(Folder(str(tmp_path)))
    text = (tmp_path / 'param.in').read_text()
    for line in (
        'TASK = 1',
        'STRUC1_FILE = POSCAR_lower',
        'STRUC2_FILE = POSCAR_upper',
        'CLOCK = 1',
        'LW_MILLER = 0 0 1',
        'TOL_VEC = 5.0',
        'NSHIFT = 3',
        'LGEN_INTERFACES = T',
        'LW_USE_PRICEL = F',
        'UP_USE_PRICEL = F',
    ):
        assert line in text
    lines = (tmp_path / 'POSCAR_lower').read_text().split('\n')
    assert lines[5].split() == ['Si'] and [float(x) for x in lines[2].split()] == [A_SI, 0, 0]  # the input cell
    assert calcinfo.codes_info[0].cmdline_params == ['-f', 'param.in']
    assert 'DINTERFACES' in calcinfo.retrieve_list


@pytest.mark.parametrize(
    ('parameters', 'message'),
    [
        ({'TOL_VEC': 0}, 'TOL_VEC must be > 0'),
        ({'LW_MILLER': [0, 0, 0]}, r'\(0, 0, 0\)'),
        ({'NSWAP': 3}, 'unknown'),
        ({'LW_USE_PRICEL': True}, 'give a primitive cell as input'),
    ],
)
def test_bad_parameters_are_refused_before_submission(si_ge, artemis_code, parameters, message):
    lower, upper = si_ge
    with pytest.raises(ValueError, match=message):
        ArtemisCalculation(
            inputs={'code': artemis_code, 'lower': lower, 'upper': upper, 'parameters': Dict(parameters)}
        )


def test_real_artemis_run_gives_candidates_in_the_common_format(si_ge, artemis_code):
    """Conventional cells, (001)|(001), TOL_MAXSIZE 1: the a × a cube-on-cube match, three shifts."""
    lower, upper = si_ge
    outputs, node = run_get_node(
        ArtemisCalculation, code=artemis_code, lower=lower, upper=upper, parameters=Dict(SMALL)
    )
    assert node.is_finished_ok, node.exit_message
    candidates = _candidates(outputs)
    assert len(candidates) == 3  # NMATCH 1 x NTERM 1 x NSHIFT 3
    table = outputs['candidates'].get_dataframe()
    assert list(table['candidate']) == [f'candidate_{i:04d}' for i in range(3)]
    for structure in candidates:
        metadata = structure.base.attributes.get(CANDIDATE_ATTRIBUTE)
        assert set(metadata) == set(CANDIDATE_KEYS)
        assert metadata['backend'] == 'artemis' and metadata['match_id'] == '001|001#0'
        assert (metadata['lower'], metadata['upper']) == ('Si', 'Ge')
        assert (metadata['miller_lower'], metadata['miller_upper']) == ('001', '001')
        assert metadata['length_strain'] == pytest.approx(A_GE / A_SI - 1)
        assert metadata['shift'] != [0.0, 0.0]
        assert metadata['area_ang2'] == pytest.approx(A_SI**2, rel=1e-6)
        assert metadata['area_ang2'] == pytest.approx(interface_area(structure.cell))
        assert sorted(structure.get_kind_names()) == ['Ge', 'Si'] and metadata['atoms'] == len(structure.sites) == 8
        assert min_distance_violation(structure.get_pymatgen_structure(), 0.5) is None
    assert outputs['report']['artemis_version'].startswith('2.')


def test_both_backends_give_the_same_metadata_and_strains(si_ge, artemis_code):
    """Si|Ge (001)|(001): pymatgen's cell is the a/√2 square, ARTEMIS's the a square of the input cell;
    both are cube on cube, with the biaxial Green-Lagrange strain ((a_Si/a_Ge)² - 1)/2 of Ge."""
    lower, upper = si_ge
    pymatgen, _, _ = run_generation(lower, upper, {'plane_pairs': [[[0, 0, 1], [0, 0, 1]]], 'max_area': 30})
    artemis, node = run_get_node(
        ArtemisCalculation, code=artemis_code, lower=lower, upper=upper, parameters=Dict(SMALL)
    )
    assert node.is_finished_ok, node.exit_message
    ours = [c.base.attributes.get(CANDIDATE_ATTRIBUTE) for c in _candidates(pymatgen)]
    theirs = [c.base.attributes.get(CANDIDATE_ATTRIBUTE) for c in _candidates(artemis)]
    assert ours and theirs
    assert {frozenset(m) for m in ours + theirs} == {frozenset(CANDIDATE_KEYS)}
    assert {m['backend'] for m in ours} == {'pymatgen'} and {m['backend'] for m in theirs} == {'artemis'}
    assert {m['match_id'] for m in ours + theirs} == {'001|001#0'}
    assert ours[0]['area_ang2'] == pytest.approx(A_SI**2 / 2, rel=1e-6)
    assert theirs[0]['area_ang2'] == pytest.approx(A_SI**2, rel=1e-6)
    for key in STRAINS:
        assert theirs[0][key] == pytest.approx(ours[0][key], abs=1e-6), key
    biaxial = ((A_SI / A_GE) ** 2 - 1) / 2
    assert theirs[0]['strain_11'] == pytest.approx(biaxial, abs=1e-9)
    assert theirs[0]['von_mises_strain'] == pytest.approx(2 / 3 * abs(biaxial), abs=1e-9)

    query = QueryBuilder().append(
        StructureData,
        filters={
            f'attributes.{CANDIDATE_ATTRIBUTE}.lower': 'Si',
            f'attributes.{CANDIDATE_ATTRIBUTE}.von_mises_strain': {'<': 0.03},
        },
        project=f'attributes.{CANDIDATE_ATTRIBUTE}.backend',
    )
    assert {'pymatgen', 'artemis'} <= set(query.all(flat=True))
