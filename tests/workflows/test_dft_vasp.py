"""``ifacerank.dft`` with VASP, which cannot run here: aiida-vasp's mock-vasp replays real VASP outputs.

The recorded outputs (aiida-vasp 5.1.0 sdist, ``tests/test_data/mock_silicon_relax-*``, fetched by
``bin/fetch-test-data``) are a real VASP relaxation of bulk Si (a = 5.4 Å start, ISIF 3) and its final
single point. mock-vasp serves them only when the INCAR, KPOINTS and POSCAR we write hash equal to the
recorded inputs, so the end-to-end test also proves that our protocol produces exactly those files.
"""

import io
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from aiida.engine import run_get_node
from aiida.orm import InstalledCode, StructureData
from ase.build import bulk
from ase.io import read

from aiida_ifacerank.workflows.dft import DftWorkChain

DATA = Path(sys.executable).parents[1] / 'share' / 'aiida-vasp-test-data'
RECORDED_RUN = {  # what the recorded run used beyond the aiida-vasp 'balanced' protocol
    'fmax_ev_ang': 0.03,
    'vasp': {
        'encut_ev': 250,
        'potential_family': 'ifacerank-test-potcars',
        'overrides': {
            'vasp': {
                'kpoints': {'mesh': [7, 7, 7]},
                'parameters': {
                    'incar': {'prec': 'normal', 'algo': 'fast', 'nedos': 100, 'lcharg': False, 'lorbit': None}
                },
            }
        },
    },
}


@pytest.fixture
def mock_vasp(aiida_localhost):
    assert (DATA / 'registry').is_dir(), f'{DATA} is missing: run bin/setup (bin/fetch-test-data).'
    code = InstalledCode(
        label='mock-vasp',
        computer=aiida_localhost,
        filepath_executable=str(Path(sys.executable).with_name('mock-vasp')),
        default_calc_job_plugin='vasp.vasp',
    )
    code.prepend_text = f'export MOCK_VASP_REG_BASE={DATA / "registry"}'
    return code.store()


@pytest.fixture
def potcars(aiida_profile):
    from aiida_vasp.data.potcar import PotcarData  # noqa: PLC0415

    if PotcarData.get_potcar_group('ifacerank-test-potcars') is None:
        PotcarData.upload_potcar_family(str(DATA / 'potcar'), 'ifacerank-test-potcars', 'aiida-vasp test POTCARs')


def bulk_si():
    return StructureData(ase=bulk('Si', 'diamond', 5.4))


def builder(code, structure, cell, **overrides):
    return DftWorkChain.get_builder_from_protocol(
        code,
        structure,
        engine='vasp',
        cell=cell,
        overrides={**RECORDED_RUN, **overrides},
        options={'resources': {'num_machines': 1, 'tot_num_mpiprocs': 1}, 'withmpi': False},
    )


def si_si_cell():
    """8-atom periodic Si|Si [001] cell, upper half shifted in-plane (a 'perfect alloy' interface).

    Atoms 0-3 the lower slab, 4-7 the upper, one per (001) plane 1.36 Å apart; the ``ifacerank`` attribute of a
    candidate says so.
    """
    atoms = bulk('Si', 'diamond', 5.43, orthorhombic=True) * (1, 1, 2)
    upper = atoms.positions[:, 2] >= atoms.cell[2, 2] / 2 - 0.1
    atoms.positions[upper, 0] += 0.5
    atoms.wrap()
    structure = StructureData(ase=atoms)
    structure.base.attributes.set('ifacerank', {'atoms_lower': 4, 'model': 'periodic'})
    return structure


def outcar_values(job):
    """Last energy(sigma->0) (eV) and elapsed time (s) read from a job's retrieved OUTCAR."""
    outcar = job.outputs.retrieved.base.repository.get_object_content('OUTCAR')
    energy = float(re.findall(r'energy\(sigma->0\) =\s+(\S+)', outcar)[-1])
    return energy, float(re.search(r'Elapsed time \(sec\):\s+(\S+)', outcar).group(1))


def test_relax_runs_end_to_end_on_recorded_vasp_outputs(mock_vasp, potcars):
    structure = bulk_si()
    results, node = run_get_node(builder(mock_vasp, structure, cell='all'))
    assert node.is_finished_ok, node.exit_message
    jobs = sorted((n for n in node.called_descendants if n.process_type.endswith('vasp.vasp')), key=lambda n: n.ctime)
    assert len(jobs) == 3  # relax, relax again (volume changed by 1.3 %), final single point
    summary = results['summary'].get_dict()
    final_energy, _ = outcar_values(jobs[-1])
    assert results['energy'].value == pytest.approx(final_energy, abs=1e-8)
    assert summary['energy_job_uuid'] == jobs[-1].uuid
    assert summary['wall_time_s'] == pytest.approx(sum(outcar_values(job)[1] for job in jobs), abs=1e-6)
    assert summary['ionic_steps'] == 5 and summary['max_force_ev_ang'] <= 0.03
    contcar = jobs[-1].outputs.retrieved.base.repository.get_object_content('CONTCAR')
    np.testing.assert_allclose(results['structure'].cell, read(io.StringIO(contcar), format='vasp').cell, atol=1e-6)
    assert results['structure'].cell[0][1] == pytest.approx(2.7164, abs=1e-4)  # expanded from 2.7 Å


def test_interface_inputs_follow_the_protocol_and_an_engine_failure_is_reported(mock_vasp, potcars):
    """A cell without recorded outputs: mock-vasp refuses it, so the job fails; its inputs are still on record."""
    overrides = {'kpoints_distance_inv_ang': 10.0, 'vasp': {'potential_family': 'ifacerank-test-potcars'}}
    inputs = DftWorkChain.get_builder_from_protocol(mock_vasp, si_si_cell(), engine='vasp', overrides=overrides)
    _, node = run_get_node(inputs)
    assert node.exit_status == DftWorkChain.exit_codes.ERROR_ENGINE_FAILED.status
    assert 'VaspRelaxWorkChain' in node.exit_message and 'failed with exit status' in node.exit_message
    job = next(n for n in node.called_descendants if n.process_type.endswith('vasp.vasp'))
    incar = job.base.repository.get_object_content('INCAR')
    for line in ('ISIF = 3', 'LATTICE_CONSTRAINTS = F F T', 'EDIFFG = -0.02', 'ENCUT = 520'):
        assert line in incar, incar
    assert job.base.repository.get_object_content('KPOINTS').split()[4:8] == ['Gamma', '1', '1', '1']
    poscar = job.base.repository.get_object_content('POSCAR').splitlines()
    assert poscar[5].split() == ['Si'] and poscar[6].split() == ['8']
    potentials = {kind: potcar.title for kind, potcar in job.inputs.potential.items()}  # POTCAR itself is not stored
    assert potentials == {'Si': (DATA / 'potcar' / 'Si' / 'POTCAR').read_text().splitlines()[0].strip()}


def test_frozen_layers_become_selective_dynamics_in_the_poscar(mock_vasp, potcars):
    """1.5 Å frozen layers: each slab's two middle planes (0.68 Å from its centre) fixed, the two outer ones free."""
    middle = [False, True, True, False, False, True, True, False]
    inputs = DftWorkChain.get_builder_from_protocol(
        mock_vasp, si_si_cell(), engine='vasp', overrides={'vasp': {'potential_family': 'ifacerank-test-potcars'}}
    )
    inputs.frozen_layers_ang = 1.5
    _, node = run_get_node(inputs)
    assert node.exit_status == DftWorkChain.exit_codes.ERROR_ENGINE_FAILED.status  # mock-vasp has no such run
    job = next(n for n in node.called_descendants if n.process_type.endswith('vasp.vasp'))
    assert job.inputs.dynamics['positions_dof'] == [[not fixed] * 3 for fixed in middle]  # aiida-vasp: True = free
    poscar = job.base.repository.get_object_content('POSCAR').splitlines()
    assert poscar[7].strip().lower() == 'selective dynamics'
    assert [line.split()[3:6] for line in poscar[9:17]] == [['F'] * 3 if fixed else ['T'] * 3 for fixed in middle]
    assert 'dynamics' not in inputs.vasp.vasp  # the builder's engine inputs stay as built


def test_builder_maps_potentials_tasks_and_kpoints_before_anything_runs(mock_vasp, potcars):
    atoms = si_si_cell().get_ase()
    atoms.symbols[4:] = 'Ge'
    structure = StructureData(ase=atoms)
    family = {'vasp': {'potential_family': 'ifacerank-test-potcars'}}
    inputs = DftWorkChain.get_builder_from_protocol(
        mock_vasp, structure, engine='vasp', task='single_point', overrides=family
    )
    assert inputs.vasp.vasp.potential_mapping.get_dict() == {'Si': 'Si', 'Ge': 'Ge_d'}
    assert inputs.vasp.relax_settings['perform'] is False
    assert inputs.vasp.vasp.kpoints_spacing.value == pytest.approx(0.15 / (2 * np.pi))  # 8 atoms: below 40
    inputs.task = 'relax'
    with pytest.raises(ValueError, match=r"task is 'relax' but vasp\.relax_settings\.perform is False"):
        run_get_node(inputs)


def test_from_scratch_walltime_restarts_are_refused_for_vasp(mock_vasp, potcars):
    """aiida-vasp continues an unfinished relaxation itself: ``from_scratch`` is a pw.x workaround only."""
    inputs = builder(mock_vasp, bulk_si(), cell='all')
    inputs.walltime_restart = 'from_scratch'
    with pytest.raises(ValueError, match="walltime_restart 'from_scratch' applies to engine 'qe' only"):
        run_get_node(inputs)
