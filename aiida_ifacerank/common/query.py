"""Questions to every study of the profile, answered by QueryBuilder over the stored nodes: the filters on
materials, plane pairs and whole-study metrics run in the database, on each study's ``report.summary``."""

from __future__ import annotations

import re

import pandas as pd
from aiida import orm

from aiida_ifacerank.analysis.ranking import group_labels
from aiida_ifacerank.analysis.table import MODES
from aiida_ifacerank.calculations.study import HEADLINE_METRICS
from aiida_ifacerank.common.study import STUDY_ENTRY_POINT

SUMMARY_LINK = 'report__summary'
"""Link label of a study's ``report.summary`` output (the namespace separator is a double underscore)."""


def plane_pair(text: str) -> str:
    """``001|110``, ``(001)|(110)`` or ``0,0,1|1,1,0`` as the stats' plane-pair label ``(001)|(110)``."""
    parts = [part.strip().strip('()') for part in text.split('|')]
    if len(parts) != 2 or not all(re.fullmatch(r'-?\d(,?-?\d){2}', part) for part in parts):
        raise ValueError(f'plane pair {text!r}: give the lower and upper Miller indices as 001|110.')
    return '|'.join(f'({part})' for part in parts)


def study_query(
    materials=(),
    plane: str | None = None,
    pair: tuple[str, str] = ('DFT@DFT', 'MLP@MLP'),
    metric: str = 'spearman_rho',
    below: float | None = None,
    above: float | None = None,
) -> orm.QueryBuilder:
    """QueryBuilder of (study, summary) for the studies containing every element of ``materials`` and the plane
    pair ``plane``, whose ``metric`` of ``pair`` over all interfaces lies below ``below`` / above ``above``."""
    for mode in pair:
        if mode not in MODES:
            raise ValueError(f'mode {mode!r}: use {list(MODES)}.')
    if metric not in HEADLINE_METRICS:
        raise ValueError(f'metric {metric!r}: use {list(HEADLINE_METRICS)}.')
    filters = {}
    if materials:
        filters['attributes.elements'] = {'contains': sorted(set(materials))}
    if plane is not None:
        filters['attributes.plane_pairs'] = {'contains': [plane_pair(plane)]}
    path = f'attributes.metrics.{pair[0]}.{pair[1]}.{metric}'
    bounds = [{'<': below}] if below is not None else []
    bounds += [{'>': above}] if above is not None else []
    if bounds:
        filters[path] = {'and': bounds} if len(bounds) > 1 else bounds[0]
    builder = orm.QueryBuilder()
    study_filter = {'process_type': f'aiida.workflows:{STUDY_ENTRY_POINT}'}
    builder.append(orm.WorkChainNode, filters=study_filter, tag='study', project='*')
    edge = {'label': SUMMARY_LINK}
    builder.append(orm.Dict, with_incoming='study', edge_filters=edge, filters=filters, tag='summary', project='*')
    return builder.order_by({'study': {'ctime': 'asc'}})


def find_studies(pair=('DFT@DFT', 'MLP@MLP'), metric='spearman_rho', **filters) -> pd.DataFrame:
    """One row per matching study: pk, materials, plane pairs, interfaces, E_f per mode and ``metric`` of ``pair``."""
    rows = []
    for study, summary in study_query(pair=pair, metric=metric, **filters).all():
        values = summary.get_dict()
        value = values.get('metrics', {}).get(pair[0], {}).get(pair[1], {}).get(metric)
        rows.append(
            {
                'pk': study.pk,
                'elements': '-'.join(values.get('elements', [])),
                'plane_pairs': ' '.join(values.get('plane_pairs', [])),
                'interfaces': values['interfaces'],
                **{f'finished_{mode}': values['finished'].get(mode, 0) for mode in MODES},
                f'{metric} {pair[0]}|{pair[1]}': value,
                'exit_status': study.exit_status,
            }
        )
    return pd.DataFrame(rows)


def find_interfaces(plane: str | None = None, **filters) -> pd.DataFrame:
    """One row per interface of the matching studies (of ``plane`` only, if given): study pk, interface,
    materials, Miller indices and E_f (eV/Å²) per mode."""
    frames = []
    for study, _ in study_query(plane=plane, **filters).all():
        results = study.outputs.ranking.results.get_dataframe()
        if plane is not None:
            results = results[group_labels(results, 'miller') == plane_pair(plane)]
        columns = ['interface', 'lower', 'upper', 'miller_lower', 'miller_upper']
        energies = [f'energy_{mode}' for mode in MODES if f'energy_{mode}' in results]
        frames.append(results[columns + energies].assign(study=study.pk))
    if not frames:
        return pd.DataFrame()
    table = pd.concat(frames, ignore_index=True)
    return table[['study', *table.columns[:-1]]]


def failed_runs(materials=()) -> pd.DataFrame:
    """One row per process a study called that failed (non-zero exit status, excepted or killed), over every
    study containing all ``materials``: study pk, call link label, process, pk, exit status and the reason."""
    builder = orm.QueryBuilder()
    study_filter = {'process_type': f'aiida.workflows:{STUDY_ENTRY_POINT}'}
    builder.append(orm.WorkChainNode, filters=study_filter, tag='study', project='*')
    if materials:
        edge = {'label': SUMMARY_LINK}
        filters = {'attributes.elements': {'contains': sorted(set(materials))}}
        builder.append(orm.Dict, with_incoming='study', edge_filters=edge, filters=filters)
    failed = {
        'or': [
            {'attributes.exit_status': {'>': 0}},
            {'attributes.process_state': {'in': ['excepted', 'killed']}},
        ]
    }
    builder.append(orm.ProcessNode, with_incoming='study', filters=failed, edge_project='label', project='*', tag='run')
    builder.order_by({'study': {'ctime': 'asc'}, 'run': {'ctime': 'asc'}})
    rows = []
    for row in builder.dict():
        study, run, label = row['study']['*'], row['run']['*'], row['study--run']['label']
        exception = (run.exception or '').strip().splitlines()
        rows.append(
            {
                'study': study.pk,
                'label': label,
                'process': f'{run.process_label}<{run.pk}>',
                'exit_status': run.exit_status,
                'reason': run.exit_message or (exception[-1] if exception else run.process_state.value),
            }
        )
    return pd.DataFrame(rows)
