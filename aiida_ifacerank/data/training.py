"""A training set of a machine-learned potential: structures with reference energies, forces and stresses."""

from __future__ import annotations

import io

import numpy as np
from ase.io import write

from .collection import StructureCollectionData

ENERGY_KEY = 'REF_energy'
"""``Atoms.info`` key of the reference total energy (eV)."""
FORCES_KEY = 'REF_forces'
"""``Atoms.arrays`` key of the reference forces (eV/Å)."""
STRESS_KEY = 'REF_stress'
"""``Atoms.info`` key of the reference stress (eV/Å³, ASE sign and Voigt order xx yy zz yz xz xy)."""


class TrainingSetData(StructureCollectionData):
    """Labelled frames in one extended-XYZ file, the keys mace-torch's trainer reads by default (:data:`ENERGY_KEY`,
    :data:`FORCES_KEY`, :data:`STRESS_KEY`); attributes ``labels``, ``sources``, ``num_structures``, ``elements``
    (sorted symbols), ``num_atoms`` (all frames) and ``has_stress`` (every frame has a stress)."""

    FILENAME = 'training_set.extxyz'

    @classmethod
    def from_frames(cls, frames, labels, sources=None) -> TrainingSetData:
        """Frames as ASE Atoms with ``info[ENERGY_KEY]``, ``arrays[FORCES_KEY]`` and optionally ``info[STRESS_KEY]``
        (3 x 3 or Voigt 6); ``labels`` one per frame, ``sources`` the UUIDs of the structures they came from."""
        if not frames:
            raise ValueError('a training set needs at least one frame.')
        if len(labels) != len(frames):
            raise ValueError(f'{len(labels)} labels for {len(frames)} frames.')
        clean = []
        for atoms, label in zip(frames, labels, strict=True):
            if ENERGY_KEY not in atoms.info or FORCES_KEY not in atoms.arrays:
                raise ValueError(f'frame {label!r} lacks {ENERGY_KEY} or {FORCES_KEY}.')
            copy = atoms.copy()
            copy.calc = None
            copy.info = {'label': str(label), ENERGY_KEY: float(atoms.info[ENERGY_KEY])}
            if atoms.info.get(STRESS_KEY) is not None:
                stress = np.asarray(atoms.info[STRESS_KEY], dtype=float)
                copy.info[STRESS_KEY] = _voigt(stress) if stress.shape == (3, 3) else stress.reshape(6)
            copy.arrays = {key: value for key, value in copy.arrays.items() if key in ('numbers', 'positions')}
            copy.arrays[FORCES_KEY] = np.asarray(atoms.arrays[FORCES_KEY], dtype=float).reshape(len(atoms), 3)
            clean.append(copy)
        handle = io.StringIO()
        write(handle, clean, format='extxyz')
        node = cls(io.BytesIO(handle.getvalue().encode()), filename=cls.FILENAME)
        node.base.attributes.set('labels', [str(label) for label in labels])
        node.base.attributes.set('sources', list(sources) if sources is not None else [None] * len(clean))
        node.base.attributes.set('num_structures', len(clean))
        node.base.attributes.set('num_atoms', sum(len(atoms) for atoms in clean))
        node.base.attributes.set('elements', sorted({symbol for atoms in clean for symbol in atoms.symbols}))
        node.base.attributes.set('has_stress', all(STRESS_KEY in atoms.info for atoms in clean))
        return node

    @property
    def elements(self) -> list[str]:
        return self.base.attributes.get('elements')


def _voigt(stress: np.ndarray) -> np.ndarray:
    """3 x 3 symmetric tensor to Voigt order xx yy zz yz xz xy."""
    return np.array([stress[0, 0], stress[1, 1], stress[2, 2], stress[1, 2], stress[0, 2], stress[0, 1]])
