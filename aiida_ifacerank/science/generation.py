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
from pymatgen.core import Lattice, Structure
from pymatgen.core.surface import get_symmetrically_distinct_miller_indices
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer
from sympy import Matrix
from sympy.matrices.normalforms import hermite_normal_form

from .lattice import interface_area, match_strain, miller_text
from .layers import INTERFACE_MODELS, stacked_positions

MATCHER_SETTINGS = {'ltol': 0.05, 'stol': 0.05, 'angle_tol': 1.0, 'primitive_cell': False, 'scale': False}
"""StructureMatcher settings for symmetry equivalence of candidates: tight, so that distinct stacking
shifts (a fraction of an Å apart) stay distinct; site tolerance 0.05 (V/N)^(1/3) ≈ 0.14 Å for Si."""


LIMITS = {'max_miller': 5, 'max_area': 2000.0, 'max_atoms': 5000, 'max_length_strain': 0.5, 'max_von_mises_strain': 0.5}
"""Largest sensible generation limits: above them the number of candidates or their size is absurd (a typo)."""


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
    model: str = 'tilted'
    """``tilted``: two interfaces, no vacuum, c tilted in-plane by the shortest vector that makes the
    second interface equivalent to the first (c normal when none on the shift grid does);
    ``periodic``: the same with c normal; ``slab``: one interface and ``vacuum``."""
    gap: float | None = None
    """Distance (Å) between the facing atomic planes of the two slabs, at every interface; ``None``:
    from the crystals, the mean of the two bulk interplanar spacings beyond the facing planes (per
    termination pair), so that a homointerface in bulk registry is bulk."""
    gaps: tuple = ()
    """Extra interlayer distances (Å) to sample besides ``gap``."""
    vacuum: float = 15.0
    """Vacuum above the upper slab (Å), ``slab`` model only."""
    shift_grid: tuple[int, int] = (6, 6)
    """Stacking shifts sampled per generator of the cell of non-identical displacements (CNID), at
    i/n for i = 0 … n − 1: 6 includes 0, 1/3, 1/2 and 2/3; (1, 1) is the zero shift alone."""
    exclude_zero_shift: bool = False
    """Leave out the zero shift, as the reference study did."""
    registry_cutoff: float = 3.0
    """Cross-interface neighbours are counted within this distance (Å)."""
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
        for name in ('max_area', 'max_length_strain', 'max_angle_strain', 'max_von_mises_strain', 'symprec'):
            if not getattr(self, name) > 0:
                problems.append(f'{name} must be > 0, got {getattr(self, name)}')
        if self.gap is not None and not self.gap > 0:
            problems.append(f'gap must be > 0 Å, or None to take it from the crystals, got {self.gap}')
        if not self.registry_cutoff > 0:
            problems.append(f'registry_cutoff must be > 0 Å, got {self.registry_cutoff}')
        if self.max_atoms < 2:
            problems.append(f'max_atoms must be >= 2, got {self.max_atoms}')
        if len(self.thickness) != 2 or any(not t > 0 for t in self.thickness):
            problems.append(f'thickness must be two values > 0 (lower, upper), got {self.thickness}')
        if self.model not in INTERFACE_MODELS:
            problems.append(f'model must be one of {INTERFACE_MODELS}, got {self.model!r}')
        if self.model == 'slab' and not self.vacuum > 0:
            problems.append(f'vacuum must be > 0 Å for the slab model, got {self.vacuum}')
        if any(not g > 0 for g in self.gaps):
            problems.append(f'every extra gap must be > 0 Å, got {self.gaps}')
        if len(self.shift_grid) != 2 or any(int(n) < 1 for n in self.shift_grid):
            problems.append(f'shift_grid must be two integers >= 1, got {self.shift_grid}')
        for name, limit in LIMITS.items():
            value = getattr(self, name)
            if any(v > limit for v in (value if isinstance(value, tuple) else (value,))):
                problems.append(f'{name} {value} is over the limit {limit} (thousands of candidates or hours of work)')
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


def check_cell(cell, num_atoms: int, name: str) -> None:
    """Raise ``ValueError`` if the cell (rows, Å) has (almost) no volume: linearly dependent vectors."""
    volume = abs(float(np.linalg.det(np.asarray(cell, dtype=float))))
    if not volume > 1e-3 * num_atoms:
        raise ValueError(
            f'{name} bulk structure has a cell of volume {volume:.2g} Å³: its cell vectors are linearly dependent '
            '(zero area or length); fix its file.'
        )


def check_bulk(structure: Structure, name: str, max_vacuum: float = 5.0, min_distance: float = 0.5) -> None:
    """Raise ``ValueError`` unless ``structure`` is a 3D-periodic bulk crystal with finite coordinates, a cell of
    volume, no two atoms closer than ``min_distance`` (Å) and no vacuum gap over ``max_vacuum`` (Å)."""
    if len(structure) == 0:
        raise ValueError(f'{name} bulk structure has no atoms.')
    if hasattr(structure.lattice, 'pbc') and not all(structure.lattice.pbc):
        raise ValueError(
            f'{name} bulk structure is not periodic in all three directions (pbc {structure.lattice.pbc}).'
        )
    if not (np.isfinite(structure.lattice.matrix).all() and np.isfinite(structure.frac_coords).all()):
        raise ValueError(f'{name} bulk structure has NaN or infinite cell vectors or coordinates: fix its file.')
    check_cell(structure.lattice.matrix, len(structure), name)
    close = [(i, j) for i, neighbours in enumerate(structure.get_all_neighbors(min_distance)) for j in neighbours]
    if close:
        first, neighbour = close[0]
        raise ValueError(
            f'{name} bulk structure has atoms closer than {min_distance} Å (site {first} and site '
            f'{neighbour.index} at {neighbour.nn_distance:.3f} Å): overlapping atoms; fix its file.'
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


def cnid_shifts(generators, grid: tuple[int, int], exclude_zero: bool = False) -> list[tuple[float, float]]:
    """Fractional in-plane shifts on a ``grid`` over the cell of non-identical displacements (CNID).

    ``generators``: in-plane primitive vectors of both slabs in fractions of the interface
    supercell's a and b (rows). Shifting the upper slab by any of them gives an equivalent stacking,
    so the CNID is the unit cell of the lattice they generate. Returns (s_a, s_b) shifts in fractions
    of a and b, in [0, 1), at i/n along each generator of the CNID, the zero shift first (unless
    ``exclude_zero``).
    """
    rational = [[Fraction(float(x)).limit_denominator(96) for x in vector] for vector in generators]
    denominator = math.lcm(*(x.denominator for vector in rational for x in vector))
    integer = np.array([[int(x * denominator) for x in vector] for vector in rational], dtype=np.int64)
    lattice = np.vstack([integer, denominator * np.eye(2, dtype=np.int64)])  # supercell vectors generate too
    basis = np.array(hermite_normal_form(Matrix(lattice.T)).T, dtype=float) / denominator
    shifts = []
    for i, j in itertools.product(range(grid[0]), range(grid[1])):
        if exclude_zero and (i, j) == (0, 0):
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
    densities = (len(lower) / lower.volume, len(upper) / upper.volume)

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
            candidates_of_match = _candidates_of_match(
                builder, entry['match'], info, p, matcher, counts, dropped, densities
            )
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


def _candidates_of_match(builder, match, info, p, matcher, counts, dropped, densities) -> list[Candidate]:
    """Terminations (deduplicated on the bicrystal), then gaps and stacking shifts of one match.

    ``densities``: atoms per Å³ of the lower and the upper bulk crystal.
    """
    builder.zsl_matches = [match]  # get_interfaces builds every stored match; we want this one
    areas = (interface_area(match.substrate_sl_vectors), interface_area(match.film_sl_vectors))
    references = []  # (termination, gap from the crystals, interface, lower atoms, zero shift) of unique ones
    unique = _Distinct(matcher)
    for termination in builder.terminations:
        counts['raw_terminations'] += 1
        interface = next(
            builder.get_interfaces(
                termination,
                film_thickness=p.thickness[1],
                substrate_thickness=p.thickness[0],
                in_layers=p.thickness_in_layers,
            )
        )
        bulk_gap = bulk_gap_of(interface, areas, densities)
        atoms_lower = int(sum(label == 'substrate' for label in interface.site_properties['interface_label']))
        # the zero shift: the first atom of the upper slab's facing plane on top of the lower slab's
        raw = _assemble(interface, p.gap or bulk_gap, (0.0, 0.0), p)
        anchor = -facing_displacements(raw, atoms_lower, p.model)[0]
        structure = _assemble(interface, p.gap or bulk_gap, anchor, p)
        entry = (_fingerprint(structure), structure)
        if unique.holds(entry):
            continue
        unique.add(entry)
        references.append((termination, bulk_gap, interface, atoms_lower, anchor))
    counts['unique_terminations'] += len(references)

    candidates: list[Candidate] = []
    accepted = _Distinct(matcher)
    grid = cnid_shifts(_primitive_fractions(match), p.shift_grid)
    shifts = grid[1:] if p.exclude_zero_shift else grid
    for termination_index, (termination, bulk_gap, interface, atoms_lower, anchor) in enumerate(references):
        for gap in (p.gap or bulk_gap, *p.gaps):
            for shift in shifts:
                counts['shifts_sampled'] += 1
                structure = _assemble(interface, gap, anchor + np.asarray(shift), p)
                equivalent = None  # whether the two interfaces are, where already known
                if p.model == 'tilted':
                    structure, equivalent = _tilted(structure, atoms_lower, grid)
                reason = None
                if len(structure) > p.max_atoms:
                    reason = f'{len(structure)} atoms > max_atoms {p.max_atoms}'
                else:
                    reason = min_distance_violation(structure, p.min_distance_factor)
                entry = None
                if reason is None:
                    entry = (_fingerprint(structure), structure)
                    if accepted.holds(entry):
                        reason = 'symmetry-equivalent to an earlier candidate'
                if reason is not None:
                    dropped.append(
                        {'match_id': info['match_id'], 'shift': list(shift), 'gap_ang': gap, 'reason': reason}
                    )
                    continue
                accepted.add(entry)
                meta = dict(info, termination=list(termination), termination_index=termination_index)
                meta.update(shift=list(shift), gap_ang=gap, model=p.model, atoms=len(structure))
                meta.update(atoms_lower=atoms_lower)
                meta.update(interface_registry(structure, atoms_lower, p.model, p.registry_cutoff, equivalent))
                candidates.append(Candidate(structure, meta))
    return candidates


def bulk_gap_of(interface, areas: tuple[float, float], densities: tuple[float, float]) -> float:
    """Mean of the bulk interplanar spacings (Å) beyond the facing planes of the two slabs of a
    pymatgen ``Interface``.

    A slab cut by pymatgen holds whole periods of its crystal along the normal, so its period is
    T = N / (A ρ) (N atoms, A its unstrained in-plane area in Å², ρ the bulk density in atoms/Å³), and
    the bulk plane beyond its top plane lies T above its bottom plane: the spacing is T minus the
    slab's extent, the same on both faces. ``areas``: unstrained areas of the lower and upper slab.
    """
    lower = np.array([label == 'substrate' for label in interface.site_properties['interface_label']])
    heights = interface.frac_coords[:, 2] * interface.lattice.c  # pymatgen's interface cell has c normal
    spacings = []
    for part, area, density in zip((lower, ~lower), areas, densities, strict=True):
        period = part.sum() / (area * density)
        spacings.append(period - np.ptp(heights[part]))
    if min(spacings) <= 0.01:
        raise ValueError(f'slab spacings {spacings} Å: a slab does not hold whole periods of its crystal.')
    return float(np.mean(spacings))


def _assemble(interface, gap: float, offset, p: GenerationParameters) -> Structure:
    """Candidate cell: the lower slab, ``gap`` (Å), the upper slab moved in-plane by pymatgen's
    ``in_plane_offset`` ``offset`` (fractions of a, b), then ``gap`` to the lower slab's periodic image
    (``periodic``, ``tilted``) or ``vacuum`` (``slab``); c normal. Lower atoms first (pymatgen's
    ``Interface`` sorts its sites by electronegativity)."""
    structure = interface.copy()
    structure.gap = gap
    structure.vacuum_over_film = p.vacuum if p.model == 'slab' else gap
    structure.in_plane_offset = tuple(float(x) for x in offset)
    labels = structure.site_properties['interface_label']
    order = [i for i, label in enumerate(labels) if label == 'substrate']
    order += [i for i, label in enumerate(labels) if label == 'film']
    species = [structure.species[i] for i in order]
    return Structure(structure.lattice, species, structure.cart_coords[order], coords_are_cartesian=True)


def tilt_cell(structure: Structure, tilt) -> Structure:
    """``structure`` with ``tilt`` (fractions of a, b, reduced to the nearest lattice point) added to c,
    Cartesian positions kept: the second interface of a two-interface cell moves by ``tilt``."""
    matrix = _tilted_matrix(structure.lattice.matrix, tilt)
    return Structure(Lattice(matrix), structure.species, structure.cart_coords, coords_are_cartesian=True)


def _tilted_matrix(cell: np.ndarray, tilt) -> np.ndarray:
    """``cell`` (rows a, b, c; Å) with ``tilt`` (fractions of a, b, reduced to the nearest lattice point) added to
    c."""
    matrix = np.array(cell, dtype=float)
    tilt = np.asarray(tilt, dtype=float)
    matrix[2] += (tilt - np.round(tilt)) @ matrix[:2]
    return matrix


def _tilted(structure: Structure, atoms_lower: int, grid) -> tuple[Structure, bool]:
    """``tilted`` model: ``structure`` (c normal) with c tilted by the shortest in-plane vector that puts
    the second interface's displacement on a point of the shift ``grid`` where that interface is
    equivalent to the first (c normal first), and True; ``structure`` unchanged and False when there is none."""
    cell, positions, species = structure.lattice.matrix, structure.cart_coords, structure.species
    second = facing_displacements(structure, atoms_lower, 'periodic')[1]
    lengths = {(0.0, 0.0): 0.0}
    for point in grid:
        tilt = np.asarray(point) - second
        tilt = np.round(tilt - np.round(tilt), 8)
        lengths[tuple(tilt)] = np.linalg.norm(tilt @ cell[:2])
    matcher = StructureMatcher(**MATCHER_SETTINGS)
    for tilt in sorted(lengths, key=lambda t: (round(lengths[t], 6), t)):
        regions, lattice = _interface_regions(_tilted_matrix(cell, tilt), positions, species, atoms_lower)
        if _equivalent(matcher, *(_region_entry(lattice, *region) for region in regions)):
            return tilt_cell(structure, tilt), True
    return structure, False


def interface_registry(
    structure: Structure, atoms_lower: int, model: str, cutoff: float = 3.0, equivalent: bool | None = None
) -> dict:
    """Registry of each interface of a candidate (lower atoms first) and whether the two are equivalent.

    Returns ``interfaces``: per interface (the lower slab's top first, then in two-interface models the
    upper slab's top facing the lower slab's periodic image) the ``displacement``
    (:func:`facing_displacements`), the ``gap_ang`` between the facing atomic planes, the shortest
    cross-interface distance ``min_distance_ang`` and the number of cross-interface atom pairs within
    ``cutoff`` (Å), ``neighbours``; and ``interfaces_equivalent`` (:func:`interfaces_equivalent`,
    or ``equivalent`` where the caller knows it), ``None`` for the slab model.
    """
    cell = structure.lattice.matrix
    normal = _unit_normal(cell)
    records = []
    sides = _interface_sides(cell, structure.cart_coords, structure.species, atoms_lower, model)
    for ((below, _), (above, _)), displacement in zip(
        sides, facing_displacements(structure, atoms_lower, model), strict=True
    ):
        distances = _cross_distances(below, above, cell[:2], cutoff)
        records.append(
            {
                'displacement': displacement.tolist(),
                'gap_ang': float((above @ normal).min() - (below @ normal).max()),
                'min_distance_ang': float(distances.min()),
                'neighbours': int((distances <= cutoff).sum()),
            }
        )
    if model == 'slab':
        equivalent = None
    elif equivalent is None:
        equivalent = interfaces_equivalent(structure, atoms_lower)
    return {'interfaces': records, 'interfaces_equivalent': equivalent}


FACING_PLANE_TOLERANCE = 0.05
"""Atoms within this distance (Å) of a slab's outermost atom along the normal form its facing plane."""


def facing_displacements(structure: Structure, atoms_lower: int, model: str) -> list[np.ndarray]:
    """In-plane displacement, per interface, of the first atom (lowest index) of the facing plane above
    from the first atom of the facing plane below, in fractions of a and b in [0, 1): zero is on-top
    registry. The first interface is the lower slab's top; the second (two-interface models) the upper
    slab's top under the lower slab's image one c above, so that c's in-plane part enters."""
    cell = structure.lattice.matrix
    normal = _unit_normal(cell)
    displacements = []
    for (below, _), (above, _) in _interface_sides(cell, structure.cart_coords, structure.species, atoms_lower, model):
        heights_below, heights_above = below @ normal, above @ normal
        first_below = below[np.flatnonzero(heights_below >= heights_below.max() - FACING_PLANE_TOLERANCE)[0]]
        first_above = above[np.flatnonzero(heights_above <= heights_above.min() + FACING_PLANE_TOLERANCE)[0]]
        fractions = np.linalg.lstsq(cell[:2].T, first_above - first_below, rcond=None)[0]
        displacements.append(np.round(np.mod(np.round(fractions, 8), 1.0), 8))
    return displacements


def interfaces_equivalent(structure: Structure, atoms_lower: int) -> bool:
    """Whether the two interfaces of a two-interface cell are equivalent: ``StructureMatcher`` on the two
    interface regions (:func:`_interface_regions`; proper and improper operations allowed)."""
    cell, positions, species = structure.lattice.matrix, structure.cart_coords, structure.species
    regions, lattice = _interface_regions(cell, positions, species, atoms_lower)
    one, two = (_region_entry(lattice, *region) for region in regions)
    return _equivalent(StructureMatcher(**MATCHER_SETTINGS), one, two)


def _interface_regions(cell: np.ndarray, positions: np.ndarray, species: list, atoms_lower: int) -> tuple:
    """The atoms within :data:`REGION_DEPTH` of the facing planes of each interface of a two-interface cell,
    [(Cartesian positions, species), ...], and the lattice of a region: a, b and vacuum along the normal."""
    normal = _unit_normal(cell)
    regions = []
    for (below, below_species), (above, above_species) in _interface_sides(
        cell, positions, species, atoms_lower, 'periodic'
    ):
        keep_below = below @ normal >= (below @ normal).max() - REGION_DEPTH
        keep_above = above @ normal <= (above @ normal).min() + REGION_DEPTH
        coords = np.vstack([below[keep_below], above[keep_above]])
        names = [n for n, k in zip(below_species, keep_below, strict=True) if k] + [
            n for n, k in zip(above_species, keep_above, strict=True) if k
        ]
        regions.append((coords, names))
    depth = max(np.ptp(coords @ normal) for coords, _ in regions) + 10.0
    return regions, Lattice(np.vstack([cell[:2], depth * normal]))


def _region_entry(lattice: Lattice, coords: np.ndarray, names: list) -> tuple:
    """(fingerprint, structure) of an interface region (:func:`_interface_regions`)."""
    region = Structure(lattice, names, coords, coords_are_cartesian=True)
    return _fingerprint(region), region


def _unit_normal(cell: np.ndarray) -> np.ndarray:
    normal = np.cross(cell[0], cell[1])
    return normal / np.linalg.norm(normal)


def _interface_sides(cell: np.ndarray, positions: np.ndarray, species: list, atoms_lower: int, model: str) -> list:
    """((positions, species) below, (positions, species) above) of each interface of a cell (rows a, b, c; Å)
    with its Cartesian positions (Å) and species, lower atoms first; stacked: the lower slab's top and the
    upper slab; then (two-interface models) the upper slab's top and the lower slab's image one c above."""
    positions = stacked_positions(cell, positions, atoms_lower)
    species = list(species)
    lower = (positions[:atoms_lower], species[:atoms_lower])
    upper = (positions[atoms_lower:], species[atoms_lower:])
    sides = [(lower, upper)]
    if model != 'slab':
        sides.append((upper, (lower[0] + cell[2], lower[1])))
    return sides


REGION_DEPTH = 3.0
"""Depth (Å) on each side of an interface of the region compared for equivalence."""


def _cross_distances(below: np.ndarray, above: np.ndarray, plane: np.ndarray, cutoff: float) -> np.ndarray:
    """Distances (Å) of all pairs (atom below, periodic in-plane image of an atom above) out to ``cutoff``
    and at least the nearest in-plane images."""
    widths = np.linalg.norm(np.cross(plane[0], plane[1])) / np.linalg.norm(plane[::-1], axis=1)
    ranges = [np.arange(-n, n + 1) for n in np.ceil(cutoff / widths).astype(int) + 1]
    translations = np.array([i * plane[0] + j * plane[1] for i in ranges[0] for j in ranges[1]])
    images = (above[None, :, :] + translations[:, None, :]).reshape(-1, 3)
    return np.linalg.norm(below[:, None, :] - images[None, :, :], axis=-1).ravel()


def _fingerprint(structure: Structure) -> np.ndarray:
    """Sorted interatomic distances (Å, periodic): equal for symmetry-equivalent structures."""
    return np.sort(structure.distance_matrix.ravel())


FINGERPRINT_TOLERANCE = 0.01
"""Largest difference (Å) of two sorted distance lists (:func:`_fingerprint`) of equivalent structures: the
generated cells are exact, so equivalent ones differ by float noise only."""


class _Distinct:
    """Structures found distinct so far, (fingerprint, structure) pairs, and the test whether another one is
    equivalent to one of them: all fingerprints at once (numpy), then ``StructureMatcher`` on those that agree."""

    def __init__(self, matcher: StructureMatcher):
        self.matcher = matcher
        self.kept: dict[int, tuple[np.ndarray, list]] = {}  # fingerprint length: (fingerprints, structures)

    def holds(self, entry: tuple) -> bool:
        """Whether ``entry`` is equivalent to a kept structure."""
        fingerprint, structure = entry
        if len(fingerprint) not in self.kept:
            return False
        fingerprints, structures = self.kept[len(fingerprint)]
        close = np.abs(fingerprints - fingerprint).max(axis=1) <= FINGERPRINT_TOLERANCE
        return any(self.matcher.fit(structure, structures[index]) for index in np.flatnonzero(close))

    def add(self, entry: tuple) -> None:
        fingerprint, structure = entry
        fingerprints, structures = self.kept.get(len(fingerprint), (np.empty((0, len(fingerprint))), []))
        self.kept[len(fingerprint)] = (np.vstack([fingerprints, fingerprint]), [*structures, structure])


def _equivalent(matcher: StructureMatcher, one: tuple, other: tuple, tolerance: float = FINGERPRINT_TOLERANCE) -> bool:
    """StructureMatcher equivalence of two (fingerprint, structure) pairs, tried only when the
    fingerprints agree within ``tolerance`` (Å), a necessary condition that is cheap to test."""
    if one[0].shape != other[0].shape or np.abs(one[0] - other[0]).max() > tolerance:
        return False
    return bool(matcher.fit(one[1], other[1]))


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
