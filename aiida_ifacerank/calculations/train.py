"""``ifacerank.mlp.train``: fit (or fine-tune) a MACE model to a training set with mace-torch's own trainer.

The code is a Python interpreter on the remote computer with mace-torch installed. The job runs two commands in
sequence: ``python -m mace.cli.run_train --config mace_options.yaml`` on the ``train.xyz`` / ``valid.xyz`` split
computed here (so the exact split is in the job's inputs folder), then ``drivers/train_errors.py``, which evaluates
the trained model on every frame of both files.
"""

from __future__ import annotations

import io
from importlib import resources

import numpy as np
import yaml
from aiida.common import CalcInfo, CodeInfo
from aiida.common.datastructures import CodeRunMode
from aiida.engine import CalcJob
from aiida.orm import Dict
from ase.io import write

from aiida_ifacerank.data import PotentialModelData, TableData, TrainingSetData
from aiida_ifacerank.data.training import ENERGY_KEY, FORCES_KEY, STRESS_KEY

DEFAULTS = {
    'model': 'MACE',
    'r_max': 5.0,
    'num_channels': 32,
    'max_L': 1,
    'num_interactions': 2,
    'correlation': 3,
    'E0s': 'average',
    'max_num_epochs': 100,
    'batch_size': 4,
    'valid_batch_size': 4,
    'lr': 0.01,
    'seed': 0,
    'default_dtype': 'float64',
    'device': 'cpu',
    'plot': False,
}
"""mace_run_train options the job gives unless ``parameters`` overrides them: a small MACE (``r_max`` cutoff in Å,
``num_channels`` × irreps up to ``max_L``, 2 interactions, body order ``correlation`` + 1), per-element reference
energies fitted by least squares (``E0s`` average; ``foundation`` keeps a fine-tuned model's), 100 epochs of
batches of 4 frames at learning rate 0.01, float64 on the CPU, no plots. Besides these, ``loss`` is ``stress``
(energy, forces and stress) when every frame has a stress, else ``weighted`` (energy and forces), with the matching
``error_table``; a fine-tune sets ``multiheads_finetuning`` False (the replay of pretraining data needs a file the
job does not ship)."""

NAME = 'mace'
"""mace_run_train's ``name``: the model is ``mace.model`` (``mace_stagetwo.model`` with ``swa``)."""
TRAIN_FILE, VALID_FILE, FOUNDATION_FILE = 'train.xyz', 'valid.xyz', 'foundation.model'
OPTIONS_FILE = 'mace_options.yaml'
ERRORS_FILE = 'errors.json'
DRIVER = 'train_errors.py'

RESERVED = (
    'name',
    'train_file',
    'valid_file',
    'valid_fraction',
    'test_file',
    'test_dir',
    'work_dir',
    'model_dir',
    'log_dir',
    'checkpoints_dir',
    'results_dir',
    'downloads_dir',
    'foundation_model',
    'energy_key',
    'forces_key',
    'stress_key',
    'virials_key',
    'heads',
    'config',
)
"""mace_run_train options the job sets itself: file names, directories, data keys, the model to fine-tune (the
``model`` input) and the split (the ``validation`` input)."""


def training_options(parameters: dict, has_stress: bool, fine_tune: bool) -> dict:
    """All mace_run_train options of a job: :data:`DEFAULTS` and the stress-dependent ones, overridden by
    ``parameters`` (a ``None`` value drops an option, so that mace's own default applies; ``hidden_irreps`` drops
    the default ``num_channels`` and ``max_L``, which mace would otherwise prefer), then the files and keys the job
    sets (:data:`RESERVED`)."""
    options = {
        **DEFAULTS,
        'loss': 'stress' if has_stress else 'weighted',
        'error_table': 'PerAtomRMSEstressvirials' if has_stress else 'PerAtomRMSE',
    }
    if fine_tune:
        options['multiheads_finetuning'] = False
    if 'hidden_irreps' in parameters:
        del options['num_channels'], options['max_L']
    options.update(parameters)
    options.update(
        name=NAME,
        train_file=TRAIN_FILE,
        valid_file=VALID_FILE,
        energy_key=ENERGY_KEY,
        forces_key=FORCES_KEY,
        stress_key=STRESS_KEY,
    )
    if fine_tune:
        options['foundation_model'] = FOUNDATION_FILE
    return {key: value for key, value in options.items() if value is not None}


def model_filename(options: dict) -> str:
    """The model file mace_run_train writes for ``options``: the stage-two model when ``swa`` is on."""
    return f'{options["name"]}_stagetwo.model' if options.get('swa') else f'{options["name"]}.model'


def log_filenames(options: dict) -> tuple[str, str]:
    """mace_run_train's log file and per-epoch results file (JSON lines) for ``options``, as retrieved (flat)."""
    tag = f'{options["name"]}_run-{options["seed"]}'
    return f'{tag}.log', f'{tag}_train.txt'


def validation_indices(num_frames: int, fraction: float, seed: int) -> list[int]:
    """Sorted indices of the validation frames: round(``fraction`` × ``num_frames``) of them, at least one and at
    most ``num_frames`` − 1, drawn without replacement by ``numpy.random.default_rng(seed)``."""
    if num_frames < 2:
        raise ValueError(f'a split needs at least 2 frames, the training set has {num_frames}.')
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction < 1:
        raise ValueError(f'fraction must be a number between 0 and 1 (exclusive), got {fraction!r}.')
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f'seed must be an integer >= 0, got {seed!r}.')
    count = min(max(1, round(fraction * num_frames)), num_frames - 1)
    return sorted(int(index) for index in np.random.default_rng(seed).choice(num_frames, count, replace=False))


def split_frames(labels: list[str], validation: dict) -> list[int]:
    """Sorted indices of the validation frames among frames ``labels``: ``validation`` is ``{'fraction': f,
    'seed': s}`` (:func:`validation_indices`, seed 0 if not given) or ``{'labels': [...]}`` (every frame with one
    of those labels)."""
    keys = set(validation)
    if keys == {'labels'}:
        wanted = {str(label) for label in validation['labels']}
        unknown = sorted(wanted - set(labels))
        if unknown:
            raise ValueError(f'unknown label(s) {unknown[:5]}: name frames of the training set (its labels).')
        indices = [index for index, label in enumerate(labels) if label in wanted]
        if not indices:
            raise ValueError('labels is empty: name at least one validation frame.')
        if len(indices) == len(labels):
            raise ValueError('every frame is a validation frame: leave at least one to train on.')
        return indices
    if 'fraction' in keys and keys <= {'fraction', 'seed'}:
        return validation_indices(len(labels), validation['fraction'], validation.get('seed', 0))
    raise ValueError(f"give {{'fraction': f, 'seed': s}} or {{'labels': [...]}}, got the keys {sorted(keys)}.")


def check_options(parameters: dict, options: dict) -> str | None:
    """Reason why ``parameters`` or the ``options`` made of them (:func:`training_options`) are refused, or None.

    Options the job sets are refused; the rest are parsed by mace's ``build_default_arg_parser`` when mace is
    importable here (unknown names, types, choices); a flag (an option without a value, e.g. ``swa``) takes a bool:
    True gives the flag, False leaves mace's default.
    """
    reserved = sorted(set(parameters) & set(RESERVED))
    if reserved:
        return (
            f'{reserved} are set by the job itself (files, directories, data keys; the model input to fine-tune, '
            'the validation input for the split): remove them.'
        )
    if any(parameters.get(key, '') is None for key in ('seed', 'device')):
        return 'seed and device need a value (None drops an option, these two the job itself needs).'
    try:
        from mace.tools.arg_parser import build_default_arg_parser  # noqa: PLC0415 - slow (torch); optional here
    except ImportError:
        return None
    parser = build_default_arg_parser()
    actions = {
        string.lstrip('-'): action
        for action in parser._actions
        if action.dest != 'help'
        for string in action.option_strings
    }
    unknown = sorted(set(parameters) - set(actions))
    if unknown:
        return f'unknown mace_run_train option(s) {unknown}: see `python -m mace.cli.run_train --help`.'
    flags = [key for key, value in options.items() if actions[key].nargs == 0 and not isinstance(value, bool)]
    if flags:
        return f'{flags} are flags of mace_run_train: give True (the flag) or False (mace default).'

    def refuse(message):
        raise ValueError(message)

    parser.error = refuse
    try:
        parser.parse_args([], config_file_contents=options_yaml(options))
    except ValueError as exception:
        return f'mace_run_train refuses the options: {exception}'
    return None


def options_yaml(options: dict) -> str:
    """The mace_run_train config file (YAML) of ``options``."""
    return yaml.safe_dump(options, sort_keys=False)


def _validate_inputs(inputs, _):
    training_set = inputs['training_set']
    validation = inputs['validation'].get_dict()
    try:
        split_frames(training_set.labels, validation)
    except ValueError as exception:
        return f'validation: {exception}'
    if 'model' in inputs and inputs['model'].base.attributes.get('engine') != 'mace':
        engine = inputs['model'].base.attributes.get('engine')
        return f'model: a {engine!r} model cannot be fine-tuned by mace_run_train: give a MACE model (engine mace).'
    parameters = inputs['parameters'].get_dict() if 'parameters' in inputs else {}
    options = training_options(parameters, bool(training_set.base.attributes.get('has_stress')), 'model' in inputs)
    error = check_options(parameters, options)
    return f'parameters: {error}' if error else None


class MaceTrainCalculation(CalcJob):
    """Train a MACE model with ``mace_run_train`` on a split of a training set, then evaluate it on every frame."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input('training_set', valid_type=TrainingSetData, help='Frames with reference energies and forces.')
        spec.input(
            'validation',
            valid_type=Dict,
            default=lambda: Dict({'fraction': 0.1, 'seed': 0}),
            help="Validation frames: {'fraction': f, 'seed': s} drawn at random, or {'labels': [...]}.",
        )
        spec.input(
            'parameters',
            valid_type=Dict,
            required=False,
            help='mace_run_train options by their command-line names without dashes, over DEFAULTS.',
        )
        spec.input('model', valid_type=PotentialModelData, required=False, help='A MACE model to fine-tune.')
        spec.inputs.validator = _validate_inputs
        spec.inputs['metadata']['options']['resources'].default = {'num_machines': 1, 'num_mpiprocs_per_machine': 1}
        spec.inputs['metadata']['options']['parser_name'].default = 'ifacerank.mlp.train'
        spec.inputs['metadata']['options']['withmpi'].default = False
        spec.output('model', valid_type=PotentialModelData, help='The trained model (engine mace).')
        spec.output(
            'errors',
            valid_type=TableData,
            required=False,
            help='Per frame of the split: reference and predicted energy (eV), energy, force and stress errors.',
        )
        spec.output('metrics', valid_type=Dict, required=False, help='Train and validation RMSE and MAE (meV), epochs.')
        spec.exit_code(300, 'ERROR_MODEL_MISSING', message='Training wrote no model file: {reason}')
        spec.exit_code(301, 'ERROR_ERRORS_MISSING', message='The per-frame errors could not be read: {reason}')
        spec.exit_code(310, 'ERROR_MODEL_LOAD', message='The trained model could not be loaded: {reason}')
        spec.exit_code(
            320,
            'ERROR_MODEL_CHANGED',
            invalidates_cache=True,  # a restored file must be checked again, not answered from the cache
            message='The model to fine-tune was not sent to the job: {reason}',
        )

    async def run(self):
        """Refuse a model to fine-tune whose file no longer has its node's sha256 before anything is uploaded:
        ``mace_run_train`` unpickles it (``torch.load`` runs pickled code)."""
        if 'model' in self.inputs and self.node.exit_status is None:
            reason = self.inputs.model.file_changed()
            if reason:
                return self.exit_codes.ERROR_MODEL_CHANGED.format(reason=reason)
        return await super().run()

    def prepare_for_submission(self, folder):
        parameters = self.inputs.parameters.get_dict() if 'parameters' in self.inputs else {}
        training_set = self.inputs.training_set
        options = training_options(
            parameters, bool(training_set.base.attributes.get('has_stress')), 'model' in self.inputs
        )
        valid = set(split_frames(training_set.labels, self.inputs.validation.get_dict()))
        frames = training_set.get_ase()
        for filename, frames_of_split in (
            (TRAIN_FILE, [atoms for index, atoms in enumerate(frames) if index not in valid]),
            (VALID_FILE, [atoms for index, atoms in enumerate(frames) if index in valid]),
        ):
            handle = io.StringIO()
            write(handle, frames_of_split, format='extxyz')
            with folder.open(filename, 'w') as target:
                target.write(handle.getvalue())
        with folder.open(OPTIONS_FILE, 'w') as handle:
            handle.write(options_yaml(options))
        with folder.open(DRIVER, 'w') as handle:
            handle.write(resources.files('aiida_ifacerank.calculations.drivers').joinpath(DRIVER).read_text())

        calcinfo = CalcInfo()
        calcinfo.local_copy_list = []
        if 'model' in self.inputs:
            calcinfo.local_copy_list.append((self.inputs.model.uuid, self.inputs.model.filename, FOUNDATION_FILE))
        train = CodeInfo()
        train.code_uuid = self.inputs.code.uuid
        train.cmdline_params = ['-m', 'mace.cli.run_train', '--config', OPTIONS_FILE]
        train.stdout_name, train.stderr_name = 'train.out', 'train.err'
        evaluate = CodeInfo()
        evaluate.code_uuid = self.inputs.code.uuid
        evaluate.cmdline_params = [DRIVER, model_filename(options), options['device']]
        evaluate.stdout_name, evaluate.stderr_name = 'evaluate.out', 'evaluate.err'
        calcinfo.codes_info = [train, evaluate]
        calcinfo.codes_run_mode = CodeRunMode.SERIAL
        log, results = log_filenames(options)
        calcinfo.retrieve_list = [
            model_filename(options),
            ERRORS_FILE,
            f'logs/{log}',
            f'results/{results}',
            'train.out',
            'train.err',
            'evaluate.out',
            'evaluate.err',
        ]
        return calcinfo
