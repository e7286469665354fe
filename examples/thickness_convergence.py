"""Thickness convergence of the interface formation energy E_f (see ``docs/thickness.md``).

Every candidate of the smallest-area lattice match (or only the one with the lowest relaxed E_f at
the thinnest slabs) is generated again, same match, termination and stacking shift, with n = 2, 3,
... layers on each side (or given thicknesses in Å), and relaxed with Tersoff's (1989) Si-Ge
potential (matscipy): positions and the cell length normal to the interface, in-plane lattice fixed,
BFGS to fmax 0.01 eV/Å. For each thickness:

* E_f = (E_cell − Σ n_i μ_i)/(2A), μ_i the energy per atom of the relaxed bulk crystal (as everywhere
  in the plugin), before and after relaxation;
* γ = E_f − N_upper Δμ_strain/(2A), the interface energy without the coherency strain energy of the
  upper slab: Δμ_strain is the energy per atom of the upper crystal strained onto the interface's
  in-plane lattice (a bulk cell cut from the upper slab, its normal spacing as generated for the
  unrelaxed γ, relaxed for the relaxed γ) minus that of its relaxed bulk.

E_f of a strained heterointerface grows linearly with the upper slab's thickness; γ converges. The
script prints the smallest thickness from which γ (relaxed) stays within ``--tolerance`` of its value
at the thickest slabs, and writes a CSV table and a figure.

Run: ``.venv/bin/python examples/thickness_convergence.py`` (Si|Ge (001), 4 candidates, 2 to 12
layers per side, about 70 s on 2 cores); ``--help`` for the options (planes, thicknesses in Å, ...).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

for _variable in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ.setdefault(_variable, '1')  # 3×3 linear algebra of the cell filter: threads only slow it (4× here)

import matplotlib  # noqa: E402

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from ase import Atoms  # noqa: E402
from ase.filters import FrechetCellFilter  # noqa: E402
from ase.optimize import BFGS  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from pymatgen.core import Lattice, Structure  # noqa: E402
from pymatgen.io.ase import AseAtomsAdaptor  # noqa: E402

from aiida_ifacerank.science.energetics import formation_energy  # noqa: E402
from aiida_ifacerank.science.generation import GenerationParameters, generate  # noqa: E402
from aiida_ifacerank.science.lattice import interface_area, parse_miller  # noqa: E402
from aiida_ifacerank.science.layers import stacked_positions  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # the Tersoff potential of the tests
from tests.models import tersoff_sige  # noqa: E402

LATTICE = {'Si': 5.431, 'Ge': 5.658}
"""Starting diamond lattice constants (Å, experimental); the Tersoff ones are relaxed from them."""
NORMAL_ONLY = [False, False, True, False, False, False]
"""FrechetCellFilter mask: of the cell, only the length normal to the interface (zz) relaxes."""
MEV = 1000.0
"""eV/Å² → meV/Å²."""


def relax(atoms: Atoms, calculator, mask=NORMAL_ONLY, fmax: float = 0.01, steps: int = 1000) -> bool:
    """Relax positions and the ``mask``-ed cell strains of ``atoms`` in place (BFGS, ``fmax`` in eV/Å);
    return whether it converged within ``steps``."""
    atoms.calc = calculator
    return bool(BFGS(FrechetCellFilter(atoms, mask=list(mask)), logfile=None).run(fmax=fmax, steps=steps))


def relaxed_bulk(element: str, calculator) -> tuple[Structure, float]:
    """Diamond-structure ``element`` at the potential's lattice constant and its energy per atom (eV)."""
    atoms = AseAtomsAdaptor.get_atoms(
        Structure.from_spacegroup('Fd-3m', Lattice.cubic(LATTICE[element]), [element], [[0, 0, 0]])
    )
    atoms.calc = calculator
    BFGS(FrechetCellFilter(atoms, hydrostatic_strain=True), logfile=None).run(fmax=1e-5, steps=200)
    a = float(atoms.cell.lengths()[0])
    structure = Structure.from_spacegroup('Fd-3m', Lattice.cubic(a), [element], [[0, 0, 0]])
    return structure, atoms.get_potential_energy() / len(atoms)


def strained_bulk(structure: Structure, atoms_lower: int, periods: int) -> Atoms:
    """The upper crystal strained onto the interface's in-plane lattice: one period of the upper slab of
    ``structure`` (a generated candidate, lower atoms first, ``periods`` ≥ 2 whole periods of the upper
    crystal along the normal), made periodic by the vector that maps it onto the next period."""
    cell = structure.lattice.matrix
    positions = stacked_positions(cell, structure.cart_coords, atoms_lower)[atoms_lower:]
    symbols = np.array([site.specie.symbol for site in structure])[atoms_lower:]
    heights = positions @ np.cross(cell[0], cell[1]) / interface_area(cell)
    order = np.argsort(heights, kind='stable')
    first, second = np.split(order, [len(order) // periods, 2 * len(order) // periods])[:2]
    origin = first[np.argmin(heights[first])]
    for j in second[heights[second] < heights[second].min() + 0.05]:  # the next period's bottom plane
        period = positions[j] - positions[origin]
        bulk = Atoms(symbols[first], positions[first], cell=[cell[0], cell[1], period], pbc=True)
        if _images_of(bulk, positions[second] - period, symbols[second]):
            return bulk
    raise ValueError('the upper slab does not repeat along its normal: generate it with at least 2 layers.')


def _images_of(bulk: Atoms, positions: np.ndarray, symbols: np.ndarray, tolerance: float = 1e-3) -> bool:
    """Whether every atom at ``positions`` (Å) is a periodic image of an atom of ``bulk`` of its species."""
    delta = bulk.cell.scaled_positions(positions)[:, None, :] - bulk.get_scaled_positions(wrap=False)[None]
    distances = np.linalg.norm((delta - np.round(delta)) @ bulk.cell.array, axis=-1)
    same = symbols[:, None] == np.array(bulk.get_chemical_symbols())[None, :]
    return bool(((distances < tolerance) & same).any(axis=1).all())


def candidate_key(metadata: dict) -> tuple:
    """Identity of a candidate across thicknesses: (match_id, termination labels, stacking shift)."""
    return metadata['match_id'], tuple(metadata['termination']), tuple(round(float(s), 6) for s in metadata['shift'])


def key_text(key: tuple) -> str:
    """A candidate key as text: ``001|001#0 1_Ge_P4/mmm_1|1_Si_P4/mmm_1 (0, 0.5)`` (match, upper|lower
    termination, shift in fractions of a and b)."""
    match_id, termination, shift = key
    return f'{match_id} {"|".join(termination)} ({shift[0]:g}, {shift[1]:g})'


def evaluate(candidate, calculator, references: dict, fmax: float) -> dict:
    """Table row of a candidate: E_f and γ (meV/Å²) before and after relaxation, and its geometry (Å)."""
    meta, mu = candidate.metadata, references['mu_eV']
    atoms = AseAtomsAdaptor.get_atoms(candidate.structure)
    area = interface_area(atoms.cell.array)
    strain = (len(atoms) - meta['atoms_lower']) / (2.0 * area) * MEV  # × Δμ_strain (eV) gives meV/Å²
    counts = {element: atoms.get_chemical_symbols().count(element) for element in set(atoms.get_chemical_symbols())}
    atoms.calc = calculator
    ef_unrelaxed = formation_energy(atoms.get_potential_energy(), counts, mu, area) * MEV
    converged = relax(atoms, calculator, fmax=fmax)
    ef_relaxed = formation_energy(atoms.get_potential_energy(), counts, mu, area) * MEV
    return {
        'candidate': key_text(candidate_key(meta)),
        'termination_index': meta['termination_index'],
        'shift': '({:g}, {:g})'.format(*meta['shift']),
        'atoms': len(atoms),
        'atoms_lower': meta['atoms_lower'],
        'area_ang2': area,
        'gap_ang': meta['gap_ang'],
        'min_distance_ang': min(interface['min_distance_ang'] for interface in meta['interfaces']),
        'interfaces_equivalent': meta['interfaces_equivalent'],
        'height_unrelaxed_ang': candidate.structure.lattice.volume / area,
        'height_relaxed_ang': atoms.get_volume() / area,
        'ef_unrelaxed': ef_unrelaxed,
        'ef_relaxed': ef_relaxed,
        'gamma_unrelaxed': ef_unrelaxed - strain * references['strain_unrelaxed_eV'],
        'gamma_relaxed': ef_relaxed - strain * references['strain_relaxed_eV'],
        'relaxation_converged': converged,
    }


def thickness_series(
    lower: str,
    upper: str,
    thicknesses,
    parameters: GenerationParameters,
    calculator,
    follow: str = 'all',
    fmax: float = 0.01,
) -> tuple[pd.DataFrame, dict]:
    """E_f and γ, unrelaxed and relaxed, of candidates of ``upper`` on ``lower`` (diamond-structure
    elements) at each of ``thicknesses`` per side (layers or Å, as ``parameters.thickness_in_layers``).

    ``follow``: ``'lowest'``, the candidate of the smallest-area match with the lowest relaxed E_f at the
    first thickness, or ``'all'``, every candidate of that match. Returns the table (one row per
    candidate and thickness, energies in meV/Å², see :func:`evaluate`) and the references: relaxed
    lattice constants ``a_ang`` (Å), bulk energies ``mu_eV`` and the coherency strain energies
    ``strain_unrelaxed_eV`` and ``strain_relaxed_eV`` of the upper crystal (eV/atom).
    """
    bulks = {element: relaxed_bulk(element, calculator) for element in dict.fromkeys((lower, upper))}
    references = {
        'a_ang': {element: structure.lattice.a for element, (structure, _) in bulks.items()},
        'mu_eV': {element: energy for element, (_, energy) in bulks.items()},
    }

    @functools.cache
    def candidates(thickness, in_layers):
        """Candidates of the smallest-area match at ``thickness`` per side, by :func:`candidate_key`
        (cached, so that the strained reference's 2 layers are generated once)."""
        at = replace(parameters, thickness=(thickness, thickness), thickness_in_layers=in_layers)
        result = generate(bulks[lower][0], bulks[upper][0], at)
        smallest = min(result.matches, key=lambda match: match['area_ang2'])['match_id']
        chosen = {candidate_key(c.metadata): c for c in result.candidates if c.metadata['match_id'] == smallest}
        for candidate in chosen.values():
            symbols = [site.specie.symbol for site in candidate.structure]
            split = candidate.metadata['atoms_lower']
            if set(symbols[:split]) != {lower} or set(symbols[split:]) != {upper}:
                raise ValueError(
                    f'{key_text(candidate_key(candidate.metadata))}: the first atoms_lower = {split} atoms are not '
                    f'the {lower} slab (species {symbols}); the upper slab would be misidentified.'
                )
        return chosen

    sample = next(iter(candidates(2, True).values()))  # 2 layers: 2 periods of each crystal
    strained = strained_bulk(sample.structure, sample.metadata['atoms_lower'], periods=2)
    strained.calc = calculator
    references['strain_unrelaxed_eV'] = strained.get_potential_energy() / len(strained) - references['mu_eV'][upper]
    relax(strained, calculator, fmax=1e-4)
    references['strain_relaxed_eV'] = strained.get_potential_energy() / len(strained) - references['mu_eV'][upper]

    def rows_at(thickness, generated):
        """Rows of the ``generated`` candidates at ``thickness``."""
        return [{'thickness': thickness, **evaluate(c, calculator, references, fmax)} for c in generated]

    rows = rows_at(thicknesses[0], candidates(thicknesses[0], parameters.thickness_in_layers).values())
    if follow == 'lowest':
        rows = [min(rows, key=lambda row: row['ef_relaxed'])]
    followed = sorted(row['candidate'] for row in rows)
    for thickness in thicknesses[1:]:
        generated = {
            key_text(key): candidate for key, candidate in candidates(thickness, parameters.thickness_in_layers).items()
        }
        missing = sorted(set(followed) - set(generated))
        if missing:
            raise ValueError(f'not generated at thickness {thickness}: {missing}')
        rows += rows_at(thickness, [generated[name] for name in followed])
    table = pd.DataFrame(rows)
    return table, references


def converged_from(values: pd.Series, tolerance: float):
    """Smallest index (thickness) of ``values`` from which all values lie within ``tolerance`` of the
    last one (the thickest), or ``None`` when only the last one does."""
    within = (values - values.iloc[-1]).abs() <= tolerance
    start = len(values) - 1
    while start > 0 and within.iloc[start - 1]:
        start -= 1
    return values.index[start] if start < len(values) - 1 else None


def summary(table: pd.DataFrame, references: dict, tolerance: float, unit: str) -> list[str]:
    """Convergence statement per candidate: where γ converged, the converged E_f and γ, and the growth of
    E_f per thickness step next to the upper slab's coherency strain energy over that step."""
    lines = []
    for name, group in table.groupby('candidate', sort=False):
        rows = group.set_index('thickness').sort_index()
        start = converged_from(rows['gamma_relaxed'], tolerance)
        last, before = rows.iloc[-1], rows.iloc[-2]
        step = last.name - before.name
        strain_step = (
            (last.atoms - last.atoms_lower - before.atoms + before.atoms_lower)
            * references['strain_relaxed_eV']
            / (2.0 * last.area_ang2)
            * MEV
        )
        verdict = (
            f'converged to {last.gamma_relaxed:.2f} ± {tolerance:g} meV/Å² from {start:g} {unit} per side'
            if start is not None
            else f'not converged within ±{tolerance:g} meV/Å² before {last.name:g} {unit} per side'
        )
        lines.append(
            f'{name}: relaxed γ {verdict}; relaxed E_f {last.ef_relaxed:.2f} meV/Å² at {last.name:g} {unit}, '
            f'growing by {last.ef_relaxed - before.ef_relaxed:.3f} meV/Å² per {step:g} {unit} '
            f'(coherency strain of the upper slab: {strain_step:.3f} meV/Å²).'
        )
    return lines


def plot(table: pd.DataFrame, path: Path, tolerance: float, unit: str, title: str) -> None:
    """Figure: E_f (left) and γ − γ(thickest) (right) against the thickness per side, one colour per
    candidate, unrelaxed dashed and relaxed solid, the ±``tolerance`` band shaded."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 5.2), layout='constrained')
    handles, largest = [], 0.0
    for index, (_, rows) in enumerate(table.groupby('candidate', sort=False)):
        style = {'color': f'C{index}', 'marker': 'o'}
        thickest = rows.iloc[-1]
        for state, line in (('unrelaxed', {'ls': '--', 'mfc': 'none'}), ('relaxed', {'ls': '-'})):
            deviation = rows[f'gamma_{state}'] - thickest[f'gamma_{state}']
            left.plot(rows.thickness, rows[f'ef_{state}'], **style, **line)
            right.plot(rows.thickness, deviation, **style, **line)
            largest = max(largest, deviation.abs().max())
        handles.append(
            Line2D(
                [],
                [],
                **style,
                label=f'termination {thickest.termination_index}, shift {thickest["shift"]}: '
                f'relaxed γ = {thickest.gamma_relaxed:.2f} meV/Å² at {thickest.thickness:g} {unit}',
            )
        )
    handles += [
        Line2D([], [], color='0.3', marker='o', ls='--', mfc='none', label='unrelaxed'),
        Line2D([], [], color='0.3', marker='o', label='relaxed (positions, cell normal)'),
        Patch(color='0.85', label=f'±{tolerance:g} meV/Å² of the thickest'),
    ]
    right.axhspan(-tolerance, tolerance, color='0.85', zorder=0)
    right.set_ylim(-1.5 * max(tolerance, largest), 1.5 * max(tolerance, largest))
    left.set_ylabel('formation energy E_f (meV/Å²)')
    left.set_title('E_f = (E − Σ n μ)/(2A)', fontsize=10)
    right.set_ylabel('γ − γ(thickest) (meV/Å²)')
    right.set_title('γ = E_f − coherency strain energy of the upper slab/(2A)', fontsize=10)
    for axes in (left, right):
        axes.set_xlabel(f'thickness per side ({unit})')
        axes.grid(alpha=0.3)
    figure.legend(handles=handles, loc='outside lower center', ncols=2, fontsize=8)
    figure.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=150)
    plt.close(figure)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--lower', default='Si', choices=sorted(LATTICE), help='lower (substrate) crystal, diamond')
    parser.add_argument('--upper', default='Ge', choices=sorted(LATTICE), help='upper (film) crystal, diamond')
    parser.add_argument('--planes', default='001/001', help='Miller planes lower/upper, e.g. 001/001 or 110/110')
    thickness = parser.add_mutually_exclusive_group()
    thickness.add_argument('--layers', type=int, nargs='+', default=list(range(2, 13)), help='layers per side')
    thickness.add_argument('--angstrom', type=float, nargs='+', help='thicknesses per side (Å) instead of layers')
    parser.add_argument(
        '--candidates',
        choices=('lowest', 'all'),
        default='all',
        help='follow every candidate of the smallest-area match, or the lowest-E_f one at the first thickness',
    )
    parser.add_argument('--max-area', type=float, default=40.0, help='largest interface area searched (Å²)')
    parser.add_argument('--shift-grid', type=int, default=2, help='stacking shifts per CNID vector (2: 0 and 1/2)')
    parser.add_argument('--model', default='tilted', choices=('tilted', 'periodic'), help='two-interface cell model')
    parser.add_argument('--fmax', type=float, default=0.01, help='relaxation force threshold (eV/Å)')
    parser.add_argument('--tolerance', type=float, default=1.0, help='convergence tolerance of γ (meV/Å²)')
    parser.add_argument('--csv', type=Path, default=HERE / 'work' / 'thickness_si_ge_001.csv', help='output table')
    parser.add_argument(
        '--figure', type=Path, default=ROOT / 'docs' / 'figures' / 'thickness_si_ge_001.png', help='output figure (PNG)'
    )
    args = parser.parse_args(argv)
    if len(args.angstrom or args.layers) < 2:
        parser.error('give at least two thicknesses.')
    warnings.filterwarnings('ignore', message="'where' used without 'out'")  # matscipy Tersoff: masked, harmless
    warnings.filterwarnings('ignore', message='logm result may be inaccurate')  # FrechetCellFilter: error ~1e-13

    started = time.perf_counter()
    planes = tuple(parse_miller(text) for text in args.planes.split('/'))
    thicknesses, unit = (args.angstrom, 'Å') if args.angstrom else (args.layers, 'layers')
    parameters = GenerationParameters(
        plane_pairs=(planes,),
        max_area=args.max_area,
        thickness_in_layers=not args.angstrom,
        model=args.model,
        shift_grid=(args.shift_grid, args.shift_grid),
    )
    table, references = thickness_series(
        args.lower, args.upper, sorted(thicknesses), parameters, tersoff_sige(), args.candidates, args.fmax
    )
    elapsed = time.perf_counter() - started

    pairs = f'{args.lower}|{args.upper} ({args.planes.replace("/", ")|(")})'
    lines = [
        f'Thickness convergence of E_f, {pairs}, Tersoff (1989) Si-Ge (matscipy); energies in meV/Å².',
        'Relaxed: positions and the cell length normal to the interface (BFGS, fmax '
        f'{args.fmax:g} eV/Å); E_f = (E - sum n mu)/(2A), gamma = E_f - N_upper dmu_strain/(2A).',
        'a (Å): '
        + ', '.join(f'{e} {a:.5f}' for e, a in references['a_ang'].items())
        + '; mu (eV/atom): '
        + ', '.join(f'{e} {m:.6f}' for e, m in references['mu_eV'].items())
        + f'; dmu_strain (eV/atom) unrelaxed {references["strain_unrelaxed_eV"]:.6f}, '
        f'relaxed {references["strain_relaxed_eV"]:.6f}.',
        *summary(table, references, args.tolerance, unit),
        f'{table.relaxation_converged.sum()} of {len(table)} relaxations converged (fmax {args.fmax:g} eV/Å, '
        '1000 steps).',
        f'Made in {elapsed:.0f} s by: examples/thickness_convergence.py '
        + ' '.join(sys.argv[1:] if argv is None else argv).rstrip(),
    ]
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    with args.csv.open('w') as handle:
        handle.write(''.join(f'# {line}\n' for line in lines))
        table.to_csv(handle, index=False, float_format='%.6f')
    plot(table, args.figure, args.tolerance, unit, f'{pairs}, Tersoff: thickness convergence')
    columns = ['thickness', 'atoms', 'ef_unrelaxed', 'ef_relaxed', 'gamma_unrelaxed', 'gamma_relaxed']
    for name, rows in table.groupby('candidate', sort=False):
        print(f'\n{name}\n' + rows[columns].to_string(index=False, float_format='%.3f'))
    print('\n' + '\n'.join(lines[2:]))
    print(f'wrote {args.csv} and {args.figure}')


if __name__ == '__main__':
    main()
