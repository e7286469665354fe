"""Interface energetics: formation, surface and interface energies and work of adhesion.

Energies in eV, lengths in Å, areas in Å²; results in eV/Å² (multiply by
:data:`EV_PER_ANG2_TO_J_PER_M2` for J/m²). See ``docs/energetics.md`` for the formulas.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

EV_PER_ANG2_TO_J_PER_M2 = 16.021766339999996
"""1 eV/Å² in J/m² (1.602176634e-19 J / 1e-20 m²)."""


def interface_area(cell) -> float:
    """Area |a × b| (Å²) of the interface plane spanned by the first two cell vectors (3×3, rows, Å)."""
    cell = np.asarray(cell, dtype=float)
    if cell.shape != (3, 3):
        raise ValueError(f'cell must be 3×3 (rows a, b, c in Å), got shape {cell.shape}.')
    area = float(np.linalg.norm(np.cross(cell[0], cell[1])))
    if area <= 0:
        raise ValueError('cell vectors a and b are parallel: the interface plane has zero area.')
    return area


def reference_energy(counts: Mapping[str, int], chemical_potentials: Mapping[str, float]) -> float:
    """Σ n_i μ_i (eV) for atom counts ``counts`` and bulk energies per atom ``chemical_potentials`` (eV/atom)."""
    missing = sorted(set(counts) - set(chemical_potentials))
    if missing:
        raise ValueError(f'no bulk reference energy (eV/atom) for element(s) {missing}.')
    return float(sum(n * chemical_potentials[element] for element, n in counts.items()))


def formation_energy(
    energy_cell: float, counts: Mapping[str, int], chemical_potentials: Mapping[str, float], area: float
) -> float:
    """E_f = (E_cell − Σ n_i μ_i) / (2A) (eV/Å²) of a periodic cell holding two interfaces and no vacuum."""
    return (energy_cell - reference_energy(counts, chemical_potentials)) / (2.0 * _positive(area))


def surface_energy(
    energy_slab: float, counts: Mapping[str, int], chemical_potentials: Mapping[str, float], area: float
) -> float:
    """σ = (E_slab − Σ n_i μ_i) / (2A) (eV/Å²) of a slab with two equivalent free surfaces."""
    return (energy_slab - reference_energy(counts, chemical_potentials)) / (2.0 * _positive(area))


def work_of_adhesion(energy_slab_1: float, energy_slab_2: float, energy_interface: float, area: float) -> float:
    """W_adh = (E_slab1 + E_slab2 − E_interface) / A (eV/Å²); positive when the interface binds."""
    return (energy_slab_1 + energy_slab_2 - energy_interface) / _positive(area)


def interface_energy_slab(
    energy_interface: float,
    energy_slab_1: float,
    energy_slab_2: float,
    surface_energy_1: float,
    surface_energy_2: float,
    area: float,
) -> float:
    """γ = (E_interface − E_slab1 − E_slab2) / A + σ_1 + σ_2 (eV/Å²) of a slab-with-vacuum model.

    ``energy_interface`` is the stacked slab (one interface, two free surfaces); ``σ`` are the
    surface energies (eV/Å²) of the free surfaces (:func:`surface_energy`). Equivalent to Dupré's
    γ = σ_1 + σ_2 − W_adh.
    """
    return surface_energy_1 + surface_energy_2 - work_of_adhesion(energy_slab_1, energy_slab_2, energy_interface, area)


def to_j_per_m2(value_ev_per_ang2):
    """Convert eV/Å² to J/m²."""
    return value_ev_per_ang2 * EV_PER_ANG2_TO_J_PER_M2


def _positive(area: float) -> float:
    if not area > 0:
        raise ValueError(f'the interface area must be > 0 Å², got {area}.')
    return float(area)
