"""Load: a campaign of four studies, 674 Si/Ge candidate interfaces, run by the daemon of the production profile
(PostgreSQL + RabbitMQ) on the Slurm computer reached over SSH; throughput and the daemon's overhead per
interface against the MLP compute time.

The campaign is submitted as a user does (``aiida-ifacerank campaign submit FILE --watch``). Every candidate is
relaxed with the project's own MACE (examples/demo, 32 channels: a fast MLP, so the overhead is measured against
little compute); each study relaxes its smallest candidate and the bulk references with pw.x (25/100 Ry). Caching
is off while it runs, so that every job runs. ::

    bin/setup && bin/setup-cluster && bin/setup-services --profile ifacerank-production
    .venv/bin/python benchmarks/bench_campaign.py [--profile ifacerank-production] [--studies 'Si|Ge' ...]
        [--max-area 30] [--thickness 1] [--seconds-per-structure 4] [--walltime 600] [--poll-interval 10]
        [--kpoints-distance 0.30]

``--studies``, ``--max-area`` and ``--thickness`` (layers per slab) change the campaign's shape: the daemon's
cost is mostly per process (about 64 per study, 30 of them DFT), so fewer, larger studies spread it over more
interfaces. ``--seconds-per-structure``
and ``--walltime`` size the MLP jobs (the study's ``mlp.seconds_per_structure`` and ``max_wallclock_seconds``):
larger cells take longer per structure. ``--poll-interval`` is the computer's minimum time between two Slurm
polls (AiiDA's default 10 s; a real cluster asks for 30 s or more). ``--kpoints-distance`` is the DFT k-point
spacing: with thick slabs, a spacing of 2 1/Å (Gamma-only for every interface) keeps the pw.x runs, which are not
what this benchmark measures, from outlasting the MLP stage by far; their energies are then not for science.

Daemon overhead = CPU seconds of the daemon's worker processes over the whole campaign (their start, every work
chain step, transport, scheduler poll, parse and store of all four studies, DFT included), per interface, against
the MLP driver's own wall time per interface (model load and structures; the jobs share the machine's two cores).
Not in it: the services the daemon talks to (PostgreSQL, RabbitMQ, sshd, Slurm) and the circus arbiter. The
submitting command's CPU time is reported too.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault('AIIDA_PATH', str(ROOT / '.aiida'))

STUDIES = [('Si', 'Ge'), ('Ge', 'Si'), ('Si', 'Si'), ('Ge', 'Ge')]
"""(lower, upper) bulk crystals of examples/bulk: 199, 197, 139 and 139 candidates with the settings below."""
SETTINGS = {
    'mlp_code': 'python-cluster@ifacerank-cluster',
    'dft_code': 'pw-cluster@ifacerank-cluster',
    'protocol': 'fast',
    'model': str(ROOT / 'examples' / 'demo' / 'mace-sige.model'),
    'overrides': {
        'generation': {'max_miller': [1, 1], 'max_area': 20.0, 'thickness': [1, 1], 'gaps': [2.0, 2.6]},
        'mlp': {
            'parameters': {'threads': 1},
            'seconds_per_structure': 4,
            'options': {
                'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1},
                'withmpi': False,
                'max_wallclock_seconds': 600,
            },
        },
        'dft': {
            'protocol': 'fast',
            'overrides': {
                'qe': {'overrides': {'base_relax': {'pw': {'parameters': {'SYSTEM': {'ecutwfc': 25, 'ecutrho': 100}}}}}}
            },
            'options': {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1}, 'withmpi': False},
        },
        'dft_subset': {'choice': 'smallest', 'n': 1},
        'max_concurrent': 2,
        'analysis': {'top_n': [1]},
    },
}
"""Study settings shared by the campaign: one layer per side, cells up to 20 Å², three gaps per stacking."""


def cluster_computer(profile: str, poll_interval: float):
    """The Slurm computer over SSH of ``bin/setup-cluster`` (made once per profile) with its python and pw.x codes
    (``python-cluster``, ``pw-cluster``), polled at most every ``poll_interval`` seconds."""
    from aiida import orm  # noqa: PLC0415
    from aiida.common.exceptions import NotExistent  # noqa: PLC0415

    from tests.studies import codes_on, slurm_over_ssh  # noqa: PLC0415

    computer, _ = slurm_over_ssh('ifacerank-cluster', profile)
    try:
        orm.load_code('python-cluster@ifacerank-cluster')
    except NotExistent:
        codes_on(computer, 'cluster')
    computer.set_minimum_job_poll_interval(poll_interval)
    return computer


def worker_cpu(profile: str, seen: dict) -> None:
    """Update ``seen`` {pid: CPU seconds} with the daemon workers of ``profile`` now running (``verdi -p PROFILE
    daemon worker``)."""
    for process in psutil.process_iter(['pid', 'cmdline']):
        words = process.info['cmdline'] or []
        if words[-2:] == ['daemon', 'worker'] and '-p' in words and words[words.index('-p') + 1] == profile:
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            seen[process.info['pid']] = times.user + times.system


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--profile', default=os.environ.get('IFACERANK_PROFILE', 'ifacerank-production'))
    parser.add_argument(
        '--studies', nargs='+', default=[f'{lower}|{upper}' for lower, upper in STUDIES], help='e.g. "Si|Ge" "Ge|Ge"'
    )
    parser.add_argument('--max-area', type=float, default=20.0, help='largest interface cell (Å²)')
    parser.add_argument('--thickness', type=int, default=1, help='layers of each slab')
    parser.add_argument('--seconds-per-structure', type=float, default=4.0, help='sizes the MLP jobs (s)')
    parser.add_argument('--walltime', type=int, default=600, help='walltime of an MLP job (s)')
    parser.add_argument('--poll-interval', type=float, default=10.0, help='least time between Slurm polls (s)')
    parser.add_argument(
        '--kpoints-distance', type=float, default=0.30, help="DFT k-point spacing (1/Å, 2π included; 'fast': 0.30)"
    )
    arguments = parser.parse_args()
    profile, pairs = arguments.profile, [name.split('|') for name in arguments.studies]
    settings = copy.deepcopy(SETTINGS)
    settings['overrides']['generation']['max_area'] = arguments.max_area
    settings['overrides']['generation']['thickness'] = [arguments.thickness] * 2
    mlp = settings['overrides']['mlp']
    mlp['seconds_per_structure'] = arguments.seconds_per_structure
    mlp['options']['max_wallclock_seconds'] = arguments.walltime
    settings['overrides']['kpoints_distance_inv_ang'] = arguments.kpoints_distance

    from aiida import load_profile, orm  # noqa: PLC0415
    from aiida.engine.daemon.client import get_daemon_client  # noqa: PLC0415
    from aiida.manage.configuration import get_config  # noqa: PLC0415

    from aiida_ifacerank.tools.pseudos import install_family  # noqa: PLC0415
    from benchmarks.bench_study import executable_seconds  # noqa: PLC0415

    load_profile(profile)
    cluster_computer(profile, arguments.poll_interval)
    install_family()
    group = f'bench/load-{time.strftime("%Y%m%d-%H%M%S")}'
    campaign = {
        'group': group,
        'max_concurrent': len(pairs),
        'defaults': settings,
        'studies': [
            {
                'name': f'{lower}|{upper}',
                'lower': str(ROOT / 'examples' / 'bulk' / f'{lower}.cif'),
                'upper': str(ROOT / 'examples' / 'bulk' / f'{upper}.cif'),
            }
            for lower, upper in pairs
        ],
    }
    path = Path(tempfile.mkdtemp()) / 'campaign.yaml'
    path.write_text(yaml.safe_dump(campaign))

    config = get_config()
    caching = config.get_option('caching.enabled_for', scope=profile)
    client = get_daemon_client()
    cpu = {}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        config.set_option('caching.enabled_for', [], scope=profile)
        config.store()
        client.restart_daemon() if client.is_daemon_running else client.start_daemon()
        started = time.perf_counter()
        command = [str(Path(sys.executable).parent / 'aiida-ifacerank'), '-p', profile, 'campaign', 'submit', str(path)]
        log = path.with_suffix('.log')
        with log.open('w') as output:
            submitter = subprocess.Popen([*command, '--watch', '5'], stdout=output, stderr=subprocess.STDOUT)
            while True:
                worker_cpu(profile, cpu)
                if submitter.poll() not in (None, 0):
                    raise RuntimeError(f'campaign submit failed ({submitter.returncode}): {log.read_text()}')
                studies = (
                    orm.QueryBuilder()
                    .append(orm.Group, filters={'label': group}, tag='g')
                    .append(orm.WorkChainNode, with_group='g')
                    .all(flat=True)
                )
                if len(studies) == len(pairs) and all(node.is_terminated for node in studies):
                    break
                time.sleep(5)
        wall = time.perf_counter() - started
        worker_cpu(profile, cpu)
        submitter.wait()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        submitter_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    finally:
        config.set_option('caching.enabled_for', caching, scope=profile)
        config.store()
        client.restart_daemon(timeout=120)

    candidates = mlp_seconds = dft_seconds = 0.0
    mlp_jobs = dft_jobs = structures = 0
    for study in studies:
        print(f'study<{study.pk}> {study.base.extras.get("ifacerank_campaign")}: exit status {study.exit_status}')
        candidates += len(study.outputs.candidates.get_dataframe()) if 'candidates' in study.outputs else 0
        for job in study.called_descendants:
            if not isinstance(job, orm.CalcJobNode):
                continue
            seconds = executable_seconds(job)
            if job.process_type.endswith('ifacerank.mlp'):
                mlp_jobs, mlp_seconds = mlp_jobs + 1, mlp_seconds + seconds
                structures += len(job.outputs.results.get_dataframe()) if 'results' in job.outputs else 0
            else:
                dft_jobs, dft_seconds = dft_jobs + 1, dft_seconds + seconds
    daemon = sum(cpu.values())
    candidates = int(candidates)
    if not (candidates and mlp_seconds):
        raise RuntimeError(f'no candidates ({candidates}) or no MLP time ({mlp_seconds} s): see the studies above')
    figures = {
        'candidates': candidates,
        'wall_s': round(wall, 1),
        'interfaces_per_hour': round(candidates / wall * 3600),
        'mlp_jobs': mlp_jobs,
        'mlp_structures': structures,
        'mlp_seconds': round(mlp_seconds, 1),
        'mlp_seconds_per_interface': round(mlp_seconds / candidates, 3),
        'dft_jobs': dft_jobs,
        'dft_seconds': round(dft_seconds, 1),
        'daemon_workers': len(cpu),
        'daemon_cpu_s': round(daemon, 1),
        'daemon_cpu_s_per_interface': round(daemon / candidates, 4),
        'daemon_overhead_vs_mlp': round(daemon / mlp_seconds, 4),
        'submitter_cpu_s': round(submitter_cpu, 1),
    }
    print(json.dumps(figures, indent=1))
    print(
        f'\n{candidates} interfaces in {wall / 60:.1f} min: {figures["interfaces_per_hour"]} per hour on this machine '
        f'(2 cores). MLP: {mlp_jobs} jobs, {structures} structures, {mlp_seconds:.0f} s; DFT: {dft_jobs} pw.x jobs, '
        f'{dft_seconds:.0f} s.\nDaemon: {daemon:.0f} CPU s ({len(cpu)} worker(s)) = {daemon / candidates:.3f} s per '
        f'interface against {mlp_seconds / candidates:.2f} s of MLP compute: {daemon / mlp_seconds:.1%} (goal < 5 %).'
    )


if __name__ == '__main__':
    main()
