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


def build_random_mace(path, atomic_numbers=(14, 32), atomic_energies=(-4.6, -3.9), seed: int = 0) -> Path:
    """Save a tiny MACE model with random weights (seconds; for plumbing tests, not physics).

    ``atomic_energies`` (eV) per element of ``atomic_numbers``; ZBL pair repulsion keeps atoms apart.
    """
    import mace.modules  # noqa: PLC0415 - mace before e3nn
    import numpy as np  # noqa: PLC0415
    import torch  # noqa: PLC0415
    from e3nn import o3  # noqa: PLC0415

    torch.manual_seed(seed)
    interaction = mace.modules.interaction_classes['RealAgnosticResidualInteractionBlock']
    model = mace.modules.ScaleShiftMACE(
        r_max=4.5,
        num_bessel=6,
        num_polynomial_cutoff=5,
        max_ell=2,
        interaction_cls=interaction,
        interaction_cls_first=interaction,
        num_interactions=2,
        num_elements=len(atomic_numbers),
        hidden_irreps=o3.Irreps('8x0e + 8x1o'),
        MLP_irreps=o3.Irreps('8x0e'),
        atomic_energies=np.asarray(atomic_energies, dtype=float),
        avg_num_neighbors=8.0,
        atomic_numbers=list(atomic_numbers),
        correlation=2,
        gate=torch.nn.functional.silu,
        pair_repulsion=True,
        atomic_inter_scale=0.1,
        atomic_inter_shift=0.0,
    ).to(torch.float64)
    path = Path(path)
    torch.save(model, path)
    return path
