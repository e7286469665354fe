"""Make ``examples/sige_results.csv``: a small four-mode results table from real calculations.

The reference method in the DFT role is the Tersoff (1989) Si-Ge potential (matscipy), the MLP a
tiny MACE model trained here on Tersoff energies and forces of bulk cells and of (001) interface
cells only, so (110) is outside its training domain. Every number in the output comes from these
calculations, made outside AiiDA; the test suite's analysis tests and the demo read the file.

Cells: periodic two-interface Si|Si, Ge|Ge, Si|Ge and Ge|Si for (001) and (110), upper slab
strained onto the lower slab's in-plane lattice (experimental a: Si 5.431 Å, Ge 5.658 Å), stacking
shifts on a 3×3 grid without the zero shift; cells with atoms closer than 1.8 Å are dropped.
Relaxation: FIRE, fmax 0.01 eV/Å, at most 400 steps (a relaxation that does not converge is
recorded as failed, exit status 1), positions and the length normal to the interface relaxed,
in-plane lattice fixed. X@Y = relaxed with X, energy from Y; bulk references μ with the same
X@Y treatment of relaxed bulk cells.

Run: ``.venv/bin/python examples/make_sige_results.py`` (about 10 min on 2 cores).
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from pathlib import Path

import ase.io
import mace.calculators
import numpy as np
import pandas as pd
from ase.build import bulk, surface
from ase.filters import FrechetCellFilter
from ase.optimize import FIRE

from aiida_ifacerank.science.energetics import formation_energy
from aiida_ifacerank.science.lattice import interface_area

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))  # the Tersoff potential of the tests
from tests.models import tersoff_sige  # noqa: E402

WORK = HERE / 'work'
LATTICE = {'Si': 5.431, 'Ge': 5.658}
LAYERS = {(0, 0, 1): 2, (1, 1, 0): 2}
FMAX, MAX_STEPS, MIN_DISTANCE = 0.01, 400, 1.8
EXIT_NOT_CONVERGED = 1


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


def build_cells() -> tuple[list[tuple[dict, object]], int]:
    """Periodic two-interface cells with their metadata, and how many were dropped for close atoms."""
    cells, dropped = [], 0
    for miller, (lower, upper) in itertools.product(LAYERS, itertools.product(LATTICE, repeat=2)):
        slab_lower = surface(bulk(lower, 'diamond', LATTICE[lower], cubic=True), miller, LAYERS[miller], periodic=True)
        slab_upper = surface(bulk(upper, 'diamond', LATTICE[upper], cubic=True), miller, LAYERS[miller], periodic=True)
        slab_upper.set_cell(np.vstack([slab_lower.cell[:2], slab_upper.cell[2]]), scale_atoms=True)
        for i, j in itertools.product(range(3), repeat=2):
            if (i, j) == (0, 0):
                continue
            top = slab_upper.copy()
            top.translate(slab_lower.cell[2] + (i * slab_lower.cell[0] + j * slab_lower.cell[1]) / 3)
            cell = slab_lower + top
            cell.set_cell(np.vstack([slab_lower.cell[:2], slab_lower.cell[2] + slab_upper.cell[2]]))
            cell.wrap()
            distances = cell.get_all_distances(mic=True)[np.triu_indices(len(cell), 1)]
            hkl = ''.join(map(str, miller))
            meta = {'interface': f'{lower}|{upper}_{hkl}_s{i}{j}', 'lower': lower, 'upper': upper}
            meta.update({'miller_lower': hkl, 'miller_upper': hkl, 'shift': f'{i}/3,{j}/3'})
            if distances.min() < MIN_DISTANCE:
                print(f'dropped {meta["interface"]}: atoms {distances.min():.2f} Å apart')
                dropped += 1
                continue
            cells.append((meta, cell))
    return cells, dropped


def relax(atoms, calculator, cell_mask=(False, False, True, False, False, False)):
    """Relax positions and the masked cell strains in place; return (converged, steps)."""
    atoms.calc = calculator
    optimiser = FIRE(FrechetCellFilter(atoms, mask=list(cell_mask)), logfile=None)
    converged = optimiser.run(fmax=FMAX, steps=MAX_STEPS)
    return bool(converged), optimiser.nsteps


def training_set(cells, calculator, rng) -> list:
    """Rattled/strained bulk Si, Ge, SiGe and rattled (001) interface cells labelled with ``calculator``."""
    configs = []
    for symbols, a in ((['Si'] * 8, LATTICE['Si']), (['Ge'] * 8, LATTICE['Ge']), (['Si', 'Ge'] * 4, 5.54)):
        for _ in range(20):
            atoms = bulk('Si', 'diamond', a, cubic=True)
            atoms.set_chemical_symbols(rng.permutation(symbols))
            atoms.set_cell(atoms.cell * rng.uniform(0.97, 1.03), scale_atoms=True)
            atoms.rattle(0.08, seed=int(rng.integers(1 << 30)))
            configs.append(atoms)
    interfaces_001 = [cell for meta, cell in cells if meta['miller_lower'] == '001']
    for index in rng.choice(len(interfaces_001), size=min(24, len(interfaces_001)), replace=False):
        atoms = interfaces_001[index].copy()
        atoms.rattle(0.08, seed=int(rng.integers(1 << 30)))
        configs.append(atoms)
    for atoms in configs:
        atoms.calc = calculator
        atoms.info['ref_energy'] = atoms.get_potential_energy()
        atoms.arrays['ref_forces'] = atoms.get_forces()
        atoms.calc = None
    return configs


def main() -> None:
    started = time.perf_counter()
    rng = np.random.default_rng(7)
    WORK.mkdir(exist_ok=True)
    tersoff = tersoff_sige()
    cells, dropped = build_cells()
    ase.io.write(WORK / 'train.xyz', training_set(cells, tersoff, rng))
    model = train_tiny_mace(WORK / 'train.xyz', WORK, epochs=300)
    mlp = mace.calculators.MACECalculator(model_paths=str(model), device='cpu', default_dtype='float64')
    methods = {'DFT': tersoff, 'MLP': mlp}

    mu = {}
    for relaxed_with, element in itertools.product(methods, LATTICE):
        atoms = bulk(element, 'diamond', LATTICE[element], cubic=True)
        relax(atoms, methods[relaxed_with], cell_mask=(True, True, True, False, False, False))
        for evaluated_with, calculator in methods.items():
            atoms.calc = calculator
            mu[(relaxed_with, evaluated_with, element)] = atoms.get_potential_energy() / len(atoms)

    rows = []
    for meta, cell in cells:
        row = dict(meta, area_ang2=interface_area(cell.cell), atoms=len(cell))
        for relaxed_with, calculator in methods.items():
            atoms = cell.copy()
            converged, steps = relax(atoms, calculator)
            for evaluated_with, evaluator in methods.items():
                mode = f'{relaxed_with}@{evaluated_with}'
                atoms.calc = evaluator
                counts = {element: atoms.get_chemical_symbols().count(element) for element in set(atoms.symbols)}
                potentials = {element: mu[(relaxed_with, evaluated_with, element)] for element in counts}
                row[f'energy_{mode}'] = formation_energy(
                    atoms.get_potential_energy(), counts, potentials, row['area_ang2']
                )
                row[f'exit_status_{mode}'] = 0 if converged else EXIT_NOT_CONVERGED
                row[f'failure_{mode}'] = (
                    '' if converged else f'{relaxed_with} relaxation not converged in {steps} steps'
                )
        rows.append(row)
        print(row['interface'], {k: f'{v:.4f}' for k, v in row.items() if k.startswith('energy_')})

    header = (__doc__.split('Run:')[0]).strip().splitlines()
    header += ['mu (eV/atom, relaxed@evaluated): ' + ', '.join(f'{r}@{e} {el} {v:.5f}' for (r, e, el), v in mu.items())]
    header += [f'{len(cells)} cells relaxed, {dropped} generated cells dropped (atoms closer than {MIN_DISTANCE} Å).']
    header += ['Energies: interface formation energy E_f = (E_cell - sum n_i mu_i)/(2A) in eV/Å^2.']
    header += [f'Made in {time.perf_counter() - started:.0f} s by examples/make_sige_results.py.']
    output = HERE / 'sige_results.csv'
    with output.open('w') as handle:
        handle.write(''.join(f'# {line}\n' for line in header))
        pd.DataFrame(rows).to_csv(handle, index=False, float_format='%.8g')
    print(f'wrote {output} ({len(rows)} interfaces)')


if __name__ == '__main__':
    main()
