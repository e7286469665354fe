"""``aiida-ifacerank install-pseudos``: a pseudopotential family from local UPF files, offline."""

from pathlib import Path

import click
from aiida.cmdline.utils import decorators, echo

from aiida_ifacerank.tools.pseudos import DEBIAN_PSEUDO_DIR, DEFAULT_LABEL, install_family

from . import cmd_root


@cmd_root.command('install-pseudos')
@click.option('--label', default=DEFAULT_LABEL, show_default=True, help='Label of the family.')
@click.option(
    '--directory',
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=DEBIAN_PSEUDO_DIR,
    show_default=True,
    help="Folder with the UPF files (Debian's quantum-espresso-data).",
)
@decorators.with_dbenv()
def cmd_install_pseudos(label, directory):
    """Install the PBE Si, Ge and C family (with recommended cutoffs) used by the QE protocols."""
    try:
        family = install_family(label, directory)
    except FileNotFoundError as exception:
        echo.echo_critical(str(exception))
    elements = ', '.join(sorted(family.elements))
    echo.echo_success(
        f'family {family.label} (pk {family.pk}): {elements}; stringencies {family.get_cutoff_stringencies()}'
    )
