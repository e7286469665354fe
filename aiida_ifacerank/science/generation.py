"""Interface candidates from two bulk crystals: lattice matching (pymatgen ZSL), deduplication,
terminations and stacking shifts. Pure pymatgen/numpy, no AiiDA.

Lengths in Å, areas in Å², strains as fractions (0.02 = 2 %). ``lower`` is the substrate (bottom
slab, its in-plane lattice is kept), ``upper`` the film strained onto it.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from ase.data import atomic_numbers, covalent_radii
from pymatgen.analysis.interfaces import CoherentInterfaceBuilder, ZSLGenerator
from pymatgen.analysis.interfaces.coherent_interfaces import get_2d_transform
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure
from pymatgen.core.surface import get_symmetrically_distinct_miller_indices
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer
from sympy import Matrix
from sympy.matrices.normalforms import hermite_normal_form

from .lattice import match_strain, miller_text

MODELS = ('periodic', 'slab')
MATCHER_SETTINGS = {'ltol': 0.05, 'stol': 0.05, 'angle_tol': 1.0, 'primitive_cell': False, 'scale': False}
"""StructureMatcher settings for symmetry equivalence of candidates: tight, so that distinct stacking
shifts (a fraction of an Å apart) stay distinct; site tolerance 0.05 (V/N)^(1/3) ≈ 0.14 Å for Si."""


@dataclass(frozen=True)
class GenerationParameters:
    """Limits and choices of a generation run (see ``docs/generation.md``)."""

    max_miller: tuple[int, int] = (1, 1)
    """Largest Miller index searched for (lower, upper); ignored when ``plane_pairs`` is given."""
    plane_pairs: tuple = ()
    """Explicit ((h, k, l) lower, (h, k, l) upper) pairs to match instead of all planes."""
    max_area: float = 100.0
    """Largest interface supercell area (Å²)."""
    max_length_strain: float = 0.05
    """Largest relative mismatch of superlattice vector lengths."""
    max_angle_strain: float = 0.01
    """Largest relative mismatch of the angle between superlattice vectors."""
    max_von_mises_strain: float = 0.05
    """Largest von Mises strain of the upper slab."""
    max_atoms: int = 200
    """Largest number of atoms in a candidate."""
    thickness: tuple[float, float] = (2, 2)
    """Thickness of (lower, upper) slab, in layers (``thickness_in_layers``) or Å."""
    thickness_in_layers: bool = True
    model: str = 'periodic'
    """``periodic``: cell with two interfaces, no vacuum; ``slab``: one interface and vacuum."""
    gap: float = 2.0
    """Distance (Å) between the facing atomic planes of the two slabs."""
    gaps: tuple = ()
    """Extra interlayer distances (Å) to sample besides ``gap``."""
    vacuum: float = 15.0
    """Vacuum above the upper slab (Å), ``slab`` model only."""
    shift_grid: tuple[int, int] = (3, 3)
    """Stacking shifts sampled per direction of the cell of non-identical displacements."""
    min_distance_factor: float = 0.7
    """Candidates with two atoms closer than this × the sum of their covalent radii are dropped."""
    symprec: float = 0.1
    """Symmetry tolerance (Å) for point groups and structure equivalence."""

    def __post_init__(self):
        problems = []
        if len(self.max_miller) != 2 or any(int(m) < 1 for m in self.max_miller):
            problems.append(f'max_miller must be two integers >= 1 (lower, upper), got {self.max_miller}')
        for pair in self.plane_pairs:
            if len(pair) != 2 or any(len(plane) != 3 for plane in pair):
                problems.append(f'plane pair {pair} must be ((h, k, l), (h, k, l))')
            elif any(all(int(i) == 0 for i in plane) for plane in pair):
                problems.append(f'plane pair {pair} has the Miller index (0, 0, 0), which is no plane')
        for name in ('max_area', 'max_length_strain', 'max_angle_strain', 'max_von_mises_strain', 'gap', 'symprec'):
            if not getattr(self, name) > 0:
                problems.append(f'{name} must be > 0, got {getattr(self, name)}')
        if self.max_atoms < 2:
            problems.append(f'max_atoms must be >= 2, got {self.max_atoms}')
        if len(self.thickness) != 2 or any(not t > 0 for t in self.thickness):
            problems.append(f'thickness must be two values > 0 (lower, upper), got {self.thickness}')
        if self.model not in MODELS:
            problems.append(f'model must be one of {MODELS}, got {self.model!r}')
        if self.model == 'slab' and not self.vacuum > 0:
            problems.append(f'vacuum must be > 0 Å for the slab model, got {self.vacuum}')
        if any(not g > 0 for g in self.gaps):
            problems.append(f'every extra gap must be > 0 Å, got {self.gaps}')
        if len(self.shift_grid) != 2 or any(int(n) < 1 for n in self.shift_grid):
            problems.append(f'shift_grid must be two integers >= 1, got {self.shift_grid}')
        if not 0 < self.min_distance_factor < 2:
            problems.append(f'min_distance_factor must be in (0, 2), got {self.min_distance_factor}')
        if problems:
            raise ValueError('invalid generation parameters: ' + '; '.join(problems) + '.')


@dataclass
class Candidate:
    """One interface structure and where it came from."""

    structure: Structure
    metadata: dict


@dataclass
class GenerationResult:
    """Candidates plus the counts of every stage and the reasons configurations were dropped."""

    candidates: list[Candidate]
    matches: list[dict]
    counts: dict = field(default_factory=dict)
    dropped: list[dict] = field(default_factory=list)


def check_bulk(structure: Structure, name: str, max_vacuum: float = 5.0) -> None:
    """Raise ``ValueError`` unless ``structure`` is a 3D-periodic bulk crystal without a vacuum gap (Å)."""
    if len(structure) == 0:
        raise ValueError(f'{name} bulk structure has no atoms.')
    if hasattr(structure.lattice, 'pbc') and not all(structure.lattice.pbc):
        raise ValueError(
            f'{name} bulk structure is not periodic in all three directions (pbc {structure.lattice.pbc}).'
        )
    for axis in range(3):
        spacing = structure.lattice.volume / np.linalg.norm(
            np.cross(*np.delete(structure.lattice.matrix, axis, axis=0))
        )
        fractions = np.sort(np.mod(structure.frac_coords[:, axis], 1.0))
        gaps = np.diff(np.r_[fractions, fractions[0] + 1.0]) * spacing
        if gaps.max() > max_vacuum:
            raise ValueError(
                f'{name} bulk structure has an empty region of {gaps.max():.1f} Å along lattice vector {axis + 1}: '
                'give the bulk crystal, not a slab with vacuum.'
            )


def _rounded(structure: Structure, decimals: int = 8) -> Structure:
    """Copy with fractional coordinates rounded and wrapped: float noise (0.49999999999999994 for 1/2,
    as after a round trip through a database) makes pymatgen's slab primitive reduction miss cells."""
    frac_coords = np.mod(np.round(structure.frac_coords, decimals), 1.0)
    return Structure(structure.lattice, structure.species, np.round(frac_coords, decimals))


def _plane_frame(vectors: np.ndarray) -> np.ndarray:
    """Orthonormal in-plane basis (3×2) of the plane spanned by two vectors (rows)."""
    normal = np.cross(vectors[0], vectors[1])
    e1 = vectors[0] / np.linalg.norm(vectors[0])
    e2 = np.cross(normal / np.linalg.norm(normal), e1)
    return np.column_stack([e1, e2])


def _plane_point_group(structure: Structure, frame: np.ndarray, symprec: float) -> list[np.ndarray]:
    """2×2 in-plane parts of the crystal's point operations that keep the plane normal fixed."""
    normal = np.cross(frame[:, 0], frame[:, 1])
    operations = SpacegroupAnalyzer(structure, symprec=symprec).get_point_group_operations(cartesian=True)
    group = [
        frame.T @ op.rotation_matrix @ frame
        for op in operations
        if np.allclose(op.rotation_matrix @ normal, normal, atol=1e-6)
    ]
    return group or [np.eye(2)]


def canonical_miller(structure: Structure, miller, symprec: float = 0.1) -> tuple[int, int, int]:
    """Representative of ``miller``'s family under the crystal's point group: (0, 0, 1) rather than (1, 0, 0)."""
    operations = SpacegroupAnalyzer(structure, symprec=symprec).get_point_group_operations(cartesian=False)
    family = set()
    for op in operations:
        # Miller indices transform with the inverse transpose of the fractional rotation
        rotated = np.rint(np.linalg.inv(op.rotation_matrix).T @ np.asarray(miller, dtype=float)).astype(int)
        family.add(tuple(int(i) for i in rotated))
    return max(family, key=lambda indices: (indices[::-1], indices))


def _orientation(match, frame_upper: np.ndarray, frame_lower: np.ndarray) -> np.ndarray:
    """2×2 map M from the upper plane to the lower plane (2D frames): M @ f = s for matched vectors."""
    film = np.asarray(match.film_sl_vectors) @ frame_upper
    substrate = np.asarray(match.substrate_sl_vectors) @ frame_lower
    return np.linalg.solve(film, substrate).T


def unique_matches(matches, group_upper, group_lower, tol: float = 1e-3) -> list[tuple[object, int]]:
    """Collapse matches of one plane pair that share their orientation relationship.

    Two matches are equivalent when their upper→lower maps M agree up to in-plane point operations
    of both crystals (M' = g_lower M g_upper⁻¹); supercell choice does not change M. The
    representative is the smallest area, then the lowest von Mises strain. Returns (match, count).
    """
    ordered = sorted(matches, key=lambda m: (round(m['area_ang2'], 6), m['von_mises_strain']))
    representatives: list[list] = []
    for match in ordered:
        for representative in representatives:
            if any(
                np.allclose(match['M'], g_lower @ representative[0]['M'] @ np.linalg.inv(g_upper), atol=tol)
                for g_lower in group_lower
                for g_upper in group_upper
            ):
                representative[1] += 1
                break
        else:
            representatives.append([match, 1])
    return [(match, count) for match, count in representatives]


def cnid_shifts(generators, grid: tuple[int, int]) -> list[tuple[float, float]]:
    """Fractional in-plane shifts on a ``grid`` over the cell of non-identical displacements (CNID).

    ``generators``: in-plane primitive vectors of both slabs in fractions of the interface
    supercell's a and b (rows). Shifting the upper slab by any of them gives an equivalent stacking,
    so the CNID is the unit cell of the lattice they generate. Returns (s_a, s_b) shifts in fractions
    of a and b, in [0, 1), zero shift excluded.
    """
    rational = [[Fraction(float(x)).limit_denominator(96) for x in vector] for vector in generators]
    denominator = math.lcm(*(x.denominator for vector in rational for x in vector))
    integer = np.array([[int(x * denominator) for x in vector] for vector in rational], dtype=np.int64)
    lattice = np.vstack([integer, denominator * np.eye(2, dtype=np.int64)])  # supercell vectors generate too
    basis = np.array(hermite_normal_form(Matrix(lattice.T)).T, dtype=float) / denominator
    shifts = []
    for i, j in itertools.product(range(grid[0]), range(grid[1])):
        if (i, j) == (0, 0):
            continue
        fractional = np.mod(np.round(i / grid[0] * basis[0] + j / grid[1] * basis[1], 10), 1.0)
        shifts.append((float(fractional[0]), float(fractional[1])))
    return shifts


def min_distance_violation(structure: Structure, factor: float) -> str | None:
    """Reason string if two atoms are closer than ``factor`` × (sum of covalent radii), else ``None``."""
    radii = np.array([covalent_radii[atomic_numbers[site.specie.symbol]] for site in structure])
    distances = structure.distance_matrix
    np.fill_diagonal(distances, np.inf)
    ratio = distances / (radii[:, None] + radii[None, :])
    i, j = np.unravel_index(np.argmin(ratio), ratio.shape)
    if ratio[i, j] < factor:
        return (
            f'{structure[i].specie}-{structure[j].specie} atoms {distances[i, j]:.2f} Å apart, below '
            f'{factor:g} × {radii[i] + radii[j]:.2f} Å (sum of covalent radii)'
        )
    return None


def generate(lower: Structure, upper: Structure, parameters: GenerationParameters) -> GenerationResult:
    """All unique interface candidates of ``upper`` on ``lower`` within ``parameters``' limits."""
    check_bulk(lower, 'lower')
    check_bulk(upper, 'upper')
    lower, upper = _rounded(lower), _rounded(upper)
    p = parameters
    if p.plane_pairs:
        pairs = [(tuple(map(int, lo)), tuple(map(int, up))) for lo, up in p.plane_pairs]
    else:
        pairs = list(
            itertools.product(
                [
                    canonical_miller(lower, m, p.symprec)
                    for m in get_symmetrically_distinct_miller_indices(lower, p.max_miller[0])
                ],
                [
                    canonical_miller(upper, m, p.symprec)
                    for m in get_symmetrically_distinct_miller_indices(upper, p.max_miller[1])
                ],
            )
        )
    # equivalent plane pairs (by the point groups of both crystals) are matched once
    canonical: dict[tuple, list] = {}
    for lo, up in pairs:
        key = (canonical_miller(lower, lo, p.symprec), canonical_miller(upper, up, p.symprec))
        canonical.setdefault(key, [(lo, up), 0])[1] += 1

    zsl = ZSLGenerator(max_area=p.max_area, max_length_tol=p.max_length_strain, max_angle_tol=p.max_angle_strain)
    counts = {'plane_pairs': len(pairs), 'unique_plane_pairs': len(canonical), 'raw_matches': 0}
    counts.update(unique_matches=0, raw_terminations=0, unique_terminations=0, shifts_sampled=0, candidates=0)
    candidates, matches, dropped = [], [], []
    matcher = StructureMatcher(**MATCHER_SETTINGS)
    closest = math.inf

    for (miller_lower, miller_upper), plane_multiplicity in canonical.values():
        builder = CoherentInterfaceBuilder(
            substrate_structure=lower,
            film_structure=upper,
            film_miller=miller_upper,
            substrate_miller=miller_lower,
            zslgen=zsl,
            label_index=True,
            filter_out_sym_slabs=False,
        )
        raw = []
        for match in builder.zsl_matches:
            strain = match_strain(match.film_sl_vectors, match.substrate_sl_vectors)
            closest = min(closest, strain['von_mises_strain'])
            if strain['von_mises_strain'] > p.max_von_mises_strain:
                continue
            raw.append({'match': match, **strain})
        counts['raw_matches'] += len(raw) * plane_multiplicity
        if not raw:
            continue
        frame_upper = _plane_frame(np.asarray(raw[0]['match'].film_vectors))
        frame_lower = _plane_frame(np.asarray(raw[0]['match'].substrate_vectors))
        for entry in raw:
            entry['M'] = _orientation(entry['match'], frame_upper, frame_lower)
        group_upper = _plane_point_group(upper, frame_upper, p.symprec)
        group_lower = _plane_point_group(lower, frame_lower, p.symprec)

        for entry, multiplicity in unique_matches(raw, group_upper, group_lower):
            match_id = f'{miller_text(miller_lower)}|{miller_text(miller_upper)}#{len(matches)}'
            info = {
                'backend': 'pymatgen',
                'match_id': match_id,
                'raw_matches': multiplicity * plane_multiplicity,
                'miller_lower': miller_text(miller_lower),
                'miller_upper': miller_text(miller_upper),
                **{key: value for key, value in entry.items() if key not in ('match', 'M')},
            }
            matches.append(info)
            counts['unique_matches'] += 1
            candidates_of_match = _candidates_of_match(builder, entry['match'], info, p, matcher, counts, dropped)
            candidates.extend(candidates_of_match)

    if not matches:
        raise ValueError(
            f'no lattice match within the limits (max_area {p.max_area} Å², max_length_strain {p.max_length_strain}, '
            f'max_angle_strain {p.max_angle_strain}, max_von_mises_strain {p.max_von_mises_strain}); the closest '
            f'match found has von Mises strain {closest:.4f}: raise max_length_strain (or max_von_mises_strain) '
            'first, then max_area.'
            if math.isfinite(closest)
            else f'no lattice match within max_area {p.max_area} Å² and max_length_strain {p.max_length_strain} '
            f'(max_angle_strain {p.max_angle_strain}): raise max_length_strain or max_area, or add Miller planes.'
        )
    counts['candidates'] = len(candidates)
    return GenerationResult(candidates=candidates, matches=matches, counts=counts, dropped=dropped)


def _candidates_of_match(builder, match, info, p, matcher, counts, dropped) -> list[Candidate]:
    """Terminations (deduplicated on the bicrystal), then stacking shifts and gaps of one match."""
    builder.zsl_matches = [match]  # get_interfaces builds every stored match; we want this one
    vacuum = p.vacuum if p.model == 'slab' else p.gap
    references = []  # (termination, structure at zero shift) of unique termination pairs
    for termination in builder.terminations:
        counts['raw_terminations'] += 1
        interface = next(
            builder.get_interfaces(
                termination,
                gap=p.gap,
                vacuum_over_film=vacuum,
                film_thickness=p.thickness[1],
                substrate_thickness=p.thickness[0],
                in_layers=p.thickness_in_layers,
            )
        )
        entry = (_fingerprint(interface), interface)
        if any(_equivalent(matcher, entry, other) for _, other in references):
            continue
        references.append((termination, entry))
    counts['unique_terminations'] += len(references)

    candidates: list[Candidate] = []
    accepted: list[tuple] = []  # (fingerprint, structure)
    shifts = cnid_shifts(_primitive_fractions(match), p.shift_grid)
    for termination_index, (termination, (_, interface)) in enumerate(references):
        for gap in (p.gap, *p.gaps):
            for shift in shifts:
                counts['shifts_sampled'] += 1
                structure = interface.copy()
                structure.gap = gap
                if p.model == 'periodic':
                    structure.vacuum_over_film = gap
                structure.in_plane_offset = shift
                meta = dict(info, termination=list(termination), termination_index=termination_index)
                meta.update(shift=list(shift), gap_ang=gap, model=p.model, atoms=len(structure))
                reason = None
                if len(structure) > p.max_atoms:
                    reason = f'{len(structure)} atoms > max_atoms {p.max_atoms}'
                else:
                    reason = min_distance_violation(structure, p.min_distance_factor)
                entry = None
                if reason is None:
                    entry = (_fingerprint(structure), structure)
                    if any(_equivalent(matcher, entry, other) for other in accepted):
                        reason = 'symmetry-equivalent to an earlier candidate'
                if reason is not None:
                    dropped.append(
                        {'match_id': info['match_id'], 'shift': list(shift), 'gap_ang': gap, 'reason': reason}
                    )
                    continue
                accepted.append(entry)
                candidates.append(Candidate(Structure.from_sites(structure), meta))
    return candidates


def _fingerprint(structure: Structure) -> np.ndarray:
    """Sorted interatomic distances (Å, periodic): equal for symmetry-equivalent structures."""
    return np.sort(structure.distance_matrix.ravel())


def _equivalent(matcher: StructureMatcher, one: tuple, other: tuple, tolerance: float = 0.3) -> bool:
    """StructureMatcher equivalence of two (fingerprint, structure) pairs, tried only when the
    fingerprints agree within ``tolerance`` (Å), a necessary condition that is cheap to test."""
    if one[0].shape != other[0].shape or np.abs(one[0] - other[0]).max() > tolerance:
        return False
    return matcher.fit(one[1], other[1])


def _primitive_fractions(match) -> np.ndarray:
    """Primitive in-plane vectors of both slabs in fractions of the supercell (rows, 4×2)."""
    fractions = []
    for primitive, supercell in (
        (match.substrate_vectors, match.substrate_sl_vectors),
        (match.film_vectors, match.film_sl_vectors),
    ):
        transform = get_2d_transform(np.asarray(primitive), np.asarray(supercell))  # supercell = T @ primitive
        fractions.extend(np.linalg.inv(np.rint(transform)))
    return np.array(fractions)
