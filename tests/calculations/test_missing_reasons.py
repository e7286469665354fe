"""Why a candidate has no energy in a mode: the reason each row of a study's formation table carries."""

import pandas as pd
import pytest

from aiida_ifacerank.analysis.selection import NOT_SELECTED
from aiida_ifacerank.calculations.study import RESULT_COLUMNS, missing_reason

STUDY = {
    'mlp_mlp': 'no MLP result',
    'dft_dft': 'no DFT relaxation',
    'mlp_dft': 'no DFT single point',
    'dft_mlp': 'MLP single points: the job was cancelled',
}
"""The study's reason per mode port, for a candidate whose own inputs were all there."""


def records(*rows) -> pd.DataFrame:
    return pd.DataFrame([dict(zip(RESULT_COLUMNS, row, strict=True)) for row in rows]).set_index('label')


RECORDS = {
    # a: its DFT relaxation failed; b: its MLP relaxation did not converge; c: no MLP record at all; d: all fine
    'dft_dft': records(
        ('a', 'failed', 401, float('nan'), 'PwRelaxWorkChain: exit status 401'),
        ('b', 'ok', 0, -10.0, ''),
        ('c', 'ok', 0, -10.0, ''),
        ('d', 'ok', 0, -10.0, ''),
    ),
    'mlp_mlp': records(
        ('a', 'ok', 0, -9.0, ''),
        ('b', 'unconverged', 410, -9.0, 'not converged in 200 steps'),
        ('d', 'ok', 0, -9.0, ''),
        ('e', 'ok', 0, -9.0, ''),
    ),
}


@pytest.mark.parametrize(
    ('label', 'mode', 'reason'),
    [
        ('e', 'DFT@DFT', NOT_SELECTED),
        ('e', 'MLP@DFT', NOT_SELECTED),
        ('e', 'DFT@MLP', NOT_SELECTED),
        ('c', 'MLP@MLP', 'no MLP result'),
        ('a', 'DFT@MLP', 'no DFT-relaxed geometry: PwRelaxWorkChain: exit status 401'),
        ('b', 'MLP@DFT', 'no MLP-relaxed geometry: not converged in 200 steps'),
        ('c', 'MLP@DFT', 'no MLP-relaxed geometry: no MLP result'),
        ('d', 'DFT@MLP', 'MLP single points: the job was cancelled'),
        ('d', 'MLP@DFT', 'no DFT single point'),
    ],
)
def test_missing_energy_names_the_step_that_failed(label, mode, reason):
    """Outside the DFT subset is a choice; inside it, an evaluation of another method's geometry names that
    relaxation's failure, and only where that geometry exists the evaluation's own reason."""
    assert missing_reason(label, mode, RECORDS, ['a', 'b', 'c', 'd'], STUDY) == reason


def test_without_a_subset_every_candidate_is_in_it():
    assert missing_reason('e', 'DFT@DFT', RECORDS, None, STUDY) == 'no DFT relaxation'
    assert missing_reason('e', 'DFT@MLP', {}, None, STUDY) == 'no DFT-relaxed geometry: no DFT relaxation'
