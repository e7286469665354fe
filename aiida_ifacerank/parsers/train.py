"""Parser of ``ifacerank.mlp.train``: the trained model, per-frame errors and train/validation metrics."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pandas as pd
import yaml
from aiida.engine import ExitCode
from aiida.orm import Dict
from aiida.parsers import Parser

from aiida_ifacerank.calculations.train import (
    ERRORS_FILE,
    OPTIONS_FILE,
    log_filenames,
    model_filename,
    split_frames,
)
from aiida_ifacerank.data import PotentialModelData, TableData

COLUMNS = [
    'index',
    'label',
    'split',
    'num_atoms',
    'energy_reference_ev',
    'energy_predicted_ev',
    'energy_error_ev_per_atom',
    'force_rmse_ev_ang',
    'force_max_error_ev_ang',
    'stress_rmse_ev_ang3',
]
"""Columns of the ``errors`` table: ``index`` and ``label`` of the frame in the training set, ``split`` train or
valid, then the driver's record (``drivers/train_errors.py``); stress RMSE NaN without a reference stress."""


def model_elements(model) -> list[str]:
    """Chemical symbols of the elements a MACE model object knows."""
    from ase.data import chemical_symbols  # noqa: PLC0415

    return [chemical_symbols[int(number)] for number in model.atomic_numbers]


def describe_model(model) -> str:
    """Short description of a MACE model object: class, cutoff (Å), interactions, hidden irreps, elements."""
    return (
        f'{type(model).__name__}: r_max {float(model.r_max):g} Å, {int(model.num_interactions)} interactions, '
        f'hidden irreps {model.products[0].linear.irreps_out}, elements {" ".join(model_elements(model))}'
    )


def split_metrics(rows: pd.DataFrame) -> dict:
    """Frames, energy RMSE and MAE per atom (meV/atom), force RMSE over all force components of the split
    (meV/Å) and stress RMSE over the tensor components of the frames that have a stress (meV/Å³, None if none)."""
    energy = rows['energy_error_ev_per_atom'].to_numpy(dtype=float)
    components = 3 * rows['num_atoms'].to_numpy(dtype=float)
    forces = rows['force_rmse_ev_ang'].to_numpy(dtype=float)
    stress = rows['stress_rmse_ev_ang3'].dropna().to_numpy(dtype=float)
    return {
        'frames': len(rows),
        'energy_rmse_mev_per_atom': 1000 * float(np.sqrt(np.mean(energy**2))),
        'energy_mae_mev_per_atom': 1000 * float(np.mean(np.abs(energy))),
        'force_rmse_mev_ang': 1000 * float(np.sqrt(np.sum(components * forces**2) / np.sum(components))),
        'stress_rmse_mev_ang3': 1000 * float(np.sqrt(np.mean(stress**2))) if len(stress) else None,
    }


class MaceTrainParser(Parser):
    """The model from the retrieved file, the errors table from ``errors.json``, metrics from both and the log."""

    def _last_line(self, *names) -> str:
        """Last non-empty line of the first of the retrieved files ``names`` that has one."""
        present = self.retrieved.base.repository.list_object_names()
        for name in names:
            if name in present:
                lines = self.retrieved.base.repository.get_object_content(name).strip().splitlines()
                if lines:
                    return lines[-1]
        return f'nothing in {list(names)}'

    def parse(self, **kwargs):
        options = yaml.safe_load(self.node.base.repository.get_object_content(OPTIONS_FILE))
        log, results = log_filenames(options)
        names = self.retrieved.base.repository.list_object_names()
        filename = model_filename(options)
        if filename not in names:
            return self.exit_codes.ERROR_MODEL_MISSING.format(reason=self._last_line('train.err', log))
        content = self.retrieved.base.repository.get_object_content(filename, mode='rb')
        try:
            import mace.modules  # noqa: F401, PLC0415 - the classes of the pickled model
            import torch  # noqa: PLC0415

            model = torch.load(io.BytesIO(content), map_location='cpu', weights_only=False)
            architecture, elements = describe_model(model), model_elements(model)
        except Exception as exception:
            return self.exit_codes.ERROR_MODEL_LOAD.format(reason=f'{type(exception).__name__}: {exception}')
        self.out(
            'model',
            PotentialModelData(
                io.BytesIO(content), filename=filename, engine='mace', architecture=architecture, elements=elements
            ),
        )

        training_set = self.node.inputs.training_set
        valid = split_frames(training_set.labels, self.node.inputs.validation.get_dict())
        indices = [index for index in range(len(training_set)) if index not in set(valid)] + valid
        try:
            table = pd.DataFrame.from_records(
                json.loads(self.retrieved.base.repository.get_object_content(ERRORS_FILE))
            )
            splits = ['train'] * (len(indices) - len(valid)) + ['valid'] * len(valid)
            if list(table.get('split', [])) != splits:
                raise ValueError(f'{len(table)} records for a split of {len(indices)} frames ({len(valid)} valid)')
            table.insert(0, 'index', indices)
            table.insert(1, 'label', [training_set.labels[index] for index in indices])
            table['stress_rmse_ev_ang3'] = table['stress_rmse_ev_ang3'].astype(float)
            table = table[COLUMNS]
        except (FileNotFoundError, ValueError, KeyError) as exception:
            reason = f'{type(exception).__name__}: {exception}; evaluate.err: {self._last_line("evaluate.err")}'
            return self.exit_codes.ERROR_ERRORS_MISSING.format(reason=reason)
        self.out('errors', TableData(table))
        metrics = {split: split_metrics(table[table['split'] == split]) for split in ('train', 'valid')}
        metrics.update(self._training_log(log, results))
        self.out('metrics', Dict(metrics))
        return ExitCode(0)

    def _training_log(self, log: str, results: str) -> dict:
        """``epochs`` trained (from mace's results file), ``model_epoch`` (the epoch of the saved model: the lowest
        validation loss) and ``mace_version`` (from mace's log); None where a file lacks it."""
        names = self.retrieved.base.repository.list_object_names()
        text = self.retrieved.base.repository.get_object_content(log) if log in names else ''
        version = re.search(r'MACE version: (\S+)', text)
        loaded = re.findall(r'Loaded Stage (?:one|two) model from epoch (\d+)', text)
        epochs = []
        if results in names:
            for line in self.retrieved.base.repository.get_object_content(results).splitlines():
                record = json.loads(line) if line.strip() else {}
                if record.get('mode') == 'opt':
                    epochs.append(int(record['epoch']))
        return {
            'epochs': max(epochs) + 1 if epochs else None,
            'model_epoch': int(loaded[-1]) if loaded else None,
            'mace_version': version.group(1) if version else None,
        }
