"""Configurations to label with DFT and train a potential on: strained and rattled bulk cells of two crystals,
their random alloy, and rattled surface slabs. Never an interface of the two: a model trained on these frames
has not seen the interfaces a study ranks with it, as a universal model has not. Pure pymatgen/ASE/numpy.

Lengths in Å, strains as fractions (0.04 = 4 %).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from ase import Atoms
from pymatgen.core import Structure
from pymatgen.core.surface import SlabGenerator
from pymatgen.io.ase import AseAtomsAdaptor
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer


@dataclass(frozen=True)
class FrameParameters:
    """How many frames of each kind, and how far from the ideal crystal they go."""

    seed: int = 0
    """Seed of every random choice: the same parameters give the same frames."""
    bulk: int = 6
    """Frames per crystal: one in three its primitive cell, the others its conventional cell."""
    alloy: int = 8
    """Frames of the conventional cell with the two elements on random sites (half each) at Vegard's volume; none if
    the crystals share their element."""
    slab_millers: tuple = ((0, 0, 1), (1, 1, 0), (1, 1, 1))
    """Surfaces of each crystal (Miller indices of its conventional cell)."""
    slab_frames: int = 2
    """Rattled frames per surface and crystal."""
    slab_thickness: float = 5.0
    """Smallest slab thickness (Å)."""
    vacuum: float = 8.0
    """Vacuum between periodic images of a slab (Å)."""
    strain: float = 0.05
    """Largest isotropic strain of a bulk frame (fraction)."""
    shear: float = 0.03
    """Largest component of the random symmetric strain added to half of the bulk frames (fraction)."""
    rattle: tuple = (0.02, 0.12)
    """Range of the standard deviation (Å) of the Gaussian displacement of every atom, drawn per frame."""

    def __post_init__(self):
        for name in ('bulk', 'alloy', 'slab_frames'):
            if int(getattr(self, name)) < 0:
                raise ValueError(f'{name} must be >= 0, got {getattr(self, name)}.')
        if not 0 <= self.strain < 0.3 or not 0 <= self.shear < 0.3:
            raise ValueError(f'strain and shear must be in [0, 0.3), got {self.strain} and {self.shear}.')
        low, high = self.rattle
        if not 0 <= low <= high < 0.5:
            raise ValueError(f'rattle must be (low, high) with 0 <= low <= high < 0.5 Å, got {self.rattle}.')
        if self.slab_thickness <= 0 or self.vacuum <= 0:
            raise ValueError('slab_thickness and vacuum must be > 0 Å.')

    @classmethod
    def from_dict(cls, values: dict) -> FrameParameters:
        """From a plain dict (e.g. an AiiDA Dict), naming any unknown key."""
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f'unknown frame parameter(s) {unknown}: use {sorted(known)}.')
        converted = {key: tuple(map(tuple, value)) if key == 'slab_millers' else value for key, value in values.items()}
        if 'rattle' in converted:
            converted['rattle'] = tuple(converted['rattle'])
        return cls(**converted)


def strain_and_rattle(atoms: Atoms, rng: np.random.Generator, strain: float, shear: float, rattle: tuple) -> Atoms:
    """``atoms`` strained in place by up to ±``strain`` isotropically, plus for half of the calls a random symmetric
    strain of up to ±``shear`` per component, then rattled (:func:`rattled`)."""
    deformation = np.eye(3) * rng.uniform(-strain, strain)
    if rng.random() < 0.5:
        random = rng.uniform(-shear, shear, (3, 3))
        deformation += (random + random.T) / 2
    atoms.set_cell(atoms.cell @ (np.eye(3) + deformation), scale_atoms=True)
    return rattled(atoms, rng, rattle)


def rattled(atoms: Atoms, rng: np.random.Generator, rattle: tuple) -> Atoms:
    """``atoms`` with every position displaced in place by a Gaussian of standard deviation drawn from ``rattle``."""
    atoms.positions += rng.normal(0.0, rng.uniform(*rattle), atoms.positions.shape)
    return atoms


def _element(structure: Structure, name: str) -> str:
    elements = sorted({site.specie.symbol for site in structure})
    if len(elements) != 1:
        raise ValueError(f'{name} must be an elemental crystal, got {elements}.')
    return elements[0]


def _slabs(structure: Structure, parameters: FrameParameters, name: str) -> list[tuple[str, Atoms]]:
    slabs = []
    for miller in parameters.slab_millers:
        generator = SlabGenerator(
            structure,
            miller,
            parameters.slab_thickness,
            parameters.vacuum,
            center_slab=True,
            primitive=True,
            reorient_lattice=True,
        )
        found = generator.get_slabs()
        if not found:
            raise ValueError(f'no {miller} slab of {name}.')
        slab = min(found, key=len).get_orthogonal_c_slab()
        slabs.append((''.join(map(str, miller)), AseAtomsAdaptor.get_atoms(slab)))
    return slabs


def training_frames(lower: Structure, upper: Structure, parameters: FrameParameters) -> list[tuple[str, Atoms]]:
    """(label, Atoms) of every frame: ``bulk`` strained and rattled frames of each crystal (``lower`` and ``upper``,
    elemental; one crystal if both are the same element), ``alloy`` frames of the two, ``slab_frames`` rattled slabs
    per surface of each crystal. Labels: ``bulk_Si_000``, ``alloy_SiGe_000``, ``slab_Si_001_000``."""
    rng = np.random.default_rng(parameters.seed)
    crystals = {}
    for name, structure in (('lower', lower), ('upper', upper)):
        crystals.setdefault(_element(structure, name), structure)
    conventional = {
        element: SpacegroupAnalyzer(structure).get_conventional_standard_structure()
        for element, structure in crystals.items()
    }
    frames = []
    for element, structure in crystals.items():
        primitive = AseAtomsAdaptor.get_atoms(structure.get_primitive_structure())
        cubic = AseAtomsAdaptor.get_atoms(conventional[element])
        for index in range(parameters.bulk):
            atoms = (primitive if index % 3 == 0 else cubic).copy()
            frames.append(
                (
                    f'bulk_{element}_{index:03d}',
                    strain_and_rattle(atoms, rng, parameters.strain, parameters.shear, parameters.rattle),
                )
            )
    if len(crystals) == 2:
        frames += _alloy_frames(conventional, rng, parameters)
    for element in crystals:
        for miller, slab in _slabs(conventional[element], parameters, element):
            for index in range(parameters.slab_frames):
                frames.append((f'slab_{element}_{miller}_{index:03d}', rattled(slab.copy(), rng, parameters.rattle)))
    return frames


def _alloy_frames(conventional: dict, rng: np.random.Generator, parameters: FrameParameters) -> list:
    """Alloys on the first crystal's conventional cell at the mean volume per atom of the two (Vegard)."""
    (first, one), (second, other) = conventional.items()
    if len(one) != len(other):
        raise ValueError(f'the alloy needs conventional cells of equal size, got {len(one)} {first} and {len(other)}.')
    template = AseAtomsAdaptor.get_atoms(one)
    scale = ((one.volume + other.volume) / (2 * one.volume)) ** (1 / 3)
    template.set_cell(template.cell * scale, scale_atoms=True)
    frames = []
    half = len(template) // 2
    for index in range(parameters.alloy):
        atoms = template.copy()
        symbols = np.array([first] * len(atoms), dtype=object)
        symbols[rng.permutation(len(atoms))[half:]] = second
        atoms.set_chemical_symbols(list(symbols))
        frames.append(
            (
                f'alloy_{first}{second}_{index:03d}',
                strain_and_rattle(atoms, rng, parameters.strain, parameters.shear, parameters.rattle),
            )
        )
    return frames
