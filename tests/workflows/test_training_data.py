"""ifacerank.mlp.training_data: pw.x single points of the frames become one training set whose energies, forces and
stresses are pw.x's own printed numbers (units and ASE's stress sign), with provenance back to every pw.x job."""

import re

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from qe_tools import CONSTANTS

from aiida_ifacerank.data.training import ENERGY_KEY, FORCES_KEY, STRESS_KEY
from aiida_ifacerank.tools.pseudos import install_family
from aiida_ifacerank.workflows.training import TrainingDataWorkChain
from tests.studies import LOW_CUTOFFS, SERIAL, crystal

FRAMES = {'bulk': 2, 'alloy': 1, 'slab_millers': [[0, 0, 1]], 'slab_frames': 1, 'seed': 3}
"""Si: primitive and conventional; Ge the same; one SiGe alloy; one (001) slab each: 7 frames."""


def builder(pw_code, **overrides):
    return TrainingDataWorkChain.get_builder_from_protocol(
        pw_code,
        crystal('Si'),
        crystal('Ge'),
        protocol='fast',
        overrides={
            'frames': FRAMES,
            'dft': {'protocol': 'fast', 'overrides': LOW_CUTOFFS, 'options': SERIAL},
            'kpoints_distance_inv_ang': 0.7,
            'max_concurrent': 2,
            **overrides,
        },
    )


def printed(stdout: str, natoms: int) -> dict:
    """Energy (eV), forces (eV/Å) and stress (eV/Å³, ASE's sign) as pw.x printed them (Ry, Ry/bohr, Ry/bohr³),
    converted with the constants aiida-quantumespresso's parser uses (qe-tools; ASE's CODATA Rydberg differs by
    1e-7, about 1 meV at these total energies)."""
    Ry, Bohr = CONSTANTS.ry_to_ev, CONSTANTS.bohr_to_ang
    energy = float(re.findall(r'^!\s+total energy\s+=\s+(\S+) Ry', stdout, re.M)[-1]) * Ry
    forces = re.findall(r'atom\s+\d+ type\s+\d+\s+force =\s+(\S+)\s+(\S+)\s+(\S+)', stdout)[:natoms]
    block = stdout.rsplit('total   stress  (Ry/bohr**3)', maxsplit=1)[-1].splitlines()[1:4]
    stress = np.array([[float(value) for value in line.split()[:3]] for line in block])
    return {
        'energy': energy,
        'forces': np.array(forces, dtype=float) * Ry / Bohr,
        'stress': -stress * Ry / Bohr**3,
    }


@pytest.mark.slow
def test_training_set_is_pw_x_output_with_provenance(pw_code):
    install_family()
    results, node = run_get_node(builder(pw_code))
    assert node.is_finished_ok, node.exit_message
    training_set = results['training_set']
    expected = ['alloy_SiGe_000', 'bulk_Ge_000', 'bulk_Ge_001', 'bulk_Si_000', 'bulk_Si_001']
    expected += ['slab_Ge_001_000', 'slab_Si_001_000']
    assert training_set.labels == expected
    assert training_set.elements == ['Ge', 'Si'] and training_set.base.attributes.get('has_stress')

    jobs, every_job = {}, set()
    for dft in (called for called in node.called if called.process_label == 'DftWorkChain'):
        # more than one pw.x job where aiida-quantumespresso restarted it (e.g. with more bands): the last one counts
        pw = sorted(
            (job for job in dft.called_descendants if job.process_type.endswith('quantumespresso.pw')),
            key=lambda job: job.ctime,
        )
        assert pw and pw[-1].is_finished_ok
        every_job |= {job.pk for job in pw}
        jobs[dft.base.links.get_incoming().get_node_by_label('structure').uuid] = pw[-1]
    frames = training_set.get_ase()
    for atoms, source in zip(frames, training_set.base.attributes.get('sources'), strict=True):
        job = jobs[source]
        np.testing.assert_allclose(atoms.positions, job.inputs.structure.get_ase().positions, atol=1e-8)
        numbers = printed(job.outputs.retrieved.get_object_content('aiida.out'), len(atoms))
        assert atoms.info[ENERGY_KEY] == pytest.approx(numbers['energy'], abs=1e-4)
        np.testing.assert_allclose(atoms.arrays[FORCES_KEY], numbers['forces'], atol=2e-4)
        voigt = numbers['stress'][[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
        np.testing.assert_allclose(atoms.info[STRESS_KEY], voigt, atol=2e-6)

    # a compressed cell pushes outwards, an expanded one pulls inwards: ASE's stress trace is negative, positive
    volumes = {atoms.info['label']: atoms.get_volume() / len(atoms) for atoms in frames}
    assert volumes['bulk_Si_000'] < 18.0 and volumes['bulk_Ge_001'] > 25.0  # PBE: about 20.4 and 24.2 Å³ per atom
    traces = {atoms.info['label']: np.sum(atoms.info[STRESS_KEY][:3]) for atoms in frames}
    assert traces['bulk_Si_000'] < 0 < traces['bulk_Ge_001']

    # provenance: training set <- collect_training_set <- DFT outputs <- ... <- every pw.x job of the seven frames
    ancestors = (
        orm.QueryBuilder()
        .append(orm.Node, filters={'id': training_set.pk}, tag='set')
        .append(orm.CalcJobNode, with_descendants='set', project='id')
        .all(flat=True)
    )
    assert set(ancestors) == every_job and len(jobs) == 7


def test_bad_frame_parameters_are_refused_before_any_job(pw_code):
    bad = builder(pw_code, frames={'bulk': -1})
    error = TrainingDataWorkChain.spec().inputs.validate(bad._inputs(prune=True))
    assert error is not None and 'frames: bulk must be >= 0' in error.message
    with pytest.raises(ValueError, match=r"unknown override key\(s\) \['generation'\]"):
        builder(pw_code, generation={})
