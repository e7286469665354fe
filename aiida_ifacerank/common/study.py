"""Reading a stored ``ifacerank.study``: its stages and their progress, its structures per mode, a new ranking
on its stored energies. Used by the CLI; every function takes the study's ``WorkChainNode``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from aiida import orm
from aiida.common.links import LinkType

from aiida_ifacerank.analysis.table import MODES, mode_from_port

STUDY_ENTRY_POINT = 'ifacerank.study'
STAGES = (
    ('bulk references', re.compile(r'mlp_bulk|dft_relax_bulk_\w+')),
    ('generation', re.compile(r'generation|artemis')),
    ('MLP relaxation', re.compile(r'mlp_relax')),
    ('DFT relaxation', re.compile(r'dft_relax_candidate_\d+')),
    ('MLP@DFT single points', re.compile(r'dft_scf_\w+')),
    ('DFT@MLP single points', re.compile(r'mlp_single_point')),
    ('formation, ranking, report', re.compile(r'formation|rank|report')),
)
"""Stages of a study in order, each with the call link labels of its processes."""


@dataclass
class Stage:
    """Progress of one stage: how many of its processes are expected, finished, failed and still running."""

    name: str
    expected: int | None = None
    finished: int = 0
    failed: list[str] = field(default_factory=list)
    running: int = 0

    @property
    def done(self) -> int:
        return self.finished + len(self.failed)


def load_study(identifier) -> orm.WorkChainNode:
    """The study with pk or UUID ``identifier``; ValueError if there is none or the node is not a study."""
    try:
        node = orm.load_node(identifier)
    except Exception as exception:  # NotExistent, MultipleObjectsError, a malformed identifier: one message
        raise ValueError(f'no node with identifier {identifier!r} in this profile ({exception}).') from None
    if getattr(node, 'process_type', None) != f'aiida.workflows:{STUDY_ENTRY_POINT}':
        kind = getattr(node, 'process_label', None) or type(node).__name__
        raise ValueError(f'node {node.pk} is a {kind}, not an {STUDY_ENTRY_POINT} work chain.')
    return node


def studies() -> orm.QueryBuilder:
    """QueryBuilder over every study of the profile, newest first (tag ``study``)."""
    return (
        orm.QueryBuilder()
        .append(orm.WorkChainNode, filters={'process_type': f'aiida.workflows:{STUDY_ENTRY_POINT}'}, tag='study')
        .order_by({'study': {'ctime': 'desc'}})
    )


def called(study: orm.WorkChainNode) -> dict:
    """{call link label: process node} of the processes the study called."""
    links = study.base.links.get_outgoing(link_type=(LinkType.CALL_CALC, LinkType.CALL_WORK)).all()
    return {link.link_label: link.node for link in links}


def materials(study: orm.WorkChainNode) -> tuple[str, str]:
    """The lower and upper crystals' reduced formulae."""
    return study.inputs.lower.get_formula('hill_compact'), study.inputs.upper.get_formula('hill_compact')


def _failure(label: str, node: orm.ProcessNode) -> str:
    """One line: call link label, process, exit status (or state) and the reason (exit message or exception)."""
    state = node.process_state.value if node.process_state else 'unknown'
    status = f'exit status {node.exit_status}' if node.exit_status is not None else state
    exception = (node.exception or '').strip().splitlines()
    reason = node.exit_message or (exception[-1] if exception else state)
    return f'{label}: {node.process_label}<{node.pk}> {status}: {reason}'


def _expected(study: orm.WorkChainNode) -> dict:
    """Expected number of processes per stage (the DFT stages once the subset is chosen): one MLP job and one DFT
    relaxation per bulk crystal, one generation, one MLP job per MLP stage, one DFT run per chosen candidate
    (plus the bulks for MLP@DFT), and formation, rank, report."""
    from aiida_ifacerank.calculations.study import bulk_names  # noqa: PLC0415

    bulks = len(bulk_names(study.inputs.lower, study.inputs.upper))
    expected = {'bulk references': 1 + bulks, 'generation': 1, 'MLP relaxation': 1, 'DFT@MLP single points': 1}
    expected['formation, ranking, report'] = 3
    selected = [
        node for node in study.called if node.process_label == 'select_dft' and node.is_finished_ok
    ]  # unlabelled calcfunction: found by its function name
    if selected:
        chosen = len(selected[0].outputs.result.get_list())
        expected['DFT relaxation'] = chosen
        expected['MLP@DFT single points'] = chosen + bulks
    return expected


def progress(study: orm.WorkChainNode) -> list[Stage]:
    """Stage by stage: processes finished, failed (with their reasons) and running, from the stored nodes."""
    children = called(study)
    expected = _expected(study)
    stages = []
    for name, pattern in STAGES:
        stage = Stage(name, expected.get(name))
        for label, node in sorted(children.items()):
            if not pattern.fullmatch(label):
                continue
            if node.is_finished_ok:
                stage.finished += 1
            elif node.is_terminated:
                stage.failed.append(_failure(label, node))
            else:
                stage.running += 1
        stages.append(stage)
    return stages


def ranking_node(study: orm.WorkChainNode) -> orm.CalcFunctionNode | None:
    """The study's own ``ifacerank.rank`` run, or None before it ran."""
    return called(study).get('rank')


def reanalyse(study: orm.WorkChainNode, **parameters) -> orm.CalcFunctionNode:
    """A new ``ifacerank.rank`` run on the same stored energy tables as the study's own ranking, with the study's
    analysis parameters updated by ``parameters``; nothing is recomputed. Returns the new calcfunction node."""
    from aiida_ifacerank.calculations.rank import PARAMETER_NAMES, rank  # noqa: PLC0415

    unknown = sorted(set(parameters) - set(PARAMETER_NAMES))
    if unknown:
        raise ValueError(f'unknown analysis parameter(s) {unknown}: use {list(PARAMETER_NAMES)}.')
    original = ranking_node(study)
    if original is None:
        raise ValueError(f'study {study.pk} has no ranking yet (it is {study.process_state.value}).')
    inputs = {link.link_label: link.node for link in original.base.links.get_incoming(link_type=LinkType.INPUT_CALC)}
    settings = {**inputs.pop('parameters').get_dict(), **parameters}
    _, node = rank.run_get_node(parameters=orm.Dict(settings), **inputs)
    return node


def mode_structures(study: orm.WorkChainNode) -> dict:
    """{mode: [ASE Atoms]} of every evaluated structure (interfaces and bulk references) with its total energy as
    the calculator result and ``info`` interface, mode, energy_ev, formation_ev_ang2, formation_j_m2, exit_status,
    failure (E_f empty for bulk references); from the inputs of the study's ``formation`` calcfunction."""
    from ase.calculators.singlepoint import SinglePointCalculator  # noqa: PLC0415

    from aiida_ifacerank.calculations.study import mode_inputs  # noqa: PLC0415

    node = called(study).get('formation')
    if node is None:
        raise ValueError(f'study {study.pk} has no formation energies yet (it is {study.process_state.value}).')
    tables = {
        link.link_label: link.node
        for link in node.base.links.get_incoming(link_type=LinkType.INPUT_CALC)
        if link.link_label not in ('candidates', 'parameters')
    }
    formation = node.outputs.formation.get_dataframe().set_index(['interface', 'mode'])
    result = {}
    for port, (rows, structures) in mode_inputs(tables).items():
        mode = mode_from_port(port)
        records = rows.drop_duplicates('label', keep='last').set_index('label')
        frames = []
        for label, stored in structures.items():
            if label not in records.index or records.at[label, 'exit_status'] != 0:
                continue
            atoms = stored.copy()
            energy = float(records.at[label, 'energy_ev'])
            atoms.calc = SinglePointCalculator(atoms, energy=energy)
            row = formation.loc[(label, mode)] if (label, mode) in formation.index else None
            atoms.info = {
                'interface': label,
                'mode': mode,
                'energy_ev': energy,
                'formation_ev_ang2': float(row['formation_ev_ang2']) if row is not None else float('nan'),
                'formation_j_m2': float(row['formation_j_m2']) if row is not None else float('nan'),
            }
            frames.append(atoms)
        result[mode] = frames
    return {mode: result[mode] for mode in MODES if mode in result}


def summary(study: orm.WorkChainNode) -> dict:
    """The study's ``report.summary`` (empty before the report ran)."""
    if 'report' not in study.outputs or 'summary' not in study.outputs.report:
        return {}
    return study.outputs.report.summary.get_dict()


def headline(study: orm.WorkChainNode, reference: str = 'DFT@DFT') -> dict:
    """{mode: Spearman ρ against ``reference``} over all interfaces, from the study's ``report.summary``."""
    metrics = summary(study).get('metrics', {}).get(reference, {})
    return {mode: values['spearman_rho'] for mode, values in metrics.items() if values['spearman_rho'] is not None}


def finished_counts(study: orm.WorkChainNode) -> dict:
    """{mode: number of candidates with an E_f}, from the study's ``report.summary``."""
    finished = summary(study).get('finished', {})
    return {mode: int(finished[mode]) for mode in MODES if mode in finished}
