"""Many structures as one node (an extended-XYZ file), so that jobs take and give a few nodes, not hundreds."""

from __future__ import annotations

import io

import numpy as np
from aiida.orm import SinglefileData, StructureData
from ase.io import read, write

from aiida_ifacerank.science.layers import LAYER_KEYS


class StructureCollectionData(SinglefileData):
    """Structures in one extended-XYZ file; attributes ``labels`` and ``sources`` (UUIDs of the StructureData)."""

    FILENAME = 'structures.extxyz'

    @classmethod
    def from_structures(cls, structures, labels=None) -> StructureCollectionData:
        """Collect StructureData (or ASE Atoms) in order; labels default to the source UUIDs or indices.

        :data:`~aiida_ifacerank.science.layers.LAYER_KEYS` travel in each structure's ``info``: from the
        ``ifacerank`` attribute of an interface candidate, or from the ``info`` of ASE Atoms (e.g. read
        back from a collection).
        """
        from aiida_ifacerank.common.candidates import CANDIDATE_ATTRIBUTE  # noqa: PLC0415 - it imports this package

        atoms_list, sources = [], []
        for index, structure in enumerate(structures):
            is_node = isinstance(structure, StructureData)
            atoms = structure.get_ase() if is_node else structure.copy()
            sources.append(structure.uuid if is_node and structure.is_stored else None)
            results = {} if is_node or structure.calc is None else structure.calc.results
            interface = structure.base.attributes.get(CANDIDATE_ATTRIBUTE, {}) if is_node else structure.info
            atoms.info = {'label': str(labels[index]) if labels is not None else (sources[-1] or str(index))}
            atoms.info.update({key: interface[key] for key in LAYER_KEYS if key in interface})
            if 'energy' in results:  # keep what a calculation gave: eV and eV/Å
                atoms.info['energy'] = float(results['energy'])
            if 'forces' in results:
                atoms.arrays['forces'] = np.asarray(results['forces'])
            atoms_list.append(atoms)
        if not atoms_list:
            raise ValueError('a structure collection needs at least one structure.')
        handle = io.StringIO()
        write(handle, atoms_list, format='extxyz')
        node = cls(io.BytesIO(handle.getvalue().encode()), filename=cls.FILENAME)
        node.base.attributes.set('labels', [atoms.info['label'] for atoms in atoms_list])
        node.base.attributes.set('sources', sources)
        node.base.attributes.set('num_structures', len(atoms_list))
        return node

    @property
    def labels(self) -> list[str]:
        return self.base.attributes.get('labels')

    def get_ase(self) -> list:
        """The structures as ASE Atoms; stored energies and forces come back as their calculator results."""
        with self.open(mode='r') as handle:
            return read(handle, index=':', format='extxyz')

    def __len__(self) -> int:
        return self.base.attributes.get('num_structures')
