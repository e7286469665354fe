"""``ifacerank.mlp.base``: only the unconverged subset is resubmitted; broken or diverging structures end with a
reason."""

import sys
from pathlib import Path

import numpy as np
import pytest
from aiida.engine import run_get_node
from aiida.orm import Dict, InstalledCode
from ase.build import bulk
from ase.io import read
from ase.neighborlist import neighbor_list
from ase.optimize import BFGS

from aiida_ifacerank.calculations.drivers.mlp_driver import evaluate
from aiida_ifacerank.calculations.mlp import DEFAULTS
from aiida_ifacerank.data import PotentialModelData, StructureCollectionData
from aiida_ifacerank.workflows.mlp import MlpBaseWorkChain
from tests.models import build_random_mace


@pytest.mark.slow
def test_restart_resubmits_only_unconverged_structures(aiida_localhost, tmp_path):
    code = InstalledCode(label='python-wc', computer=aiida_localhost, filepath_executable=sys.executable).store()
    model = PotentialModelData.get_or_create(build_random_mace(tmp_path / 'random.model'))
    cells = []
    for seed in range(3):
        atoms = bulk('Si', 'diamond', 5.5, cubic=True) * (1, 1, 2)
        atoms.symbols[8:] = 'Ge'
        atoms.rattle(0.05, seed=seed)
        cells.append(atoms)
    cells[2].positions[3] = np.nan  # broken: fails for good, never retried
    builder = MlpBaseWorkChain.get_builder()
    builder.mlp.code = code
    builder.mlp.model = model
    builder.mlp.structures = StructureCollectionData.from_structures(cells, labels=['a', 'b', 'broken'])
    builder.mlp.parameters = Dict({'task': 'relax', 'fmax': 0.01, 'max_steps': 2})
    outputs, node = run_get_node(builder)

    assert node.exit_status == MlpBaseWorkChain.exit_codes.ERROR_SOME_STRUCTURES_FINAL.status
    assert 'broken' in node.exit_message
    children = sorted((c for c in node.called if c.process_label == 'MlpCalculation'), key=lambda c: c.ctime)
    assert len(children) >= 2
    assert len(children[0].inputs.structures) == 3
    assert all(set(child.inputs.structures.labels) <= {'a', 'b'} for child in children[1:])  # the subset only
    assert children[1].inputs.parameters['max_steps'] == 4
    table = outputs['results'].get_dataframe().set_index('label')
    assert list(table.loc[['a', 'b'], 'status']) == ['ok', 'ok']
    assert (table.loc[['a', 'b'], 'max_force_ev_ang'] < 0.01).all()
    assert table.loc['broken', 'status'] == 'failed' and 'non-finite positions' in table.loc['broken', 'error']
    assert outputs['structures'].labels == ['a', 'b']


DEMO_MODEL = Path(__file__).parents[2] / 'examples' / 'demo' / 'mace-sige.model'


def squeezed_si_ge(distance: float):
    """Diamond Si|Ge (8 atoms, cubic) with atom 0's first Ge neighbour moved to ``distance`` (Å) from it."""
    atoms = bulk('Si', 'diamond', 5.43, cubic=True)
    atoms.symbols[4:] = 'Ge'
    first, second, vector = neighbor_list('ijD', atoms, 2.5)
    k = next(k for k in range(len(first)) if first[k] == 0 and atoms[second[k]].symbol == 'Ge')
    atoms.positions[second[k]] = atoms.positions[0] + vector[k] / np.linalg.norm(vector[k]) * distance
    return atoms


def test_diverging_relaxation_fails_for_good_with_its_reason(aiida_localhost, mace_energies):
    """The demo MACE (trained on near-equilibrium frames) pulls a Si-Ge pair started 1.3 Å apart onto each other:
    unwatched, ASE's BFGS takes the energy down by tens of eV per atom. The driver stops it within a few steps as
    failed, and the restart work chain does not spend more steps on it."""
    import mace.calculators  # noqa: PLC0415

    collapsing = squeezed_si_ge(1.3)
    unwatched = collapsing.copy()
    unwatched.calc = mace.calculators.MACECalculator(model_paths=str(DEMO_MODEL), device='cpu', default_dtype='float64')
    start = unwatched.get_potential_energy() / len(unwatched)
    BFGS(unwatched, logfile=None).run(fmax=0.05, steps=40)
    assert start - unwatched.get_potential_energy() / len(unwatched) > 20  # eV/atom: the premise, a real divergence
    assert neighbor_list('d', unwatched, 3.0).min() < 0.8

    code = InstalledCode(label='python-diverge', computer=aiida_localhost, filepath_executable=sys.executable).store()
    sound = bulk('Si', 'diamond', 5.43, cubic=True)
    sound.symbols[4:] = 'Ge'
    sound.rattle(0.05, seed=1)
    builder = MlpBaseWorkChain.get_builder()
    builder.mlp.code = code
    builder.mlp.model = PotentialModelData.get_or_create(DEMO_MODEL)
    builder.mlp.structures = StructureCollectionData.from_structures(
        [collapsing, sound], labels=['collapsing', 'sound']
    )
    builder.mlp.parameters = Dict({'task': 'relax', 'cell': 'fixed', 'optimizer': 'BFGS', 'max_steps': 200})
    outputs, node = run_get_node(builder)

    assert node.exit_status == MlpBaseWorkChain.exit_codes.ERROR_SOME_STRUCTURES_FINAL.status
    assert node.exit_message.endswith('collapsing')
    assert len([c for c in node.called if c.process_label == 'MlpCalculation']) == 1  # nothing retried
    table = outputs['results'].get_dataframe().set_index('label')
    assert table.loc['collapsing', 'status'] == 'failed' and np.isnan(table.loc['collapsing', 'energy_ev'])
    error = table.loc['collapsing', 'error']
    assert error.startswith('diverged at step') and 0 < table.loc['collapsing', 'steps'] <= 10, error
    assert 'covalent radii' in error or 'eV/atom below its start' in error
    assert table.loc['sound', 'status'] == 'ok' and table.loc['sound', 'max_force_ev_ang'] < 0.05
    relaxed = outputs['structures'].get_ase()
    assert [atoms.info['label'] for atoms in relaxed] == ['sound']
    assert table.loc['sound', 'energy_ev'] == pytest.approx(mace_energies(DEMO_MODEL, relaxed)[0], abs=1e-6)

    # Without the distance check, the energy check stops it a few steps later.
    settings = {**DEFAULTS, **builder.mlp.parameters.get_dict(), 'collapse_factor': 0.0}
    record = evaluate(squeezed_si_ge(1.3), unwatched.calc, settings)
    assert record['status'] == 'failed' and 'eV/atom below its start (limit 5.0 eV/atom)' in record['error']
    assert table.loc['collapsing', 'steps'] < record['steps'] <= 15


def test_a_large_sound_relaxation_is_not_taken_for_a_divergence():
    """A 4-atom Si|Ge candidate of a campaign (one layer per side, tilted model) falls 2.25 eV/atom with the demo
    MACE as its cell shortens from 6.40 to 4.98 Å along c, its bonds never under 1.96 Å: the default limits leave it
    alone."""
    import mace.calculators  # noqa: PLC0415

    atoms = read(Path(__file__).parents[1] / 'fixtures' / 'sige_4atom_candidate.extxyz')
    calculator = mace.calculators.MACECalculator(model_paths=str(DEMO_MODEL), device='cpu', default_dtype='float64')
    atoms.calc = calculator
    start = atoms.get_potential_energy() / len(atoms)
    record = evaluate(atoms, calculator, {**DEFAULTS, 'optimizer': 'BFGS', 'max_steps': 300})
    assert record['status'] == 'ok', record['error']
    assert start - record['energy'] / len(atoms) > 2.0  # eV/atom
    assert neighbor_list('d', atoms, 3.0).min() > 1.9


@pytest.mark.slow
def test_batch_work_chain_splits_by_walltime_and_merges_in_order(aiida_localhost, tmp_path, mace_energies):
    from aiida.orm import Float  # noqa: PLC0415

    from aiida_ifacerank.workflows.mlp import MlpBatchWorkChain, batch_size  # noqa: PLC0415

    code = InstalledCode(label='python-batch', computer=aiida_localhost, filepath_executable=sys.executable).store()
    model_file = build_random_mace(tmp_path / 'random.model')
    cells = []
    for seed in range(5):
        atoms = bulk('Si', 'diamond', 5.5, cubic=True)
        atoms.rattle(0.05, seed=seed)
        cells.append(atoms)
    walltime = 63  # 0.8 * 63 s - 30 s start-up leaves room for 2 structures at 10 s each
    assert batch_size(walltime, 10.0) == 2
    builder = MlpBatchWorkChain.get_builder()
    builder.structures = StructureCollectionData.from_structures(cells, labels=[f's{i}' for i in range(5)])
    builder.seconds_per_structure = Float(10.0)
    builder.mlp.code = code
    builder.mlp.model = PotentialModelData.get_or_create(model_file)
    builder.mlp.parameters = Dict({'task': 'single_point'})
    builder.mlp.metadata.options.max_wallclock_seconds = walltime
    outputs, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    jobs = [n for n in node.called_descendants if n.process_label == 'MlpCalculation']
    assert sorted(len(job.inputs.structures) for job in jobs) == [1, 2, 2]
    table = outputs['results'].get_dataframe()
    assert list(table['label']) == ['s0', 's1', 's2', 's3', 's4'] and list(table['index']) == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(table['energy_ev'], mace_energies(model_file, cells), atol=1e-6)
    with pytest.raises(ValueError, match='cannot hold even one structure'):
        batch_size(30, 10.0)


@pytest.mark.slow
def test_batch_that_fits_one_job_passes_the_jobs_outputs_on(aiida_localhost, tmp_path, mace_energies):
    """A set that fits one job is neither split nor copied: the batch's results and structures are the job's own
    nodes, and the energies equal direct MACE calls."""
    from aiida.orm import Float  # noqa: PLC0415

    from aiida_ifacerank.workflows.mlp import MlpBatchWorkChain  # noqa: PLC0415

    code = InstalledCode(label='python-one', computer=aiida_localhost, filepath_executable=sys.executable).store()
    model_file = build_random_mace(tmp_path / 'random.model')
    cells = [bulk('Si', 'diamond', 5.5, cubic=True), bulk('Ge', 'diamond', 5.7, cubic=True)]
    builder = MlpBatchWorkChain.get_builder()
    builder.structures = StructureCollectionData.from_structures(cells, labels=['si', 'ge'])
    builder.seconds_per_structure = Float(1.0)
    builder.mlp.code = code
    builder.mlp.model = PotentialModelData.get_or_create(model_file)
    builder.mlp.parameters = Dict({'task': 'relax', 'fmax': 0.05})
    outputs, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    called = {child.process_label for child in node.called_descendants}
    assert called == {'MlpBaseWorkChain', 'MlpCalculation'}, called
    (job,) = [child for child in node.called_descendants if child.process_label == 'MlpCalculation']
    assert job.inputs.structures.uuid == builder.structures.uuid
    assert outputs['results'].uuid == job.outputs.results.uuid
    assert outputs['structures'].uuid == job.outputs.structures.uuid
    table = outputs['results'].get_dataframe()
    assert list(table['label']) == ['si', 'ge'] and list(table['status']) == ['ok', 'ok']
    np.testing.assert_allclose(
        table['energy_ev'], mace_energies(model_file, outputs['structures'].get_ase()), atol=1e-6
    )


def test_batch_whose_jobs_leave_no_results_ends_with_the_reason(aiida_localhost, tmp_path):
    """A job that dies before the driver writes anything is run once more; twice is no accident: the restart work
    chain ends with 420 and the batch with its own 420, naming the job's reason (no KeyError, no empty table)."""
    from aiida.orm import Float  # noqa: PLC0415

    from aiida_ifacerank.workflows.mlp import MlpBatchWorkChain  # noqa: PLC0415

    code = InstalledCode(
        label='python-dies',
        computer=aiida_localhost,
        filepath_executable=sys.executable,
        prepend_text='echo "no scratch space left" >&2; exit 3',
    ).store()
    builder = MlpBatchWorkChain.get_builder()
    builder.structures = StructureCollectionData.from_structures([bulk('Si', 'diamond', 5.43)], labels=['si'])
    builder.seconds_per_structure = Float(1.0)
    builder.mlp.code = code
    builder.mlp.model = PotentialModelData.get_or_create(build_random_mace(tmp_path / 'random.model'))
    builder.mlp.parameters = Dict({'task': 'single_point'})
    outputs, node = run_get_node(builder)
    assert node.exit_status == MlpBatchWorkChain.exit_codes.ERROR_BATCH_WITHOUT_RESULTS.status
    assert 'results' not in outputs
    (restart,) = [child for child in node.called if child.process_label == 'MlpBaseWorkChain']
    assert restart.exit_status == MlpBaseWorkChain.exit_codes.ERROR_NO_RESULTS_TWICE.status
    assert len([child for child in restart.called if child.process_label == 'MlpCalculation']) == 2
    assert f'MlpBaseWorkChain<{restart.pk}>' in node.exit_message
    assert 'no scratch space left' in node.exit_message, node.exit_message
