"""Bad input across the YAML study file, the command line and the Python API: one message that names the input
and says what to do, before anything is submitted, and no traceback. One row per mistake."""

import numpy as np
import pytest
import yaml
from aiida.orm import ProcessNode, QueryBuilder, StructureData
from ase.build import bulk

from aiida_ifacerank.data import PotentialModelData
from aiida_ifacerank.workflows.study import StudyWorkChain
from tests.command_line import invoke, one_clean_error
from tests.models import build_random_mace
from tests.studies import crystal

DIAMOND = {'Si': 5.431, 'Ge': 5.658, 'C': 3.567, 'Sn': 6.489}
"""Cubic lattice constants (Å) of the diamond crystals the rows use."""


def poscar(path, species, counts, cell, fractions) -> str:
    """Write a POSCAR (direct coordinates; 'nan' allowed) and return its path."""
    lines = ['bad input', '1.0', *(' '.join(str(x) for x in vector) for vector in cell)]
    lines += [' '.join(species), ' '.join(str(n) for n in counts), 'direct']
    lines += [' '.join(str(x) for x in position) for position in fractions]
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


def diamond(path, element, fractions=((0, 0, 0), (0.25, 0.25, 0.25)), cell=None, species=None):
    """Primitive diamond cell of ``element`` as a POSCAR, with the given fractions or cell."""
    half = DIAMOND[element] / 2
    cell = cell if cell is not None else [[0, half, half], [half, 0, half], [half, half, 0]]
    species = species or [element]
    counts = [len(fractions)] if len(species) == 1 else [1] * len(species)
    return poscar(path, species, counts, cell, fractions)


@pytest.fixture(scope='module')
def setting(study_codes, tmp_path_factory):
    """Valid study settings (a random MACE file, the session's codes) and a folder for bad files."""
    folder = tmp_path_factory.mktemp('bad-input')
    model = build_random_mace(folder / 'random.model')
    python, pw = study_codes
    values = {
        'lower': 'examples/bulk/Si.cif',
        'upper': 'examples/bulk/Ge.cif',
        'mlp_code': python.label,
        'dft_code': pw.label,
        'protocol': 'fast',
        'model': str(model),
    }
    return values, folder


def write(folder, values, name='study.yaml'):
    path = folder / name
    path.write_text(yaml.safe_dump(values))
    return path


def processes() -> int:
    return QueryBuilder().append(ProcessNode).count()


# (row id, function (valid values, folder) -> changed values, the message's text)
STUDY_FILE_ROWS = [
    ('unknown key', lambda v, f: {**v, 'bogus': 1}, 'bogus: unknown key; use lower, upper'),
    ('key typo', lambda v, f: {**v, 'protocl': 'fast'}, 'protocl: unknown key'),
    ('missing required key', lambda v, f: {k: x for k, x in v.items() if k != 'dft_code'}, 'dft_code: missing'),
    ('unknown protocol', lambda v, f: {**v, 'protocol': 'quick'}, "protocol: Input should be 'fast'"),
    ('unknown engine', lambda v, f: {**v, 'engine': 'castep'}, "engine: Input should be 'qe' or 'vasp'"),
    ('missing code', lambda v, f: {**v, 'mlp_code': 'no-such-code'}, 'mlp_code: '),
    ('missing structure file', lambda v, f: {**v, 'lower': 'missing.cif'}, 'lower: no file missing.cif'),
    ('unreadable structure file', lambda v, f: {**v, 'upper': str(write(f, 'a: 1', 'ge.cif'))}, 'upper: '),
    (
        'molecule, not periodic',
        lambda v, f: {**v, 'lower': str(_xyz(f))},
        'is not a structure file pymatgen can read',
    ),
    (
        'NaN coordinates',
        lambda v, f: {**v, 'lower': diamond(f / 'nan.vasp', 'Si', ((0, 0, 0), ('nan', 0.25, 0.25)))},
        'lower bulk structure has NaN or infinite cell vectors or coordinates',
    ),
    (
        'overlapping atoms',
        lambda v, f: {**v, 'upper': diamond(f / 'overlap.vasp', 'Ge', ((0, 0, 0), (0.001, 0, 0)))},
        'upper bulk structure has atoms closer than 0.5 Å',
    ),
    (
        'zero volume',
        lambda v, f: {
            **v,
            'lower': diamond(f / 'flat.vasp', 'Si', cell=[[0, 2.7, 2.7], [2.7, 0, 2.7], [2.7, 2.7, 5.4]]),
        },
        'linearly dependent',
    ),
    (
        'slab with vacuum, not a bulk',
        lambda v, f: {**v, 'lower': _slab(f)},
        'give the bulk crystal, not a slab with vacuum',
    ),
    (
        'compound crystal',
        lambda v, f: {**v, 'lower': diamond(f / 'sic.vasp', 'C', species=['Si', 'C'])},
        'lower must be an elemental crystal',
    ),
    (
        'element the pseudopotential family lacks',
        lambda v, f: {**v, 'upper': diamond(f / 'sn.vasp', 'Sn')},
        "has no pseudopotential for ['Sn']",
    ),
    ('pseudopotential family not installed', lambda v, f: _override(v, 'dft', _family('no/such')), 'not installed'),
    ('model file that is not a model', lambda v, f: {**v, 'model': str(write(f, 'x', 'x.model'))}, 'not a PyTorch'),
    ('unknown model name', lambda v, f: {**v, 'model': 'huge'}, "model: 'huge' is none of small, medium, large"),
    ('unknown override', lambda v, f: {**v, 'overrides': {'dft_subsets': {}}}, 'unknown override key'),
    ('zero area limit', lambda v, f: _override(v, 'generation', {'max_area': 0}), 'max_area must be > 0'),
    ('absurd area limit', lambda v, f: _override(v, 'generation', {'max_area': 1e6}), 'over the limit 2000'),
    ('absurd Miller limit', lambda v, f: _override(v, 'generation', {'max_miller': [9, 9]}), 'over the limit 5'),
    ('generation typo', lambda v, f: _override(v, 'generation', {'max_aera': 30}), "parameter(s) ['max_aera']"),
    ('negative fmax', lambda v, f: _override(v, 'fmax_ev_ang', -0.05), 'fmax_ev_ang must be > 0'),
    ('no concurrency', lambda v, f: _override(v, 'max_concurrent', 0), 'max_concurrent >= 1'),
    ('unknown subset', lambda v, f: _override(v, 'dft_subset', {'choice': 'best'}), 'dft_subset'),
    ('unknown DFT start', lambda v, f: _override(v, 'dft_start', 'random'), 'dft_start must be one of'),
    ('unknown optimiser', lambda v, f: _override(v, 'mlp', {'parameters': {'optimizer': 'SD'}}), 'optimizer'),
    ('unknown analysis key', lambda v, f: _override(v, 'analysis', {'top_m': [1]}), 'unknown analysis parameter'),
]


def _override(values, key, value):
    return {**values, 'overrides': {key: value}}


def _family(label):
    return {'overrides': {'qe': {'pseudo_family': label}}}


def _xyz(folder):
    path = folder / 'molecule.xyz'
    path.write_text('2\nSi2\nSi 0 0 0\nSi 0 0 2.3\n')
    return path


def _slab(folder):
    atoms = bulk('Si', 'diamond', DIAMOND['Si'], cubic=True)
    atoms.center(vacuum=5.0, axis=2)
    return poscar(folder / 'slab.vasp', ['Si'], [len(atoms)], atoms.cell.array, atoms.get_scaled_positions())


@pytest.mark.parametrize(
    ('change', 'message'), [row[1:] for row in STUDY_FILE_ROWS], ids=[r[0] for r in STUDY_FILE_ROWS]
)
def test_study_file(setting, change, message):
    values, folder = setting
    before = processes()
    one_clean_error(invoke('study', 'submit', write(folder, change(values, folder)), '--dry-run'), message)
    assert processes() == before


def test_study_file_that_is_not_yaml_or_not_a_mapping(setting):
    _, folder = setting
    path = folder / 'broken.yaml'
    path.write_text('lower: [Si.cif\nupper: Ge.cif\n')
    one_clean_error(invoke('study', 'submit', path), 'not valid YAML')
    path.write_text('- lower: Si.cif\n')
    one_clean_error(invoke('study', 'submit', path), 'a mapping of study settings is needed, got list')


def test_element_the_model_lacks(setting):
    """A model that says which elements it knows (a trained one does) refuses a crystal of another element."""
    values, folder = setting
    model = PotentialModelData(str(build_random_mace(folder / 'sige.model', seed=3)), elements=['Si', 'Ge']).store()
    changed = {**values, 'model': model.pk, 'lower': diamond(folder / 'c.vasp', 'C')}
    one_clean_error(
        invoke('study', 'submit', write(folder, changed), '--dry-run'), "knows only ['Si', 'Ge'], not ['C']"
    )


COMMAND_ROWS = [
    ('status of an unknown pk', ('study', 'status', 99999999), 'no node with identifier'),
    ('report of an unknown pk', ('study', 'report', 99999999, '-o', 'out'), 'no node with identifier'),
    ('export of a non-number', ('export', 'not-a-pk', '-o', 'out'), 'no node with identifier'),
    ('report of a node that is no study', ('study', 'report', 'CODE', '-o', 'out'), 'not an ifacerank.study'),
    ('unknown plane in a query', ('query', '--plane', '00x|001'), "plane pair '00x|001': give"),
    ('unknown metric in a query', ('query', '--metric', 'pearson'), "metric 'pearson': use"),
    ('campaign without studies', ('campaign', 'submit', 'EMPTY'), 'studies'),
    ('campaign with a repeated name', ('campaign', 'submit', 'TWICE'), 'study names must be unique'),
]


@pytest.mark.parametrize(('arguments', 'message'), [row[1:] for row in COMMAND_ROWS], ids=[r[0] for r in COMMAND_ROWS])
def test_command(setting, study_codes, arguments, message):
    values, folder = setting
    study = {key: values[key] for key in ('lower', 'upper', 'mlp_code', 'dft_code', 'model')}
    files = {
        'CODE': study_codes[0].pk,
        'EMPTY': write(folder, {'group': 'bad', 'max_concurrent': 1, 'studies': []}, 'empty.yaml'),
        'TWICE': write(folder, {'group': 'bad', 'studies': [{'name': 'a', **study}] * 2}, 'twice.yaml'),
    }
    before = processes()
    one_clean_error(invoke(*(files.get(argument, argument) for argument in arguments)), message)
    assert processes() == before


def _atoms(kind):
    """Si diamond cells made bad in the Python API: non-periodic, NaN, overlapping, flat."""
    atoms = bulk('Si', 'diamond', DIAMOND['Si'])
    if kind == 'not periodic':
        atoms.pbc = False
    elif kind == 'NaN':
        atoms.positions[1, 0] = np.nan
    elif kind == 'overlapping':
        atoms.positions[1] = atoms.positions[0] + 0.01
    elif kind == 'flat':
        atoms.cell[2] = atoms.cell[0] + atoms.cell[1]
    return atoms


API_ROWS = [
    ('not periodic', {'lower': 'not periodic'}, 'generation: lower bulk structure must be periodic'),
    ('NaN coordinates', {'upper': 'NaN'}, 'upper bulk structure has NaN'),
    ('overlapping atoms', {'lower': 'overlapping'}, 'lower bulk structure has atoms closer than 0.5 Å'),
    ('flat cell', {'upper': 'flat'}, 'its cell vectors are linearly dependent'),
    ('zero area limit', {'generation': {'max_area': 0.0}}, 'max_area must be > 0'),
    ('absurd atom limit', {'generation': {'max_atoms': 10**6}}, 'max_atoms 1000000 is over the limit 5000'),
    ('zero k-point spacing', {'kpoints_distance_inv_ang': 0.0}, 'kpoints_distance_inv_ang must be > 0'),
    ('negative frozen layers', {'frozen_layers_ang': -1.0}, 'frozen_layers_ang must be >= 0'),
]


@pytest.mark.parametrize(('change', 'message'), [row[1:] for row in API_ROWS], ids=[r[0] for r in API_ROWS])
def test_python_api(setting, study_codes, change, message):
    """``get_builder_from_protocol`` then the validation that ``submit`` runs: a ValueError or a port message."""
    values, _ = setting
    structures = {name: crystal(element) for name, element in (('lower', 'Si'), ('upper', 'Ge'))}
    overrides = dict(change)
    for name in ('lower', 'upper'):
        if name in overrides:
            structures[name] = StructureData(ase=_atoms(overrides.pop(name)))
    model = PotentialModelData.get_or_create(values['model'])
    try:
        builder = StudyWorkChain.get_builder_from_protocol(
            *study_codes, structures['lower'], structures['upper'], protocol='fast', overrides=overrides, model=model
        )
        error = StudyWorkChain.spec().inputs.validate(builder._inputs(prune=True))
        text = error.message if error else 'no error'
    except ValueError as exception:
        text = str(exception)
    assert message in text and '\n' not in text.strip(), text
