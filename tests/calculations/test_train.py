"""``ifacerank.mlp.train``: mace_run_train on a tiny Tersoff Si-Ge set, the split, errors, metrics, refusals."""

import io
import json

import numpy as np
import pytest
from aiida.engine import run_get_node
from aiida.orm import Dict, load_node
from ase.io import read

from aiida_ifacerank.calculations.train import MaceTrainCalculation, split_frames, validation_indices
from aiida_ifacerank.data import PotentialModelData, TrainingSetData
from tests.models import build_random_mace, overwrite_stored_model, sige_training_frames

TINY = {'num_channels': 8, 'max_L': 0, 'r_max': 4.5, 'max_num_epochs': 3, 'batch_size': 3, 'seed': 1}
"""A tiny MACE (8 scalar channels, cutoff 4.5 Å) and 3 epochs: seconds of training."""


@pytest.fixture(scope='module')
def frames():
    """12 Tersoff-labelled Si-Ge cells (2 and 8 atoms) with energy (eV), forces (eV/Å) and stress (eV/Å³)."""
    cells = [atoms for atoms in sige_training_frames() if len(atoms) > 1][:12]
    for atoms in cells:
        atoms.info.pop('config_weight', None)
    return cells


@pytest.fixture(scope='module')
def training_set(aiida_profile, frames):
    return TrainingSetData.from_frames(frames, [f'cell{index:02d}' for index in range(len(frames))]).store()


def train(code, training_set, parameters, **inputs):
    return run_get_node(
        MaceTrainCalculation, code=code, training_set=training_set, parameters=Dict(parameters), **inputs
    )


def test_validation_indices_are_a_seeded_draw_leaving_a_frame_on_each_side():
    assert validation_indices(12, 0.25, 3) == sorted(np.random.default_rng(3).choice(12, 3, replace=False).tolist())
    assert validation_indices(12, 0.25, 3) != validation_indices(12, 0.25, 4)
    assert len(validation_indices(20, 0.1, 0)) == 2
    assert len(validation_indices(3, 0.01, 0)) == 1 and len(validation_indices(3, 0.99, 0)) == 2
    with pytest.raises(ValueError, match='at least 2 frames'):
        validation_indices(1, 0.5, 0)
    assert split_frames(['a', 'b', 'c', 'b'], {'labels': ['b']}) == [1, 3]  # every frame of a label
    assert split_frames(['a', 'b', 'c', 'b'], {'fraction': 0.5}) == validation_indices(4, 0.5, 0)


@pytest.mark.slow
@pytest.mark.services
def test_job_runs_through_the_daemon(python_code, training_set, frames, submit_and_await, mace_energies, tmp_path):
    import mace  # noqa: PLC0415

    builder = MaceTrainCalculation.get_builder()
    builder.code = python_code
    builder.training_set = training_set
    builder.validation = Dict({'fraction': 0.25, 'seed': 3})
    builder.parameters = Dict(TINY)
    node = submit_and_await(builder, timeout=300)
    assert node.is_finished_ok, node.exit_message
    node = load_node(node.pk)  # the instance submit_and_await returns lacks the inputs folder stored later

    # the split: exactly validation_indices' frames are validation frames, in valid.xyz and in the table
    valid = validation_indices(12, 0.25, 3)
    train_indices = [index for index in range(12) if index not in valid]
    labels = training_set.labels
    valid_file = read(io.StringIO(node.base.repository.get_object_content('valid.xyz')), index=':', format='extxyz')
    assert [str(atoms.info['label']) for atoms in valid_file] == [labels[index] for index in valid]
    table = node.outputs.errors.get_dataframe()
    assert list(table['index']) == train_indices + valid
    assert list(table['label']) == [labels[index] for index in train_indices + valid]
    assert list(table['split']) == ['train'] * 9 + ['valid'] * 3
    assert list(table['num_atoms']) == [len(frames[index]) for index in train_indices + valid]
    np.testing.assert_array_equal(table['energy_reference_ev'], [frames[i].info['REF_energy'] for i in table['index']])

    # the model node is the retrieved model: same predictions as a direct call and as the table
    model_file = tmp_path / 'output.model'
    model_file.write_bytes(node.outputs.model.get_content(mode='rb'))
    retrieved_file = tmp_path / 'retrieved.model'
    retrieved_file.write_bytes(node.outputs.retrieved.base.repository.get_object_content('mace.model', mode='rb'))
    frame = training_set.get_ase()[train_indices[0]]
    energy = mace_energies(model_file, [frame])[0]
    assert energy == pytest.approx(mace_energies(retrieved_file, [frame])[0], abs=1e-8)
    assert energy == pytest.approx(table.loc[0, 'energy_predicted_ev'], abs=1e-8)
    model = node.outputs.model
    assert model.base.attributes.get('engine') == 'mace'
    assert model.base.attributes.get('architecture') == (
        'ScaleShiftMACE: r_max 4.5 Å, 2 interactions, hidden irreps 8x0e, elements Si Ge'
    )
    assert model.elements == ['Si', 'Ge']
    assert model.creator.uuid == node.uuid and node.inputs.training_set.uuid == training_set.uuid

    # metrics: recomputed from the table, and equal to mace's own validation errors of the saved epoch
    metrics = node.outputs.metrics.get_dict()
    for split, rows in table.groupby('split'):
        atoms = 3 * rows['num_atoms']
        expected = {
            'frames': len(rows),
            'energy_rmse_mev_per_atom': 1000 * np.sqrt(np.mean(rows['energy_error_ev_per_atom'] ** 2)),
            'energy_mae_mev_per_atom': 1000 * np.mean(np.abs(rows['energy_error_ev_per_atom'])),
            'force_rmse_mev_ang': 1000 * np.sqrt(np.sum(atoms * rows['force_rmse_ev_ang'] ** 2) / np.sum(atoms)),
            'stress_rmse_mev_ang3': 1000 * np.sqrt(np.mean(rows['stress_rmse_ev_ang3'] ** 2)),
        }
        assert metrics[split] == pytest.approx(expected, rel=1e-12)
    assert (metrics['epochs'], metrics['mace_version']) == (3, mace.__version__)
    results = node.outputs.retrieved.base.repository.get_object_content('mace_run-1_train.txt').splitlines()
    evaluation = [
        record
        for record in map(json.loads, results)
        if record['mode'] == 'eval' and record['epoch'] == metrics['model_epoch']
    ][-1]
    mace_own = [1000 * evaluation[key] for key in ('rmse_e_per_atom', 'rmse_f', 'rmse_stress')]
    ours = [metrics['valid'][key] for key in ('energy_rmse_mev_per_atom', 'force_rmse_mev_ang', 'stress_rmse_mev_ang3')]
    np.testing.assert_allclose(ours, mace_own, rtol=1e-8)


@pytest.mark.slow
def test_fine_tuning_starts_from_the_given_model(python_code, training_set, mace_energies, tmp_path):
    foundation_file = build_random_mace(tmp_path / 'random.model')
    foundation = PotentialModelData.get_or_create(foundation_file)
    outputs, node = train(python_code, training_set, {'max_num_epochs': 1, 'batch_size': 3}, model=foundation)
    assert node.is_finished_ok, node.exit_message
    assert outputs['model'].sha256 != foundation.sha256
    # the foundation's architecture (8 channels up to L = 1), not the default 32 channels
    assert 'hidden irreps 8x0e+8x1o' in outputs['model'].base.attributes.get('architecture')
    assert outputs['metrics']['epochs'] == 1
    table = outputs['errors'].get_dataframe()
    before = mace_energies(foundation_file, [training_set.get_ase()[table.loc[0, 'index']]])[0]
    assert abs(table.loc[0, 'energy_predicted_ev'] - before) > 1e-3  # eV: the model changed


def test_model_to_fine_tune_changed_after_storing_is_never_sent(python_code, training_set, tmp_path):
    """A model to fine-tune whose repository file was replaced by another, loadable model: the job checks the
    sha256 before uploading anything (mace_run_train would unpickle it) and ends with 320 naming the mismatch."""
    model = PotentialModelData.get_or_create(build_random_mace(tmp_path / 'own.model', seed=4243))
    overwrite_stored_model(model, build_random_mace(tmp_path / 'other.model', seed=4244).read_bytes())
    _, node = train(python_code, training_set, {'max_num_epochs': 1}, model=model)
    assert node.exit_status == MaceTrainCalculation.exit_codes.ERROR_MODEL_CHANGED.status
    assert f'has sha256 {PotentialModelData(str(tmp_path / "other.model")).sha256}, not the {model.sha256}' in (
        node.exit_message
    )
    assert 'remote_folder' not in node.outputs and node.get_job_id() is None  # nothing uploaded, nothing run


@pytest.mark.slow
def test_failed_training_reports_the_last_line_of_its_error(python_code, training_set):
    # passes mace's argument parser, then mace refuses it: channels of different widths
    _, node = train(
        python_code, training_set, {**TINY, 'num_channels': None, 'max_L': None, 'hidden_irreps': '8x0e+4x1o'}
    )
    assert node.exit_status == MaceTrainCalculation.exit_codes.ERROR_MODEL_MISSING.status
    assert 'AssertionError: All channels must have the same dimension' in node.exit_message


@pytest.mark.parametrize(
    ('inputs', 'message'),
    [
        ({'parameters': {'train_file': 'mine.xyz'}}, r"parameters: \['train_file'\] are set by the job itself"),
        ({'parameters': {'num_chanels': 8}}, r"parameters: unknown mace_run_train option\(s\) \['num_chanels'\]"),
        ({'parameters': {'loss': 'energy'}}, r'parameters: mace_run_train refuses .*--loss: invalid choice'),
        ({'parameters': {'swa': 'yes'}}, r"parameters: \['swa'\] are flags of mace_run_train"),
        ({'validation': {'fraction': 1.5}}, r'validation: fraction must be a number between 0 and 1'),
        ({'validation': {'labels': ['cell01', 'nope']}}, r"validation: unknown label\(s\) \['nope'\]"),
        ({'validation': {'labels': [f'cell{i:02d}' for i in range(12)]}}, 'validation: every frame is a validation'),
        ({'model': 'chgnet'}, r"model: a 'chgnet' model cannot be fine-tuned"),
    ],
)
def test_bad_inputs_are_refused_before_submission(python_code, training_set, tmp_path, inputs, message):
    if 'model' in inputs:
        (tmp_path / 'chgnet.pt').write_bytes(b'a CHGNet checkpoint')
        inputs = {'model': PotentialModelData(str(tmp_path / 'chgnet.pt'), engine='chgnet')}
    else:
        inputs = {key: Dict(value) for key, value in inputs.items()}
    with pytest.raises(ValueError, match=message):
        run_get_node(MaceTrainCalculation, code=python_code, training_set=training_set, **inputs)
