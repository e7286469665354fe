"""The per-interface energy table that every analysis reads: layout, validation and CSV input.

One row per interface. Columns:

- ``interface`` (str, unique), ``lower`` and ``upper`` (material of the bottom and top slab),
  optionally ``miller_lower`` / ``miller_upper`` (e.g. ``'001'``) and ``class``
  (``homostructure``, ``heterostructure`` or ``ordered alloy``; derived from ``lower``/``upper``
  when absent, an ordered alloy must be marked by the producer);
- per evaluation mode ``M`` (see :data:`MODES`): ``energy_M`` (interface formation energy,
  eV/Å²), optionally ``exit_status_M`` (0 finished, > 0 the job's exit code, -1 no result) and
  ``failure_M`` (why it failed, free text).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MODES = ('DFT@DFT', 'MLP@MLP', 'DFT@MLP', 'MLP@DFT')
"""Evaluation modes, ``relaxed-with@evaluated-with``; the first is the reference."""

CLASSES = ('homostructure', 'heterostructure', 'ordered alloy')
REQUIRED_COLUMNS = ('interface', 'lower', 'upper')
EXIT_MISSING = -1
"""``exit_status`` value for an interface × mode that has no result at all."""


def energy_column(mode: str) -> str:
    """Column holding the energies (eV/Å²) of ``mode``."""
    return f'energy_{mode}'


def exit_status_column(mode: str) -> str:
    """Column holding the exit status of the job that produced ``mode``'s energy."""
    return f'exit_status_{mode}'


def failure_column(mode: str) -> str:
    """Column holding the failure reason of ``mode``."""
    return f'failure_{mode}'


def check_modes(modes) -> tuple[str, ...]:
    """Return ``modes`` in canonical order, raising ``ValueError`` for an unknown or repeated name."""
    modes = tuple(modes)
    unknown = [mode for mode in modes if mode not in MODES]
    if unknown:
        raise ValueError(f'unknown evaluation mode(s) {unknown}: use names from {list(MODES)} (relaxed@evaluated).')
    if len(set(modes)) != len(modes):
        raise ValueError(f'evaluation modes {list(modes)} contain duplicates.')
    if not modes:
        raise ValueError(f'no evaluation mode given: use names from {list(MODES)}.')
    return tuple(mode for mode in MODES if mode in modes)


def modes_in(table: pd.DataFrame) -> tuple[str, ...]:
    """Evaluation modes that have an ``energy_*`` column in ``table``, validated."""
    names = [column.removeprefix('energy_') for column in table.columns if column.startswith('energy_')]
    try:
        return check_modes(names)
    except ValueError as exception:
        raise ValueError(f'energy columns {[f"energy_{n}" for n in names]}: {exception}') from None


def build_table(
    interfaces,
    lower,
    upper,
    energies: dict,
    miller_lower=None,
    miller_upper=None,
    classes=None,
    exit_statuses: dict | None = None,
    failures: dict | None = None,
) -> pd.DataFrame:
    """Assemble a validated table from per-column sequences of equal length.

    ``energies``, ``exit_statuses`` and ``failures`` map a mode name to a sequence (eV/Å², int, str).
    """
    columns = {'interface': interfaces, 'lower': lower, 'upper': upper}
    optional = {'miller_lower': miller_lower, 'miller_upper': miller_upper, 'class': classes}
    columns.update({name: values for name, values in optional.items() if values is not None})
    for mode, values in energies.items():
        columns[energy_column(mode)] = values
    for mode, values in (exit_statuses or {}).items():
        columns[exit_status_column(mode)] = values
    for mode, values in (failures or {}).items():
        columns[failure_column(mode)] = values
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f'columns have mismatched lengths {lengths}: give one value per interface in each.')
    return validate_table(pd.DataFrame(columns))


def validate_table(table: pd.DataFrame) -> pd.DataFrame:
    """Check ``table`` and return a normalised copy (string metadata, float energies, int exit statuses).

    Raises ``ValueError`` naming the offending column and what to do.
    """
    if len(table) == 0:
        raise ValueError('the results table is empty: it needs one row per interface.')
    missing = [column for column in REQUIRED_COLUMNS if column not in table.columns]
    if missing:
        raise ValueError(f'the results table lacks column(s) {missing}; required: {list(REQUIRED_COLUMNS)}.')
    modes = modes_in(table)
    for prefix in ('exit_status_', 'failure_'):
        for column in table.columns:
            if column.startswith(prefix) and column.removeprefix(prefix) not in modes:
                raise ValueError(
                    f'column {column!r} has no matching energy column: add energy_{column[len(prefix) :]}.'
                )
    table = table.copy()
    for column in ('interface', 'lower', 'upper', 'miller_lower', 'miller_upper', 'class'):
        if column in table.columns:
            if table[column].isna().any():
                raise ValueError(f'column {column!r} has empty cells: every interface needs a value.')
            table[column] = table[column].astype(str)
            if (table[column] == '').any():
                raise ValueError(f'column {column!r} has empty cells: every interface needs a value.')
    duplicated = table['interface'][table['interface'].duplicated()].unique()
    if len(duplicated):
        raise ValueError(f'interface ids must be unique; repeated: {list(duplicated[:5])}.')
    if 'class' not in table.columns:
        table['class'] = np.where(table['lower'] == table['upper'], 'homostructure', 'heterostructure')
    unknown_classes = sorted(set(table['class'].unique()) - set(CLASSES))
    if unknown_classes:
        raise ValueError(f'column "class" has unknown value(s) {unknown_classes}: use {list(CLASSES)}.')
    for mode in modes:
        column = energy_column(mode)
        try:
            table[column] = np.asarray(table[column].to_numpy(), dtype=float)
        except (ValueError, TypeError) as exception:
            raise ValueError(f'column {column!r} must hold numbers (eV/Å²): {exception}') from None
        status = exit_status_column(mode)
        if status in table.columns:
            values = pd.to_numeric(table[status], errors='coerce')
            if values.isna().any():
                raise ValueError(f'column {status!r} must hold an integer in every row (0 ok, -1 missing).')
            table[status] = values.astype(np.int64)
        else:
            table[status] = np.zeros(len(table), dtype=np.int64)
        failure = failure_column(mode)
        table[failure] = table[failure].fillna('').astype(str) if failure in table.columns else ''
    return table.reset_index(drop=True)


def read_results_csv(path) -> pd.DataFrame:
    """Read a results CSV (lines starting with ``#`` are comments) into a validated table.

    An empty energy cell means no result (exit status -1 unless the file gives one); the text
    ``nan`` or ``inf`` means the job returned that value.
    """
    raw = pd.read_csv(path, comment='#', dtype=str, keep_default_na=False, skipinitialspace=True)
    for mode in modes_in(raw):
        column, status = energy_column(mode), exit_status_column(mode)
        empty = raw[column].str.strip() == ''
        given = raw[status].str.strip() if status in raw.columns else pd.Series('', index=raw.index)
        given = given.where(given != '', '0')
        raw[status] = given.where(~(empty & (given == '0')), str(EXIT_MISSING))
        raw[column] = raw[column].where(~empty, 'nan')
    return validate_table(raw)


def mode_port(mode: str) -> str:
    """Identifier-safe name of a mode for AiiDA ports (``'DFT@MLP'`` → ``'dft_mlp'``)."""
    return check_modes([mode])[0].lower().replace('@', '_')


def mode_from_port(port: str) -> str:
    """Inverse of :func:`mode_port`."""
    modes = {mode_port(mode): mode for mode in MODES}
    if port not in modes:
        raise ValueError(f'unknown evaluation mode input {port!r}: use {sorted(modes)}.')
    return modes[port]
