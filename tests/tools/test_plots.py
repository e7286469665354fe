"""Report figures: what is drawn matches the analysis tables (points, ranks, overlaps, bars, status colours)."""

import numpy as np
import pytest
from matplotlib.collections import PathCollection
from matplotlib.colors import to_rgba
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle
from pymatgen.core import Lattice, Structure

from aiida_ifacerank.analysis import analyse, build_table, read_results_csv
from aiida_ifacerank.analysis.metrics import ranks
from aiida_ifacerank.tools import plots

MODES = ('DFT@DFT', 'MLP@MLP', 'DFT@MLP', 'MLP@DFT')
COMPARED = MODES[1:]


@pytest.fixture(scope='module')
def sige():
    """The example Si-Ge study: 42 interfaces, four modes, two failed in DFT@DFT and DFT@MLP, many ties."""
    return analyse(read_results_csv('tests/fixtures/tersoff_sige_results.csv'), top_n=[5, 10], tolerance=1e-4)


def mixed_table(n=80, seed=0):
    """``n`` interfaces without energy ties, every status present, one pair with a single interface."""
    rng = np.random.default_rng(seed)
    materials = ['Si', 'Ge', 'C', 'Sn']
    lower = [materials[i % 3] for i in range(n)]
    upper = [materials[(i // 3) % 3] for i in range(n)]
    lower[-1], upper[-1] = 'Sn', 'Si'  # a pair of one interface: its correlations are NaN
    reference = rng.uniform(-0.05, 0.15, n)
    energies = {'DFT@DFT': reference}
    for shift, mode in enumerate(COMPARED):
        energies[mode] = reference + rng.normal(0.01 * shift, 0.02, n)
    exits = {mode: np.zeros(n, dtype=int) for mode in MODES}
    exits['DFT@DFT'][[3, 4]] = [-1, 2]  # missing, failed
    exits['MLP@MLP'][[5, 6]] = [2, 2]
    energies['MLP@MLP'][[7, 8]] = [np.nan, 3.0]  # nan, unphysical
    energies['DFT@MLP'][9] = np.inf
    return build_table(
        interfaces=[f'if{i:03d}' for i in range(n)],
        lower=lower,
        upper=upper,
        miller_lower=['001' if i % 2 else '110' for i in range(n)],
        miller_upper=['001'] * n,
        energies=energies,
        exit_statuses=exits,
    )


@pytest.fixture(scope='module')
def mixed():
    return analyse(mixed_table(), top_n=[5, 10], subsets={'Si below': "lower == 'Si'"})


def scatter_points(axis) -> np.ndarray:
    """All scatter offsets of ``axis`` (one collection per colour category), stacked."""
    offsets = [c.get_offsets() for c in axis.collections if isinstance(c, PathCollection)]
    return np.vstack(offsets) if offsets else np.empty((0, 2))


def both_ok(results, mode):
    return (results['status_DFT@DFT'] == 'ok').to_numpy() & (results[f'status_{mode}'] == 'ok').to_numpy()


def sorted_rows(points) -> np.ndarray:
    points = np.asarray(points, dtype=float)
    return points[np.lexsort(points.T[::-1])]


# ---------------------------------------------------------------- saving


def test_save_figure_and_report_write_png_and_svg(sige, tmp_path):
    paths = plots.save_figure(plots.plot_completeness(sige.completeness), tmp_path / 'new', 'status')
    assert [path.name for path in paths] == ['status.png', 'status.svg']
    assert paths[0].read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert b'<svg' in paths[1].read_bytes()[:1000]
    written = plots.save_report_plots(sige, tmp_path / 'report')
    assert sorted(written) == sorted(plots.REPORT_PLOTS)
    for name, (png, svg) in written.items():
        assert (png.name, svg.name) == (f'{name}.png', f'{name}.svg')
        assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b'\x89PNG'
        assert svg.stat().st_size > 10_000 and b'<svg' in svg.read_bytes()[:1000]


# ---------------------------------------------------------------- energy parity


@pytest.mark.parametrize('name', ['sige', 'mixed'])
def test_energy_parity_plots_every_finite_pair_once_with_shared_limits(name, request):
    analysis = request.getfixturevalue(name)
    results = analysis.results
    figure = plots.plot_energy_parity(results, 'DFT@DFT', threshold=0.02)
    axes = figure.axes
    assert len(axes) == len(COMPARED)
    limits = {(axis.get_xlim(), axis.get_ylim()) for axis in axes}
    assert len(limits) == 1  # shared limits
    (x_limits, y_limits) = limits.pop()
    assert x_limits == y_limits
    for axis, mode in zip(axes, COMPARED, strict=True):
        ok = both_ok(results, mode)
        expected = results.loc[ok, ['energy_DFT@DFT', f'energy_{mode}']].to_numpy(dtype=float)
        points = scatter_points(axis)
        assert len(points) == ok.sum() == np.isfinite(expected).all(axis=1).sum()
        np.testing.assert_array_equal(sorted_rows(points), sorted_rows(expected))
        assert x_limits[0] <= expected.min() and x_limits[1] >= expected.max()
        diagonal = [line for line in axis.lines if len(line.get_xdata()) == 2 and line.get_linestyle() == '-']
        assert len(diagonal) == 1
        xs, ys = diagonal[0].get_data()
        np.testing.assert_array_equal(xs, ys)  # y = x
        assert min(xs) <= expected.min() and max(xs) >= expected.max()  # spans the data
        dotted = [
            tuple(line.get_xdata()) + tuple(line.get_ydata()) for line in axis.lines if line.get_linestyle() == ':'
        ]
        assert (0.02, 0.02, 0, 1) in dotted and (0, 1, 0.02, 0.02) in dotted  # threshold lines, both axes
        assert 'eV/Å²' in axis.get_xlabel() and 'eV/Å²' in axis.get_ylabel() and mode in axis.get_ylabel()
        assert f'n = {ok.sum()}' in axis.get_title()
    legend_texts = {text.get_text() for text in figure.legends[0].get_texts()}
    assert set(results['lower'] + '|' + results['upper']) | {'y = x'} <= legend_texts


def test_energy_parity_titles_count_what_is_left_out(sige, mixed):
    titles = [axis.get_title() for axis in plots.plot_energy_parity(sige.results).axes]
    assert titles == [f'{mode}\nn = 40 (2 failed)' for mode in COMPARED]
    titles = [axis.get_title() for axis in plots.plot_energy_parity(mixed.results).axes]
    # reference: 1 missing, 1 failed; MLP@MLP also 2 failed, nan, unphysical; DFT@MLP also inf
    assert titles[0] == 'MLP@MLP\nn = 74 (3 failed, 1 missing, 1 nan,\n1 unphysical)'  # wrapped
    assert titles[1] == 'DFT@MLP\nn = 77 (1 failed, 1 inf, 1 missing)'
    assert titles[2] == 'MLP@DFT\nn = 78 (1 failed, 1 missing)'


def test_energy_parity_colours_by_class_or_nothing(sige):
    figure = plots.plot_energy_parity(sige.results, color_by='class')
    categories = [c.get_label() for c in figure.axes[0].collections]
    assert categories == ['homostructure', 'heterostructure']
    figure = plots.plot_energy_parity(sige.results, modes=['DFT@MLP'], color_by=None)
    assert len(figure.axes) == 1 and len(figure.axes[0].collections) == 1
    with pytest.raises(ValueError, match='color_by'):
        plots.plot_energy_parity(sige.results, color_by='colour')
    with pytest.raises(ValueError, match='reference mode'):
        plots.plot_energy_parity(sige.results[['interface', 'energy_MLP@MLP', 'energy_DFT@MLP']], 'DFT@DFT')


# ---------------------------------------------------------------- rank parity


@pytest.mark.parametrize('name', ['sige', 'mixed'])
def test_rank_parity_differences_are_the_rank_shifts(name, request):
    analysis = request.getfixturevalue(name)
    results, tolerance = analysis.results, analysis.parameters['tolerance_ev_ang2']
    figure = plots.plot_rank_parity(results, tolerance=tolerance)
    for axis, mode in zip(figure.axes, COMPARED, strict=True):
        ok = both_ok(results, mode)
        points = scatter_points(axis)
        assert len(points) == ok.sum()
        shifts = results.loc[ok, f'rank_shift_{mode}'].to_numpy(dtype=float)
        np.testing.assert_allclose(np.sort(points[:, 1] - points[:, 0]), np.sort(shifts))
        reference_ranks = ranks(results.loc[ok, 'energy_DFT@DFT'].to_numpy(dtype=float), tolerance)
        np.testing.assert_allclose(np.sort(points[:, 0]), np.sort(reference_ranks))
        rho = analysis.stats.query("mode_a == 'DFT@DFT' and mode_b == @mode and group_key == 'all'")['spearman_rho']
        assert f'ρ = {rho.iloc[0]:.2f}' in axis.get_title()
        (xs, ys) = axis.lines[0].get_data()
        np.testing.assert_array_equal(xs, ys)
        assert min(xs) < 1 and max(xs) > ok.sum()


# ---------------------------------------------------------------- Top-N overlap


def test_top_n_overlap_curves_match_stats_and_sets(sige, mixed):
    figure = plots.plot_top_n_overlap(sige.results, tolerance=1e-4, marked=(5, 10))
    axis = figure.axes[0]
    lines = {line.get_label(): line for line in axis.lines}
    for mode in COMPARED:
        n = both_ok(sige.results, mode).sum()
        tops, fraction = lines[f'{mode} (n = {n})'].get_data()
        np.testing.assert_array_equal(tops, np.arange(1, n + 1))
        assert fraction[-1] == 1.0
        row = sige.stats.query("mode_a == 'DFT@DFT' and mode_b == @mode and group_key == 'all'").iloc[0]
        assert fraction[4] == row['top5_fraction'] and fraction[9] == row['top10_fraction']
    random = lines['random ranking, N/n']
    assert random.get_linestyle() == '--'
    np.testing.assert_array_equal(random.get_data(), [[0, 40], [0, 1]])
    assert {tuple(line.get_xdata()) for line in axis.lines if line.get_linestyle() == ':'} == {(5, 5), (10, 10)}

    # no ties: the Top-N sets directly, for every N
    results = mixed.results
    curve = plots.top_n_curve(results, 'DFT@DFT', 'MLP@DFT')
    ok = both_ok(results, 'MLP@DFT')
    order_a = results.loc[ok, 'energy_DFT@DFT'].to_numpy().argsort()
    order_b = results.loc[ok, 'energy_MLP@DFT'].to_numpy().argsort()
    direct = [len(set(order_a[:top]) & set(order_b[:top])) / top for top in range(1, ok.sum() + 1)]
    np.testing.assert_allclose(curve, direct)
    assert 0 < curve[9] < 1
    figure = plots.plot_top_n_overlap(results)
    dashed = [line for line in figure.axes[0].lines if line.get_linestyle() == '--']
    assert [line.get_xdata()[-1] for line in dashed] == [74, 77, 78]  # one random line per n ...
    legend = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert legend.count('random ranking, N/n (n = 74–78)') == 1 and len(legend) == 4  # ... one legend entry


# ---------------------------------------------------------------- per-group correlations


def bars(axis):
    return [patch for patch in axis.patches if isinstance(patch, Rectangle)]


@pytest.mark.parametrize('name', ['sige', 'mixed'])
def test_group_correlation_bars_are_the_stats_with_gaps_for_nan(name, request):
    stats = request.getfixturevalue(name).stats
    rows = stats[stats['mode_a'] == 'DFT@DFT']
    figure = plots.plot_group_correlations(stats)
    axes = [axis for axis in figure.axes]
    assert len(axes) == 2
    for axis, metric in zip(axes, ('spearman_rho', 'kendall_tau_b'), strict=True):
        values = rows[metric].to_numpy(dtype=float)
        heights = [bar.get_height() for bar in bars(axis)]
        assert len(heights) == np.isfinite(values).sum()
        np.testing.assert_allclose(sorted(heights), np.sort(values[np.isfinite(values)]))
        gaps = [text.get_text() for text in axis.texts]
        assert len(gaps) == np.isnan(values).sum()
        expected = ['n<2' if n < 2 else 'tied' for n in rows['n'][np.isnan(values)]]
        assert sorted(gaps) == sorted(expected)
    labels = [label.get_text() for label in axes[-1].get_xticklabels()]
    groups = rows.drop_duplicates(['group_key', 'group'])
    assert len(labels) == len(groups)
    assert labels[0] == f'all ({groups["n_interfaces"].iloc[0]})'
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert legend == list(COMPARED)


def test_group_correlations_name_subsets_and_single_interface_groups(mixed):
    figure = plots.plot_group_correlations(mixed.stats, 'DFT@DFT')
    labels = [label.get_text() for label in figure.axes[-1].get_xticklabels()]
    assert 'pair: Sn|Si (1)' in labels and 'Si below (27)' in labels
    assert {text.get_text() for text in figure.axes[0].texts} == {'n<2'}
    with pytest.raises(ValueError, match='no rows with mode_a'):
        plots.plot_group_correlations(mixed.stats, 'MLP@DFT')


# ---------------------------------------------------------------- completeness


@pytest.mark.parametrize('name', ['sige', 'mixed'])
def test_completeness_cells_are_coloured_by_status(name, request):
    report = request.getfixturevalue(name).completeness
    figure = plots.plot_completeness(report)
    axis = figure.axes[0]
    (image,) = [artist for artist in axis.get_children() if isinstance(artist, AxesImage)]
    interfaces = list(dict.fromkeys(report['interface']))
    rgba = image.to_rgba(image.get_array())
    assert rgba.shape[:2] == (len(interfaces), len(MODES))
    for row in report.itertuples():
        cell = rgba[interfaces.index(row.interface), MODES.index(row.mode)]
        np.testing.assert_allclose(cell, to_rgba(plots.STATUS_COLOURS[row.status]), atol=1 / 255)
    counts = report['status'].value_counts()
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert sorted(legend) == sorted(f'{status} ({count})' for status, count in counts.items())
    ticks = [label.get_text() for label in axis.get_yticklabels()]
    assert ticks == (interfaces if len(interfaces) <= 60 else [])
    assert [label.get_text() for label in axis.get_xticklabels()] == list(MODES)


def test_completeness_colours_differ_and_unknown_statuses_get_their_own(mixed):
    assert len(set(plots.STATUS_COLOURS.values())) == len(plots.STATUS_COLOURS)
    report = mixed.completeness.copy()
    report.loc[0, 'status'] = 'not in subset'
    report.loc[1, 'status'] = 'queued'
    report = report.drop(index=2)  # an interface × mode absent from the table shows as missing
    figure = plots.plot_completeness(report, max_labels=100)
    image = figure.axes[0].images[0]
    rgba = image.to_rgba(image.get_array())
    assert tuple(rgba[0, 0]) == to_rgba(plots.STATUS_COLOURS['not in subset'])
    assert tuple(rgba[2, 0]) == to_rgba(plots.STATUS_COLOURS['missing'])
    assert tuple(rgba[1, 0]) not in {to_rgba(colour) for colour in plots.STATUS_COLOURS.values()}
    assert len(figure.axes[0].get_yticklabels()) == 80


def test_a_mode_without_energies_gives_empty_panels_not_errors(tmp_path):
    n = 6
    table = build_table(
        interfaces=[f'i{i}' for i in range(n)],
        lower=['Si'] * n,
        upper=['Ge'] * n,
        energies={'DFT@DFT': np.linspace(0, 0.1, n), 'MLP@MLP': np.linspace(0.1, 0, n), 'DFT@MLP': np.full(n, 0.1)},
        exit_statuses={'DFT@MLP': [3] * n},
    )
    analysis = analyse(table, top_n=[2])
    for figure in (plots.plot_energy_parity(analysis.results), plots.plot_rank_parity(analysis.results)):
        full, empty = figure.axes
        assert len(scatter_points(full)) == n and len(scatter_points(empty)) == 0
        assert 'n = 0 (6 failed)' in empty.get_title()
        assert [text.get_text() for text in empty.texts] == ['no interface with an energy in both modes']
    assert 'ρ = -1.00' in plots.plot_rank_parity(analysis.results).axes[0].get_title()
    lines = {line.get_label(): line for line in plots.plot_top_n_overlap(analysis.results).axes[0].lines}
    assert len(lines['DFT@MLP (n = 0)'].get_xdata()) == 0 and len(lines['MLP@MLP (n = 6)'].get_xdata()) == n
    figure = plots.plot_group_correlations(analysis.stats)
    legend = figure.legends[0]
    colours = [tuple(patch.get_facecolor()) for patch in legend.get_patches()]
    assert colours == [to_rgba(plots.MODE_COLOURS['MLP@MLP']), to_rgba(plots.MODE_COLOURS['DFT@MLP'])]
    assert len(bars(figure.axes[0])) == 5 and len(figure.axes[0].texts) == 5  # five groups, DFT@MLP all gaps
    assert len(plots.save_report_plots(analysis, tmp_path)) == len(plots.REPORT_PLOTS)


# ---------------------------------------------------------------- matched planes


@pytest.fixture(scope='module')
def bulks():
    si = Structure.from_spacegroup('Fd-3m', Lattice.cubic(5.431), ['Si'], [[0, 0, 0]])
    ge = Structure.from_spacegroup('Fd-3m', Lattice.cubic(5.658), ['Ge'], [[0, 0, 0]])
    return si, ge


MATCHES = [
    {'miller_lower': '001', 'miller_upper': '001', 'von_mises_strain': 0.0241, 'area_ang2': 29.5},
    {'miller_lower': '1-10', 'miller_upper': '110', 'von_mises_strain': 0.0241, 'area_ang2': 41.7},
    {'miller_lower': '111', 'miller_upper': '111', 'von_mises_strain': 0.0300, 'area_ang2': 25.5},
    {'miller_lower': '1,1,2', 'miller_upper': '1,1,2', 'von_mises_strain': 0.0120, 'area_ang2': 60.0},
]


def colorbar_labels(figure):
    figure.draw_without_rendering()
    return [label.get_text() for label in figure.axes[2].get_yticklabels()]


def panel_colours(figure):
    colours = []
    for axis in figure.axes[:2]:
        (collection,) = axis.collections
        colours.append(collection.get_facecolors())
    return colours


def test_matched_planes_share_one_normalisation_and_label_the_colour_bar(bulks, tmp_path):
    figure = plots.plot_matched_planes(*bulks, MATCHES)
    lower, upper = (axis.collections[0] for axis in figure.axes[:2])
    assert lower.norm is upper.norm and (lower.norm.vmin, lower.norm.vmax) == (0.012, 0.03)
    labels = colorbar_labels(figure)
    assert labels and all(labels) and '0.03' in labels[-1]
    colours_lower, colours_upper = panel_colours(figure)
    np.testing.assert_array_equal(colours_lower, colours_upper)  # same values, same colours in both panels
    # drawn from the highest strain to the lowest: 0.03, 0.0241, 0.0241, 0.012
    np.testing.assert_array_equal(colours_lower[1], colours_lower[2])  # equal strains, equal RGBA
    assert not np.array_equal(colours_lower[0], colours_lower[1])
    assert [text.get_text() for text in figure.axes[0].texts] == ['$(111)$', '$(001)$', r'$(1\bar{1}0)$', '$(112)$']
    path = tmp_path / 'planes.png'
    assert plots.plot_matched_planes(*bulks, MATCHES, path, 'area_ang2') == path
    assert path.read_bytes()[:4] == b'\x89PNG'


@pytest.mark.parametrize('value', [0.02, 0.0, 0.026210246157358896])
def test_matched_planes_with_equal_values_one_colour_and_a_labelled_bar(bulks, value):
    """The third value: the Si|Ge (001), (011), (111) strains of the demo, equal but for the last digits."""
    noise = [0.0, -3.8e-17, -7.3e-17, 0.0]
    matches = [dict(match, von_mises_strain=value + noise[i % 4]) for i, match in enumerate(MATCHES)]
    figure = plots.plot_matched_planes(*bulks, matches, None)
    colours_lower, colours_upper = panel_colours(figure)
    assert len({tuple(colour) for colour in np.vstack([colours_lower, colours_upper])}) == 1
    (label,) = colorbar_labels(figure)
    assert float(label) == pytest.approx(value, rel=1e-3, abs=1e-12)
    norm = figure.axes[0].collections[0].norm
    assert norm.vmin < value < norm.vmax and norm(value) == pytest.approx(0.5)


def test_matched_planes_coinciding_planes_show_the_lowest_value_on_top(bulks):
    matches = [*MATCHES, dict(MATCHES[0], von_mises_strain=0.03, area_ang2=59.0)]
    figure = plots.plot_matched_planes(*bulks, matches)
    collection = figure.axes[0].collections[0]
    figure.draw_without_rendering()
    offsets, colours = collection.get_offsets(), collection.get_facecolors()
    at_centre = np.flatnonzero(np.all(np.isclose(offsets, 0), axis=1))
    assert len(at_centre) == 2  # both (001) matches at the centre, the 0.0241 one drawn last
    np.testing.assert_array_equal(colours[at_centre[-1]], collection.cmap(collection.norm(0.0241)))
    assert [text.get_text() for text in figure.axes[0].texts].count('$(001)$') == 1
    with pytest.raises(ValueError, match='color_by'):
        plots.plot_matched_planes(*bulks, MATCHES, None, 'strain')
    with pytest.raises(ValueError, match='no matched planes'):
        plots.plot_matched_planes(*bulks, [], None)


def test_completeness_shows_candidates_outside_the_dft_subset_apart_from_missing(mixed):
    """The study marks DFT energies it never computed by choice with the reason NOT_SELECTED (status missing)."""
    from aiida_ifacerank.analysis.selection import NOT_SELECTED  # noqa: PLC0415

    report = mixed.completeness.copy()
    missing = report.index[report['status'] == 'missing']
    chosen, other = missing[0], missing[1] if len(missing) > 1 else None
    report.loc[chosen, 'reason'] = NOT_SELECTED
    figure = plots.plot_completeness(report, max_labels=100)
    image = figure.axes[0].images[0]
    rgba = image.to_rgba(image.get_array())
    interfaces = list(dict.fromkeys(report['interface']))
    cell = rgba[interfaces.index(report.at[chosen, 'interface']), MODES.index(report.at[chosen, 'mode'])]
    assert tuple(cell) == to_rgba(plots.STATUS_COLOURS['not in subset'])
    if other is not None:
        cell = rgba[interfaces.index(report.at[other, 'interface']), MODES.index(report.at[other, 'mode'])]
        assert tuple(cell) == to_rgba(plots.STATUS_COLOURS['missing'])
    assert 'not in subset (1)' in [text.get_text() for text in figure.legends[0].get_texts()]
