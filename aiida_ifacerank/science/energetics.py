"""Interface formation energy of a periodic two-interface cell.

Energies in eV, areas in Å² (:func:`~aiida_ifacerank.science.lattice.interface_area`); results in
eV/Å² (multiply by :data:`EV_PER_ANG2_TO_J_PER_M2` for J/m²). See ``docs/energetics.md``.
"""

from __future__ import annotations

from collections.abc import Mapping

EV_PER_ANG2_TO_J_PER_M2 = 16.021766339999996
"""1 eV/Å² in J/m² (1.602176634e-19 J / 1e-20 m²)."""


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
    if not area > 0:
        raise ValueError(f'the interface area must be > 0 Å², got {area}.')
    return (energy_cell - reference_energy(counts, chemical_potentials)) / (2.0 * float(area))
