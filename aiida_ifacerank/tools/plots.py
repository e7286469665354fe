"""Figures (matplotlib, no AiiDA)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Circle
from pymatgen.core import Structure

from aiida_ifacerank.science.lattice import parse_miller


def stereographic(vector) -> tuple[float, float]:
    """Stereographic projection (upper hemisphere, from the south pole) of a direction."""
    x, y, z = np.asarray(vector, dtype=float) / np.linalg.norm(vector)
    if z < 0:
        x, y, z = -x, -y, -z
    return x / (1 + z), y / (1 + z)


def plane_normal(structure: Structure, miller: str) -> np.ndarray:
    """Cartesian normal of the plane ``miller`` (text such as ``'001'`` or ``'1,-1,0'``) of ``structure``."""
    return structure.lattice.reciprocal_lattice.get_cartesian_coords(parse_miller(miller))


def plot_matched_planes(
    lower: Structure, upper: Structure, matches: list[dict], path, color_by: str = 'von_mises_strain'
):
    """Stereographic projections of the matched planes of both crystals, coloured by ``color_by``.

    ``matches``: rows with ``miller_lower``, ``miller_upper`` and the ``color_by`` value
    (``von_mises_strain`` or ``area_ang2``). Saves a PNG at ``path``.
    """
    if color_by not in ('von_mises_strain', 'area_ang2'):
        raise ValueError(f'color_by must be von_mises_strain or area_ang2, got {color_by!r}.')
    values = np.array([match[color_by] for match in matches], dtype=float)
    label = 'von Mises strain' if color_by == 'von_mises_strain' else 'area (Å²)'
    figure = Figure(figsize=(10, 5), layout='constrained')
    axes = figure.subplots(1, 2)
    for axis, structure, key, title in (
        (axes[0], lower, 'miller_lower', 'lower'),
        (axes[1], upper, 'miller_upper', 'upper'),
    ):
        axis.add_patch(Circle((0, 0), 1, fill=False, color='0.5'))
        points = np.array([stereographic(plane_normal(structure, match[key])) for match in matches])
        scatter = axis.scatter(points[:, 0], points[:, 1], c=values, cmap='viridis', s=60, edgecolors='k')
        for (x, y), match in zip(points, matches, strict=True):
            axis.annotate(f'({match[key]})', (x, y), textcoords='offset points', xytext=(5, 5), fontsize=8)
        axis.set(
            xlim=(-1.1, 1.1),
            ylim=(-1.1, 1.1),
            aspect='equal',
            title=f'{title}: {structure.composition.reduced_formula}',
        )
        axis.axis('off')
    figure.colorbar(scatter, ax=axes, label=label, shrink=0.8)
    figure.savefig(path, dpi=120)
    return path
