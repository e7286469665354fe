"""Small MACE models trained here, for tests and the offline demo (MACE-MP-0 needs a download)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TINY_MACE_ARGUMENTS = {
    'model': 'MACE',
    'num_channels': 16,
    'max_L': 0,
    'correlation': 2,
    'num_interactions': 2,
    'r_max': 4.5,
    'num_radial_basis': 6,
    'batch_size': 8,
    'lr': 0.01,
    'E0s': 'average',
    'energy_key': 'ref_energy',
    'forces_key': 'ref_forces',
    'loss': 'weighted',
    'energy_weight': 10.0,
    'forces_weight': 10.0,
    'default_dtype': 'float64',
    'device': 'cpu',
    'valid_fraction': 0.1,
    'scaling': 'rms_forces_scaling',
}
"""``mace_run_train`` settings of the tiny model (about 30 k parameters, minutes on 2 CPU cores)."""


def train_tiny_mace(train_xyz, work_dir, name: str = 'tiny', epochs: int = 60, seed: int = 1, **overrides) -> Path:
    """Train a tiny MACE model with ``mace_run_train`` on ``train_xyz`` (extended XYZ with
    ``ref_energy`` in eV and ``ref_forces`` in eV/Å) and return the path of the saved model file."""
    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    arguments = {**TINY_MACE_ARGUMENTS, **overrides}
    command = [str(Path(sys.executable).with_name('mace_run_train')), f'--name={name}', f'--seed={seed}']
    command += [f'--train_file={Path(train_xyz).resolve()}', f'--work_dir={work_dir}', f'--max_num_epochs={epochs}']
    command += [f'--{key}={value}' for key, value in arguments.items()]
    log = work_dir / f'{name}.train.log'
    with log.open('w') as handle:
        result = subprocess.run(command, check=False, cwd=work_dir, stdout=handle, stderr=subprocess.STDOUT)
    model = work_dir / f'{name}.model'
    if result.returncode != 0 or not model.exists():
        raise RuntimeError(f'mace_run_train failed (exit {result.returncode}); see {log}.')
    return model
