"""``ifacerank.artemis``: interface generation with the ARTEMIS executable (a second generation backend)."""

from __future__ import annotations

import io

from aiida.common import CalcInfo, CodeInfo
from aiida.engine import CalcJob
from aiida.orm import Dict, StructureData
from ase.io import write

from aiida_ifacerank.data import TableData
from aiida_ifacerank.science.artemis import check_parameters, write_input


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
        spec.input('lower', valid_type=StructureData, help='Bulk crystal of the bottom slab (substrate).')
        spec.input('upper', valid_type=StructureData, help='Bulk crystal of the top slab (film).')
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
