"""``aiida-ifacerank generate`` from structure files: table, stored group, plot, clear errors."""

from aiida.orm import Group
from click.testing import CliRunner
from pymatgen.core import Lattice, Structure

from aiida_ifacerank.cli import cmd_root


def _bulk_files(tmp_path):
    Structure.from_spacegroup('Fd-3m', Lattice.cubic(5.431), ['Si'], [[0, 0, 0]]).to(filename=str(tmp_path / 'Si.cif'))
    Structure.from_spacegroup('Fd-3m', Lattice.cubic(5.658), ['Ge'], [[0, 0, 0]]).to(
        filename=str(tmp_path / 'POSCAR'), fmt='poscar'
    )
    return str(tmp_path / 'Si.cif'), str(tmp_path / 'POSCAR')


def test_generate_prints_stores_and_plots(tmp_path):
    si, ge = _bulk_files(tmp_path)
    plot = tmp_path / 'planes.png'
    arguments = [
        'generate',
        si,
        ge,
        '--plane',
        '001/001',
        '--max-area',
        '30',
        '--group',
        'cli/si-ge',
        '--plot',
        str(plot),
    ]
    result = CliRunner().invoke(cmd_root, arguments)
    assert result.exit_code == 0, result.output
    assert 'candidate_0000' in result.output and 'unique matches 1' in result.output
    group = Group.collection.get(label='cli/si-ge')
    assert f'Stored {group.count()} candidates' in result.output and group.count() > 0
    assert plot.read_bytes()[:4] == b'\x89PNG'


def test_generate_bad_input_is_a_clear_error(tmp_path):
    si, ge = _bulk_files(tmp_path)
    result = CliRunner().invoke(cmd_root, ['generate', si, ge, '--plane', '000/001'])
    assert result.exit_code != 0 and 'Miller index (0, 0, 0)' in result.output
    result = CliRunner().invoke(cmd_root, ['generate', si, ge, '--plane', '001/001', '--max-length-strain', '0.01'])
    assert result.exit_code != 0 and 'raise max_length_strain' in result.output
    result = CliRunner().invoke(cmd_root, ['generate', str(tmp_path / 'nothing.cif'), ge])
    assert result.exit_code != 0 and 'neither a structure file nor a stored node' in result.output
