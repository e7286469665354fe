"""Batched MLP jobs against one-structure jobs and a bare in-process ASE loop, on this machine.

64 Si|Ge cells of 64 atoms (diamond 2x2x2 supercell, upper half Ge, rattled 0.1 Å), the same
random-weight tiny MACE model, FIRE to fmax 0.01 eV/Å (at most 200 steps), the length normal to
the interface relaxed. (a) one ``ifacerank.mlp`` job with all 64, (b) 64 one-structure jobs run
one after the other, (c) the driver's relaxation routine in a plain loop in this process (model
loaded once, no AiiDA). The speed of this 2-core machine drifts by 10-20 % over minutes, so (a) and
(c) alternate, c a c a ... c, and each (a) is compared with the mean of the (c) runs on either side.
Goals: (a)/(c) <= 1.15 and (b)/(a) >= 3.

Run: ``.venv/bin/python benchmarks/bench_mlp.py [--repeats 2] [--threads N]`` (about 30 min; uses
the profile that bin/demo makes). ``--repeats`` is the number of (a) runs; ``--threads`` sets
torch's intra-op threads in the jobs and in this process alike (0: torch's default).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault('AIIDA_PATH', str(Path(__file__).resolve().parents[1] / '.aiida'))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.models: the random MACE model of the tests

import mace.calculators
import torch
from aiida import load_profile
from ase.build import bulk

from aiida_ifacerank.calculations.drivers.mlp_driver import evaluate
from aiida_ifacerank.calculations.mlp import DEFAULTS
from tests.models import build_random_mace

SETTINGS = {'task': 'relax', 'optimizer': 'FIRE', 'fmax': 0.01, 'max_steps': 200}


def cells(count: int = 64) -> list:
    structures = []
    for seed in range(count):
        atoms = bulk('Si', 'diamond', 5.5, cubic=True) * (2, 2, 2)
        atoms.symbols[atoms.positions[:, 2] >= atoms.cell[2, 2] / 2] = 'Ge'
        atoms.rattle(0.1, seed=seed)
        structures.append(atoms)
    return structures


def in_process(model: Path, structures: list) -> tuple[float, int]:
    """The driver's own relaxation routine in this process: the same steps, none of the job machinery.

    Returns the wall time (s) and the total number of optimiser steps.
    """
    start = time.perf_counter()
    calculator = mace.calculators.MACECalculator(model_paths=str(model), device='cpu', default_dtype='float64')
    settings = {**DEFAULTS, **SETTINGS}
    steps = sum(evaluate(structure.copy(), calculator, settings)['steps'] for structure in structures)
    return time.perf_counter() - start, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=2, help='number of (a) runs, each between two (c) runs')
    parser.add_argument('--threads', type=int, default=0, help='torch intra-op threads (0: default)')
    arguments = parser.parse_args()
    threads = arguments.threads
    if threads:
        torch.set_num_threads(threads)
    settings = {**SETTINGS, 'threads': threads}
    load_profile()
    from aiida.engine import run_get_node  # noqa: PLC0415
    from aiida.orm import Computer, Dict, InstalledCode  # noqa: PLC0415

    from aiida_ifacerank.calculations.mlp import MlpCalculation  # noqa: PLC0415
    from aiida_ifacerank.data import PotentialModelData, StructureCollectionData  # noqa: PLC0415

    collection = StructureCollectionData.from_structures(cells())
    structures = collection.get_ase()  # what the jobs read: positions as written to extended XYZ
    with tempfile.TemporaryDirectory() as directory:
        model_file = build_random_mace(Path(directory) / 'random.model')
        model = PotentialModelData.get_or_create(model_file)
        # This machine is both the computer and the AiiDA runner: the scheduler polls (1 s) run without a
        # login shell, which otherwise costs ~0.1 s of CPU each and slows the 2-thread job by 10-20 %.
        computer = Computer(
            label=f'localhost-bench-{time.time_ns()}',
            hostname='localhost',
            transport_type='core.local',
            scheduler_type='core.direct',
            workdir=str(Path(directory) / 'scratch'),
        ).store()
        computer.configure(safe_interval=0, use_login_shell=False)
        computer.set_minimum_job_poll_interval(1)
        code = InstalledCode(label='python', computer=computer, filepath_executable=sys.executable).store()

        def job(batch):
            collection = StructureCollectionData.from_structures(batch)
            _, node = run_get_node(
                MlpCalculation, code=code, structures=collection, model=model, parameters=Dict(settings)
            )
            assert node.exit_status in (0, MlpCalculation.exit_codes.ERROR_SOME_FAILED.status), node.exit_message
            table = node.outputs.results.get_dataframe()
            return int(table['converged'].sum()), int(table['steps'].sum())

        bare_times, batched_times = [], []
        for _ in range(arguments.repeats):
            bare_time, bare_steps = in_process(model_file, structures)
            bare_times.append(bare_time)
            start = time.perf_counter()
            converged, job_steps = job(structures)
            batched_times.append(time.perf_counter() - start)
        bare_times.append(in_process(model_file, structures)[0])
        start = time.perf_counter()
        for structure in structures:
            job([structure])
        single = time.perf_counter() - start
    ratios = [a / ((bare_times[i] + bare_times[i + 1]) / 2) for i, a in enumerate(batched_times)]
    batched, bare = statistics.mean(batched_times), statistics.mean(bare_times)
    print(f'torch threads: {torch.get_num_threads()} (jobs and this process)')
    order = [f'(c) {bare_times[i]:.1f} s, (a) {a:.1f} s' for i, a in enumerate(batched_times)]
    print(f'run order: {", ".join(order)}, (c) {bare_times[-1]:.1f} s')
    print(f'(a) one batched job, 64 structures : {batched:8.1f} s mean ({converged} converged, {job_steps} steps)')
    print(f'(b) 64 one-structure jobs          : {single:8.1f} s')
    print(f'(c) bare in-process ASE loop       : {bare:8.1f} s mean ({bare_steps} steps)')
    print('(a)/(c) of each (a) against the (c) runs either side: ' + ', '.join(f'{r:.3f}' for r in ratios))
    print(f'(a)/(c) = {batched / bare:.3f} (goal <= 1.15)   (b)/(a) = {single / batched:.2f} (goal >= 3)')


if __name__ == '__main__':
    main()
