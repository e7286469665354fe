"""ARTEMIS (Fortran lattice matcher and interface generator) input writing and output reading, no AiiDA.

Output layout of ARTEMIS 2.0 (TASK = 1), recorded from real runs here:
``DINTERFACES/settings.txt``; per lattice match and termination pair ``DINTERFACES/Dnn/struc_data.txt``
(transformation matrices, vector/angle/area mismatch, Miller planes, termination tables); per
stacking shift ``Dnn/DSHIFT/shift_data.txt`` (shift a, b in fractions, c in Å) and
``Dnn/DSHIFT/Dmm/POSCAR`` (periodic cell, two interfaces, lower material first).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

ARTEMIS_TAGS = {
    'NINTF': int,
    'IMATCH': int,
    'NMATCH': int,
    'TOL_VEC': float,
    'TOL_ANG': float,
    'TOL_AREA': float,
    'TOL_MAXFIND': int,
    'TOL_MAXSIZE': int,  # its help says real, but the input reader wants an integer
    'NMILLER': int,
    'LW_MILLER': list,
    'UP_MILLER': list,
    'LW_NUM_LAYERS': int,
    'UP_NUM_LAYERS': int,
    'LW_USE_PRICEL': bool,
    'UP_USE_PRICEL': bool,
    'NTERM': int,
    'ISHIFT': int,
    'NSHIFT': int,
    'C_SCALE': float,
}
"""INTERFACES-card tags accepted in the ``parameters`` of ``ifacerank.artemis`` and their types."""
POSITIVE_TAGS = ('NINTF', 'NMATCH', 'TOL_VEC', 'TOL_ANG', 'TOL_AREA', 'TOL_MAXSIZE', 'NMILLER', 'NSHIFT', 'NTERM')


def check_parameters(parameters: dict) -> str | None:
    """Reason why ``parameters`` (ARTEMIS INTERFACES tags, plus ``CLOCK``) are invalid, or ``None``."""
    unknown = sorted(set(parameters) - set(ARTEMIS_TAGS) - {'CLOCK'})
    if unknown:
        return f'unknown ARTEMIS tag(s) {unknown}; use {sorted(ARTEMIS_TAGS)} or CLOCK.'
    for tag in POSITIVE_TAGS:
        if tag in parameters and not parameters[tag] > 0:
            return f'{tag} must be > 0, got {parameters[tag]}.'
    for tag in ('LW_MILLER', 'UP_MILLER'):
        if tag in parameters:
            miller = parameters[tag]
            if len(miller) != 3 or not all(isinstance(i, int) for i in miller):
                return f'{tag} must be three integers, got {miller}.'
            if not any(miller):
                return f'{tag} is the Miller index (0, 0, 0), which is no plane.'
    return None


def write_input(parameters: dict, lower_file: str, upper_file: str) -> str:
    """Text of ``param.in`` for interface generation (TASK 1) with ``parameters`` in the INTERFACES card."""

    def value(tag, item):
        if isinstance(item, bool):
            return 'T' if item else 'F'
        if isinstance(item, list | tuple):
            return ' '.join(str(int(i)) for i in item)
        return str(ARTEMIS_TAGS.get(tag, int)(item))

    settings = [
        'SETTINGS',
        '  TASK = 1',
        '  RESTART = 0',
        f'  STRUC1_FILE = {lower_file}',
        f'  STRUC2_FILE = {upper_file}',
        f'  CLOCK = {int(parameters.get("CLOCK", 1))}',
        'END SETTINGS',
        '',
        'INTERFACES',
        '  LGEN_INTERFACES = T',
        '  SHIFTDIR = DSHIFT',
        '  ISWAP = 0',
    ]
    settings += [f'  {tag} = {value(tag, item)}' for tag, item in parameters.items() if tag != 'CLOCK']
    return '\n'.join([*settings, 'END INTERFACES', ''])


def _floats(pattern: str, text: str) -> list[float]:
    match = re.search(pattern, text)
    return [float(x) for x in match.group(1).split()] if match else []


def read_match(path: Path) -> dict:
    """Lattice match, mismatches, Miller planes and terminations from a ``struc_data.txt``."""
    text = Path(path).read_text()
    rows = re.findall(r'^\s+(-?\d+)\s+(-?\d+)\s+(-?\d+)\s+(-?\d+)\s+(-?\d+)\s+(-?\d+)\s*$', text, re.MULTILINE)
    if len(rows) < 3:
        raise ValueError(f'{path}: no transformation matrices found.')
    matrices = np.array(rows[:3], dtype=int)
    terminations = re.findall(r'Term\.[^\n]*\n\s+(\d+)\s', text)
    return {
        'lattice_match': int(re.search(r'Lattice match:\s*(\d+)', text).group(1)),
        'transform_lower': matrices[:, :3].tolist(),
        'transform_upper': matrices[:, 3:].tolist(),
        'length_strain': _floats(r'vector mismatch \(%\) =\s*(\S+)', text)[0] / 100,
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
