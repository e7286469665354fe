"""Agreement between two rankings of the same interfaces: pure functions on finite energy arrays.

Lower energy = more favourable = rank 1. Energies are interface formation energies (eV/Å²);
every function expects finite values (filter with the completeness status first). A ``tolerance``
(eV/Å², default 0: only equal energies tie) makes closer energies rank as ties (:func:`tie_levels`)
and interfaces at threshold − tolerance <= E < threshold + tolerance undecided (:func:`class_flips`).
"""

from __future__ import annotations

import math

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


def check_tolerance(tolerance) -> float:
    """``tolerance`` (eV/Å²) as a float; ``ValueError`` unless it is >= 0."""
    tolerance = float(tolerance)
    if not tolerance >= 0:  # also refuses NaN
        raise ValueError(f'tolerance must be >= 0 eV/Å² (0: only equal energies tie), got {tolerance}.')
    return tolerance


def _new_levels(ordered: np.ndarray, tolerance: float) -> np.ndarray:
    """True where a tie group starts in ascending ``ordered``: a gap > 0 and >= ``tolerance`` (eV/Å²) before it."""
    new = np.ones(len(ordered), dtype=bool)
    new[1:] = ordered[1:] != ordered[:-1] if tolerance == 0 else ordered[1:] - ordered[:-1] >= tolerance
    return new


def tie_levels(energy, tolerance: float, groups=None, order=None) -> np.ndarray:
    """Tie group of every energy (eV/Å²) as an integer level (0, 1, ...) ascending with the energy.

    Single linkage: consecutive sorted energies closer than ``tolerance`` (eV/Å²), or equal, share a
    group, so a chain of close energies ties from end to end however far apart its ends are. With
    ``groups`` (an integer label per energy) the chains form within each group only. ``order``:
    ``np.argsort(energy)`` where the caller has it already.
    """
    energy = np.asarray(energy, dtype=float)
    tolerance = check_tolerance(tolerance)
    order = np.argsort(energy) if order is None else order
    if groups is not None:
        order = order[np.argsort(np.asarray(groups)[order], kind='stable')]
    new = _new_levels(energy[order], tolerance)
    if groups is not None:
        ordered_groups = np.asarray(groups)[order]
        new[1:] |= ordered_groups[1:] != ordered_groups[:-1]
    levels = np.empty(len(energy), dtype=np.int64)
    levels[order] = np.cumsum(new) - 1
    return levels


def _order_and_ranks(energy: np.ndarray, tolerance: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Ascending order (ties in any order) and average ranks (1 = lowest; ties: tie groups, :func:`tie_levels`).

    Own code, not ``scipy.stats.rankdata`` (same ranks at ``tolerance`` 0): one unstable sort gives
    order and ranks; rankdata sorts stably and gives no order (9.7 vs 2.2 ms per call on n = 100,000).
    With it, ``analyse`` of 100,000 interfaces × 4 modes (``benchmarks/bench_rank.py``, 912 calls)
    took 1.76 s instead of 1.12 s.
    """
    order = np.argsort(energy)
    new_level = _new_levels(energy[order], tolerance)
    ranks = np.empty(len(energy))
    if new_level.all():
        ranks[order] = np.arange(1, len(energy) + 1)
        return order, ranks
    starts = np.flatnonzero(new_level)
    sizes = np.diff(np.r_[starts, len(energy)])
    ranks[order] = np.repeat(starts + (sizes + 1) / 2, sizes)
    return order, ranks


def _top(order: np.ndarray, ranks: np.ndarray, top: int) -> np.ndarray:
    """The ``top`` interfaces of lowest rank, ties at the cut by input order (``order``: ranks ascending, n > top).

    Only the tie group at the cut is searched, instead of sorting all interfaces stably.
    """
    cut = ranks[order[top - 1]]
    if ranks[order[top]] != cut:
        return order[:top]
    below = order[:top][ranks[order[:top]] < cut]
    return np.r_[below, np.flatnonzero(ranks == cut)[: top - len(below)]]


def ranks(energy, tolerance: float = 0.0) -> np.ndarray:
    """Rank 1 = lowest energy; a tie group (:func:`tie_levels`, ``tolerance`` eV/Å²) shares its average rank.

    At ``tolerance`` 0 the same as ``scipy.stats.rankdata``.
    """
    return _order_and_ranks(np.asarray(energy, dtype=float), check_tolerance(tolerance))[1]


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson r of two arrays that are not constant (NaN if their spread underflows).

    Own code, not ``scipy.stats.pearsonr`` (same r; it raises below 2 points and warns on a constant
    input): 0.17 vs 0.02 ms per call on n = 2,000. With it, ``analyse`` of 100,000 interfaces × 4
    modes (``benchmarks/bench_rank.py``, 912 calls) took 1.37 s instead of 1.12 s.
    """
    dx, dy = x - x.mean(), y - y.mean()
    denominator = math.sqrt(float(np.sum(dx * dx)) * float(np.sum(dy * dy)))
    return float(np.sum(dx * dy)) / denominator if denominator > 0 else math.nan


def kendall_tau_b(energy_a, energy_b) -> float:
    """Kendall τ-b (tie-corrected, as ``scipy.stats.kendalltau``); NaN if undefined (< 2 points or a constant input).

    Up to 100 interfaces from the signs of all pairs: kendalltau costs ≈0.18 ms per call at any n
    (all pairs: 0.006 ms at n = 13, 0.05 ms at n = 100); with kendalltau throughout, the 1,000-interface
    row of ``benchmarks/bench_rank.py`` (456 calls, mostly n < 100) took 0.17 s instead of 0.09 s.
    """
    energy_a, energy_b = _check_pair(energy_a, energy_b)
    if len(energy_a) > 100:
        return float(stats.kendalltau(energy_a, energy_b).statistic)
    sign_a = np.sign(energy_a[:, None] - energy_a[None, :])
    sign_b = np.sign(energy_b[:, None] - energy_b[None, :])
    denominator = math.sqrt(float(np.abs(sign_a).sum()) * float(np.abs(sign_b).sum()))
    return float((sign_a * sign_b).sum()) / denominator if denominator > 0 else math.nan


def rank_shift(energy_a, energy_b, tolerance: float = 0.0) -> np.ndarray:
    """Per-interface rank distance ``rank_b - rank_a`` (positive: ``b`` finds it less favourable; see :func:`ranks`)."""
    energy_a, energy_b = _check_pair(energy_a, energy_b)
    return ranks(energy_b, tolerance) - ranks(energy_a, tolerance)


def class_flips(energy_a, energy_b, threshold: float = 0.0, tolerance: float = 0.0) -> np.ndarray:
    """Boolean per interface: favourable in one ranking and unfavourable in the other.

    Favourable: E < ``threshold`` − ``tolerance``; unfavourable: E >= ``threshold`` + ``tolerance``
    (eV/Å²); in between undecided, which never flips. At ``tolerance`` 0: favourable iff E < ``threshold``.
    """
    energy_a, energy_b = _check_pair(energy_a, energy_b)
    tolerance = check_tolerance(tolerance)
    below, above = threshold - tolerance, threshold + tolerance
    return ((energy_a < below) & (energy_b >= above)) | ((energy_a >= above) & (energy_b < below))


def _lexsort(*keys) -> np.ndarray:
    """``np.lexsort(keys)``: by the last key, ties by the previous ones, then by position.

    When the last key has no ties (the usual case for energies) one unstable sort of it does
    (0.1 ms instead of 1.2 ms for two keys of 10,000 values).
    """
    order = np.argsort(keys[-1])
    ordered = keys[-1][order]
    return order if (ordered[1:] != ordered[:-1]).all() else np.lexsort(keys)


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

    Any ordered values do, e.g. tie levels (:func:`tie_levels`), under which tied pairs never count.

    Returns the count per interface (shape (n,)) and, if ``with_pairs``, the pairs as an int array
    of shape (n_pairs, 2) with ``i < j`` (else an empty array). With ``groups`` (an integer label
    per interface) only pairs within the same group count. O(n log n) plus the pairs listed.
    """
    energy_a, energy_b = _check_pair(energy_a, energy_b)
    sequence = _lexsort(energy_b, energy_a)  # by a, ties by b: an inversion of b in it is a discordant pair
    if groups is not None:  # then by group (stable): never an inversion across groups
        groups = np.asarray(groups)
        sequence = sequence[np.argsort(groups[sequence], kind='stable')]
    by_value = _lexsort(energy_b[sequence])
    if groups is not None:
        by_value = by_value[np.argsort(groups[sequence][by_value], kind='stable')]
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


def boundary_inversions(
    energy_a, energy_b, threshold: float = 0.0, window: float = 0.01, with_pairs: bool = True, tolerance: float = 0.0
):
    """Discordant pairs among the interfaces near the favourability boundary (see :func:`near_boundary`).

    With ``tolerance`` > 0 (eV/Å²) pairs are ordered by their tie levels among all the input energies
    (:func:`tie_levels`). Returns the count per interface (0 away from the boundary) and the pairs
    ``(i, j)``, ``i < j``, as indices into the input arrays.
    """
    energy_a, energy_b = _check_pair(energy_a, energy_b)
    near = np.flatnonzero(near_boundary(energy_a, energy_b, threshold, window))
    if check_tolerance(tolerance) > 0:
        energy_a, energy_b = tie_levels(energy_a, tolerance), tie_levels(energy_b, tolerance)
    counts = np.zeros(len(energy_a), dtype=np.int64)
    counts[near], pairs = discordant_pairs(energy_a[near], energy_b[near], with_pairs)
    return counts, near[pairs]


def pair_metrics(energy_a, energy_b, top_n=(5, 10), threshold: float = 0.0, tolerance: float = 0.0) -> dict:
    """All agreement metrics of ranking ``b`` against reference ``a`` (energies eV/Å²).

    RMSE, MAE and the mean error (bias) are of ``E_b - E_a``, Pearson r of the energies. Spearman ρ,
    Kendall τ-b, rank shifts (ranks within this set) and Top-N overlaps use the tie groups within
    this set (:func:`tie_levels`, ``tolerance`` eV/Å²); class flips see :func:`class_flips`.
    Correlations are NaN when undefined (fewer than 2 interfaces or a constant input, for ρ and τ-b
    all in one tie group); Top-N overlaps break ties at the cut by input order and are NaN when ``n <= N``.
    """
    energy_a, energy_b = _check_pair(energy_a, energy_b)
    tolerance = check_tolerance(tolerance)
    n = len(energy_a)
    if any(top < 1 for top in top_n):
        raise ValueError(f'Top-N needs N >= 1, got {list(top_n)}.')
    (order_a, ranks_a), (order_b, ranks_b) = (
        _order_and_ranks(energy_a, tolerance),
        _order_and_ranks(energy_b, tolerance),
    )
    difference = energy_b - energy_a
    shift = np.abs(ranks_b - ranks_a)
    empty = n == 0
    constant = n < 2 or np.ptp(energy_a) == 0 or np.ptp(energy_b) == 0
    tied = n < 2 or ranks_a[order_a[0]] == ranks_a[order_a[-1]] or ranks_b[order_b[0]] == ranks_b[order_b[-1]]
    metrics = {
        'n': n,
        # Spearman ρ = Pearson r of the ranks above; scipy.stats.spearmanr ranks again (21 ms per call on
        # n = 100,000): analyse of 100,000 interfaces × 4 modes (bench_rank.py) took 1.82 s instead of 1.12 s
        'spearman_rho': math.nan if tied else _pearson(ranks_a, ranks_b),
        'kendall_tau_b': math.nan if tied else kendall_tau_b(ranks_a, ranks_b),  # ranks order and tie as tie groups
        'pearson_r': math.nan if constant else _pearson(energy_a, energy_b),
        'rmse': math.nan if empty else math.sqrt(float(np.sum(difference * difference)) / n),
        'mae': math.nan if empty else float(np.abs(difference).mean()),
        'mean_error': math.nan if empty else float(difference.mean()),
        'mean_abs_rank_shift': math.nan if empty else float(shift.mean()),
        'max_abs_rank_shift': math.nan if empty else float(shift.max()),
        'class_flips': int(class_flips(energy_a, energy_b, threshold, tolerance).sum()),
    }
    for top in top_n:
        overlap = len(np.intersect1d(_top(order_a, ranks_a, top), _top(order_b, ranks_b, top))) if n > top else math.nan
        metrics[f'top{top}_overlap'] = overlap
        metrics[f'top{top}_fraction'] = overlap / top
    return metrics


def top_n_overlaps(energy_a, energy_b, tolerance: float = 0.0) -> np.ndarray:
    """Top-N overlap of rankings ``a`` and ``b`` for every N = 1 … n: element ``N - 1`` for Top-N.

    The same Top-N sets as :func:`pair_metrics` (ranks of :func:`ranks`, ``tolerance`` eV/Å², ties at
    the cut broken by input order), so element ``N - 1`` equals its ``topN_overlap`` for N < n; at
    N = n the overlap is n. An interface is in both Top-N sets iff its later position in the two
    orders is below N, so one count of those positions gives every N in O(n log n).
    """
    energy_a, energy_b = _check_pair(energy_a, energy_b)
    tolerance = check_tolerance(tolerance)
    positions = []
    for energy in (energy_a, energy_b):
        sequence = np.argsort(_order_and_ranks(energy, tolerance)[1], kind='stable')  # ranks, ties by input order
        position = np.empty(len(energy), dtype=np.int64)
        position[sequence] = np.arange(len(energy))
        positions.append(position)
    return np.cumsum(np.bincount(np.maximum(*positions), minlength=len(energy_a)))
