"""``ifacerank.study`` refuses bad input before any job: one message naming the input and what to do."""

import pytest
from aiida.engine import run_get_node
from aiida.orm import StructureData
from ase.build import bulk
from pymatgen.core import Structure

from aiida_ifacerank.tools.pseudos import install_family
from aiida_ifacerank.workflows.study import StudyWorkChain


@pytest.fixture
def builder(python_code, pw_code):
    install_family()
    si, ge = (StructureData(pymatgen=Structure.from_file(f'examples/bulk/{name}.cif')) for name in ('Si', 'Ge'))

    def make(lower=si, upper=ge, **overrides):
        return StudyWorkChain.get_builder_from_protocol(
            python_code, pw_code, lower, upper, protocol='fast', overrides=overrides
        )

    return make


def test_protocol_sets_one_convergence_for_both_methods(builder):
    inputs = builder()
    assert inputs.fmax_ev_ang.value == 0.05 and inputs.kpoints_distance_inv_ang.value == 0.30
    assert inputs.mlp.mlp.parameters['optimizer'] == 'BFGS' and inputs.mlp.mlp.foundation_model.value == 'large'
    assert inputs.dft.protocol.value == 'fast' and inputs.dft_subset.get_dict() == {'choice': 'all'}


@pytest.mark.parametrize(
    ('change', 'message'),
    [
        ({'lower': 'GaAs'}, 'lower must be an elemental crystal'),
        ({'generation': {'max_area': -1}}, 'generation: .*max_area must be > 0'),
        ({'mlp': {'parameters': {'fmax': 0.1}}}, r"mlp.mlp.parameters sets \['fmax'\]: the study sets them"),
        ({'mlp': {'parameters': {'optimizer': 'SD'}}}, 'optimizer must be one of'),
        ({'dft_subset': {'choice': 'mlp_top'}}, 'needs an integer n >= 1'),
        ({'dft_start': 'bulk'}, 'dft_start must be one of'),
        ({'max_concurrent': 0}, 'max_concurrent >= 1'),
        ({'analysis': {'top': 5}}, r"unknown analysis parameter\(s\) \['top'\]"),
        ({'dft': {'overrides': {'fmax': 0.1}}}, r"dft: unknown override key\(s\) \['fmax'\]"),
    ],
)
def test_bad_input_is_refused_before_any_job(builder, change, message):
    if 'lower' in change:
        gaas = bulk('GaAs', 'zincblende', 5.65)
        inputs = builder(lower=StructureData(ase=gaas))
    else:
        inputs = builder(**change)
    with pytest.raises(ValueError, match=message):
        run_get_node(inputs)


def test_unknown_protocol_override_is_refused(builder):
    with pytest.raises(ValueError, match=r"unknown override key\(s\) \['subset'\]"):
        builder(subset={'choice': 'all'})
