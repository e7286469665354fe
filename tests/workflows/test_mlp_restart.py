"""``ifacerank.mace.base``: only the unconverged subset is resubmitted; broken structures end with a reason."""

import sys

import numpy as np
import pytest
from aiida.engine import run_get_node
from aiida.orm import Dict, InstalledCode
from ase.build import bulk

from aiida_ifacerank.data import PotentialModelData, StructureCollectionData
from aiida_ifacerank.tools.tiny_mace import build_random_mace
from aiida_ifacerank.workflows.mlp import MlpBaseWorkChain


@pytest.mark.slow
def test_restart_resubmits_only_unconverged_structures(aiida_localhost, tmp_path):
    code = InstalledCode(label='python-wc', computer=aiida_localhost, filepath_executable=sys.executable).store()
    model = PotentialModelData.get_or_create(build_random_mace(tmp_path / 'random.model'))
    cells = []
    for seed in range(3):
        atoms = bulk('Si', 'diamond', 5.5, cubic=True) * (1, 1, 2)
        atoms.symbols[8:] = 'Ge'
        atoms.rattle(0.05, seed=seed)
        cells.append(atoms)
    cells[2].positions[3] = np.nan  # broken: fails for good, never retried
    builder = MlpBaseWorkChain.get_builder()
    builder.mlp.code = code
    builder.mlp.model = model
    builder.mlp.structures = StructureCollectionData.from_structures(cells, labels=['a', 'b', 'broken'])
    builder.mlp.parameters = Dict({'task': 'relax', 'fmax': 0.01, 'max_steps': 2})
    outputs, node = run_get_node(builder)

    assert node.exit_status == MlpBaseWorkChain.exit_codes.ERROR_SOME_STRUCTURES_FINAL.status
    assert 'broken' in node.exit_message
    children = sorted((c for c in node.called if c.process_label == 'MlpCalculation'), key=lambda c: c.ctime)
    assert len(children) >= 2
    assert len(children[0].inputs.structures) == 3
    assert all(set(child.inputs.structures.labels) <= {'a', 'b'} for child in children[1:])  # the subset only
    assert children[1].inputs.parameters['max_steps'] == 4
    table = outputs['results'].get_dataframe().set_index('label')
    assert list(table.loc[['a', 'b'], 'status']) == ['ok', 'ok']
    assert (table.loc[['a', 'b'], 'max_force_ev_ang'] < 0.01).all()
    assert table.loc['broken', 'status'] == 'failed' and 'non-finite positions' in table.loc['broken', 'error']
    assert outputs['structures'].labels == ['a', 'b']
