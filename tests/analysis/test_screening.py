"""DFT cost saved by MLP screening: hand-checked tables, perfect and reversed agreement, ties."""

import numpy as np
import pandas as pd
import pytest

from aiida_ifacerank.analysis.screening import screening_cost


def test_six_interfaces_by_hand():
    reference = [-0.05, 0.02, -0.10, 0.07, -0.01, 0.04]  # DFT order 2, 0, 4, 1, 5, 3: top 3 = {2, 0, 4}
    screen = [-0.02, -0.06, -0.08, 0.01, 0.03, -0.04]  # MLP order 2, 1, 5, 0, 3, 4: the top 3 at 1, 4, 6
    cost = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]  # in MLP order 30, 20, 60, 10, 40, 50: sums 30, 50, 110, 120, 160, 210
    expected = pd.DataFrame(
        {
            'top_n': [3, 3, 3],
            'k': [1, 2, 3],
            'candidates_needed': [1, 4, 6],
            'fraction_needed': [1 / 6, 4 / 6, 1.0],
            'cost_needed': [30.0, 120.0, 210.0],
            'cost_saved': [180.0, 90.0, 0.0],
            'fraction_saved': [6 / 7, 3 / 7, 0.0],
        }
    )
    pd.testing.assert_frame_equal(screening_cost(reference, screen, cost, 3), expected)


def test_perfect_agreement_needs_k_candidates():
    rng = np.random.default_rng(0)
    reference, cost = rng.normal(0.0, 0.05, 20), rng.uniform(1.0, 10.0, 20)
    table = screening_cost(reference, 2 * reference + 0.01, cost, 5)  # another scale, the same order
    np.testing.assert_array_equal(table['candidates_needed'], np.arange(1, 6))
    np.testing.assert_allclose(table['cost_needed'], np.cumsum(cost[np.argsort(reference)])[:5])
    np.testing.assert_allclose(table['cost_saved'], cost.sum() - table['cost_needed'])


def test_reversed_order_needs_n_minus_top_n_plus_k():
    rng = np.random.default_rng(1)
    reference, cost = rng.normal(0.0, 0.05, 20), rng.uniform(1.0, 10.0, 20)
    table = screening_cost(reference, -reference, cost, 5)
    np.testing.assert_array_equal(table['candidates_needed'], np.arange(16, 21))  # n - N + k
    np.testing.assert_allclose(table['fraction_needed'], np.arange(16, 21) / 20)
    assert table['cost_saved'].iloc[-1] == table['fraction_saved'].iloc[-1] == 0.0
    # the MLP puts the DFT top 5 last, best last: after the k-th of them only the DFT's best 5 - k remain
    best = cost[np.argsort(reference)]
    np.testing.assert_allclose(table['cost_saved'], [best[: 5 - k].sum() for k in range(1, 6)])


def test_ties_break_by_input_order():
    # DFT: 1 and 2 tie at the cut of the top 2, input order keeps 1: top 2 = {0, 1}
    # MLP: 1, 2, 3 tie, input order: 1, 2, 3, 0; the top 2 at 1 and 4 (2 and 4 if the DFT kept 2 instead)
    table = screening_cost([0.1, 0.2, 0.2, 0.3], [0.5, 0.1, 0.1, 0.1], [1.0, 2.0, 3.0, 4.0], 2)
    np.testing.assert_array_equal(table['candidates_needed'], [1, 4])
    np.testing.assert_array_equal(table['cost_needed'], [2.0, 10.0])  # MLP order costs 2, 3, 4, 1
    np.testing.assert_array_equal(table['fraction_saved'], [0.8, 0.0])


@pytest.mark.parametrize(
    ('reference', 'screen', 'cost', 'top_n', 'match'),
    [
        ([0.1, 0.2], [0.1, 0.2, 0.3], [1.0, 1.0], 1, 'equal length'),
        ([[0.1, 0.2]], [[0.1, 0.2]], [[1.0, 1.0]], 1, '1-D'),
        ([0.1, np.nan], [0.1, 0.2], [1.0, 1.0], 1, 'finite'),
        ([0.1, 0.2], [0.1, 0.2], [1.0, np.inf], 1, 'finite'),
        ([0.1, 0.2], [0.1, 0.2], [1.0, -1.0], 1, '>= 0'),
        ([0.1, 0.2], [0.1, 0.2], [0.0, 0.0], 1, 'positive total'),
        ([0.1, 0.2], [0.1, 0.2], [1.0, 1.0], 0, 'between 1 and the number of interfaces'),
        ([0.1, 0.2], [0.1, 0.2], [1.0, 1.0], 3, r'\(2\), got 3'),
    ],
)
def test_bad_inputs_are_refused(reference, screen, cost, top_n, match):
    with pytest.raises(ValueError, match=match):
        screening_cost(reference, screen, cost, top_n)
