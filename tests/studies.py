"""Settings of the small studies the tests run (8-atom Si|Ge and Ge|Ge (001) candidates, pw.x at 25/100 Ry on
one core, fast protocol) and helpers to look into them and to kill their daemon."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from aiida.brokers import ZeromqBroker
from aiida.common.datastructures import CalcJobState
from aiida.common.exceptions import NotExistent
from aiida.manage import get_manager
from aiida.orm import CalcJobNode, Computer, InstalledCode, QueryBuilder, StructureData, load_computer
from pymatgen.core import Structure

from aiida_ifacerank.data import PotentialModelData
from aiida_ifacerank.tools.daemon import alive, start_daemon
from aiida_ifacerank.workflows.study import StudyWorkChain

LOW_CUTOFFS = {'qe': {'overrides': {'base_relax': {'pw': {'parameters': {'SYSTEM': {'ecutwfc': 25, 'ecutrho': 100}}}}}}}
"""ifacerank.dft overrides: pw.x cutoffs 25/100 Ry (Ry)."""
SERIAL = {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1}, 'withmpi': False}
TINY = {
    'generation': {
        'plane_pairs': [[[0, 0, 1], [0, 0, 1]]],
        'max_area': 20.0,
        'thickness': [1, 1],
        'shift_grid': [2, 2],
    },
    'kpoints_distance_inv_ang': 0.7,
    'max_concurrent': 2,
    'mlp': {'parameters': {'threads': 1}, 'seconds_per_structure': 5},
    'dft': {'protocol': 'fast', 'overrides': LOW_CUTOFFS, 'options': SERIAL},
    'analysis': {'top_n': [1, 2]},
}
"""Study overrides: (001)|(001) candidates of one layer per side under 20 Å², k-spacing 0.7 1/Å."""


LOOSE_FMAX = 0.2
"""Force threshold (eV/Å) for the studies of tests that check what a study stores and passes on (the CLI, queries,
export, a generation backend's candidates), four times the fast protocol's; the physics of a study is tested at
the fast protocol's threshold."""


def crystal(name):
    """The example bulk crystal ``examples/bulk/<name>.cif`` as StructureData."""
    return StructureData(pymatgen=Structure.from_file(f'examples/bulk/{name}.cif'))


def study_builder(python, pw, model_file, lower, upper, **overrides):
    """Builder of a fast study of ``upper`` on ``lower`` with :data:`TINY` updated by ``overrides``."""
    model = PotentialModelData.get_or_create(model_file)
    return StudyWorkChain.get_builder_from_protocol(
        python, pw, crystal(lower), crystal(upper), protocol='fast', overrides={**TINY, **overrides}, model=model
    )


def calcjobs(study):
    """Every calculation job below ``study``."""
    return [node for node in study.called_descendants if isinstance(node, CalcJobNode)]


def kill_daemon(client):
    """SIGKILL every process of the daemon, as a crashed machine would: the circus arbiter, the workers and, on a
    ZeroMQ profile, the broker that the daemon runs there (RabbitMQ is a service of its own and outlives the daemon).
    Jobs keep running. :func:`start_killed_daemon` starts it again.

    A ZeroMQ broker that outlives its workers is meant to requeue their tasks, but aiida-core 2.9's probes the
    workers once, when a connection drops: the likely cause of a CI run in which the killed study never resumed.
    A broker that starts again takes every unacknowledged task from its queue on disk."""
    deadline = time.time() + 120
    while unsettled_jobs():
        assert time.time() < deadline, 'a job stayed between its upload and the scheduler for 120 s'
        time.sleep(0.05)
    pids = [client.get_daemon_pid(), *(int(info['pid']) for info in client.get_worker_info()['info'].values())]
    broker = get_manager().get_broker()
    if isinstance(broker, ZeromqBroker):
        pids.append(int(broker.probe_service_status()['pid']))
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    deadline = time.time() + 10
    while any(alive(pid) for pid in pids):
        assert time.time() < deadline, 'a killed daemon process still runs after 10 s'
        time.sleep(0.05)


def unsettled_jobs() -> int:
    """Active jobs of the profile between their upload and the scheduler (state unstashing or submitting).

    :func:`kill_daemon` waits for none: aiida-core 2.9 marks a job unstashing when its upload ends but links its
    ``remote_folder`` output only at the process's next state change, and a worker started again skips the upload
    of a job so marked, so a job killed in between runs and finishes without ``remote_folder`` and
    aiida-quantumespresso's work chain fails it (exit status 11)."""
    active = {'attributes.process_state': {'in': ['created', 'waiting', 'running']}}
    states = {'attributes.state': {'in': [CalcJobState.UNSTASHING.value, CalcJobState.SUBMITTING.value]}}
    return QueryBuilder().append(CalcJobNode, filters={**active, **states}).count()


def start_killed_daemon():
    """Start the daemon that :func:`kill_daemon` killed as ``bin/demo`` does (on ZeroMQ the dead broker's address
    file goes first, and the start waits for a worker to subscribe), and connect this process to the daemon's new
    broker, which listens at a new address."""
    assert 'removed' in start_daemon() or not isinstance(get_manager().get_broker(), ZeromqBroker)
    manager = get_manager()
    if isinstance(manager.get_broker(), ZeromqBroker):
        manager.reset_broker()
        manager.reset_runner()


def slurm_over_ssh(label: str, subfolder: str = '') -> tuple:
    """(computer, state folder): the Slurm computer over SSH of ``bin/setup-cluster`` (started if it is not),
    stored as ``label`` with its working directory in ``subfolder`` of the cluster's, or loaded if the profile has
    it."""
    setup = Path(__file__).parents[1] / 'bin' / 'setup-cluster'
    host, workdir = subprocess.run([setup], check=True, capture_output=True, text=True).stdout.split()[-2:]
    try:
        return load_computer(label), Path(workdir).parent
    except NotExistent:
        pass
    computer = Computer(
        label=label,
        hostname=host,
        transport_type='core.ssh_async',
        scheduler_type='core.slurm',
        workdir=str(Path(workdir) / subfolder),
    ).store()
    computer.configure(host=host, backend='asyncssh', safe_interval=0.5, use_login_shell=False)
    return computer, Path(workdir).parent


def codes_on(computer, suffix: str) -> tuple:
    """(python, pw.x) codes stored on ``computer``, labelled ``python-<suffix>`` and ``pw-<suffix>``: this Python
    (with mace-torch) and Debian's pw.x."""
    python = InstalledCode(label=f'python-{suffix}', computer=computer, filepath_executable=sys.executable).store()
    pw = InstalledCode(
        label=f'pw-{suffix}',
        computer=computer,
        filepath_executable=shutil.which('pw.x'),
        default_calc_job_plugin='quantumespresso.pw',
    ).store()
    return python, pw
