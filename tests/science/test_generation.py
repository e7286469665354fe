"""Interface generation on Si (a = 5.431 Å) | Ge (a = 5.658 Å): hand-checked matches, gaps, shifts, registries
and filters; the bulk continuation of homointerfaces."""

import numpy as np
import pytest
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from aiida_ifacerank.science.energetics import formation_energy
from aiida_ifacerank.science.generation import (
    MATCHER_SETTINGS,
    GenerationParameters,
    check_bulk,
    cnid_shifts,
    generate,
    interface_registry,
    min_distance_violation,
    tilt_cell,
)
from aiida_ifacerank.science.lattice import interface_area
from aiida_ifacerank.science.layers import slab_heights

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
    # Both in-plane lattices are the same square primitive cell: the CNID is the whole cell, and the
    # default 6x6 grid gives 36 shifts (zero included) per unique termination pair.
    assert counts['shifts_sampled'] == 36 * counts['unique_terminations']
    assert counts['candidates'] == len(si_ge_001.candidates) > 0
    assert counts['shifts_sampled'] == counts['candidates'] + len(si_ge_001.dropped)
    matcher = StructureMatcher(**MATCHER_SETTINGS)
    structures = [candidate.structure for candidate in si_ge_001.candidates]
    for i, structure in enumerate(structures):
        assert candidate_ok(structure)
        assert not any(matcher.fit(structure, other) for other in structures[:i])
    bulk_gap = (A_SI / 4 + A_GE / 4) / 2  # (001) layer spacings a/4 of both crystals
    for candidate in si_ge_001.candidates:
        metadata = candidate.metadata
        assert metadata['atoms'] == len(candidate.structure)
        assert metadata['atoms_lower'] == sum(site.specie.symbol == 'Si' for site in candidate.structure)
        assert metadata['gap_ang'] == pytest.approx(bulk_gap)
        assert [interface['gap_ang'] for interface in metadata['interfaces']] == pytest.approx([bulk_gap] * 2)
        assert metadata['interfaces'][0]['displacement'] == pytest.approx(metadata['shift'])
        assert sorted({site.specie.symbol for site in candidate.structure}) == ['Ge', 'Si']
    # the zero shift (on-top registry, atoms 1.39 Å apart) is sampled and dropped by the close-contact filter
    zero = [entry for entry in si_ge_001.dropped if entry['shift'] == [0.0, 0.0]]
    assert len(zero) == counts['unique_terminations']
    assert all('covalent radii' in entry['reason'] for entry in zero)


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


def test_111_gaps_are_bulk_spacings_of_the_terminations(silicon, germanium):
    result = generate(silicon, germanium, GenerationParameters(plane_pairs=(((1, 1, 1), (1, 1, 1)),), max_area=30))
    # (111) planes of diamond alternate a√3/12 (within a bilayer) and a√3/4 (between bilayers) apart
    spacings = [(a * 3**0.5 / 12, a * 3**0.5 / 4) for a in (A_SI, A_GE)]
    allowed = [(lower + upper) / 2 for lower in spacings[0] for upper in spacings[1]]
    gaps = {round(candidate.metadata['gap_ang'], 6) for candidate in result.candidates}
    assert len(gaps) > 1
    assert all(min(abs(gap - value) for value in allowed) < 1e-6 for gap in gaps)


def test_lower_slab_atoms_come_first_whatever_the_elements(silicon, germanium):
    # pymatgen's Interface sorts sites by electronegativity (Si before Ge): Ge on the bottom must still lead
    result = generate(germanium, silicon, GenerationParameters(plane_pairs=(((0, 0, 1), (0, 0, 1)),), max_area=20))
    for candidate in result.candidates:
        symbols = [site.specie.symbol for site in candidate.structure]
        lower = candidate.metadata['atoms_lower']
        assert set(symbols[:lower]) == {'Ge'} and set(symbols[lower:]) == {'Si'}
        heights = slab_heights(candidate.structure.lattice.matrix, candidate.structure.cart_coords, lower)
        assert heights[lower:].min() - heights[:lower].max() == pytest.approx((A_SI + A_GE) / 8)


def test_grid_of_one_is_the_zero_shift_and_it_can_be_excluded(silicon, germanium):
    pair = (((0, 0, 1), (0, 0, 1)),)
    one = generate(silicon, germanium, GenerationParameters(plane_pairs=pair, max_area=20, shift_grid=(1, 1), gap=2.0))
    assert one.counts['shifts_sampled'] == one.counts['unique_terminations'] == len(one.candidates)
    assert all(candidate.metadata['shift'] == [0.0, 0.0] for candidate in one.candidates)
    without = generate(silicon, germanium, GenerationParameters(plane_pairs=pair, max_area=20, exclude_zero_shift=True))
    assert without.counts['shifts_sampled'] == 35 * without.counts['unique_terminations']
    assert [0.0, 0.0] not in [c.metadata['shift'] for c in without.candidates] + [d['shift'] for d in without.dropped]


@pytest.fixture(scope='module')
def tersoff():
    from tests.models import tersoff_sige  # noqa: PLC0415 - matscipy only where used

    return tersoff_sige()


def energy(structure, calculator):
    """Tersoff energy (eV) of a pymatgen structure."""
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = calculator
    return atoms.get_potential_energy()


@pytest.mark.parametrize('element', ['Si', 'Ge'])
@pytest.mark.parametrize('miller', [(0, 0, 1), (1, 1, 0), (1, 1, 1)])
def test_bulk_continuation_is_a_candidate_with_zero_formation_energy(element, miller, tersoff):
    bulk = Structure.from_spacegroup('Fd-3m', Lattice.cubic({'Si': A_SI, 'Ge': A_GE}[element]), [element], [[0, 0, 0]])
    result = generate(bulk, bulk, GenerationParameters(plane_pairs=((miller, miller),), max_area=45))
    matcher = StructureMatcher()  # reduces both to primitive cells: a bulk supercell matches the bulk
    continuations = [candidate for candidate in result.candidates if matcher.fit(candidate.structure, bulk)]
    assert continuations
    mu = energy(bulk, tersoff) / len(bulk)
    for candidate in continuations:
        assert candidate.metadata['interfaces_equivalent']
        area = interface_area(candidate.structure.lattice.matrix)
        counts = {element: len(candidate.structure)}
        assert formation_energy(energy(candidate.structure, tersoff), counts, {element: mu}, area) == pytest.approx(
            0, abs=1e-6
        )
    assert all(candidate_ok(candidate.structure) for candidate in result.candidates)


def test_registry_of_a_hand_built_cell():
    # lower slab: Si at (0, 0, 0) and (0, 0, 2); upper slab: Ge at (1.5, 0, 4.5) and (1.5, 0, 6.5); square
    # cell a = 3 Å, c = 9 Å normal: both gaps 2.5 Å, the upper slab half a cell along a from on-top at
    # the first interface, the lower slab's image (0, 0, 9) half a cell from the upper top (1.5, 0, 6.5)
    cell = Lattice([[3, 0, 0], [0, 3, 0], [0, 0, 9]])
    coords = [[0, 0, 0], [0, 0, 2], [1.5, 0, 4.5], [1.5, 0, 6.5]]
    structure = Structure(cell, ['Si', 'Si', 'Ge', 'Ge'], coords, coords_are_cartesian=True)
    record = interface_registry(structure, 2, 'periodic', cutoff=3.0)
    bridge = {
        'displacement': [0.5, 0.0],
        'gap_ang': pytest.approx(2.5),
        'min_distance_ang': pytest.approx((1.5**2 + 2.5**2) ** 0.5),
        'neighbours': 2,  # the two images at ±1.5 Å along a
    }
    assert record['interfaces'] == [bridge, bridge]
    assert record['interfaces_equivalent']  # mirror images of each other
    # c tilted by a/2: the image (1.5, 0, 9) is on top of (1.5, 0, 6.5), one neighbour at 2.5 Å
    tilted = tilt_cell(structure, (0.5, 0.0))
    record = interface_registry(tilted, 2, 'tilted', cutoff=3.0)
    on_top = {'displacement': [0.0, 0.0], 'gap_ang': pytest.approx(2.5), 'min_distance_ang': pytest.approx(2.5)}
    assert record['interfaces'] == [bridge, {**on_top, 'neighbours': 1}]
    assert not record['interfaces_equivalent']
    # the same cell wrapped into [0, 1) and moved gives the same record
    moved = structure.copy()
    moved.translate_sites(range(4), [0.3, 0.2, 0.6], to_unit_cell=True)
    assert interface_registry(moved, 2, 'periodic', cutoff=3.0)['interfaces'] == [bridge, bridge]
    assert interface_registry(structure, 2, 'slab', cutoff=3.0)['interfaces_equivalent'] is None


def test_cnid_of_a_root2_supercell_by_hand():
    # supercell a' = a + b, b' = -a + b of a square lattice: primitive vectors are (1/2, 1/2) and
    # (-1/2, 1/2) in supercell fractions, the CNID has half the supercell area
    primitive = np.array([[0.5, 0.5], [-0.5, 0.5]])
    shifts = np.array(cnid_shifts(primitive, (2, 2)))

    def equivalent(u, v):  # u - v is a primitive lattice vector
        coefficients = np.linalg.solve(primitive.T, np.subtract(u, v))
        return np.allclose(coefficients, np.round(coefficients))

    assert len(shifts) == 4  # a 2x2 grid on a cell of half the supercell area, zero first
    assert equivalent(shifts[0], (0, 0))
    assert not any(equivalent(shifts[i], shifts[j]) for i in range(4) for j in range(i))
    # the others are the half-cell points (1/4, 1/4), (0, 1/2), (1/4, 3/4) up to lattice vectors
    for expected in [(0.25, 0.25), (0.0, 0.5), (0.25, 0.75)]:
        assert sum(equivalent(shift, expected) for shift in shifts) == 1
    assert cnid_shifts([[1, 0], [0, 1]], (1, 1)) == [(0.0, 0.0)]
    assert len(cnid_shifts([[1, 0], [0, 1]], (3, 3))) == 9
    assert (0.0, 0.0) not in cnid_shifts([[1, 0], [0, 1]], (3, 3), exclude_zero=True)


@pytest.mark.parametrize(
    ('parameters', 'message'),
    [
        ({'max_area': 0}, 'max_area must be > 0'),
        ({'max_length_strain': -0.1}, 'max_length_strain must be > 0'),
        ({'plane_pairs': (((0, 0, 0), (0, 0, 1)),)}, r'Miller index \(0, 0, 0\)'),
        ({'max_miller': (0, 1)}, 'max_miller'),
        ({'model': 'wire'}, 'model must be one of'),
        ({'shift_grid': (0, 3)}, 'shift_grid'),
        ({'gap': 0}, 'gap must be > 0'),
        ({'registry_cutoff': -1}, 'registry_cutoff'),
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
