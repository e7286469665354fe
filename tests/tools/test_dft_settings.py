"""Pure DFT settings helpers: unit conversions, frozen layers, largest force and pw.x output parsing."""

import numpy as np
import pytest
from ase.units import Bohr, Rydberg

from aiida_ifacerank.tools import dft


def test_qe_force_threshold_bounds_the_force_norm():
    threshold_ry_bohr = dft.qe_force_threshold(0.01)
    worst = np.full(3, threshold_ry_bohr * Rydberg / Bohr)  # every component at QE's limit, in eV/Å
    assert np.linalg.norm(worst) == pytest.approx(0.01, rel=1e-12)


@pytest.mark.parametrize(('cell', 'mask'), [('normal', [0, 0, 1, 0, 0, 0]), ('all', [1] * 6)])
def test_qe_pressure_threshold_is_the_mlp_cell_criterion(cell, mask):
    """At every free stress component on QE's limit, the cell rows of ASE's FrechetCellFilter (the MLP
    relaxation's criterion) have norms of at most fmax, and the largest equals it."""
    from ase.build import bulk  # noqa: PLC0415
    from ase.calculators.singlepoint import SinglePointCalculator  # noqa: PLC0415
    from ase.filters import FrechetCellFilter  # noqa: PLC0415
    from ase.units import GPa  # noqa: PLC0415

    atoms = bulk('Si', 'diamond', 5.43, cubic=True)
    threshold_kbar = dft.qe_pressure_threshold(0.05, len(atoms), atoms.get_volume(), cell)
    stress = np.array(mask) * threshold_kbar * GPa / 10  # Voigt, eV/Å³
    atoms.calc = SinglePointCalculator(atoms, energy=0.0, forces=np.zeros((8, 3)), stress=stress)
    rows = FrechetCellFilter(atoms, mask=mask).get_forces()[len(atoms) :]
    assert np.linalg.norm(rows, axis=1).max() == pytest.approx(0.05, rel=1e-9)
    # Si at 5.43 Å: fmax·N/V = 0.05·8/160.1 eV/Å³ = 4.0 kbar
    assert threshold_kbar == pytest.approx(0.05 * 8 / 5.43**3 * 1602.1766 / (np.sqrt(3) if cell == 'all' else 1))


def test_kpoint_mesh_follows_the_cell_lengths_at_one_spacing():
    """Si|Ge (001) 8-atom cell 3.87 x 3.87 x 11.2 Å: |b| = 2π/L; bulk Si fcc primitive: |b| = 2π√3/a."""
    cell = np.diag([3.87, 3.87, 11.2])
    assert dft.kpoint_mesh(cell, 0.3) == [6, 6, 2]  # ceil(1.624/0.3), ceil(0.561/0.3)
    assert dft.kpoint_mesh(cell, 0.6) == [3, 3, 1]
    primitive = 5.43 / 2 * np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]])
    assert dft.kpoint_mesh(primitive, 0.3) == [7, 7, 7]  # 2π√3/5.43 = 2.004
    assert not dft.gamma_only(cell, 1.6) and dft.gamma_only(cell, 1.7)
    with pytest.raises(ValueError, match='spacing must be > 0'):
        dft.kpoint_mesh(cell, 0)


def test_cell_choices_translate_to_both_engines():
    normal = dft.qe_normal_cell_parameters()
    assert (normal['CONTROL']['calculation'], normal['CELL']['cell_dofree']) == ('vc-relax', 'z')
    assert dft.vasp_relax_incar('relax', 'normal') == {'lattice_constraints': 'F F T'}
    assert dft.vasp_relax_incar('relax', 'all') == dft.vasp_relax_incar('single_point', 'normal') == {}
    fixed = dft.vasp_relax_settings('relax', 'fixed', 0.02)
    assert (fixed['shape'], fixed['volume'], fixed['force_cutoff'], fixed['perform']) == (False, False, 0.02, True)
    assert dft.vasp_relax_settings('single_point', 'normal', 0.02)['perform'] is False


def test_pw_output_times_and_steps():
    stdout = (
        '!    total energy = -1 Ry\n!    total energy = -2 Ry\n     PWSCF        :   1m 2.50s CPU   1m 5.00s WALL\n'
    )
    assert dft.qe_times_seconds(stdout) == (62.5, 65.0)
    assert dft.qe_ionic_steps(stdout) == 2
    assert dft.qe_times_seconds('killed before the end') is None
    assert not dft.qe_stopped_at_walltime(stdout)
    assert dft.qe_stopped_at_walltime(stdout + '     Maximum CPU time exceeded\n')


def test_fixed_coordinates_are_the_frozen_atoms_in_all_three_directions():
    """Two slabs of three planes 1.5 Å apart (periodic model): the centre plane of each slab is held fixed."""
    cell = np.diag([4.0, 4.0, 12.0])
    positions = np.outer([1.0, 2.5, 4.0, 7.0, 8.5, 10.0], [0.0, 0.0, 1.0])
    fixed = dft.fixed_coordinates(cell, positions, 3, 'periodic', 1.0)
    assert fixed == [[False] * 3, [True] * 3, [False] * 3, [False] * 3, [True] * 3, [False] * 3]
    assert dft.fixed_coordinates(cell, positions, 3, 'slab', 1.0) == [[True] * 3] + [[False] * 3] * 5


def test_max_force_leaves_the_fixed_atoms_out():
    forces = [[3.0, 4.0, 0.0], [0.0, 0.0, 0.2], [0.0, 0.1, 0.0]]  # eV/Å, norms 5, 0.2, 0.1
    assert dft.max_force(forces) == pytest.approx(5.0)
    assert dft.max_force(forces, [[True] * 3, [False] * 3, [False] * 3]) == pytest.approx(0.2)
    assert dft.max_force(forces, [[True] * 3] * 3) == 0.0
