"""Parser of ``ifacerank.mlp``: per-structure results from the retrieved driver files only."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
from aiida.engine import ExitCode
from aiida.parsers import Parser
from ase.io import read

from aiida_ifacerank.data import StructureCollectionData, TableData

COLUMNS = ['index', 'label', 'status', 'energy_ev', 'max_force_ev_ang', 'steps', 'converged', 'time_s', 'error']


class MlpParser(Parser):
    """Results table for every input structure (``missing`` if the job ended before it) and the finished structures."""

    def _last_error_line(self, names) -> str:
        """Why a job left no results: the last line of the scheduler's or the driver's stderr. A Slurm line such as
        ``slurmstepd: error: *** JOB 12 ON node CANCELLED AT ... ***`` wins over the shell's ``Terminated`` that
        may follow it."""
        for name in (self.node.get_option('scheduler_stderr'), 'driver.err'):
            if name in names:
                lines = self.retrieved.base.repository.get_object_content(name).strip().splitlines()
                scheduler = [line for line in lines if line.lstrip().startswith('slurmstepd:')]
                if scheduler or lines:
                    return f'{name}: {(scheduler or lines)[-1].strip()}'
        info = self.node.get_last_job_info()
        seen = f'; the scheduler last saw it {info.job_state.value}' if info is not None and info.job_state else ''
        return f'the job wrote no output and no error{seen}'

    def parse(self, **kwargs):
        names = self.retrieved.base.repository.list_object_names()
        if 'model_error.txt' in names:
            lines = self.retrieved.base.repository.get_object_content('model_error.txt').strip().splitlines()
            return self.exit_codes.ERROR_MODEL_LOAD.format(reason=lines[-1] if lines else 'unknown error')
        if 'results.jsonl' not in names:
            return self.exit_codes.ERROR_OUTPUT_MISSING.format(reason=self._last_error_line(names))
        try:
            events = [
                json.loads(line)
                for line in self.retrieved.base.repository.get_object_content('results.jsonl').splitlines()
                if line.strip()
            ]
            records = {event['index']: event for event in events if 'index' in event}
            finished = []
            if 'results.extxyz' in names:
                content = self.retrieved.base.repository.get_object_content('results.extxyz')
                finished = read(io.StringIO(content), index=':', format='extxyz') if content.strip() else []
        except (ValueError, KeyError) as exception:
            return self.exit_codes.ERROR_OUTPUT_CORRUPT.format(reason=str(exception))

        labels = self.node.inputs.structures.labels
        rows = []
        for index, label in enumerate(labels):
            record = records.get(index, {'status': 'missing', 'error': 'job ended before this structure'})
            rows.append(
                {
                    'index': index,
                    'label': label,
                    'status': record['status'],
                    'energy_ev': np.nan if record.get('energy') is None else float(record['energy']),
                    'max_force_ev_ang': np.nan if record.get('max_force') is None else float(record['max_force']),
                    'steps': int(record.get('steps', 0)),
                    'converged': bool(record.get('converged', False)),
                    'time_s': float(record.get('time', np.nan)),
                    'error': record.get('error', ''),
                }
            )
        table = pd.DataFrame(rows, columns=COLUMNS)
        self.out('results', TableData(table))
        if finished:
            self.out(
                'structures',
                StructureCollectionData.from_structures(finished, [str(atoms.info['label']) for atoms in finished]),
            )
        bad = table[table['status'] != 'ok']
        if len(bad) == len(table):
            return self.exit_codes.ERROR_ALL_FAILED.format(reason=f'{bad.iloc[0]["status"]}: {bad.iloc[0]["error"]}')
        if len(bad):
            return self.exit_codes.ERROR_SOME_FAILED.format(count=len(bad), total=len(table))
        return ExitCode(0)
