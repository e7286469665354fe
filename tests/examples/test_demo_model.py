"""The demo's shipped MACE model: the file is the model of its provenance archive, the archive imports into a fresh
profile with the whole chain back to the pw.x jobs, and no training frame is an interface."""

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

DEMO = Path(__file__).parents[2] / 'examples' / 'demo'
MODEL, ARCHIVE = DEMO / 'mace-sige.model', DEMO / 'mace-sige-provenance.aiida'


def test_shipped_model_is_the_model_of_its_archive():
    from aiida.tools.archive.abstract import get_format  # noqa: PLC0415

    from aiida_ifacerank.data import PotentialModelData  # noqa: PLC0415

    with get_format().open(ARCHIVE, 'r') as reader:
        rows = reader.querybuilder().append(PotentialModelData, project=['attributes']).all(flat=True)
    assert len(rows) == 1
    assert rows[0]['sha256'] == hashlib.sha256(MODEL.read_bytes()).hexdigest()
    assert rows[0]['engine'] == 'mace'


IMPORT_AND_CHECK = textwrap.dedent(
    """
    import json, sys
    from aiida import load_profile, orm
    from aiida.tools.archive import import_archive
    load_profile()
    import_archive(sys.argv[1])
    from aiida_ifacerank.data import PotentialModelData, TrainingSetData
    model = orm.QueryBuilder().append(PotentialModelData).one()[0]
    job = model.creator
    training_set = job.inputs.training_set
    ancestors = (
        orm.QueryBuilder()
        .append(orm.Node, filters={'id': training_set.pk}, tag='set')
        .append(orm.ProcessNode, with_descendants='set', project=['id', 'process_type'])
        .distinct()
        .all()
    )
    processes = sorted(process_type for _, process_type in ancestors)
    print(json.dumps({
        'sha256': model.sha256,
        'job': job.process_type,
        'labels': training_set.labels,
        'processes': processes,
        'metrics': job.outputs.metrics.get_dict(),
    }))
    """
)


@pytest.mark.slow
def test_archive_imports_into_a_fresh_profile(tmp_path):
    environment = {**os.environ, 'AIIDA_PATH': str(tmp_path)}
    verdi = Path(sys.executable).parent / 'verdi'
    subprocess.run(
        [verdi, 'presto', '--profile-name', 'fresh', '--use-zeromq'], env=environment, check=True, capture_output=True
    )
    output = subprocess.run(
        [sys.executable, '-c', IMPORT_AND_CHECK, str(ARCHIVE)],
        env=environment,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found = json.loads(output.strip().splitlines()[-1])
    assert found['sha256'] == hashlib.sha256(MODEL.read_bytes()).hexdigest()
    assert found['job'] == 'aiida.calculations:ifacerank.mlp.train'
    # the frames come from one make_frames; each frame's energy from one normalised DFT run of at least one pw.x
    # job (more where aiida-quantumespresso restarted it, e.g. with more bands); the frames are bulk, alloy and
    # slab cells: never a Si|Ge interface
    counts = {name: found['processes'].count(name) for name in set(found['processes'])}
    assert counts['aiida_ifacerank.workflows.dft.normalize_qe'] == len(found['labels']) == 38
    assert counts['aiida_ifacerank.calculations.training_set.make_frames'] == 1
    assert counts['aiida.calculations:quantumespresso.pw'] >= len(found['labels'])
    assert {label.split('_')[0] for label in found['labels']} == {'bulk', 'alloy', 'slab'}
    assert found['metrics']['valid']['frames'] >= 5
