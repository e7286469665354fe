"""Calcfunctions of ``ifacerank.mlp.training_data``: the frames to label (:mod:`aiida_ifacerank.science.training`)
and the training set made of their DFT energies, forces and stresses."""

from __future__ import annotations

from aiida.engine import calcfunction
from aiida.orm import Dict, List, StructureData

from aiida_ifacerank.data import TrainingSetData
from aiida_ifacerank.data.training import ENERGY_KEY, FORCES_KEY, STRESS_KEY
from aiida_ifacerank.science.training import FrameParameters, training_frames


@calcfunction
def make_frames(lower: StructureData, upper: StructureData, parameters: Dict) -> dict:
    """One StructureData per frame of :func:`~aiida_ifacerank.science.training.training_frames`, by its label."""
    frames = training_frames(
        lower.get_pymatgen(), upper.get_pymatgen(), FrameParameters.from_dict(parameters.get_dict())
    )
    return {label: StructureData(ase=atoms) for label, atoms in frames}


@calcfunction
def collect_training_set(labels: List, **labelled) -> TrainingSetData:
    """The training set of the frames ``labels[i]``: ``structure_<i>`` with the DFT outputs ``energy_<i>`` (eV),
    ``forces_<i>`` (eV/Å) and, where computed, ``stress_<i>`` (eV/Å³, 3 x 3, ASE's sign) of ``ifacerank.dft``."""
    frames, sources = [], []
    for index in range(len(labels)):
        structure = labelled[f'structure_{index}']
        atoms = structure.get_ase()
        atoms.info[ENERGY_KEY] = labelled[f'energy_{index}'].value
        atoms.arrays[FORCES_KEY] = labelled[f'forces_{index}'].get_array('forces')
        if f'stress_{index}' in labelled:
            atoms.info[STRESS_KEY] = labelled[f'stress_{index}'].get_array('stress')
        frames.append(atoms)
        sources.append(structure.uuid)
    return TrainingSetData.from_frames(frames, labels.get_list(), sources)
