"""Parser of ``ifacerank.artemis``: ARTEMIS interfaces normalised to the candidate format of every backend.

Output layout of ARTEMIS 2.0 (TASK = 1), recorded from real runs here:
``DINTERFACES/settings.txt``; per lattice match and termination pair ``DINTERFACES/Dnn/struc_data.txt``
(transformation matrices, vector/angle/area mismatch, Miller planes, termination tables); per
stacking shift ``Dnn/DSHIFT/shift_data.txt`` (shift a, b in fractions, c in Å) and
``Dnn/DSHIFT/Dmm/POSCAR`` (periodic cell, two interfaces, lower material first). The CalcJob runs
ARTEMIS with ``USE_PRICEL = F``, so Miller planes and transforms refer to the input cells.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
from aiida.engine import ExitCode
from aiida.orm import Dict
from aiida.parsers import Parser
from ase.io import read
from pymatgen.io.ase import AseAtomsAdaptor

from aiida_ifacerank.calculations.artemis import ArtemisCalculation
from aiida_ifacerank.common.candidates import candidate_outputs
from aiida_ifacerank.science.generation import interface_registry
from aiida_ifacerank.science.lattice import interface_area, match_strain, miller_text

LENGTH_RTOL = 1e-5
"""Relative tolerance of the check that a transform gives the lengths of the POSCAR's a and b."""


def _floats(pattern: str, text: str) -> list[float]:
    match = re.search(pattern, text)
    return [float(x) for x in match.group(1).split()] if match else []


def read_match(path: Path) -> dict:
    """Lattice match, transformation matrices, mismatches, Miller planes and terminations of a ``struc_data.txt``.

    ``transform_lower``, ``transform_upper``: integer 3×3 matrices whose rows are the new cell vectors
    in units of the (input) cell vectors of each crystal, the columns "a b c | a b c" of the file.
    ``termination``: ARTEMIS's termination numbers, [lower, upper]. ``vector_mismatch``,
    ``angle_mismatch_deg``, ``area_mismatch``: ARTEMIS's own measures (fractions, degrees).
    """
    text = Path(path).read_text()
    rows = re.findall(r'^\s+(-?\d+)\s+(-?\d+)\s+(-?\d+)\s+(-?\d+)\s+(-?\d+)\s+(-?\d+)\s*$', text, re.MULTILINE)
    if len(rows) < 3:
        raise ValueError(f'{path}: no transformation matrices found.')
    matrices = np.array(rows[:3], dtype=int)
    number = re.search(r'Lattice match:\s*(\d+)', text)
    if number is None:
        raise ValueError(f'{path}: no lattice match number found.')
    terminations = re.findall(r'Term\.[^\n]*\n\s+(\d+)\s', text)
    return {
        'lattice_match': int(number.group(1)),
        'transform_lower': matrices[:, :3].tolist(),
        'transform_upper': matrices[:, 3:].tolist(),
        'vector_mismatch': _floats(r'vector mismatch \(%\) =\s*(\S+)', text)[0] / 100,
        'angle_mismatch_deg': _floats(r'angle mismatch \(°\)\s*=\s*(\S+)', text)[0],
        'area_mismatch': _floats(r'area mismatch \(%\)\s*=\s*(\S+)', text)[0] / 100,
        'miller_lower': [int(x) for x in _floats(r'Lower crystal Miller plane:((?:\s+-?\d+){3})', text)],
        'miller_upper': [int(x) for x in _floats(r'Upper crystal Miller plane:((?:\s+-?\d+){3})', text)],
        'termination': [int(t) for t in terminations[:2]],
    }


def read_shifts(path: Path) -> dict[int, tuple[float, float, float]]:
    """Shift number → (a, b fractional; c in Å) from a ``shift_data.txt``."""
    shifts = {}
    for line in Path(path).read_text().splitlines():
        found = re.match(r'\s*(\d+)\s+\(\s*(\S+),\s*(\S+),\s*(\S+)\s*\)', line)
        if found:
            shifts[int(found.group(1))] = tuple(float(found.group(i)) for i in (2, 3, 4))
    return shifts


def _numbered_folders(folder: Path) -> list[Path]:
    """The ``Dnn`` subfolders of ``folder`` in the order of their numbers."""
    folders = [path for path in folder.iterdir() if path.is_dir() and re.fullmatch(r'D\d+', path.name)]
    return sorted(folders, key=lambda path: int(path.name[1:]))


def lower_atoms(poscar: Path, lower_species: int) -> int:
    """Atoms of the lower slab in an ARTEMIS ``POSCAR``: the counts of its first ``lower_species``
    species blocks (ARTEMIS writes the lower slab first, one block per species and slab)."""
    counts = [int(n) for n in poscar.read_text().splitlines()[6].split()]
    return sum(counts[:lower_species])


def read_candidates(folder: Path, lower_cell, upper_cell, lower_species: int = 1) -> list:
    """(ase.Atoms, metadata) of every ``Dnn/DSHIFT/Dmm/POSCAR`` under ``folder`` (a ``DINTERFACES``), in order.

    ``lower_cell``, ``upper_cell``: the input cells (3×3, rows, Å) that ARTEMIS read; the transforms
    of ``struc_data.txt`` refer to them; ``lower_species``: number of elements of the lower crystal.
    The metadata hold :data:`~aiida_ifacerank.common.candidates.CANDIDATE_KEYS` except ``candidate``,
    ``lower`` and ``upper``. ``ValueError`` when a file is unreadable or a transform does not give the
    POSCAR's a and b lengths.
    """
    lower_cell, upper_cell = np.asarray(lower_cell, dtype=float), np.asarray(upper_cell, dtype=float)
    candidates = []
    terminations_seen: dict[int, int] = {}  # lattice match number -> Dnn folders read so far
    for match_folder in _numbered_folders(folder):
        match = read_match(match_folder / 'struc_data.txt')
        number = match['lattice_match']
        termination_index = terminations_seen.get(number, 0)
        terminations_seen[number] = termination_index + 1
        lower_vectors = np.asarray(match['transform_lower'])[:2] @ lower_cell
        upper_vectors = np.asarray(match['transform_upper'])[:2] @ upper_cell
        strain = match_strain(upper_vectors, lower_vectors)
        strain.pop('area_ang2')
        miller_lower, miller_upper = miller_text(match['miller_lower']), miller_text(match['miller_upper'])
        shifts = read_shifts(match_folder / 'DSHIFT' / 'shift_data.txt')
        for shift_folder in _numbered_folders(match_folder / 'DSHIFT'):
            atoms = read(shift_folder / 'POSCAR', format='vasp')
            expected, found = np.linalg.norm(lower_vectors, axis=1), atoms.cell.lengths()[:2]
            if not np.allclose(expected, found, rtol=LENGTH_RTOL, atol=0):
                poscar = f'{match_folder.name}/DSHIFT/{shift_folder.name}/POSCAR'
                raise ValueError(
                    f'{poscar}: a, b have lengths {found.round(6).tolist()} Å but the lower transform '
                    f'{match["transform_lower"]} of the input cell gives '
                    f'{expected.round(6).tolist()} Å: the transforms do not refer to the input cells.'
                )
            shift = shifts[int(shift_folder.name[1:])]
            atoms_lower = lower_atoms(shift_folder / 'POSCAR', lower_species)
            structure = AseAtomsAdaptor.get_structure(atoms)
            metadata = {
                'backend': 'artemis',
                'match_id': f'{miller_lower}|{miller_upper}#{number - 1}',
                'raw_matches': 1,
                'miller_lower': miller_lower,
                'miller_upper': miller_upper,
                'area_ang2': interface_area(atoms.cell[:]),
                **strain,
                'termination': match['termination'][::-1],  # [upper, lower]: pymatgen's (film, substrate) order
                'termination_index': termination_index,
                'shift': [shift[0], shift[1]],
                'gap_ang': shift[2],
                'model': 'periodic',
                'atoms': len(atoms),
                'atoms_lower': atoms_lower,
                **interface_registry(structure, atoms_lower, 'periodic'),
            }
            candidates.append((atoms, metadata))
    return candidates


class ArtemisParser(Parser):
    """Read every ``DINTERFACES/Dnn/DSHIFT/Dmm/POSCAR`` with its match, termination and shift."""

    def parse(self, **kwargs):
        retrieved = self.retrieved
        names = retrieved.base.repository.list_object_names()
        if ArtemisCalculation._STDOUT not in names:
            return self.exit_codes.ERROR_OUTPUT_STDOUT_MISSING
        stdout = retrieved.base.repository.get_object_content(ArtemisCalculation._STDOUT)
        errors = re.findall(r'^\s*ERROR:\s*(.*(?:\n(?!\s*#)\s+\S.*)?)', stdout, re.MULTILINE)
        if errors:
            return self.exit_codes.ERROR_ARTEMIS_FAILED.format(
                error=' '.join(errors[0].split()).removeprefix('ERROR: ')
            )
        if ArtemisCalculation._OUTPUT_FOLDER not in names:
            if re.search(r'Total number of matches saved:\s*0\b', stdout) or 'No matches' in stdout:
                return self.exit_codes.ERROR_NO_INTERFACES
            return self.exit_codes.ERROR_OUTPUT_FOLDER_MISSING
        lower, upper = self.node.inputs.lower, self.node.inputs.upper
        with tempfile.TemporaryDirectory() as directory:
            retrieved.base.repository.copy_tree(directory)
            try:
                candidates = read_candidates(
                    Path(directory) / ArtemisCalculation._OUTPUT_FOLDER,
                    lower.cell,
                    upper.cell,
                    len(set(lower.get_symbols_set())),
                )
            except (ValueError, KeyError, IndexError, AttributeError, OSError) as exception:
                return self.exit_codes.ERROR_OUTPUT_CORRUPT.format(reason=str(exception))
        if not candidates:
            return self.exit_codes.ERROR_NO_INTERFACES
        outputs = candidate_outputs(candidates, lower, upper)
        for label, node in outputs.items():
            self.out(label, node)
        version = re.search(r'ARTEMIS version (\S+)', stdout)
        counts = {
            'unique_matches': len({metadata['match_id'] for _, metadata in candidates}),
            'candidates': len(candidates),
        }
        report = {
            'counts': counts,
            'lower': lower.get_formula(mode='hill_compact'),
            'upper': upper.get_formula(mode='hill_compact'),
            'artemis_version': version.group(1) if version else None,
            'backend': 'artemis',
        }
        self.out('report', Dict(report))
        return ExitCode(0)
