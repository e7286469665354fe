"""Where the two slabs of an interface cell lie along its normal, and which atoms to freeze.

Numpy only: the MLP job ships this file next to its driver, and the DFT inputs use the same
functions. Cells have a and b in the interface plane; the first ``atoms_lower`` atoms are the lower
slab, the rest the upper slab (the order of every generated candidate). Lengths in Å.
"""

from __future__ import annotations

import numpy as np

INTERFACE_MODELS = ('tilted', 'periodic', 'slab')
"""``tilted``: two interfaces, c tilted in-plane so that the second is equivalent to the first where
the symmetry allows it; ``periodic``: two interfaces, c normal to the plane; ``slab``: one interface
and vacuum."""

LAYER_KEYS = ('atoms_lower', 'model')
"""What :func:`frozen_atoms` needs of a candidate besides its cell and positions: keys of its
``ifacerank`` attribute, carried in the ``info`` of the structures an MLP job reads."""


def normal_height(cell) -> float:
    """Height (Å) of the cell along the normal of its a-b plane: c · n̂."""
    cell = np.asarray(cell, dtype=float)
    normal = np.cross(cell[0], cell[1])
    return float(cell[2] @ normal / np.linalg.norm(normal))


def _contiguous(fractions: np.ndarray) -> np.ndarray:
    """Fractions along c (any values) unwrapped so that the atoms form one block: the block starts
    after the largest empty interval of the periodic cell."""
    wrapped = np.mod(fractions, 1.0)
    order = np.sort(wrapped)
    gaps = np.diff(np.r_[order, order[0] + 1.0])
    start = order[(np.argmax(gaps) + 1) % len(order)]
    return np.mod(wrapped - start, 1.0) + start


def stacked_positions(cell, positions, atoms_lower: int) -> np.ndarray:
    """Cartesian positions (Å) moved by whole cell vectors so that each slab is one block along c, the
    upper slab above the lower one within one cell, and a, b fractions in [0, 1): works on relaxed cells
    and wrapped coordinates."""
    cell = np.asarray(cell, dtype=float)
    positions = np.asarray(positions, dtype=float)
    if not 0 < atoms_lower < len(positions):
        raise ValueError(f'atoms_lower must be between 1 and {len(positions) - 1}, got {atoms_lower}.')
    fractions = np.linalg.solve(cell.T, positions.T).T
    lower = _contiguous(fractions[:atoms_lower, 2])
    upper = _contiguous(fractions[atoms_lower:, 2])
    upper += np.floor(lower.min() - upper.min()) + 1.0  # the upper block starts within one cell above the lower
    stacked = np.column_stack([np.mod(fractions[:, :2], 1.0), np.r_[lower, upper]])
    return stacked @ cell


def slab_heights(cell, positions, atoms_lower: int) -> np.ndarray:
    """Heights (Å) of the atoms along the normal of the a-b plane, stacked as in
    :func:`stacked_positions`, the lowest atom of the lower slab at 0."""
    cell = np.asarray(cell, dtype=float)
    normal = np.cross(cell[0], cell[1])
    heights = stacked_positions(cell, positions, atoms_lower) @ (normal / np.linalg.norm(normal))
    return heights - heights[:atoms_lower].min()


def frozen_atoms(cell, positions, atoms_lower: int, model: str, thickness: float) -> np.ndarray:
    """Mask of the atoms to hold fixed in a relaxation, ``thickness`` (Å) of each region.

    Two-interface models (``periodic``, ``tilted``): the middle of each slab, the atoms within
    ``thickness / 2`` of its centre plane, as far as possible from both interfaces. ``slab``: the
    outer face of the lower slab, the atoms within ``thickness`` of its bottom plane.
    """
    if model not in INTERFACE_MODELS:
        raise ValueError(f'model must be one of {INTERFACE_MODELS}, got {model!r}.')
    heights = slab_heights(cell, positions, atoms_lower)
    mask = np.zeros(len(heights), dtype=bool)
    if thickness <= 0:
        return mask
    lower, upper = slice(0, atoms_lower), slice(atoms_lower, None)
    if model == 'slab':
        mask[lower] = heights[lower] <= heights[lower].min() + thickness + 1e-6
        return mask
    for part in (lower, upper):
        centre = 0.5 * (heights[part].min() + heights[part].max())
        mask[part] = np.abs(heights[part] - centre) <= 0.5 * thickness + 1e-6
    return mask
