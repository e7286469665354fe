"""Parser of ``ifacerank.artemis``: ARTEMIS interfaces normalised to the ``ifacerank.generate`` candidate format."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from aiida.engine import ExitCode
from aiida.orm import Dict, StructureData
from aiida.parsers import Parser
from ase.io import read

from aiida_ifacerank.calculations.artemis import ArtemisCalculation
from aiida_ifacerank.calculations.generate import CANDIDATE_PREFIX, METADATA_KEY
from aiida_ifacerank.data import TableData
from aiida_ifacerank.science.artemis import read_match, read_shifts
from aiida_ifacerank.science.generation import miller_text


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
        with tempfile.TemporaryDirectory() as directory:
            retrieved.base.repository.copy_tree(directory)
            try:
                candidates = self._read_candidates(Path(directory) / ArtemisCalculation._OUTPUT_FOLDER)
            except (ValueError, KeyError, IndexError, AttributeError, OSError) as exception:
                return self.exit_codes.ERROR_OUTPUT_CORRUPT.format(reason=str(exception))
        if not candidates:
            return self.exit_codes.ERROR_NO_INTERFACES
        names = {
            'lower': self.node.inputs.lower.get_formula(mode='hill_compact'),
            'upper': self.node.inputs.upper.get_formula(mode='hill_compact'),
        }
        rows = []
        for index, (structure, found) in enumerate(candidates):
            label = f'{CANDIDATE_PREFIX}{index:04d}'
            metadata = dict(found, **names, candidate=label)
            node = StructureData(ase=structure)
            node.base.attributes.set(METADATA_KEY, metadata)
            self.out(label, node)
            rows.append({key: str(value) if isinstance(value, list) else value for key, value in metadata.items()})
        self.out('candidates', TableData(pd.DataFrame(rows)))
        version = re.search(r'ARTEMIS version (\S+)', stdout)
        matches = len({row['match_id'] for row in rows})
        report = {'counts': {'unique_matches': matches, 'candidates': len(rows)}, **names}
        self.out('report', Dict(dict(report, artemis_version=version.group(1) if version else None, backend='artemis')))
        return ExitCode(0)

    @staticmethod
    def _read_candidates(folder: Path) -> list:
        """(ase.Atoms, metadata) for every POSCAR under ``folder``, in directory order."""
        candidates = []
        for match_folder in sorted(path for path in folder.iterdir() if path.is_dir()):
            match = read_match(match_folder / 'struc_data.txt')
            shifts = read_shifts(match_folder / 'DSHIFT' / 'shift_data.txt')
            for shift_folder in sorted(path for path in (match_folder / 'DSHIFT').iterdir() if path.is_dir()):
                atoms = read(shift_folder / 'POSCAR', format='vasp')
                shift = shifts[int(shift_folder.name.lstrip('D'))]
                a, b = atoms.cell[0], atoms.cell[1]
                metadata = {
                    'backend': 'artemis',
                    'match_id': match_folder.name,
                    'miller_lower': miller_text(match['miller_lower']),
                    'miller_upper': miller_text(match['miller_upper']),
                    'area_ang2': float(np.linalg.norm(np.cross(a, b))),
                    'length_strain': match['length_strain'],
                    'angle_mismatch_deg': match['angle_mismatch_deg'],
                    'area_mismatch': match['area_mismatch'],
                    'transform_lower': match['transform_lower'],
                    'transform_upper': match['transform_upper'],
                    'termination': match['termination'],
                    'shift': [shift[0], shift[1]],
                    'gap_ang': shift[2],
                    'model': 'periodic',
                    'atoms': len(atoms),
                }
                candidates.append((atoms, metadata))
        return candidates
