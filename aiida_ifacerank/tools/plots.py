"""Figures (matplotlib ``Figure`` objects, no pyplot state, no AiiDA).

Every ``plot_*`` function of a study report returns a :class:`~matplotlib.figure.Figure`;
:func:`save_figure` writes it as PNG and SVG, :func:`save_report_plots` makes and saves all of them
from a :class:`~aiida_ifacerank.analysis.RankingAnalysis`. Energies are interface formation
energies E_f in eV/Å².
"""

from __future__ import annotations

import itertools
import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import BoundaryNorm, ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Patch
from matplotlib.ticker import MaxNLocator, ScalarFormatter
from pymatgen.core import Structure

from aiida_ifacerank.analysis.metrics import ranks, top_n_overlaps
from aiida_ifacerank.analysis.ranking import GROUP_KEYS, group_labels
from aiida_ifacerank.analysis.selection import NOT_SELECTED
from aiida_ifacerank.analysis.table import MODES
from aiida_ifacerank.science.lattice import parse_miller

MODE_COLOURS = {'DFT@DFT': '0.15', 'MLP@MLP': 'tab:blue', 'DFT@MLP': 'tab:orange', 'MLP@DFT': 'tab:purple'}
"""One colour per evaluation mode, the same in every figure."""

STATUS_COLOURS = {
    'ok': '#2ca02c',
    'failed': '#d62728',
    'missing': '#8c8c8c',
    'not in subset': '#d9d9d9',
    'unphysical': '#ff7f0e',
    'nan': '#9467bd',
    'inf': '#8c564b',
}
"""Colour of each completeness status (see :data:`aiida_ifacerank.analysis.STATUSES`); others get spare colours."""

SPARE_COLOURS = ('#e377c2', '#17becf', '#bcbd22', '#1f77b4', '#7f7f7f', '#aec7e8')
MARKERS = ('o', 's', '^', 'D', 'v', 'P', 'X', '<', '>', 'h')
ENERGY_UNIT = 'eV/Å²'
GROUP_TITLES = {
    'pair': 'lower|upper',
    'miller': 'planes lower|upper',
    'lower': 'lower',
    'upper': 'upper',
    'class': 'class',
}
REPORT_PLOTS = ('energy_parity', 'rank_parity', 'top_n_overlap', 'group_correlations', 'completeness')
"""File names (without suffix) that :func:`save_report_plots` writes."""


def save_figure(figure: Figure, directory, name: str, formats=('png', 'svg'), dpi: int = 150) -> list[Path]:
    """Write ``figure`` as ``directory/name.<format>`` for each of ``formats``; return the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for extension in formats:
        path = directory / f'{name}.{extension}'
        figure.savefig(path, dpi=dpi, format=extension)
        paths.append(path)
    return paths


def save_report_plots(analysis, directory, color_by: str | None = 'pair') -> dict[str, list[Path]]:
    """Make every report figure of ``analysis`` (a ``RankingAnalysis``) and save it (:func:`save_figure`).

    Returns the written paths per figure name (:data:`REPORT_PLOTS`).
    """
    parameters = analysis.parameters
    reference = parameters.get('reference')
    threshold = parameters.get('threshold_ev_ang2', 0.0)
    tolerance = parameters.get('tolerance_ev_ang2', 0.0)
    figures = {
        'energy_parity': plot_energy_parity(analysis.results, reference, threshold=threshold, color_by=color_by),
        'rank_parity': plot_rank_parity(analysis.results, reference, tolerance=tolerance, color_by=color_by),
        'top_n_overlap': plot_top_n_overlap(
            analysis.results, reference, tolerance=tolerance, marked=parameters.get('top_n', ())
        ),
        'group_correlations': plot_group_correlations(analysis.stats, reference),
        'completeness': plot_completeness(analysis.completeness),
    }
    return {name: save_figure(figure, directory, name) for name, figure in figures.items()}


# ---------------------------------------------------------------- helpers on the results table


def modes_of(results: pd.DataFrame) -> list[str]:
    """Evaluation modes with an ``energy_<mode>`` column in ``results``, in the order of :data:`MODES`."""
    return [mode for mode in MODES if f'energy_{mode}' in results.columns]


def _reference_and_modes(results: pd.DataFrame, reference, modes) -> tuple[str, list[str]]:
    present = modes_of(results)
    if not present:
        raise ValueError(f'the results table has no energy_<mode> column (modes: {list(MODES)}).')
    reference = present[0] if reference is None else reference
    if reference not in present:
        raise ValueError(f'reference mode {reference!r} has no column energy_{reference}; present: {present}.')
    modes = [mode for mode in present if mode != reference] if modes is None else list(modes)
    missing = [mode for mode in modes if mode not in present]
    if missing:
        raise ValueError(f'mode(s) {missing} have no energy column; present: {present}.')
    if not modes:
        raise ValueError(f'nothing to compare with {reference!r}: the table has no other mode.')
    return reference, modes


def status_of(results: pd.DataFrame, mode: str) -> np.ndarray:
    """Status per interface of ``mode``: the ``status_<mode>`` column, else ``ok`` where the energy is finite."""
    if f'status_{mode}' in results.columns:
        return results[f'status_{mode}'].to_numpy(dtype=object)
    energy = results[f'energy_{mode}'].to_numpy(dtype=float)
    return np.where(np.isfinite(energy), 'ok', 'nan').astype(object)


def paired(results: pd.DataFrame, reference: str, mode: str):
    """Mask of interfaces with an ``ok`` energy in both modes, and the count of the others by reason.

    An interface left out counts under ``mode``'s status, or the reference's when ``mode`` is ``ok``.
    """
    status_reference, status_mode = status_of(results, reference), status_of(results, mode)
    both = (status_reference == 'ok') & (status_mode == 'ok')
    reasons = np.where(status_mode != 'ok', status_mode, status_reference)[~both]
    return both, dict(zip(*np.unique(reasons.astype(str), return_counts=True), strict=True))


def count_title(mode: str, n: int, left_out: dict, extra: str = '', width: int = 36) -> str:
    """Panel title: ``mode`` (and ``extra``) over ``n = 38 (2 failed, 2 missing)``, wrapped at ``width`` characters."""
    details = ', '.join(f'{count} {reason}' for reason, count in sorted(left_out.items()))
    counts = f'n = {n}' + (f' ({details})' if details else '')
    return '\n'.join([mode + (f', {extra}' if extra else ''), *textwrap.wrap(counts, width)])


def _mode_colour(mode: str, number: int) -> str:
    """Colour of ``mode`` (:data:`MODE_COLOURS`), else of the ``number``-th line of the default cycle."""
    return MODE_COLOURS.get(mode, f'C{number % 10}')


def _category_styles(categories) -> dict:
    """Colour and marker per category label: distinct colours up to 20, then markers vary too."""
    categories = list(categories)
    palette = colormaps['tab10' if len(categories) <= 10 else 'tab20'].colors
    return {
        category: (palette[i % len(palette)], MARKERS[(i // len(palette)) % len(MARKERS)])
        for i, category in enumerate(categories)
    }


def _categories(results: pd.DataFrame, color_by) -> np.ndarray:
    if color_by is None:
        return np.full(len(results), 'all interfaces', dtype=object)
    if color_by not in GROUP_KEYS:
        raise ValueError(f'color_by must be None or one of {list(GROUP_KEYS)}, got {color_by!r}.')
    return group_labels(results, color_by).to_numpy(dtype=object)


def _empty(axis, text: str = 'no interface with an energy in both modes') -> None:
    axis.text(0.5, 0.5, text, transform=axis.transAxes, ha='center', va='center', color='0.4', wrap=True)


def _scatter_categories(axis, x, y, categories, styles) -> None:
    for category, (colour, marker) in styles.items():
        selected = categories == category
        if selected.any():
            axis.scatter(
                x[selected],
                y[selected],
                color=colour,
                marker=marker,
                s=30,
                alpha=0.8,
                edgecolors='k',
                linewidths=0.4,
                label=category,
                zorder=3,
            )


def _panels(count: int, size: float = 4.0, extra: float = 2.2):
    figure = Figure(figsize=(size * count + extra, size + 1.3), layout='constrained')
    return figure, figure.subplots(1, count, squeeze=False)[0]


# ---------------------------------------------------------------- report figures


def plot_energy_parity(
    results: pd.DataFrame, reference: str | None = None, modes=None, threshold: float = 0.0, color_by='pair'
) -> Figure:
    """E_f of each mode (y) against the reference (x), one panel per mode, in eV/Å².

    Only interfaces ``ok`` in both modes are plotted; the others are counted in the panel title.
    All panels share their limits (which include ``threshold``), with the y = x line and the
    favourability threshold as dotted lines. Points are coloured by ``color_by`` (a grouping key of
    :func:`~aiida_ifacerank.analysis.ranking.group_labels`, or ``None``).
    """
    reference, modes = _reference_and_modes(results, reference, modes)
    categories = _categories(results, color_by)
    styles = _category_styles(pd.unique(categories))
    x_all = results[f'energy_{reference}'].to_numpy(dtype=float)
    pairs = {mode: paired(results, reference, mode) for mode in modes}
    shown = [threshold]
    for mode, (both, _) in pairs.items():
        shown += [*x_all[both], *results[f'energy_{mode}'].to_numpy(dtype=float)[both]]
    low, high = min(shown), max(shown)
    pad = 0.05 * (high - low) if high > low else max(0.01, 0.05 * abs(high))
    limits = (low - pad, high + pad)

    figure, axes = _panels(len(modes))
    for axis, mode in zip(axes, modes, strict=True):
        both, left_out = pairs[mode]
        y_all = results[f'energy_{mode}'].to_numpy(dtype=float)
        _scatter_categories(axis, x_all[both], y_all[both], categories[both], styles)
        axis.plot(limits, limits, color='k', linewidth=0.8, zorder=1)
        axis.axvline(threshold, color='0.45', linestyle=':', linewidth=1, zorder=1)
        axis.axhline(threshold, color='0.45', linestyle=':', linewidth=1, zorder=1)
        axis.set(xlim=limits, ylim=limits, aspect='equal', title=count_title(mode, int(both.sum()), left_out))
        axis.set_xlabel(f'E$_f$ {reference} ({ENERGY_UNIT})')
        axis.set_ylabel(f'E$_f$ {mode} ({ENERGY_UNIT})')
        axis.xaxis.set_major_locator(MaxNLocator(5))
        axis.yaxis.set_major_locator(MaxNLocator(5))
        axis.grid(alpha=0.25)
        if not both.any():
            _empty(axis)
    guides = [
        Line2D([], [], color='k', linewidth=0.8, label='y = x'),
        Line2D([], [], color='0.45', linestyle=':', label=f'threshold {threshold:g} {ENERGY_UNIT}'),
    ]
    handles = [Line2D([], [], linestyle='', marker=m, color=c, markeredgecolor='k') for c, m in styles.values()]
    figure.legend(
        handles + guides,
        [*styles, *(guide.get_label() for guide in guides)],
        loc='outside right upper',
        title=GROUP_TITLES.get(color_by) if color_by is not None else None,
        ncols=math.ceil(len(styles) / 25),
    )
    figure.suptitle(f'Interface formation energy against {reference}')
    return figure


def plot_rank_parity(
    results: pd.DataFrame, reference: str | None = None, modes=None, tolerance: float = 0.0, color_by='pair'
) -> Figure:
    """Rank in each mode (y) against the reference rank (x), one panel per mode; rank 1 = lowest E_f.

    Ranks are within the interfaces ``ok`` in both modes (ties: ``tolerance`` eV/Å², average rank),
    so y − x is the ``rank_shift_<mode>`` column of the analysis. Titles give n, the interfaces left
    out and Spearman ρ.
    """
    reference, modes = _reference_and_modes(results, reference, modes)
    categories = _categories(results, color_by)
    styles = _category_styles(pd.unique(categories))
    pairs = {mode: paired(results, reference, mode) for mode in modes}
    largest = max((int(both.sum()) for both, _ in pairs.values()), default=0)
    limits = (0.5 - 0.03 * largest, largest + 0.5 + 0.03 * largest)

    figure, axes = _panels(len(modes))
    for axis, mode in zip(axes, modes, strict=True):
        both, left_out = pairs[mode]
        n = int(both.sum())
        rho = ''
        if n:
            rank_x = ranks(results[f'energy_{reference}'].to_numpy(dtype=float)[both], tolerance)
            rank_y = ranks(results[f'energy_{mode}'].to_numpy(dtype=float)[both], tolerance)
            _scatter_categories(axis, rank_x, rank_y, categories[both], styles)
            if n > 1 and np.ptp(rank_x) > 0 and np.ptp(rank_y) > 0:
                rho = f'ρ = {np.corrcoef(rank_x, rank_y)[0, 1]:.2f}'
        else:
            _empty(axis)
        title = count_title(mode, n, left_out, rho)
        axis.plot(limits, limits, color='k', linewidth=0.8, zorder=1)
        axis.set(xlim=limits, ylim=limits, aspect='equal', title=title)
        axis.set_xlabel(f'rank {reference} (1 = lowest E$_f$)')
        axis.set_ylabel(f'rank {mode}')
        axis.xaxis.set_major_locator(MaxNLocator(6, integer=True))
        axis.yaxis.set_major_locator(MaxNLocator(6, integer=True))
        axis.grid(alpha=0.25)
    handles = [Line2D([], [], linestyle='', marker=m, color=c, markeredgecolor='k') for c, m in styles.values()]
    guide = Line2D([], [], color='k', linewidth=0.8)
    figure.legend(
        [*handles, guide],
        [*styles, 'y = x'],
        loc='outside right upper',
        title=GROUP_TITLES.get(color_by) if color_by is not None else None,
        ncols=math.ceil(len(styles) / 25),
    )
    figure.suptitle(f'Ranks against {reference}' + (f' (ties within {tolerance:g} {ENERGY_UNIT})' if tolerance else ''))
    return figure


def top_n_curve(results: pd.DataFrame, reference: str, mode: str, tolerance: float = 0.0) -> np.ndarray:
    """Top-N overlap fraction of ``mode`` against ``reference`` for N = 1 … n (interfaces ``ok`` in both)."""
    both, _ = paired(results, reference, mode)
    overlaps = top_n_overlaps(
        results[f'energy_{reference}'].to_numpy(dtype=float)[both],
        results[f'energy_{mode}'].to_numpy(dtype=float)[both],
        tolerance,
    )
    return overlaps / np.arange(1, len(overlaps) + 1)


def plot_top_n_overlap(
    results: pd.DataFrame, reference: str | None = None, modes=None, tolerance: float = 0.0, marked=()
) -> Figure:
    """Fraction of the reference's Top-N also in each mode's Top-N, for N = 1 … n (one line per mode).

    n: interfaces ``ok`` in both modes; Top-N as in :func:`~aiida_ifacerank.analysis.metrics.pair_metrics`
    (ties within ``tolerance`` eV/Å², broken by input order at the cut). The dashed line N/n is the
    expected fraction of a random ranking; ``marked`` N (e.g. the analysis' Top-N) get dotted lines.
    """
    reference, modes = _reference_and_modes(results, reference, modes)
    figure = Figure(figsize=(7.5, 4.8), layout='constrained')
    axis = figure.subplots()
    sizes = []
    for number, mode in enumerate(modes):
        fraction = top_n_curve(results, reference, mode, tolerance)
        n = len(fraction)
        sizes.append(n)
        axis.plot(
            np.arange(1, n + 1),
            fraction,
            marker=MARKERS[number % len(MARKERS)],
            markersize=3.5,
            linewidth=1.4,
            color=_mode_colour(mode, number),
            label=f'{mode} (n = {n})',
        )
    distinct = sorted(set(sizes) - {0})
    label = 'random ranking, N/n' + (f' (n = {distinct[0]}–{distinct[-1]})' if len(distinct) > 1 else '')
    for number, n in enumerate(distinct):  # one line per distinct n, one legend entry
        axis.plot([0, n], [0, 1], linestyle='--', color='0.5', linewidth=1, label=None if number else label)
    largest = max(sizes, default=0)
    for top in marked:
        if top <= largest:
            axis.axvline(top, color='0.75', linestyle=':', linewidth=1, zorder=0)
    if not largest:
        _empty(axis)
    axis.set(xlim=(0, max(largest, 1) + 0.5), ylim=(-0.03, 1.04), title=f'Top-N overlap with {reference}')
    axis.set_xlabel('N (Top-N: the N lowest E$_f$ of each ranking)')
    axis.set_ylabel(f'fraction of the Top-N of {reference}')
    axis.xaxis.set_major_locator(MaxNLocator(10, integer=True))
    axis.grid(alpha=0.25)
    axis.legend(loc='best')
    return figure


def group_label(key: str, group: str) -> str:
    """Readable label of a stats group: ``all``, a subset's name, or ``pair: Si|Ge``."""
    return str(group) if key in ('all', 'subset') else f'{key}: {group}'


def plot_group_correlations(
    stats: pd.DataFrame, reference: str | None = None, metrics=('spearman_rho', 'kendall_tau_b')
) -> Figure:
    """Per group (``group_key``, ``group``) of ``stats``, bars of each metric for each mode against ``reference``.

    One panel per metric, bars grouped by stats group, one colour per mode. A NaN metric (fewer than
    two interfaces, or all of them tied in one ranking) leaves a gap marked ``n<2`` or ``tied``.
    """
    rows = stats[stats['mode_a'] == (stats['mode_a'].iloc[0] if reference is None else reference)]
    if rows.empty:
        raise ValueError(f'stats has no rows with mode_a {reference!r}; present: {list(pd.unique(stats["mode_a"]))}.')
    reference = rows['mode_a'].iloc[0]
    modes = list(pd.unique(rows['mode_b']))
    groups = list(dict.fromkeys(zip(rows['group_key'], rows['group'], strict=True)))
    positions, position, previous = [], 0.0, None
    for key, _ in groups:
        position += 1.0 + (0.5 if previous is not None and key != previous else 0.0)
        positions.append(position)
        previous = key
    positions = np.array(positions)
    width = 0.8 / len(modes)
    names = {'spearman_rho': 'Spearman ρ', 'kendall_tau_b': 'Kendall τ$_b$', 'pearson_r': 'Pearson r'}

    figure = Figure(figsize=(max(7.0, 0.22 * len(groups) * len(modes) + 2.5), 2.6 * len(metrics) + 1.6))
    figure.set_layout_engine('constrained')
    axes = figure.subplots(len(metrics), 1, sharex=True, squeeze=False)[:, 0]
    indexed = rows.set_index(['group_key', 'group', 'mode_b'])
    for axis, metric in zip(axes, metrics, strict=True):
        for j, mode in enumerate(modes):
            offsets = positions + (j - (len(modes) - 1) / 2) * width
            values = np.array([indexed.loc[(key, group, mode), metric] for key, group in groups], dtype=float)
            sizes = np.array([indexed.loc[(key, group, mode), 'n'] for key, group in groups])
            finite = np.isfinite(values)
            axis.bar(offsets[finite], values[finite], width, color=_mode_colour(mode, j), edgecolor='none')
            for offset, n in zip(offsets[~finite], sizes[~finite], strict=True):
                reason = 'n<2' if n < 2 else 'tied'
                axis.text(offset, 0.04, reason, rotation=90, ha='center', va='bottom', fontsize=7, color='0.35')
        axis.axhline(0, color='k', linewidth=0.8)
        for boundary in np.flatnonzero([a[0] != b[0] for a, b in itertools.pairwise(groups)]):
            axis.axvline((positions[boundary] + positions[boundary + 1]) / 2, color='0.8', linewidth=0.8)
        axis.set(ylim=(min(-0.1, np.nanmin(rows[metric].to_numpy(dtype=float), initial=0) - 0.1), 1.08))
        axis.set_ylabel(names.get(metric, metric) + f' vs {reference}')
        axis.grid(axis='y', alpha=0.3)
    counts = rows.groupby(['group_key', 'group'], sort=False)['n_interfaces'].first()
    axes[-1].set_xticks(positions, [f'{group_label(*group)} ({counts[group]})' for group in groups])
    axes[-1].tick_params(axis='x', labelrotation=40)
    for label in axes[-1].get_xticklabels():
        label.set(ha='right', rotation_mode='anchor')
    axes[-1].set_xlabel('group (number of interfaces)')
    axes[-1].set_xlim(positions[0] - 0.7, positions[-1] + 0.7)
    handles = [Patch(facecolor=_mode_colour(mode, j), label=mode) for j, mode in enumerate(modes)]
    figure.legend(handles=handles, loc='outside upper center', ncols=len(modes))
    return figure


def plot_completeness(completeness: pd.DataFrame, max_labels: int = 60) -> Figure:
    """Status of every interface (rows) × mode (columns) from the long completeness table.

    One discrete colour per status present (:data:`STATUS_COLOURS`), legend with counts;
    interface names on the y axis when there are at most ``max_labels`` interfaces. A pair absent
    from the table shows as ``missing``.
    """
    interfaces = list(pd.unique(completeness['interface']))
    modes = list(pd.unique(completeness['mode']))
    status = completeness['status'].where(completeness['reason'] != NOT_SELECTED, 'not in subset')
    grid = (
        completeness.assign(status=status)
        .pivot(index='interface', columns='mode', values='status')
        .reindex(index=interfaces, columns=modes)
        .fillna('missing')
        .astype(str)
    )
    present = set(np.unique(grid.to_numpy()))
    statuses = [status for status in STATUS_COLOURS if status in present] + sorted(present - set(STATUS_COLOURS))
    spare = iter(SPARE_COLOURS * (len(statuses) // len(SPARE_COLOURS) + 1))
    colours = {status: STATUS_COLOURS[status] if status in STATUS_COLOURS else next(spare) for status in statuses}
    codes = grid.replace({status: code for code, status in enumerate(statuses)}).to_numpy(dtype=int)

    labelled = len(interfaces) <= max_labels
    height = 1.8 + 0.19 * len(interfaces) if labelled else 7.0
    longest = max((len(str(name)) for name in interfaces), default=0) if labelled else 0
    figure = Figure(figsize=(3.2 + 0.07 * longest + 1.1 * len(modes), height), layout='constrained')
    axis = figure.subplots()
    image = axis.imshow(
        codes,
        aspect='auto',
        interpolation='nearest',
        cmap=ListedColormap([colours[status] for status in statuses]),
        norm=BoundaryNorm(np.arange(len(statuses) + 1) - 0.5, len(statuses)),
    )
    axis.set_xticks(range(len(modes)), modes)
    axis.xaxis.tick_top()
    if labelled:
        axis.set_yticks(range(len(interfaces)), interfaces, fontsize=8 if len(interfaces) <= 30 else 7)
        axis.set_yticks(np.arange(len(interfaces) + 1) - 0.5, minor=True)
    else:
        axis.set_yticks([])
        axis.set_ylabel(f'{len(interfaces)} interfaces (in table order)')
    axis.set_xticks(np.arange(len(modes) + 1) - 0.5, minor=True)
    axis.grid(which='minor', color='white', linewidth=1.0 if labelled else 1.5)
    axis.tick_params(which='minor', length=0)
    counts = pd.Series(grid.to_numpy().ravel()).value_counts()
    handles = [Patch(facecolor=colours[status], label=f'{status} ({counts[status]})') for status in statuses]
    figure.legend(handles=handles, loc='outside right upper', title='status')
    axis.set_title(f'Completeness: {len(interfaces)} interfaces × {len(modes)} modes')
    image.set_label('status')
    return figure


# ---------------------------------------------------------------- matched planes (generation)


def stereographic(vector) -> tuple[float, float]:
    """Stereographic projection (upper hemisphere, from the south pole) of a direction."""
    x, y, z = np.asarray(vector, dtype=float) / np.linalg.norm(vector)
    if z < 0:
        x, y, z = -x, -y, -z
    return x / (1 + z), y / (1 + z)


def plane_normal(structure: Structure, miller: str) -> np.ndarray:
    """Cartesian normal of the plane ``miller`` (text such as ``'001'`` or ``'1,-1,0'``) of ``structure``."""
    return structure.lattice.reciprocal_lattice.get_cartesian_coords(parse_miller(miller))


def miller_label(miller: str) -> str:
    """Plane label in crystallographic notation: ``'1-10'`` → (1 1̄ 0) as mathtext, ``(1,-10,0)`` beyond one digit."""
    indices = parse_miller(miller)
    if all(abs(i) < 10 for i in indices):
        return '$(' + ''.join(rf'\bar{{{-i}}}' if i < 0 else str(i) for i in indices) + ')$'
    return '(' + ','.join(map(str, indices)) + ')'


def shared_norm(values) -> Normalize:
    """One colour normalisation for all ``values``; equal values get a range around them, mapped to its middle."""
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    if not len(finite):
        return Normalize(0.0, 1.0)
    low, high = float(finite.min()), float(finite.max())
    if high == low:
        pad = 0.05 * abs(low) if low else 0.01
        low, high = low - pad, high + pad
    return Normalize(low, high)


def plot_matched_planes(
    lower: Structure, upper: Structure, matches: list[dict], path=None, color_by: str = 'von_mises_strain'
):
    """Stereographic projections of the matched planes of both crystals, coloured by ``color_by``.

    ``matches``: rows with ``miller_lower``, ``miller_upper`` and the ``color_by`` value
    (``von_mises_strain`` or ``area_ang2``). Both panels share one colour normalisation, so equal
    values have equal colours; where planes coincide the lowest value is drawn on top. Saves the
    figure at ``path`` (format from its suffix) and returns ``path``; without ``path`` returns the Figure.
    """
    if color_by not in ('von_mises_strain', 'area_ang2'):
        raise ValueError(f'color_by must be von_mises_strain or area_ang2, got {color_by!r}.')
    if not matches:
        raise ValueError('no matched planes to plot.')
    # rounded: equal strains computed along different paths differ in the last digits (1e-17), not in colour
    values = np.round(np.array([match[color_by] for match in matches], dtype=float), 10)
    label = 'von Mises strain' if color_by == 'von_mises_strain' else 'area (Å²)'
    norm, cmap = shared_norm(values), colormaps['viridis']
    order = np.argsort(-values, kind='stable')  # the lowest value last, on top
    figure = Figure(figsize=(10, 5), layout='constrained')
    axes = figure.subplots(1, 2)
    for axis, structure, key, title in (
        (axes[0], lower, 'miller_lower', 'lower'),
        (axes[1], upper, 'miller_upper', 'upper'),
    ):
        axis.add_patch(Circle((0, 0), 1, fill=False, color='0.5'))
        points = np.array([stereographic(plane_normal(structure, matches[i][key])) for i in order])
        axis.scatter(points[:, 0], points[:, 1], c=values[order], cmap=cmap, norm=norm, s=60, edgecolors='k')
        labelled = set()
        for (x, y), i in zip(points, order, strict=True):
            plane = parse_miller(matches[i][key])
            if plane not in labelled:
                labelled.add(plane)
                axis.annotate(miller_label(matches[i][key]), (x, y), textcoords='offset points', xytext=(6, 6))
        axis.set(
            xlim=(-1.1, 1.1),
            ylim=(-1.1, 1.1),
            aspect='equal',
            title=f'{title}: {structure.composition.reduced_formula}',
        )
        axis.axis('off')
    mappable = ScalarMappable(norm=norm, cmap=cmap)
    if np.ptp(values) == 0:  # one value: a bar of its one colour, with one tick
        extra = {'boundaries': [norm.vmin, norm.vmax], 'values': [values[0]], 'ticks': [values[0]]}
    else:
        extra = {'ticks': MaxNLocator(6)}
    formatter = ScalarFormatter(useOffset=False)
    formatter.set_scientific(False)
    figure.colorbar(mappable, ax=axes, label=label, shrink=0.8, format=formatter, **extra)
    if path is None:
        return figure
    figure.savefig(path, dpi=120)
    return path
