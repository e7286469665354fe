"""Shared fixtures: aiida-core's pytest fixtures give a temporary profile (SQLite + ZeroMQ or PostgreSQL + RabbitMQ)."""

import os

import numpy as np
import pytest

from aiida_ifacerank.analysis import build_table

pytest_plugins = ['aiida.tools.pytest_fixtures']


PRODUCTION = os.environ.get('IFACERANK_TEST_PROFILE') == 'production'
"""``IFACERANK_TEST_PROFILE=production``: the tests run on PostgreSQL + RabbitMQ (``bin/setup-services``) instead of
SQLite + ZeroMQ."""


@pytest.fixture(scope='session')
def aiida_profile(aiida_config, aiida_profile_factory, tmp_path_factory):
    """Temporary profile that can run processes through the daemon: SQLite + ZeroMQ, or PostgreSQL + RabbitMQ (a new
    database, dropped afterwards) with :data:`PRODUCTION`."""
    if PRODUCTION:
        storage = _new_database(tmp_path_factory.mktemp('repository'))
        options = {'storage_backend': 'core.psql_dos', 'storage_config': storage, 'broker_backend': 'core.rabbitmq'}
    else:
        options = {'broker_backend': 'core.zeromq'}
    with aiida_profile_factory(aiida_config, **options) as profile:
        # circus answers 'quit' only after the workers stop: on two loaded cores that can take longer than the
        # default 2 s, and the daemon fixture's teardown would then report a timeout as an error
        aiida_config.set_option('daemon.timeout', 60, scope=profile.name)
        if not PRODUCTION:
            _write_ahead_log(profile)
        yield profile
    if PRODUCTION:
        _database_command(storage, f'DROP DATABASE IF EXISTS "{storage["database_name"]}" WITH (FORCE)')


def _database_command(storage: dict, command: str):
    import psycopg  # noqa: PLC0415

    login = {key: storage[f'database_{key}'] for key in ('hostname', 'port', 'username', 'password')}
    login['host'] = login.pop('hostname')
    login['user'] = login.pop('username')
    with psycopg.connect(dbname='postgres', autocommit=True, **login) as connection:
        connection.execute(command)


def _new_database(repository) -> dict:
    """Storage configuration of a new database on the PostgreSQL of ``bin/setup-services`` (role ``ifacerank``)."""
    import uuid  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    folder = Path(os.environ.get('IFACERANK_SERVICES_DIR', Path.home() / '.ifacerank-services'))
    storage = {
        'database_engine': 'postgresql_psycopg',
        'database_hostname': 'localhost',
        'database_port': 5432,
        'database_username': 'ifacerank',
        'database_password': (folder / 'db-password').read_text().strip(),
        'database_name': f'ifacerank-test-{uuid.uuid4().hex[:12]}',
        'repository_uri': Path(repository).as_uri(),
    }
    _database_command(storage, f'CREATE DATABASE "{storage["database_name"]}"')
    return storage


def _write_ahead_log(profile):
    """SQLite's write-ahead log for the test database, which the session and the daemon's workers share: in the
    default rollback-journal mode a writer about to commit locks every new reader out, and a read then fails with
    'database is locked' after SQLite's 5 s busy timeout; with the log, readers never wait for the writer. The
    mode is kept in the file."""
    import sqlite3  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from aiida.storage.sqlite_dos.backend import FILENAME_DATABASE  # noqa: PLC0415

    connection = sqlite3.connect(Path(profile.storage_config['filepath']) / FILENAME_DATABASE)
    try:
        mode = connection.execute('PRAGMA journal_mode=WAL').fetchone()[0]
    finally:
        connection.close()
    assert mode == 'wal', f'the test database stayed in journal mode {mode!r}'


@pytest.fixture
def mixed_table():
    """Eight interfaces, four modes, one of each failure kind (values in eV/Å²)."""
    reference = np.array([-0.030, -0.010, 0.005, 0.020, 0.040, 0.060, 0.080, 0.100])
    return build_table(
        interfaces=[f'if{i}' for i in range(8)],
        lower=['Si', 'Si', 'Ge', 'Ge', 'Si', 'Ge', 'Si', 'Ge'],
        upper=['Ge', 'Si', 'Si', 'Ge', 'Ge', 'Si', 'Si', 'Ge'],
        miller_lower=['001', '001', '111', '001', '110', '001', '111', '110'],
        miller_upper=['001'] * 8,
        energies={
            'DFT@DFT': reference,
            'MLP@MLP': reference + np.array([0.004, 0.015, -0.010, 0.001, np.nan, -0.002, 0.003, 0.0]),
            'DFT@MLP': reference + np.array([0.001, 0.002, -0.001, np.inf, 0.001, 2.0, 0.0, 0.0]),
            'MLP@DFT': reference + 0.001,
        },
        exit_statuses={'DFT@DFT': [0] * 8, 'MLP@MLP': [0, 0, 0, 0, 0, 0, 0, -1], 'MLP@DFT': [0, 410, 0, 0, 0, 0, 0, 0]},
        failures={'MLP@DFT': ['', 'SCF not converged', '', '', '', '', '', '']},
    )


@pytest.fixture
def artemis_code(aiida_localhost):
    """InstalledCode for the ARTEMIS executable that ``bin/setup`` builds into .venv/bin."""
    import shutil  # noqa: PLC0415
    import sys  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from aiida.orm import InstalledCode  # noqa: PLC0415

    executable = Path(sys.executable).with_name('artemis')
    if not executable.exists():
        executable = Path(shutil.which('artemis') or executable)
    assert executable.exists(), f'ARTEMIS is not built at {executable}: run bin/setup (bin/build-artemis).'
    return InstalledCode(
        label='artemis',
        computer=aiida_localhost,
        filepath_executable=str(executable),
        default_calc_job_plugin='ifacerank.artemis',
    ).store()


@pytest.fixture
def python_code(aiida_localhost):
    """The test session's own Python (it has mace and chgnet) as the code that runs the MLP driver."""
    import sys  # noqa: PLC0415

    from aiida.orm import InstalledCode  # noqa: PLC0415

    return InstalledCode(label='python', computer=aiida_localhost, filepath_executable=sys.executable).store()


@pytest.fixture
def pw_code(aiida_localhost):
    """Debian's pw.x (installed by ``bin/setup``) as a code on localhost."""
    import shutil  # noqa: PLC0415

    from aiida.orm import InstalledCode  # noqa: PLC0415

    executable = shutil.which('pw.x')
    assert executable, 'pw.x not found: bin/setup installs Debian quantum-espresso.'
    aiida_localhost.set_use_double_quotes(False)
    return InstalledCode(
        label='pw',
        computer=aiida_localhost,
        filepath_executable=executable,
        default_calc_job_plugin='quantumespresso.pw',
    ).store()


@pytest.fixture(scope='session')
def trained_mace_file(tmp_path_factory):
    """A small MACE fitted to Tersoff Si-Ge in this session (``tests.models.train_mace_sige``, ~90 s)."""
    from tests.models import train_mace_sige  # noqa: PLC0415

    return train_mace_sige(tmp_path_factory.mktemp('mace') / 'tersoff-sige.model')


@pytest.fixture
def calculator_energies():
    """Function (ASE calculator, list of Atoms) -> energies (eV), one direct in-process call per cell."""

    def energies(calculator, cells):
        values = []
        for cell in cells:
            atoms = cell.copy()
            atoms.calc = calculator
            values.append(atoms.get_potential_energy())
        return np.array(values)

    return energies


@pytest.fixture
def mace_energies(calculator_energies):
    """Function (model file, list of Atoms) -> energies (eV) from a direct in-process MACECalculator."""

    def energies(model_file, cells):
        import mace.calculators  # noqa: PLC0415 - mace before e3nn

        calculator = mace.calculators.MACECalculator(model_paths=str(model_file), device='cpu', default_dtype='float64')
        return calculator_energies(calculator, cells)

    return energies


@pytest.fixture(scope='session')
def study_codes(aiida_profile, tmp_path_factory):
    """(python, pw.x) codes on a computer of the session (for the studies stored once per session)."""
    from aiida.orm import Computer  # noqa: PLC0415

    from aiida_ifacerank.tools.pseudos import install_family  # noqa: PLC0415
    from tests.studies import codes_on  # noqa: PLC0415

    computer = Computer(
        label='localhost-study',
        hostname='localhost',
        transport_type='core.local',
        scheduler_type='core.direct',
        workdir=str(tmp_path_factory.mktemp('study-work')),
    ).store()
    computer.configure(safe_interval=0.0)
    computer.set_use_double_quotes(False)
    install_family()
    return codes_on(computer, 'study')


def _run_study(codes, model_file, lower, upper, subset):
    from aiida.engine import run_get_node  # noqa: PLC0415

    from tests.studies import LOOSE_FMAX, TINY, study_builder  # noqa: PLC0415

    generation = {**TINY['generation'], 'shift_grid': [2, 1]}
    builder = study_builder(
        *codes, model_file, lower, upper, generation=generation, dft_subset=subset, fmax_ev_ang=LOOSE_FMAX
    )
    _, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    return node


@pytest.fixture(scope='session')
def stored_study(study_codes, trained_mace_file):
    """A small Si|Ge study run once per session (in process): three (001) candidates of one layer per side under
    20 Å² (shifts 0 and 1/2 along a), the session's trained MACE, pw.x 25/100 Ry at 0.7 1/Å on the two smallest
    (the third is outside the DFT subset), relaxations to ``LOOSE_FMAX``; four modes."""
    return _run_study(study_codes, trained_mace_file, 'Si', 'Ge', {'choice': 'smallest', 'n': 2})


@pytest.fixture(scope='session')
def second_study(study_codes, trained_mace_file):
    """A Si|Si study as :func:`stored_study`, DFT on one candidate only (no rank correlation with DFT@DFT)."""
    return _run_study(study_codes, trained_mace_file, 'Si', 'Si', {'choice': 'smallest', 'n': 1})
