"""``ifacerank.mace.base``: restart ``ifacerank.mace`` on the unconverged or unfinished structures only."""

from __future__ import annotations

import pandas as pd
from aiida.engine import BaseRestartWorkChain, ProcessHandlerReport, calcfunction, process_handler, while_
from aiida.orm import Dict, List

from aiida_ifacerank.calculations.mlp import DEFAULTS, MlpCalculation
from aiida_ifacerank.data import StructureCollectionData, TableData

RETRIED_STATUSES = ('unconverged', 'missing')
"""Statuses worth another job: more steps, or the job ended before the structure. ``failed`` and
``nan`` (broken input, model failure on that structure) are final and keep their reason."""
OPTIMISERS = ('FIRE', 'BFGS', 'LBFGS')


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
    """Run ``ifacerank.mace``; rerun only unconverged (more steps, then another optimiser) or unfinished structures."""

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

    def setup(self):
        super().setup()
        self.ctx.inputs = self.exposed_inputs(MlpCalculation, 'mlp')
        self.ctx.settings = {
            **DEFAULTS,
            **(self.ctx.inputs['parameters'].get_dict() if 'parameters' in self.ctx.inputs else {}),
        }

    def get_outputs(self, node):
        """Results merged over all iterations: the latest record of every structure."""
        outputs = {}
        for iteration, child in enumerate(self.ctx.children, start=1):
            if 'results' in child.outputs:
                outputs[f'results_{iteration}'] = child.outputs.results
            if 'structures' in child.outputs:
                outputs[f'structures_{iteration}'] = child.outputs.structures
        return merge_iterations(**outputs) if outputs else {}

    def results(self):
        """Attach the merged outputs; fail with the labels of structures that never finished."""
        self.report(f'work chain completed after {self.ctx.iteration} iterations')
        outputs = self._attach_outputs(self.ctx.children[self.ctx.iteration - 1])
        table = outputs['results'].get_dataframe() if 'results' in outputs else pd.DataFrame({'status': []})
        final = table[table['status'] != 'ok']
        if len(final):
            return self.exit_codes.ERROR_SOME_STRUCTURES_FINAL.format(labels=', '.join(final['label'].astype(str)))
        return None

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
        if not retry:
            self.report(f'{node.process_label}<{node.pk}>: no structure worth retrying; the rest failed for good')
            return ProcessHandlerReport(
                do_break=True,
                exit_code=self.exit_codes.ERROR_SOME_STRUCTURES_FINAL.format(
                    labels=', '.join(table[table['status'] != 'ok']['label'].astype(str))
                ),
            )
        relaxed = {
            f'structures_{i}': child.outputs.structures
            for i, child in enumerate(self.ctx.children, start=1)
            if 'structures' in child.outputs
        }
        self.ctx.inputs['structures'] = select_structures(self.inputs.mlp.structures, List(retry), **relaxed)
        settings = dict(self.ctx.settings)
        settings['max_steps'] = int(settings['max_steps']) * 2
        if self.ctx.iteration >= 2:
            settings['optimizer'] = OPTIMISERS[(OPTIMISERS.index(settings['optimizer']) + 1) % len(OPTIMISERS)]
        self.ctx.settings = settings
        self.ctx.inputs['parameters'] = Dict(settings)
        self.report(
            f'retrying {len(retry)} structure(s) with max_steps {settings["max_steps"]}, {settings["optimizer"]}'
        )
        return ProcessHandlerReport(do_break=True)
