"""The calcfunction ``ifacerank.rank`` in a real (temporary) AiiDA profile."""

import numpy as np
import pandas as pd
import pytest
from aiida.orm import QueryBuilder
from aiida.plugins import CalculationFactory, DataFactory

from aiida_ifacerank.analysis import analyse
from aiida_ifacerank.calculations.rank import rank, rank_inputs
from aiida_ifacerank.data import TableData


def test_entry_points_resolve():
    assert CalculationFactory('ifacerank.rank') is rank
    assert DataFactory('ifacerank.table') is TableData


def test_table_node_round_trip_keeps_dtypes_and_missing_values():
    frame = pd.DataFrame(
        {
            'name': ['a', 'b', 'c'],
            'energy': [0.1, np.nan, np.inf],
            'count': np.array([1, 2, 3]),
            'flag': pd.array([True, None, False], dtype='boolean'),
            'rank': pd.array([1, None, 3], dtype='Int64'),
        }
    )
    node = TableData(frame).store()
    loaded = TableData.collection.get(pk=node.pk).get_dataframe()
    pd.testing.assert_frame_equal(loaded, frame, check_dtype=False)
    assert str(loaded['flag'].dtype) == 'boolean' and str(loaded['rank'].dtype) == 'Int64'
    assert node.num_rows == 3 and node.columns == list(frame.columns)


def test_rank_calcfunction_stores_the_same_analysis_as_the_pure_function(mixed_table):
    inputs = rank_inputs(mixed_table, threshold=0.0, window=0.01, top_n=[2, 3])
    outputs, node = rank.run_get_node(**inputs)
    assert node.is_finished_ok
    # a few aggregated inputs: interface metadata, one table per mode, parameters
    assert sorted(node.base.links.get_incoming().all_link_labels()) == [
        'dft_dft',
        'dft_mlp',
        'interfaces',
        'mlp_dft',
        'mlp_mlp',
        'parameters',
    ]
    expected = analyse(mixed_table, threshold=0.0, window=0.01, top_n=[2, 3])
    pd.testing.assert_frame_equal(outputs['stats'].get_dataframe(), expected.stats, check_dtype=False)
    pd.testing.assert_frame_equal(outputs['results'].get_dataframe(), expected.results, check_dtype=False)
    pd.testing.assert_frame_equal(outputs['completeness'].get_dataframe(), expected.completeness, check_dtype=False)
    pd.testing.assert_frame_equal(outputs['inversions'].get_dataframe(), expected.inversions, check_dtype=False)
    assert outputs['analysis_parameters']['reference'] == 'DFT@DFT'
    assert outputs['analysis_parameters']['top_n'] == [2, 3]
    # the stored completeness report is reachable from the graph
    query = QueryBuilder().append(type(node), filters={'id': node.pk}, tag='rank')
    query.append(TableData, with_incoming='rank', edge_filters={'label': 'completeness'})
    report = query.one()[0].get_dataframe()
    assert (
        report.set_index(['interface', 'mode']).loc[('if1', 'MLP@DFT'), 'reason']
        == 'exit status 410: SCF not converged'
    )


def test_rank_refuses_mismatched_inputs(mixed_table):
    inputs = rank_inputs(mixed_table)
    inputs['mlp_mlp'] = TableData(inputs['mlp_mlp'].get_dataframe().iloc[:5])
    with pytest.raises(ValueError, match="'mlp_mlp' has 5 rows but interfaces has 8"):
        rank(**inputs)
    with pytest.raises(ValueError, match='selects no interfaces'):  # before anything is stored or run
        rank_inputs(mixed_table, subsets={'C': "lower == 'C'"})
    with pytest.raises(ValueError, match='unknown analysis parameter'):
        rank_inputs(mixed_table, treshold=0.1)


def test_rank_passes_the_tolerance_to_the_analysis(mixed_table):
    # MLP@MLP moves if1 from -0.010 to 0.005 and if2 from 0.005 to -0.005 eV/Å²: two class flips and one
    # inversion; within 0.011 eV/Å² both are undecided and tied in MLP@MLP, so neither
    outputs, node = rank.run_get_node(**rank_inputs(mixed_table, tolerance=0.011))
    assert node.is_finished_ok
    assert outputs['analysis_parameters']['tolerance_ev_ang2'] == 0.011
    expected = analyse(mixed_table, tolerance=0.011)
    stats = outputs['stats'].get_dataframe()
    pd.testing.assert_frame_equal(stats, expected.stats, check_dtype=False)
    pd.testing.assert_frame_equal(outputs['results'].get_dataframe(), expected.results, check_dtype=False)
    row = stats[(stats.mode_b == 'MLP@MLP') & (stats.mode_a == 'DFT@DFT') & (stats.group_key == 'all')].iloc[0]
    assert (row['class_flips'], row['boundary_inversions']) == (0, 0)
    results = outputs['results'].get_dataframe().set_index('interface')
    assert results.loc[['if1', 'if2'], 'rank_MLP@MLP'].tolist() == [2.5, 2.5]
    assert results.loc[['if1', 'if2'], 'bulk_like_MLP@MLP'].tolist() == [True, True]
    assert len(outputs['inversions'].get_dataframe().query("mode_b == 'MLP@MLP'")) == 0
    with pytest.raises(ValueError, match='tolerance must be >= 0'):  # before anything is stored or run
        rank_inputs(mixed_table, tolerance=-0.011)
