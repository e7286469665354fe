"""Structural agreement of two relaxed geometries: hand-checked displacements and pymatgen's StructureMatcher."""

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.core.structure_matcher import StructureMatcher

from aiida_ifacerank.science.agreement import relaxation_agreement

TILTED = np.array([[5.0, 0, 0], [1.5, 4.5, 0], [1.0, 0.8, 12.0]])  # c tilted in-plane, height 12 Å along the normal
FRACTIONS = np.array([[0.1, 0.2, 0.05], [0.6, 0.3, 0.25], [0.3, 0.7, 0.5], [0.8, 0.9, 0.75], [0.45, 0.05, 0.97]])


def test_identical_geometries_agree():
    positions = FRACTIONS @ TILTED
    assert relaxation_agreement(TILTED, positions, TILTED, positions) == {
        'rmsd_ang': 0.0,
        'max_displacement_ang': 0.0,
        'delta_normal_ang': 0.0,
    }


@pytest.mark.parametrize('translation', [[0.3, -1.0, 0.5], [2.0, 3.0, 0.9], [-0.7, 0.4, -1.5]])
def test_rigid_translation_is_removed_also_across_the_boundary(translation):
    fractions = np.linalg.solve(TILTED.T, (FRACTIONS @ TILTED + translation).T).T
    crossed = (fractions < 0) | (fractions >= 1)
    assert crossed.any()  # some atoms leave the cell and are wrapped back
    result = relaxation_agreement(TILTED, np.mod(fractions, 1.0) @ TILTED, TILTED, FRACTIONS @ TILTED)
    assert result['rmsd_ang'] == pytest.approx(0.0, abs=1e-12)
    assert result['max_displacement_ang'] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ('deformation', 'delta_normal'),
    [
        (np.diag([1.02, 1.02, 1.02]), 0.02 * 12.0),  # uniformly scaled copy
        (np.diag([1.0, 1.0, 12.5 / 12.0]), 0.5),  # c relaxed along the normal, same in-plane tilt
    ],
)
def test_different_lattices_with_the_same_fractions_agree(deformation, delta_normal):
    cell_a = TILTED @ deformation
    result = relaxation_agreement(cell_a, FRACTIONS @ cell_a, TILTED, FRACTIONS @ TILTED)
    assert result['rmsd_ang'] == pytest.approx(0.0, abs=1e-12)
    assert result['max_displacement_ang'] == pytest.approx(0.0, abs=1e-12)
    assert result['delta_normal_ang'] == pytest.approx(delta_normal)


@pytest.mark.parametrize('scale', [1.0, 1.02])
def test_one_displaced_atom_by_hand(scale):
    # one of N = 4 atoms moved by d, |d| = 0.5 Å; less the mean d/N it moves d (N-1)/N, the others -d/N:
    # mean |d|² = |d|² ((N-1)² + (N-1)) / N³ = |d|² (N-1) / N², so rmsd = 0.5 sqrt(3) / 4, max = 0.5 * 3/4
    positions_b = FRACTIONS[:4] @ TILTED
    positions_a = positions_b + np.array([[0.3, 0.4, 0.0], [0, 0, 0], [0, 0, 0], [0, 0, 0]])
    # a scaled copy of a measures the same displacement in b's cell
    result = relaxation_agreement(TILTED * scale, positions_a * scale, TILTED, positions_b)
    assert result['rmsd_ang'] == pytest.approx(0.5 * np.sqrt(3) / 4)
    assert result['max_displacement_ang'] == pytest.approx(0.375)
    assert result['delta_normal_ang'] == pytest.approx((scale - 1) * 12.0)


def test_minimum_image_in_an_oblique_cell():
    # a = (4, 0, 0), b = (3, 1, 0): the lattice of the rectangular v1 = b - a = (-1, 1, 0), v2 = 2b - a = (2, 2, 0).
    # d = 0.4 v1 + 0.25 v2 = (0.1, 0.9, 0) lies in the Wigner-Seitz cell (|0.4|, |0.25| < 1/2): it is the minimum image.
    # Its fractions (-0.65, 0.9, 0) rounded into the cell give (0.35, -0.1, 0) → (1.1, -0.1, 0), |.| = sqrt(1.22).
    cell = np.array([[4.0, 0, 0], [3.0, 1.0, 0], [0, 0, 10.0]])
    positions_b = np.array([[0.5, 0.2, 1.0], [2.0, 0.5, 6.0]])
    positions_a = positions_b + np.array([[0.1, 0.9, 0.0], [0, 0, 0]])
    result = relaxation_agreement(cell, positions_a, cell, positions_b)
    # two atoms, one moved by d: less the mean both move |d| / 2
    assert result['rmsd_ang'] == pytest.approx(np.sqrt(0.82) / 2)
    assert result['max_displacement_ang'] == pytest.approx(np.sqrt(0.82) / 2)


@pytest.mark.parametrize('seed', range(3))
def test_rmsd_and_max_match_pymatgen_structure_matcher(seed):
    """StructureMatcher normalises by (V/n)^(1/3) and also subtracts the mean displacement (``_cart_dists``)."""
    rng = np.random.default_rng(seed)
    positions_b = FRACTIONS @ TILTED
    positions_a = positions_b + rng.normal(0.0, 0.1, positions_b.shape)
    species = ['Si', 'Ge', 'C', 'Sn', 'Pb']  # one element per site: the assignment of sites is the identity
    structure_a = Structure(Lattice(TILTED), species, positions_a, coords_are_cartesian=True)
    structure_b = Structure(Lattice(TILTED), species, positions_b, coords_are_cartesian=True)
    matcher = StructureMatcher(primitive_cell=False, scale=False)
    rms, max_distance = matcher.get_rms_dist(structure_a, structure_b)
    length = (abs(np.linalg.det(TILTED)) / len(species)) ** (1 / 3)
    result = relaxation_agreement(TILTED, positions_a, TILTED, positions_b)
    assert result['rmsd_ang'] > 0.05  # a real displacement, not a vacuous match
    assert result['rmsd_ang'] == pytest.approx(rms * length, rel=1e-9)
    assert result['max_displacement_ang'] == pytest.approx(max_distance * length, rel=1e-9)


@pytest.mark.parametrize(
    ('cell_a', 'positions_a', 'match'),
    [
        (TILTED, FRACTIONS[:4] @ TILTED, 'same atoms'),
        (TILTED[:2], FRACTIONS @ TILTED, '3x3'),
        (TILTED, (FRACTIONS @ TILTED)[:, :2], r'shape \(n, 3\)'),
        (TILTED, np.empty((0, 3)), r'shape \(n, 3\)'),
        (TILTED, np.where(FRACTIONS == 0.5, np.nan, FRACTIONS @ TILTED), 'finite'),
        (np.array([[5.0, 0, 0], [10.0, 0, 0], [0, 0, 12.0]]), FRACTIONS @ TILTED, 'singular'),
    ],
)
def test_bad_geometries_are_refused(cell_a, positions_a, match):
    with pytest.raises(ValueError, match=match):
        relaxation_agreement(cell_a, positions_a, TILTED, FRACTIONS @ TILTED)
