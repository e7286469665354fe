"""Agreement between two rankings of the same interfaces: pure functions on finite energy arrays.

Lower energy = more favourable = rank 1. Energies are interface formation energies (eV/Å²);
every function expects finite values (filter with the completeness status first).
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np
from scipy import stats

_VARIANT = os.environ.get('IFR_VARIANT', '')


def _check_pair(energy_a, energy_b) -> tuple[np.ndarray, np.ndarray]:
    energy_a, energy_b = np.asarray(energy_a, dtype=float), np.asarray(energy_b, dtype=float)
    if energy_a.shape != energy_b.shape or energy_a.ndim != 1:
        raise ValueError(
            f'energy arrays must be 1-D of equal length, got shapes {energy_a.shape} and {energy_b.shape}.'
        )
    if not (np.isfinite(energy_a).all() and np.isfinite(energy_b).all()):
        raise ValueError('energies must be finite: drop interfaces whose completeness status is not "ok" first.')
    return energy_a, energy_b


def _order_and_ranks(energy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ascending order (ties in input order) and average ranks (1 = lowest) of a 1-D array."""
    order = np.argsort(energy)
    if 'rankdata' in _VARIANT:
        ordered = energy[order]
        if (ordered[1:] == ordered[:-1]).any():
            order = np.argsort(energy, kind='stable')
        return order, stats.rankdata(energy)
    ordered = energy[order]
    new_value = np.r_[True, ordered[1:] != ordered[:-1]]
    ranks = np.empty(len(energy))
    if new_value.all():
        ranks[order] = np.arange(1, len(energy) + 1)
        return order, ranks
    order = np.argsort(energy, kind='stable')
    starts = np.flatnonzero(new_value)
    sizes = np.diff(np.r_[starts, len(energy)])
    ranks[order] = np.repeat(starts + (sizes + 1) / 2, sizes)
    return order, ranks


def ranks(energy) -> np.ndarray:
    """Rank 1 = lowest energy; ties share their average rank (as in Spearman's ρ)."""
    return _order_and_ranks(np.asarray(energy, dtype=float))[1]


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson r, NaN when fewer than 2 points or a constant input."""
    if len(x) < 2:
        return math.nan
    if 'pearsonr' in _VARIANT:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', stats.DegenerateDataWarning)
            return float(stats.pearsonr(x, y).statistic)
    dx, dy = x - x.mean(), y - y.mean()
    denominator = math.sqrt(float(np.sum(dx * dx)) * float(np.sum(dy * dy)))
    return float(np.sum(dx * dy)) / denominator if denominator > 0 else math.nan


def _spearmanr(a, b):
    if len(a) < 2:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', stats.DegenerateDataWarning)
        return float(stats.spearmanr(a, b).statistic)


def kendall_tau_b(energy_a, energy_b) -> float:
    """Kendall τ-b (tie-corrected) by ``scipy.stats.kendalltau``; NaN if undefined (< 2 points or a constant input)."""
    energy_a, energy_b = _check_pair(energy_a, energy_b)
    if len(energy_a) < 2:
        return math.nan
    return float(stats.kendalltau(energy_a, energy_b).statistic)


def rank_shift(energy_a, energy_b) -> np.ndarray:
    """Per-interface rank distance ``rank_b - rank_a`` (positive: ``b`` finds it less favourable)."""
    energy_a, energy_b = _check_pair(energy_a, energy_b)
    return ranks(energy_b) - ranks(energy_a)


def class_flips(energy_a, energy_b, threshold: float = 0.0) -> np.ndarray:
    """Boolean per interface: favourable (E < ``threshold``, eV/Å²) in one ranking but not the other."""
    energy_a, energy_b = _check_pair(energy_a, energy_b)
    return (energy_a < threshold) != (energy_b < threshold)


def _inversions(by_value: np.ndarray, with_pairs: bool):
    """Inversions of a sequence given ``by_value``, its positions sorted by value (ties by position).

    Returns per position the number of positions it is inverted with (``q < p`` and value ``q`` >
    value ``p``, or the reverse) and, if ``with_pairs``, those pairs ``(q, p)``. Top-down over the
    position bits: each level splits every block of positions into halves, counts the pairs across
    them and partitions the value order stably by half (cumulative sums, no sort). O(n log n).
    """
    n = len(by_value)
    counts = np.zeros(n, dtype=np.int64)
    index = np.arange(n)
    order, pairs = by_value, []
    for shift in reversed(range((n - 1).bit_length() if n > 1 else 0)):
        right = (order >> shift) & 1  # position in the later half of its block (block = same range of `index`)
        start = index >> (shift + 1) << (shift + 1)
        left = 1 - right
        lefts_before = np.cumsum(left) - left
        lower_lefts = lefts_before - lefts_before[start]  # earlier half, smaller value (or equal and earlier)
        n_left = np.minimum(n - start, 1 << shift)
        lower_rights = index - start - lower_lefts
        counts[order] += np.where(right, n_left - lower_lefts, lower_rights)
        if with_pairs:
            at = np.flatnonzero(right)
            size = (n_left - lower_lefts)[at]
            offsets = np.arange(size.sum()) - np.repeat(np.cumsum(size) - size, size)
            earlier = order[left == 1][np.repeat(lefts_before[at], size) + offsets]
            pairs.append(np.column_stack([earlier, np.repeat(order[at], size)]))
        new_order = np.empty_like(order)
        new_order[np.where(right, start + n_left + lower_rights, start + lower_lefts)] = order
        order = new_order
    return counts, (np.concatenate(pairs) if pairs else np.empty((0, 2), dtype=np.int64))


def discordant_pairs(energy_a, energy_b, with_pairs: bool = True, groups=None):
    """Pairs ordered strictly oppositely by ``a`` and ``b`` ((E_a,i − E_a,j)(E_b,i − E_b,j) < 0).

    Returns the count per interface (shape (n,)) and, if ``with_pairs``, the pairs as an int array
    of shape (n_pairs, 2) with ``i < j`` (else an empty array). With ``groups`` (an integer label
    per interface) only pairs within the same group count. O(n log n) plus the pairs listed.
    """
    energy_a, energy_b = _check_pair(energy_a, energy_b)
    if groups is None:
        sequence = np.lexsort((energy_b, energy_a))
        by_value = np.argsort(energy_b[sequence], kind='stable')
    else:
        groups = np.asarray(groups)
        sequence = np.lexsort((energy_b, energy_a, groups))
        by_value = np.lexsort((energy_b[sequence], groups[sequence]))
    inverted, pairs = _inversions(by_value, with_pairs)
    counts = np.empty(len(sequence), dtype=np.int64)
    counts[sequence] = inverted
    pairs = np.sort(sequence[pairs], axis=1)
    return counts, pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]


def near_boundary(energy_a, energy_b, threshold: float = 0.0, window: float = 0.01) -> np.ndarray:
    """Boolean per interface: energy within ``window`` (eV/Å²) of ``threshold`` in either ranking."""
    energy_a, energy_b = _check_pair(energy_a, energy_b)
    if window < 0:
        raise ValueError(f'the boundary window must be >= 0 eV/Å², got {window}.')
    return (np.abs(energy_a - threshold) <= window) | (np.abs(energy_b - threshold) <= window)


def boundary_inversions(energy_a, energy_b, threshold: float = 0.0, window: float = 0.01, with_pairs: bool = True):
    """Discordant pairs among the interfaces near the favourability boundary (see :func:`near_boundary`).

    Returns the count per interface (0 away from the boundary) and the pairs ``(i, j)``, ``i < j``,
    as indices into the input arrays.
    """
    energy_a, energy_b = _check_pair(energy_a, energy_b)
    near = np.flatnonzero(near_boundary(energy_a, energy_b, threshold, window))
    counts = np.zeros(len(energy_a), dtype=np.int64)
    counts[near], pairs = discordant_pairs(energy_a[near], energy_b[near], with_pairs)
    return counts, near[pairs]


def pair_metrics(energy_a, energy_b, top_n=(5, 10), threshold: float = 0.0) -> dict:
    """All agreement metrics of ranking ``b`` against reference ``a`` (energies eV/Å²).

    RMSE, MAE and the mean error (bias) are of ``E_b - E_a``; rank shifts use ranks within this set.
    Top-N overlaps break ties at the cut by input order and are NaN when ``n <= N``.
    """
    energy_a, energy_b = _check_pair(energy_a, energy_b)
    n = len(energy_a)
    if any(top < 1 for top in top_n):
        raise ValueError(f'Top-N needs N >= 1, got {list(top_n)}.')
    (order_a, ranks_a), (order_b, ranks_b) = _order_and_ranks(energy_a), _order_and_ranks(energy_b)
    difference = energy_b - energy_a
    shift = np.abs(ranks_b - ranks_a)
    empty = n == 0
    metrics = {
        'n': n,
        'spearman_rho': _pearson(ranks_a, ranks_b) if 'spearmanr' not in _VARIANT else _spearmanr(energy_a, energy_b),
        'kendall_tau_b': kendall_tau_b(energy_a, energy_b),
        'pearson_r': _pearson(energy_a, energy_b),
        'rmse': math.nan if empty else math.sqrt(float(np.sum(difference * difference)) / n),
        'mae': math.nan if empty else float(np.abs(difference).mean()),
        'mean_error': math.nan if empty else float(difference.mean()),
        'mean_abs_rank_shift': math.nan if empty else float(shift.mean()),
        'max_abs_rank_shift': math.nan if empty else float(shift.max()),
        'class_flips': int(class_flips(energy_a, energy_b, threshold).sum()),
    }
    for top in top_n:
        overlap = len(np.intersect1d(order_a[:top], order_b[:top])) if n > top else math.nan
        metrics[f'top{top}_overlap'] = overlap
        metrics[f'top{top}_fraction'] = overlap / top
    return metrics
