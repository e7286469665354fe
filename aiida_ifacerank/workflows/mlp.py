"""MLP work chains: ``ifacerank.mlp.base`` restarts ``ifacerank.mlp`` on the unconverged or unfinished
structures only; ``ifacerank.mlp.batch`` splits a large set into jobs sized to the walltime."""

from __future__ import annotations

import pandas as pd
from aiida.engine import BaseRestartWorkChain, ProcessHandlerReport, WorkChain, calcfunction, process_handler, while_
from aiida.orm import Dict, Float, Int, List

from aiida_ifacerank.calculations.mlp import DEFAULTS, OPTIMIZERS, MlpCalculation
from aiida_ifacerank.data import StructureCollectionData, TableData

RETRIED_STATUSES = ('unconverged', 'missing')
"""Statuses worth another job: more steps, or the job ended before the structure. ``failed`` and
``nan`` (broken input, model failure on that structure) are final and keep their reason."""


def own_outputs(process) -> dict:
    """``results`` and ``structures`` of an MLP process, where it has them (passed on as they are)."""
    return {name: process.outputs[name] for name in ('results', 'structures') if name in process.outputs}


def numbered_outputs(processes) -> dict:
    """``results_N`` and ``structures_N`` (N = 1, 2, ...) of finished MLP processes, where they have them."""
    outputs = {}
    for number, process in enumerate(processes, start=1):
        for name in ('results', 'structures'):
            if name in process.outputs:
                outputs[f'{name}_{number}'] = process.outputs[name]
    return outputs


def final_failures(table) -> str | None:
    """Labels (comma-separated) of the structures of a results table whose status is not ``ok``, or None."""
    failed = table[table['status'] != 'ok']['label'].astype(str)
    return ', '.join(failed) if len(failed) else None


@calcfunction
def select_structures(original: StructureCollectionData, labels: List, **relaxed: StructureCollectionData):
    """Collection of the structures named in ``labels``, from the latest relaxed geometry when there is one."""
    latest = {}
    for name in sorted(relaxed, key=lambda key: int(key.rsplit('_', 1)[1])):
        latest.update(zip(relaxed[name].labels, relaxed[name].get_ase(), strict=True))
    latest_or_original = dict(zip(original.labels, original.get_ase(), strict=True)) | latest
    wanted = labels.get_list()
    return StructureCollectionData.from_structures([latest_or_original[label] for label in wanted], wanted)


@calcfunction
def merge_iterations(**outputs):
    """Latest record per structure from ``results_N`` tables and ``structures_N`` collections (N = iteration)."""
    records, atoms, order = {}, {}, None
    for iteration in sorted({int(key.rsplit('_', 1)[1]) for key in outputs}):
        frame = outputs[f'results_{iteration}'].get_dataframe()
        order = order or list(frame['label'])
        records.update((row['label'], row) for row in frame.to_dict('records'))
        if f'structures_{iteration}' in outputs:
            collection = outputs[f'structures_{iteration}']
            atoms.update(zip(collection.labels, collection.get_ase(), strict=True))
    table = pd.DataFrame([records[label] for label in order])
    table['index'] = range(len(table))
    merged = {'results': TableData(table)}
    finished = [label for label in order if label in atoms and records[label]['status'] == 'ok']
    if finished:
        merged['structures'] = StructureCollectionData.from_structures([atoms[label] for label in finished], finished)
    return merged


class MlpBaseWorkChain(BaseRestartWorkChain):
    """Run ``ifacerank.mlp``; rerun only unconverged (more steps, then another optimiser) or unfinished structures."""

    _process_class = MlpCalculation

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.expose_inputs(MlpCalculation, namespace='mlp')
        spec.expose_outputs(MlpCalculation, include=('results', 'structures'))
        spec.outline(
            cls.setup,
            while_(cls.should_run_process)(cls.run_process, cls.inspect_process),
            cls.results,
        )
        spec.exit_code(410, 'ERROR_SOME_STRUCTURES_FINAL', message='Some structures failed for good: {labels}')
        spec.exit_code(420, 'ERROR_NO_RESULTS_TWICE', message='Two jobs in a row left no results; the last: {reason}')

    def setup(self):
        super().setup()
        self.ctx.inputs = self.exposed_inputs(MlpCalculation, 'mlp')
        self.ctx.settings = {
            **DEFAULTS,
            **(self.ctx.inputs['parameters'].get_dict() if 'parameters' in self.ctx.inputs else {}),
        }

    def get_outputs(self, node):
        """Results merged over all iterations: the latest record of every structure. A single job that finished
        well is its own result: its outputs are passed on, not copied."""
        if len(self.ctx.children) == 1 and node.is_finished_ok:
            return own_outputs(node)
        outputs = numbered_outputs(self.ctx.children)
        return merge_iterations(**outputs) if outputs else {}

    def results(self):
        """Attach the merged outputs; fail with the labels of structures that never finished."""
        self.report(f'work chain completed after {self.ctx.iteration} iterations')
        outputs = self._attach_outputs(self.ctx.children[self.ctx.iteration - 1])
        table = outputs['results'].get_dataframe() if 'results' in outputs else pd.DataFrame({'status': []})
        failed = final_failures(table)
        if failed:
            return self.exit_codes.ERROR_SOME_STRUCTURES_FINAL.format(labels=failed)
        return None

    @process_handler(priority=400, exit_codes=[MlpCalculation.exit_codes.ERROR_OUTPUT_MISSING])
    def handle_job_without_results(self, node):
        """A job that left no results (cancelled, its node lost): run the same inputs once more; twice in a row
        is no accident and ends the work chain with the reason."""
        previous = self.ctx.children[-2] if len(self.ctx.children) > 1 else None
        if previous is not None and previous.exit_status == node.exit_status:
            return ProcessHandlerReport(
                do_break=True, exit_code=self.exit_codes.ERROR_NO_RESULTS_TWICE.format(reason=node.exit_message)
            )
        self.report(f'{node.process_label}<{node.pk}> left no results ({node.exit_message}): running it again')
        return ProcessHandlerReport(do_break=True)

    @process_handler(
        priority=500,
        exit_codes=[MlpCalculation.exit_codes.ERROR_SOME_FAILED, MlpCalculation.exit_codes.ERROR_ALL_FAILED],
    )
    def handle_unfinished_structures(self, node):
        """Resubmit only unconverged and unfinished structures: double the steps; new optimiser from the 2nd retry."""
        table = node.outputs.results.get_dataframe() if 'results' in node.outputs else None
        if table is None:
            return None
        retry = table[table['status'].isin(RETRIED_STATUSES)]['label'].astype(str).tolist()
        if not retry:  # done: ``results`` attaches the finished structures and names those failed for good
            self.report(f'{node.process_label}<{node.pk}>: no structure worth retrying; the rest failed for good')
            self.ctx.is_finished = True
            return ProcessHandlerReport(do_break=True)
        relaxed = {
            key: collection
            for key, collection in numbered_outputs(self.ctx.children).items()
            if key.startswith('structures')
        }
        self.ctx.inputs['structures'] = select_structures(self.inputs.mlp.structures, List(retry), **relaxed)
        settings = dict(self.ctx.settings)
        settings['max_steps'] = int(settings['max_steps']) * 2
        if self.ctx.iteration >= 2:
            settings['optimizer'] = OPTIMIZERS[(OPTIMIZERS.index(settings['optimizer']) + 1) % len(OPTIMIZERS)]
        self.ctx.settings = settings
        self.ctx.inputs['parameters'] = Dict(settings)
        self.report(
            f'retrying {len(retry)} structure(s) with max_steps {settings["max_steps"]}, {settings["optimizer"]}'
        )
        return ProcessHandlerReport(do_break=True)


@calcfunction
def split_structures(structures: StructureCollectionData, size: Int) -> dict:
    """Consecutive batches of at most ``size`` structures, as ``batch_NNNN`` collections."""
    atoms, labels = structures.get_ase(), structures.labels
    chunk = size.value
    return {
        f'batch_{start // chunk:04d}': StructureCollectionData.from_structures(
            atoms[start : start + chunk], labels[start : start + chunk]
        )
        for start in range(0, len(atoms), chunk)
    }


def batch_size(walltime_s: int, seconds_per_structure: float, startup_s: float = 30.0, margin: float = 0.8) -> int:
    """Structures per job so that start-up plus the batch fits in ``margin`` of the walltime (s)."""
    usable = margin * walltime_s - startup_s
    if usable < seconds_per_structure:
        raise ValueError(
            f'a walltime of {walltime_s} s cannot hold even one structure at {seconds_per_structure} s each: '
            'raise metadata.options.max_wallclock_seconds or lower seconds_per_structure.'
        )
    return int(usable // seconds_per_structure)


class MlpBatchWorkChain(WorkChain):
    """Split a large set into jobs sized to the walltime, run them in parallel (each with restarts), merge."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.expose_inputs(MlpBaseWorkChain, exclude=('mlp.structures',))
        spec.input('structures', valid_type=StructureCollectionData, help='All structures to relax or evaluate.')
        spec.input('seconds_per_structure', valid_type=Float, help='Expected time per structure on one job (s).')
        spec.outline(cls.split, cls.run_batches, cls.merge)
        spec.output('results', valid_type=TableData)
        spec.output('structures', valid_type=StructureCollectionData, required=False)
        spec.exit_code(410, 'ERROR_SOME_STRUCTURES_FINAL', message='Some structures failed for good: {labels}')
        spec.exit_code(420, 'ERROR_BATCH_WITHOUT_RESULTS', message='Batches left no results: {batches}')

    def split(self):
        """Batches sized to the walltime; a set that fits one job is that job's input as it is."""
        walltime = self.inputs.mlp.metadata.options.get('max_wallclock_seconds') or 24 * 3600
        size = batch_size(walltime, self.inputs.seconds_per_structure.value)
        structures = self.inputs.structures
        one = len(structures) <= size
        self.ctx.batches = {'batch_0000': structures} if one else split_structures(structures, Int(size))
        self.report(f'{len(structures)} structures in {len(self.ctx.batches)} job(s) of <= {size}')

    def run_batches(self):
        for name, batch in sorted(self.ctx.batches.items()):
            inputs = self.exposed_inputs(MlpBaseWorkChain)
            inputs['mlp'] = {**inputs['mlp'], 'structures': batch}
            self.to_context(**{name: self.submit(MlpBaseWorkChain, **inputs)})

    def merge(self):
        """The batches' results in input order (one batch: its own outputs); a batch without results ends the work
        chain with 420 after the others' are attached."""
        batches = [self.ctx[name] for name in sorted(self.ctx.batches)]
        outputs = numbered_outputs(batches)
        if len(batches) == 1:
            merged = own_outputs(batches[0])
        else:
            merged = concatenate_batches(**outputs) if outputs else {}
        self.out_many(merged)
        empty = [
            f'{batch.process_label}<{batch.pk}>: {batch.exit_message}'
            for batch in batches
            if 'results' not in batch.outputs
        ]
        if empty:
            return self.exit_codes.ERROR_BATCH_WITHOUT_RESULTS.format(batches='; '.join(empty))
        table = merged['results'].get_dataframe()
        failed = final_failures(table)
        if failed:
            return self.exit_codes.ERROR_SOME_STRUCTURES_FINAL.format(labels=failed)
        return None


@calcfunction
def concatenate_batches(**outputs):
    """One results table and one collection from the ``results_N`` / ``structures_N`` of N batches, in order."""
    numbers = sorted({int(key.rsplit('_', 1)[1]) for key in outputs})
    table = pd.concat([outputs[f'results_{n}'].get_dataframe() for n in numbers if f'results_{n}' in outputs])
    table['index'] = range(len(table))
    merged = {'results': TableData(table.reset_index(drop=True))}
    atoms, labels = [], []
    for n in numbers:
        if f'structures_{n}' in outputs:
            atoms += outputs[f'structures_{n}'].get_ase()
            labels += outputs[f'structures_{n}'].labels
    if atoms:
        merged['structures'] = StructureCollectionData.from_structures(atoms, labels)
    return merged
