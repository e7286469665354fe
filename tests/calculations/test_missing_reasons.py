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


def test_mode_energies_of_several_candidates_with_one_missing():
    """E_f = (E − Σ n_i μ_i) / 2A by hand for two Si|Ge cells, μ from the bulk rows; the third candidate has no
    record and carries its own reason."""
    from ase import Atoms  # noqa: PLC0415

    from aiida_ifacerank.calculations.study import mode_energies  # noqa: PLC0415

    def cell(symbols, height):
        atoms = Atoms(symbols, cell=[4, 5, height], pbc=True)
        atoms.positions[:, 2] = range(len(atoms))
        return atoms

    structures = {
        'bulk_lower': cell('Si2', 4),
        'bulk_upper': cell('Ge2', 4),
        'x': cell('Si2Ge2', 8),
        'y': cell('Si4Ge2', 12),
    }
    table = mode_energies(
        pd.DataFrame({'candidate': ['x', 'y', 'z']}),
        records(
            ('bulk_lower', 'ok', 0, -10.0, ''),
            ('bulk_upper', 'ok', 0, -8.0, ''),
            ('x', 'ok', 0, -17.6, ''),
            ('y', 'ok', 0, -27.0, ''),
        ).reset_index(),
        structures,
        {'x': 'unused', 'y': 'unused', 'z': 'no MLP result'},
    ).set_index('label')
    area = 20.0  # 4 Å × 5 Å; μ_Si = -5, μ_Ge = -4 eV/atom
    assert table.at['x', 'formation_ev_ang2'] == pytest.approx((-17.6 + 18.0) / (2 * area))
    assert table.at['y', 'formation_ev_ang2'] == pytest.approx((-27.0 + 28.0) / (2 * area))
    assert table.at['z', 'exit_status'] == -1 and table.at['z', 'failure'] == 'no MLP result'
    assert list(table['exit_status']) == [0, 0, -1]
