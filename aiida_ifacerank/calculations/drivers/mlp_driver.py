"""Relax or evaluate many structures with one MACE, SevenNet or CHGNet model, loading it once.

Runs on the remote computer: ``python mlp_driver.py settings.json``, next to ``ifacerank_layers.py`` (a
copy of ``aiida_ifacerank/science/layers.py``, for the frozen layers). Reads ``structures.extxyz``,
appends each finished structure to ``results.extxyz`` and one JSON line to ``results.jsonl``
(flushed, so a job killed at walltime keeps what it finished). Energies in eV, forces in eV/Å.
Exit status 0 when the model loaded (per-structure failures are in results.jsonl), 3 when it did not (the
reason in ``model_error.txt``). A model file whose sha256 differs from ``settings['model_sha256']`` is never
loaded: ``torch.load`` runs the pickled code in it.
"""

import hashlib
import json
import math
import sys
import time
import traceback

import numpy as np


def verify_sha256(path, expected):
    """Raise ``ValueError`` unless the file at ``path`` has the sha256 ``expected`` (hex)."""
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    if digest.hexdigest() != expected:
        raise ValueError(
            f'{path} has sha256 {digest.hexdigest()}, not the {expected} of its model node: the file was changed '
            'after it was stored, so it was not loaded. Store the model again (a new node) or restore the file.'
        )


def load_calculator(settings):
    """ASE calculator of ``settings['engine']`` from a model file (checked against ``settings['model_sha256']``
    when given) or a pretrained-model name."""
    device, model_file, name = settings['device'], settings.get('model_file'), settings.get('foundation_model')
    if model_file and settings.get('model_sha256'):
        verify_sha256(model_file, settings['model_sha256'])
    if settings['engine'] == 'sevennet':
        from sevenn.calculator import SevenNetCalculator  # noqa: PLC0415

        return SevenNetCalculator(model=model_file or name, device=device)
    if settings['engine'] == 'chgnet':
        from chgnet.model import CHGNet, CHGNetCalculator  # noqa: PLC0415

        model = CHGNet.from_file(model_file) if model_file else CHGNet.load(model_name=name, use_device=device)
        return CHGNetCalculator(model=model, use_device=device)
    import mace.calculators  # noqa: PLC0415 - mace before e3nn (sets the torch.load flag)

    dtype = settings['dtype'] or 'float64'
    if name:
        return mace.calculators.mace_mp(model=name, device=device, default_dtype=dtype)
    return mace.calculators.MACECalculator(model_paths=model_file, device=device, default_dtype=dtype)


def optimiser_class(name):
    from ase import optimize  # noqa: PLC0415

    return {'FIRE': optimize.FIRE, 'BFGS': optimize.BFGS, 'LBFGS': optimize.LBFGS}[name]


def frozen_mask(atoms, thickness):
    """Atoms to hold fixed: ``thickness`` (Å) of each frozen region of the interface whose ``atoms_lower`` and
    ``model`` are in ``atoms.info`` (see ``frozen_atoms`` in ``aiida_ifacerank/science/layers.py``)."""
    try:
        from ifacerank_layers import LAYER_KEYS, frozen_atoms  # noqa: PLC0415 - the copy next to this script
    except ImportError:  # imported from the installed package
        from aiida_ifacerank.science.layers import LAYER_KEYS, frozen_atoms  # noqa: PLC0415

    missing = [key for key in LAYER_KEYS if key not in atoms.info]
    if missing:
        raise ValueError(f'frozen_layers_ang needs the interface info {missing} (atoms_lower, model)')
    return frozen_atoms(
        atoms.cell.array, atoms.positions, int(atoms.info['atoms_lower']), atoms.info['model'], thickness
    )


def max_atomic_force(atoms):
    """Largest force norm on an atom (eV/Å); constrained atoms count as zero, as in ASE."""
    forces = atoms.get_forces()
    return float(np.sqrt((forces**2).sum(axis=1)).max()) if len(atoms) else 0.0


class DivergedError(RuntimeError):
    """A relaxation left physics: two atoms collapsed onto each other, or the energy fell without bound."""


def divergence_watch(atoms, settings):
    """Optimiser observer that raises :class:`DivergedError` when two atoms of ``atoms`` come closer than
    ``settings['collapse_factor']`` × the sum of their covalent radii (ASE's), or when the energy per atom falls
    more than ``settings['max_energy_drop_ev_atom']`` (eV/atom) below its value at the start."""
    from ase.data import covalent_radii  # noqa: PLC0415
    from ase.neighborlist import neighbor_list  # noqa: PLC0415

    factor, drop = settings['collapse_factor'], settings['max_energy_drop_ev_atom']
    radii = factor * covalent_radii[atoms.numbers]
    start = atoms.get_potential_energy() / len(atoms)

    def watch():
        if factor > 0:
            first, second, distance = neighbor_list('ijd', atoms, radii)
            if len(distance):
                k = int(np.argmin(distance))
                i, j = int(first[k]), int(second[k])
                raise DivergedError(
                    f'atoms {i} ({atoms[i].symbol}) and {j} ({atoms[j].symbol}) are {distance[k]:.2f} Å apart, under '
                    f'{factor} × the sum of their covalent radii ({radii[i] + radii[j]:.2f} Å)'
                )
        energy = atoms.get_potential_energy() / len(atoms)
        if start - energy > drop:
            raise DivergedError(f'the energy fell {start - energy:.2f} eV/atom below its start (limit {drop} eV/atom)')

    return watch


def failure(error, steps=0, status='failed'):
    """Result record of a structure without an energy: ``status`` and why."""
    return {'status': status, 'energy': None, 'max_force': None, 'steps': steps, 'converged': False, 'error': error}


def evaluate(atoms, calculator, settings):
    """Relax (or single-point) ``atoms`` in place; return the result record."""
    from ase.constraints import FixAtoms  # noqa: PLC0415
    from ase.filters import FrechetCellFilter  # noqa: PLC0415

    if not np.isfinite(atoms.positions).all() or not np.isfinite(atoms.cell.array).all():
        raise ValueError('non-finite positions or cell')
    atoms.calc = calculator
    steps, converged = 0, True
    if settings['task'] == 'relax':
        frozen = settings.get('frozen_layers_ang', 0.0)
        if frozen > 0:
            atoms.set_constraint(FixAtoms(mask=frozen_mask(atoms, frozen)))
        target = atoms
        if settings['cell'] == 'normal':
            target = FrechetCellFilter(atoms, mask=[False, False, True, False, False, False])
        elif settings['cell'] == 'all':
            target = FrechetCellFilter(atoms)
        optimiser = optimiser_class(settings['optimizer'])(target, logfile=None)
        optimiser.attach(divergence_watch(atoms, settings), interval=1)
        fmax, criterion = settings['fmax'], settings['fmax']
        try:
            while True:  # the cell filter measures scaled forces: tighten until the atoms' own forces are below fmax
                converged = bool(optimiser.run(fmax=criterion, steps=settings['max_steps'] - optimiser.nsteps))
                if not converged or max_atomic_force(atoms) <= fmax or optimiser.nsteps >= settings['max_steps']:
                    break
                criterion /= 2
        except DivergedError as exception:  # final: more steps would only go further
            return failure(f'diverged at step {optimiser.nsteps}: {exception}', optimiser.nsteps)
        converged = converged and max_atomic_force(atoms) <= fmax
        steps = optimiser.nsteps
    energy = float(atoms.get_potential_energy())
    forces = atoms.get_forces()
    max_force = max_atomic_force(atoms)
    if not (math.isfinite(energy) and np.isfinite(forces).all()):
        return failure('non-finite energy or forces', steps, status='nan')
    status = 'ok' if converged else 'unconverged'
    return {
        'status': status,
        'energy': energy,
        'max_force': max_force,
        'steps': steps,
        'converged': converged,
        'error': '',
    }


def main(path):
    from ase.io import iread, write  # noqa: PLC0415

    with open(path) as handle:
        settings = json.load(handle)
    if settings.get('threads'):
        import torch  # noqa: PLC0415

        torch.set_num_threads(int(settings['threads']))
    started = time.perf_counter()
    try:
        calculator = load_calculator(settings)
    except Exception:
        with open('model_error.txt', 'w') as handle:
            handle.write(traceback.format_exc())
        return 3
    load_time = time.perf_counter() - started
    with open('results.jsonl', 'a') as log:
        log.write(json.dumps({'event': 'model_loaded', 'time': load_time}) + '\n')
        for index, atoms in enumerate(iread('structures.extxyz', format='extxyz')):
            start = time.perf_counter()
            label = str(atoms.info.get('label', index))  # extxyz reads a numeric label back as a number
            try:
                record = evaluate(atoms, calculator, settings)
            except Exception as exception:  # one broken structure must not stop the batch
                record = failure(f'{type(exception).__name__}: {exception}')
            record.update(index=index, label=label, time=time.perf_counter() - start)
            if record['status'] in ('ok', 'unconverged'):
                atoms.info.update(label=label, index=index, energy=record['energy'])
                atoms.set_constraint()  # the frozen atoms' own forces, and no move_mask in the output
                atoms.arrays['forces'] = atoms.get_forces()
                atoms.calc = None
                write('results.extxyz', atoms, format='extxyz', append=True)
            log.write(json.dumps(record, default=str) + '\n')
            log.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
