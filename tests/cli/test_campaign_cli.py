"""``aiida-ifacerank campaign``: three studies, at most two active, submitted again only where missing (their
pw.x code sleeps, so the studies stay active until the test kills them); two real studies, one at a time, through a
daemon killed with SIGKILL while the first one's jobs run."""

import time

import pytest
import yaml
from aiida.common.datastructures import CalcJobState
from aiida.engine.processes.control import kill_processes
from aiida.manage import get_manager
from aiida.orm import Group, InstalledCode, QueryBuilder, WorkChainNode

from aiida_ifacerank.common.campaign import EXTRA
from aiida_ifacerank.common.study import STUDY_ENTRY_POINT, called
from tests.command_line import invoke
from tests.models import build_random_mace
from tests.studies import LOOSE_FMAX, TINY, calcjobs, kill_daemon, start_killed_daemon

pytestmark = pytest.mark.slow


def studies_in(label):
    return [node for node in Group.collection.get(label=label).nodes if isinstance(node, WorkChainNode)]


@pytest.fixture
def campaign_file(tmp_path, study_codes):
    python, pw = study_codes
    sleepy = InstalledCode(
        label='pw-sleeps',
        computer=pw.computer,
        filepath_executable=str(pw.filepath_executable),
        default_calc_job_plugin='quantumespresso.pw',
        prepend_text='sleep 600',
    ).store()
    campaign = {
        'group': 'campaigns/test',
        'max_concurrent': 2,
        'defaults': {
            'mlp_code': python.pk,
            'dft_code': sleepy.pk,
            'protocol': 'fast',
            'model': str(build_random_mace(tmp_path / 'random.model')),
            'overrides': TINY,
        },
        'studies': [
            {'lower': 'examples/bulk/Si.cif', 'upper': 'examples/bulk/Ge.cif'},
            {'lower': 'examples/bulk/Ge.cif', 'upper': 'examples/bulk/Si.cif'},
            {'name': 'Si on Si', 'lower': 'examples/bulk/Si.cif', 'upper': 'examples/bulk/Si.cif'},
        ],
    }
    path = tmp_path / 'campaign.yaml'
    path.write_text(yaml.safe_dump(campaign))
    return path


def kill_and_wait(nodes, timeout=300):
    """Kill the studies once a daemon worker runs them (they wait for their sleeping pw.x jobs)."""
    nodes = [node for node in nodes if not node.is_terminated]
    deadline = time.time() + timeout
    while not all(node.process_state and node.process_state.value == 'waiting' for node in nodes):
        assert time.time() < deadline, f'the studies did not start: {[node.process_state for node in nodes]}'
        time.sleep(1)
    kill_processes(nodes, timeout=timeout)
    deadline = time.time() + timeout
    while not all(node.is_terminated for node in nodes):
        assert time.time() < deadline, 'the studies were not killed'
        time.sleep(1)


@pytest.mark.services
def test_campaign_submits_at_most_max_concurrent_and_only_what_is_missing(campaign_file, started_daemon_client):
    result = invoke('campaign', 'submit', campaign_file, '--dry-run')
    assert result.exit_code == 0, result.output
    assert result.output.count('would submit') == 2
    studies = QueryBuilder().append(WorkChainNode, filters={'process_type': f'aiida.workflows:{STUDY_ENTRY_POINT}'})
    before = studies.count()

    result = invoke('campaign', 'submit', campaign_file)
    assert result.exit_code == 0, result.output
    assert result.output.count('submitted ') == 2 and '3 studies, 2 submitted, 2 active, 1 to submit' in result.output
    result = invoke('campaign', 'submit', campaign_file)  # both still active (pw.x sleeps): no slot
    assert result.output.count('submitted ') == 0 and '2 active, 1 to submit' in result.output, result.output
    assert len(studies_in('campaigns/test')) == 2 and studies.count() == before + 2

    kill_and_wait(studies_in('campaigns/test'))
    result = invoke('campaign', 'submit', campaign_file)
    assert result.output.count('submitted ') == 1 and '0 to submit' in result.output, result.output
    kill_and_wait(studies_in('campaigns/test'))
    result = invoke('campaign', 'submit', campaign_file)  # every name is in the group: nothing more
    assert result.output.count('submitted ') == 0 and studies.count() == before + 3, result.output

    nodes = studies_in('campaigns/test')
    assert sorted(node.base.extras.get(EXTRA) for node in nodes) == ['Ge|Si', 'Si on Si', 'Si|Ge']
    for argument in (campaign_file, 'campaigns/test'):
        result = invoke('campaign', 'status', argument)
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert len(lines) == 4 and all(' killed' in line for line in lines[:3]), result.output
        assert lines[3].startswith('campaigns/test: [' + '#' * 24 + '] 3/3 done; 0 finished, 3 failed')


def test_campaign_refuses_to_submit_without_the_daemon(campaign_file, stopped_daemon_client):
    result = invoke('campaign', 'submit', campaign_file)
    assert result.exit_code != 0 and 'verdi daemon start' in result.output and 'Traceback' not in result.output


def test_campaign_refuses_a_bad_file_before_submitting(campaign_file, tmp_path):
    studies = QueryBuilder().append(WorkChainNode, filters={'process_type': f'aiida.workflows:{STUDY_ENTRY_POINT}'})
    before = studies.count()
    campaign = yaml.safe_load(campaign_file.read_text())
    campaign['studies'][1]['mlp_code'] = 'no-such-code'
    campaign['studies'].append({'lower': 'examples/bulk/Si.cif', 'upper': 'examples/bulk/Ge.cif'})
    path = tmp_path / 'bad.yaml'
    path.write_text(yaml.safe_dump(campaign))
    result = invoke('campaign', 'submit', path)
    assert result.exit_code != 0 and 'repeated' in result.output and 'Traceback' not in result.output
    campaign['studies'].pop()
    path.write_text(yaml.safe_dump(campaign))
    result = invoke('campaign', 'submit', path)
    assert result.exit_code != 0 and "study 'Ge|Si': mlp_code:" in result.output, result.output
    assert studies.count() == before


@pytest.mark.services
def test_campaign_loses_and_repeats_nothing_when_the_daemon_is_killed(
    study_codes, trained_mace_file, started_daemon_client, tmp_path
):
    """Ge|Si and Si|Ge, one at a time (``max_concurrent`` 1). While the first study's job runs, the daemon (circus
    and its worker) is SIGKILLed; ``campaign submit`` meanwhile submits nothing (refuses on ZeroMQ, whose broker
    died with the daemon), and the daemon is started again. Both studies finish, each in the group once; the job
    that ran through the kill keeps its job id (followed again, not resubmitted) and ends well; no job was lost
    (killed or excepted); every candidate is in the MLP results once; every mode has its energies."""
    python, pw = study_codes
    label = 'campaigns/daemon-killed'
    overrides = {
        **TINY,
        'generation': {**TINY['generation'], 'shift_grid': [2, 1]},
        'dft_subset': {'choice': 'smallest', 'n': 1},
        'fmax_ev_ang': LOOSE_FMAX,
    }
    campaign = {
        'group': label,
        'max_concurrent': 1,
        'defaults': {
            'mlp_code': python.pk,
            'dft_code': pw.pk,
            'protocol': 'fast',
            'model': str(trained_mace_file),
            'overrides': overrides,
        },
        'studies': [
            {'lower': 'examples/bulk/Si.cif', 'upper': 'examples/bulk/Ge.cif'},
            {'lower': 'examples/bulk/Ge.cif', 'upper': 'examples/bulk/Si.cif'},
        ],
    }
    path = tmp_path / 'campaign.yaml'
    path.write_text(yaml.safe_dump(campaign))
    result = invoke('campaign', 'submit', path)
    assert result.exit_code == 0 and '2 studies, 1 submitted, 1 active, 1 to submit' in result.output, result.output
    (first,) = studies_in(label)
    deadline = time.time() + 600
    while not (running := [job for job in calcjobs(first) if job.get_state() == CalcJobState.WITHSCHEDULER]):
        assert time.time() < deadline and not first.is_terminated, first.exit_message
        time.sleep(0.5)
    job, job_id = running[0], running[0].get_job_id()
    kill_daemon(started_daemon_client)
    result = invoke('campaign', 'submit', path)
    if get_manager().get_profile().process_control_backend == 'core.zeromq':  # its broker died with the daemon
        assert result.exit_code != 0 and 'verdi daemon start' in result.output, result.output
    else:  # RabbitMQ keeps what is submitted for the next worker; the first study still holds the one slot
        assert result.exit_code == 0 and '1 active, 1 to submit' in result.output, result.output
    assert len(studies_in(label)) == 1
    start_killed_daemon()

    deadline = time.time() + 1500
    while True:  # what ``campaign submit --watch`` does
        result = invoke('campaign', 'submit', path)
        assert result.exit_code == 0, result.output
        studies = studies_in(label)
        if len(studies) == 2 and all(study.is_terminated for study in studies):
            break
        assert time.time() < deadline, [study.process_state for study in studies]
        time.sleep(3)
    assert sorted(study.base.extras.get(EXTRA) for study in studies) == ['Ge|Si', 'Si|Ge']
    assert job.is_finished_ok and job.get_job_id() == job_id, job.exit_message
    for study in studies:
        assert study.is_finished_ok, study.exit_message
        jobs = calcjobs(study)
        assert all(each.is_finished for each in jobs), [(each.pk, each.process_state) for each in jobs]
        merged = called(study)['mlp_relax'].outputs.results.get_dataframe()  # the batch's merged results
        assert sorted(merged['label']) == sorted(study.outputs.candidates.get_dataframe()['candidate'])
        formation = study.outputs.formation.get_dataframe()
        assert set(formation[formation['exit_status'] == 0]['mode']) == {'MLP@MLP', 'DFT@DFT', 'DFT@MLP', 'MLP@DFT'}
