"""``ifacerank.mlp``: relax or evaluate many structures per job with a machine-learned potential.

MACE is the default engine; SevenNet and CHGNet (pretrained weights inside their PyPI packages, so
they work offline) run behind the same job through ``engine``. The code is a Python interpreter on
the remote computer that has the engine installed: SevenNet needs e3nn >= 0.5 while mace-torch pins
e3nn 0.4.4, so SevenNet lives in its own environment and gets its own AiiDA code.
"""

from __future__ import annotations

import json
from importlib import resources

from aiida.common import CalcInfo, CodeInfo
from aiida.engine import CalcJob
from aiida.orm import Dict, Str

from aiida_ifacerank.common.types import CELL_CHOICES, MLP_ENGINES, TASKS
from aiida_ifacerank.data import PotentialModelData, StructureCollectionData, TableData
from aiida_ifacerank.science.layers import LAYER_KEYS

OPTIMIZERS = ('FIRE', 'BFGS', 'LBFGS')
THREAD_VARIABLES = ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS')
"""Thread counts of the job's numerical libraries, set to ``threads`` (besides torch's) when it is > 0."""

DEFAULTS = {
    'engine': 'mace',
    'task': 'relax',
    'optimizer': 'FIRE',
    'fmax': 0.05,
    'max_steps': 500,
    'cell': 'normal',
    'frozen_layers_ang': 0.0,
    'collapse_factor': 0.5,
    'max_energy_drop_ev_atom': 5.0,
    'device': 'cpu',
    'dtype': None,
    'threads': 0,
}
"""Settings of the driver: ``engine`` (``MLP_ENGINES``), ``task`` (``TASKS``), ``optimizer``
(:data:`OPTIMIZERS`), ``cell`` (``CELL_CHOICES``, as in ``ifacerank.dft``), all from
:mod:`aiida_ifacerank.common.types`; ``fmax`` eV/Å; ``frozen_layers_ang`` thickness (Å) of each region
of an interface held fixed (:func:`aiida_ifacerank.science.layers.frozen_atoms`: the middle of each
slab in the two-interface models, the outer face of the lower slab in the slab model; 0 freezes
nothing); a relaxation has diverged, and its structure fails for good, when two atoms come closer
than ``collapse_factor`` × the sum of their covalent radii (0 checks nothing) or the energy per atom falls
more than ``max_energy_drop_ev_atom`` (eV/atom) below its start; ``dtype`` None is the engine's own (MACE
float64, which relaxations need; SevenNet and CHGNet float32, the only precision they run in); ``threads``
> 0 sets torch's threads and :data:`THREAD_VARIABLES` in the job, 0 leaves the defaults (every core)."""


def check_settings(settings: dict) -> str | None:
    """Reason why ``settings`` (see :data:`DEFAULTS`) are invalid, or ``None``."""
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        return f'unknown setting(s) {unknown}: use {sorted(DEFAULTS)}.'
    merged = {**DEFAULTS, **settings}
    choices = {
        'engine': MLP_ENGINES,
        'task': TASKS,
        'optimizer': OPTIMIZERS,
        'cell': CELL_CHOICES,
        'device': ('cpu', 'cuda'),
        'dtype': (None, 'float32', 'float64'),
    }
    for key, allowed in choices.items():
        if merged[key] not in allowed:
            return f'{key} must be one of {allowed}, got {merged[key]!r}.'
    if merged['engine'] != 'mace' and merged['dtype'] == 'float64':
        return f"{merged['engine']} runs in float32 only: leave dtype unset or set it to 'float32'."
    if not merged['fmax'] > 0:
        return f'fmax must be > 0 eV/Å, got {merged["fmax"]}.'
    if int(merged['max_steps']) < 1:
        return f'max_steps must be >= 1, got {merged["max_steps"]}.'
    if merged['frozen_layers_ang'] < 0 or int(merged['threads']) < 0:
        return 'frozen_layers_ang and threads must be >= 0.'
    if not 0 <= merged['collapse_factor'] < 1:
        return f'collapse_factor must be in [0, 1) (0 checks nothing), got {merged["collapse_factor"]}.'
    if not merged['max_energy_drop_ev_atom'] > 0:
        return f'max_energy_drop_ev_atom must be > 0 eV/atom, got {merged["max_energy_drop_ev_atom"]}.'
    return None


def _validate_inputs(inputs, _):
    models = [name for name in ('model', 'model_path', 'foundation_model') if name in inputs]
    if len(models) != 1:
        return f'give exactly one of model, model_path or foundation_model, got {models or "none"}.'
    settings = inputs['parameters'].get_dict() if 'parameters' in inputs else {}
    error = check_settings(settings)
    if error is None and 'model' in inputs:
        engine, stored = settings.get('engine', DEFAULTS['engine']), inputs['model'].base.attributes.get('engine')
        if stored != engine:
            error = f"the model node is a {stored!r} model but parameters['engine'] is {engine!r}: make them agree."
    if error is None and settings.get('frozen_layers_ang', 0) > 0:
        error = _check_interface_info(inputs['structures'])
    return error


def _check_interface_info(structures: StructureCollectionData) -> str | None:
    """Reason why frozen layers cannot be found in ``structures``: some lack ``atoms_lower`` or ``model``."""
    keys = LAYER_KEYS
    missing = [str(atoms.info['label']) for atoms in structures.get_ase() if not set(keys) <= set(atoms.info)]
    if missing:
        return (
            f'frozen_layers_ang > 0 needs {keys} of each interface (the ifacerank attribute of a candidate, or '
            f'Atoms.info, kept by StructureCollectionData.from_structures); missing for {len(missing)} '
            f'structure(s): {missing[:5]}.'
        )
    return None


class MlpCalculation(CalcJob):
    """One job, many structures, one model load (``drivers/mlp_driver.py`` with the computer's Python)."""

    _DRIVER = 'mlp_driver.py'
    _LAYERS = 'ifacerank_layers.py'
    _SETTINGS = 'settings.json'
    _MODEL = 'model.model'

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input('structures', valid_type=StructureCollectionData, help='The structures of this batch.')
        spec.input('model', valid_type=PotentialModelData, required=False, help='Model file stored in AiiDA.')
        spec.input(
            'model_path',
            valid_type=Str,
            required=False,
            help='Absolute path of a model file on the remote computer (symlinked, never uploaded).',
        )
        spec.input(
            'foundation_model',
            valid_type=Str,
            required=False,
            help='Pretrained model name: MACE-MP-0 "large" etc. (downloaded by the driver), SevenNet "7net-0", '
            'CHGNet "0.3.0" (both shipped in their packages).',
        )
        spec.input('parameters', valid_type=Dict, required=False, help='Driver settings, see DEFAULTS.')
        spec.inputs.validator = _validate_inputs
        spec.inputs['metadata']['options']['resources'].default = {'num_machines': 1, 'num_mpiprocs_per_machine': 1}
        spec.inputs['metadata']['options']['parser_name'].default = 'ifacerank.mlp'
        spec.inputs['metadata']['options']['withmpi'].default = False
        spec.output(
            'structures',
            valid_type=StructureCollectionData,
            required=False,
            help='Relaxed (or evaluated) structures that finished, with energy and forces.',
        )
        spec.output('results', valid_type=TableData, help='Per structure: status, energy (eV), max force, steps.')
        spec.exit_code(300, 'ERROR_OUTPUT_MISSING', message='results.jsonl was not retrieved: {reason}')
        spec.exit_code(301, 'ERROR_OUTPUT_CORRUPT', message='The driver output could not be read: {reason}')
        spec.exit_code(
            310,
            'ERROR_MODEL_LOAD',
            invalidates_cache=True,  # a changed file once restored must be checked again, not answered from the cache
            message='The model could not be loaded: {reason}',
        )
        spec.exit_code(410, 'ERROR_SOME_FAILED', message='{count} of {total} structures failed or did not converge.')
        spec.exit_code(420, 'ERROR_ALL_FAILED', message='No structure finished: {reason}')

    def prepare_for_submission(self, folder):
        settings = {**DEFAULTS, **(self.inputs.parameters.get_dict() if 'parameters' in self.inputs else {})}
        calcinfo = CalcInfo()
        calcinfo.local_copy_list = [(self.inputs.structures.uuid, self.inputs.structures.filename, 'structures.extxyz')]
        calcinfo.remote_symlink_list = []
        if 'model' in self.inputs:
            calcinfo.local_copy_list.append((self.inputs.model.uuid, self.inputs.model.filename, self._MODEL))
            settings['model_file'] = self._MODEL
            settings['model_sha256'] = self.inputs.model.sha256  # the driver checks it before loading
        elif 'model_path' in self.inputs:
            calcinfo.remote_symlink_list.append(
                (self.inputs.code.computer.uuid, self.inputs.model_path.value, self._MODEL)
            )
            settings['model_file'] = self._MODEL
        else:
            settings['foundation_model'] = self.inputs.foundation_model.value
        with folder.open(self._SETTINGS, 'w') as handle:
            json.dump(settings, handle, indent=1)
        sources = {
            self._DRIVER: resources.files('aiida_ifacerank.calculations.drivers').joinpath(self._DRIVER),
            self._LAYERS: resources.files('aiida_ifacerank.science').joinpath('layers.py'),  # the driver imports it
        }
        for name, source in sources.items():
            with folder.open(name, 'w') as handle:
                handle.write(source.read_text())

        codeinfo = CodeInfo()
        codeinfo.code_uuid = self.inputs.code.uuid
        codeinfo.cmdline_params = [self._DRIVER, self._SETTINGS]
        codeinfo.stdout_name = 'driver.out'
        codeinfo.stderr_name = 'driver.err'
        calcinfo.codes_info = [codeinfo]
        calcinfo.retrieve_list = ['results.jsonl', 'results.extxyz', 'model_error.txt', 'driver.out', 'driver.err']
        if int(settings['threads']) > 0:  # numpy's BLAS and OpenMP too: unbounded, they spin against other jobs
            calcinfo.prepend_text = 'export ' + ' '.join(
                f'{name}={int(settings["threads"])}' for name in THREAD_VARIABLES
            )
        return calcinfo
