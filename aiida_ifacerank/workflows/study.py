"""``ifacerank.study``: two bulk crystals in, a four-mode ranking of their interfaces out.

Stages (``docs/study.md``): bulk references with each method (whole cell relaxed: lattice and μ per element);
generation (pymatgen or ARTEMIS); the candidates scaled onto each method's own substrate lattice; MLP
relaxation of every candidate in batched jobs; DFT relaxation of a subset, at most ``max_concurrent`` runs at
once, together with the DFT single points of MLP@DFT; MLP single points of DFT@MLP in one job; formation
energies of every mode by one calcfunction; ``ifacerank.rank``; the report.
"""

from __future__ import annotations

import copy
from importlib import resources

from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import ProcessBuilder, ToContext, WorkChain, if_, while_
from aiida.plugins import CalculationFactory
from aiida_quantumespresso.workflows.protocols.utils import ProtocolMixin, recursive_merge

from aiida_ifacerank.analysis.selection import check_subset
from aiida_ifacerank.analysis.table import MODES, mode_port
from aiida_ifacerank.calculations import study as functions
from aiida_ifacerank.calculations.generate import check_inputs, generate_interfaces
from aiida_ifacerank.calculations.mlp import check_settings
from aiida_ifacerank.calculations.rank import PARAMETER_NAMES, rank
from aiida_ifacerank.data import PotentialModelData, StructureCollectionData, TableData
from aiida_ifacerank.science.energetics import energy_tolerance
from aiida_ifacerank.workflows.dft import DftWorkChain, define_dft_namespace, dft_builder
from aiida_ifacerank.workflows.mlp import MlpBatchWorkChain

ArtemisCalculation = CalculationFactory('ifacerank.artemis')

STUDY_OWNED = ('task', 'cell', 'fmax', 'frozen_layers_ang')
"""MLP settings the study sets itself (the same convergence as DFT): not accepted in ``mlp.mlp.parameters``."""
DFT_STARTS = ('generated', 'mlp')
"""Start of each DFT relaxation: the generated candidate on DFT's lattice, or the MLP-relaxed geometry
scaled onto DFT's lattice."""


def validate_inputs(inputs, _):
    """Everything that can be checked before any job: crystals, generation, MLP settings, DFT inputs, subset."""
    lower, upper = inputs['lower'], inputs['upper']
    for name, structure in (('lower', lower), ('upper', upper)):
        if len(structure.get_symbols_set()) != 1:
            return (
                f'{name} must be an elemental crystal (μ per element from its bulk), got {structure.get_formula()}: '
                'compounds need a chemical-potential choice that ifacerank.study does not make.'
            )
    model = inputs['mlp']['mlp'].get('model')
    if model is not None and model.elements is not None:
        missing = sorted((set(lower.get_symbols_set()) | set(upper.get_symbols_set())) - set(model.elements))
        if missing:
            return (
                f'mlp.mlp.model<{model.pk}> knows only {model.elements}, not {missing}: give a model trained on every '
                'element of the two crystals.'
            )
    try:
        if 'artemis' not in inputs:
            check_inputs(lower, upper, inputs['generation'].get_dict() if 'generation' in inputs else {})
    except ValueError as exception:
        return f'generation: {exception}'
    if 'artemis' in inputs and 'generation' in inputs:
        return 'give either generation (pymatgen backend) or artemis (ARTEMIS backend) inputs, not both.'
    parameters = inputs['mlp']['mlp']['parameters'].get_dict() if 'parameters' in inputs['mlp']['mlp'] else {}
    owned = sorted(set(parameters) & set(STUDY_OWNED))
    if owned:
        return (
            f'mlp.mlp.parameters sets {owned}: the study sets them (fmax_ev_ang, frozen_layers_ang) for both methods.'
        )
    error = check_settings(parameters)
    if error:
        return f'mlp.mlp.parameters: {error}'
    error = check_subset(inputs['dft_subset'].get_dict())
    if error:
        return error
    if inputs['dft_start'].value not in DFT_STARTS:
        return f'dft_start must be one of {DFT_STARTS}, got {inputs["dft_start"].value!r}.'
    for name in ('fmax_ev_ang', 'kpoints_distance_inv_ang'):
        if not inputs[name].value > 0:
            return f'{name} must be > 0, got {inputs[name].value}.'
    if inputs['frozen_layers_ang'].value < 0 or inputs['max_concurrent'].value < 1:
        return 'frozen_layers_ang must be >= 0 Å and max_concurrent >= 1.'
    analysis = inputs['analysis'].get_dict() if 'analysis' in inputs else {}
    unknown = sorted(set(analysis) - set(PARAMETER_NAMES) - {'tolerance'})
    if unknown:
        return f'unknown analysis parameter(s) {unknown}: use {sorted({*PARAMETER_NAMES, "tolerance"})}.'
    try:
        dft_builder(
            inputs['dft'], lower, 'relax', 'all', inputs['fmax_ev_ang'].value, inputs['kpoints_distance_inv_ang'].value
        )
    except (ValueError, TypeError, KeyError) as exception:
        return f'dft: {exception}'
    return None


def _output(node, name: str):
    """Output ``name`` of a process node, or None."""
    return node.outputs[name] if name in node.outputs else None


class StudyWorkChain(ProtocolMixin, WorkChain):
    """Generate, relax (MLP and DFT), cross-evaluate and rank the interfaces of two bulk crystals."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input('lower', valid_type=orm.StructureData, help='Bulk crystal of the lower slab (substrate), elemental.')
        spec.input('upper', valid_type=orm.StructureData, help='Bulk crystal of the upper slab (film), elemental.')
        spec.input(
            'generation',
            valid_type=orm.Dict,
            required=False,
            help='Parameters of ifacerank.generate (pymatgen backend); see GenerationParameters.',
        )
        spec.expose_inputs(
            ArtemisCalculation,
            namespace='artemis',
            exclude=('lower', 'upper'),
            namespace_options={'required': False, 'populate_defaults': False, 'help': 'ARTEMIS backend instead.'},
        )
        spec.expose_inputs(
            MlpBatchWorkChain,
            namespace='mlp',
            exclude=('structures',),
            namespace_options={'help': 'MLP code, model, settings and scheduler options of every MLP job.'},
        )
        define_dft_namespace(spec)
        spec.input(
            'fmax_ev_ang', valid_type=orm.Float, help='Force threshold (eV/Å) of every relaxation, MLP and DFT alike.'
        )
        spec.input(
            'kpoints_distance_inv_ang',
            valid_type=orm.Float,
            help='k-point spacing (1/Å, 2π included) of every DFT run: interfaces and bulk references.',
        )
        spec.input(
            'frozen_layers_ang',
            valid_type=orm.Float,
            default=lambda: orm.Float(0.0),
            help='Thickness (Å) of each frozen region of an interface, both methods (0: none).',
        )
        spec.input(
            'dft_subset',
            valid_type=orm.Dict,
            default=lambda: orm.Dict({'choice': 'all'}),
            help='Candidates relaxed with DFT: {choice: all | mlp_top | stratified | smallest | list, n, labels}.',
        )
        spec.input('dft_start', valid_type=orm.Str, default=lambda: orm.Str('generated'), help=f'One of {DFT_STARTS}.')
        spec.input(
            'max_concurrent', valid_type=orm.Int, default=lambda: orm.Int(10), help='DFT work chains running at once.'
        )
        spec.input(
            'analysis',
            valid_type=orm.Dict,
            required=False,
            help='Parameters of ifacerank.rank (top_n, threshold, window, tolerance, subsets, ...); the tolerance '
            'defaults to the energy resolution of the force threshold (energetics.energy_tolerance).',
        )
        spec.inputs.validator = validate_inputs
        spec.outline(
            cls.setup,
            cls.run_references,
            cls.inspect_references,
            if_(cls.has_mlp_lattice)(cls.run_mlp_relax, cls.inspect_mlp_relax),
            cls.select_dft,
            while_(cls.dft_pending)(cls.run_dft_wave, cls.inspect_dft_wave),
            cls.tabulate_dft,
            if_(cls.has_dft_geometries)(cls.run_dft_at_mlp),
            cls.results,
        )
        spec.output('candidates', valid_type=TableData, help='The generated candidates and their metadata.')
        spec.output(
            'formation', valid_type=TableData, help='E_f (eV/Å², J/m²) per candidate and mode, with its energy and μ.'
        )
        spec.output('chemical_potentials', valid_type=orm.Dict, help='μ per element (eV/atom) per mode.')
        spec.output_namespace('ranking', valid_type=(TableData, orm.Dict), dynamic=True, help='ifacerank.rank outputs.')
        spec.output_namespace(
            'report', valid_type=(TableData, orm.Dict), dynamic=True, help='Agreement, cost, summary.'
        )
        spec.exit_code(300, 'ERROR_GENERATION_FAILED', message='Generation gave no candidates: {reason}')
        spec.exit_code(301, 'ERROR_NO_BULK_REFERENCE', message='No bulk reference with either method: {reason}')
        spec.exit_code(410, 'ERROR_INCOMPLETE', message='The study finished without {missing}')

    @classmethod
    def get_protocol_filepath(cls):
        return resources.files('aiida_ifacerank.protocols') / 'study.yaml'

    @classmethod
    def get_builder_from_protocol(
        cls,
        mlp_code: orm.AbstractCode,
        dft_code: orm.AbstractCode,
        lower: orm.StructureData,
        upper: orm.StructureData,
        protocol: str | None = None,
        overrides: dict | None = None,
        model: PotentialModelData | str = 'large',
        engine: str = 'qe',
        artemis_code: orm.AbstractCode | None = None,
        **_,
    ):
        """Builder of a study of ``upper`` on ``lower``: ``model`` a stored model node or a foundation-model name
        (MACE-MP-0 ``large`` as in the reference study); ``engine`` qe or vasp. ``overrides`` uses the keys of
        ``protocols/study.yaml`` (``dft.overrides`` goes to ifacerank.dft's protocol). With ``artemis_code`` the
        candidates come from ARTEMIS, with the ARTEMIS tags of ``overrides['artemis']``, instead of pymatgen."""
        known = set(cls.get_protocol_inputs(protocol)) - {'description'}
        unknown = sorted(set(overrides or {}) - known)
        if unknown:
            raise ValueError(f'unknown override key(s) {unknown}: use {sorted(known)}.')
        inputs = cls.get_protocol_inputs(protocol, copy.deepcopy(overrides))
        builder = cls.get_builder()
        builder.lower, builder.upper = lower, upper
        if artemis_code is None:
            builder.generation = orm.Dict(inputs['generation'])
        else:
            builder.artemis.code = artemis_code
            builder.artemis.parameters = orm.Dict(inputs['artemis'])
        mlp = inputs['mlp']
        builder.mlp.mlp.code = mlp_code
        if isinstance(model, str):
            builder.mlp.mlp.foundation_model = orm.Str(model)
        else:
            builder.mlp.mlp.model = model
        builder.mlp.mlp.parameters = orm.Dict(mlp['parameters'])
        builder.mlp.mlp.metadata.options = recursive_merge(
            {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1}}, mlp.get('options', {})
        )
        builder.mlp.seconds_per_structure = orm.Float(mlp['seconds_per_structure'])
        dft = inputs['dft']
        builder.dft.code = dft_code
        builder.dft.engine = orm.Str(engine)
        builder.dft.protocol = orm.Str(dft['protocol'])
        builder.dft.overrides = orm.Dict(dft.get('overrides', {}))
        builder.dft.options = orm.Dict(dft.get('options', {}))
        for name in ('fmax_ev_ang', 'kpoints_distance_inv_ang', 'frozen_layers_ang'):
            builder[name] = orm.Float(inputs[name])
        builder.dft_subset = orm.Dict(inputs['dft_subset'])
        builder.dft_start = orm.Str(inputs['dft_start'])
        builder.max_concurrent = orm.Int(inputs['max_concurrent'])
        builder.analysis = orm.Dict(inputs['analysis'])
        return builder

    # ---- helpers

    def _mlp(self, structures: StructureCollectionData, task: str, cell: str, label: str):
        """Submit an MLP batch of ``structures`` with the study's convergence settings."""
        inputs = self.exposed_inputs(MlpBatchWorkChain, 'mlp')
        parameters = inputs['mlp']['parameters'].get_dict() if 'parameters' in inputs['mlp'] else {}
        frozen = self.inputs.frozen_layers_ang.value if task == 'relax' and cell == 'normal' else 0.0
        parameters.update(task=task, cell=cell, fmax=self.inputs.fmax_ev_ang.value, frozen_layers_ang=frozen)
        inputs['mlp'] = {**inputs['mlp'], 'parameters': orm.Dict(parameters)}
        inputs['structures'] = structures
        inputs['metadata'] = {'call_link_label': label}
        return self._submit_once(MlpBatchWorkChain, inputs)

    def _dft(self, structure, task: str, cell: str, label: str):
        frozen = self.inputs.frozen_layers_ang.value if cell == 'normal' else 0.0
        builder = dft_builder(
            self.inputs.dft,
            structure,
            task,
            cell,
            self.inputs.fmax_ev_ang.value,
            self.inputs.kpoints_distance_inv_ang.value,
            frozen,
        )
        builder.metadata.call_link_label = label
        return self._submit_once(DftWorkChain, builder)

    def _child(self, label: str):
        """The process this study already called with link label ``label``, or None."""
        links = self.node.base.links.get_outgoing(link_type=(LinkType.CALL_CALC, LinkType.CALL_WORK))
        return next((link.node for link in links.all() if link.link_label == label), None)

    def _submit_once(self, process, inputs):
        """Submit ``process``, unless this step already did before the daemon that ran it died: a step resumes
        from its start, and without this look-up its submissions would run twice."""
        label = inputs['metadata']['call_link_label']
        called = self._child(label)
        if called is not None:
            self.report(f'{label}: {called.process_label}<{called.pk}> already submitted by an interrupted step')
            return called
        return self.submit(inputs) if isinstance(inputs, ProcessBuilder) else self.submit(process, **inputs)

    # ---- outline

    def setup(self):
        self.ctx.bulk_names = list(functions.bulk_names(self.inputs.lower, self.inputs.upper))
        self.ctx.tables = {port: [] for port in map(mode_port, MODES)}
        self.ctx.queue = []
        self.ctx.dft_runs = {}

    def run_references(self):
        """The generation (pymatgen: here, before any job; a failure ends the study with 300), then the bulk
        references with each method (whole cell) and, with ARTEMIS, its job."""
        if 'artemis' not in self.inputs:
            generation = self._child('generation')
            if generation is None or not generation.is_finished_ok:
                parameters = self.inputs.generation if 'generation' in self.inputs else orm.Dict({})
                try:
                    _, generation = generate_interfaces.run_get_node(
                        lower=self.inputs.lower,
                        upper=self.inputs.upper,
                        parameters=parameters,
                        metadata={'call_link_label': 'generation'},
                    )
                except ValueError as exception:  # no lattice match, no candidate left: the reason is the message
                    return self.exit_codes.ERROR_GENERATION_FAILED.format(reason=str(exception))
            self.ctx.generation = generation
        self.ctx.bulk = functions.bulk_structures(self.inputs.lower, self.inputs.upper)
        futures = {'mlp_bulk': self._mlp(self.ctx.bulk, 'relax', 'all', 'mlp_bulk')}
        bulk = functions.extract_structures(self.ctx.bulk, orm.List(self.ctx.bulk_names))
        for name in self.ctx.bulk_names:
            futures[f'dft_{name}'] = self._dft(bulk[name], 'relax', 'all', f'dft_relax_{name}')
        if 'artemis' in self.inputs:
            inputs = self.exposed_inputs(ArtemisCalculation, 'artemis')
            metadata = {**inputs.get('metadata', {}), 'call_link_label': 'artemis'}
            inputs.update(lower=self.inputs.lower, upper=self.inputs.upper, metadata=metadata)
            futures['artemis'] = self._submit_once(ArtemisCalculation, inputs)
        return ToContext(**futures)

    def inspect_references(self):
        """Tabulate the bulk references; scale the candidates onto each method's relaxed substrate lattice."""
        generation = (self.ctx.generation if 'generation' in self.ctx else self.ctx.artemis).outputs
        if 'structures' not in generation:
            reason = (
                'none within the limits' if 'artemis' not in self.ctx else f'ARTEMIS: {self.ctx.artemis.exit_message}'
            )
            return self.exit_codes.ERROR_GENERATION_FAILED.format(reason=reason)
        self.ctx.candidates = generation['candidates']
        self.ctx.structures = generation['structures']
        self.out('candidates', self.ctx.candidates)
        self.report(f'{len(self.ctx.structures)} candidates; bulk references {self.ctx.bulk_names}')

        self.ctx.dft_bulk = self._tabulate({name: self.ctx[f'dft_{name}'] for name in self.ctx.bulk_names})
        mlp_bulk = self.ctx.mlp_bulk
        self.ctx.mlp_bulk_structures = _output(mlp_bulk, 'structures')
        self.ctx.mlp_lattice = self._has_lower(self.ctx.mlp_bulk_structures)
        self.ctx.dft_lattice = self._has_lower(self.ctx.dft_bulk.get('structures'))
        if not (self.ctx.mlp_lattice or self.ctx.dft_lattice):
            return self.exit_codes.ERROR_NO_BULK_REFERENCE.format(reason='the bulk relaxations failed')
        if self.ctx.mlp_lattice:
            self._add('mlp_mlp', mlp_bulk.outputs.results, self.ctx.mlp_bulk_structures)
            self.ctx.mlp_candidates = functions.scale_candidates(
                self.ctx.structures, self.ctx.bulk, self.ctx.mlp_bulk_structures
            )
        else:
            self.report(f'MLP bulk references failed: {mlp_bulk.exit_message}')
            if 'results' in mlp_bulk.outputs:
                self._add('mlp_mlp', mlp_bulk.outputs.results)
        self._add('dft_dft', self.ctx.dft_bulk['results'], self.ctx.dft_bulk.get('structures'))
        if self.ctx.dft_lattice:
            self.ctx.dft_candidates = functions.scale_candidates(
                self.ctx.structures, self.ctx.bulk, self.ctx.dft_bulk['structures']
            )
        return None

    def has_mlp_lattice(self):
        return self.ctx.mlp_lattice

    def run_mlp_relax(self):
        return ToContext(mlp_relax=self._mlp(self.ctx.mlp_candidates, 'relax', 'normal', 'mlp_relax'))

    def inspect_mlp_relax(self):
        node = self.ctx.mlp_relax
        if not node.is_finished_ok:
            self.report(f'MLP relaxation: {node.exit_message}')
        if 'results' in node.outputs:
            self._add('mlp_mlp', node.outputs.results, _output(node, 'structures'))

    def select_dft(self):
        """The DFT subset, and the queue of DFT runs: relaxations of the subset (on DFT's lattice, from the generated
        or the MLP-relaxed geometry) and the single points of MLP@DFT (MLP-relaxed subset and bulk references)."""
        tables = self._numbered('mlp_mlp')
        subset = functions.select_dft(self.ctx.candidates, self.inputs.dft_subset, **tables)
        self.ctx.subset = subset.get_list()
        self.report(f'DFT subset ({self.inputs.dft_subset.get_dict()}): {len(self.ctx.subset)} candidate(s)')
        mlp_relaxed = _output(self.ctx.mlp_relax, 'structures') if 'mlp_relax' in self.ctx else None
        if self.ctx.dft_lattice and self.ctx.subset:
            start = self.ctx.dft_candidates
            if self.inputs.dft_start.value == 'mlp' and mlp_relaxed is not None:
                start = functions.scale_candidates(
                    mlp_relaxed, self.ctx.mlp_bulk_structures, self.ctx.dft_bulk['structures']
                )
            available = [label for label in self.ctx.subset if label in start.labels]
            structures = functions.extract_structures(start, orm.List(available)) if available else {}
            self.ctx.queue += [['relax', label, structures[label]] for label in available]
        if self.ctx.mlp_lattice:
            relaxed = [label for label in self.ctx.subset if mlp_relaxed is not None and label in mlp_relaxed.labels]
            bulk = self.ctx.mlp_bulk_structures
            structures = functions.extract_structures(bulk, orm.List(bulk.labels))
            self.ctx.queue += [['scf', label, structures[label]] for label in bulk.labels]
            if relaxed:
                structures = functions.extract_structures(mlp_relaxed, orm.List(relaxed))
                self.ctx.queue += [['scf', label, structures[label]] for label in relaxed]

    def dft_pending(self):
        return bool(self.ctx.queue)

    def run_dft_wave(self):
        """Submit up to ``max_concurrent`` queued DFT runs and wait for them."""
        futures = {}
        for _ in range(min(self.inputs.max_concurrent.value, len(self.ctx.queue))):
            task, label, structure = self.ctx.queue.pop(0)
            name = f'dft_{task}_{label}'
            futures[name] = self._dft(structure, 'relax' if task == 'relax' else 'single_point', 'normal', name)
            self.ctx.dft_runs[name] = [task, label]
        return ToContext(**futures)

    def inspect_dft_wave(self):
        finished = [name for name in self.ctx.dft_runs if name in self.ctx]
        failed = [name for name in finished if not self.ctx[name].is_finished_ok]
        if failed:
            self.report(f'DFT runs failed: {", ".join(failed)}')

    def tabulate_dft(self):
        """One table and one collection per DFT task (relax, scf), from the finished and failed runs."""
        for task, port in (('relax', 'dft_dft'), ('scf', 'mlp_dft')):
            runs = {label: self.ctx[name] for name, (kind, label) in self.ctx.dft_runs.items() if kind == task}
            if runs:
                tabulated = self._tabulate(runs)
                self.ctx[f'dft_{task}'] = tabulated
                self._add(port, tabulated['results'], tabulated.get('structures'))

    def has_dft_geometries(self):
        return self.ctx.dft_lattice and self.ctx.mlp_lattice and 'structures' in self.ctx.get('dft_relax', {})

    def run_dft_at_mlp(self):
        """DFT@MLP: MLP single points on the DFT-relaxed interfaces and bulk references, one job."""
        structures = functions.concatenate_collections(
            collection_1=self.ctx.dft_bulk['structures'], collection_2=self.ctx.dft_relax['structures']
        )
        return ToContext(dft_at_mlp=self._mlp(structures, 'single_point', 'normal', 'mlp_single_point'))

    def results(self):
        """Formation energies, the ranking and the report; the exit status says what is missing."""
        missing = {
            'mlp_mlp': 'no MLP result',
            'dft_dft': 'no DFT relaxation'
            if self.ctx.dft_lattice
            else 'no DFT lattice: the DFT bulk relaxations failed',
            'mlp_dft': 'no DFT single point',
            'dft_mlp': 'no MLP single point',
        }
        if 'dft_at_mlp' in self.ctx:
            node = self.ctx.dft_at_mlp
            if not node.is_finished_ok:
                self.report(f'MLP single points of the DFT geometries: {node.exit_message}')
                missing['dft_mlp'] = f'MLP single points: {node.exit_message}'
            if 'results' in node.outputs:
                self._add('dft_mlp', node.outputs.results, _output(node, 'structures'))
        tables = {}
        for port in self.ctx.tables:
            tables.update(self._numbered(port))
        formation = functions.formation_energies(
            self.ctx.candidates,
            orm.Dict({'missing': missing, 'subset': self.ctx.subset}),
            **tables,
            metadata={'call_link_label': 'formation'},
        )
        self.out('formation', formation['formation'])
        self.out('chemical_potentials', formation['chemical_potentials'])
        modes = [port for port in map(mode_port, MODES) if port in formation]
        analysis = self.inputs.analysis.get_dict() if 'analysis' in self.inputs else {}
        analysis.setdefault('tolerance', self._tolerance())
        ranking = rank(
            interfaces=formation['interfaces'],
            parameters=orm.Dict(analysis),
            **{port: formation[port] for port in modes},
            metadata={'call_link_label': 'rank'},
        )
        self.out_many({f'ranking.{name}': node for name, node in ranking.items()})
        report = functions.study_report(
            formation=formation['formation'],
            parameters=orm.Dict(
                {
                    'mlp_cores': self._mlp_cores(),
                    'top_n': analysis.get('top_n', [5, 10]),
                    'dft_start': self.inputs.dft_start.value,
                }
            ),
            interfaces=formation['interfaces'],
            stats=ranking['stats'],
            **self._report_inputs(),
            metadata={'call_link_label': 'report'},
        )
        self.out_many({f'report.{name}': node for name, node in report.items()})
        missing = report['summary'].get_dict()['missing']
        if missing:
            text = ', '.join(f'{count} {mode} energies' for mode, count in missing.items())
            return self.exit_codes.ERROR_INCOMPLETE.format(
                missing=f'{text} (see report.summary and ranking.completeness)'
            )
        return None

    # ---- internals

    def _tabulate(self, runs: dict) -> dict:
        """:func:`~aiida_ifacerank.calculations.study.tabulate_dft` of ``ifacerank.dft`` runs by label."""
        labels = list(runs)
        outputs, failures = {}, {}
        for number, label in enumerate(labels):
            node = runs[label]
            if node.is_finished_ok:
                outputs[f'summary_{number}'] = node.outputs.summary
                outputs[f'structure_{number}'] = node.outputs.structure
            else:
                failures[label] = [
                    node.exit_status if node.exit_status is not None else -2,
                    node.exit_message or node.process_state.value,
                ]
        return functions.tabulate_dft(orm.Dict(failures), orm.List(labels), **outputs)

    @staticmethod
    def _has_lower(structures) -> bool:
        return structures is not None and 'bulk_lower' in structures.labels

    def _add(self, port: str, results, structures=None):
        self.ctx.tables[port].append([results, structures])

    def _numbered(self, port: str) -> dict:
        tables = {}
        for number, (results, structures) in enumerate(self.ctx.tables[port], start=1):
            tables[f'{port}_results_{number}'] = results
            if structures is not None:
                tables[f'{port}_structures_{number}'] = structures
        return tables

    def _tolerance(self) -> float:
        """Default tolerance (eV/Å²): the energy resolution of the force threshold at the candidates' median
        atoms per interface area."""
        frame = self.ctx.candidates.get_dataframe()
        density = float((frame['atoms'] / frame['area_ang2']).median())
        return energy_tolerance(self.inputs.fmax_ev_ang.value, density)

    def _mlp_cores(self) -> int:
        resources_ = self.inputs.mlp.mlp.metadata.options.get('resources', {})
        threads = self.inputs.mlp.mlp.parameters.get('threads', 0) if 'parameters' in self.inputs.mlp.mlp else 0
        return int(threads or resources_.get('num_cores_per_machine') or resources_.get('num_mpiprocs_per_machine', 1))

    def _report_inputs(self) -> dict:
        inputs = {}
        if 'mlp_relax' in self.ctx:
            inputs['mlp_relax'] = self.ctx.mlp_relax.outputs.results
            if 'structures' in self.ctx.mlp_relax.outputs:
                inputs['mlp_structures'] = self.ctx.mlp_relax.outputs.structures
        if 'dft_relax' in self.ctx:
            inputs['dft_relax'] = self.ctx.dft_relax['results']
            if 'structures' in self.ctx.dft_relax:
                inputs['dft_structures'] = self.ctx.dft_relax['structures']
        if 'dft_scf' in self.ctx:
            inputs['dft_scf'] = self.ctx.dft_scf['results']
        return inputs
