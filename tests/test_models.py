"""The small MACE fitted to Tersoff Si-Ge in the test session (``trained_mace_file``) against Tersoff itself:
unseen rattled frames, relaxed bulk lattice constants and the formation energies (eV/Å²) of (001) interface
candidates that are not in its training set."""

import itertools
import time
from collections import Counter

import numpy as np
import pytest
from ase.filters import FrechetCellFilter
from ase.optimize import BFGS
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor
from scipy.stats import spearmanr

from aiida_ifacerank.science.energetics import formation_energy
from aiida_ifacerank.science.generation import GenerationParameters, generate
from aiida_ifacerank.science.lattice import interface_area
from tests.models import diamond_sige_cells, tersoff_sige

pytestmark = pytest.mark.slow  # every test needs the model trained in the session (about a minute)

BULK = {element: Structure.from_file(f'examples/bulk/{element}.cif') for element in ('Si', 'Ge')}
TINY_001 = GenerationParameters(plane_pairs=(((0, 0, 1), (0, 0, 1)),), max_area=20, thickness=(1, 1), shift_grid=(2, 2))
Z_ONLY = [False, False, True, False, False, False]


@pytest.fixture(scope='module')
def calculators(trained_mace_file):
    """Tersoff and the MACE model fitted to it."""
    import mace.calculators  # noqa: PLC0415 - mace before e3nn

    model = mace.calculators.MACECalculator(model_paths=str(trained_mace_file), device='cpu', default_dtype='float64')
    return {'Tersoff': tersoff_sige(), 'MACE': model}


@pytest.fixture(scope='module')
def bulk_references(calculators):
    """(calculator, element) -> (cubic lattice constant in Å, energy per atom in eV) of the relaxed bulk."""
    references = {}
    for (name, calculator), (element, structure) in itertools.product(calculators.items(), BULK.items()):
        atoms = AseAtomsAdaptor.get_atoms(structure)
        atoms.calc = calculator
        assert BFGS(FrechetCellFilter(atoms), logfile=None).run(fmax=0.01, steps=200)
        references[name, element] = (atoms.get_volume() ** (1 / 3), atoms.get_potential_energy() / len(atoms))
    return references


def interface_energies(lower, upper, calculators, bulk_references):
    """Calculator -> E_f (eV/Å²) of each relaxed (001)|(001) candidate of ``lower``|``upper``: the cell scaled by the
    calculator's relaxed a over the input a of ``lower``, positions and the length along z relaxed."""
    candidates = generate(BULK[lower], BULK[upper], TINY_001).candidates
    energies = {}
    for name, calculator in calculators.items():
        started = time.perf_counter()
        scale = bulk_references[name, lower][0] / BULK[lower].lattice.a
        potentials = {element: bulk_references[name, element][1] for element in BULK}
        energies[name] = []
        for candidate in candidates:
            atoms = AseAtomsAdaptor.get_atoms(candidate.structure)
            atoms.set_cell(atoms.cell * scale, scale_atoms=True)
            atoms.calc = calculator
            assert BFGS(FrechetCellFilter(atoms, mask=Z_ONLY), logfile=None).run(fmax=0.02, steps=500)
            counts = Counter(atoms.get_chemical_symbols())
            area = interface_area(atoms.cell)
            energies[name].append(formation_energy(atoms.get_potential_energy(), counts, potentials, area))
        energies[name] = np.array(energies[name])
        elapsed = time.perf_counter() - started
        print(f'{lower}|{upper} {name}: E_f {np.round(energies[name], 4)} eV/Å² (relaxations {elapsed:.1f} s)')
    return energies['Tersoff'], energies['MACE']


def test_unseen_rattled_frames_match_tersoff(calculators):
    frames = diamond_sige_cells(np.random.default_rng(2024), 80)  # the training draws from default_rng(seed=0)
    energy_errors, force_errors = [], []
    for atoms in frames:
        atoms.calc = calculators['Tersoff']
        energy, forces = atoms.get_potential_energy(), atoms.get_forces()
        atoms.calc = calculators['MACE']
        energy_errors.append(abs(atoms.get_potential_energy() - energy) / len(atoms))
        force_errors.append(np.abs(atoms.get_forces() - forces).ravel())
    energy_mae, force_mae = np.mean(energy_errors), np.mean(np.concatenate(force_errors))
    print(f'unseen frames: energy MAE {1000 * energy_mae:.2f} meV/atom, force MAE {force_mae:.3f} eV/Å')
    assert energy_mae < 0.005
    assert force_mae < 0.12


@pytest.mark.parametrize('element', ['Si', 'Ge'])
def test_relaxed_lattice_constant_is_within_1_percent_of_tersoff(bulk_references, element):
    model, tersoff = bulk_references['MACE', element][0], bulk_references['Tersoff', element][0]
    print(f'{element}: a {model:.4f} Å (Tersoff {tersoff:.4f} Å, {100 * (model / tersoff - 1):+.2f} %)')
    assert model == pytest.approx(tersoff, rel=0.01)


def test_ge_ge_bulk_continuation_is_lowest_by_a_clear_gap(calculators, bulk_references):
    tersoff, model = interface_energies('Ge', 'Ge', calculators, bulk_references)
    (continuation,) = np.flatnonzero(np.abs(tersoff) < 1e-4)  # the candidate that relaxes to bulk Ge
    gap = np.delete(model, continuation).min() - model[continuation]
    print(f'Ge|Ge: bulk continuation E_f {model[continuation]:.2e} eV/Å², gap to the next {gap:.4f} eV/Å²')
    assert abs(model[continuation]) < 1e-4
    assert gap > 0.05


def test_si_ge_formation_energies_are_positive_and_lowest_for_tersoffs_lowest(calculators, bulk_references):
    tersoff, model = interface_energies('Si', 'Ge', calculators, bulk_references)
    print(f'Si|Ge: Spearman rank correlation MACE vs Tersoff {spearmanr(model, tersoff).statistic:.3f}')
    # not asserted: from the symmetric start, Tersoff's own BFGS stops on saddle points for some candidates
    assert (model > 0).all()
    assert model.argmin() == tersoff.argmin()
