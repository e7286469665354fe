"""Sphinx configuration of the aiida-ifacerank documentation.

Build it (warnings are errors) with
``.venv/bin/sphinx-build -W --keep-going -b html docs docs/_build/html``.
"""

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiida.common.warnings import AiidaDeprecationWarning
from aiida.manage.configuration import get_config_option
from sphinx.util import logging

from aiida_ifacerank import __version__

# autodoc reads every class attribute, aiida-core's deprecated aliases (`Node.objects`, `Data.Model`) included.
# Loading AiiDA's configuration (as the first deprecation warning would) sets its filter; silence them after it.
get_config_option('warnings.showdeprecations')
warnings.filterwarnings('ignore', category=AiidaDeprecationWarning)
logger = logging.getLogger(__name__)

project = 'aiida-ifacerank'
author = 'aiida-ifacerank developers'
copyright = 'aiida-ifacerank developers'
version = release = __version__

extensions = [
    'myst_parser',
    'sphinx.ext.autodoc',
]
source_suffix = {'.md': 'markdown'}
root_doc = 'index'
exclude_patterns = ['_build']

# MyST: `[text](#heading-slug)` links within a page, as GitHub renders them.
myst_heading_anchors = 3

# API reference: modules are documented page by page (docs/api/*.md) from their docstrings (reST).
autodoc_member_order = 'bysource'
autodoc_default_options = {
    'show-inheritance': True,
    # The pydantic models that aiida-core's node metaclass adds to every Data subclass, and pydantic's settings.
    'exclude-members': 'AttributesModel, ReadModel, WriteModel, model_config',
}

html_theme = 'sphinx_rtd_theme'
html_title = f'aiida-ifacerank {release}'

API_PACKAGES = ('analysis', 'science', 'tools', 'calculations', 'workflows', 'data', 'common', 'parsers')
"""Every module of these packages must have its ``automodule`` in docs/api/ (checked at the end of reading)."""


def check_api_complete(app, env):
    """Warn (an error with ``-W``) about a module of :data:`API_PACKAGES` that no API page documents."""
    root = Path(__file__).resolve().parents[1]
    documented = set(env.get_domain('py').modules)
    for package in API_PACKAGES:
        for path in sorted((root / 'aiida_ifacerank' / package).rglob('*.py')):
            module = '.'.join(path.relative_to(root).with_suffix('').parts)
            if path.name != '__init__.py' and module not in documented:
                logger.warning(f'module {module} is not in the API reference', location=f'api/{package}')


def setup(app):
    app.connect('env-check-consistency', check_api_complete)
