"""Interface energetics: area, formulas, units and a bulk cell that must have zero formation energy."""

import numpy as np
import pytest
from ase.build import bulk, surface

from aiida_ifacerank.science import energetics
from aiida_ifacerank.science.lattice import interface_area
from tests.models import tersoff_sige


def test_area_of_oblique_and_tilted_cells_is_the_cross_product_norm():
    assert interface_area([[3, 0, 0], [1, 2, 0], [0, 0, 9]]) == pytest.approx(6.0)
    hexagonal = [[3.84, 0, 0], [3.84 * np.cos(np.pi / 3), 3.84 * np.sin(np.pi / 3), 0], [0.5, 0.3, 7]]
    assert interface_area(hexagonal) == pytest.approx(3.84**2 * np.sqrt(3) / 2)
    assert interface_area(hexagonal[:2]) == pytest.approx(3.84**2 * np.sqrt(3) / 2)  # two in-plane vectors
    # |a . b| would give 1 here, |a x b| is sqrt(3)
    assert interface_area([[1, 0, 1], [1, 1, 0], [0, 0, 1]]) == pytest.approx(np.sqrt(3))
    with pytest.raises(ValueError, match='parallel'):
        interface_area([[1, 0, 0], [2, 0, 0], [0, 0, 1]])


def test_formation_energy_of_pure_bulk_cell_is_zero():
    """An Si 'interface' cell that is perfect bulk: E_cell = n mu exactly, so E_f = 0."""
    calculator = tersoff_sige()
    primitive = bulk('Si', 'diamond', 5.431)
    primitive.calc = calculator
    mu = primitive.get_potential_energy() / len(primitive)
    cell = surface(bulk('Si', 'diamond', 5.431, cubic=True), (1, 1, 0), 4, periodic=True)
    cell.calc = calculator
    e_f = energetics.formation_energy(
        cell.get_potential_energy(), {'Si': len(cell)}, {'Si': mu}, interface_area(cell.cell)
    )
    assert e_f == pytest.approx(0.0, abs=1e-12)
    assert mu == pytest.approx(-4.6296, abs=1e-3)  # Tersoff (1989) cohesive energy of Si at a = 5.431 Å


def test_formation_energy_by_hand_and_units():
    # 10 Si at -4.6 and 6 Ge at -3.85 eV/atom, cell 1 eV above the references, A = 20 Å^2: 1 / 40 eV/Å^2
    e_f = energetics.formation_energy(-46.0 - 23.1 + 1.0, {'Si': 10, 'Ge': 6}, {'Si': -4.6, 'Ge': -3.85}, 20.0)
    assert e_f == pytest.approx(0.025)
    assert e_f * energetics.EV_PER_ANG2_TO_J_PER_M2 == pytest.approx(0.025 * 16.0217663)
    with pytest.raises(ValueError, match=r"element\(s\) \['Ge'\]"):
        energetics.formation_energy(-10.0, {'Si': 1, 'Ge': 1}, {'Si': -4.6}, 20.0)
    with pytest.raises(ValueError, match='area'):
        energetics.formation_energy(-10.0, {'Si': 1}, {'Si': -4.6}, 0.0)


def test_chemical_potentials_of_elemental_crystals():
    potentials = energetics.elemental_chemical_potentials(
        {'bulk_lower': ({'Si': 2}, -10.8), 'bulk_upper': ({'Ge': 8}, -35.6)}
    )
    assert potentials == pytest.approx({'Si': -5.4, 'Ge': -4.45})
    # a second crystal of the same element keeps the first one's μ (the substrate phase)
    assert energetics.elemental_chemical_potentials({'a': ({'Sn': 2}, -8.0), 'b': ({'Sn': 4}, -15.0)}) == {'Sn': -4.0}
    with pytest.raises(ValueError, match=r"holds \['Ga', 'As'\]|holds \['As', 'Ga'\]"):
        energetics.elemental_chemical_potentials({'bulk_lower': ({'Ga': 1, 'As': 1}, -9.0)})


def test_energy_tolerance_of_a_force_threshold():
    # 8 atoms on 15.9 Å² (Si|Ge (001), 1 + 1 layers) at 0.05 eV/Å: 0.503 Å⁻² × 0.0025/2 / 2 eV/Å²
    assert energetics.energy_tolerance(0.05, 8 / 15.9) == pytest.approx(8 / 15.9 * 0.05**2 / 4)
    assert energetics.energy_tolerance(0.02, 0.5, stiffness_ev_ang2=5.0) == pytest.approx(0.5 * 0.0004 / 10 / 2)
    with pytest.raises(ValueError, match='must be > 0'):
        energetics.energy_tolerance(0.0, 0.5)
