"""The thickness-convergence example on short series: bulk registry gives E_f = 0, the coherency strain
reference is the tetragonally strained bulk, and the interface energy of Si|Ge (001) is converged."""

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk

from aiida_ifacerank.science.generation import GenerationParameters

SCRIPT = Path(__file__).parents[2] / 'examples' / 'thickness_convergence.py'
PARAMETERS = GenerationParameters(plane_pairs=(((0, 0, 1), (0, 0, 1)),), max_area=20.0, shift_grid=(1, 2))
"""Two candidates per run: both terminations at the shift (0, 1/2), the bulk registry of diamond (001)."""


@pytest.fixture(scope='module')
def example():
    spec = importlib.util.spec_from_file_location('thickness_convergence', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def calculator(example):
    return example.tersoff_sige()


@pytest.fixture(autouse=True)
def quiet():
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message="'where' used without 'out'")
        warnings.filterwarnings('ignore', message='logm result may be inaccurate')
        yield


def test_homointerface_in_bulk_registry_has_zero_formation_energy(example, calculator):
    table, references = example.thickness_series('Si', 'Si', [2, 3], PARAMETERS, calculator, follow='lowest')
    assert set(table['shift']) == {'(0, 0.5)'} and set(table['termination_index']) == {0}
    assert references['strain_unrelaxed_eV'] == pytest.approx(0.0, abs=1e-9)
    for column in ('ef_unrelaxed', 'ef_relaxed', 'gamma_relaxed'):
        assert np.abs(table[column]).max() < 1e-3  # meV/Å², i.e. 1e-6 eV/Å²
    assert list(table['atoms']) == [16, 24]


def test_si_ge_interface_energy_converges_and_ef_grows_by_the_strain_energy(example, calculator):
    table, references = example.thickness_series('Si', 'Ge', [2, 3], PARAMETERS, calculator, follow='lowest')
    thin, thick = table.iloc[0], table.iloc[1]
    assert table['relaxation_converged'].all() and thin['candidate'] == thick['candidate']

    # the strained reference is Ge with Si's in-plane lattice: a tetragonal cell, checked directly with ASE
    a_si, a_ge = references['a_ang']['Si'], references['a_ang']['Ge']
    tetragonal = bulk('Ge', 'diamond', a_ge, cubic=True)
    tetragonal.set_cell(np.diag([a_si, a_si, a_ge]), scale_atoms=True)
    tetragonal.calc = calculator
    strained = tetragonal.get_potential_energy() / len(tetragonal) - references['mu_eV']['Ge']
    assert references['strain_unrelaxed_eV'] == pytest.approx(strained, abs=1e-8)
    assert 0 < references['strain_relaxed_eV'] < references['strain_unrelaxed_eV']  # Poisson expansion

    # one more layer per side adds 4 Ge atoms' strain energy to E_f, and leaves γ unchanged
    strain_step = 4 * references['strain_relaxed_eV'] / (2 * thin['area_ang2']) * 1000
    assert thick['ef_relaxed'] - thin['ef_relaxed'] == pytest.approx(strain_step, abs=0.01)
    assert thick['gamma_relaxed'] == pytest.approx(thin['gamma_relaxed'], abs=0.01)
    assert abs(thick['gamma_relaxed']) < 1.0 and thick['ef_relaxed'] < thick['ef_unrelaxed']
    assert example.converged_from(table.set_index('thickness')['gamma_relaxed'], 0.01) == 2
