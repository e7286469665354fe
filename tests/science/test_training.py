"""Training frames: counts and kinds by hand, bounded strains and rattles, the alloy's composition and volume,
slabs with vacuum, the same frames for the same seed, and no interface among them."""

import re

import numpy as np
import pytest
from pymatgen.core import Structure

from aiida_ifacerank.science.training import FrameParameters, training_frames


@pytest.fixture(scope='module')
def crystals():
    return tuple(Structure.from_file(f'examples/bulk/{name}.cif') for name in ('Si', 'Ge'))


def _kinds(frames):
    return [label.rsplit('_', 1)[0] for label, _ in frames]


def test_counts_and_kinds(crystals):
    frames = training_frames(*crystals, FrameParameters(bulk=3, alloy=2, slab_millers=((0, 0, 1), (1, 1, 1))))
    kinds = _kinds(frames)
    expected = {'bulk_Si': 3, 'bulk_Ge': 3, 'alloy_SiGe': 2, 'slab_Si_001': 2, 'slab_Ge_001': 2}
    expected |= {'slab_Si_111': 2, 'slab_Ge_111': 2}
    assert {kind: kinds.count(kind) for kind in set(kinds)} == expected
    assert len({label for label, _ in frames}) == len(frames)
    # one bulk frame in three is the 2-atom primitive cell, the others the 8-atom conventional cell
    assert [len(atoms) for label, atoms in frames if label.startswith('bulk_Si')] == [2, 8, 8]


def test_a_homointerface_has_no_alloy(crystals):
    frames = training_frames(crystals[0], crystals[0], FrameParameters(bulk=2, alloy=4, slab_frames=1))
    assert not any(label.startswith('alloy') for label, _ in frames)
    assert {symbol for _, atoms in frames for symbol in atoms.symbols} == {'Si'}


def test_strains_and_rattles_stay_within_bounds(crystals):
    parameters = FrameParameters(bulk=9, alloy=0, slab_millers=(), strain=0.05, shear=0.03, rattle=(0.02, 0.12))
    for label, atoms in training_frames(*crystals, parameters):
        element = label.split('_')[1]
        reference = crystals[0] if element == 'Si' else crystals[1]
        volume_per_atom = atoms.get_volume() / len(atoms)
        ratio = volume_per_atom / (reference.volume / len(reference))
        # (1 ± 0.05)^3 isotropically, times at most (1 ± 0.03)^3 more from the shear part's trace
        assert 0.95**3 * 0.97**3 < ratio < 1.05**3 * 1.03**3
        assert np.all(atoms.get_all_distances(mic=True)[np.triu_indices(len(atoms), 1)] > 1.5)


def test_alloy_is_half_and_half_at_vegard_volume(crystals):
    parameters = FrameParameters(bulk=0, alloy=6, slab_millers=(), strain=0.0, shear=0.0, rattle=(0.0, 0.0))
    vegard = (crystals[0].volume + crystals[1].volume) / 2
    for _, atoms in training_frames(*crystals, parameters):
        assert sorted(atoms.get_chemical_symbols()).count('Si') == 4 and len(atoms) == 8
        assert atoms.get_volume() == pytest.approx(vegard, rel=1e-10)


def test_slabs_have_vacuum_and_unstrained_in_plane_cells(crystals):
    parameters = FrameParameters(bulk=0, alloy=0, slab_millers=((0, 0, 1),), slab_frames=1, rattle=(0.0, 0.0))
    frames = training_frames(*crystals, parameters)
    for label, atoms in frames:
        heights = atoms.get_scaled_positions()[:, 2] * atoms.cell.lengths()[2]
        assert atoms.cell.lengths()[2] - (heights.max() - heights.min()) >= parameters.vacuum - 1e-6, label
        in_plane = np.sort(atoms.cell.lengths()[:2])
        a = (crystals[0] if '_Si_' in label else crystals[1]).lattice.a
        assert in_plane[0] == pytest.approx(a / np.sqrt(2), rel=1e-6)


def test_same_seed_same_frames(crystals):
    one, two = (training_frames(*crystals, FrameParameters(bulk=2, alloy=2, slab_frames=1)) for _ in range(2))
    other = training_frames(*crystals, FrameParameters(bulk=2, alloy=2, slab_frames=1, seed=1))
    assert all(np.array_equal(a.positions, b.positions) for (_, a), (_, b) in zip(one, two, strict=True))
    assert not np.allclose(one[0][1].positions, other[0][1].positions)


@pytest.mark.parametrize(
    ('values', 'message'),
    [
        ({'bulks': 2}, "unknown frame parameter(s) ['bulks']"),
        ({'bulk': -1}, 'bulk must be >= 0'),
        ({'rattle': [0.2, 0.1]}, 'rattle must be (low, high)'),
        ({'strain': 0.5}, 'strain and shear must be in [0, 0.3)'),
    ],
)
def test_bad_parameters_are_named(values, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        FrameParameters.from_dict(values)


def test_compounds_are_refused():
    compound = Structure.from_spacegroup('F-43m', [[5.65, 0, 0], [0, 5.65, 0], [0, 0, 5.65]], ['Ga', 'As'],
                                         [[0, 0, 0], [0.25, 0.25, 0.25]])  # fmt: skip
    silicon = Structure.from_file('examples/bulk/Si.cif')
    with pytest.raises(ValueError, match='upper must be an elemental crystal'):
        training_frames(silicon, compound, FrameParameters())
