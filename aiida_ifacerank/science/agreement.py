"""Structural agreement of two relaxations of the same interface candidate (e.g. MLP and DFT): numpy only.

Both geometries hold the same atoms in the same order; their cells differ, as each method relaxes on its own
lattice constant (in-plane scaled) and relaxes the cell length normal to the interface. Cells have the lattice
vectors as rows, positions are Cartesian, lengths in Å.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .layers import normal_height

_NEIGHBOURS = np.array(list(itertools.product((-1.0, 0.0, 1.0), repeat=3)))
"""Fractional shifts to the 27 images around a displacement rounded into the cell."""


def _check_geometry(cell, positions, name: str) -> tuple[np.ndarray, np.ndarray]:
    cell, positions = np.asarray(cell, dtype=float), np.asarray(positions, dtype=float)
    if cell.shape != (3, 3):
        raise ValueError(f'cell_{name} must be 3x3 (lattice vectors as rows), got shape {cell.shape}.')
    if positions.ndim != 2 or positions.shape[1] != 3 or len(positions) == 0:
        raise ValueError(f'positions_{name} must have shape (n, 3) with n >= 1, got {positions.shape}.')
    if not (np.isfinite(cell).all() and np.isfinite(positions).all()):
        raise ValueError(f'cell_{name} and positions_{name} must be finite.')
    if abs(np.linalg.det(cell)) <= 1e-10 * np.prod(np.linalg.norm(cell, axis=1)):
        raise ValueError(f'cell_{name} is singular: its lattice vectors span no volume.')
    return cell, positions


def _minimum_image(fractions: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Shortest Cartesian vectors (Å) equal to the fractional displacements ``fractions`` (n, 3) modulo the
    lattice of ``cell``: rounded into [-0.5, 0.5], then the shortest of the 27 images around.

    Exact for a vector shorter than 1.5 times the smallest spacing of the cell's lattice planes (its fractional
    coordinates are then below 1.5 in magnitude), also in oblique cells where rounding alone is not.
    """
    images = (fractions - np.round(fractions))[:, None, :] + _NEIGHBOURS
    images = images @ cell
    shortest = np.argmin(np.einsum('nij,nij->ni', images, images), axis=1)
    return images[np.arange(len(images)), shortest]


def relaxation_agreement(cell_a, positions_a, cell_b, positions_b) -> dict:
    """Displacements between geometry ``a`` and geometry ``b`` of the same atoms, and their cells' heights.

    ``a`` is mapped into ``b``'s cell through its fractional coordinates (the affine map removes the difference
    of the lattices); the displacements to ``b`` are minimum images in ``b``'s cell, less their mean (a rigid
    translation, a zero mode of a periodic cell). Returns ``rmsd_ang`` (sqrt of the mean of ``|d|²``) and
    ``max_displacement_ang`` (the largest ``|d|``), Å in ``b``'s cell, and ``delta_normal_ang``, the height of
    ``a``'s cell along the normal of its a-b plane minus that of ``b``'s (Å, :func:`.layers.normal_height`).
    """
    cell_a, positions_a = _check_geometry(cell_a, positions_a, 'a')
    cell_b, positions_b = _check_geometry(cell_b, positions_b, 'b')
    if len(positions_a) != len(positions_b):
        raise ValueError(
            f'the geometries must hold the same atoms, got {len(positions_a)} and {len(positions_b)} positions.'
        )
    fractions = np.linalg.solve(cell_a.T, positions_a.T).T - np.linalg.solve(cell_b.T, positions_b.T).T
    displacements = _minimum_image(fractions, cell_b)
    displacements -= displacements.mean(axis=0)
    squared = np.einsum('ij,ij->i', displacements, displacements)
    return {
        'rmsd_ang': math.sqrt(float(squared.mean())),
        'max_displacement_ang': math.sqrt(float(squared.max())),
        'delta_normal_ang': normal_height(cell_a) - normal_height(cell_b),
    }
