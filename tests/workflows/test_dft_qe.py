"""``ifacerank.dft`` with a real pw.x (Debian's quantum-espresso): bulk Si and a periodic Si|Ge cell, frozen layers."""

import itertools
import math
import subprocess

import numpy as np
import pytest
from aiida.engine import run_get_node
from aiida.orm import Bool, Dict, Float, InstalledCode, StructureData
from aiida.plugins import CalculationFactory
from ase.build import bulk
from qe_tools import CONSTANTS

from aiida_ifacerank.tools.dft import qe_force_threshold, qe_pressure_threshold
from aiida_ifacerank.tools.pseudos import install_family
from aiida_ifacerank.workflows.dft import DftWorkChain, engine_inputs
from tests.studies import LOW_CUTOFFS

PwCalculation = CalculationFactory('quantumespresso.pw')


@pytest.fixture
def pseudo_family(aiida_profile):
    return install_family()


def bulk_si():
    return StructureData(ase=bulk('Si', 'diamond', 5.47))


def si_ge_cell():
    """8-atom periodic Si|Ge [001] cell (two interfaces): in-plane lattice of Si, c between Si and Ge.

    Atoms 0-3 Si, 4-7 Ge, at z = 0, 1.4, …, 9.8 Å; the ``ifacerank`` attribute of a candidate says so.
    """
    atoms = bulk('Si', 'diamond', 5.47, orthorhombic=True) * (1, 1, 2)
    atoms.set_cell(np.diag([atoms.cell[0, 0], atoms.cell[1, 1], 2 * 5.60]), scale_atoms=True)
    atoms.symbols[atoms.positions[:, 2] >= atoms.cell[2, 2] / 2 - 0.1] = 'Ge'
    structure = StructureData(ase=atoms)
    structure.base.attributes.set('ifacerank', {'atoms_lower': 4, 'model': 'periodic'})
    return structure


MIDDLE_PLANES = [False, True, True, False, False, True, True, False]
"""Frozen atoms of :func:`si_ge_cell` with 1.5 Å frozen layers: slab centres at 2.1 and 7.7 Å, the planes
0.7 Å away on either side of each, the outer planes (2.1 Å away) free."""


def builder(code, structure, task='relax', cell='normal', **overrides):
    return DftWorkChain.get_builder_from_protocol(
        code,
        structure,
        engine='qe',
        protocol='fast',
        task=task,
        cell=cell,
        overrides={**LOW_CUTOFFS, **overrides},
        options={'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1}, 'withmpi': False},
    )


def test_single_point_energy_equals_pw_x_run_by_hand(pw_code, pseudo_family, tmp_path):
    results, node = run_get_node(builder(pw_code, bulk_si(), task='single_point'))
    assert node.is_finished_ok, node.exit_message
    job = next(n for n in node.called_descendants if n.process_type.endswith('quantumespresso.pw'))
    job.base.repository.copy_tree(tmp_path)
    (tmp_path / 'out').mkdir()
    (tmp_path / 'pseudo').mkdir(exist_ok=True)
    for pseudo in job.inputs.pseudos.values():
        with pseudo.open(mode='rb') as source:
            (tmp_path / 'pseudo' / pseudo.filename).write_bytes(source.read())
    stdout = subprocess.run(
        ['pw.x', '-in', 'aiida.in'], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    total_ry = float(next(line for line in stdout.splitlines() if line.startswith('!')).split('=')[1].split()[0])
    assert results['energy'].value == pytest.approx(total_ry * CONSTANTS.ry_to_ev, abs=1e-6)
    summary = results['summary'].get_dict()
    assert summary['jobs'] == 1 and summary['ionic_steps'] == 1 and summary['wall_time_s'] > 0
    assert summary['energy_job_uuid'] == job.uuid
    base = next(n for n in node.called_descendants if n.process_label == 'PwBaseWorkChain')
    assert 'handler_overrides' not in base.inputs  # default walltime_restart 'full': aiida-qe's handlers as they are


@pytest.mark.slow
def test_interface_and_bulk_relax_through_the_daemon(pw_code, pseudo_family, submit_and_await):
    """Si|Ge with c free (2x2x1 k-points), its energy again by a single point, the same cell at Gamma (the Gamma
    trick); then bulk Si at its own lattice constant (the μ_Si reference).

    Not relaxed at Gamma: in this 3.9 Å-wide cell the SCF needs 40-50 iterations per ionic step there (measured)."""
    structure = si_ge_cell()
    inputs = builder(pw_code, structure, kpoints_distance_inv_ang=1.0)
    relax = submit_and_await(inputs, timeout=1800)
    assert relax.is_finished_ok, relax.exit_message
    jobs = sorted(
        (n for n in relax.called_descendants if n.process_type.endswith('quantumespresso.pw')), key=lambda n: n.ctime
    )
    summary = relax.outputs.summary.get_dict()
    fmax = DftWorkChain.get_protocol_inputs('fast')['fmax_ev_ang']
    assert summary['max_force_ev_ang'] <= fmax and summary['jobs'] == len(jobs)
    assert jobs[-1].inputs.kpoints.get_kpoints_mesh()[0] == [2, 2, 1]
    assert not [n for n in relax.called_descendants if n.process_label == 'create_kpoints_from_distance']
    assert jobs[-1].inputs.parameters['CELL']['cell_dofree'] == 'z'
    relaxed = relax.outputs.structure
    np.testing.assert_allclose(np.array(relaxed.cell)[:2], np.array(structure.cell)[:2], atol=1e-6)
    # the normal length relaxed: Ge, compressed in-plane, pushes it out (σ_zz 8 kbar at the start, +0.05 Å measured)
    assert relaxed.cell[2][2] > structure.cell[2][2] + 0.02

    single_point, node = run_get_node(builder(pw_code, relaxed, task='single_point', kpoints_distance_inv_ang=1.0))
    assert node.is_finished_ok, node.exit_message
    assert single_point['energy'].value == pytest.approx(relax.outputs.energy.value, abs=1e-4)

    _, node = run_get_node(builder(pw_code, relaxed, task='single_point', kpoints_distance_inv_ang=10.0))
    assert node.is_finished_ok, node.exit_message
    job = next(n for n in node.called_descendants if n.process_type.endswith('quantumespresso.pw'))
    assert job.inputs.settings['gamma_only'] and job.inputs.kpoints.get_kpoints_mesh()[0] == [1, 1, 1]

    reference = submit_and_await(builder(pw_code, bulk_si(), cell='all'), timeout=600)
    assert reference.is_finished_ok, reference.exit_message
    volume = reference.outputs.structure.get_cell_volume()
    assert volume != pytest.approx(bulk_si().get_cell_volume(), rel=1e-3)  # the whole cell relaxed
    assert reference.outputs.summary['max_force_ev_ang'] <= fmax


def test_scf_non_convergence_ends_with_the_engine_reason(pw_code, pseudo_family):
    no_convergence = {
        'qe': {
            'overrides': {
                'base_relax': {
                    'max_iterations': 2,
                    'pw': {
                        'parameters': {'SYSTEM': {'ecutwfc': 25, 'ecutrho': 100}, 'ELECTRONS': {'electron_maxstep': 1}}
                    },
                }
            }
        }
    }
    _, node = run_get_node(builder(pw_code, bulk_si(), task='single_point', **no_convergence))
    assert node.exit_status == DftWorkChain.exit_codes.ERROR_ENGINE_FAILED.status
    assert 'PwRelaxWorkChain' in node.exit_message
    assert 'did not reach self-consistency' in node.exit_message  # the pw.x job's own reason
    jobs = [n for n in node.called_descendants if n.process_type.endswith('quantumespresso.pw')]
    assert len(jobs) == 2  # PwBaseWorkChain restarted once (lower mixing) before giving up
    assert 'energy' not in node.outputs


def test_corrupt_output_ends_with_the_parser_reason(pw_code, pseudo_family):
    """pw.x output cut short after the run (as by a node crash): the parser's exit code, no energy, no hang."""
    corrupt = InstalledCode(
        label='pw-corrupt',
        computer=pw_code.computer,
        filepath_executable=str(pw_code.filepath_executable),
        default_calc_job_plugin='quantumespresso.pw',
        append_text='head -c 3000 aiida.out > cut && mv cut aiida.out && rm out/aiida.save/data-file-schema.xml',
    ).store()
    _, node = run_get_node(builder(corrupt, bulk_si(), task='single_point'))
    assert node.exit_status == DftWorkChain.exit_codes.ERROR_ENGINE_FAILED.status
    job = next(n for n in node.called_descendants if n.process_type.endswith('quantumespresso.pw'))
    assert job.exit_status == PwCalculation.exit_codes.ERROR_OUTPUT_FILES.status  # neither file parses
    assert job.exit_message in node.exit_message and 'energy' not in node.outputs


def test_bulk_references_share_the_interface_settings(pw_code, pseudo_family):
    interface = builder(pw_code, si_ge_cell())
    reference = builder(pw_code, bulk_si(), cell='all')
    a, b = (inputs.qe.base_relax.pw.parameters.get_dict() for inputs in (interface, reference))
    for namelist, key in [('SYSTEM', 'ecutwfc'), ('SYSTEM', 'ecutrho'), ('SYSTEM', 'smearing'), ('SYSTEM', 'degauss')]:
        assert a[namelist][key] == b[namelist][key], key
    assert a['CONTROL']['forc_conv_thr'] == b['CONTROL']['forc_conv_thr'] == pytest.approx(qe_force_threshold(0.05))
    assert interface.qe.base_relax.pw.pseudos['Si'].uuid == reference.qe.base_relax.pw.pseudos['Si'].uuid
    assert (a['CELL']['cell_dofree'], b['CELL']['cell_dofree']) == ('z', 'all')
    # the cell criterion of the MLP path: each cell's own atoms per volume, √3 where all components are free
    for parameters, structure, cell in ((a, si_ge_cell(), 'normal'), (b, bulk_si(), 'all')):
        expected = qe_pressure_threshold(0.05, len(structure.sites), structure.get_cell_volume(), cell)
        assert parameters['CELL']['press_conv_thr'] == pytest.approx(expected)


def test_kpoint_mesh_is_aiida_quantumespressos_for_the_spacing(pw_code, pseudo_family):
    """The mesh is set on the inputs, as aiida-quantumespresso's calcfunction would make it from the spacing (which
    PwBaseWorkChain no longer runs: one process less per DFT run)."""
    from aiida_quantumespresso.calculations.functions.create_kpoints_from_distance import (  # noqa: PLC0415
        create_kpoints_from_distance,
    )

    meshes = set()
    for structure, cell in ((si_ge_cell(), 'normal'), (bulk_si(), 'all')):
        for spacing in (0.15, 0.3, 0.5):
            inputs = builder(pw_code, structure, cell=cell, kpoints_distance_inv_ang=spacing)
            expected = create_kpoints_from_distance(
                structure, Float(spacing), Bool(False), metadata={'store_provenance': False}
            )
            mesh = inputs.qe.base_relax.kpoints.get_kpoints_mesh()
            assert mesh == expected.get_kpoints_mesh() and 'kpoints_distance' not in inputs.qe.base_relax
            meshes.add(tuple(mesh[0]))
    assert len(meshes) == 6  # six distinct meshes: the comparison is not between two 1x1x1


@pytest.mark.parametrize(
    ('change', 'message'),
    [
        ({'engine': 'castep'}, 'engine must be one of'),
        (
            {'overrides': {'qe': {'overrides': {'base_relax': {'kpoints_distance': 0.2}}}}},
            'kpoints_distance is not used: give the k-point spacing as kpoints_distance_inv_ang',
        ),
        ({'cell': 'xy'}, 'cell must be one of'),
        ({'task': 'scf'}, 'task must be one of'),
        ({'overrides': {'fmax': 0.1}}, "unknown override key\\(s\\) \\['fmax'\\]"),
    ],
)
def test_bad_choices_are_refused_before_submission(pw_code, pseudo_family, change, message):
    arguments = {'engine': 'qe', 'protocol': 'fast', **change}
    with pytest.raises(ValueError, match=message):
        DftWorkChain.get_builder_from_protocol(pw_code, bulk_si(), **arguments)


def test_task_must_agree_with_the_engine_inputs(pw_code, pseudo_family):
    inputs = builder(pw_code, bulk_si(), task='single_point')
    inputs.task = 'relax'
    with pytest.raises(
        ValueError, match=r"task is 'relax' but qe\.base_relax\.pw\.parameters has CONTROL\.calculation"
    ):
        run_get_node(inputs)


def test_walltime_handler_is_on_by_default_and_off_from_scratch(pw_code, pseudo_family):
    """The engine inputs that ``run_engine`` submits: aiida-qe's own walltime restart unless ``from_scratch``."""
    inputs = builder(pw_code, si_ge_cell())
    assert DftWorkChain.spec().inputs['walltime_restart'].default().value == 'full'
    assert 'handler_overrides' not in inputs.qe.base_relax
    assert 'handler_overrides' not in engine_inputs('qe', inputs.qe, 'full').base_relax
    inputs.qe.base_relax.handler_overrides = Dict({'handle_diagonalization_errors': {'enabled': False}})
    overrides = engine_inputs('qe', inputs.qe, 'from_scratch').base_relax.handler_overrides.get_dict()
    assert overrides == {
        'handle_diagonalization_errors': {'enabled': False},  # the user's own override is kept
        'handle_out_of_walltime': {'enabled': False},
    }
    assert 'handle_out_of_walltime' not in inputs.qe.base_relax.handler_overrides.get_dict()  # builder unchanged
    both = engine_inputs('qe', inputs.qe, 'from_scratch', [[True] * 3] * 8).base_relax  # with frozen layers too
    assert not both.handler_overrides['handle_out_of_walltime']['enabled']
    assert both.pw.settings['FIXED_COORDS'] == [[True] * 3] * 8 and 'settings' not in inputs.qe.base_relax.pw


def test_frozen_layers_become_if_pos_zero_in_the_pw_x_input(pw_code, pseudo_family):
    """A code that fails at once (no pw.x run): the job's settings and ``aiida.in`` hold the middle planes fixed."""
    failing = InstalledCode(label='pw-fails', computer=pw_code.computer, filepath_executable='/bin/false').store()
    overrides = {'qe': {'overrides': {'base_relax': {'max_iterations': 1}}}, 'kpoints_distance_inv_ang': 10.0}
    inputs = builder(failing, si_ge_cell(), **overrides)  # Gamma trick: a settings input to merge with
    inputs.frozen_layers_ang = 1.5
    _, node = run_get_node(inputs)
    assert node.exit_status == DftWorkChain.exit_codes.ERROR_ENGINE_FAILED.status
    job = next(n for n in node.called_descendants if n.process_type.endswith('quantumespresso.pw'))
    assert job.inputs.settings['FIXED_COORDS'] == [[fixed] * 3 for fixed in MIDDLE_PLANES]
    assert job.inputs.settings['gamma_only'] and 'FIXED_COORDS' not in inputs.qe.base_relax.pw.settings.get_dict()
    card = job.base.repository.get_object_content('aiida.in').split('ATOMIC_POSITIONS')[1].splitlines()[1:9]
    assert [line.split()[4:] for line in card] == [['0'] * 3 if fixed else ['1'] * 3 for fixed in MIDDLE_PLANES]


@pytest.mark.parametrize(
    ('change', 'message'),
    [
        ('negative', 'must be >= 0, got -1.5'),
        ('bulk', r"the structure has no \['atoms_lower', 'model'\] in its 'ifacerank' attribute"),
        ('fixed_coords', 'the qe inputs fix coordinates themselves: give only one'),
    ],
)
def test_bad_frozen_layers_are_refused_before_submission(pw_code, pseudo_family, change, message):
    inputs = builder(pw_code, bulk_si() if change == 'bulk' else si_ge_cell())
    if change == 'fixed_coords':
        inputs.qe.base_relax.pw.settings = Dict({'fixed_coords': [[True] * 3] * 8})
    with pytest.raises(ValueError, match=message):
        inputs.frozen_layers_ang = -1.5 if change == 'negative' else 1.5  # a negative value: refused right here
        run_get_node(inputs)


def test_from_scratch_refuses_an_enabled_walltime_handler(pw_code, pseudo_family):
    inputs = builder(pw_code, bulk_si())
    inputs.walltime_restart = 'from_scratch'
    inputs.qe.base_relax.handler_overrides = Dict({'handle_out_of_walltime': {'enabled': True}})
    with pytest.raises(ValueError, match=r'qe\.base_relax\.handler_overrides enables handle_out_of_walltime'):
        run_get_node(inputs)


@pytest.mark.slow
def test_walltime_stop_restarts_from_the_last_geometry(pw_code, pseudo_family):
    """A walltime of 2 single points stops each pw.x relax; the next starts from scratch where the last stopped.

    ``walltime_restart = 'from_scratch'``: Debian's pw.x 6.7 aborts aiida-qe's full restart of a relaxation.
    The walltime is measured on this machine, now (a single point of the same cell): each job does the first
    SCF from scratch and one or two cheaper ionic steps, whatever the load, so the 7 BFGS steps of the
    uninterrupted relaxation take at least three jobs.

    2x2x1 k-points: at Gamma only, the from-scratch restarts of this 3.9 Å-wide cell can walk into distorted
    geometries where the SCF stalls. 24 bands for the 16 occupied: with pw.x's default 20, the highest band is
    occupied in some geometries, and aiida-qe's bands handler reruns that job with a walltime of its own, which
    CI once saw take the relaxation to its end with a single stop.
    """
    system = {**LOW_CUTOFFS['qe']['overrides']['base_relax']['pw']['parameters']['SYSTEM'], 'nbnd': 24}
    overrides = {'qe': {'overrides': {'base_relax': {'pw': {'parameters': {'SYSTEM': system}}}}}}
    settings = {'cell': 'fixed', 'kpoints_distance_inv_ang': 1.0, **overrides}
    _, single_point = run_get_node(builder(pw_code, si_ge_cell(), task='single_point', **settings))
    assert single_point.is_finished_ok, single_point.exit_message
    walltime = math.ceil(2.0 * single_point.outputs.summary['wall_time_s'] / 0.95)  # aiida-qe: max_seconds 0.95x
    inputs = builder(pw_code, si_ge_cell(), **settings)
    inputs.qe.base_relax.pw.metadata.options.max_wallclock_seconds = walltime
    inputs.walltime_restart = 'from_scratch'
    inputs.max_walltime_restarts = 20
    _, node = run_get_node(inputs)
    assert node.is_finished_ok, node.exit_message
    jobs = sorted(
        (n for n in node.called_descendants if n.process_type.endswith('quantumespresso.pw')), key=lambda n: n.ctime
    )
    assert all(job.inputs.kpoints.get_kpoints_mesh()[0] == [2, 2, 1] for job in jobs)
    assert all(job.inputs.parameters['SYSTEM']['nbnd'] == 24 for job in jobs)
    bases = [n for n in node.called_descendants if n.process_label == 'PwBaseWorkChain']
    assert all(not base.inputs.handler_overrides['handle_out_of_walltime']['enabled'] for base in bases)
    stopped = [job for job in jobs if job.exit_status == PwCalculation.exit_codes.ERROR_OUT_OF_WALLTIME.status]
    assert len(stopped) >= 2 and jobs[-1].is_finished_ok
    for before, after in itertools.pairwise(jobs):  # after each stop, pw.x goes on from the geometry reached
        if before not in stopped:
            continue  # a restart by aiida-qe's own handlers (e.g. more bands from the last charge density)
        assert after.inputs.parameters['CONTROL'].get('restart_mode', 'from_scratch') == 'from_scratch'
        assert 'parent_folder' not in after.inputs
        assert after.inputs.structure.uuid == before.outputs.output_structure.uuid
        reached = before.outputs.output_structure.get_ase().positions
        started = after.outputs.output_trajectory.get_array('positions')[0]
        np.testing.assert_allclose(started, reached, atol=1e-6)  # Å: pw.x went on from the geometry reached
        assert np.abs(started - jobs[0].inputs.structure.get_ase().positions).max() > 1e-3
    stdout = jobs[0].outputs.retrieved.get_object_content('aiida.out')
    start_ry = float(next(line for line in stdout.splitlines() if line.startswith('!')).split('=')[1].split()[0])
    assert node.outputs.energy.value < start_ry * CONSTANTS.ry_to_ev - 0.01  # eV: went down across the stops
    summary = node.outputs.summary.get_dict()
    assert summary['jobs'] == len(jobs) and summary['walltime_stops'] == len(stopped)
    assert summary['max_force_ev_ang'] <= DftWorkChain.get_protocol_inputs('fast')['fmax_ev_ang']
    assert summary['wall_time_s'] > 0.8 * walltime * len(stopped)
    print(f'walltime {walltime} s: {len(stopped)} stops in {len(jobs)} pw.x jobs')
