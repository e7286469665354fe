"""Interface generation on Si (a = 5.431 Å) | Ge (a = 5.658 Å): hand-checked matches, shifts and filters."""

import numpy as np
import pytest
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Lattice, Structure

from aiida_ifacerank.science.generation import (
    MATCHER_SETTINGS,
    GenerationParameters,
    check_bulk,
    cnid_shifts,
    generate,
    min_distance_violation,
)

A_SI, A_GE = 5.431, 5.658


@pytest.fixture(scope='module')
def silicon():
    return Structure.from_spacegroup('Fd-3m', Lattice.cubic(A_SI), ['Si'], [[0, 0, 0]])


@pytest.fixture(scope='module')
def germanium():
    return Structure.from_spacegroup('Fd-3m', Lattice.cubic(A_GE), ['Ge'], [[0, 0, 0]])


@pytest.fixture(scope='module')
def si_ge_001(silicon, germanium):
    return generate(silicon, germanium, GenerationParameters(plane_pairs=(((0, 0, 1), (0, 0, 1)),), max_area=60))


def test_si_ge_001_match_by_hand(si_ge_001):
    assert si_ge_001.counts['unique_matches'] == 1  # cube on cube; all supercells and rotations collapse
    match = si_ge_001.matches[0]
    assert (match['miller_lower'], match['miller_upper']) == ('001', '001')
    assert match['area_ang2'] == pytest.approx(A_SI**2 / 2)  # primitive square cell of Si(001)
    biaxial = ((A_SI / A_GE) ** 2 - 1) / 2  # Green-Lagrange strain of Ge on Si
    assert (match['strain_11'], match['strain_22']) == (pytest.approx(biaxial), pytest.approx(biaxial))
    assert match['strain_12'] == pytest.approx(0, abs=1e-12)
    assert match['length_strain'] == pytest.approx(A_GE / A_SI - 1)
    assert match['raw_matches'] == si_ge_001.counts['raw_matches'] > 1


def test_si_ge_001_candidates(si_ge_001):
    counts = si_ge_001.counts
    # Both in-plane lattices are the same square primitive cell: the CNID is the whole cell, so a 3x3
    # grid gives 8 non-zero shifts per unique termination pair.
    assert counts['shifts_sampled'] == 8 * counts['unique_terminations']
    assert counts['candidates'] == len(si_ge_001.candidates) > 0
    assert counts['shifts_sampled'] == counts['candidates'] + len(si_ge_001.dropped)
    matcher = StructureMatcher(**MATCHER_SETTINGS)
    structures = [candidate.structure for candidate in si_ge_001.candidates]
    for i, structure in enumerate(structures):
        assert candidate_ok(structure)
        assert not any(matcher.fit(structure, other) for other in structures[:i])
    for candidate in si_ge_001.candidates:
        assert candidate.metadata['shift'] != [0.0, 0.0]
        assert candidate.metadata['atoms'] == len(candidate.structure)
        assert sorted({site.specie.symbol for site in candidate.structure}) == ['Ge', 'Si']


def candidate_ok(structure):
    return min_distance_violation(structure, 0.7) is None


def test_rotated_copies_of_a_plane_pair_collapse(silicon, germanium):
    pairs = (((0, 0, 1), (0, 0, 1)), ((1, 0, 0), (0, 1, 0)), ((0, 1, 0), (0, 0, -1)))
    result = generate(silicon, germanium, GenerationParameters(plane_pairs=pairs, max_area=60))
    single = generate(silicon, germanium, GenerationParameters(plane_pairs=pairs[:1], max_area=60))
    assert result.counts['unique_plane_pairs'] == 1
    assert result.counts['unique_matches'] == 1
    assert result.counts['raw_matches'] == 3 * single.counts['raw_matches']
    assert result.matches[0]['raw_matches'] == result.counts['raw_matches']


def test_oblique_111_cells_have_area_cross_product_and_no_close_atoms(silicon, germanium):
    result = generate(silicon, germanium, GenerationParameters(plane_pairs=(((1, 1, 1), (1, 1, 1)),), max_area=60))
    assert result.candidates
    assert any(abs(candidate.structure.lattice.gamma - 90) > 1 for candidate in result.candidates)  # oblique cells
    for candidate in result.candidates:
        a, b = candidate.structure.lattice.matrix[:2]
        assert np.linalg.norm(np.cross(a, b)) == pytest.approx(candidate.metadata['area_ang2'], rel=1e-6)
        assert candidate_ok(candidate.structure)


def test_close_contacts_are_dropped_with_a_reason(silicon, germanium):
    result = generate(
        silicon, germanium, GenerationParameters(plane_pairs=(((0, 0, 1), (0, 0, 1)),), max_area=20, gap=0.6)
    )
    reasons = [entry['reason'] for entry in result.dropped]
    assert any('covalent radii' in reason for reason in reasons)
    assert all(candidate_ok(candidate.structure) for candidate in result.candidates)


def test_cnid_of_a_root2_supercell_by_hand():
    # supercell a' = a + b, b' = -a + b of a square lattice: primitive vectors are (1/2, 1/2) and
    # (-1/2, 1/2) in supercell fractions, the CNID has half the supercell area
    primitive = np.array([[0.5, 0.5], [-0.5, 0.5]])
    shifts = np.array(cnid_shifts(primitive, (2, 2)))

    def equivalent(u, v):  # u - v is a primitive lattice vector
        coefficients = np.linalg.solve(primitive.T, np.subtract(u, v))
        return np.allclose(coefficients, np.round(coefficients))

    assert len(shifts) == 3  # a 2x2 grid on a cell of half the supercell area, zero excluded
    assert not any(equivalent(shift, (0, 0)) for shift in shifts)
    assert not any(equivalent(shifts[i], shifts[j]) for i in range(3) for j in range(i))
    # the three are the half-cell points (1/4, 1/4), (0, 1/2), (1/4, 3/4) up to lattice vectors
    for expected in [(0.25, 0.25), (0.0, 0.5), (0.25, 0.75)]:
        assert sum(equivalent(shift, expected) for shift in shifts) == 1
    assert (0.0, 0.0) not in cnid_shifts([[1, 0], [0, 1]], (3, 3))
    assert len(cnid_shifts([[1, 0], [0, 1]], (3, 3))) == 8


@pytest.mark.parametrize(
    ('parameters', 'message'),
    [
        ({'max_area': 0}, 'max_area must be > 0'),
        ({'max_length_strain': -0.1}, 'max_length_strain must be > 0'),
        ({'plane_pairs': (((0, 0, 0), (0, 0, 1)),)}, r'Miller index \(0, 0, 0\)'),
        ({'max_miller': (0, 1)}, 'max_miller'),
        ({'model': 'wire'}, 'model must be one of'),
        ({'shift_grid': (0, 3)}, 'shift_grid'),
    ],
)
def test_bad_parameters_are_refused(parameters, message):
    with pytest.raises(ValueError, match=message):
        GenerationParameters(**parameters)


def test_no_match_names_the_limit_to_relax(silicon, germanium):
    with pytest.raises(ValueError, match='raise max_length_strain'):
        generate(
            silicon, germanium, GenerationParameters(plane_pairs=(((0, 0, 1), (0, 0, 1)),), max_length_strain=0.01)
        )


def test_slab_with_vacuum_is_not_a_bulk(silicon):
    slab = silicon.copy()
    slab.make_supercell([1, 1, 2])
    slab = Structure(
        Lattice.from_parameters(A_SI, A_SI, 4 * A_SI, 90, 90, 90),
        slab.species,
        slab.cart_coords,
        coords_are_cartesian=True,
    )
    with pytest.raises(ValueError, match='empty region'):
        check_bulk(slab, 'lower')
    check_bulk(silicon, 'lower')
