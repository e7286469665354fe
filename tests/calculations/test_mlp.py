"""``ifacerank.mlp``: batched MACE jobs against direct in-process MACE calls, frozen layers, failures, daemon."""

import io
from pathlib import Path

import numpy as np
import pytest
from aiida.engine import run_get_node
from aiida.orm import Dict, Str, StructureData
from ase.build import bulk

from aiida_ifacerank.calculations.generate import run_generation
from aiida_ifacerank.calculations.mlp import MlpCalculation
from aiida_ifacerank.data import PotentialModelData, StructureCollectionData
from aiida_ifacerank.science import layers
from aiida_ifacerank.science.layers import frozen_atoms, slab_heights
from tests.models import build_random_mace, overwrite_stored_model


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


def si_ge_candidate():
    """A generated periodic Si|Ge (001) candidate: Si then as many Ge atoms (8 each here), one per (001) plane
    1.36 Å apart, the Ge slab wrapped across the cell boundary along c."""
    parameters = {
        'plane_pairs': [[[0, 0, 1], [0, 0, 1]]],
        'max_area': 20,
        'thickness': [2, 2],
        'shift_grid': [2, 2],
        'model': 'periodic',
    }
    silicon, germanium = (
        StructureData(ase=bulk(element, 'diamond', a, cubic=True)) for element, a in (('Si', 5.431), ('Ge', 5.658))
    )
    outputs, _, _ = run_generation(silicon, germanium, parameters)
    return outputs['candidate_0000']


def test_frozen_layers_hold_the_middle_of_each_slab_still(python_code, random_model_file):
    candidate = si_ge_candidate()
    interface = candidate.base.attributes.get('ifacerank')
    atoms_lower, model = interface['atoms_lower'], interface['model']
    assert model == 'periodic' and atoms_lower == len(candidate.sites) // 2 >= 4
    rattled = candidate.get_ase()
    rattled.rattle(0.05, seed=3)  # Å: forces for the free atoms to relax
    structure = StructureData(ase=rattled)
    structure.base.attributes.set('ifacerank', interface)
    outputs, node = run_batch(
        python_code, random_model_file, [structure], task='relax', cell='fixed', frozen_layers_ang=3.0, fmax=0.01
    )
    assert node.is_finished_ok, node.exit_message
    shipped = node.base.repository.get_object_content('ifacerank_layers.py')  # the driver imports it in the job
    assert shipped == Path(layers.__file__).read_text()
    before, after = node.inputs.structures.get_ase()[0], outputs['structures'].get_ase()[0]
    frozen = frozen_atoms(before.cell, before.positions, atoms_lower, model, 3.0)
    # slab centres lie halfway between two planes (0.68 Å away), the next planes are 2.04 Å away: 2 atoms per slab
    assert frozen[:atoms_lower].sum() == frozen[atoms_lower:].sum() == 2
    moved = np.linalg.norm(after.positions - before.positions, axis=1)
    np.testing.assert_allclose(moved[frozen], 0.0, atol=1e-8)
    assert moved[~frozen].min() > 1e-3
    heights = slab_heights(before.cell, before.positions, atoms_lower)
    for part in (slice(0, atoms_lower), slice(atoms_lower, None)):  # each slab's faces are the two interfaces
        depth = np.minimum(heights[part] - heights[part].min(), heights[part].max() - heights[part])
        assert depth[frozen[part]].min() > depth[~frozen[part]].max() + 1.0  # Å: frozen atoms lie deepest
    # the frozen atoms' own forces are kept; the largest force is that of the free atoms
    forces = np.linalg.norm(after.get_forces(), axis=1)
    table = outputs['results'].get_dataframe()
    assert table.loc[0, 'max_force_ev_ang'] == pytest.approx(forces[~frozen].max(), abs=1e-6)
    assert (after.info['atoms_lower'], after.info['model'], after.constraints) == (atoms_lower, model, [])  # restarts


def test_frozen_layers_need_the_interface_of_every_structure(python_code, random_model_file):
    with pytest.raises(ValueError, match=r"frozen_layers_ang > 0 needs \('atoms_lower', 'model'\).*\['1'\]"):
        run_batch(python_code, random_model_file, [si_ge_candidate(), *si_ge_cells(1)], frozen_layers_ang=3)


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
    """A file that is no model is refused when stored by path; stored as a node anyway, the job ends with 310."""
    corrupt = tmp_path / 'corrupt.model'
    corrupt.write_bytes(b'not a torch file')
    with pytest.raises(ValueError, match='is not a PyTorch model archive'):
        run_batch(python_code, corrupt, si_ge_cells(1), task='single_point')
    _, node = run_get_node(
        MlpCalculation,
        code=python_code,
        structures=StructureCollectionData.from_structures(si_ge_cells(1)),
        model=PotentialModelData(str(corrupt)).store(),
        parameters=Dict({'task': 'single_point'}),
    )
    assert node.exit_status == MlpCalculation.exit_codes.ERROR_MODEL_LOAD.status


def test_model_file_changed_after_storing_is_never_loaded(python_code, random_model_file, tmp_path):
    """A model node whose repository file was replaced by another, loadable model: the driver checks the sha256
    before ``torch.load`` and the job ends with 310 naming the mismatch."""
    model = PotentialModelData.get_or_create(build_random_mace(tmp_path / 'own.model', seed=4242))
    overwrite_stored_model(model, random_model_file.read_bytes())
    inputs = {'code': python_code, 'structures': StructureCollectionData.from_structures(si_ge_cells(1))}
    _, node = run_get_node(MlpCalculation, model=model, parameters=Dict({'task': 'single_point'}), **inputs)
    assert node.exit_status == MlpCalculation.exit_codes.ERROR_MODEL_LOAD.status
    assert f'not the {model.sha256} of its model node' in node.exit_message
    _, control = run_get_node(
        MlpCalculation,
        model=PotentialModelData.get_or_create(random_model_file),
        **inputs,
        parameters=Dict({'task': 'single_point'}),
    )
    assert control.is_finished_ok  # the same bytes under their own node load


@pytest.mark.parametrize(
    ('stderr', 'reason'),
    [
        (
            'slurmstepd: error: *** JOB 7 ON node CANCELLED AT 2026-12-02T21:00:00 ***\nTerminated\n',
            '_scheduler-stderr.txt: slurmstepd: error: *** JOB 7 ON node CANCELLED AT 2026-12-02T21:00:00 ***',
        ),
        ('Traceback (most recent call last):\nMemoryError\n', '_scheduler-stderr.txt: MemoryError'),
    ],
    ids=['cancelled-during-prepend', 'driver-crash'],
)
def test_job_without_results_names_the_schedulers_reason(aiida_localhost, stderr, reason):
    """A job cancelled while its prepend ran leaves Slurm's line and then the shell's ``Terminated``: the reason is
    Slurm's; otherwise it is the last line of stderr."""
    from aiida.common.links import LinkType  # noqa: PLC0415
    from aiida.orm import CalcJobNode, FolderData  # noqa: PLC0415
    from aiida.plugins import ParserFactory  # noqa: PLC0415

    node = CalcJobNode(computer=aiida_localhost, process_type='aiida.calculations:ifacerank.mlp')
    node.set_option('resources', {'num_machines': 1, 'num_mpiprocs_per_machine': 1})
    node.set_option('scheduler_stderr', '_scheduler-stderr.txt')
    node.store()
    retrieved = FolderData()
    retrieved.base.repository.put_object_from_filelike(io.BytesIO(stderr.encode()), '_scheduler-stderr.txt')
    retrieved.base.links.add_incoming(node, LinkType.CREATE, 'retrieved')
    retrieved.store()
    _, calcfunction = ParserFactory('ifacerank.mlp').parse_from_node(node, store_provenance=False)
    assert calcfunction.exit_status == MlpCalculation.exit_codes.ERROR_OUTPUT_MISSING.status
    assert calcfunction.exit_message.endswith(reason), calcfunction.exit_message


def test_threads_bound_the_numerical_libraries_of_the_job(python_code, random_model_file, mace_energies):
    cells = si_ge_cells(1)
    outputs, node = run_batch(python_code, random_model_file, cells, task='single_point', threads=1)
    assert node.is_finished_ok, node.exit_message
    script = node.base.repository.get_object_content('_aiidasubmit.sh')
    assert 'export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1' in script
    assert outputs['results'].get_dataframe()['energy_ev'][0] == pytest.approx(
        mace_energies(random_model_file, cells)[0], abs=1e-6
    )
    _, default = run_batch(python_code, random_model_file, cells, task='single_point')
    assert 'NUM_THREADS' not in default.base.repository.get_object_content('_aiidasubmit.sh')


def test_bad_settings_are_refused_before_submission(python_code, random_model_file):
    with pytest.raises(ValueError, match='optimizer must be one of'):
        run_batch(python_code, random_model_file, si_ge_cells(1), optimizer='SD')
    with pytest.raises(ValueError, match='fmax must be > 0'):
        run_batch(python_code, random_model_file, si_ge_cells(1), fmax=0)
    with pytest.raises(ValueError, match=r'collapse_factor must be in \[0, 1\)'):
        run_batch(python_code, random_model_file, si_ge_cells(1), collapse_factor=1.2)
    with pytest.raises(ValueError, match='max_energy_drop_ev_atom must be > 0 eV/atom'):
        run_batch(python_code, random_model_file, si_ge_cells(1), max_energy_drop_ev_atom=0)


@pytest.mark.slow
@pytest.mark.services
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
