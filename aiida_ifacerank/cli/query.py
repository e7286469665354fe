"""``aiida-ifacerank query``: every study of the profile by material, plane pair, mode pair and metric bound."""

import click

from aiida_ifacerank.analysis.table import MODES

from . import cmd_root


@cmd_root.command('query')
@click.option('--material', 'materials', multiple=True, help='Element the study contains; repeat for several (all).')
@click.option('--plane', help='Plane pair the study contains, lower|upper, e.g. 001|001.')
@click.option(
    '--pair',
    nargs=2,
    type=click.Choice(MODES),
    default=('DFT@DFT', 'MLP@MLP'),
    show_default=True,
    help='Mode pair of the metric: reference, then the compared mode.',
)
@click.option('--metric', default='spearman_rho', show_default=True, help='Metric over all interfaces of a study.')
@click.option('--below', type=float, help='Only studies whose metric is below this.')
@click.option('--above', type=float, help='Only studies whose metric is above this.')
@click.option('--interfaces', is_flag=True, help='One row per interface (of --plane, if given) instead of per study.')
@click.option('--failures', is_flag=True, help='One row per failed process of the studies (with --material only).')
def cmd_query(materials, plane, pair, metric, below, above, interfaces, failures):
    """Studies (or their interfaces, or their failed runs) matching every filter, one row each; all studies
    without filters."""
    from aiida_ifacerank.common.query import failed_runs, find_interfaces, find_studies  # noqa: PLC0415

    if failures:
        table = failed_runs(materials)
        click.echo(table.to_string(index=False) if not table.empty else 'no failed run')
        return

    filters = {'materials': materials, 'pair': pair, 'metric': metric, 'below': below, 'above': above}
    try:
        table = find_interfaces(plane=plane, **filters) if interfaces else find_studies(plane=plane, **filters)
    except ValueError as exception:
        raise click.ClickException(str(exception)) from None
    if table.empty:
        click.echo('no study matches')
        return
    click.echo(table.to_string(index=False, float_format=lambda value: f'{value:.4f}'))
