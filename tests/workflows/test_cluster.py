"""A real remote computer: an sshd on 127.0.0.1 and a single-node Slurm (``bin/setup-cluster``), reached through
AiiDA's ``core.ssh_async`` transport and ``core.slurm`` scheduler by the daemon: files over SSH, jobs through
sbatch and squeue. Jobs also meet an SSH server that is down during their upload, an SSH connection dropped during
it, and ``scancel``."""

import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from aiida.engine import run_get_node, submit
from aiida.orm import Dict, InstalledCode, Log

from aiida_ifacerank.calculations.mlp import MlpCalculation
from aiida_ifacerank.data import PotentialModelData, StructureCollectionData
from tests.calculations.test_mlp import si_ge_cells
from tests.models import build_random_mace
from tests.studies import codes_on, slurm_over_ssh

pytestmark = pytest.mark.slow

SERIAL = {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1}, 'withmpi': False}


def sshd(action: str, state: Path):
    """Stop the sshd's listener (new connections are refused) or start it again."""
    if action == 'stop':
        subprocess.run(['pkill', '-f', f'sshd -f {state}/sshd_config'], check=False)
    else:
        subprocess.run(['/usr/sbin/sshd', '-f', f'{state}/sshd_config'], check=True)


@pytest.fixture(scope='module')
def cluster(aiida_profile):
    """(computer, python code, pw.x code, the setup's state folder) on the Slurm computer over SSH."""
    computer, state = slurm_over_ssh('slurm-over-ssh')
    return computer, *codes_on(computer, 'slurm'), state


def slurm_job_ids() -> set[str]:
    """Ids of the jobs Slurm knows now (pending, running or ended within the last hour: MinJobAge)."""
    command = ['squeue', '--noheader', '--format=%i', '--states=all']
    return set(subprocess.run(command, check=True, capture_output=True, text=True).stdout.split())


@pytest.mark.services
def test_mlp_job_survives_the_ssh_server_down_during_upload(
    cluster, started_daemon_client, submit_and_await, mace_energies, tmp_path
):
    """The sshd's listener is stopped before the daemon uploads: the upload is refused, retried with back-off
    (the node's log says so), and after the sshd is back the job runs through sbatch and equals direct MACE calls."""
    _, python, _, state = cluster
    model_file = build_random_mace(tmp_path / 'random.model')
    cells = si_ge_cells(3)
    inputs = {
        'code': python,
        'structures': StructureCollectionData.from_structures(cells),
        'model': PotentialModelData.get_or_create(model_file),
        'parameters': Dict({'task': 'single_point'}),
        'metadata': {'options': {**SERIAL, 'max_wallclock_seconds': 600}},
    }
    sshd('stop', state)
    try:
        node = submit(MlpCalculation, **inputs)
        deadline = time.time() + 120
        while not any('upload' in entry.message.lower() for entry in Log.collection.get_logs_for(node)):
            assert time.time() < deadline, 'no failed upload was logged'
            assert not node.is_terminated, node.exit_message
            time.sleep(1)
    finally:
        sshd('start', state)
    node = submit_and_await(node, timeout=600)
    assert node.is_finished_ok, node.exit_message
    assert node.get_job_id() in slurm_job_ids()  # a Slurm job id, from sbatch
    remote = node.outputs.remote_folder  # read back over SSH
    assert remote.get_remote_path().startswith(str(state / 'work'))
    assert {'_aiidasubmit.sh', 'model.model', 'results.jsonl'} <= set(remote.listdir())
    remote.getfile('_aiidasubmit.sh', str(tmp_path / 'submit.sh'))
    assert '#SBATCH --time=00:10:00' in (tmp_path / 'submit.sh').read_text()
    table = node.outputs.results.get_dataframe()
    np.testing.assert_allclose(table['energy_ev'], mace_energies(model_file, cells), atol=1e-6)


@pytest.mark.services
def test_mlp_job_survives_its_ssh_connection_dropped_during_upload(
    cluster, started_daemon_client, submit_and_await, mace_energies, tmp_path
):
    """The daemon's SSH connection for the upload is dropped as its SFTP session starts (``bin/setup-cluster``'s
    fault switch kills that sshd session process): the upload fails, is retried with back-off on a new connection
    (the node's log says so), and the job runs through sbatch and equals direct MACE calls."""
    _, python, _, state = cluster
    model_file = build_random_mace(tmp_path / 'random.model')
    cells = si_ge_cells(2, seed=11)
    switch = state / 'drop-next-sftp'
    switch.write_text('0')
    try:
        node = submit(
            MlpCalculation,
            code=python,
            structures=StructureCollectionData.from_structures(cells),
            model=PotentialModelData.get_or_create(model_file),
            parameters=Dict({'task': 'single_point'}),
            metadata={'options': {**SERIAL, 'max_wallclock_seconds': 600}},
        )
        node = submit_and_await(node, timeout=600)
        assert not switch.exists()  # an SFTP session of this job's upload took it
    finally:
        switch.unlink(missing_ok=True)
    messages = [entry.message for entry in Log.collection.get_logs_for(node)]
    # as the client meets the killed session: in an SFTP transfer, or in the upload's ``whoami`` command
    dropped = ('connection lost', 'broken pipe', 'connection reset', 'ssh connection closed')
    assert any('do_upload' in message and any(word in message.lower() for word in dropped) for message in messages), (
        messages
    )
    assert node.is_finished_ok, node.exit_message
    table = node.outputs.results.get_dataframe()
    np.testing.assert_allclose(table['energy_ev'], mace_energies(model_file, cells), atol=1e-6)


@pytest.mark.services
def test_cancelled_slurm_job_is_reported_and_rerun(cluster, submit_and_await, mace_energies, tmp_path):
    """``scancel`` of the first job (its code sleeps before the driver, so it is cancelled while it runs): the job
    ends with 300 and Slurm's own line as the reason, the restart work chain runs it again, and every structure is
    in the results once, equal to direct MACE calls."""
    from aiida_ifacerank.workflows.mlp import MlpBaseWorkChain  # noqa: PLC0415

    computer, python, _, _ = cluster
    sleepy = InstalledCode(
        label='python-slurm-sleeps',
        computer=computer,
        filepath_executable=str(python.filepath_executable),
        prepend_text='sleep 15',
    ).store()
    model_file = build_random_mace(tmp_path / 'random.model')
    cells = si_ge_cells(3, seed=10)
    builder = MlpBaseWorkChain.get_builder()
    builder.mlp.code = sleepy
    builder.mlp.structures = StructureCollectionData.from_structures(cells)
    builder.mlp.model = PotentialModelData.get_or_create(model_file)
    builder.mlp.parameters = Dict({'task': 'single_point'})
    builder.mlp.metadata.options = {**SERIAL, 'max_wallclock_seconds': 600}
    chain = submit(builder)
    deadline = time.time() + 120
    while True:
        jobs = [node for node in chain.called if node.process_type.endswith('ifacerank.mlp') and node.get_job_id()]
        command = ['squeue', '--noheader', '--format=%T', '--job', jobs[0].get_job_id()] if jobs else ['true']
        state = subprocess.run(command, check=False, capture_output=True, text=True).stdout.strip()
        if state == 'RUNNING' and (Path(jobs[0].get_remote_workdir()) / '_scheduler-stderr.txt').exists():
            break  # the batch script runs (the remote folder is on this machine): cancelled mid-job
        assert time.time() < deadline, 'the first job never ran'
        time.sleep(0.5)
    subprocess.run(['scancel', jobs[0].get_job_id()], check=True)
    chain = submit_and_await(chain, timeout=600)
    assert chain.is_finished_ok, chain.exit_message
    first, second = sorted(
        (node for node in chain.called if node.process_type.endswith('ifacerank.mlp')), key=lambda node: node.ctime
    )
    assert first.exit_status == 300 and 'CANCELLED AT' in first.exit_message, first.exit_message
    assert second.is_finished_ok
    table = chain.outputs.results.get_dataframe()
    assert len(table) == len(cells) and table['label'].is_unique
    np.testing.assert_allclose(table['energy_ev'], mace_energies(model_file, cells), atol=1e-6)


@pytest.fixture
def pseudo_family(aiida_profile):
    from aiida_ifacerank.tools.pseudos import install_family  # noqa: PLC0415

    return install_family()


@pytest.mark.services
def test_dft_work_chain_runs_on_the_cluster(cluster, pw_code, pseudo_family, submit_and_await):
    """A pw.x single point of bulk Si through Slurm equals the same single point on the local computer."""
    from tests.workflows.test_dft_qe import builder, bulk_si  # noqa: PLC0415

    _, _, pw, _ = cluster
    node = submit_and_await(builder(pw, bulk_si(), task='single_point'), timeout=600)
    assert node.is_finished_ok, node.exit_message
    job = next(child for child in node.called_descendants if child.process_type.endswith('quantumespresso.pw'))
    assert job.computer.uuid == pw.computer.uuid and job.get_job_id() in slurm_job_ids()
    local, _ = run_get_node(builder(pw_code, bulk_si(), task='single_point'))
    assert node.outputs.energy.value == pytest.approx(local['energy'].value, abs=1e-6)


def test_study_on_the_cluster_equals_the_same_study_run_locally(
    cluster, stored_study, trained_mace_file, submit_and_await
):
    """The session's stored Si|Ge study (run in process on the local computer) again through the daemon, every job
    on the Slurm computer over SSH: the same formation energies in every mode."""
    from aiida.orm import CalcJobNode  # noqa: PLC0415

    from tests.studies import LOOSE_FMAX, TINY, study_builder  # noqa: PLC0415

    _, python, pw, _ = cluster
    builder = study_builder(
        python,
        pw,
        trained_mace_file,
        'Si',
        'Ge',
        generation={**TINY['generation'], 'shift_grid': [2, 1]},
        dft_subset={'choice': 'smallest', 'n': 2},
        fmax_ev_ang=LOOSE_FMAX,
    )
    study = submit_and_await(builder, timeout=1800)
    assert study.is_finished_ok, study.exit_message
    jobs = [node for node in study.called_descendants if isinstance(node, CalcJobNode)]
    assert jobs and {job.computer.label for job in jobs} == {'slurm-over-ssh'}
    assert all(job.get_job_id() for job in jobs)
    remote, local = (node.outputs.formation.get_dataframe() for node in (study, stored_study))
    assert list(remote['interface']) == list(local['interface']) and list(remote['mode']) == list(local['mode'])
    np.testing.assert_allclose(remote['formation_ev_ang2'], local['formation_ev_ang2'], atol=1e-5, equal_nan=True)


@pytest.mark.services
def test_no_secret_reaches_the_provenance_graph_or_the_logs(cluster, aiida_profile):
    """After the jobs above: neither the cluster's private key nor the database password (production profile) is in
    any node's attributes, extras or files, in any log entry, or in the daemon's log."""
    from aiida.manage import get_manager  # noqa: PLC0415
    from aiida.orm import Node, QueryBuilder  # noqa: PLC0415

    _, _, _, state = cluster
    secrets = [line for line in (state / 'id_ed25519').read_text().splitlines() if not line.startswith('-----')]
    password = aiida_profile.storage_config.get('database_password')
    secrets += [password] if password else []
    assert secrets and QueryBuilder().append(Node).count() > 10

    def leaks(text: str) -> list[str]:
        return [secret[:6] + '...' for secret in secrets if secret in text]

    for node in QueryBuilder().append(Node).all(flat=True):
        assert not leaks(repr(node.base.attributes.all) + repr(node.base.extras.all)), node
        for folder, _, filenames in node.base.repository.walk():
            for name in filenames:
                content = node.base.repository.get_object_content(folder / name, mode='rb')
                assert not leaks(content.decode(errors='replace')), (node, folder / name)
    assert not leaks(' '.join(entry.message for entry in Log.collection.all()))
    daemon_log = Path(get_manager().get_daemon_client().daemon_log_file)
    assert not daemon_log.exists() or not leaks(daemon_log.read_text(errors='replace'))
