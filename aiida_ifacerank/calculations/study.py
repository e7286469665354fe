"""Calcfunctions of ``ifacerank.study``: each takes a few aggregated nodes (tables, structure collections), so
that every formation energy traces back to the jobs that made its energies and μ."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from aiida.engine import calcfunction
from aiida.orm import Dict, List, StructureData
from pymatgen.io.ase import AseAtomsAdaptor

from aiida_ifacerank.analysis.ranking import group_labels
from aiida_ifacerank.analysis.screening import screening_cost
from aiida_ifacerank.analysis.selection import NOT_SELECTED, select_subset
from aiida_ifacerank.analysis.table import EXIT_MISSING, MODES, mode_port
from aiida_ifacerank.common.candidates import CANDIDATE_ATTRIBUTE
from aiida_ifacerank.data import StructureCollectionData, TableData
from aiida_ifacerank.science.agreement import relaxation_agreement
from aiida_ifacerank.science.energetics import (
    EV_PER_ANG2_TO_J_PER_M2,
    elemental_chemical_potentials,
    formation_energy,
)
from aiida_ifacerank.science.lattice import interface_area
from aiida_ifacerank.science.layers import LAYER_KEYS

BULK_LABELS = ('bulk_lower', 'bulk_upper')
"""Labels of the bulk references in every table and collection of a study."""
MLP_FAILED = 410
"""Exit status recorded for a structure that an MLP job did not finish (``ifacerank.mlp`` ERROR_SOME_FAILED)."""
RESULT_COLUMNS = ['label', 'status', 'exit_status', 'energy_ev', 'failure']
"""Per-structure energies of one method and task, the layout :func:`formation_energies` reads."""
_TABLE_INPUT = re.compile(r'^(?P<port>[a-z]+_[a-z]+)_(?P<kind>results|structures)_(?P<number>\d+)$')


def bulk_names(lower: StructureData, upper: StructureData) -> tuple[str, ...]:
    """Bulk labels a study computes: both, or ``bulk_lower`` alone when both crystals are of one element."""
    same = set(lower.get_symbols_set()) == set(upper.get_symbols_set()) and len(lower.get_symbols_set()) == 1
    return BULK_LABELS[:1] if same else BULK_LABELS


@calcfunction
def bulk_structures(lower: StructureData, upper: StructureData) -> StructureCollectionData:
    """The primitive cells of the bulk crystals as one collection labelled :data:`BULK_LABELS` (the upper one
    left out if of the same element: a homointerface has one reference). μ and the lattice ratio are per atom,
    so the primitive cell gives them at the least cost."""
    names = bulk_names(lower, upper)
    cells = [structure.get_pymatgen_structure().get_primitive_structure() for structure in (lower, upper)]
    return StructureCollectionData.from_structures(
        [AseAtomsAdaptor.get_atoms(cell) for cell in cells[: len(names)]], list(names)
    )


def lattice_ratio(reference, relaxed) -> float:
    """Isotropic lattice ratio (relaxed / reference) of one crystal, from the volumes per atom (ASE Atoms)."""
    return float((relaxed.get_volume() / len(relaxed) / (reference.get_volume() / len(reference))) ** (1 / 3))


def _by_label(collection: StructureCollectionData) -> dict:
    return dict(zip(collection.labels, collection.get_ase(), strict=True))


@calcfunction
def scale_candidates(
    candidates: StructureCollectionData, reference: StructureCollectionData, relaxed: StructureCollectionData
) -> StructureCollectionData:
    """Candidates scaled uniformly (cell and positions) by the lattice ratio of the lower crystal, ``bulk_lower``
    of ``relaxed`` over that of ``reference``: they move onto the relaxing method's own substrate lattice, so no
    method carries a strain from another lattice constant. The normal length then relaxes."""
    ratio = lattice_ratio(_by_label(reference)['bulk_lower'], _by_label(relaxed)['bulk_lower'])
    scaled = []
    for atoms in candidates.get_ase():
        atoms.calc = None
        atoms.set_cell(atoms.cell.array * ratio, scale_atoms=True)
        scaled.append(atoms)
    return StructureCollectionData.from_structures(scaled, candidates.labels)


@calcfunction
def extract_structures(collection: StructureCollectionData, labels: List) -> dict:
    """One StructureData per label (output named by it) from a collection, with the interface layers
    (:data:`~aiida_ifacerank.science.layers.LAYER_KEYS`) in the ``ifacerank`` attribute, for ``ifacerank.dft``."""
    atoms_by_label = _by_label(collection)
    outputs = {}
    for label in labels.get_list():
        atoms = atoms_by_label[label]
        atoms.calc = None
        structure = StructureData(ase=atoms)
        layers = {key: atoms.info[key] for key in LAYER_KEYS if key in atoms.info}
        structure.base.attributes.set(CANDIDATE_ATTRIBUTE, {'candidate': label, **layers})
        outputs[label] = structure
    return outputs


extract_structures.spec().outputs.dynamic = True


@calcfunction
def concatenate_collections(**collections: StructureCollectionData) -> StructureCollectionData:
    """One collection of the structures of ``collection_N`` (N = 1, 2, ...), in order."""
    atoms, labels = [], []
    for name in sorted(collections, key=lambda key: int(key.rsplit('_', 1)[1])):
        atoms += collections[name].get_ase()
        labels += collections[name].labels
    return StructureCollectionData.from_structures(atoms, labels)


@calcfunction
def tabulate_dft(failures: Dict, labels: List, **outputs) -> dict:
    """``results`` (:data:`RESULT_COLUMNS` plus ionic steps, jobs, core-hours and wall time) and the finished
    ``structures`` of ``ifacerank.dft`` runs: ``summary_N`` and ``structure_N`` of the run of ``labels[N]``;
    ``failures``: {label: [exit status, reason]} of the runs that failed."""
    rows, atoms, finished = [], [], []
    for number, label in enumerate(labels.get_list()):
        if f'summary_{number}' not in outputs:
            status, reason = failures[label]
            rows.append({'label': label, 'status': 'failed', 'exit_status': int(status), 'failure': reason})
            continue
        summary = outputs[f'summary_{number}'].get_dict()
        row = {'label': label, 'status': 'ok', 'exit_status': 0, 'energy_ev': summary['energy_ev'], 'failure': ''}
        row.update({key: summary[key] for key in ('ionic_steps', 'jobs', 'core_hours', 'wall_time_s')})
        rows.append(row)
        atoms.append(outputs[f'structure_{number}'].get_ase())
        finished.append(label)
    columns = [*RESULT_COLUMNS, 'ionic_steps', 'jobs', 'core_hours', 'wall_time_s']
    table = pd.DataFrame(rows, columns=columns).astype({'energy_ev': float, 'core_hours': float})
    result = {'results': TableData(table)}
    if atoms:
        result['structures'] = StructureCollectionData.from_structures(atoms, finished)
    return result


def mlp_records(results: pd.DataFrame) -> pd.DataFrame:
    """:data:`RESULT_COLUMNS` of an ``ifacerank.mlp`` results table: structures not ``ok`` get exit status
    :data:`MLP_FAILED` and their status and error as the reason."""
    failed = results['status'] != 'ok'
    return pd.DataFrame(
        {
            'label': results['label'].astype(str),
            'status': np.where(failed, 'failed', 'ok'),
            'exit_status': np.where(failed, MLP_FAILED, 0),
            'energy_ev': np.where(failed, np.nan, results['energy_ev']),
            'failure': np.where(failed, results['status'] + ': ' + results['error'].astype(str), ''),
        }
    )


def _records(results: pd.DataFrame) -> pd.DataFrame:
    return results[RESULT_COLUMNS] if 'exit_status' in results else mlp_records(results)


def missing_reason(label: str, mode: str, records: dict, subset, missing: dict) -> str:
    """Why candidate ``label`` has no record in ``mode``: outside the DFT subset (a mode with DFT; ``subset`` None:
    all in it), no geometry from the relaxation that the mode evaluates (DFT@MLP, MLP@DFT: that relaxation's failure,
    or why it is missing), else ``missing[port]``, the study's reason for the mode.

    ``records``: {mode port: :data:`RESULT_COLUMNS` frame indexed by label}.
    """
    if 'DFT' in mode and subset is not None and label not in subset:
        return NOT_SELECTED
    relaxed_with = mode.split('@', maxsplit=1)[0]
    relaxation = f'{relaxed_with}@{relaxed_with}'
    if relaxation != mode:
        table = records.get(mode_port(relaxation))
        if table is None or label not in table.index:
            return f'no {relaxed_with}-relaxed geometry: {missing_reason(label, relaxation, records, subset, missing)}'
        if table.at[label, 'exit_status'] != 0:
            return f'no {relaxed_with}-relaxed geometry: {table.at[label, "failure"]}'
    return missing.get(mode_port(mode), 'no result')


def mode_energies(candidates: pd.DataFrame, records: pd.DataFrame, structures: dict, reasons: dict) -> pd.DataFrame:
    """E_f of every candidate in one mode: one row per candidate label plus the bulk rows.

    ``records``: :data:`RESULT_COLUMNS` of the mode (interfaces and bulk references); ``structures``: the
    evaluated ASE Atoms by label (area and composition). A candidate without a record is missing (exit
    status -1, the reason ``reasons[label]``); without a finished bulk reference no E_f is computed (the bulk's
    failure).
    Columns: label, energy_ev, area_ang2, reference_ev, formation_ev_ang2, formation_j_m2, exit_status, failure.
    """
    records = records.drop_duplicates('label', keep='last').set_index('label')
    bulk = {
        label: (
            dict(pd.Series(structures[label].get_chemical_symbols()).value_counts()),
            records.at[label, 'energy_ev'],
        )
        for label in BULK_LABELS
        if label in records.index and records.at[label, 'exit_status'] == 0
    }
    bulk_failure = [
        f'bulk reference {label}: {records.at[label, "failure"]}'
        for label in BULK_LABELS
        if label in records.index and records.at[label, 'exit_status'] != 0
    ]
    potentials = elemental_chemical_potentials(bulk)
    rows = []
    for label in candidates['candidate']:
        row = {'label': label, 'exit_status': EXIT_MISSING, 'failure': reasons[label]}
        if label in records.index:
            record = records.loc[label]
            row.update(exit_status=int(record['exit_status']), failure=record['failure'], energy_ev=record['energy_ev'])
        if row['exit_status'] == 0:
            atoms = structures[label]
            counts = dict(pd.Series(atoms.get_chemical_symbols()).value_counts())
            missing = sorted(set(counts) - set(potentials))
            if missing:
                row.update(exit_status=EXIT_MISSING, failure='; '.join(bulk_failure) or f'no μ for {missing}')
            else:
                area = interface_area(atoms.cell.array)
                energy = formation_energy(row['energy_ev'], counts, potentials, area)
                reference = row['energy_ev'] - 2 * area * energy
                row.update(area_ang2=area, reference_ev=reference, formation_ev_ang2=energy)
        rows.append(row)
    table = pd.DataFrame(rows, columns=['label', 'energy_ev', 'area_ang2', 'reference_ev', 'formation_ev_ang2'])
    table['formation_j_m2'] = table['formation_ev_ang2'] * EV_PER_ANG2_TO_J_PER_M2
    table['exit_status'] = [row['exit_status'] for row in rows]
    table['failure'] = [row['failure'] for row in rows]
    table.attrs['chemical_potentials'] = potentials
    return table


def mode_inputs(tables: dict) -> dict:
    """{port: (records, structures by label)} from calcfunction inputs ``<port>_results_N``, ``<port>_structures_N``."""
    grouped = {}
    for name, node in tables.items():
        match = _TABLE_INPUT.match(name)
        if match is None:
            raise ValueError(f'unexpected input {name!r}: use <mode port>_results_N and <mode port>_structures_N.')
        records, structures = grouped.setdefault(match['port'], ([], {}))
        if match['kind'] == 'results':
            records.append(_records(node.get_dataframe()))
        else:
            structures.update(_by_label(node))
    return {
        port: (pd.concat(records, ignore_index=True), structures) for port, (records, structures) in grouped.items()
    }


@calcfunction
def formation_energies(candidates: TableData, parameters: Dict, **tables) -> dict:
    """E_f (eV/Å² and J/m²) of every candidate in every mode, from the stored energies and the bulk references.

    ``candidates``: the generation's table; ``tables``: per mode port (``dft_dft``, ``mlp_mlp``, ``dft_mlp``,
    ``mlp_dft``) any number of ``<port>_results_N`` (an ``ifacerank.mlp`` results table or a
    :func:`tabulate_dft` one) and ``<port>_structures_N`` (the evaluated structures); bulk references are the
    rows labelled :data:`BULK_LABELS`. ``parameters``: ``missing`` {port: why a candidate has no result},
    ``subset`` (the labels selected for DFT; absent: all), read by :func:`missing_reason`.
    Outputs: ``formation`` (long table, one row per candidate and mode), ``interfaces`` and one table per mode
    port in the layout of ``ifacerank.rank``, ``chemical_potentials`` {mode: {element: eV/atom}}.
    """
    frame = candidates.get_dataframe()
    given = parameters.get_dict()
    missing, subset = given.get('missing', {}), given.get('subset')
    interfaces = pd.DataFrame(
        {
            'interface': frame['candidate'],
            'lower': frame['lower'],
            'upper': frame['upper'],
            'miller_lower': frame['miller_lower'].astype(str),
            'miller_upper': frame['miller_upper'].astype(str),
        }
    )
    outputs, long, potentials = {'interfaces': TableData(interfaces)}, [], {}
    inputs = mode_inputs(tables)
    indexed = {
        port: records.drop_duplicates('label', keep='last').set_index('label') for port, (records, _) in inputs.items()
    }
    for mode in MODES:
        port = mode_port(mode)
        if port not in inputs:
            continue
        records, structures = inputs[port]
        reasons = {label: missing_reason(label, mode, indexed, subset, missing) for label in frame['candidate']}
        table = mode_energies(frame, records, structures, reasons)
        potentials[mode] = table.attrs['chemical_potentials']
        outputs[port] = TableData(
            pd.DataFrame(
                {
                    'energy': table['formation_ev_ang2'].to_numpy(dtype=float),
                    'exit_status': table['exit_status'].to_numpy(dtype=np.int64),
                    'failure': table['failure'].astype(str),
                }
            )
        )
        long.append(table.rename(columns={'label': 'interface'}).assign(mode=mode))
    formation = pd.concat(long, ignore_index=True)
    outputs['formation'] = TableData(formation[['interface', 'mode', *formation.columns[1:-1]]])
    outputs['chemical_potentials'] = Dict(potentials)
    return outputs


@calcfunction
def select_dft(candidates: TableData, subset: Dict, **tables) -> List:
    """Labels of the candidates to relax with DFT (:func:`~aiida_ifacerank.analysis.selection.select_subset`),
    ranked by their MLP@MLP E_f from ``mlp_mlp_results_N`` / ``mlp_mlp_structures_N`` as in
    :func:`formation_energies`."""
    frame = candidates.get_dataframe()
    records, structures = mode_inputs(tables).get('mlp_mlp', (pd.DataFrame(columns=RESULT_COLUMNS), {}))
    reasons = dict.fromkeys(frame['candidate'], 'no MLP result')
    energies = mode_energies(frame, records, structures, reasons) if structures else None
    table = pd.DataFrame(
        {
            'label': frame['candidate'],
            'miller_lower': frame['miller_lower'],
            'miller_upper': frame['miller_upper'],
            'atoms': frame['atoms'],
            'area_ang2': frame['area_ang2'],
            'energy': np.nan if energies is None else energies['formation_ev_ang2'].to_numpy(dtype=float),
        }
    )
    return List(select_subset(table, subset.get_dict()))


HEADLINE_METRICS = ('n', 'spearman_rho', 'kendall_tau_b', 'pearson_r', 'rmse', 'mae', 'class_flips')
"""Metrics of every mode pair over all interfaces that a study's ``report.summary`` holds (and queries use)."""


def headline_metrics(stats: pd.DataFrame) -> dict:
    """{mode_a: {mode_b: {metric: value}}} of the ``all`` rows of a ranking's stats; NaN becomes None."""
    metrics = {}
    for row in stats[stats['group_key'] == 'all'].itertuples():
        values = {name: getattr(row, name) for name in HEADLINE_METRICS}
        metrics.setdefault(row.mode_a, {})[row.mode_b] = {
            name: None if pd.isna(value) else (int(value) if name in ('n', 'class_flips') else float(value))
            for name, value in values.items()
        }
    return metrics


@calcfunction
def study_report(
    formation: TableData,
    parameters: Dict,
    mlp_relax: TableData | None = None,
    mlp_structures: StructureCollectionData | None = None,
    dft_relax: TableData | None = None,
    dft_structures: StructureCollectionData | None = None,
    dft_scf: TableData | None = None,
    interfaces: TableData | None = None,
    stats: TableData | None = None,
) -> dict:
    """What the ranking does not hold: structural agreement of the MLP- and DFT-relaxed geometry of each
    interface (``agreement``), measured cost per interface (``cost``: MLP and DFT core-hours, DFT ionic
    steps), the DFT cost saved by screening with the MLP (``screening``), and a ``summary``.

    ``parameters``: ``mlp_cores`` (cores of an MLP job), ``top_n`` (list), ``dft_start``. With ``interfaces``
    (the ranking's metadata table) and ``stats`` (its statistics) the summary also holds what queries filter on:
    ``elements``, ``plane_pairs`` (``(hkl)|(hkl)``, lower first) and ``metrics`` {mode_a: {mode_b: {metric:
    value}}} over all interfaces (None where undefined).
    """
    settings = parameters.get_dict()
    energies = formation.get_dataframe()
    labels = list(energies['interface'].unique())
    agreement = []
    if mlp_structures is not None and dft_structures is not None:
        mlp, dft = _by_label(mlp_structures), _by_label(dft_structures)
        for label in labels:
            if label in mlp and label in dft:
                row = relaxation_agreement(
                    mlp[label].cell.array, mlp[label].positions, dft[label].cell.array, dft[label].positions
                )
                agreement.append({'interface': label, **row})
    agreement = pd.DataFrame(agreement, columns=['interface', 'rmsd_ang', 'max_displacement_ang', 'delta_normal_ang'])

    mlp_table = mlp_relax.get_dataframe().set_index('label') if mlp_relax is not None else pd.DataFrame()
    cost = pd.DataFrame({'interface': labels})
    cost['mlp_core_hours'] = [
        mlp_table.at[label, 'time_s'] * settings['mlp_cores'] / 3600 if label in mlp_table.index else np.nan
        for label in labels
    ]
    for name, node in (('dft_relax', dft_relax), ('dft_scf', dft_scf)):
        table = node.get_dataframe().set_index('label') if node is not None else pd.DataFrame()
        for column in ('core_hours', 'ionic_steps'):
            cost[f'{name}_{column}'] = [
                table.at[label, column] if label in table.index and column in table else np.nan for label in labels
            ]

    wide = energies.pivot(index='interface', columns='mode', values='formation_ev_ang2').reindex(labels)
    screening = pd.DataFrame()
    if {'DFT@DFT', 'MLP@MLP'} <= set(wide.columns):
        both = (
            wide['DFT@DFT'].notna()
            & wide['MLP@MLP'].notna()
            & cost.set_index('interface')['dft_relax_core_hours'].notna()
        )
        chosen = wide[both]
        costs = cost.set_index('interface').loc[chosen.index, 'dft_relax_core_hours'].to_numpy(dtype=float)
        frames = [
            screening_cost(chosen['DFT@DFT'].to_numpy(), chosen['MLP@MLP'].to_numpy(), costs, top)
            for top in settings['top_n']
            if top <= len(chosen)
        ]
        screening = pd.concat(frames, ignore_index=True) if frames else screening

    finished = (energies['exit_status'] == 0).groupby(energies['mode'], sort=False).sum()
    chosen = energies['failure'] != NOT_SELECTED
    lacking = ((energies['exit_status'] != 0) & chosen).groupby(energies['mode'], sort=False).sum()
    missing = {mode: int(count) for mode, count in lacking.items() if count}
    summary = {
        'interfaces': len(labels),
        'finished': {mode: int(count) for mode, count in finished.items()},
        'missing': missing,
        'not_in_dft_subset': int(energies.loc[~chosen, 'interface'].nunique()),
        'dft_start': settings.get('dft_start'),
        'mlp_core_hours': float(np.nansum(cost['mlp_core_hours'])),
        'dft_relax_core_hours': float(np.nansum(cost['dft_relax_core_hours'])),
        'dft_scf_core_hours': float(np.nansum(cost['dft_scf_core_hours'])),
        'dft_relax_ionic_steps': int(np.nansum(cost['dft_relax_ionic_steps'])),
    }
    if interfaces is not None:
        frame = interfaces.get_dataframe()
        summary['elements'] = sorted(set(frame['lower']) | set(frame['upper']))
        summary['plane_pairs'] = sorted(set(group_labels(frame, 'miller')))
    if stats is not None:
        summary['metrics'] = headline_metrics(stats.get_dataframe())
    outputs = {'agreement': TableData(agreement), 'cost': TableData(cost), 'summary': Dict(summary)}
    if len(screening):
        outputs['screening'] = TableData(screening)
    return outputs
