"""``aiida-ifacerank campaign``: many studies from one YAML file, at most ``max_concurrent`` at once."""

from __future__ import annotations

import time
from pathlib import Path

import click

from . import cmd_root


@cmd_root.group('campaign')
def cmd_campaign():
    """Submit and follow campaigns of studies (a campaign is a group)."""


def _load(path: Path):
    from aiida_ifacerank.common.campaign import CampaignConfig  # noqa: PLC0415
    from aiida_ifacerank.common.config import ConfigError  # noqa: PLC0415

    try:
        campaign = CampaignConfig.from_file(path)
        campaign.check()
    except ConfigError as exception:
        raise click.ClickException(str(exception)) from None
    return campaign


@cmd_campaign.command('submit')
@click.argument('campaign_file', type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option('--dry-run', is_flag=True, help='Validate every study and say what would be submitted.')
@click.option(
    '--watch',
    type=click.FloatRange(min=1),
    help='Keep submitting, every this many seconds, until every study is submitted.',
)
def cmd_submit(campaign_file, dry_run, watch):
    """Submit the studies of CAMPAIGN_FILE not yet in its group, at most max_concurrent active at once.

    Every study is validated before anything is submitted; running the command again submits only what is
    missing.
    """
    from aiida_ifacerank.common.campaign import controller  # noqa: PLC0415
    from aiida_ifacerank.common.config import submission_problem  # noqa: PLC0415

    campaign = _load(campaign_file)
    problem = None if dry_run else submission_problem()
    if problem:
        raise click.ClickException(problem)
    control = controller(campaign)
    while True:
        submitted = control.submit_new_batch(dry_run=dry_run, sort=True)
        for (name,), node in submitted.items():
            click.echo(f'{"would submit" if dry_run else "submitted"} {name}' + (f': study<{node.pk}>' if node else ''))
        left = control.num_to_run
        click.echo(
            f'{campaign.group}: {len(campaign.studies)} studies, {control.num_already_run} submitted, '
            f'{control.num_active_slots} active, {left} to submit'
        )
        if dry_run or watch is None or left == 0:
            return
        time.sleep(watch)


@cmd_campaign.command('status')
@click.argument('campaign')
def cmd_status(campaign):
    """Progress of CAMPAIGN (its YAML file, or its group label): one line per study, then the counts."""
    from aiida_ifacerank.common.campaign import CampaignConfig, campaign_studies  # noqa: PLC0415
    from aiida_ifacerank.common.study import finished_counts  # noqa: PLC0415

    from .study import progress_bar  # noqa: PLC0415

    path = Path(campaign)
    names = None
    if path.is_file():
        config = _load(path)
        label, names = config.group, [CampaignConfig.name(entry) for entry in config.studies]
    else:
        label = campaign
    try:
        studies = campaign_studies(label)
    except ValueError as exception:
        raise click.ClickException(str(exception)) from None
    names = names or sorted(studies)
    counts = {'finished': 0, 'failed': 0, 'running': 0, 'not submitted': 0}
    for name in names:
        node = studies.get(name)
        if node is None:
            counts['not submitted'] += 1
            click.echo(f'  {name:<24} not submitted')
            continue
        if node.is_finished_ok:
            counts['finished'] += 1
        elif node.is_terminated:
            counts['failed'] += 1
        else:
            counts['running'] += 1
        state = node.process_state.value if node.process_state else 'created'
        status = f' [{node.exit_status}]' if node.exit_status else ''
        energies = ' '.join(f'{mode}:{count}' for mode, count in finished_counts(node).items())
        click.echo(f'  {name:<24} study<{node.pk}> {state}{status} {energies}'.rstrip())
    done = counts['finished'] + counts['failed']
    click.echo(
        f'{label}: {progress_bar(done, len(names))} {done}/{len(names)} done; '
        + ', '.join(f'{count} {state}' for state, count in counts.items())
    )
