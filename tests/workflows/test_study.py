"""``ifacerank.study`` through the daemon with real components: a small MACE trained in the test session
(Tersoff labels), real pw.x, 8-atom Si|Ge and Ge|Ge (001) candidates, fast settings."""

import time

import numpy as np
import pytest
from aiida.common.datastructures import CalcJobState
from aiida.common.links import LinkType
from aiida.orm import InstalledCode, StructureData
from pymatgen.analysis.structure_matcher import StructureMatcher

from aiida_ifacerank.analysis.table import MODES
from aiida_ifacerank.common.caching import CACHED_PROCESSES, enable_caching
from aiida_ifacerank.common.study import called
from aiida_ifacerank.data import PotentialModelData
from aiida_ifacerank.science.energetics import formation_energy
from aiida_ifacerank.science.lattice import interface_area
from aiida_ifacerank.tools.pseudos import install_family
from aiida_ifacerank.workflows.study import StudyWorkChain
from tests.studies import LOOSE_FMAX, TINY, calcjobs, crystal, kill_daemon, start_killed_daemon, study_builder

pytestmark = pytest.mark.slow

FAIL_ONE_SCF = """if grep -q "calculation = 'scf'" aiida.in && grep -q "nat = 8" aiida.in; then
  digest=$(sed -n '/ATOMIC_POSITIONS/,$p' aiida.in | md5sum | cut -c1-32)
  (set -o noclobber; echo "$digest" > {marker}) 2>/dev/null
  if [ "$(cat {marker})" = "$digest" ]; then echo 'injected failure' >&2; exit 7; fi
fi"""
"""Prepend text of a pw.x code: the first interface single point it sees fails, and so does every rerun of it."""


@pytest.fixture(scope='module')
def caching(aiida_profile):
    """The profile's caching as ``bin/setup`` sets it, for this module only."""
    from aiida.manage.configuration import get_config  # noqa: PLC0415

    config = get_config()
    before = config.get_option('caching.enabled_for', scope=aiida_profile.name)
    enable_caching(aiida_profile.name)
    yield
    config.set_option('caching.enabled_for', before, scope=aiida_profile.name)
    config.store()


@pytest.fixture
def codes(python_code, pw_code):
    install_family()
    return python_code, pw_code


def direct_formation_energies(study) -> dict:
    """E_f (eV/Å²) per (candidate, mode) from the stored job outputs alone: energies, structures and μ."""
    stages = called(study)
    energies = {mode: {} for mode in MODES}
    cells = {mode: {} for mode in MODES}

    def from_mlp(node, mode):
        table = node.outputs.results.get_dataframe().set_index('label')
        for atoms in node.outputs.structures.get_ase():
            label = str(atoms.info['label'])
            if table.at[label, 'status'] == 'ok':
                energies[mode][label], cells[mode][label] = table.at[label, 'energy_ev'], atoms

    def from_dft(node, mode, label):
        if node.is_finished_ok:
            energies[mode][label], cells[mode][label] = node.outputs.energy.value, node.outputs.structure.get_ase()

    for name, node in stages.items():
        if name in {'mlp_bulk', 'mlp_relax'}:
            from_mlp(node, 'MLP@MLP')
        elif name == 'mlp_single_point':
            from_mlp(node, 'DFT@MLP')
        elif name.startswith('dft_relax_'):
            from_dft(node, 'DFT@DFT', name.removeprefix('dft_relax_'))
        elif name.startswith('dft_scf_'):
            from_dft(node, 'MLP@DFT', name.removeprefix('dft_scf_'))
    result = {}
    for mode in MODES:
        potentials = {}
        for label in ('bulk_lower', 'bulk_upper'):
            if label in energies[mode]:
                atoms = cells[mode][label]
                potentials.setdefault(atoms.get_chemical_symbols()[0], energies[mode][label] / len(atoms))
        for label, energy in energies[mode].items():
            if label.startswith('candidate_'):
                atoms = cells[mode][label]
                counts = {element: atoms.get_chemical_symbols().count(element) for element in set(atoms.symbols)}
                result[label, mode] = formation_energy(energy, counts, potentials, interface_area(atoms.cell.array))
    return result


def set_caching(client, profile_name, enabled: list):
    """Set the profile's ``caching.enabled_for`` and restart the daemon so that its workers read it."""
    from aiida.manage.configuration import get_config  # noqa: PLC0415

    config = get_config()
    config.set_option('caching.enabled_for', enabled, scope=profile_name)
    config.store()
    client.restart_daemon()


def running_pw_jobs(study) -> list:
    """pw.x jobs of the study's DFT relaxations that are with the scheduler (running)."""
    return [
        job
        for label, node in called(study).items()
        if label.startswith('dft_relax_candidate')
        for job in calcjobs(node)
        if job.get_state() == CalcJobState.WITHSCHEDULER
    ]


def wait(node, timeout=1800):
    deadline = time.time() + timeout
    while not node.is_terminated:
        assert time.time() < deadline, f'{node.process_label}<{node.pk}> did not finish in {timeout} s'
        time.sleep(3)
    return node


def test_si_ge_study_four_modes_failure_cache_and_sigkill(
    codes, trained_mace_file, started_daemon_client, aiida_profile, caching, tmp_path
):
    from aiida.engine import submit  # noqa: PLC0415

    python, pw = codes
    failing = InstalledCode(
        label='pw-fails-one-scf',
        computer=pw.computer,
        filepath_executable=str(pw.filepath_executable),
        default_calc_job_plugin='quantumespresso.pw',
        prepend_text=FAIL_ONE_SCF.format(marker=tmp_path / 'failing-scf'),
    ).store()

    def builder():
        return study_builder(python, failing, trained_mace_file, 'Si', 'Ge', dft_subset={'choice': 'smallest', 'n': 2})

    # the first run: the daemon killed with SIGKILL while DFT runs, then started again
    set_caching(started_daemon_client, aiida_profile.name, list(CACHED_PROCESSES))
    started = time.perf_counter()
    study = submit(builder())
    deadline = time.time() + 1800
    while not running_pw_jobs(study):  # mid-study: DFT relaxations running, as most of a study's time
        assert time.time() < deadline and not study.is_terminated, study.exit_message
        time.sleep(2)
    kill_daemon(started_daemon_client)
    time.sleep(5)
    start_killed_daemon()
    wait(study)
    first_wall = time.perf_counter() - started
    assert not any(
        job.base.caching.is_created_from_cache for job in calcjobs(study) if job.process_label == 'PwCalculation'
    )

    # the injected failure is recorded with its reason; the study finishes and says what is missing
    assert study.exit_status == StudyWorkChain.exit_codes.ERROR_INCOMPLETE.status, study.exit_message
    assert '1 MLP@DFT energies' in study.exit_message
    completeness = study.outputs.ranking.completeness.get_dataframe()
    failed = completeness[completeness['status'] == 'failed']
    assert list(failed['mode']) == ['MLP@DFT'] and 'exit status 401' in failed['reason'].iloc[0]
    assert 'PwRelaxWorkChain' in failed['reason'].iloc[0]

    # four modes, every E_f equal to the one computed from the stored energies and μ
    formation = study.outputs.formation.get_dataframe()
    assert set(formation['mode']) == set(MODES)
    direct = direct_formation_energies(study)
    finished = formation[formation['exit_status'] == 0]
    assert len(finished) == 6 + 2 + 2 + 1  # MLP@MLP all 6; DFT@DFT and DFT@MLP the subset of 2; MLP@DFT 2 - 1
    for row in finished.itertuples():
        assert row.formation_ev_ang2 == pytest.approx(direct[row.interface, row.mode], abs=1e-10)
        assert row.formation_j_m2 == pytest.approx(row.formation_ev_ang2 * 16.0217663, rel=1e-8)
    missing = formation[formation['exit_status'] == -1]
    assert set(missing['failure']) == {'not in the DFT subset'} and len(missing) == 3 * 4
    summary = study.outputs.report.summary.get_dict()
    assert summary['missing'] == {'MLP@DFT': 1} and summary['not_in_dft_subset'] == 4

    stats = study.outputs.ranking.stats.get_dataframe()
    pairs = set(zip(stats['mode_a'], stats['mode_b'], strict=True))
    assert ('DFT@DFT', 'MLP@MLP') in pairs and ('DFT@DFT', 'MLP@DFT') in pairs
    cost = study.outputs.report.cost.get_dataframe().set_index('interface')
    assert (cost['mlp_core_hours'] > 0).all() and (cost['dft_relax_ionic_steps'].dropna() >= 1).all()
    agreement = study.outputs.report.agreement.get_dataframe()
    assert len(agreement) == 2 and (agreement['rmsd_ang'] < 0.5).all()

    # the same study again, uninterrupted: every job comes from the cache, the numbers are the same, and the killed
    # run called the same stages with as many pw.x jobs each (nothing ran twice)
    started = time.perf_counter()
    again = wait(submit(builder()))
    cached_wall = time.perf_counter() - started
    assert again.exit_status == study.exit_status, again.exit_message
    jobs = calcjobs(again)
    assert jobs and all(job.base.caching.is_created_from_cache for job in jobs if job.is_finished_ok)
    np.testing.assert_array_equal(
        again.outputs.formation.get_dataframe()['formation_ev_ang2'], formation['formation_ev_ang2']
    )
    uninterrupted = called(again)
    assert sorted(called(study)) == sorted(uninterrupted)
    for label, node in called(study).items():
        if label.startswith('dft_'):  # one pw.x job per DFT run (two where aiida-qe retried the failure)
            pw_jobs = [job for job in calcjobs(node) if job.process_label == 'PwCalculation']
            reference = calcjobs(uninterrupted[label])
            assert len(pw_jobs) == len([job for job in reference if job.process_label == 'PwCalculation'])
    set_caching(started_daemon_client, aiida_profile.name, [])
    print(f'study wall time (daemon killed once) {first_wall:.0f} s; cached repeat {cached_wall:.0f} s')


def test_ge_ge_study_ranks_the_bulk_continuation_first(codes, trained_mace_file, submit_and_await):
    """Three Ge|Ge (001) candidates, shifts 0 and 1/2 along b: one is bulk Ge (the bulk continuation), the other two
    have their bonds turned by 90° across the interface or no bonds across it. The MLP ranks the continuation first
    with E_f = 0 exactly; DFT relaxes the MLP's first candidate (``dft_subset`` ``mlp_top``, as a screening would),
    and its E_f is zero in every DFT mode too.

    DFT k-points at 0.3 Å⁻¹ (the fast protocol): E_f of the bulk continuation is the k-point error of the 8-atom cell
    (3x3x1 at 0.7 Å⁻¹, 6x6x2 at 0.3) against the primitive bulk (3x3x3, 7x7x7), -0.053 and -0.0010 eV/Å² by pw.x."""
    python, pw = codes
    tiny = {**TINY['generation'], 'shift_grid': [1, 2]}
    builder = study_builder(
        python,
        pw,
        trained_mace_file,
        'Ge',
        'Ge',
        generation=tiny,
        kpoints_distance_inv_ang=0.3,
        dft_subset={'choice': 'mlp_top', 'n': 1},
    )
    study = submit_and_await(builder, timeout=1800)
    assert study.is_finished_ok, study.exit_message
    bulk = crystal('Ge').get_pymatgen_structure()
    continuation = [
        link.link_label
        for link in study.base.links.get_outgoing(link_type=LinkType.CALL_CALC, link_label_filter='generation')
        .one()
        .node.base.links.get_outgoing(link_label_filter='candidate_%')
        .all()
        if isinstance(link.node, StructureData) and StructureMatcher().fit(link.node.get_pymatgen_structure(), bulk)
    ]
    assert len(continuation) == 1
    results = study.outputs.ranking.results.get_dataframe().set_index('interface')
    assert len(results) == 3
    mlp = results['energy_MLP@MLP']
    assert abs(mlp[continuation[0]]) < 1e-6 and results.at[continuation[0], 'rank_MLP@MLP'] == 1  # exact bulk
    for mode in MODES:
        energy = results[f'energy_{mode}'].dropna()
        assert abs(energy[continuation[0]]) < 2e-3, mode  # eV/Å²
        if mode != 'MLP@MLP':
            assert list(energy.index) == continuation, mode  # DFT on the MLP's first candidate only


def test_artemis_backend_feeds_the_study(codes, artemis_code, trained_mace_file, submit_and_await):
    """The ARTEMIS backend in place of pymatgen: its three Si|Ge (001) candidates (8 atoms, shifts 0, 1/3, 2/3) are
    the ones relaxed and ranked, DFT on the first of them, every E_f equal to the one from the stored jobs
    (relaxations to ``LOOSE_FMAX``: what is tested is the backend's candidates in the study, not its physics)."""
    python, pw = codes
    artemis_tags = {'NMATCH': 1, 'TOL_VEC': 5.0, 'TOL_ANG': 1.0, 'TOL_AREA': 10.0, 'TOL_MAXSIZE': 1}
    artemis_tags |= {'LW_MILLER': [0, 0, 1], 'UP_MILLER': [0, 0, 1], 'LW_NUM_LAYERS': 2, 'UP_NUM_LAYERS': 2}
    artemis_tags |= {'NTERM': 1, 'ISHIFT': 4, 'NSHIFT': 3}
    overrides = {**TINY, 'artemis': artemis_tags, 'dft_subset': {'choice': 'list', 'labels': ['candidate_0000']}}
    builder = StudyWorkChain.get_builder_from_protocol(
        python,
        pw,
        crystal('Si'),
        crystal('Ge'),
        protocol='fast',
        overrides={**overrides, 'fmax_ev_ang': LOOSE_FMAX},
        model=PotentialModelData.get_or_create(trained_mace_file),
        artemis_code=artemis_code,
    )
    assert 'generation' not in builder
    study = submit_and_await(builder, timeout=1800)
    assert study.is_finished_ok, study.exit_message
    labels = set(called(study))
    assert 'artemis' in labels and 'generation' not in labels
    artemis = study.base.links.get_outgoing(link_label_filter='artemis').one().node
    generated = artemis.outputs.structures.labels
    assert len(generated) == 3
    formation = study.outputs.formation.get_dataframe()
    assert sorted(set(formation['interface'])) == sorted(generated)
    finished = formation[formation['exit_status'] == 0]
    assert len(finished) == 3 + 1 + 1 + 1  # MLP@MLP all 3, each DFT mode on candidate_0000
    assert set(finished[finished['mode'] != 'MLP@MLP']['interface']) == {'candidate_0000'}
    direct = direct_formation_energies(study)
    for row in finished.itertuples():
        assert row.formation_ev_ang2 == pytest.approx(direct[row.interface, row.mode], abs=1e-10)
    assert study.outputs.candidates.num_rows == 3
