"""Interface candidates in the graph: one ``StructureData`` per candidate with its metadata, the same
for every generation backend (``ifacerank.generate``, ``ifacerank.artemis``)."""

from __future__ import annotations

import pandas as pd
from aiida.orm import StructureData

from aiida_ifacerank.data import StructureCollectionData, TableData

CANDIDATE_PREFIX = 'candidate_'
"""Output link label prefix of the candidates: ``candidate_0000``, ``candidate_0001``, ..."""
CANDIDATE_ATTRIBUTE = 'ifacerank'
"""Attribute of every candidate StructureData holding its metadata (query ``attributes.ifacerank.*``)."""
CANDIDATE_KEYS = (
    'candidate',
    'backend',
    'lower',
    'upper',
    'match_id',
    'raw_matches',
    'miller_lower',
    'miller_upper',
    'area_ang2',
    'strain_11',
    'strain_22',
    'strain_12',
    'von_mises_strain',
    'length_strain',
    'angle_strain',
    'termination',
    'termination_index',
    'shift',
    'gap_ang',
    'model',
    'atoms',
    'atoms_lower',
    'interfaces',
    'interfaces_equivalent',
)
"""Metadata of every candidate, whatever the backend (see ``docs/generation.md`` for each key)."""


def candidate_outputs(candidates, lower: StructureData, upper: StructureData) -> dict:
    """Output nodes of a generation: ``candidate_NNNN`` StructureData, the ``candidates`` table and all
    candidates as one ``structures`` collection (labels ``candidate_NNNN``; the input of batched jobs).

    ``candidates``: (ASE Atoms or pymatgen Structure, metadata) pairs whose metadata hold every key of
    :data:`CANDIDATE_KEYS` except ``candidate``, ``lower`` and ``upper``, which are added here.
    """
    names = {'lower': lower.get_formula(mode='hill_compact'), 'upper': upper.get_formula(mode='hill_compact')}
    outputs, rows = {}, []
    for index, (structure, found) in enumerate(candidates):
        label = f'{CANDIDATE_PREFIX}{index:04d}'
        metadata = {**found, **names, 'candidate': label}
        if set(metadata) != set(CANDIDATE_KEYS):
            raise ValueError(f'candidate metadata keys {sorted(metadata)} differ from {sorted(CANDIDATE_KEYS)}.')
        node = StructureData(ase=structure) if hasattr(structure, 'get_cell') else StructureData(pymatgen=structure)
        node.base.attributes.set(CANDIDATE_ATTRIBUTE, {key: metadata[key] for key in CANDIDATE_KEYS})
        outputs[label] = node
        rows.append({key: str(value) if isinstance(value, list) else value for key, value in metadata.items()})
    outputs['candidates'] = TableData(pd.DataFrame(rows, columns=list(CANDIDATE_KEYS)))
    labels = [row['candidate'] for row in rows]
    if labels:
        outputs['structures'] = StructureCollectionData.from_structures([outputs[label] for label in labels], labels)
    return outputs
