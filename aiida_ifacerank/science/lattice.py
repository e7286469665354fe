"""Lattice geometry shared by both generation backends and the energetics: interface area, the strain
of a lattice match, Miller-index text. Pure numpy/pymatgen, no AiiDA.

Lengths in Å, areas in Å², strains as fractions (0.02 = 2 %).
"""

from __future__ import annotations

import math

import numpy as np
from pymatgen.analysis.elasticity.strain import Strain


def interface_area(cell) -> float:
    """Area ``|a × b|`` (Å²) of the interface plane spanned by the first two cell vectors (3×3 or 2×3, rows, Å)."""
    cell = np.asarray(cell, dtype=float)
    if cell.shape not in ((3, 3), (2, 3)):
        raise ValueError(f'cell must be 3×3 or 2×3 (rows a, b[, c] in Å), got shape {cell.shape}.')
    area = float(np.linalg.norm(np.cross(cell[0], cell[1])))
    if area <= 0:
        raise ValueError('cell vectors a and b are parallel: the interface plane has zero area.')
    return area


def _in_plane(vectors: np.ndarray) -> np.ndarray:
    """Two vectors (rows, 3D) in the 2D frame of their plane with x along the first: 2×2 rows."""
    a, b = vectors
    length = np.linalg.norm(a)
    return np.array([[length, 0.0], [a @ b / length, np.linalg.norm(np.cross(a, b)) / length]])


def match_strain(upper_vectors, lower_vectors) -> dict:
    """Strain of the upper slab when its superlattice vectors are made the lower slab's.

    ``upper_vectors``, ``lower_vectors``: the matched in-plane superlattice vectors (2×3, rows, Å),
    each in its own crystal's frame. Returns the Green-Lagrange strain of the upper slab
    ``strain_11``, ``strain_22``, ``strain_12`` in the frame of its plane with axis 1 along its first
    vector, its ``von_mises_strain`` (of the 3D strain, zero normal to the plane), the
    ``length_strain`` (largest ``|ℓ_upper/ℓ_lower − 1|`` of the two vectors), the ``angle_strain`` (relative
    mismatch of the angle between them) and ``area_ang2``, the area of the lower supercell.
    """
    upper = _in_plane(np.asarray(upper_vectors, dtype=float))
    lower = _in_plane(np.asarray(lower_vectors, dtype=float))
    deformation = np.linalg.solve(upper, lower).T  # F @ u = l for both vectors (2D frames)
    strain = 0.5 * (deformation.T @ deformation - np.eye(2))
    strain_3d = np.zeros((3, 3))
    strain_3d[:2, :2] = strain
    lengths_upper, lengths_lower = np.linalg.norm(upper, axis=1), np.linalg.norm(lower, axis=1)

    def angle(vectors):
        return math.atan2(vectors[1, 1], vectors[1, 0])

    return {
        'strain_11': float(strain[0, 0]),
        'strain_22': float(strain[1, 1]),
        'strain_12': float(strain[0, 1]),
        'von_mises_strain': float(Strain(strain_3d).von_mises_strain),
        'length_strain': float(np.max(np.abs(lengths_upper / lengths_lower - 1))),
        'angle_strain': float(abs(angle(upper) / angle(lower) - 1)),
        'area_ang2': interface_area(np.asarray(lower_vectors, dtype=float)),
    }


def miller_text(miller) -> str:
    """Miller index as text: ``'001'``, ``'1-10'``; comma-separated when an index has two digits (``'1,-10,0'``)."""
    miller = [int(i) for i in miller]
    return ''.join(map(str, miller)) if all(abs(i) < 10 for i in miller) else ','.join(map(str, miller))


def parse_miller(text: str) -> tuple[int, int, int]:
    """Inverse of :func:`miller_text`: ``'1-10'`` or ``'1,-1,0'`` → (1, -1, 0); ``ValueError`` unless three integers."""
    text = text.strip().strip('()')
    try:
        if ',' in text:
            indices = [int(i) for i in text.split(',')]
        else:
            indices, sign = [], 1
            for character in text:
                if character == '-':
                    sign = -1
                else:
                    indices.append(sign * int(character))
                    sign = 1
    except ValueError:
        indices = []
    if len(indices) != 3:
        raise ValueError(f'{text!r} is not a Miller index: write three integers, e.g. 001, 1-10 or 1,-10,0.')
    return tuple(indices)
