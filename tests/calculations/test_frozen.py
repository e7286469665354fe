"""Frozen layers (``science/layers.py:frozen_atoms``, used by ``ifacerank.mlp`` and ``ifacerank.dft``) on
hand-built two-slab cells: planes of one atom 1.5 Å apart, 4 × 4 Å in-plane."""

import numpy as np
import pytest
from ase.build import bulk

from aiida_ifacerank.calculations.drivers.mlp_driver import evaluate
from aiida_ifacerank.science.layers import frozen_atoms, slab_heights

SPACING = 1.5
LOWER_Z = 1.0 + SPACING * np.arange(5)  # 1.0 … 7.0 Å, centre plane at 4.0
UPPER_Z = 10.0 + SPACING * np.arange(5)  # 10.0 … 16.0 Å, centre plane at 13.0


def two_slabs(c=20.0, tilt=(0.0, 0.0)):
    """Cell (Å) and positions: 5 lower then 5 upper atoms on the c axis; interfaces at 8.5 Å and, through the
    periodic boundary, 18.5 Å (``c`` 20) or a slab with vacuum above the upper slab (``c`` 30)."""
    cell = np.array([[4.0, 0.0, 0.0], [0.0, 4.0, 0.0], [tilt[0], tilt[1], c]])
    z = np.r_[LOWER_Z, UPPER_Z]
    return cell, np.outer(z / c, cell[2])


@pytest.mark.parametrize(
    ('thickness', 'expected'),
    [
        (1.0, [4.0, 13.0]),  # the centre plane of each slab alone
        (3.2, [2.5, 4.0, 5.5, 11.5, 13.0, 14.5]),  # ± 1.6 Å: the centre plane and its two neighbours
        (6.0, [1.0, 2.5, 4.0, 5.5, 7.0, 10.0, 11.5, 13.0, 14.5, 16.0]),  # ± 3.0 Å: whole slabs, faces included
    ],
)
def test_two_interface_models_freeze_the_middle_of_each_slab(thickness, expected):
    cell, positions = two_slabs()
    for model in ('periodic', 'tilted'):
        mask = frozen_atoms(cell, positions, 5, model, thickness)
        np.testing.assert_allclose(positions[mask, 2], expected)


def test_wrapped_coordinates_and_a_tilted_cell_give_the_same_atoms():
    """The whole cell shifted by 8 Å along c (the upper slab crosses the boundary), then atoms moved by
    arbitrary lattice vectors, in a cell whose c is tilted in-plane: the same atoms, the same heights."""
    cell, positions = two_slabs(tilt=(1.3, -0.7))
    expected = frozen_atoms(cell, positions, 5, 'tilted', 3.2)
    np.testing.assert_array_equal(np.flatnonzero(expected), [1, 2, 3, 6, 7, 8])
    fractions = np.linalg.solve(cell.T, positions.T).T
    fractions[:, 2] = (fractions[:, 2] + 8.0 / 20.0) % 1.0
    assert (fractions[5:, 2] < 0.5).sum() == 3  # 18, 19.5 Å stay below the boundary; 21, 22.5, 24 Å wrap to 1, 2.5, 4
    fractions += np.random.default_rng(0).integers(-2, 3, size=fractions.shape)
    wrapped = fractions @ cell
    np.testing.assert_array_equal(frozen_atoms(cell, wrapped, 5, 'tilted', 3.2), expected)
    np.testing.assert_allclose(slab_heights(cell, wrapped, 5), np.r_[LOWER_Z, UPPER_Z] - 1.0, atol=1e-10)


def test_slab_model_freezes_the_outer_face_of_the_lower_slab():
    cell, positions = two_slabs(c=30.0)  # 14 Å of vacuum above the upper slab
    np.testing.assert_allclose(positions[frozen_atoms(cell, positions, 5, 'slab', 2.0), 2], [1.0, 2.5])
    np.testing.assert_allclose(positions[frozen_atoms(cell, positions, 5, 'slab', 3.0), 2], [1.0, 2.5, 4.0])
    shifted = positions.copy()
    shifted[:, 2] = (shifted[:, 2] - 2.0) % 30.0  # the bottom plane wraps to the top of the cell, 29 Å
    np.testing.assert_allclose(shifted[frozen_atoms(cell, shifted, 5, 'slab', 2.0), 2], [29.0, 0.5])


def test_no_thickness_freezes_nothing_and_bad_interfaces_are_refused():
    cell, positions = two_slabs()
    assert not frozen_atoms(cell, positions, 5, 'periodic', 0.0).any()
    with pytest.raises(ValueError, match='model must be one of'):
        frozen_atoms(cell, positions, 5, 'bulk', 3.0)
    with pytest.raises(ValueError, match='atoms_lower must be between 1 and 9'):
        frozen_atoms(cell, positions, 10, 'periodic', 3.0)


def test_the_driver_fails_a_structure_without_its_interface():
    """The per-structure error the driver records (the job's input validation refuses such a collection first)."""
    with pytest.raises(ValueError, match=r"frozen_layers_ang needs the interface info \['atoms_lower', 'model'\]"):
        evaluate(bulk('Si'), None, {'task': 'relax', 'frozen_layers_ang': 3.0})
