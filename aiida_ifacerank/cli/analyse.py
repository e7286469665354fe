"""``aiida-ifacerank analyse``: rank-agreement statistics of a results CSV."""

from pathlib import Path

import click

from aiida_ifacerank.analysis import GROUP_KEYS, RankingAnalysis, analyse, read_results_csv
from aiida_ifacerank.analysis.completeness import MAX_ABS_ENERGY_EV_ANG2
from aiida_ifacerank.calculations.rank import rank, rank_inputs

from . import cmd_root

SHOWN_COLUMNS = ['mode_a', 'mode_b', 'group_key', 'group', 'n', 'spearman_rho', 'kendall_tau_b', 'rmse', 'mae']


@cmd_root.command('analyse')
@click.argument('results_file', type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    '-o',
    '--output-dir',
    type=click.Path(file_okay=False, path_type=Path),
    default=Path('analysis'),
    show_default=True,
    help='Where results.csv, stats.csv, completeness.csv and inversions.csv go.',
)
@click.option('--reference', default=None, help='Mode the others are compared with per interface [first present].')
@click.option(
    '--top-n',
    'top_n',
    type=click.IntRange(min=1),
    multiple=True,
    default=(5, 10),
    show_default=True,
    help='N of a Top-N overlap; repeat for several.',
)
@click.option(
    '--threshold',
    type=float,
    default=0.0,
    show_default=True,
    help='Favourable/unfavourable boundary (eV/Å²): favourable means E < threshold.',
)
@click.option(
    '--window',
    type=click.FloatRange(min=0),
    default=0.01,
    show_default=True,
    help='Half-width (eV/Å²) around the threshold in which order flips are flagged.',
)
@click.option(
    '--tolerance',
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help='Energies closer than this (eV/Å²) rank as ties (single linkage: close chains merge); an interface '
    'this close to the threshold never flips class; |E| <= it is bulk-like.',
)
@click.option(
    '--max-abs-energy',
    type=click.FloatRange(min=0, min_open=True),
    default=MAX_ABS_ENERGY_EV_ANG2,
    show_default=True,
    help='|E| above this (eV/Å²) is reported as unphysical.',
)
@click.option(
    '--group-by',
    type=click.Choice(GROUP_KEYS),
    multiple=True,
    help='Grouping for the statistics; repeat for several [all the file supports].',
)
@click.option(
    '--subset',
    'subsets',
    multiple=True,
    metavar='NAME=CONDITION',
    help='Extra named group, e.g. --subset "alloys=class == \'ordered alloy\'".',
)
@click.option(
    '--store/--no-store',
    default=False,
    show_default=True,
    help='Run the analysis as the calcfunction ifacerank.rank in the AiiDA profile.',
)
def cmd_analyse(
    results_file, output_dir, reference, top_n, threshold, window, tolerance, max_abs_energy, group_by, subsets, store
):
    """Rank interfaces by energy in every mode of RESULTS_FILE and compare the modes."""
    try:
        table = read_results_csv(results_file)
    except ValueError as exception:
        raise click.ClickException(f'{results_file}: {exception}') from None
    named = {}
    for subset in subsets:
        name, separator, condition = subset.partition('=')
        if not separator or not name.strip() or not condition.strip():
            raise click.BadParameter(f'{subset!r} is not NAME=CONDITION.', param_hint='--subset')
        named[name.strip()] = condition.strip()
    parameters = {
        'reference': reference,
        'top_n': list(top_n),
        'threshold': threshold,
        'window': window,
        'tolerance': tolerance,
        'max_abs_energy': max_abs_energy,
        'group_by': list(group_by) or None,
        'subsets': named or None,
    }
    parameters = {key: value for key, value in parameters.items() if value is not None}

    try:
        inputs = rank_inputs(table, **parameters)
        analysis = None if store else analyse(table, **parameters)
    except ValueError as exception:
        raise click.ClickException(str(exception)) from None
    if store:
        outputs, node = rank.run_get_node(**inputs)
        frames = {name: outputs[name].get_dataframe() for name in ('results', 'stats', 'completeness', 'inversions')}
        analysis = RankingAnalysis(**frames, parameters=outputs['analysis_parameters'].get_dict())
        click.echo(f'Stored the analysis as calcfunction node {node.pk} ({node.uuid}).')

    paths = analysis.write(output_dir)
    shown = SHOWN_COLUMNS + [f'top{n}_overlap' for n in top_n] + ['class_flips', 'boundary_inversions']
    click.echo(analysis.stats[shown].to_string(index=False, float_format=lambda value: f'{value:.3f}'))
    click.echo('\nCompleteness (interfaces per status):')
    click.echo(analysis.completeness_summary.to_string(float_format=lambda value: f'{value:.3f}'))
    click.echo(f'\nWrote {", ".join(path.name for path in paths.values())} to {output_dir}/')
