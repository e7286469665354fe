"""``ifacerank.mlp``: batched MACE jobs against direct in-process MACE calls, failures, daemon."""

from pathlib import Path

import numpy as np
import pytest
from aiida.engine import run_get_node
from aiida.orm import Dict, Str
from ase.build import bulk

from aiida_ifacerank.calculations.mlp import MlpCalculation
from aiida_ifacerank.data import PotentialModelData, StructureCollectionData
from tests.models import build_random_mace


@pytest.fixture(scope='session')
def random_model_file(tmp_path_factory):
    return build_random_mace(tmp_path_factory.mktemp('model') / 'random.model')


def si_ge_cells(count=4, seed=0):
    """Small Si|Ge cells (16 atoms), rattled differently."""
    cells = []
    for index in range(count):
        atoms = bulk('Si', 'diamond', 5.5, cubic=True) * (1, 1, 2)
        atoms.symbols[8:] = 'Ge'
        atoms.rattle(0.05, seed=seed + index)
        cells.append(atoms)
    return cells


def run_batch(code, model_file, cells, **parameters):
    inputs = {
        'code': code,
        'structures': StructureCollectionData.from_structures(cells),
        'model': PotentialModelData.get_or_create(model_file),
        'parameters': Dict(parameters),
    }
    return run_get_node(MlpCalculation, **inputs)


def test_single_points_equal_direct_mace_calls(python_code, random_model_file, mace_energies):
    cells = si_ge_cells()
    outputs, node = run_batch(python_code, random_model_file, cells, task='single_point')
    assert node.is_finished_ok, node.exit_message
    table = outputs['results'].get_dataframe()
    assert list(table['status']) == ['ok'] * 4
    np.testing.assert_allclose(table['energy_ev'], mace_energies(random_model_file, cells), atol=1e-6, rtol=0)


def test_relaxation_reaches_fmax_with_the_in_plane_lattice_fixed(python_code, random_model_file, mace_energies):
    cells = si_ge_cells(1, seed=10)
    outputs, node = run_batch(python_code, random_model_file, cells, task='relax', fmax=0.01, max_steps=300)
    assert node.is_finished_ok, node.exit_message
    table = outputs['results'].get_dataframe()
    assert (table['max_force_ev_ang'] < 0.01).all() and table['converged'].all() and (table['steps'] > 0).all()
    relaxed = outputs['structures'].get_ase()
    for before, after in zip(cells, relaxed, strict=True):
        np.testing.assert_allclose(after.cell[:2], before.cell[:2], atol=1e-10)  # in-plane lattice fixed
        assert after.get_potential_energy() == pytest.approx(mace_energies(random_model_file, [after])[0], abs=1e-6)


def test_broken_structures_are_flagged_and_the_rest_finish(python_code, random_model_file, mace_energies):
    cells = si_ge_cells(3)
    cells[1].positions[0] = np.nan
    outputs, node = run_batch(python_code, random_model_file, cells, task='single_point')
    assert node.exit_status == MlpCalculation.exit_codes.ERROR_SOME_FAILED.status
    table = outputs['results'].get_dataframe()
    assert list(table['status']) == ['ok', 'failed', 'ok']
    assert 'non-finite positions' in table.loc[1, 'error'] and np.isnan(table.loc[1, 'energy_ev'])
    np.testing.assert_allclose(
        table['energy_ev'][[0, 2]], mace_energies(random_model_file, [cells[0], cells[2]]), atol=1e-6
    )
    assert len(outputs['structures'].get_ase()) == 2


def test_corrupt_model_file_gives_its_exit_code(python_code, tmp_path):
    corrupt = tmp_path / 'corrupt.model'
    corrupt.write_bytes(b'not a torch file')
    _, node = run_batch(python_code, corrupt, si_ge_cells(1), task='single_point')
    assert node.exit_status == MlpCalculation.exit_codes.ERROR_MODEL_LOAD.status


def test_bad_settings_are_refused_before_submission(python_code, random_model_file):
    with pytest.raises(ValueError, match='optimizer must be one of'):
        run_batch(python_code, random_model_file, si_ge_cells(1), optimizer='SD')
    with pytest.raises(ValueError, match='fmax must be > 0'):
        run_batch(python_code, random_model_file, si_ge_cells(1), fmax=0)


@pytest.mark.slow
def test_job_runs_through_the_daemon(python_code, random_model_file, submit_and_await, mace_energies):
    cells = si_ge_cells(2)
    builder = MlpCalculation.get_builder()
    builder.code = python_code
    builder.structures = StructureCollectionData.from_structures(cells)
    builder.model = PotentialModelData.get_or_create(random_model_file)
    builder.parameters = Dict({'task': 'single_point'})
    node = submit_and_await(builder, timeout=180)
    assert node.is_finished_ok, node.exit_message
    np.testing.assert_allclose(
        node.outputs.results.get_dataframe()['energy_ev'], mace_energies(random_model_file, cells), atol=1e-6
    )


def test_model_already_on_the_computer_is_symlinked_not_uploaded(python_code, random_model_file, mace_energies):
    cells = si_ge_cells(2)
    inputs = {
        'code': python_code,
        'structures': StructureCollectionData.from_structures(cells),
        'model_path': Str(str(random_model_file)),
        'parameters': Dict({'task': 'single_point'}),
    }
    outputs, node = run_get_node(MlpCalculation, **inputs)
    assert node.is_finished_ok, node.exit_message
    np.testing.assert_allclose(
        outputs['results'].get_dataframe()['energy_ev'], mace_energies(random_model_file, cells), atol=1e-6
    )
    workdir = Path(node.outputs.remote_folder.get_remote_path())
    assert (workdir / 'model.model').is_symlink() and (workdir / 'model.model').resolve() == random_model_file.resolve()
    assert 'model.model' not in node.base.repository.list_object_names()  # nothing of the model was uploaded
