"""The files of ``aiida-ifacerank study report``: every table of a study as CSV, the plots, and a short text."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from aiida_ifacerank.analysis.selection import NOT_SELECTED
from aiida_ifacerank.analysis.table import MODES


def study_tables(study) -> dict[str, pd.DataFrame]:
    """{file stem: table} of the study's outputs: formation, ranking_<name>, report_<name> (tables only)."""
    from aiida_ifacerank.data import TableData  # noqa: PLC0415

    if 'formation' not in study.outputs:
        state = study.process_state.value if study.process_state else 'created'
        raise ValueError(f'study {study.pk} has no formation energies yet ({state}): nothing to report.')
    tables = {'formation': study.outputs.formation.get_dataframe()}
    for namespace in ('ranking', 'report'):
        if namespace in study.outputs:
            for name, node in study.outputs[namespace].items():
                if isinstance(node, TableData):
                    tables[f'{namespace}_{name}'] = node.get_dataframe()
    return tables


def summary_text(study, tables: dict, status: list[str]) -> str:
    """A short text: the status lines, candidates and E_f per mode, agreement with DFT@DFT, cost and screening."""
    formation = tables['formation']
    lines = [*status, '']
    candidates = formation['interface'].nunique()
    lines.append(f'{candidates} candidates; E_f (eV/Å²) per mode: finished / missing / outside the DFT subset')
    for mode in MODES:
        rows = formation[formation['mode'] == mode]
        if len(rows):
            finished = int((rows['exit_status'] == 0).sum())
            outside = int((rows['failure'] == NOT_SELECTED).sum())
            lowest = rows.loc[rows['formation_ev_ang2'].idxmin()] if finished else None
            best = f'; lowest {lowest["interface"]} {lowest["formation_ev_ang2"]:.4f}' if lowest is not None else ''
            lines.append(f'  {mode:<8} {finished:>4} / {len(rows) - finished - outside:>3} / {outside:>3}{best}')
    stats = tables.get('ranking_stats')
    if stats is not None:
        lines += [
            '',
            'Every mode pair (second against first), all interfaces; E_f errors in eV/Å²:',
            headline_table(stats),
        ]
    cost = tables.get('report_cost')
    if cost is not None and len(cost):
        mlp, dft = cost['mlp_core_hours'].sum(), cost['dft_relax_core_hours'].sum() + cost['dft_scf_core_hours'].sum()
        lines += ['', f'Cost: MLP {mlp:.4f} core-hours, DFT {dft:.4f} core-hours (relaxations and single points)']
    agreement = tables.get('report_agreement')
    if agreement is not None and len(agreement):
        rmsd, largest = agreement['rmsd_ang'].mean(), agreement['max_displacement_ang'].max()
        lines.append(
            f'Geometry, MLP vs DFT relaxed ({len(agreement)} interfaces): RMSD mean {rmsd:.3f} Å, '
            f'largest displacement {largest:.3f} Å'
        )
    return '\n'.join(lines) + '\n'


def headline_table(stats) -> str:
    """Fixed-width table of a ranking's ``stats`` over all interfaces, one row per mode pair: n, Spearman ρ,
    Kendall τ_b, every Top-N overlap (k/N, '-' where n <= N), RMSE and MAE (eV/Å²), class flips and boundary
    inversions."""
    rows = stats[stats['group_key'] == 'all']
    tops = sorted(
        int(column[3:-8]) for column in stats.columns if column.startswith('top') and column.endswith('_overlap')
    )
    header = ['mode pair', 'n', 'Spearman', 'Kendall', *[f'Top-{top}' for top in tops], 'RMSE', 'MAE', 'flips', 'inv.']
    body = []
    for row in rows.to_dict('records'):
        overlaps = [
            '-' if pd.isna(row[f'top{top}_overlap']) else f'{int(row[f"top{top}_overlap"])}/{top}' for top in tops
        ]
        body.append(
            [
                f'{row["mode_b"]} vs {row["mode_a"]}',
                str(row['n']),
                *(_number(row[name], '.3f') for name in ('spearman_rho', 'kendall_tau_b')),
                *overlaps,
                *(_number(row[name], '.4f') for name in ('rmse', 'mae')),
                str(row['class_flips']),
                str(row['boundary_inversions']),
            ]
        )
    widths = [max(len(line[column]) for line in [header, *body]) for column in range(len(header))]
    return '\n'.join(
        '  '
        + '  '.join(
            cell.ljust(width) if column == 0 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(line, widths, strict=True))
        )
        for line in [header, *body]
    )


def _number(value, spec: str) -> str:
    return '-' if pd.isna(value) else format(value, spec)


def write_report(study, directory: Path, status: list[str]) -> list[Path]:
    """Write the study's tables (CSV), plots (PNG and SVG) and ``summary.txt`` into ``directory``; the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tables = study_tables(study)
    written = []
    for stem, table in tables.items():
        path = directory / f'{stem}.csv'
        table.to_csv(path, index=False)
        written.append(path)
    path = directory / 'summary.txt'
    path.write_text(summary_text(study, tables, status))
    written.append(path)
    return written + write_plots(study, directory)


def write_plots(study, directory: Path) -> list[Path]:
    """The report figures of the study's ranking (coloured by plane pair) and its matched planes, PNG and SVG."""
    from aiida_ifacerank.analysis.ranking import RankingAnalysis  # noqa: PLC0415
    from aiida_ifacerank.common.study import called  # noqa: PLC0415
    from aiida_ifacerank.tools.plots import plot_matched_planes, save_figure, save_report_plots  # noqa: PLC0415

    written = []
    if 'ranking' in study.outputs:
        ranking = study.outputs.ranking
        analysis = RankingAnalysis(
            **{name: ranking[name].get_dataframe() for name in ('results', 'stats', 'completeness', 'inversions')},
            parameters=ranking.analysis_parameters.get_dict(),
        )
        for paths in save_report_plots(analysis, directory, color_by='miller').values():
            written.extend(paths)
    generation = called(study).get('generation') or called(study).get('artemis')
    if generation is not None and 'matches' in generation.outputs:
        matches = generation.outputs.matches.get_dataframe().to_dict('records')
        structures = (study.inputs.lower.get_pymatgen_structure(), study.inputs.upper.get_pymatgen_structure())
        written.extend(save_figure(plot_matched_planes(*structures, matches), directory, 'matched_planes'))
    return written
