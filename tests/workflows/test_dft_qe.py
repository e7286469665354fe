"""``ifacerank.dft`` with a real pw.x (Debian's quantum-espresso): bulk Si and a periodic Si|Ge cell."""

import shutil
import subprocess

import numpy as np
import pytest
from aiida.engine import run_get_node
from aiida.orm import InstalledCode, StructureData
from ase.build import bulk
from qe_tools import CONSTANTS

from aiida_ifacerank.tools.dft import qe_force_threshold
from aiida_ifacerank.tools.pseudos import install_family
from aiida_ifacerank.workflows.dft import DftWorkChain

LOW_CUTOFFS = {'qe': {'overrides': {'base_relax': {'pw': {'parameters': {'SYSTEM': {'ecutwfc': 25, 'ecutrho': 100}}}}}}}


@pytest.fixture
def pw_code(aiida_localhost):
    executable = shutil.which('pw.x')
    assert executable, 'pw.x not found: bin/setup installs Debian quantum-espresso.'
    aiida_localhost.set_use_double_quotes(False)
    return InstalledCode(
        label='pw', computer=aiida_localhost, filepath_executable=executable, default_calc_job_plugin='quantumespresso.pw'
    ).store()


@pytest.fixture
def pseudo_family(aiida_profile):
    return install_family()


def bulk_si():
    return StructureData(ase=bulk('Si', 'diamond', 5.47))


def si_ge_cell():
    """8-atom periodic Si|Ge [001] cell (two interfaces): in-plane lattice of Si, c between Si and Ge."""
    atoms = bulk('Si', 'diamond', 5.47, orthorhombic=True) * (1, 1, 2)
    atoms.set_cell(np.diag([atoms.cell[0, 0], atoms.cell[1, 1], 2 * 5.60]), scale_atoms=True)
    atoms.symbols[atoms.positions[:, 2] >= atoms.cell[2, 2] / 2 - 0.1] = 'Ge'
    return StructureData(ase=atoms)


def builder(code, structure, mode='relax', cell='normal', **overrides):
    return DftWorkChain.get_builder_from_protocol(
        code,
        structure,
        engine='qe',
        protocol='fast',
        mode=mode,
        cell=cell,
        overrides={**LOW_CUTOFFS, **overrides},
        options={'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1}, 'withmpi': False},
    )


def test_scf_energy_equals_pw_x_run_by_hand(pw_code, pseudo_family, tmp_path):
    results, node = run_get_node(builder(pw_code, bulk_si(), mode='scf'))
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


@pytest.mark.slow
def test_interface_relaxes_through_the_daemon_and_scf_reproduces_its_energy(pw_code, pseudo_family, submit_and_await):
    structure = si_ge_cell()
    relax = submit_and_await(builder(pw_code, structure, gamma_only_above_atoms=0), timeout=1200)
    assert relax.is_finished_ok, relax.exit_message
    summary = relax.outputs.summary.get_dict()
    fmax = DftWorkChain.get_protocol_inputs('fast')['fmax_ev_ang']
    assert summary['max_force_ev_ang'] <= fmax and summary['ionic_steps'] > 1
    job = relax.outputs.energy.creator.inputs.parameters.creator
    assert job.inputs.settings['gamma_only'] and job.inputs.parameters['CELL']['cell_dofree'] == 'z'
    relaxed = relax.outputs.structure
    np.testing.assert_allclose(np.array(relaxed.cell)[:2], np.array(structure.cell)[:2], atol=1e-6)
    assert relaxed.cell[2][2] != pytest.approx(structure.cell[2][2], abs=1e-3)  # the normal length relaxed
    print('SUMMARY', summary, relaxed.cell[2][2], structure.cell[2][2])

    scf, node = run_get_node(builder(pw_code, relaxed, mode='scf', gamma_only_above_atoms=0))
    assert node.is_finished_ok, node.exit_message
    assert scf['energy'].value == pytest.approx(relax.outputs.energy.value, abs=1e-4)
    print('SCF-RELAX', scf['energy'].value - relax.outputs.energy.value)
