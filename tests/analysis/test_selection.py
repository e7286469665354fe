"""The study's DFT subset choices on a hand-made candidate table."""

import numpy as np
import pandas as pd
import pytest

from aiida_ifacerank.analysis.selection import check_subset, select_subset

CANDIDATES = pd.DataFrame(
    {
        'label': [f'c{i}' for i in range(7)],
        'miller_lower': ['001', '001', '001', '001', '111', '111', '111'],
        'miller_upper': ['001'] * 4 + ['111'] * 3,
        'atoms': [8, 16, 8, 12, 8, 24, 12],
        'area_ang2': [16.0, 32.0, 15.0, 24.0, 13.0, 40.0, 26.0],
        'energy': [0.03, -0.01, 0.05, np.nan, 0.02, 0.00, 0.04],
    }
)


@pytest.mark.parametrize(
    ('subset', 'expected'),
    [
        ({'choice': 'all'}, [f'c{i}' for i in range(7)]),
        ({'choice': 'mlp_top', 'n': 3}, ['c1', 'c4', 'c5']),  # -0.01, 0.00, 0.02; c3 has no MLP energy
        ({'choice': 'smallest', 'n': 3}, ['c0', 'c2', 'c4']),  # 8 atoms each (c4 13 Å², c2 15, c0 16)
        ({'choice': 'smallest', 'n': 2}, ['c2', 'c4']),
        ({'choice': 'stratified', 'n': 1}, ['c1', 'c5']),  # the lowest of each plane pair
        ({'choice': 'stratified', 'n': 2}, ['c1', 'c2', 'c5', 'c6']),  # lowest and highest of each
        ({'choice': 'stratified', 'n': 5}, ['c0', 'c1', 'c2', 'c4', 'c5', 'c6']),  # all with an energy
        ({'choice': 'list', 'labels': ['c6', 'c3']}, ['c3', 'c6']),  # in table order
    ],
)
def test_subsets(subset, expected):
    assert select_subset(CANDIDATES, subset) == expected


@pytest.mark.parametrize(
    ('subset', 'message'),
    [
        ({'choice': 'best'}, 'choice must be one of'),
        ({'choice': 'mlp_top'}, 'needs an integer n >= 1'),
        ({'choice': 'smallest', 'n': 0}, 'needs an integer n >= 1'),
        ({'choice': 'list'}, 'needs labels'),
        ({'choice': 'all', 'size': 3}, r"unknown dft_subset key\(s\) \['size'\]"),
    ],
)
def test_bad_subsets_are_refused(subset, message):
    assert check_subset(subset) is not None
    with pytest.raises(ValueError, match=message):
        select_subset(CANDIDATES, subset)


def test_unknown_labels_are_named():
    with pytest.raises(ValueError, match=r"\['c9'\] are not candidates"):
        select_subset(CANDIDATES, {'choice': 'list', 'labels': ['c1', 'c9']})
