"""Pure helpers that translate the DFT protocol choices into Quantum ESPRESSO and VASP settings."""

from __future__ import annotations

import math
import re

import numpy as np
from ase.units import Bohr, GPa, Rydberg

from aiida_ifacerank.science.layers import frozen_atoms

RY_BOHR_EV_ANG = Rydberg / Bohr
"""1 Ry/Bohr in eV/Å."""


def qe_force_threshold(fmax_ev_ang: float) -> float:
    """QE ``forc_conv_thr`` (Ry/Bohr) that guarantees every atomic force norm <= ``fmax_ev_ang``.

    QE compares each Cartesian component with ``forc_conv_thr``; a component bound of fmax/√3
    bounds the norm by fmax, the criterion of the MLP path and of VASP's negative EDIFFG.
    """
    return fmax_ev_ang / math.sqrt(3) / RY_BOHR_EV_ANG


def qe_pressure_threshold(fmax_ev_ang: float, atoms: int, volume_ang3: float, cell: str) -> float:
    """QE ``press_conv_thr`` (kbar) equal to the MLP path's cell criterion at force threshold ``fmax_ev_ang``.

    ASE's ``FrechetCellFilter`` treats each row of the virial divided by the number of atoms (eV) as a force
    and stops when its norm is <= fmax: ``|σ| <= fmax N / V``. pw.x bounds each free stress component; with
    only c free (``normal``) that is the same bound, with the whole cell free (``all``) fmax/√3 bounds the
    row norm, as in :func:`qe_force_threshold`.
    """
    bound_ev_ang3 = fmax_ev_ang * atoms / volume_ang3 / (math.sqrt(3) if cell == 'all' else 1.0)
    return bound_ev_ang3 / GPa * 10


def kpoint_mesh(cell, spacing_inv_ang: float) -> list[int]:
    """Monkhorst-Pack mesh of ``cell`` (Å, rows a, b, c) at a k-point spacing (1/Å, 2π included, as aiida-qe's
    ``kpoints_distance``): ceil(``|b_i|`` / spacing) per reciprocal vector, at least 1, as aiida-core's
    ``KpointsData.set_kpoints_mesh_from_density``. Equal spacing, not equal meshes, for an interface and its
    bulk references: the sampling density is the same, the mesh follows each cell's lengths."""
    if not spacing_inv_ang > 0:
        raise ValueError(f'the k-point spacing must be > 0 1/Å, got {spacing_inv_ang}.')
    reciprocal = 2 * np.pi * np.linalg.inv(np.asarray(cell, dtype=float)).T
    return [max(1, math.ceil(round(float(np.linalg.norm(b)) / spacing_inv_ang, 5))) for b in reciprocal]


def gamma_only(cell, spacing_inv_ang: float) -> bool:
    """Whether ``cell`` is computed at the Gamma point only: its mesh at that spacing is 1×1×1 (large cells)."""
    return kpoint_mesh(cell, spacing_inv_ang) == [1, 1, 1]


def qe_normal_cell_parameters() -> dict:
    """pw.x settings for cell ``normal``: a vc-relax in which only c (along z) changes.

    aiida-quantumespresso's ``RelaxType.POSITIONS_CELL`` frees the whole cell of a 3D-periodic
    structure; ``fixed`` (``relax``), ``all`` and ``single_point`` (``scf``) are its own relax types.
    """
    return {'CONTROL': {'calculation': 'vc-relax'}, 'CELL': {'cell_dofree': 'z', 'cell_dynamics': 'bfgs'}}


def vasp_relax_settings(task: str, cell: str, fmax_ev_ang: float) -> dict:
    """aiida-vasp ``relax_settings``: it sets IBRION, NSW, ISIF (3 with the cell free, else 2) and EDIFFG = -fmax."""
    return {
        'perform': task == 'relax',
        'positions': True,
        'shape': cell != 'fixed',
        'volume': cell != 'fixed',
        'force_cutoff': fmax_ev_ang,
    }


def vasp_relax_incar(task: str, cell: str) -> dict:
    """Extra INCAR tags: with ``normal`` only c may change (ISIF 3 with LATTICE_CONSTRAINTS, VASP 6)."""
    return {'lattice_constraints': 'F F T'} if task == 'relax' and cell == 'normal' else {}


def fixed_coordinates(cell, positions, atoms_lower: int, model: str, thickness_ang: float) -> list[list[bool]]:
    """Per site, three flags, True where the coordinate is held fixed: all three for the atoms of
    :func:`~aiida_ifacerank.science.layers.frozen_atoms` (``thickness_ang`` Å of each frozen region, as in
    ``ifacerank.mlp``). QE's ``FIXED_COORDS`` (``if_pos`` 0); VASP's selective dynamics is its negation."""
    return [[bool(fixed)] * 3 for fixed in frozen_atoms(cell, positions, atoms_lower, model, thickness_ang)]


def max_force(forces, fixed=None) -> float:
    """Largest atomic force norm (units of ``forces``, atoms x 3) over the atoms not held fixed (``fixed`` as
    from :func:`fixed_coordinates`): VASP reports forces on fixed atoms too, pw.x zeros them, ASE ignores them."""
    forces = np.asarray(forces, dtype=float).reshape(-1, 3)
    if fixed is not None:
        forces = forces[~np.asarray(fixed, dtype=bool).any(axis=1)]
    return float(np.sqrt((forces**2).sum(axis=1)).max()) if len(forces) else 0.0


def qe_dipole_parameters() -> dict:
    """Dipole correction along c for slabs with vacuum (sawtooth in the vacuum region)."""
    return {
        'CONTROL': {'tefield': True, 'dipfield': True},
        'SYSTEM': {'edir': 3, 'emaxpos': 0.95, 'eopreg': 0.05, 'eamp': 0.0},
    }


def vasp_dipole_incar() -> dict:
    """Dipole correction along c for slabs with vacuum."""
    return {'ldipol': True, 'idipol': 3}


def qe_times_seconds(stdout: str) -> tuple[float, float] | None:
    """(CPU, wall) time (s) of a pw.x run from its last ``PWSCF : ... CPU ... WALL`` line, or None."""
    from aiida_quantumespresso.parsers.parse_raw.base import convert_qe_time_to_sec  # noqa: PLC0415

    matches = re.findall(r'PWSCF\s*:\s*(.+?)\s*CPU\s+(.+?)\s*WALL', stdout)
    return (convert_qe_time_to_sec(matches[-1][0]), convert_qe_time_to_sec(matches[-1][1])) if matches else None


def qe_ionic_steps(stdout: str) -> int:
    """Number of converged SCF cycles (lines starting with ``!``) in a pw.x output."""
    return len(re.findall(r'^!', stdout, flags=re.MULTILINE))


def qe_stopped_at_walltime(stdout: str) -> bool:
    """Whether pw.x stopped itself at ``max_seconds`` (it prints 'Maximum CPU time exceeded')."""
    return 'Maximum CPU time exceeded' in stdout
