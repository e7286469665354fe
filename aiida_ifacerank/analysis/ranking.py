"""Ranking analysis of a results table: per-interface ranks and flags, per-group statistics."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .completeness import MAX_ABS_ENERGY_EV_ANG2, completeness, completeness_summary
from .metrics import (
    boundary_inversions,
    check_tolerance,
    class_flips,
    discordant_pairs,
    near_boundary,
    pair_metrics,
    rank_shift,
    ranks,
    tie_levels,
)
from .table import check_modes, energy_column, exit_status_column, failure_column, modes_in, validate_table

GROUP_KEYS = ('lower', 'upper', 'pair', 'miller', 'class')
"""Ways to split the interfaces into material systems; ``all`` is always added."""


@dataclass
class RankingAnalysis:
    """Everything :func:`analyse` finds; energies in eV/Å²."""

    results: pd.DataFrame
    """One row per interface: metadata; per mode energy, status, exit status, failure, rank and bulk-like
    flag; flags against the reference (rank shift, class flip, boundary inversions). Readable by
    ``read_results_csv``."""
    stats: pd.DataFrame
    """One row per mode pair × group: ``n`` and every metric."""
    completeness: pd.DataFrame
    """One row per interface × mode: status and reason."""
    inversions: pd.DataFrame
    """One row per pair of near-boundary interfaces whose order flips between two modes."""
    parameters: dict = field(default_factory=dict)

    @property
    def completeness_summary(self) -> pd.DataFrame:
        return completeness_summary(self.completeness)

    def write(self, directory) -> dict[str, Path]:
        """Write ``results.csv``, ``stats.csv``, ``completeness.csv`` and ``inversions.csv``; return their paths."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = {}
        for name in ('results', 'stats', 'completeness', 'inversions'):
            paths[name] = directory / f'{name}.csv'
            getattr(self, name).to_csv(paths[name], index=False, na_rep='nan')
        return paths


def group_labels(table: pd.DataFrame, key: str) -> pd.Series:
    """Label of every interface under grouping ``key`` (see :data:`GROUP_KEYS`)."""
    if key in ('lower', 'upper', 'class'):
        return table[key]
    if key == 'pair':
        return table['lower'] + '|' + table['upper']
    if key == 'miller':
        if not {'miller_lower', 'miller_upper'} <= set(table.columns):
            raise ValueError('grouping by "miller" needs the columns "miller_lower" and "miller_upper".')
        return '(' + table['miller_lower'] + ')|(' + table['miller_upper'] + ')'
    raise ValueError(f'unknown grouping {key!r}: use {list(GROUP_KEYS)}.')


def _small_ints(codes: np.ndarray) -> np.ndarray:
    """Group codes in the narrowest integer type, so that stable sorts of them are radix sorts."""
    return codes.astype(np.int16 if codes.max(initial=0) < np.iinfo(np.int16).max else np.int64)


def partitions_of(table: pd.DataFrame, group_by, subsets) -> list[tuple[str, list[str], np.ndarray]]:
    """``(key, labels, code per interface)``: ``all``, each grouping key, each named subset (code -1 = outside)."""
    partitions = [('all', ['all'], np.zeros(len(table), dtype=np.int16))]
    for key in group_by:
        codes, labels = pd.factorize(group_labels(table, key), sort=True)
        partitions.append((key, [str(label) for label in labels], _small_ints(codes)))
    for name, selection in (subsets or {}).items():
        try:
            mask = np.asarray(table.eval(selection) if isinstance(selection, str) else selection, dtype=bool)
        except Exception as exception:
            raise ValueError(
                f'subset {name!r}: cannot evaluate {selection!r} on the table ({exception}); write a condition on '
                f'its columns, with backticks around names that are Python keywords, e.g. `class`.'
            ) from None
        if mask.shape != (len(table),):
            raise ValueError(f'subset {name!r} must give one boolean per interface, got shape {mask.shape}.')
        if not mask.any():
            raise ValueError(f'subset {name!r} ({selection!r}) selects no interfaces: check its condition.')
        partitions.append(('subset', [name], np.where(mask, 0, -1).astype(np.int16)))
    return partitions


def _inversion_table(table, energies, mode_a, mode_b, pairs) -> pd.DataFrame:
    """One row per inverted pair ``(i, j)`` of row indices, with both energies in both modes (eV/Å²)."""
    interfaces = table['interface'].to_numpy()
    i, j = pairs[:, 0], pairs[:, 1]
    return pd.DataFrame(
        {
            'mode_a': mode_a,
            'mode_b': mode_b,
            'interface_i': interfaces[i],
            'interface_j': interfaces[j],
            'energy_i_a': energies[mode_a][i],
            'energy_j_a': energies[mode_a][j],
            'energy_i_b': energies[mode_b][i],
            'energy_j_b': energies[mode_b][j],
        }
    )


def analyse(
    table: pd.DataFrame,
    reference: str | None = None,
    top_n=(5, 10),
    threshold: float = 0.0,
    window: float = 0.01,
    max_abs_energy: float | None = MAX_ABS_ENERGY_EV_ANG2,
    group_by=None,
    subsets: dict | None = None,
    max_listed_inversions: int = 100_000,
    tolerance: float = 0.0,
) -> RankingAnalysis:
    """Compare every pair of evaluation modes in ``table`` (see :mod:`~aiida_ifacerank.analysis.table` for its layout).

    :param reference: mode the others are compared with per interface (default: first present of
        ``DFT@DFT, MLP@MLP, DFT@MLP, MLP@DFT``).
    :param top_n: list of N for the Top-N overlaps.
    :param threshold: favourable/unfavourable boundary (eV/Å²); favourable means E < threshold
        (class flips: see ``tolerance``).
    :param window: half-width (eV/Å²) around ``threshold`` in which order flips are flagged.
    :param max_abs_energy: ``|E|`` above this (eV/Å²) is ``unphysical``; ``None`` disables the check.
    :param group_by: grouping keys (default: all of :data:`GROUP_KEYS` the table supports).
    :param subsets: extra named groups, each a ``DataFrame.eval`` condition or a boolean mask.
    :param max_listed_inversions: a mode pair with more boundary inversions than this is counted
        (per interface and per group) but its pairs are not listed in ``inversions``.
    :param tolerance: energies closer than this (eV/Å², >= 0) rank as ties, in single-linkage tie
        groups formed among the interfaces compared (:func:`.metrics.tie_levels`); an interface
        with threshold - tolerance <= E < threshold + tolerance is undecided, never a class flip
        (:func:`.metrics.class_flips`); ``|E|`` <= tolerance is ``bulk_like``. 0: only equal energies tie.
    """
    table = validate_table(table)
    tolerance = check_tolerance(tolerance)
    modes = modes_in(table)
    if len(modes) < 2:
        raise ValueError(f'ranking agreement needs energies of at least two modes, the table has {list(modes)}.')
    reference = modes[0] if reference is None else check_modes([reference])[0]
    if reference not in modes:
        raise ValueError(f'reference mode {reference!r} has no column energy_{reference}; present: {list(modes)}.')
    top_n = tuple(int(n) for n in top_n)
    if any(n < 1 for n in top_n):
        raise ValueError(f'Top-N values must be >= 1, got {list(top_n)}.')
    if group_by is None:
        has_miller = {'miller_lower', 'miller_upper'} <= set(table.columns)
        group_by = [key for key in GROUP_KEYS if key != 'miller' or has_miller]
    partitions = partitions_of(table, group_by, subsets)

    energies = {mode: table[energy_column(mode)].to_numpy(dtype=float) for mode in modes}
    report = completeness(table, max_abs_energy)
    status = dict(zip(modes, report['status'].to_numpy().reshape(len(modes), len(table)), strict=True))
    valid = {mode: status[mode] == 'ok' for mode in modes}

    metadata = [c for c in ('interface', 'lower', 'upper', 'miller_lower', 'miller_upper', 'class') if c in table]
    results = table[metadata].copy()
    for mode in modes:
        results[f'energy_{mode}'] = energies[mode]
        results[f'status_{mode}'] = status[mode]
        results[f'exit_status_{mode}'] = table[exit_status_column(mode)].to_numpy()
        results[f'failure_{mode}'] = table[failure_column(mode)].to_numpy()
        rank = np.full(len(table), math.nan)
        rank[valid[mode]] = ranks(energies[mode][valid[mode]], tolerance)
        results[f'rank_{mode}'] = rank
        results[f'bulk_like_{mode}'] = pd.arrays.BooleanArray(np.abs(energies[mode]) <= tolerance, ~valid[mode])
    favourable = valid[reference] & (energies[reference] < threshold)
    results[f'favourable_{reference}'] = pd.arrays.BooleanArray(favourable, ~valid[reference])

    stats_rows, inversion_frames, unlisted = [], [], []
    for mode_a, mode_b in itertools.combinations(modes, 2):
        both = valid[mode_a] & valid[mode_b]
        common = np.flatnonzero(both)
        energy_a, energy_b = energies[mode_a][both], energies[mode_b][both]
        counts, _ = boundary_inversions(energy_a, energy_b, threshold, window, with_pairs=False, tolerance=tolerance)
        near_common = near_boundary(energy_a, energy_b, threshold, window)
        order_a, order_b = (np.argsort(energy_a), np.argsort(energy_b)) if tolerance > 0 else (None, None)
        if counts.sum() // 2 <= max_listed_inversions:
            pairs = common[boundary_inversions(energy_a, energy_b, threshold, window, tolerance=tolerance)[1]]
            inversion_frames.append(_inversion_table(table, energies, mode_a, mode_b, pairs))
        else:
            unlisted.append(f'{mode_a} vs {mode_b}')
        if mode_a == reference:
            shift = np.full(len(table), math.nan)
            flips, count = np.zeros_like(both), np.zeros_like(both, np.int64)
            shift[both] = rank_shift(energy_a, energy_b, tolerance)
            flips[both] = class_flips(energy_a, energy_b, threshold, tolerance)
            count[both] = counts
            results[f'rank_shift_{mode_b}'] = shift
            results[f'class_flip_{mode_b}'] = pd.arrays.BooleanArray(flips, ~both)
            results[f'boundary_inversions_{mode_b}'] = pd.arrays.IntegerArray(count, ~both)
        for key, labels, codes in partitions:
            codes_common = codes[common]
            order = np.argsort(codes_common, kind='stable')
            bounds = np.searchsorted(codes_common[order], np.arange(len(labels) + 1))
            sizes = np.bincount(codes[codes >= 0], minlength=len(labels))
            near = np.flatnonzero(near_common & (codes_common >= 0))
            value_a, value_b = energy_a, energy_b
            if tolerance > 0:  # pairs ordered by their tie levels within the group
                value_a = tie_levels(energy_a, tolerance, codes_common, order_a)
                value_b = tie_levels(energy_b, tolerance, codes_common, order_b)
            inverted = discordant_pairs(value_a[near], value_b[near], with_pairs=False, groups=codes_common[near])[0]
            inversions = np.bincount(codes_common[near], inverted, len(labels)) // 2  # each pair counted twice
            for code, label in enumerate(labels):
                rows = order[bounds[code] : bounds[code + 1]]
                row = {'mode_a': mode_a, 'mode_b': mode_b, 'group_key': key, 'group': label}
                row['n_interfaces'] = int(sizes[code])
                row.update(pair_metrics(energy_a[rows], energy_b[rows], top_n, threshold, tolerance))
                row['boundary_inversions'] = int(inversions[code])
                stats_rows.append(row)

    parameters = {
        'modes': list(modes),
        'reference': reference,
        'top_n': list(top_n),
        'threshold_ev_ang2': threshold,
        'window_ev_ang2': window,
        'tolerance_ev_ang2': tolerance,
        'max_abs_energy_ev_ang2': max_abs_energy,
        'max_listed_inversions': max_listed_inversions,
        'inversions_not_listed': unlisted,
        'group_by': list(group_by),
        'subsets': {name: s for name, s in (subsets or {}).items() if isinstance(s, str)},
    }
    columns = ['mode_a', 'mode_b', 'group_key', 'group', 'n_interfaces']
    stats = pd.DataFrame(stats_rows, columns=columns + list(stats_rows[0])[len(columns) :])
    inversions = (
        pd.concat(inversion_frames, ignore_index=True)
        if inversion_frames
        else _inversion_table(table, energies, modes[0], modes[1], np.empty((0, 2), dtype=np.int64))
    )
    return RankingAnalysis(results, stats, report, inversions, parameters)
