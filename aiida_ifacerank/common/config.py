"""A study's settings as a validated model (YAML file or command-line options): every problem is found and
described before anything is submitted."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError


class ConfigError(ValueError):
    """Settings that cannot make a study: the message names each bad input and what to do."""


def read_mapping(path: Path, needed: str) -> dict:
    """The YAML mapping in the file ``path``; ConfigError in one line if it is not valid YAML or not a mapping
    (``needed`` says of what)."""
    import yaml  # noqa: PLC0415

    try:
        values = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as exception:
        raise ConfigError(f'{path}: not valid YAML ({" ".join(str(exception).split())}); fix the file.') from None
    if not isinstance(values, dict):
        raise ConfigError(f'{path}: a mapping of {needed} is needed, got {type(values).__name__}.')
    return values


class StudyConfig(BaseModel):
    """Settings of ``aiida-ifacerank study submit`` (the keys of its YAML file)."""

    model_config = ConfigDict(extra='forbid')

    lower: Path
    """Structure file (CIF, POSCAR, ...) of the lower (substrate) crystal."""
    upper: Path
    """Structure file of the upper (film) crystal."""
    mlp_code: str | int
    """The code that runs the MLP driver: label, ``label@computer``, pk or UUID."""
    dft_code: str | int
    """The pw.x (or VASP) code."""
    protocol: Literal['fast', 'balanced', 'precise'] = 'balanced'
    engine: Literal['qe', 'vasp'] = 'qe'
    model: str | int = 'large'
    """A MACE-MP-0 name (small, medium, large), the path of a model file (uploaded once, by sha256) or the pk or
    UUID of a stored model."""
    artemis_code: str | int | None = None
    """Label of an ``ifacerank.artemis`` code: ARTEMIS generates the candidates (tags in overrides.artemis)."""
    group: str | None = None
    """Group the submitted study is added to."""
    overrides: dict[str, Any] = {}
    """Overrides of the study protocol (keys of ``protocols/study.yaml``)."""

    @classmethod
    def from_values(cls, values: dict, source: str = 'settings') -> StudyConfig:
        """Validated settings; ConfigError with one line per problem (key: what is wrong)."""
        try:
            return cls(**values)
        except ValidationError as error:
            problems = []
            for item in error.errors():
                key = '.'.join(str(part) for part in item['loc']) or '(top level)'
                if item['type'] == 'extra_forbidden':
                    problems.append(f'{key}: unknown key; use {", ".join(cls.model_fields)}')
                elif item['type'] == 'missing':
                    problems.append(f'{key}: missing (required)')
                else:
                    problems.append(f'{key}: {item["msg"]} (got {item.get("input")!r})')
            raise ConfigError(f'{source}: ' + '; '.join(problems)) from None

    def builder(self):
        """The study's builder, after checking files, codes, pseudopotential family, model and overrides; the work
        chain's own input validation runs too. Nothing is stored but a model file (by sha256) and nothing runs."""
        from aiida_ifacerank.workflows.study import StudyWorkChain  # noqa: PLC0415

        lower, upper = (self._structure(name) for name in ('lower', 'upper'))
        codes = {name: self._code(name) for name in ('mlp_code', 'dft_code', 'artemis_code')}
        model = self._model()
        try:
            builder = StudyWorkChain.get_builder_from_protocol(
                codes['mlp_code'],
                codes['dft_code'],
                lower,
                upper,
                protocol=self.protocol,
                overrides=self.overrides,
                model=model,
                engine=self.engine,
                artemis_code=codes['artemis_code'],
            )
        except (ValueError, KeyError, TypeError) as exception:
            raise ConfigError(f'overrides: {exception}') from None
        self._check_family(builder)
        error = StudyWorkChain.spec().inputs.validate(builder._inputs(prune=True))  # what submit sends
        if error is not None:
            raise ConfigError(f'the study refuses these inputs: {error.message}')
        return builder

    def _structure(self, name: str):
        from aiida.orm import StructureData  # noqa: PLC0415
        from pymatgen.core import Structure  # noqa: PLC0415

        path = getattr(self, name)
        if not path.is_file():
            raise ConfigError(f'{name}: no file {path}; give the path of a structure file (CIF, POSCAR, ...).')
        try:
            return StructureData(pymatgen=Structure.from_file(path))
        except Exception as exception:  # pymatgen raises many types for unreadable files
            raise ConfigError(f'{name}: {path} is not a structure file pymatgen can read ({exception}).') from None

    def _code(self, name: str):
        from aiida.common.exceptions import MultipleObjectsError, NotExistent  # noqa: PLC0415
        from aiida.orm import load_code  # noqa: PLC0415

        label = getattr(self, name)
        if label is None:
            return None
        try:
            return load_code(label)
        except (NotExistent, MultipleObjectsError, ValueError) as exception:
            raise ConfigError(f'{name}: {exception} (see `verdi code list`; `verdi code create` makes one).') from None

    def _model(self):
        from aiida.orm import load_node  # noqa: PLC0415

        from aiida_ifacerank.data import PotentialModelData  # noqa: PLC0415

        if self.model in ('small', 'medium', 'large'):
            return self.model
        path = Path(str(self.model))
        if path.is_file():
            try:
                return PotentialModelData.get_or_create(path)
            except ValueError as exception:
                raise ConfigError(f'model: {exception}') from None
        try:
            node = load_node(self.model)
        except Exception:  # NotExistent, MultipleObjectsError, not an identifier
            node = None
        if not isinstance(node, PotentialModelData):
            raise ConfigError(
                f'model: {self.model!r} is none of small, medium, large (MACE-MP-0), a model file or a stored model.'
            )
        return node

    def _check_family(self, builder):
        """The pseudopotential (QE) or POTCAR (VASP) family of the DFT protocol must be installed."""
        from aiida.orm import Group, QueryBuilder  # noqa: PLC0415

        from aiida_ifacerank.workflows.dft import DftWorkChain  # noqa: PLC0415

        dft = DftWorkChain.get_protocol_inputs(builder.dft.protocol.value, builder.dft.overrides.get_dict())
        key = 'pseudo_family' if self.engine == 'qe' else 'potential_family'
        family = dft[self.engine][key]
        group = QueryBuilder().append(Group, filters={'label': family}).first(flat=True)
        if group is None:
            hint = (
                '`aiida-ifacerank install-pseudos`' if self.engine == 'qe' else "aiida-vasp's `verdi data vasp-potcar`"
            )
            raise ConfigError(f'{key} {family!r} of the DFT protocol is not installed in this profile: use {hint}.')
        elements = set(builder.lower.get_symbols_set()) | set(builder.upper.get_symbols_set())
        missing = sorted(elements - set(getattr(group, 'elements', elements)))
        if missing:
            raise ConfigError(
                f'{key} {family!r} has no pseudopotential for {missing}: install a family that covers every element '
                '(overrides.dft.overrides.qe.pseudo_family).'
            )


def submission_problem() -> str | None:
    """Why ``submit`` would fail now (a ZeroMQ profile whose daemon is not running, or was killed and left its pid
    file: its broker runs inside the daemon), or None."""
    import psutil  # noqa: PLC0415
    from aiida.manage import get_manager  # noqa: PLC0415

    manager = get_manager()
    profile = manager.get_profile()
    if profile.process_control_backend != 'core.zeromq':
        return None
    pid = manager.get_daemon_client().get_daemon_pid()
    try:
        alive = pid is not None and 'circus' in ' '.join(psutil.Process(pid).cmdline())
    except psutil.Error:  # no such process (a pid file left by a killed daemon), or not ours to read
        alive = False
    if not alive:
        return (
            f'the daemon of profile {profile.name!r} is not running and its ZeroMQ broker runs inside it: '
            'start it with `verdi daemon start`, then submit again.'
        )
    return None
