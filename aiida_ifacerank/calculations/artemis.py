"""``ifacerank.artemis``: interface generation with the ARTEMIS executable (a second generation backend).

The input writer lives here, the output readers in ``aiida_ifacerank.parsers.artemis``. ARTEMIS always
runs with ``LW_USE_PRICEL = F`` and ``UP_USE_PRICEL = F``: the Miller indices and the transformation
matrices of its output then refer to the cells of the input structures (with ARTEMIS's default ``T`` they
refer to its own primitive cells). Give a primitive cell as input if you want one.
"""

from __future__ import annotations

import io

from aiida.common import CalcInfo, CodeInfo
from aiida.engine import CalcJob
from aiida.orm import Dict, StructureData
from ase.io import write

from aiida_ifacerank.data import TableData

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
    'NTERM': int,
    'ISHIFT': int,
    'NSHIFT': int,
    'C_SCALE': float,
}
"""INTERFACES-card tags accepted in the ``parameters`` of ``ifacerank.artemis`` and their types."""
FIXED_TAGS = {'LW_USE_PRICEL': False, 'UP_USE_PRICEL': False}
"""INTERFACES-card tags always written: Miller indices and transforms refer to the input cells."""
POSITIVE_TAGS = ('NINTF', 'NMATCH', 'TOL_VEC', 'TOL_ANG', 'TOL_AREA', 'TOL_MAXSIZE', 'NMILLER', 'NSHIFT', 'NTERM')


def check_parameters(parameters: dict) -> str | None:
    """Reason why ``parameters`` (ARTEMIS INTERFACES tags, plus ``CLOCK``) are invalid, or ``None``."""
    fixed = sorted(set(parameters) & set(FIXED_TAGS))
    if fixed:
        return (
            f'{fixed} cannot be set: ARTEMIS always runs on the input cells (USE_PRICEL = F), so that Miller '
            'indices and cells are those of the input structures; give a primitive cell as input if you want one.'
        )
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
    """Text of ``param.in`` for interface generation (TASK 1) with ``parameters`` in the INTERFACES card.

    ``LW_USE_PRICEL = F`` and ``UP_USE_PRICEL = F`` are always written (:data:`FIXED_TAGS`).
    """

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
    settings += [f'  {tag} = {value(tag, item)}' for tag, item in FIXED_TAGS.items()]
    return '\n'.join([*settings, 'END INTERFACES', ''])


def _validate_parameters(value, _):
    if value is not None:
        return check_parameters(value.get_dict())
    return None


class ArtemisCalculation(CalcJob):
    """Run ARTEMIS (TASK 1) on two bulk crystals; outputs in the format of ``ifacerank.generate``."""

    _INPUT_FILE = 'param.in'
    _LOWER_FILE = 'POSCAR_lower'
    _UPPER_FILE = 'POSCAR_upper'
    _OUTPUT_FOLDER = 'DINTERFACES'
    _STDOUT = 'artemis.out'

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input(
            'lower',
            valid_type=StructureData,
            help='Bulk crystal of the bottom slab (substrate); LW_MILLER and the output transforms refer to its cell.',
        )
        spec.input(
            'upper',
            valid_type=StructureData,
            help='Bulk crystal of the top slab (film); UP_MILLER and the output transforms refer to its cell.',
        )
        spec.input(
            'parameters',
            valid_type=Dict,
            validator=_validate_parameters,
            help='ARTEMIS INTERFACES-card tags (TOL_VEC in %, TOL_ANG in degrees, ...) and CLOCK (random seed).',
        )
        spec.inputs['metadata']['options']['resources'].default = {'num_machines': 1, 'num_mpiprocs_per_machine': 1}
        spec.inputs['metadata']['options']['parser_name'].default = 'ifacerank.artemis'
        spec.inputs['metadata']['options']['withmpi'].default = False
        spec.outputs.dynamic = True
        spec.output('candidates', valid_type=TableData, help='One row per candidate: its metadata.')
        spec.output('report', valid_type=Dict, help='Counts and the ARTEMIS version.')
        spec.exit_code(300, 'ERROR_OUTPUT_STDOUT_MISSING', message='The ARTEMIS output file was not retrieved.')
        spec.exit_code(301, 'ERROR_OUTPUT_FOLDER_MISSING', message='ARTEMIS wrote no DINTERFACES folder.')
        spec.exit_code(302, 'ERROR_OUTPUT_CORRUPT', message='An ARTEMIS output file could not be read: {reason}')
        spec.exit_code(310, 'ERROR_NO_INTERFACES', message='ARTEMIS found no interface within the tolerances.')
        spec.exit_code(320, 'ERROR_ARTEMIS_FAILED', message='ARTEMIS stopped with an error: {error}')

    def prepare_for_submission(self, folder):
        for node, filename in ((self.inputs.lower, self._LOWER_FILE), (self.inputs.upper, self._UPPER_FILE)):
            handle = io.StringIO()
            write(handle, node.get_ase(), format='vasp', direct=True, sort=True)
            with folder.open(filename, 'w') as target:
                target.write(handle.getvalue())
        with folder.open(self._INPUT_FILE, 'w') as handle:
            handle.write(write_input(self.inputs.parameters.get_dict(), self._LOWER_FILE, self._UPPER_FILE))

        codeinfo = CodeInfo()
        codeinfo.code_uuid = self.inputs.code.uuid
        codeinfo.cmdline_params = ['-f', self._INPUT_FILE]
        codeinfo.stdout_name = self._STDOUT

        calcinfo = CalcInfo()
        calcinfo.codes_info = [codeinfo]
        calcinfo.retrieve_list = [self._STDOUT, self._OUTPUT_FOLDER]
        return calcinfo
