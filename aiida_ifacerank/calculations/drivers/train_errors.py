"""Errors of a trained MACE model on each frame of its training and validation files.

Runs on the remote computer after mace_run_train: ``python train_errors.py MODEL DEVICE``. Reads ``train.xyz``
then ``valid.xyz`` (reference energy ``REF_energy`` in eV, forces ``REF_forces`` in eV/Å, optional stress
``REF_stress`` in eV/Å³, Voigt order, ASE sign), evaluates each frame with ``MACECalculator`` in float64 and writes
``errors.json``: one record per frame in file order (:func:`frame_errors`). Exit status 3 when the model does not
load (traceback on stderr).
"""

import json
import sys
import traceback

import numpy as np

SPLITS = (('train', 'train.xyz'), ('valid', 'valid.xyz'))


def stress_tensor(voigt):
    """3 × 3 tensor of a Voigt stress (xx yy zz yz xz xy)."""
    xx, yy, zz, yz, xz, xy = np.asarray(voigt, dtype=float).reshape(6)
    return np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])


def frame_errors(atoms, calculator):
    """Reference and predicted energy (eV), energy error per atom (eV/atom, predicted − reference), force RMSE over
    all components and largest error-vector norm on an atom (eV/Å), stress RMSE over the 3 × 3 tensor (eV/Å³, None
    without a reference stress) of one frame."""
    reference_forces = np.asarray(atoms.arrays['REF_forces'], dtype=float)
    reference_stress = atoms.info.get('REF_stress')
    atoms.calc = calculator
    energy = float(atoms.get_potential_energy())
    reference = float(atoms.info['REF_energy'])
    delta = atoms.get_forces() - reference_forces
    stress_rmse = None
    if reference_stress is not None:
        difference = stress_tensor(atoms.get_stress()) - stress_tensor(reference_stress)
        stress_rmse = float(np.sqrt(np.mean(difference**2)))
    return {
        'num_atoms': len(atoms),
        'energy_reference_ev': reference,
        'energy_predicted_ev': energy,
        'energy_error_ev_per_atom': (energy - reference) / len(atoms),
        'force_rmse_ev_ang': float(np.sqrt(np.mean(delta**2))),
        'force_max_error_ev_ang': float(np.linalg.norm(delta, axis=1).max()),
        'stress_rmse_ev_ang3': stress_rmse,
    }


def main(model_file, device):
    from ase.io import read  # noqa: PLC0415

    try:
        import mace.calculators  # noqa: PLC0415 - mace before e3nn (sets the torch.load flag)

        calculator = mace.calculators.MACECalculator(model_paths=model_file, device=device, default_dtype='float64')
    except Exception:
        traceback.print_exc()
        return 3
    records = []
    for split, filename in SPLITS:
        for atoms in read(filename, index=':', format='extxyz'):
            records.append({'split': split, **frame_errors(atoms, calculator)})
    with open('errors.json', 'w') as handle:
        json.dump(records, handle, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main(*sys.argv[1:]))
