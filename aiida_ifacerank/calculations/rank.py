"""``ifacerank.rank``: the ranking analysis as a calcfunction on a few aggregated table nodes."""

from __future__ import annotations

import pandas as pd
from aiida.engine import calcfunction
from aiida.orm import Dict

from aiida_ifacerank.analysis import analyse
from aiida_ifacerank.analysis.metrics import check_tolerance
from aiida_ifacerank.analysis.ranking import partitions_of
from aiida_ifacerank.analysis.table import (
    energy_column,
    exit_status_column,
    failure_column,
    mode_from_port,
    mode_port,
    modes_in,
    validate_table,
)
from aiida_ifacerank.data import TableData

METADATA_COLUMNS = ('interface', 'lower', 'upper', 'miller_lower', 'miller_upper', 'class')
PARAMETER_NAMES = ('reference', 'top_n', 'threshold', 'window', 'tolerance', 'max_abs_energy', 'group_by', 'subsets')


def rank_inputs(table: pd.DataFrame, **parameters) -> dict:
    """Split a results table into the inputs of :func:`rank`: ``interfaces``, one node per mode, ``parameters``."""
    table = validate_table(table)
    unknown = sorted(set(parameters) - set(PARAMETER_NAMES))
    if unknown:
        raise ValueError(f'unknown analysis parameter(s) {unknown}: use {list(PARAMETER_NAMES)}.')
    inputs = {'interfaces': TableData(table[[c for c in METADATA_COLUMNS if c in table]])}
    for mode in modes_in(table):
        columns = {
            energy_column(mode): 'energy',
            exit_status_column(mode): 'exit_status',
            failure_column(mode): 'failure',
        }
        inputs[mode_port(mode)] = TableData(table[list(columns)].rename(columns=columns))
    partitions_of(table, parameters.get('group_by') or [], parameters.get('subsets'))  # bad groups fail here
    check_tolerance(parameters.get('tolerance', 0.0))  # and a negative tolerance
    inputs['parameters'] = Dict(parameters)
    return inputs


@calcfunction
def rank(interfaces: TableData, parameters: Dict | None = None, **energies: TableData) -> dict:
    """Rank the interfaces in every evaluation mode and compare the modes.

    ``interfaces``: metadata table (one row per interface). ``energies``: one table per mode, port
    named by :func:`~aiida_ifacerank.analysis.table.mode_port`, columns ``energy`` (eV/Å²),
    ``exit_status`` and ``failure``, rows in the order of ``interfaces``. ``parameters``: keyword
    arguments of :func:`~aiida_ifacerank.analysis.analyse`.
    Returns tables ``stats``, ``results``, ``completeness`` and ``inversions``, and the resolved
    ``analysis_parameters`` (reference mode, units, which mode pairs had too many inversions to list).
    """
    table = interfaces.get_dataframe()
    for port, node in energies.items():
        mode = mode_from_port(port)
        if node.num_rows != len(table):
            raise ValueError(f'input {port!r} has {node.num_rows} rows but interfaces has {len(table)}.')
        frame = node.get_dataframe()
        table[energy_column(mode)] = frame['energy'].to_numpy()
        table[exit_status_column(mode)] = frame['exit_status'].to_numpy()
        table[failure_column(mode)] = frame['failure'].to_numpy()
    analysis = analyse(table, **(parameters.get_dict() if parameters is not None else {}))
    return {
        'stats': TableData(analysis.stats),
        'results': TableData(analysis.results),
        'completeness': TableData(analysis.completeness),
        'inversions': TableData(analysis.inversions),
        'analysis_parameters': Dict(analysis.parameters),
    }
