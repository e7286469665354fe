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


def elemental_chemical_potentials(bulk: Mapping[str, tuple[Mapping[str, int], float]]) -> dict[str, float]:
    """μ per element (eV/atom) from elemental bulk crystals: ``bulk`` maps a name to (atom counts, energy eV).

    An element given by two crystals takes the first one's μ (the lower crystal's, when the names are
    ordered lower first): the energy zero of a homointerface of two phases is then the substrate phase.
    """
    potentials = {}
    for name, (counts, energy) in bulk.items():
        if len(counts) != 1:
            raise ValueError(
                f'bulk crystal {name!r} holds {sorted(counts)}: μ per element needs elemental crystals; compounds '
                'need a chemical-potential choice that the plugin does not make.'
            )
        ((element, number),) = counts.items()
        potentials.setdefault(element, float(energy) / number)
    return potentials


def energy_tolerance(fmax_ev_ang: float, atoms_per_area: float, stiffness_ev_ang2: float = 1.0) -> float:
    """Energy resolution (eV/Å²) of E_f for relaxations stopped at residual forces ``fmax_ev_ang`` (eV/Å).

    An atom left at force f in a harmonic well of stiffness k lies at most f²/(2k) above its minimum; over
    the ``atoms_per_area`` (Å⁻²) of a two-interface cell that bounds E_f's error by n f²/(2k)/(2A). k = 1
    eV/Å² is a soft mode of a covalent or metallic solid (their bond stiffnesses are 5-20 eV/Å²), so the
    bound is generous. Energies of one mode closer than this rank as ties.
    """
    if not (fmax_ev_ang > 0 and atoms_per_area > 0 and stiffness_ev_ang2 > 0):
        raise ValueError('fmax_ev_ang, atoms_per_area and stiffness_ev_ang2 must be > 0.')
    return atoms_per_area * fmax_ev_ang**2 / (2 * stiffness_ev_ang2) / 2
