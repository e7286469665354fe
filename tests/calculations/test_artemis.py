"""``ifacerank.artemis``: input files, a real ARTEMIS run on Si|Ge (001) with small settings, bad input."""

import numpy as np
import pytest
from aiida.common.folders import Folder
from aiida.engine import run_get_node
from aiida.orm import Dict, StructureData
from aiida.plugins import CalculationFactory
from ase.build import bulk

from aiida_ifacerank.calculations.generate import METADATA_KEY
from aiida_ifacerank.science.generation import min_distance_violation

ArtemisCalculation = CalculationFactory('ifacerank.artemis')
SMALL = {
    'NMATCH': 1,
    'TOL_VEC': 5.0,
    'TOL_ANG': 1.0,
    'TOL_AREA': 10.0,
    'TOL_MAXSIZE': 3,
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


@pytest.fixture
def si_ge():
    lower = StructureData(ase=bulk('Si', 'diamond', 5.431, cubic=True))
    upper = StructureData(ase=bulk('Ge', 'diamond', 5.658, cubic=True))
    return lower, upper


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
    ):
        assert line in text
    assert (tmp_path / 'POSCAR_lower').read_text().split('\n')[5].split() == ['Si']
    assert calcinfo.codes_info[0].cmdline_params == ['-f', 'param.in']
    assert 'DINTERFACES' in calcinfo.retrieve_list


@pytest.mark.parametrize(
    ('parameters', 'message'),
    [({'TOL_VEC': 0}, 'TOL_VEC must be > 0'), ({'LW_MILLER': [0, 0, 0]}, r'\(0, 0, 0\)'), ({'NSWAP': 3}, 'unknown')],
)
def test_bad_parameters_are_refused_before_submission(si_ge, artemis_code, parameters, message):
    lower, upper = si_ge
    with pytest.raises(ValueError, match=message):
        ArtemisCalculation(
            inputs={'code': artemis_code, 'lower': lower, 'upper': upper, 'parameters': Dict(parameters)}
        )


@pytest.mark.slow
def test_real_artemis_run_gives_candidates_in_the_common_format(si_ge, artemis_code):
    lower, upper = si_ge
    outputs, node = run_get_node(
        ArtemisCalculation, code=artemis_code, lower=lower, upper=upper, parameters=Dict(SMALL)
    )
    assert node.is_finished_ok, node.exit_message
    candidates = [value for key, value in outputs.items() if key.startswith('candidate_')]
    assert len(candidates) == 3  # NMATCH 1 x NTERM 1 x NSHIFT 3
    table = outputs['candidates'].get_dataframe()
    assert list(table['candidate']) == sorted(key for key in outputs if key.startswith('candidate_'))
    for structure in candidates:
        metadata = structure.base.attributes.get(METADATA_KEY)
        assert metadata['backend'] == 'artemis'
        assert (metadata['lower'], metadata['upper']) == ('Si', 'Ge')
        assert (metadata['miller_lower'], metadata['miller_upper']) == ('001', '001')
        assert metadata['length_strain'] <= 0.05
        assert metadata['shift'] != [0.0, 0.0]
        a, b = np.asarray(structure.cell)[:2]
        assert metadata['area_ang2'] == pytest.approx(np.linalg.norm(np.cross(a, b)))
        assert sorted(structure.get_kind_names()) == ['Ge', 'Si'] and metadata['atoms'] == len(structure.sites)
        assert min_distance_violation(structure.get_pymatgen_structure(), 0.5) is None
    assert outputs['report']['artemis_version'].startswith('2.')
