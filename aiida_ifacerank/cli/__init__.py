"""Command line interface ``aiida-ifacerank`` (a verdi-like click group)."""

import click
from aiida.cmdline.groups import VerdiCommandGroup
from aiida.cmdline.params import options, types


@click.group('aiida-ifacerank', cls=VerdiCommandGroup, context_settings={'help_option_names': ['-h', '--help']})
@options.PROFILE(type=types.ProfileParamType(load_profile=True), expose_value=False)
def cmd_root():
    """Generate, relax and rank crystalline interfaces with AiiDA."""


from .analyse import cmd_analyse  # noqa: E402
from .campaign import cmd_campaign  # noqa: E402
from .generate import cmd_generate  # noqa: E402
from .pseudos import cmd_install_pseudos  # noqa: E402
from .query import cmd_query  # noqa: E402
from .study import cmd_export, cmd_study  # noqa: E402

__all__ = (
    'cmd_analyse',
    'cmd_campaign',
    'cmd_export',
    'cmd_generate',
    'cmd_install_pseudos',
    'cmd_query',
    'cmd_root',
    'cmd_study',
)
