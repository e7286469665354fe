"""Two MLP jobs sharing a node: the driver's wall time with numpy's BLAS and OpenMP threads left unbounded
against bounded to ``threads`` (what ``ifacerank.mlp`` exports in the job when ``threads`` > 0).

Each job is the real driver (``mlp_driver.py settings.json`` in its own folder, as on the computer) relaxing the
same Si|Ge cells with the project's MACE (examples/demo), torch on one thread. Both jobs of a round run at once,
as two one-core Slurm jobs on a two-core node do; the rounds run one after the other in this process. ::

    .venv/bin/python benchmarks/bench_threads.py [--cells 12] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ase.build import bulk
from ase.io import write

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiida_ifacerank.calculations.mlp import DEFAULTS, THREAD_VARIABLES  # noqa: E402

DRIVER = ROOT / 'aiida_ifacerank' / 'calculations' / 'drivers' / 'mlp_driver.py'
MODEL = ROOT / 'examples' / 'demo' / 'mace-sige.model'


def cells(count: int) -> list:
    """Rattled 16-atom Si|Ge cells (two cubic diamond cells stacked along c)."""
    frames = []
    for seed in range(count):
        atoms = bulk('Si', 'diamond', 5.53, cubic=True) * (1, 1, 2)
        atoms.symbols[8:] = 'Ge'
        atoms.rattle(0.08, seed=seed)
        frames.append(atoms)
    return frames


def round_of_jobs(frames: list, jobs: int, bounded: bool) -> tuple[float, int]:
    """Wall time (s) of ``jobs`` drivers run at once on ``frames``, and the ionic steps of one of them."""
    settings = {**DEFAULTS, 'optimizer': 'BFGS', 'fmax': 0.05, 'max_steps': 300, 'threads': 1}
    settings['model_file'] = str(MODEL)
    environment = {key: value for key, value in os.environ.items() if key not in THREAD_VARIABLES}
    if bounded:
        environment.update(dict.fromkeys(THREAD_VARIABLES, '1'))
    folders = [Path(tempfile.mkdtemp()) for _ in range(jobs)]
    for folder in folders:
        write(folder / 'structures.extxyz', frames, format='extxyz')
        (folder / 'settings.json').write_text(json.dumps(settings))
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [sys.executable, str(DRIVER), 'settings.json'],
            cwd=folder,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for folder in folders
    ]
    if any(process.wait() for process in processes):
        raise RuntimeError('a driver failed')
    wall = time.perf_counter() - started
    records = [json.loads(line) for line in (folders[0] / 'results.jsonl').read_text().splitlines()]
    steps = sum(record.get('steps', 0) for record in records)
    if sum(record.get('status') == 'ok' for record in records) != len(frames):
        raise RuntimeError(f'not every cell relaxed: {records}')
    return wall, steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--cells', type=int, default=12, help='cells relaxed by each job')
    parser.add_argument('--jobs', type=int, default=2, help='jobs run at once')
    arguments = parser.parse_args()
    frames = cells(arguments.cells)
    result = {}
    for name, bounded in (('unbounded', False), ('bounded', True)):
        wall, steps = round_of_jobs(frames, arguments.jobs, bounded)
        result[name] = {'wall_s': round(wall, 1), 'steps_per_job': steps}
    result['speedup'] = round(result['unbounded']['wall_s'] / result['bounded']['wall_s'], 2)
    result['cores'] = os.cpu_count()
    print(json.dumps(result, indent=1))
    print(
        f'{arguments.jobs} jobs of {arguments.cells} relaxations at once ({steps} steps each): '
        f'{result["unbounded"]["wall_s"]} s with the libraries unbounded, {result["bounded"]["wall_s"]} s bounded '
        f'to one thread: {result["speedup"]}x.'
    )


if __name__ == '__main__':
    main()
