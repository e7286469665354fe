"""Completeness of a results table: which interface × mode has a usable energy, and if not, why."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .table import EXIT_MISSING, energy_column, exit_status_column, failure_column, modes_in

STATUSES = ('ok', 'missing', 'failed', 'nan', 'inf', 'unphysical')
"""Status of one interface × mode; only ``ok`` values enter rankings and metrics."""

MAX_ABS_ENERGY_EV_ANG2 = 1.0
"""Default plausibility bound on ``|E|``, E the interface formation energy (eV/Å², = 16.0 J/m²)."""


def classify(table: pd.DataFrame, mode: str, max_abs_energy: float | None = MAX_ABS_ENERGY_EV_ANG2):
    """Status and reason per interface for ``mode`` of a validated table.

    A failed job (exit status > 0) or a missing result (-1) wins over its energy value; a finished
    job gives ``nan``, ``inf``, ``unphysical`` (``|E|`` > ``max_abs_energy`` eV/Å², ``None`` disables)
    or ``ok``. Returns two object arrays of ``str`` of length ``len(table)``.
    """
    energy = table[energy_column(mode)].to_numpy(dtype=float)
    exit_status = table[exit_status_column(mode)].to_numpy()
    failure = table[failure_column(mode)].to_numpy(dtype=object)
    status = np.full(len(table), 'ok', dtype=object)
    reason = np.full(len(table), '', dtype=object)

    finished = exit_status == 0
    bad_value = finished & ~np.isfinite(energy)
    status[bad_value & np.isnan(energy)] = 'nan'
    status[bad_value & np.isinf(energy)] = 'inf'
    reason[bad_value] = 'job finished but returned a non-finite energy'
    if max_abs_energy is not None:
        unphysical = finished & np.isfinite(energy) & (np.abs(energy) > max_abs_energy)
        status[unphysical] = 'unphysical'
        reason[unphysical] = [f'|E| = {abs(e):.4g} eV/Å² > {max_abs_energy:g} eV/Å²' for e in energy[unphysical]]
    missing = exit_status == EXIT_MISSING
    status[missing] = 'missing'
    reason[missing] = np.where(failure[missing] != '', failure[missing], 'no result')
    failed = (exit_status != 0) & ~missing
    status[failed] = 'failed'
    reason[failed] = [
        f'exit status {code}' + (f': {text}' if text else '')
        for code, text in zip(exit_status[failed], failure[failed], strict=True)
    ]
    if (exit_status < EXIT_MISSING).any():
        raise ValueError(f'column {exit_status_column(mode)!r} has negative values other than {EXIT_MISSING}.')
    return status, reason


def completeness(table: pd.DataFrame, max_abs_energy: float | None = MAX_ABS_ENERGY_EV_ANG2) -> pd.DataFrame:
    """Long table: one row per interface × mode with ``status``, ``exit_status``, ``energy`` and ``reason``."""
    modes = modes_in(table)
    status, reason = zip(*(classify(table, mode, max_abs_energy) for mode in modes), strict=True)
    return pd.DataFrame(
        {
            'interface': np.tile(table['interface'].to_numpy(dtype=object), len(modes)),
            'mode': np.repeat(np.array(modes, dtype=object), len(table)),
            'status': np.concatenate(status),
            'exit_status': np.concatenate([table[exit_status_column(mode)].to_numpy() for mode in modes]),
            'energy': np.concatenate([table[energy_column(mode)].to_numpy(dtype=float) for mode in modes]),
            'reason': np.concatenate(reason),
        }
    )


def completeness_summary(report: pd.DataFrame) -> pd.DataFrame:
    """Counts of each status per mode (rows: modes, columns: :data:`STATUSES`, ``total``, ``fraction_ok``)."""
    counts = pd.crosstab(report['mode'], report['status']).reindex(columns=list(STATUSES), fill_value=0)
    counts = counts.reindex(pd.unique(report['mode']))
    counts['total'] = counts[list(STATUSES)].sum(axis=1)
    counts['fraction_ok'] = counts['ok'] / counts['total']
    return counts.rename_axis(index='mode', columns=None)
