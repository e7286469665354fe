"""SevenNet and CHGNet behind ``ifacerank.mlp``: energies against direct in-process calculator calls.

Both run in float32, so job and direct call are compared to 2e-5 eV, about two float32 steps at the
-70 eV of these cells.
"""

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from aiida.engine import run_get_node
from aiida.orm import Dict, InstalledCode, Str
from ase.io import write

from aiida_ifacerank.calculations.mlp import MlpCalculation
from aiida_ifacerank.data import PotentialModelData, StructureCollectionData

from .test_mlp import si_ge_cells

SEVENNET_PYTHON = Path(__file__).resolve().parents[2] / '.venv-sevennet' / 'bin' / 'python'
FLOAT32_ATOL = 2e-5


def run_engine(code, cells, engine, name, **parameters):
    inputs = {
        'code': code,
        'structures': StructureCollectionData.from_structures(cells),
        'foundation_model': Str(name),
        'parameters': Dict({'engine': engine, **parameters}),
    }
    return run_get_node(MlpCalculation, **inputs)


@pytest.fixture
def chgnet_energies(calculator_energies):
    """Function (list of Atoms) -> energies (eV) from a direct in-process CHGNetCalculator (model 0.3.0)."""
    from chgnet.model import CHGNet, CHGNetCalculator  # noqa: PLC0415

    calculator = CHGNetCalculator(model=CHGNet.load(model_name='0.3.0', use_device='cpu'), use_device='cpu')
    return lambda cells: calculator_energies(calculator, cells)


def sevennet_energies(cells, tmp_path):
    """Direct SevenNetCalculator calls in the SevenNet environment."""
    write(tmp_path / 'direct.extxyz', cells, format='extxyz')
    script = (
        'import json; from ase.io import read; from sevenn.calculator import SevenNetCalculator\n'
        "calculator = SevenNetCalculator(model='7net-0', device='cpu')\n"
        "cells = read('direct.extxyz', index=':')\n"
        'for atoms in cells: atoms.calc = calculator\n'
        'print(json.dumps([atoms.get_potential_energy() for atoms in cells]))\n'
    )
    result = subprocess.run(
        [str(SEVENNET_PYTHON), '-c', script], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    return np.array(json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.fixture
def sevennet_code(aiida_localhost):
    assert SEVENNET_PYTHON.exists(), f'{SEVENNET_PYTHON} is missing: run bin/setup.'
    code = InstalledCode(label='python-sevennet', computer=aiida_localhost, filepath_executable=str(SEVENNET_PYTHON))
    return code.store()


def test_chgnet_single_points_equal_direct_calls(python_code, chgnet_energies):
    cells = si_ge_cells(3)
    outputs, node = run_engine(python_code, cells, 'chgnet', '0.3.0', task='single_point')
    assert node.is_finished_ok, node.exit_message
    table = outputs['results'].get_dataframe()
    np.testing.assert_allclose(table['energy_ev'], chgnet_energies(cells), atol=FLOAT32_ATOL, rtol=0)


def test_chgnet_relaxation_reaches_fmax_and_lowers_the_energy(python_code, chgnet_energies):
    cells = si_ge_cells(1, seed=3)
    outputs, node = run_engine(python_code, cells, 'chgnet', '0.3.0', task='relax', fmax=0.02, max_steps=300)
    assert node.is_finished_ok, node.exit_message
    row = outputs['results'].get_dataframe().iloc[0]
    relaxed = outputs['structures'].get_ase()[0]
    assert row['converged'] and row['max_force_ev_ang'] < 0.02
    np.testing.assert_allclose(relaxed.cell[:2], cells[0].cell[:2], atol=1e-10)  # in-plane lattice fixed
    assert row['energy_ev'] < chgnet_energies(cells)[0]
    assert row['energy_ev'] == pytest.approx(chgnet_energies([relaxed])[0], abs=FLOAT32_ATOL)


def test_sevennet_runs_in_its_own_environment_and_equals_direct_calls(sevennet_code, tmp_path):
    cells = si_ge_cells(3)
    outputs, node = run_engine(sevennet_code, cells, 'sevennet', '7net-0', task='single_point')
    assert node.is_finished_ok, node.exit_message
    table = outputs['results'].get_dataframe()
    np.testing.assert_allclose(table['energy_ev'], sevennet_energies(cells, tmp_path), atol=FLOAT32_ATOL, rtol=0)


def test_engine_mistakes_are_refused_before_submission(python_code, tmp_path):
    with pytest.raises(ValueError, match='chgnet runs in float32 only'):
        run_engine(python_code, si_ge_cells(1), 'chgnet', '0.3.0', dtype='float64')
    with pytest.raises(ValueError, match='engine must be one of'):
        run_engine(python_code, si_ge_cells(1), 'nequip', 'x')
    model_file = tmp_path / 'some.model'
    model_file.write_bytes(b'mace weights')
    with pytest.raises(ValueError, match="is a 'mace' model but parameters\\['engine'\\] is 'chgnet'"):
        run_get_node(
            MlpCalculation,
            code=python_code,
            structures=StructureCollectionData.from_structures(si_ge_cells(1)),
            model=PotentialModelData(str(model_file)).store(),  # engine mace; the bytes are not read
            parameters=Dict({'engine': 'chgnet'}),
        )


def test_cell_choices_free_what_they_say(python_code):
    """CHGNet on a compressed 16-atom Si|Ge cell: ``normal`` changes only c, ``all`` the whole cell, ``fixed`` none."""
    start = si_ge_cells(1, seed=5)[0]
    start.set_cell(start.cell * 0.97, scale_atoms=True)
    cells = {}
    for cell in ('normal', 'all', 'fixed'):
        outputs, node = run_engine(python_code, [start], 'chgnet', '0.3.0', cell=cell, fmax=0.05, max_steps=400)
        assert node.is_finished_ok, node.exit_message
        cells[cell] = outputs['structures'].get_ase()[0].cell.lengths()
    lengths = start.cell.lengths()
    np.testing.assert_allclose(cells['normal'][:2], lengths[:2], atol=1e-10)
    assert cells['normal'][2] > lengths[2] + 0.05  # compressed: c expands
    assert (cells['all'] > lengths + 0.02).all()
    np.testing.assert_allclose(cells['fixed'], lengths, atol=1e-10)
