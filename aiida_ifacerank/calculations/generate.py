"""``ifacerank.generate``: interface candidates from two bulk crystals, stored as StructureData with their origin."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pymatgen.core
from aiida.engine import calcfunction
from aiida.orm import Dict, Group, StructureData

from aiida_ifacerank.common.candidates import CANDIDATE_PREFIX, candidate_outputs
from aiida_ifacerank.data import TableData
from aiida_ifacerank.science.generation import GenerationParameters, check_bulk, check_cell, generate


def generation_parameters(parameters: dict | None) -> GenerationParameters:
    """Validated :class:`GenerationParameters` from a plain dict; a clear ``ValueError`` for bad keys or values."""
    parameters = dict(parameters or {})
    known = {f.name for f in dataclasses.fields(GenerationParameters)}
    unknown = sorted(set(parameters) - known)
    if unknown:
        raise ValueError(f'unknown generation parameter(s) {unknown}: use {sorted(known)}.')
    for name in ('max_miller', 'thickness', 'shift_grid', 'gaps'):
        if name in parameters:
            parameters[name] = tuple(parameters[name])
    if 'plane_pairs' in parameters:
        parameters['plane_pairs'] = tuple(tuple(tuple(plane) for plane in pair) for pair in parameters['plane_pairs'])
    return GenerationParameters(**parameters)


def check_inputs(lower: StructureData, upper: StructureData, parameters: dict | None) -> GenerationParameters:
    """Everything that can be checked before generation runs; raises ``ValueError`` naming the input."""
    for name, structure in (('lower', lower), ('upper', upper)):
        if not all(structure.pbc):
            raise ValueError(f'{name} bulk structure must be periodic in all three directions, pbc is {structure.pbc}.')
        check_cell(structure.cell, len(structure.sites), name)  # before pymatgen, which needs the inverse cell
        check_bulk(structure.get_pymatgen_structure(), name)
    return generation_parameters(parameters)


@calcfunction
def generate_interfaces(lower: StructureData, upper: StructureData, parameters: Dict) -> dict:
    """Unique interface candidates of ``upper`` (film) on ``lower`` (substrate).

    Outputs: ``candidate_NNNN`` StructureData (attribute ``ifacerank``: materials, Miller indices,
    termination, shift, gap, strains, area Å², atom count, parent match), ``matches`` and
    ``candidates`` tables, ``report`` (counts per stage and every dropped configuration with its reason).
    """
    settings = generation_parameters(parameters.get_dict())
    result = generate(lower.get_pymatgen_structure(), upper.get_pymatgen_structure(), settings)
    outputs = candidate_outputs([(c.structure, c.metadata) for c in result.candidates], lower, upper)
    outputs['matches'] = TableData(pd.DataFrame(result.matches))
    names = {'lower': lower.get_formula(mode='hill_compact'), 'upper': upper.get_formula(mode='hill_compact')}
    report = {'counts': result.counts, 'dropped': result.dropped, 'backend': 'pymatgen', **names}
    report['pymatgen_version'] = pymatgen.core.__version__  # the candidates it finds change between versions
    outputs['report'] = Dict(report)
    return outputs


generate_interfaces.spec().outputs.dynamic = True


def run_generation(lower: StructureData, upper: StructureData, parameters: dict | None = None, group_label=None):
    """Check the inputs, run :func:`generate_interfaces` and put the candidates in a group.

    Returns (outputs, process node, group). The group defaults to ``ifacerank/candidates/<pk>``.
    """
    check_inputs(lower, upper, parameters)
    outputs, node = generate_interfaces.run_get_node(lower=lower, upper=upper, parameters=Dict(parameters or {}))
    group, _ = Group.collection.get_or_create(group_label or f'ifacerank/candidates/{node.pk}')
    group.add_nodes([value for key, value in outputs.items() if key.startswith(CANDIDATE_PREFIX)])
    return outputs, node, group
