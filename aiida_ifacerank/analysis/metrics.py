"""Agreement between two rankings of the same interfaces: pure functions on finite energy arrays.

Lower energy = more favourable = rank 1. Energies are interface formation energies (eV/Å²);
every function expects finite values (filter with the completeness status first).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats


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
    """Pearson r, NaN when fewer than 2 points or a constant input (sums, not BLAS: no thread spin-up)."""
    if len(x) < 2:
        return math.nan
    dx, dy = x - x.mean(), y - y.mean()
    denominator = math.sqrt(float(np.sum(dx * dx)) * float(np.sum(dy * dy)))
    return float(np.sum(dx * dy)) / denominator if denominator > 0 else math.nan


def spearman_rho(energy_a, energy_b) -> float:
    """Spearman ρ: Pearson r of average ranks (ties handled); NaN if undefined."""
    energy_a, energy_b = _check_pair(energy_a, energy_b)
    return _pearson(ranks(energy_a), ranks(energy_b))


def kendall_tau_b(energy_a, energy_b) -> float:
    """Kendall τ-b (tie-corrected); NaN if undefined (fewer than 2 points or a constant input)."""
    energy_a, energy_b = _check_pair(energy_a, energy_b)
    if len(energy_a) > 64:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', RuntimeWarning)
            return float(stats.kendalltau(energy_a, energy_b, variant='b', method='asymptotic').statistic)
    sign_a = np.sign(energy_a[:, None] - energy_a[None, :])
    sign_b = np.sign(energy_b[:, None] - energy_b[None, :])
    denominator = math.sqrt(float(np.abs(sign_a).sum()) * float(np.abs(sign_b).sum()))
    return float((sign_a * sign_b).sum()) / denominator if denominator > 0 else math.nan


def pearson_r(energy_a, energy_b) -> float:
    """Pearson r of the energies; NaN if undefined."""
    return _pearson(*_check_pair(energy_a, energy_b))


def _overlap(order_a: np.ndarray, order_b: np.ndarray, n: int) -> int | None:
    if n <= 0:
        raise ValueError(f'Top-N needs N >= 1, got {n}.')
    if len(order_a) <= n:
        return None
    return len(np.intersect1d(order_a[:n], order_b[:n]))


def top_n_overlap(energy_a, energy_b, n: int) -> int | None:
    """How many of the ``n`` most favourable interfaces of ``a`` are also in the top ``n`` of ``b``.

    Ties at the cut are broken by input order. ``None`` when there are no more than ``n``
    interfaces (the overlap would trivially be all of them).
    """
    energy_a, energy_b = _check_pair(energy_a, energy_b)
    return _overlap(_order_and_ranks(energy_a)[0], _order_and_ranks(energy_b)[0], n)


def rank_shift(energy_a, energy_b) -> np.ndarray:
    """Per-interface rank distance ``rank_b - rank_a`` (positive: ``b`` finds it less favourable)."""
    energy_a, energy_b = _check_pair(energy_a, energy_b)
    return ranks(energy_b) - ranks(energy_a)


def class_flips(energy_a, energy_b, threshold: float = 0.0) -> np.ndarray:
    """Boolean per interface: favourable (E < ``threshold``, eV/Å²) in one ranking but not the other."""
    energy_a, energy_b = _check_pair(energy_a, energy_b)
    return (energy_a < threshold) != (energy_b < threshold)


def _greater_before(values: np.ndarray, with_pairs: bool):
    """Per position ``p`` the count of ``q < p`` with ``values[q] > values[p]``; optionally those pairs ``(q, p)``.

    Bottom-up merge-sort tree, one vectorised level per doubling: O(n log n) plus the pairs listed.
    """
    n = len(values)
    counts = np.zeros(n, dtype=np.int64)
    pairs = []
    by_value = np.argsort(values, kind='stable')  # equal values keep position order: left half first
    width = 1
    while width < n:
        blocks = (by_value // (2 * width)).astype(np.uint16 if n // (2 * width) < 1 << 16 else np.uint32)
        order = by_value[np.argsort(blocks, kind='stable')]  # by block, then value (radix sort)
        right = (order // width) % 2
        left_sorted = right == 0
        cum_left = np.cumsum(left_sorted)
        right_at = np.flatnonzero(~left_sorted)
        end = np.minimum((right_at // (2 * width) + 1) * (2 * width), n)
        first, stop = cum_left[right_at], cum_left[end - 1]
        counts[order[right_at]] += stop - first
        if with_pairs and (stop > first).any():
            left_positions = np.flatnonzero(left_sorted)
            size = stop - first
            offsets = np.arange(size.sum()) - np.repeat(np.cumsum(size) - size, size)
            earlier = order[left_positions[np.repeat(first, size) + offsets]]
            pairs.append(np.column_stack([earlier, np.repeat(order[right_at], size)]))
        width *= 2
    return counts, (np.concatenate(pairs) if pairs else np.empty((0, 2), dtype=np.int64))


def discordant_pairs(energy_a, energy_b, with_pairs: bool = True):
    """Pairs ordered strictly oppositely by ``a`` and ``b`` ((E_a,i − E_a,j)(E_b,i − E_b,j) < 0).

    Returns the count per interface (shape (n,)) and, if ``with_pairs``, the pairs as an int array
    of shape (n_pairs, 2) with ``i < j`` (else an empty array). O(n log n) plus the pairs listed.
    """
    energy_a, energy_b = _check_pair(energy_a, energy_b)
    order = np.lexsort((energy_b, energy_a))
    sorted_b = energy_b[order]
    left, pairs = _greater_before(sorted_b, with_pairs)
    right, _ = _greater_before(-sorted_b[::-1], False)
    counts = np.empty(len(order), dtype=np.int64)
    counts[order] = left + right[::-1]
    pairs = np.sort(order[pairs], axis=1)
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
    """
    energy_a, energy_b = _check_pair(energy_a, energy_b)
    n = len(energy_a)
    (order_a, ranks_a), (order_b, ranks_b) = _order_and_ranks(energy_a), _order_and_ranks(energy_b)
    difference = energy_b - energy_a
    shift = np.abs(ranks_b - ranks_a)
    empty = n == 0
    metrics = {
        'n': n,
        'spearman_rho': _pearson(ranks_a, ranks_b),
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
        overlap = _overlap(order_a, order_b, top)
        metrics[f'top{top}_overlap'] = math.nan if overlap is None else overlap
        metrics[f'top{top}_fraction'] = math.nan if overlap is None else overlap / top
    return metrics
