"""Campaigns: many studies from one YAML file, submitted with aiida-submission-controller into a group.

A campaign file holds the group, the most studies active at once, settings shared by every study
(``defaults``, keys of :class:`~aiida_ifacerank.common.config.StudyConfig`) and one entry per study (its
``name``, unique in the campaign, plus any key of a study's settings). Each submitted study carries the extra
``ifacerank_campaign`` = its name; submitting again submits only the names not yet in the group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiida import orm
from aiida_submission_controller import BaseSubmissionController
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aiida_ifacerank.common.config import ConfigError, StudyConfig, read_mapping

EXTRA = 'ifacerank_campaign'
"""Extra of a submitted study: its name in the campaign."""


class CampaignConfig(BaseModel):
    """A campaign file."""

    model_config = ConfigDict(extra='forbid')

    group: str
    """Label of the campaign's group (created if needed): every study of the campaign is in it."""
    max_concurrent: int = Field(4, gt=0)
    """Most studies of the campaign running at once."""
    defaults: dict[str, Any] = {}
    """Study settings shared by every study (``overrides`` are merged, an entry's own win)."""
    studies: list[dict[str, Any]] = Field(min_length=1)
    """One entry per study: ``name`` (default lower|upper file stems) and study settings."""

    @classmethod
    def from_file(cls, path: Path) -> CampaignConfig:
        """The validated campaign of ``path``: ConfigError naming every problem (of the file and of each study)."""
        values = read_mapping(path, 'group, max_concurrent, defaults and studies')
        try:
            campaign = cls(**values)
        except ValidationError as error:
            problems = [f'{".".join(str(part) for part in item["loc"])}: {item["msg"]}' for item in error.errors()]
            raise ConfigError(f'{path}: ' + '; '.join(problems)) from None
        names = [campaign.name(entry) for entry in campaign.studies]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ConfigError(f'{path}: study names must be unique in a campaign, repeated: {repeated}.')
        return campaign

    @staticmethod
    def name(entry: dict) -> str:
        """The study's name in the campaign: its ``name``, or the stems of its lower and upper files."""
        if 'name' in entry:
            return str(entry['name'])
        return f'{Path(str(entry.get("lower", "?"))).stem}|{Path(str(entry.get("upper", "?"))).stem}'

    def study(self, name: str) -> StudyConfig:
        """The settings of study ``name``: the defaults updated by its entry (``overrides`` merged)."""
        entry = next(entry for entry in self.studies if self.name(entry) == name)
        values = {**self.defaults, **{key: value for key, value in entry.items() if key != 'name'}}
        values['overrides'] = {**self.defaults.get('overrides', {}), **entry.get('overrides', {})}
        return StudyConfig.from_values(values, source=f'study {name!r}')

    def check(self) -> dict:
        """{name: builder} of every study, or ConfigError listing every study that cannot be built."""
        builders, problems = {}, []
        for entry in self.studies:
            name = self.name(entry)
            try:
                builders[name] = self.study(name).builder()
            except ConfigError as exception:
                prefix = f'study {name!r}: '
                problems.append(str(exception) if str(exception).startswith(prefix) else prefix + str(exception))
        if problems:
            raise ConfigError('; '.join(problems))
        return builders


class CampaignController(BaseSubmissionController):
    """aiida-submission-controller over a campaign: at most ``max_concurrent`` unsealed studies in its group."""

    campaign: CampaignConfig

    def get_all_extras_to_submit(self):
        """One ``(name,)`` per study of the campaign."""
        return {(CampaignConfig.name(entry),) for entry in self.campaign.studies}

    def get_inputs_and_processclass_from_extras(self, extras_values):
        """The builder of the study named ``extras_values[0]``."""
        return self.campaign.study(extras_values[0]).builder()


def controller(campaign: CampaignConfig) -> CampaignController:
    """The campaign's controller; its group is created if needed."""
    orm.Group.collection.get_or_create(campaign.group)
    return CampaignController(
        group_label=campaign.group,
        max_concurrent=campaign.max_concurrent,
        unique_extra_keys=(EXTRA,),
        campaign=campaign,
    )


def campaign_studies(group_label: str) -> dict:
    """{name: study node} of the studies in the campaign group ``group_label``."""
    try:
        group = orm.Group.collection.get(label=group_label)
    except Exception:  # NotExistent
        raise ValueError(f'no group {group_label!r}: submit the campaign first.') from None
    return {
        node.base.extras.get(EXTRA): node
        for node in group.nodes
        if isinstance(node, orm.WorkChainNode) and node.base.extras.get(EXTRA, None) is not None
    }
