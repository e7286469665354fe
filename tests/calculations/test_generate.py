"""``ifacerank.generate`` in a real profile: stored candidates, group, queryable metadata, clear input errors."""

import pymatgen.core
import pytest
from aiida.orm import Group, QueryBuilder, StructureData
from pymatgen.core import Lattice, Structure

from aiida_ifacerank.calculations.generate import check_inputs, run_generation
from aiida_ifacerank.common.candidates import CANDIDATE_ATTRIBUTE as METADATA_KEY
from aiida_ifacerank.science.generation import GenerationParameters, generate


@pytest.fixture
def bulk_nodes():
    si = Structure.from_spacegroup('Fd-3m', Lattice.cubic(5.431), ['Si'], [[0, 0, 0]])
    ge = Structure.from_spacegroup('Fd-3m', Lattice.cubic(5.658), ['Ge'], [[0, 0, 0]])
    return StructureData(pymatgen=si), StructureData(pymatgen=ge)


def test_generation_stores_queryable_candidates_in_a_group(bulk_nodes):
    lower, upper = bulk_nodes
    parameters = {'max_miller': [1, 1], 'max_area': 30}
    outputs, node, _ = run_generation(lower, upper, parameters, group_label='test/si-ge')
    assert node.is_finished_ok
    # the same result as the pure function on the bulk structures after a round trip through the database
    expected = generate(
        lower.get_pymatgen_structure(), upper.get_pymatgen_structure(), GenerationParameters(max_area=30)
    )
    assert outputs['report']['counts'] == expected.counts
    assert outputs['report']['pymatgen_version'] == pymatgen.core.__version__
    candidates = [value for key, value in outputs.items() if key.startswith('candidate_')]
    assert len(candidates) == expected.counts['candidates'] == Group.collection.get(label='test/si-ge').count()
    # the documented query: Si|Ge (001)|(001) candidates with von Mises strain below 3 %
    query = QueryBuilder().append(Group, filters={'label': 'test/si-ge'}, tag='group')
    query.append(
        StructureData,
        with_group='group',
        filters={
            f'attributes.{METADATA_KEY}.lower': 'Si',
            f'attributes.{METADATA_KEY}.upper': 'Ge',
            f'attributes.{METADATA_KEY}.miller_lower': '001',
            f'attributes.{METADATA_KEY}.miller_upper': '001',
            f'attributes.{METADATA_KEY}.von_mises_strain': {'<': 0.03},
        },
    )
    found = query.all(flat=True)
    expected_001 = [c for c in expected.candidates if c.metadata['match_id'].startswith('001|001')]
    assert len(found) == len(expected_001) > 0
    for structure in found:
        metadata = structure.base.attributes.get(METADATA_KEY)
        assert metadata['atoms'] == len(structure.sites) and metadata['model'] == 'tilted'
        assert len(metadata['interfaces']) == 2 and metadata['interfaces'][0]['displacement'] == pytest.approx(
            metadata['shift']
        )
        assert metadata['match_id'] in set(outputs['matches'].get_dataframe()['match_id'])
    assert len(outputs['candidates'].get_dataframe()) == len(candidates)


def test_bad_inputs_are_refused_before_anything_runs(bulk_nodes):
    lower, upper = bulk_nodes
    slab = StructureData(cell=[[5.431, 0, 0], [0, 5.431, 0], [0, 0, 30]], pbc=(True, True, False))
    slab.append_atom(position=(0, 0, 0), symbols='Si')
    with pytest.raises(ValueError, match='lower bulk structure must be periodic'):
        check_inputs(slab, upper, {})
    with pytest.raises(ValueError, match=r"unknown generation parameter.*'max_aera'"):
        check_inputs(lower, upper, {'max_aera': 10})
    with pytest.raises(ValueError, match='max_area must be > 0'):
        check_inputs(lower, upper, {'max_area': -1})
    count = QueryBuilder().append(StructureData).count()
    with pytest.raises(ValueError):
        run_generation(lower, upper, {'plane_pairs': [[[0, 0, 0], [0, 0, 1]]]})
    assert QueryBuilder().append(StructureData).count() == count  # nothing stored
