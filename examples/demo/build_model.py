"""Rebuild the demo's MACE model and the archive of its provenance from scratch: ``bin/build-demo-model``.

1. ``ifacerank.mlp.training_data``: pw.x single points of strained and rattled bulk Si and Ge, random SiGe alloy
   cells and rattled Si and Ge surface slabs (``FRAMES``; never a Si|Ge interface), with the DFT settings of the
   demo study (``examples/demo/study.yaml``: its protocol, ``dft`` and k-point spacing).
2. ``ifacerank.mlp.train``: mace-torch's trainer on that set, a fifth of the frames held out (``TRAINING``).
3. ``examples/demo/mace-sige.model`` and ``examples/demo/mace-sige-provenance.aiida`` (the model and everything it
   came from, down to the pw.x jobs), which ``bin/demo`` imports instead of retraining.

Runs in this process (no daemon) with the codes ``python@localhost`` and ``pw@localhost``; prints the held-out
errors and the time of each stage.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import yaml
from aiida import engine, load_profile, orm

HERE = Path(__file__).resolve().parent
STUDY = HERE / 'study.yaml'
MODEL = HERE / 'mace-sige.model'
ARCHIVE = HERE / 'mace-sige-provenance.aiida'
FRAMES = {'bulk': 8, 'alloy': 10, 'slab_millers': [[0, 0, 1], [1, 1, 0], [1, 1, 1]], 'slab_frames': 2, 'seed': 0}
"""FrameParameters: 16 bulk, 10 alloy and 12 slab frames."""
TRAINING = {
    'validation': {'fraction': 0.2, 'seed': 0},
    'parameters': {
        'num_channels': 32,
        'max_L': 1,
        'r_max': 5.0,
        'correlation': 3,
        'max_num_epochs': 200,
        'batch_size': 4,
        'lr': 0.01,
        'energy_weight': 10.0,
        'forces_weight': 100.0,
        'stress_weight': 10.0,
        'seed': 1,
    },
}
"""Inputs of ifacerank.mlp.train besides the training set."""


def label_frames(settings: dict):
    """Run ``ifacerank.mlp.training_data`` with the demo study's DFT settings; its node."""
    from aiida_ifacerank.workflows.training import TrainingDataWorkChain  # noqa: PLC0415

    overrides = settings['overrides']
    builder = TrainingDataWorkChain.get_builder_from_protocol(
        orm.load_code(settings['dft_code']),
        structure(settings['lower']),
        structure(settings['upper']),
        protocol=settings['protocol'],
        overrides={
            'frames': FRAMES,
            **{
                key: overrides[key] for key in ('dft', 'kpoints_distance_inv_ang', 'max_concurrent') if key in overrides
            },
        },
    )
    _, node = engine.run_get_node(builder)
    if not node.is_finished_ok:
        sys.exit(f'training data: {node.process_label}<{node.pk}> failed: {node.exit_status} {node.exit_message}')
    return node


def train(settings: dict, training_set):
    """Run ``ifacerank.mlp.train`` on ``training_set``; its node."""
    from aiida_ifacerank.calculations.train import MaceTrainCalculation  # noqa: PLC0415

    builder = MaceTrainCalculation.get_builder()
    builder.code = orm.load_code(settings['mlp_code'])
    builder.training_set = training_set
    builder.validation = orm.Dict(TRAINING['validation'])
    builder.parameters = orm.Dict(TRAINING['parameters'])
    builder.metadata.options.max_wallclock_seconds = 7200
    _, node = engine.run_get_node(builder)
    if not node.is_finished_ok:
        sys.exit(f'training: {node.process_label}<{node.pk}> failed: {node.exit_status} {node.exit_message}')
    return node


def structure(path: str) -> orm.StructureData:
    from pymatgen.core import Structure  # noqa: PLC0415

    return orm.StructureData(pymatgen=Structure.from_file(HERE.parent.parent / path))


def main():
    load_profile(sys.argv[1] if len(sys.argv) > 1 else None)
    settings = yaml.safe_load(STUDY.read_text())
    start = time.monotonic()
    data = label_frames(settings)
    labelled = time.monotonic()
    training_set = data.outputs.training_set
    print(f'training data: {len(training_set)} frames, {training_set.base.attributes.get("num_atoms")} atoms, ')
    print(f'  {labelled - start:.0f} s ({data.process_label}<{data.pk}>)')
    job = train(settings, training_set)
    trained = time.monotonic()
    print(f'training: {trained - labelled:.0f} s ({job.process_label}<{job.pk}>)')
    for split, values in job.outputs.metrics.get_dict().items():
        print(f'  {split}: {values}')
    model = job.outputs.model
    with model.open(mode='rb') as source, MODEL.open('wb') as target:
        shutil.copyfileobj(source, target)
    ARCHIVE.unlink(missing_ok=True)
    from aiida.tools.archive import create_archive  # noqa: PLC0415

    create_archive([model], filename=ARCHIVE)
    print(f'{MODEL} (sha256 {model.sha256}), {ARCHIVE}: {time.monotonic() - start:.0f} s in all')


if __name__ == '__main__':
    main()
