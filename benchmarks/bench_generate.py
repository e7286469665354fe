"""Si|Ge interface generation, pymatgen path against ARTEMIS on the same limits, side by side.

For Miller index <= 1 and <= 2: counts of raw matches -> unique matches -> termination pairs ->
candidates and the wall time. pymatgen path: ``aiida_ifacerank.science.generation.generate``
(ZSL, max area 100 Å², length strain 5 %, angle 1 %, 2 + 2 layers, default model ``tilted``, gap
from the crystals, 6x6 shift grid with the zero shift). ARTEMIS:
the executable built by ``bin/build-artemis`` with the CalcJob's param.in (LW_USE_PRICEL and
UP_USE_PRICEL F: ARTEMIS works on the cells it is given), run on the primitive cells of the same
crystals (on the conventional cubic cells, TOL_MAXSIZE 3 ran over 120 s on (001)|(001) alone),
TOL_MAXSIZE 3, TOL_VEC 5 %, TOL_ANG 1°, TOL_AREA 10 %, NMILLER = the number of distinct planes pymatgen searches, 2 + 2
layers, NTERM 5, ISHIFT 1 (random shifts; with ISHIFT 4 or 2 ARTEMIS 2.0.0.dev3 stops on these
cells after 200-260 s with 'More neighbours found in slab than in bulk' or 'No shifts found'),
NSHIFT 36 (as many shifts per termination pair as our grid samples), CLOCK 1.
ARTEMIS reports only what it keeps, so its raw match count is not available.

Run: ``.venv/bin/python benchmarks/bench_generate.py``
"""

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ase.io import write
from pymatgen.core import Lattice, Structure
from pymatgen.core.surface import get_symmetrically_distinct_miller_indices
from pymatgen.io.ase import AseAtomsAdaptor

from aiida_ifacerank.calculations.artemis import write_input
from aiida_ifacerank.parsers.artemis import read_match
from aiida_ifacerank.science.generation import GenerationParameters, generate

ARTEMIS = Path(sys.executable).with_name('artemis')


def bulk(element: str, a: float) -> Structure:
    return Structure.from_spacegroup('Fd-3m', Lattice.cubic(a), [element], [[0, 0, 0]])


def run_pymatgen(lower, upper, max_miller: int) -> dict:
    start = time.perf_counter()
    result = generate(lower, upper, GenerationParameters(max_miller=(max_miller, max_miller), max_area=100))
    counts = result.counts
    return {
        'raw matches': counts['raw_matches'],
        'unique matches': counts['unique_matches'],
        'termination pairs': f'{counts["raw_terminations"]} -> {counts["unique_terminations"]}',
        'shifts sampled': counts['shifts_sampled'],
        'candidates': counts['candidates'],
        'time s': time.perf_counter() - start,
    }


def run_artemis(lower, upper, max_miller: int) -> dict:
    planes = len(get_symmetrically_distinct_miller_indices(lower, max_miller))
    parameters = {
        'NMILLER': planes,
        'NMATCH': 20,
        'NINTF': 1000,
        'TOL_VEC': 5.0,
        'TOL_ANG': 1.0,
        'TOL_AREA': 10.0,
        'TOL_MAXSIZE': 3,
        'LW_NUM_LAYERS': 2,
        'UP_NUM_LAYERS': 2,
        'NTERM': 5,
        'ISHIFT': 1,
        'NSHIFT': 36,
        'C_SCALE': 1.0,
        'CLOCK': 1,
    }
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        for bulk_cell, name in ((lower, 'POSCAR_lower'), (upper, 'POSCAR_upper')):
            structure = bulk_cell.get_primitive_structure()
            # ASE's POSCAR, as the CalcJob writes it (ARTEMIS hangs on pymatgen's per-site labels)
            write(folder / name, AseAtomsAdaptor.get_atoms(structure), format='vasp', direct=True, sort=True)
        (folder / 'param.in').write_text(write_input(parameters, 'POSCAR_lower', 'POSCAR_upper'))
        start = time.perf_counter()
        finished = subprocess.run(
            [str(ARTEMIS), '-f', 'param.in'], check=False, cwd=folder, capture_output=True, text=True
        )
        elapsed = time.perf_counter() - start
        errors = re.findall(r'ERROR:\s*(.*(?:\n\s+\S.*)?)', finished.stdout + finished.stderr)
        match_folders = sorted(path for path in (folder / 'DINTERFACES').iterdir() if path.is_dir())
        lattice_matches = {read_match(path / 'struc_data.txt')['lattice_match'] for path in match_folders}
        candidates = sum(1 for _ in (folder / 'DINTERFACES').glob('*/DSHIFT/*/POSCAR'))
    return {
        'raw matches': 'n/a',
        'unique matches': len(lattice_matches),
        'termination pairs': len(match_folders),
        'shifts sampled': 'n/a',
        'candidates': candidates,
        'time s': elapsed,
        'error': ' '.join(errors[0].split()) if errors else None,
    }


def main() -> None:
    lower, upper = bulk('Si', 5.431), bulk('Ge', 5.658)
    columns = ['raw matches', 'unique matches', 'termination pairs', 'shifts sampled', 'candidates', 'time s']
    print(f'{"Miller <=":>9} {"backend":>8} ' + ' '.join(f'{c:>17}' for c in columns))
    for max_miller in (1, 2):
        rows = {'pymatgen': run_pymatgen(lower, upper, max_miller), 'ARTEMIS': run_artemis(lower, upper, max_miller)}
        for backend, row in rows.items():
            cells = [f'{row[c]:>17.1f}' if c == 'time s' else f'{row[c]!s:>17}' for c in columns]
            print(f'{max_miller:>9} {backend:>8} ' + ' '.join(cells))
        if rows['ARTEMIS']['error']:
            print(f'{"":>9} ARTEMIS stopped with: {rows["ARTEMIS"]["error"]}')
        print(f'{"":>9} time ratio ARTEMIS / pymatgen: {rows["ARTEMIS"]["time s"] / rows["pymatgen"]["time s"]:.2f}')


if __name__ == '__main__':
    main()
