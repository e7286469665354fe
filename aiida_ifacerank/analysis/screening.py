"""DFT cost saved by screening interfaces with an MLP before relaxing them with DFT: pure numpy/pandas.

Lower energy = more favourable. Energies are interface formation energies (eV/Å²), costs the DFT cost of each
candidate in any unit (e.g. core-hours of its DFT relaxation); every function expects finite values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def screening_cost(reference, screen, cost, top_n: int) -> pd.DataFrame:
    """DFT cost of finding k of the DFT top N by relaxing with DFT the MLP's most favourable candidates first.

    ``reference`` (DFT@DFT) and ``screen`` (MLP@MLP) are formation energies (eV/Å²) and ``cost`` the DFT cost
    of each candidate (>= 0, any unit), 1-D over the same interfaces. The DFT top N (N = ``top_n`` <= n) breaks
    ties at the cut by input order, as does the MLP order. One row per k = 1..N: ``candidates_needed`` m_k, the
    fewest of the MLP's most favourable that hold k of the DFT top N; ``fraction_needed`` = m_k / n;
    ``cost_needed``, the cost of those m_k; ``cost_saved`` = total cost − ``cost_needed``; ``fraction_saved``
    = ``cost_saved`` / total cost.
    """
    arrays = [np.asarray(values, dtype=float) for values in (reference, screen, cost)]
    reference, screen, cost = arrays
    if reference.ndim != 1 or any(values.shape != reference.shape for values in arrays):
        raise ValueError(
            'reference, screen and cost must be 1-D of equal length, '
            f'got shapes {", ".join(str(values.shape) for values in arrays)}.'
        )
    if not all(np.isfinite(values).all() for values in arrays):
        raise ValueError('energies and costs must be finite: drop interfaces whose completeness status is not "ok".')
    if (cost < 0).any() or not cost.sum() > 0:
        raise ValueError('costs must be >= 0 with a positive total.')
    n = len(reference)
    if not 1 <= top_n <= n:
        raise ValueError(f'top_n must be between 1 and the number of interfaces ({n}), got {top_n}.')
    top = np.argsort(reference, kind='stable')[:top_n]
    order = np.argsort(screen, kind='stable')
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(1, n + 1)  # 1 = the MLP's most favourable
    needed = np.sort(position[top])
    cumulative = np.cumsum(cost[order])
    total = cumulative[-1]  # the same sum as cost_needed at m = n: nothing saved is exactly 0
    cost_needed = cumulative[needed - 1]
    return pd.DataFrame(
        {
            'top_n': top_n,
            'k': np.arange(1, top_n + 1),
            'candidates_needed': needed,
            'fraction_needed': needed / n,
            'cost_needed': cost_needed,
            'cost_saved': total - cost_needed,
            'fraction_saved': (total - cost_needed) / total,
        }
    )
