"""``ifacerank.mlp.training_data``: a potential's training set labelled by the project's own DFT.

Frames (:mod:`aiida_ifacerank.science.training`: strained and rattled bulk cells of two crystals, their random
alloy, rattled surface slabs; never an interface of the two) get one DFT single point each, with the DFT settings
of ``ifacerank.study`` (the same ``dft`` namespace, protocol entries and k-point spacing, so the same
pseudopotentials, cutoffs and smearing), at most ``max_concurrent`` at once. Their energies, forces and stresses
become one :class:`~aiida_ifacerank.data.TrainingSetData` whose provenance runs back to every DFT job.
"""

from __future__ import annotations

import copy

from aiida import orm
from aiida.engine import ToContext, WorkChain, while_

from aiida_ifacerank.calculations.training_set import collect_training_set, make_frames
from aiida_ifacerank.data import TrainingSetData
from aiida_ifacerank.science.training import FrameParameters
from aiida_ifacerank.workflows.dft import ENGINES, define_dft_namespace, dft_builder
from aiida_ifacerank.workflows.study import StudyWorkChain

PROTOCOL_KEYS = ('dft', 'kpoints_distance_inv_ang', 'max_concurrent')
"""Entries of the study protocol (``protocols/study.yaml``) that the training data shares with a study."""


def validate_inputs(inputs, _):
    """Frame parameters and the DFT inputs, checked before any job."""
    try:
        FrameParameters.from_dict(inputs['frames'].get_dict() if 'frames' in inputs else {})
    except (TypeError, ValueError) as exception:
        return f'frames: {exception}'
    engine = inputs['dft']['engine'].value
    if engine not in ENGINES:
        return f'dft.engine must be one of {tuple(ENGINES)}, got {engine!r}.'
    if inputs['kpoints_distance_inv_ang'].value <= 0:
        return 'kpoints_distance_inv_ang must be > 0 1/Å.'
    if inputs['max_concurrent'].value < 1:
        return 'max_concurrent must be >= 1.'
    return None


class TrainingDataWorkChain(WorkChain):
    """DFT single points of strained, rattled, alloyed and surface frames of two crystals: one training set."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input(
            'lower', valid_type=orm.StructureData, help='Bulk crystal of the lower slab of the study, elemental.'
        )
        spec.input(
            'upper', valid_type=orm.StructureData, help='Bulk crystal of the upper slab of the study, elemental.'
        )
        spec.input(
            'frames',
            valid_type=orm.Dict,
            default=lambda: orm.Dict({}),
            help='FrameParameters (science/training.py): counts, strains (fraction), rattle (Å), slabs, seed.',
        )
        define_dft_namespace(spec)
        spec.input('kpoints_distance_inv_ang', valid_type=orm.Float, help='k-point spacing (1/Å, 2π included).')
        spec.input('max_concurrent', valid_type=orm.Int, default=lambda: orm.Int(10), help='DFT runs at once.')
        spec.inputs.validator = validate_inputs
        spec.outline(cls.setup, while_(cls.pending)(cls.run_wave, cls.inspect_wave), cls.results)
        spec.output('training_set', valid_type=TrainingSetData, help='Every frame whose DFT single point finished.')
        spec.exit_code(410, 'ERROR_SOME_FAILED', message='{count} of {total} DFT single points failed: {labels}')
        spec.exit_code(420, 'ERROR_ALL_FAILED', message='No DFT single point finished.')

    @classmethod
    def get_builder_from_protocol(
        cls,
        dft_code: orm.AbstractCode,
        lower: orm.StructureData,
        upper: orm.StructureData,
        protocol: str | None = None,
        overrides: dict | None = None,
        engine: str = 'qe',
    ):
        """Builder with the DFT settings of ``ifacerank.study`` at ``protocol``: ``overrides`` takes the study
        protocol's keys :data:`PROTOCOL_KEYS` (give the study's own ``dft`` and ``kpoints_distance_inv_ang``
        overrides to label data with exactly its settings) and ``frames`` (FrameParameters)."""
        overrides = copy.deepcopy(overrides or {})
        frames = overrides.pop('frames', {})
        unknown = sorted(set(overrides) - set(PROTOCOL_KEYS))
        if unknown:
            raise ValueError(f'unknown override key(s) {unknown}: use {sorted(PROTOCOL_KEYS)} and frames.')
        inputs = StudyWorkChain.get_protocol_inputs(protocol, overrides)
        builder = cls.get_builder()
        builder.lower, builder.upper = lower, upper
        builder.frames = orm.Dict(frames)
        dft = inputs['dft']
        builder.dft.code = dft_code
        builder.dft.engine = orm.Str(engine)
        builder.dft.protocol = orm.Str(dft['protocol'])
        builder.dft.overrides = orm.Dict(dft.get('overrides', {}))
        builder.dft.options = orm.Dict(dft.get('options', {}))
        builder.kpoints_distance_inv_ang = orm.Float(inputs['kpoints_distance_inv_ang'])
        builder.max_concurrent = orm.Int(inputs['max_concurrent'])
        return builder

    def setup(self):
        frames = make_frames(self.inputs.lower, self.inputs.upper, self.inputs.frames)
        self.ctx.frames = dict(sorted(frames.items()))
        self.ctx.queue = list(self.ctx.frames)
        self.ctx.runs = []
        self.report(f'{len(self.ctx.frames)} frames to label')

    def pending(self):
        return bool(self.ctx.queue)

    def run_wave(self):
        """Submit up to ``max_concurrent`` single points and wait for them."""
        futures = {}
        for _ in range(min(self.inputs.max_concurrent.value, len(self.ctx.queue))):
            label = self.ctx.queue.pop(0)
            builder = dft_builder(
                self.inputs.dft,
                self.ctx.frames[label],
                'single_point',
                'all',
                fmax=0.05,  # unused by a single point
                kspacing=self.inputs.kpoints_distance_inv_ang.value,
            )
            builder.metadata.call_link_label = f'dft_{label}'
            futures[label] = self.submit(builder)
            self.ctx.runs.append(label)
        return ToContext(**futures)

    def inspect_wave(self):
        failed = [label for label in self.ctx.runs if label in self.ctx and not self.ctx[label].is_finished_ok]
        if failed:
            self.report(f'DFT single points failed so far: {", ".join(failed)}')

    def results(self):
        """The training set of the finished frames; 410 names the failed ones, 420 if none finished."""
        finished = [label for label in self.ctx.runs if self.ctx[label].is_finished_ok]
        failed = [label for label in self.ctx.runs if label not in finished]
        if not finished:
            return self.exit_codes.ERROR_ALL_FAILED
        labelled = {}
        for index, label in enumerate(finished):
            outputs = self.ctx[label].outputs
            labelled[f'structure_{index}'] = self.ctx.frames[label]
            labelled[f'energy_{index}'] = outputs.energy
            labelled[f'forces_{index}'] = outputs.forces
            if 'stress' in outputs:
                labelled[f'stress_{index}'] = outputs.stress
        self.out('training_set', collect_training_set(labels=orm.List(finished), **labelled))
        if failed:
            return self.exit_codes.ERROR_SOME_FAILED.format(count=len(failed), total=len(self.ctx.runs), labels=failed)
        return None
