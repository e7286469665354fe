"""Time the ranking analysis: 1,000 / 10,000 / 100,000 interfaces × 4 modes, and ``ifacerank.rank`` for 10,000.

Energies are synthetic (random, for timing only): reference E ~ N(0.05, 0.05) eV/Å², other modes
the reference plus N(0, 3–10 meV/Å²) noise, 0.5 % NaN/failed/missing, 4 materials, 7 Miller
planes per side (76 groups: all, 4 + 4 materials, 16 pairs, 49 Miller pairs, 2 classes; × 6 mode
pairs = 456 calls of ``pair_metrics``). The baseline, run in the same process, is the bare minimum an
analysis does: scipy's Spearman and Kendall of the reference against each other mode, all data
in one group. Goal: 100,000 interfaces in under 2 s. The analysis is timed at the default tolerance
0 and at ``TOLERANCE`` (column ``tol``; at this density of energies it chains most of each ranking
into a few tie groups).

Run: ``.venv/bin/python benchmarks/bench_rank.py`` (uses the default AiiDA profile, e.g. the one
``bin/demo`` makes under .aiida/, for the calcfunction).
"""

import os
import time
from pathlib import Path

import numpy as np
from scipy import stats

from aiida_ifacerank.analysis import analyse, build_table

os.environ.setdefault('AIIDA_PATH', str(Path(__file__).resolve().parents[1] / '.aiida'))
MATERIALS = np.array(['C', 'Si', 'Ge', 'Sn'])
PLANES = np.array(['001', '011', '111', '012', '112', '122', '013'])
NOISE = {'MLP@MLP': 0.010, 'DFT@MLP': 0.005, 'MLP@DFT': 0.003}
TOLERANCE = 1e-4
"""eV/Å²."""


def synthetic_table(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    reference = rng.normal(0.05, 0.05, n)
    energies = {'DFT@DFT': reference} | {mode: reference + rng.normal(0, s, n) for mode, s in NOISE.items()}
    exit_statuses = {mode: np.zeros(n, dtype=int) for mode in energies}
    for mode in NOISE:
        broken = rng.choice(n, size=max(1, n // 200), replace=False)
        energies[mode][broken[::3]] = np.nan
        exit_statuses[mode][broken[1::3]] = 410
        exit_statuses[mode][broken[2::3]] = -1
    return build_table(
        [f'if{i}' for i in range(n)],
        rng.choice(MATERIALS, n),
        rng.choice(MATERIALS, n),
        energies,
        rng.choice(PLANES, n),
        rng.choice(PLANES, n),
        exit_statuses=exit_statuses,
    )


def baseline(table) -> None:
    reference = table['energy_DFT@DFT'].to_numpy()
    for mode in NOISE:
        other = table[f'energy_{mode}'].to_numpy()
        keep = np.isfinite(reference) & np.isfinite(other) & (table[f'exit_status_{mode}'].to_numpy() == 0)
        stats.spearmanr(reference[keep], other[keep])
        stats.kendalltau(reference[keep], other[keep])


def best_of(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    analyse(synthetic_table(500))  # warm imports and caches
    tolerant_header = f'tol {TOLERANCE:g} s'
    print(f'{"interfaces":>10} {"groups":>6} {"analyse s":>10} {"baseline s":>10} {"ratio":>6} {tolerant_header:>12}')
    for n in (1_000, 10_000, 100_000):
        table = synthetic_table(n)
        repeat = 3 if n < 100_000 else 2
        full = best_of(lambda table=table: analyse(table), repeat)
        base = best_of(lambda table=table: baseline(table), repeat)
        tolerant = best_of(lambda table=table: analyse(table, tolerance=TOLERANCE), repeat)
        groups = analyse(table).stats.groupby(['group_key', 'group']).ngroups
        print(f'{n:>10,} {groups:>6} {full:>10.3f} {base:>10.3f} {full / base:>6.1f} {tolerant:>12.3f}')
        if n == 100_000:
            print(f'goal: 100,000 interfaces in < 2 s: {"met" if full < 2 else "NOT met"} ({full:.2f} s)')

    from aiida import load_profile  # noqa: PLC0415 - only this part needs a profile

    from aiida_ifacerank.calculations.rank import rank, rank_inputs  # noqa: PLC0415

    load_profile()
    table = synthetic_table(10_000)
    pure = best_of(lambda: analyse(table), 3)
    start = time.perf_counter()
    inputs = rank_inputs(table)
    _, node = rank.run_get_node(**inputs)
    stored = time.perf_counter() - start
    print(
        f'ifacerank.rank, 10,000 interfaces: {stored:.3f} s (pure analysis {pure:.3f} s, ratio {stored / pure:.1f}); '
        f'node {node.pk}, {len(node.base.links.get_incoming().all())} input nodes'
    )


if __name__ == '__main__':
    main()
