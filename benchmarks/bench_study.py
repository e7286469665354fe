"""The tiny Si|Ge study of the tests through the daemon: wall time per stage, the daemon's own overhead against
the compute time of the jobs, and the DFT ionic steps saved by starting from the MLP geometries.

Runs two studies on the profile of ``bin/setup`` (its daemon is started if needed; caching is switched off for
them, so that every job runs): ``dft_start`` generated and mlp, on the same two candidates. ::

    bin/setup --with-profile && .venv/bin/python benchmarks/bench_study.py

Overhead = Σ over jobs of (job node lifetime − the executable's own wall time) + the work chains' own steps,
reported as a fraction of Σ executable wall time (pw.x's ``WALL``, the MLP driver's model load and structures).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault('AIIDA_PATH', str(ROOT / '.aiida'))

STAGES = {
    'bulk references': ('mlp_bulk', 'dft_relax_bulk'),
    'MLP relaxation': ('mlp_relax',),
    'DFT relaxation and MLP@DFT': ('dft_relax_candidate', 'dft_scf'),
    'DFT@MLP': ('mlp_single_point',),
    'formation, rank, report': ('formation', 'rank', 'report'),
}


def executable_seconds(job) -> float:
    """Wall time (s) of the executable of a finished job: pw.x's last WALL, or the MLP driver's own times."""
    names = job.outputs.retrieved.base.repository.list_object_names() if 'retrieved' in job.outputs else []
    if 'aiida.out' in names:
        from aiida_ifacerank.tools.dft import qe_times_seconds  # noqa: PLC0415

        times = qe_times_seconds(job.outputs.retrieved.base.repository.get_object_content('aiida.out'))
        return times[1] if times else 0.0
    if 'results.jsonl' in names:
        events = job.outputs.retrieved.base.repository.get_object_content('results.jsonl').splitlines()
        return sum(json.loads(line).get('time', 0.0) for line in events if line.strip())
    return 0.0


def stage_times(study) -> dict:
    """Wall time (s) of each stage: first start to last end of the processes it called."""
    links = study.base.links.get_outgoing().all()
    times = {}
    for stage, prefixes in STAGES.items():
        nodes = [link.node for link in links if link.link_label.startswith(prefixes)]
        if nodes:
            times[stage] = max(n.mtime for n in nodes).timestamp() - min(n.ctime for n in nodes).timestamp()
    return times


def overhead(study) -> tuple[float, float]:
    """(Σ executable wall time, Σ job lifetime − executable time) over the study's jobs, seconds."""
    from aiida.orm import CalcJobNode  # noqa: PLC0415

    compute = spent = 0.0
    for job in study.called_descendants:
        if isinstance(job, CalcJobNode):
            seconds = executable_seconds(job)
            compute += seconds
            spent += job.mtime.timestamp() - job.ctime.timestamp() - seconds
    return compute, spent


def main():
    from aiida import load_profile, orm  # noqa: PLC0415
    from aiida.engine.daemon.client import get_daemon_client  # noqa: PLC0415

    load_profile(os.environ.get('IFACERANK_PROFILE', 'ifacerank'))
    from aiida.manage.configuration import get_config  # noqa: PLC0415

    from aiida_ifacerank.data import PotentialModelData  # noqa: PLC0415
    from aiida_ifacerank.tools.pseudos import install_family  # noqa: PLC0415
    from aiida_ifacerank.workflows.study import StudyWorkChain  # noqa: PLC0415
    from tests.models import train_mace_sige  # noqa: PLC0415
    from tests.studies import TINY, crystal  # noqa: PLC0415

    config, profile = get_config(), os.environ.get('IFACERANK_PROFILE', 'ifacerank')
    caching = config.get_option('caching.enabled_for', scope=profile)
    config.set_option('caching.enabled_for', [], scope=profile)
    config.store()
    client = get_daemon_client()
    client.restart_daemon() if client.is_daemon_running else client.start_daemon()
    try:
        computer = orm.load_computer('localhost')
        computer.set_use_double_quotes(False)
        python = orm.InstalledCode(computer=computer, filepath_executable=sys.executable, label='python-bench').store()
        pw = orm.InstalledCode(
            computer=computer,
            filepath_executable=shutil.which('pw.x'),
            label='pw-bench',
            default_calc_job_plugin='quantumespresso.pw',
        ).store()
        install_family()
        started = time.perf_counter()
        model = PotentialModelData.get_or_create(train_mace_sige(Path(tempfile.mkdtemp()) / 'mace.model'))
        print(f'MACE trained in {time.perf_counter() - started:.0f} s')
        studies = {}
        for start in ('generated', 'mlp'):
            overrides = {**TINY, 'dft_subset': {'choice': 'smallest', 'n': 2}, 'dft_start': start}
            builder = StudyWorkChain.get_builder_from_protocol(
                python, pw, crystal('Si'), crystal('Ge'), protocol='fast', overrides=overrides, model=model
            )
            from aiida.engine import submit  # noqa: PLC0415

            started = time.perf_counter()
            node = submit(builder)
            while not node.is_terminated:
                time.sleep(2)
            studies[start] = (node, time.perf_counter() - started)
    finally:
        config.set_option('caching.enabled_for', caching, scope=profile)
        config.store()
        client.restart_daemon()

    for start, (node, wall) in studies.items():
        compute, spent = overhead(node)
        print(f'\nstudy<{node.pk}> dft_start={start}: exit status {node.exit_status}, wall {wall:.0f} s')
        for stage, seconds in stage_times(node).items():
            print(f'  {stage:28s} {seconds:7.1f} s')
        print(f'  executables {compute:.0f} s; AiiDA around them {spent:.0f} s = {spent / compute:.1%} of compute')
    steps = {
        start: node.outputs.report.cost.get_dataframe().set_index('interface')['dft_relax_ionic_steps'].dropna()
        for start, (node, _) in studies.items()
    }
    common = steps['generated'].index.intersection(steps['mlp'].index)
    print('\nDFT ionic steps per interface (from generated → from MLP geometry):')
    for label in common:
        print(f'  {label}: {int(steps["generated"][label])} → {int(steps["mlp"][label])}')
    saved = steps['generated'][common].sum() - steps['mlp'][common].sum()
    print(f'  saved {int(saved)} of {int(steps["generated"][common].sum())} ionic steps')


if __name__ == '__main__':
    main()
