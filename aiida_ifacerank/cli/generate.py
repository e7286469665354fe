"""``aiida-ifacerank generate``: unique interface candidates of two bulk crystals, stored in AiiDA."""

import json
from pathlib import Path

import click
from aiida.cmdline.utils import decorators
from aiida.orm import StructureData, load_node
from pymatgen.core import Structure

from aiida_ifacerank.calculations.generate import check_inputs, run_generation
from aiida_ifacerank.science.generation import GenerationParameters
from aiida_ifacerank.science.lattice import parse_miller
from aiida_ifacerank.science.layers import INTERFACE_MODELS
from aiida_ifacerank.tools.plots import plot_matched_planes

from . import cmd_root

DEFAULTS = GenerationParameters()

SHOWN_COLUMNS = ['candidate', 'pk', 'miller_lower', 'miller_upper', 'termination_index', 'shift', 'gap_ang']
SHOWN_COLUMNS += ['von_mises_strain', 'area_ang2', 'atoms']


def load_bulk(value: str, name: str) -> StructureData:
    """A StructureData from a structure file (CIF, POSCAR, ...) or a stored node's pk/UUID/label."""
    path = Path(value)
    if path.is_file():
        try:
            return StructureData(pymatgen=Structure.from_file(path))
        except Exception as exception:
            raise click.BadParameter(f'cannot read {value} as a structure: {exception}', param_hint=name) from None
    try:
        node = load_node(value)
    except Exception:
        raise click.BadParameter(f'{value} is neither a structure file nor a stored node.', param_hint=name) from None
    if not isinstance(node, StructureData):
        raise click.BadParameter(f'node {value} is a {type(node).__name__}, not a StructureData.', param_hint=name)
    return node


def parse_plane_pair(text: str) -> list[list[int]]:
    """``'001/001'`` or ``'1,1,0/0,0,1'`` → [[0, 0, 1], [0, 0, 1]]."""
    try:
        lower, upper = text.split('/')
        return [list(parse_miller(lower)), list(parse_miller(upper))]
    except ValueError as exception:
        raise click.BadParameter(
            f'{text!r} is not LOWER/UPPER Miller indices such as 001/001 ({exception}).', param_hint='--plane'
        ) from None


@cmd_root.command('generate')
@click.argument('lower')
@click.argument('upper')
@click.option(
    '--max-miller', type=(int, int), default=(1, 1), show_default=True, help='Largest Miller index (lower upper).'
)
@click.option('--plane', 'planes', multiple=True, help='Explicit plane pair LOWER/UPPER, e.g. 001/001; repeatable.')
@click.option('--max-area', type=float, default=DEFAULTS.max_area, show_default=True, help='Largest area (Å²).')
@click.option(
    '--max-length-strain', type=float, default=DEFAULTS.max_length_strain, show_default=True, help='Largest mismatch.'
)
@click.option(
    '--max-angle-strain', type=float, default=DEFAULTS.max_angle_strain, show_default=True, help='Largest mismatch.'
)
@click.option(
    '--max-von-mises-strain', type=float, default=DEFAULTS.max_von_mises_strain, show_default=True, help='Largest.'
)
@click.option('--max-atoms', type=int, default=DEFAULTS.max_atoms, show_default=True, help='Largest candidate size.')
@click.option(
    '--thickness',
    type=(float, float),
    default=DEFAULTS.thickness,
    show_default=True,
    help='Slab thickness (lower upper).',
)
@click.option('--thickness-in-angstrom', is_flag=True, help='Thickness in Å instead of layers.')
@click.option(
    '--model',
    type=click.Choice(INTERFACE_MODELS),
    default=DEFAULTS.model,
    show_default=True,
    help='tilted: two equivalent interfaces where the symmetry allows (c tilted); periodic: two interfaces, '
    'c normal; slab: one interface and vacuum.',
)
@click.option('--gap', type=float, default=None, help='Interlayer distance (Å) [from the bulk spacings].')
@click.option('--extra-gap', 'gaps', type=float, multiple=True, help='More interlayer distances to sample (Å).')
@click.option('--vacuum', type=float, default=DEFAULTS.vacuum, show_default=True, help='Vacuum of the slab model (Å).')
@click.option(
    '--shift-grid', type=(int, int), default=DEFAULTS.shift_grid, show_default=True, help='Shifts per CNID axis.'
)
@click.option('--exclude-zero-shift', is_flag=True, help='Leave out the zero (on-top) shift.')
@click.option('--group', 'group_label', default=None, help='Group for the candidates [ifacerank/candidates/<pk>].')
@click.option(
    '--plot',
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help='Save a stereographic projection of the matched planes (PNG).',
)
@click.option(
    '--color-by',
    type=click.Choice(['von_mises_strain', 'area_ang2']),
    default='von_mises_strain',
    show_default=True,
    help='Colour of the planes in the plot.',
)
@decorators.with_dbenv()
def cmd_generate(
    lower,
    upper,
    max_miller,
    planes,
    max_area,
    max_length_strain,
    max_angle_strain,
    max_von_mises_strain,
    max_atoms,
    thickness,
    thickness_in_angstrom,
    model,
    gap,
    gaps,
    vacuum,
    shift_grid,
    exclude_zero_shift,
    group_label,
    plot,
    color_by,
):
    """Generate unique interface candidates of UPPER on LOWER (structure files or stored nodes) and store them."""
    lower_node, upper_node = load_bulk(lower, 'LOWER'), load_bulk(upper, 'UPPER')
    parameters = {
        'max_miller': list(max_miller),
        'max_area': max_area,
        'max_length_strain': max_length_strain,
        'max_angle_strain': max_angle_strain,
        'max_von_mises_strain': max_von_mises_strain,
        'max_atoms': max_atoms,
        'thickness': list(thickness),
        'thickness_in_layers': not thickness_in_angstrom,
        'model': model,
        'gap': gap,
        'gaps': list(gaps),
        'vacuum': vacuum,
        'shift_grid': list(shift_grid),
        'exclude_zero_shift': exclude_zero_shift,
    }
    if planes:
        parameters['plane_pairs'] = [parse_plane_pair(text) for text in planes]
    try:
        check_inputs(lower_node, upper_node, parameters)
        outputs, node, group = run_generation(lower_node, upper_node, parameters, group_label)
    except ValueError as exception:
        raise click.ClickException(str(exception)) from None
    table = outputs['candidates'].get_dataframe()
    if len(table):
        table['pk'] = [outputs[label].pk for label in table['candidate']]
        table['shift'] = [', '.join(f'{x:.3f}' for x in json.loads(shift)) for shift in table['shift']]
        click.echo(table[SHOWN_COLUMNS].to_string(index=False, float_format=lambda value: f'{value:.4f}'))
    counts = outputs['report']['counts']
    click.echo('\n' + ', '.join(f'{key.replace("_", " ")} {value}' for key, value in counts.items()))
    click.echo(f'Stored {len(table)} candidates in group {group.label!r} (generation node {node.pk}).')
    if plot is not None:
        matches = outputs['matches'].get_dataframe().to_dict('records')
        structures = (lower_node.get_pymatgen_structure(), upper_node.get_pymatgen_structure())
        plot_matched_planes(*structures, matches, plot, color_by)
        click.echo(f'Saved the stereographic projection of the matched planes to {plot}.')
