"""``aiida-ifacerank study``: submit a study, follow it, write its report, list past studies, re-rank or export
one. Bad input ends in one line on stderr and exit status 2 (usage) or 1, never a traceback."""

from __future__ import annotations

from pathlib import Path

import click

from . import cmd_root

BAR_WIDTH = 24


def _fail(message: str):
    raise click.ClickException(message)


def _study(identifier):
    from aiida_ifacerank.common.study import load_study  # noqa: PLC0415

    try:
        return load_study(identifier)
    except ValueError as exception:
        _fail(str(exception))


@cmd_root.group('study')
def cmd_study():
    """Submit, follow, report, list, re-rank and export ifacerank.study work chains."""


@cmd_study.command('submit')
@click.argument('config_file', required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option('--lower', type=click.Path(path_type=Path), help='Structure file of the lower (substrate) crystal.')
@click.option('--upper', type=click.Path(path_type=Path), help='Structure file of the upper (film) crystal.')
@click.option('--mlp-code', help="Label of the code running the MLP driver (the computer's Python with mace).")
@click.option('--dft-code', help='Label of the pw.x (or VASP) code.')
@click.option('--protocol', type=click.Choice(['fast', 'balanced', 'precise']), help='Study protocol [balanced].')
@click.option('--engine', type=click.Choice(['qe', 'vasp']), help='DFT engine [qe].')
@click.option('--model', help='Foundation-model name (small, medium, large) or a model file [large].')
@click.option('--artemis-code', help='Label of an ifacerank.artemis code: ARTEMIS generates the candidates.')
@click.option('--group', 'group_label', help='Add the study to this group (created if needed).')
@click.option('--dry-run', is_flag=True, help='Validate everything and build the inputs, submit nothing.')
def cmd_submit(config_file, dry_run, **options):
    """Submit a study from CONFIG_FILE (YAML, keys as the options plus ``overrides``) and/or options; prints its pk.

    Everything is checked before anything is submitted: unknown keys, wrong types, missing files, codes,
    pseudopotential families and protocol overrides each give one message.
    """
    from aiida.engine import submit  # noqa: PLC0415

    from aiida_ifacerank.common.config import ConfigError, StudyConfig, read_mapping, submission_problem  # noqa: PLC0415

    try:
        values = read_mapping(config_file, 'study settings') if config_file is not None else {}
        values.update({key: value for key, value in options.items() if value is not None})
        config = StudyConfig.from_values(values, source=str(config_file or 'options'))
        builder = config.builder()
    except ConfigError as exception:
        _fail(str(exception))
    if dry_run:
        click.echo(f'valid: {config.lower} | {config.upper}, protocol {config.protocol}; nothing submitted')
        return
    problem = submission_problem()
    if problem:
        _fail(problem)
    node = submit(builder)
    if config.group:
        from aiida.orm import Group  # noqa: PLC0415

        Group.collection.get_or_create(config.group)[0].add_nodes(node)
    click.echo(f'Submitted ifacerank.study<{node.pk}>')


def progress_bar(done: int, total: int | None) -> str:
    """A text bar of done out of total."""
    if not total:
        return '[' + ' ' * BAR_WIDTH + ']'
    filled = round(BAR_WIDTH * min(done, total) / total)
    return '[' + '#' * filled + '-' * (BAR_WIDTH - filled) + ']'


def status_lines(study) -> list[str]:
    """The text of ``study status``: one line per stage with a progress bar, then the failures with reasons."""
    from aiida_ifacerank.common.study import materials, progress  # noqa: PLC0415

    lower, upper = materials(study)
    state = study.process_state.value if study.process_state else 'created'
    exit_text = f', exit status {study.exit_status}' if study.exit_status is not None else ''
    lines = [f'ifacerank.study<{study.pk}> {lower} | {upper}: {state}{exit_text}']
    if study.exit_message:
        lines.append(f'  {study.exit_message}')
    failures = []
    for stage in progress(study):
        total = stage.expected
        count = f'{stage.done}/{total}' if total else f'{stage.done}'
        extra = []
        if stage.failed:
            extra.append(f'{len(stage.failed)} failed')
        if stage.running:
            extra.append(f'{stage.running} running')
        lines.append(
            f'  {stage.name:<28} {progress_bar(stage.done, total or stage.done)} {count:>7} {", ".join(extra)}'.rstrip()
        )
        failures.extend(stage.failed)
    if failures:
        lines.append('Failures:')
        lines.extend(f'  {failure}' for failure in failures)
    return lines


@cmd_study.command('status')
@click.argument('identifier', required=False)
@click.option(
    '--watch',
    type=click.FloatRange(min=1),
    metavar='SECONDS',
    help='Look again every SECONDS and print the status, after the seconds elapsed, whenever it changed; '
    'return when the study has ended. One process, so that following a study costs no start-up per look.',
)
def cmd_status(identifier, watch):
    """Stage-by-stage progress of study IDENTIFIER (pk or UUID; default the newest study), failures with reasons."""
    import time  # noqa: PLC0415

    from aiida.manage import get_manager  # noqa: PLC0415
    from aiida.orm import load_node  # noqa: PLC0415

    from aiida_ifacerank.common.study import studies  # noqa: PLC0415

    if identifier is None:
        newest = studies().first(flat=True)
        if newest is None:
            _fail('no ifacerank.study in this profile.')
        study = newest
    else:
        study = _study(identifier)
    if watch is None:
        click.echo('\n'.join(status_lines(study)))
        return
    started, previous = time.monotonic(), None
    while True:
        # the state first: a study that ends between the two reads is printed once more, with its end
        terminated = study.is_terminated
        lines = status_lines(study)
        if lines != previous:
            click.echo(f'[{time.monotonic() - started:.0f} s]')
            click.echo('\n'.join(lines))
            previous = lines
        if terminated:
            return
        time.sleep(watch)
        # end the read transaction: the next look sees what the daemon wrote since, and SQLite is not held
        get_manager().get_profile_storage().get_session().commit()
        study = load_node(study.pk)


@cmd_study.command('list')
@click.option('--limit', type=click.IntRange(min=1), default=50, show_default=True, help='Newest studies shown.')
def cmd_list(limit):
    """Past studies: materials, state, candidates with an E_f per mode, Spearman ρ of each mode against DFT@DFT."""
    from aiida_ifacerank.common.study import finished_counts, headline, materials, studies  # noqa: PLC0415

    rows = []
    for (study,) in studies().limit(limit).iterall():
        lower, upper = materials(study)
        counts = finished_counts(study)
        rho = headline(study)
        state = study.process_state.value if study.process_state else 'created'
        if study.exit_status:
            state += f' [{study.exit_status}]'
        rows.append(
            (
                str(study.pk),
                study.ctime.strftime('%Y-%m-%d %H:%M'),
                f'{lower}|{upper}',
                state,
                ' '.join(f'{mode}:{count}' for mode, count in counts.items()) or '-',
                ' '.join(f'{mode}:{value:.2f}' for mode, value in rho.items()) or '-',
            )
        )
    header = ('pk', 'created', 'materials', 'state', 'E_f per mode', 'Spearman vs DFT@DFT')
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo('  '.join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip())


@cmd_study.command('report')
@click.argument('identifier')
@click.option(
    '-o', '--output-dir', type=click.Path(file_okay=False, path_type=Path), required=True, help='Where files go.'
)
def cmd_report(identifier, output_dir):
    """Write the tables of study IDENTIFIER as CSV, its plots (PNG and SVG) and summary.txt into OUTPUT_DIR."""
    from aiida_ifacerank.common.report import write_report  # noqa: PLC0415

    study = _study(identifier)
    try:
        written = write_report(study, output_dir, status_lines(study))
    except ValueError as exception:
        _fail(str(exception))
    click.echo((output_dir / 'summary.txt').read_text())
    click.echo(f'{len(written)} files in {output_dir}')


@cmd_study.command('reanalyse')
@click.argument('identifier')
@click.option('--threshold', type=float, help='Favourable/unfavourable boundary (eV/Å²).')
@click.option('--tolerance', type=click.FloatRange(min=0), help='Energies closer than this (eV/Å²) are ties.')
@click.option('--window', type=click.FloatRange(min=0), help='Half-width (eV/Å²) of the boundary window.')
@click.option('--top-n', 'top_n', type=click.IntRange(min=1), multiple=True, help='N of a Top-N overlap; repeat.')
@click.option('--reference', help='Mode the others are compared with.')
@click.option('--subset', 'subsets', multiple=True, metavar='NAME=CONDITION', help='Extra named group; repeat.')
def cmd_reanalyse(identifier, subsets, **parameters):
    """A new ranking of study IDENTIFIER on its stored energies with other analysis settings; prints its pk."""
    from aiida_ifacerank.common.study import reanalyse  # noqa: PLC0415

    study = _study(identifier)
    settings = {key: value for key, value in parameters.items() if value not in (None, ())}
    if 'top_n' in settings:
        settings['top_n'] = list(settings['top_n'])
    if subsets:
        pairs = [subset.partition('=') for subset in subsets]
        bad = [subset for subset, (_, sep, condition) in zip(subsets, pairs, strict=True) if not sep or not condition]
        if bad:
            _fail(f'--subset {bad[0]!r}: use NAME=CONDITION, e.g. "Si (001)=lower == \'Si\'".')
        settings['subsets'] = {name.strip(): condition.strip() for name, _, condition in pairs}
    try:
        node = reanalyse(study, **settings)
    except ValueError as exception:
        _fail(str(exception))
    if not node.is_finished_ok:
        _fail(f'the new ranking failed: {node.exit_message or node.process_state.value}')
    stats = node.outputs.stats.get_dataframe()
    shown = stats[stats['group_key'] == 'all'][['mode_a', 'mode_b', 'n', 'spearman_rho', 'kendall_tau_b', 'rmse']]
    click.echo(shown.to_string(index=False))
    click.echo(f'ifacerank.rank<{node.pk}> on the energies of study {study.pk}')


@cmd_root.command('export')
@click.argument('identifier')
@click.option(
    '-o', '--output-dir', type=click.Path(file_okay=False, path_type=Path), required=True, help='Where files go.'
)
def cmd_export(identifier, output_dir):
    """Every structure of every mode of study IDENTIFIER with its energies: one extxyz per mode and energies.csv."""
    import pandas as pd  # noqa: PLC0415
    from ase.io import write  # noqa: PLC0415

    from aiida_ifacerank.common.study import mode_structures  # noqa: PLC0415

    study = _study(identifier)
    try:
        structures = mode_structures(study)
    except ValueError as exception:
        _fail(str(exception))
    output_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for mode, frames in structures.items():
        path = output_dir / f'structures_{mode.replace("@", "_at_")}.extxyz'
        write(path, frames, format='extxyz')
        rows.extend({**atoms.info, 'atoms': len(atoms), 'file': path.name} for atoms in frames)
    pd.DataFrame(rows).to_csv(output_dir / 'energies.csv', index=False)
    click.echo(f'{len(rows)} structures of {len(structures)} modes in {output_dir}')
