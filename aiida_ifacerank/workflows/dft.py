"""``ifacerank.dft``: relax or single-point one structure with Quantum ESPRESSO or VASP, outputs normalized.

The engines' own work chains do the input writing, restarts and error handling
(aiida-quantumespresso's ``PwRelaxWorkChain`` around ``PwBaseWorkChain``, aiida-vasp's
``VaspRelaxWorkChain`` around ``VaspWorkChain``); this work chain picks one, and turns its outputs
into the same few nodes for both: structure, energy (eV), forces (eV/Å) and a summary with
convergence, cost and the job that made the energy.

A pw.x job out of walltime is restarted by aiida-quantumespresso's ``handle_out_of_walltime`` in full,
from the job's save directory (``restart_mode = 'restart'``; input ``walltime_restart = 'full'``, the
default). Debian's pw.x 6.7 aborts such a restart of a vc-relax (MPI_ABORT on the first SCF step after
reading the restart files); with ``walltime_restart = 'from_scratch'`` that handler is switched off and
this work chain starts the relaxation again from scratch from the last geometry the job reached.

``frozen_layers_ang`` holds the atoms of :func:`aiida_ifacerank.science.layers.frozen_atoms` fixed, as
``ifacerank.mlp`` does: QE ``FIXED_COORDS`` (``if_pos`` 0), VASP selective dynamics (aiida-vasp's
``dynamics.positions_dof``).
"""

from __future__ import annotations

import copy
from importlib import resources

import numpy as np
from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import ToContext, WorkChain, append_, calcfunction, while_
from aiida.plugins import CalculationFactory, WorkflowFactory
from aiida_quantumespresso.common.types import RelaxType
from aiida_quantumespresso.workflows.protocols.utils import ProtocolMixin, recursive_merge

from aiida_ifacerank.common.candidates import CANDIDATE_ATTRIBUTE
from aiida_ifacerank.common.types import CELL_CHOICES, TASKS
from aiida_ifacerank.science.layers import LAYER_KEYS
from aiida_ifacerank.tools import dft as settings

PwCalculation = CalculationFactory('quantumespresso.pw')
GPA = 160.21766208
"""1 eV/Å³ in GPa (aiida-quantumespresso gives stress in GPa, aiida-vasp in kbar = 0.1 GPa; both with the engines'
sign, positive under compression, the opposite of ASE's)."""
PwRelaxWorkChain = WorkflowFactory('quantumespresso.pw.relax')
VaspRelaxWorkChain = WorkflowFactory('vasp.relax')

ENGINES = {'qe': PwRelaxWorkChain, 'vasp': VaspRelaxWorkChain}
WALLTIME_RESTARTS = ('full', 'from_scratch')
WALLTIME_HANDLER = 'handle_out_of_walltime'
PROTOCOL_KEYS = {
    'fmax_ev_ang',
    'kpoints_distance_inv_ang',
    'max_wallclock_seconds',
    'dipole_correction',
    'qe',
    'vasp',
}


def _choice(allowed):
    def validator(value, _):
        if value is not None and value.value not in allowed:
            return f'must be one of {tuple(allowed)}, got {value.value!r}.'
        return None

    return validator


def _non_negative(value, _):
    if value is not None and value.value < 0:
        return f'must be >= 0, got {value.value}.'
    return None


def validate_inputs(inputs, _):
    """The namespace of ``engine`` is filled, the other not; ``task`` and ``walltime_restart`` fit the engine inputs."""
    engine, task = inputs['engine'].value, inputs['task'].value
    for name in ENGINES:
        if name == engine and not inputs.get(name):
            return (
                f'engine is {engine!r} but the {engine!r} inputs are empty: '
                f'build them with DftWorkChain.get_builder_from_protocol(code, structure, engine={engine!r}).'
            )
        if name != engine and inputs.get(name):
            return f'engine is {engine!r} but {name!r} inputs were given too: give only one engine.'
    if engine == 'qe':
        calculation = inputs['qe']['base_relax']['pw']['parameters'].get_dict()['CONTROL'].get('calculation')
        if (calculation == 'scf') != (task == 'single_point'):
            return (
                f"task is {task!r} but qe.base_relax.pw.parameters has CONTROL.calculation = '{calculation}': "
                f'build the inputs with get_builder_from_protocol(..., task={task!r}).'
            )
    else:
        relax_settings = inputs['vasp'].get('relax_settings')
        perform = relax_settings.get_dict().get('perform', True) if relax_settings else True
        if perform != (task == 'relax'):
            return (
                f'task is {task!r} but vasp.relax_settings.perform is {perform}: '
                f'build the inputs with get_builder_from_protocol(..., task={task!r}).'
            )
    return _validate_walltime_restart(inputs) or _validate_frozen_layers(inputs)


def _validate_walltime_restart(inputs):
    if inputs['walltime_restart'].value != 'from_scratch':
        return None
    if inputs['engine'].value != 'qe':
        return (
            "walltime_restart 'from_scratch' applies to engine 'qe' only (aiida-vasp continues an unfinished "
            "relaxation from its last CONTCAR itself): leave walltime_restart at 'full'."
        )
    overrides = inputs['qe']['base_relax'].get('handler_overrides')
    override = overrides.get_dict().get(WALLTIME_HANDLER) if overrides else None
    if override is True or (isinstance(override, dict) and override.get('enabled')):
        return (
            f"walltime_restart is 'from_scratch' but qe.base_relax.handler_overrides enables {WALLTIME_HANDLER}: "
            f"remove that override, or set walltime_restart to 'full'."
        )
    return None


def _validate_frozen_layers(inputs):
    frozen = inputs.get('frozen_layers_ang')
    if frozen is None or frozen.value == 0:
        return None
    interface = inputs['structure'].base.attributes.get(CANDIDATE_ATTRIBUTE, {})
    missing = [key for key in LAYER_KEYS if key not in interface]
    if missing:
        return (
            f'frozen_layers_ang is {frozen.value} Å but the structure has no {missing} in its {CANDIDATE_ATTRIBUTE!r} '
            'attribute to tell its slabs apart: give an interface candidate of ifacerank.generate or '
            'ifacerank.artemis, or leave frozen_layers_ang unset.'
        )
    try:
        fixed_coordinates(inputs['structure'], frozen.value)
    except ValueError as exception:
        return f'frozen_layers_ang: the frozen atoms of the structure cannot be found: {exception}'
    engine = inputs['engine'].value
    if engine == 'qe':
        pw = inputs['qe']['base_relax']['pw']
        given = 'settings' in pw and any(key.upper() == 'FIXED_COORDS' for key in pw['settings'].keys())
    else:
        given = 'dynamics' in inputs['vasp']['vasp'] or 'dynamics' in inputs['vasp']['vasp']['parameters'].keys()
    if given:
        return f'frozen_layers_ang is given and the {engine} inputs fix coordinates themselves: give only one.'
    return None


def fixed_coordinates(structure: orm.StructureData, thickness_ang: float) -> list[list[bool]]:
    """Per site of an interface candidate (``ifacerank`` attribute with ``atoms_lower`` and ``model``), three
    flags, True where held fixed: ``thickness_ang`` Å of each frozen region."""
    interface = structure.base.attributes.get(CANDIDATE_ATTRIBUTE)
    return settings.fixed_coordinates(
        structure.cell, structure.get_ase().positions, interface['atoms_lower'], interface['model'], thickness_ang
    )


def engine_inputs(engine: str, inputs: dict, walltime_restart: str, fixed: list | None = None) -> AttributeDict:
    """The ``engine`` work chain's ``inputs``: with ``from_scratch``, aiida-qe's walltime handler switched off;
    with ``fixed`` (per site three flags, True = held fixed), those coordinates fixed.

    The override ``{'handle_out_of_walltime': {'enabled': False}}`` is merged into any
    ``base_relax.handler_overrides`` given; ``fixed`` becomes QE's ``base_relax.pw.settings['FIXED_COORDS']``
    or VASP's ``vasp.dynamics['positions_dof']`` (True = free); ``inputs`` itself is not changed.
    """
    inputs = AttributeDict(inputs)
    if engine == 'qe' and (walltime_restart == 'from_scratch' or fixed):
        base_relax = inputs['base_relax'] = AttributeDict(inputs['base_relax'])
        if walltime_restart == 'from_scratch':
            overrides = base_relax['handler_overrides'].get_dict() if 'handler_overrides' in base_relax else {}
            base_relax['handler_overrides'] = orm.Dict({**overrides, WALLTIME_HANDLER: {'enabled': False}})
        if fixed:
            pw = base_relax['pw'] = AttributeDict(base_relax['pw'])
            pw_settings = pw['settings'].get_dict() if 'settings' in pw else {}
            pw['settings'] = orm.Dict({**pw_settings, 'FIXED_COORDS': fixed})
    if engine == 'vasp' and fixed:
        inputs['vasp'] = AttributeDict(inputs['vasp'])
        inputs['vasp']['dynamics'] = orm.Dict({'positions_dof': [[not flag for flag in site] for site in fixed]})
    return inputs


class DftWorkChain(ProtocolMixin, WorkChain):
    """Relax or single-point one structure with Quantum ESPRESSO or VASP."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input('structure', valid_type=orm.StructureData, help='Interface or bulk reference cell.')
        spec.input('engine', valid_type=orm.Str, validator=_choice(ENGINES), help='qe or vasp.')
        spec.input(
            'task',
            valid_type=orm.Str,
            default=lambda: orm.Str('relax'),
            validator=_choice(TASKS),
            help='relax, or single_point: energy and forces of the given geometry (pw.x scf, VASP without relaxation).',
        )
        for engine, workchain in ENGINES.items():
            spec.expose_inputs(
                workchain,
                namespace=engine,
                exclude=('structure',),
                namespace_options={
                    'required': False,
                    'populate_defaults': False,
                    'help': f'Inputs of the {workchain.__name__} when engine is {engine}.',
                },
            )
        spec.input(
            'walltime_restart',
            valid_type=orm.Str,
            default=lambda: orm.Str('full'),
            validator=_choice(WALLTIME_RESTARTS),
            help="A pw.x job out of walltime. full: aiida-qe's handle_out_of_walltime restarts it from its save "
            "directory (restart_mode 'restart'). from_scratch (engine qe only): that handler is switched off and "
            'the relaxation starts again from scratch from the last geometry, for pw.x builds that abort a full '
            "restart of a vc-relax (Debian's pw.x 6.7).",
        )
        spec.input(
            'max_walltime_restarts',
            valid_type=orm.Int,
            default=lambda: orm.Int(5),
            validator=_non_negative,
            help="With walltime_restart 'from_scratch': how many times a relaxation out of walltime starts again.",
        )
        spec.input(
            'frozen_layers_ang',
            valid_type=orm.Float,
            required=False,
            validator=_non_negative,
            help='Thickness (Å) of each frozen region of an interface candidate (a structure with the ifacerank '
            'attribute), held fixed as in ifacerank.mlp: the middle of each slab in the two-interface models, the '
            'outer face of the lower slab in the slab model (QE FIXED_COORDS, VASP selective dynamics).',
        )
        spec.inputs.validator = validate_inputs
        spec.outline(
            cls.setup,
            while_(cls.should_run_engine)(cls.run_engine, cls.inspect_engine),
            cls.results,
        )
        spec.output('structure', valid_type=orm.StructureData, help='Relaxed structure (single_point: the input one).')
        spec.output('energy', valid_type=orm.Float, help='Total energy (eV) of the output structure.')
        spec.output('forces', valid_type=orm.ArrayData, help="Array 'forces' (eV/Å, atoms x 3) on that structure.")
        spec.output(
            'stress',
            valid_type=orm.ArrayData,
            required=False,
            help="Array 'stress' (eV/Å³, 3 x 3, ASE's sign: negative when the cell would shrink) on that structure, "
            'when the engine computed it (pw.x tstress, VASP ISIF >= 1).',
        )
        spec.output(
            'summary',
            valid_type=orm.Dict,
            help='energy_ev, max_force_ev_ang, converged, ionic_steps, jobs, wall_time_s, cpu_time_s, core_hours '
            '(all jobs, failed ones included), energy_job_uuid; QE: walltime_stops (jobs stopped at walltime).',
        )
        spec.exit_code(
            401,
            'ERROR_ENGINE_FAILED',
            message='{workchain}<{pk}> failed with exit status {status}: {message}',
        )

    @classmethod
    def get_protocol_filepath(cls):
        return resources.files('aiida_ifacerank.protocols') / 'dft.yaml'

    @classmethod
    def get_builder_from_protocol(
        cls,
        code: orm.AbstractCode,
        structure: orm.StructureData,
        engine: str = 'qe',
        protocol: str | None = None,
        task: str = 'relax',
        cell: str = 'normal',
        overrides: dict | None = None,
        options: dict | None = None,
    ):
        """Builder for ``engine`` (qe | vasp), ``task`` (relax | single_point) and ``cell`` (normal | fixed | all).

        ``overrides`` uses the keys of ``protocols/dft.yaml``; ``overrides[engine]['overrides']`` goes
        unchanged to the engine's own ``get_builder_from_protocol``. ``options`` (scheduler options)
        apply to every job. Bulk references for μ_i: the same call, protocol and overrides on the bulk
        cell (``cell='all'``), so cutoffs, pseudopotentials, smearing and thresholds are the interface's.
        """
        for name, value, allowed in (('engine', engine, ENGINES), ('task', task, TASKS), ('cell', cell, CELL_CHOICES)):
            if value not in allowed:
                raise ValueError(f'{name} must be one of {tuple(allowed)}, got {value!r}.')
        unknown = sorted(set(overrides or {}) - PROTOCOL_KEYS)
        if unknown:
            raise ValueError(f'unknown override key(s) {unknown}: use {sorted(PROTOCOL_KEYS)}.')
        inputs = cls.get_protocol_inputs(protocol, copy.deepcopy(overrides))
        if 'kpoints_distance' in inputs.get('qe', {}).get('overrides', {}).get('base_relax', {}):
            raise ValueError(
                'qe.overrides.base_relax.kpoints_distance is not used: give the k-point spacing as '
                'kpoints_distance_inv_ang (1/Å, 2π included), which also decides the Gamma-only runs.'
            )
        options = recursive_merge({'max_wallclock_seconds': inputs['max_wallclock_seconds']}, options or {})
        use_gamma = settings.gamma_only(structure.cell, inputs['kpoints_distance_inv_ang'])
        builder = cls.get_builder()
        builder.structure = structure
        builder.engine = orm.Str(engine)
        builder.task = orm.Str(task)
        make = cls._qe_inputs if engine == 'qe' else cls._vasp_inputs
        builder[engine] = make(code, structure, inputs, task, cell, use_gamma, options)
        return builder

    @staticmethod
    def _qe_inputs(code, structure, inputs, task, cell, use_gamma, options):
        qe = inputs['qe']
        parameters = {'CONTROL': {'forc_conv_thr': settings.qe_force_threshold(inputs['fmax_ev_ang'])}}
        if task == 'relax' and cell != 'fixed':
            pressure = settings.qe_pressure_threshold(
                inputs['fmax_ev_ang'], len(structure.sites), structure.get_cell_volume(), cell
            )
            parameters['CELL'] = {'press_conv_thr': pressure}
        if inputs['dipole_correction']:
            parameters = recursive_merge(parameters, settings.qe_dipole_parameters())
        base = {'pseudo_family': qe['pseudo_family'], 'pw': {'parameters': parameters}}
        relax_type = {'fixed': RelaxType.POSITIONS, 'normal': RelaxType.POSITIONS_CELL, 'all': RelaxType.POSITIONS_CELL}
        builder = PwRelaxWorkChain.get_builder_from_protocol(
            code,
            structure,
            protocol=qe['protocol'],
            overrides=recursive_merge({'base_relax': base, 'base_init_relax': base}, qe.get('overrides', {})),
            relax_type=RelaxType.NONE if task == 'single_point' else relax_type[cell],
            options=options,
        )
        del builder['base_init_relax']
        base_relax = builder.base_relax
        if task == 'relax' and cell == 'normal':
            base_relax.pw.parameters = orm.Dict(
                recursive_merge(base_relax.pw.parameters.get_dict(), settings.qe_normal_cell_parameters())
            )
        kpoints = orm.KpointsData()  # the mesh here, not in a calcfunction of PwBaseWorkChain: one process less
        kpoints.set_kpoints_mesh(settings.kpoint_mesh(structure.cell, inputs['kpoints_distance_inv_ang']))
        base_relax.kpoints = kpoints
        del base_relax['kpoints_distance']
        if use_gamma:
            pw_settings = base_relax.pw.settings.get_dict() if 'settings' in base_relax.pw else {}
            base_relax.pw.settings = orm.Dict({**pw_settings, 'gamma_only': True})
        builder.meta_convergence = orm.Bool(qe['meta_convergence'] and task == 'relax' and cell != 'fixed')
        del builder['structure']
        return builder._inputs(prune=True)

    @staticmethod
    def _vasp_inputs(code, structure, inputs, task, cell, use_gamma, options):
        vasp = inputs['vasp']
        incar = {'encut': vasp['encut_ev'], **settings.vasp_relax_incar(task, cell)}
        if inputs['dipole_correction']:
            incar.update(settings.vasp_dipole_incar())
        kpoints = {'mesh': [1, 1, 1]} if use_gamma else {'spacing': inputs['kpoints_distance_inv_ang'] / (2 * np.pi)}
        engine_overrides = recursive_merge(
            {
                'relax_settings': settings.vasp_relax_settings(task, cell, inputs['fmax_ev_ang']),
                'vasp': {
                    'parameters': {'incar': incar},
                    'potential_family': vasp['potential_family'],
                    'kpoints': kpoints,
                },
            },
            vasp.get('overrides', {}),
        )
        builder = VaspRelaxWorkChain.get_builder_from_protocol(
            code, structure, protocol=vasp['protocol'], overrides=engine_overrides, options=options
        )
        del builder['structure']
        return builder._inputs(prune=True)

    def setup(self):
        self.ctx.structure = self.inputs.structure
        frozen = self.inputs.get('frozen_layers_ang')
        self.ctx.fixed = fixed_coordinates(self.inputs.structure, frozen.value) if frozen and frozen.value else None
        self.ctx.engine_workchains = []
        self.ctx.finished = False

    def should_run_engine(self):
        return not self.ctx.finished

    def run_engine(self):
        """Submit the engine's relax work chain on the current structure."""
        engine = self.inputs.engine.value
        inputs = engine_inputs(
            engine,
            self.exposed_inputs(ENGINES[engine], namespace=engine),
            self.inputs.walltime_restart.value,
            self.ctx.fixed,
        )
        inputs.structure = self.ctx.structure
        inputs.metadata.call_link_label = engine
        return ToContext(engine_workchains=append_(self.submit(ENGINES[engine], **inputs)))

    def inspect_engine(self):
        """Done if the engine finished; ``from_scratch``: a pw.x job out of walltime goes on from its last geometry."""
        workchain = self.ctx.engine_workchains[-1]
        if workchain.is_finished_ok:
            self.ctx.finished = True
            return None
        job = _out_of_walltime(workchain) if self.inputs.walltime_restart.value == 'from_scratch' else None
        restarts = len(self.ctx.engine_workchains) - 1
        if job is not None and restarts < self.inputs.max_walltime_restarts.value:
            self.ctx.structure = job.outputs.output_structure
            self.report(f'{job.process_label}<{job.pk}> ran out of walltime: starting again from its last geometry')
            return None
        return self.exit_codes.ERROR_ENGINE_FAILED.format(
            workchain=workchain.process_label,
            pk=workchain.pk,
            status=workchain.exit_status,
            message=_failure_reason(workchain),
        )

    def results(self):
        """Normalize the last engine run's outputs; jobs, steps and time over all runs."""
        workchain = self.ctx.engine_workchains[-1]
        jobs = [
            node
            for run in self.ctx.engine_workchains
            for node in sorted(run.called_descendants, key=lambda node: node.ctime)
            if isinstance(node, orm.CalcJobNode)
        ]
        fixed = {'fixed': orm.List(self.ctx.fixed)} if self.ctx.fixed else {}
        if self.inputs.engine.value == 'qe':
            jobs = [job for job in jobs if 'retrieved' in job.outputs]
            outputs = normalize_qe(
                parameters=workchain.outputs.output_parameters,
                trajectory=workchain.outputs.output_trajectory,
                mpiprocs=orm.List([_mpiprocs(job) for job in jobs]),
                **fixed,
                **{f'retrieved_{index}': job.outputs.retrieved for index, job in enumerate(jobs)},
            )
            structure = workchain.outputs.output_structure if 'output_structure' in workchain.outputs else None
        else:
            jobs = [job for job in jobs if 'misc' in job.outputs]
            outputs = normalize_vasp(
                misc=workchain.outputs.misc,
                mpiprocs=orm.List([_mpiprocs(job) for job in jobs]),
                **fixed,
                **{f'misc_{index}': job.outputs.misc for index, job in enumerate(jobs)},
            )
            structure = workchain.outputs.relax.structure if 'relax' in workchain.outputs else None
        self.out('structure', structure or self.ctx.structure)
        self.out_many(outputs)


def define_dft_namespace(spec) -> None:
    """Declare the ``dft`` namespace of the work chains that run ``ifacerank.dft`` per structure (the study, the
    training data): one code, engine, protocol, overrides and options for all; see :func:`dft_builder`."""
    spec.input_namespace('dft', help='DFT inputs: built per structure with ifacerank.dft get_builder_from_protocol.')
    spec.input('dft.code', valid_type=orm.AbstractCode, help='pw.x or VASP code.')
    spec.input('dft.engine', valid_type=orm.Str, default=lambda: orm.Str('qe'), help=f'One of {tuple(ENGINES)}.')
    spec.input('dft.protocol', valid_type=orm.Str, required=False, help='Protocol of ifacerank.dft.')
    spec.input('dft.overrides', valid_type=orm.Dict, required=False, help='Overrides of ifacerank.dft protocol.')
    spec.input('dft.options', valid_type=orm.Dict, required=False, help='Scheduler options of every DFT job.')
    spec.input('dft.walltime_restart', valid_type=orm.Str, required=False, help='See ifacerank.dft.')


def dft_builder(dft: dict, structure, task: str, cell: str, fmax: float, kspacing: float, frozen: float = 0.0):
    """``ifacerank.dft`` inputs for one structure from a ``dft`` namespace (:func:`define_dft_namespace`), with
    the caller's force threshold ``fmax`` (eV/Å) and k-point spacing ``kspacing`` (1/Å) for every DFT run."""
    overrides = copy.deepcopy(dft['overrides'].get_dict()) if 'overrides' in dft else {}
    overrides.update(fmax_ev_ang=fmax, kpoints_distance_inv_ang=kspacing)
    builder = DftWorkChain.get_builder_from_protocol(
        dft['code'],
        structure,
        engine=dft['engine'].value,
        protocol=dft['protocol'].value if 'protocol' in dft else None,
        task=task,
        cell=cell,
        overrides=overrides,
        options=dft['options'].get_dict() if 'options' in dft else None,
    )
    if 'walltime_restart' in dft:
        builder.walltime_restart = dft['walltime_restart']
    if frozen > 0 and task == 'relax':
        builder.frozen_layers_ang = orm.Float(frozen)
    return builder


def _out_of_walltime(workchain):
    """The pw.x job of ``workchain`` that ran out of walltime with a partial geometry, or None."""
    jobs = [node for node in workchain.called_descendants if isinstance(node, orm.CalcJobNode)]
    if not jobs:
        return None
    job = max(jobs, key=lambda node: node.ctime)
    if job.process_type.endswith('quantumespresso.pw') and 'output_structure' in job.outputs:
        if job.exit_status == PwCalculation.exit_codes.ERROR_OUT_OF_WALLTIME.status:
            return job
    return None


def _failure_reason(workchain) -> str:
    """The work chain's exit message and that of its last failed job: the reason of exit code 401."""
    reason = workchain.exit_message or ('killed' if workchain.is_killed else 'excepted')
    failed = [node for node in workchain.called_descendants if isinstance(node, orm.CalcJobNode) and node.is_failed]
    if failed:
        job = max(failed, key=lambda node: node.ctime)
        reason += f'; last failed job {job.process_label}<{job.pk}> exit status {job.exit_status}: {job.exit_message}'
    return reason


def _mpiprocs(job) -> int:
    """Number of MPI processes of a job."""
    resources = job.get_option('resources') or {}
    if 'tot_num_mpiprocs' in resources:
        return int(resources['tot_num_mpiprocs'])
    return int(resources.get('num_machines', 1) * resources.get('num_mpiprocs_per_machine', 1))


@calcfunction
def normalize_qe(parameters, trajectory, mpiprocs, fixed=None, **retrieved):
    """Energy (eV), forces (eV/Å) and stress (eV/Å³, if computed) of the last pw.x run; steps, wall and CPU time
    summed over all runs.

    ``retrieved_<i>`` are the retrieved folders of all pw.x jobs, ``mpiprocs[i]`` their MPI processes;
    ``fixed`` (frozen layers, per site three flags) leaves the fixed atoms out of the largest force.
    """
    steps = wall = cpu = core_hours = 0.0
    stops = 0
    for index in range(len(retrieved)):
        stdout = retrieved[f'retrieved_{index}'].get_object_content(PwCalculation._DEFAULT_OUTPUT_FILE)
        times = settings.qe_times_seconds(stdout)
        steps += settings.qe_ionic_steps(stdout)
        stops += settings.qe_stopped_at_walltime(stdout)
        if times:
            cpu, wall = cpu + times[0], wall + times[1]
            core_hours += times[1] * mpiprocs[index] / 3600
    return _outputs(
        energy=parameters['energy'],
        forces=trajectory.get_array('forces')[-1],
        stress=-trajectory.get_array('stress')[-1] / GPA if 'stress' in trajectory.get_arraynames() else None,
        summary={
            'engine': 'qe',
            'ionic_steps': int(steps),
            'jobs': len(retrieved),
            'walltime_stops': stops,
            'wall_time_s': wall,
            'cpu_time_s': cpu,
            'core_hours': core_hours,
            'energy_job_uuid': parameters.creator.uuid,
        },
        fixed=fixed,
    )


@calcfunction
def normalize_vasp(misc, mpiprocs, fixed=None, **jobs):
    """Energy (eV, extrapolated to zero smearing), forces (eV/Å) and stress (eV/Å³, if computed) of the last VASP
    run; steps and time summed.

    ``misc_<i>`` are the parsed outputs of all VASP jobs, ``mpiprocs[i]`` their MPI processes; ``fixed`` as
    in :func:`normalize_qe`.
    """
    output = misc.get_dict()
    steps = wall = cpu = core_hours = 0.0
    for index in range(len(jobs)):
        job = jobs[f'misc_{index}'].get_dict()
        stats = job.get('run_stats', {})
        steps += job.get('run_status', {}).get('last_iteration_index', [0])[0]
        wall += stats.get('elapsed_time', 0.0)
        cpu += stats.get('total_cpu_time_used', 0.0)
        core_hours += stats.get('elapsed_time', 0.0) * mpiprocs[index] / 3600
    return _outputs(
        energy=output['total_energies']['energy_extrapolated'],
        forces=output['forces'],
        stress=-np.asarray(output['stress']) * 0.1 / GPA if output.get('stress') is not None else None,
        summary={
            'engine': 'vasp',
            'ionic_steps': int(steps),
            'jobs': len(jobs),
            'wall_time_s': wall,
            'cpu_time_s': cpu,
            'core_hours': core_hours,
            'energy_job_uuid': misc.creator.uuid,
        },
        fixed=fixed,
    )


def _outputs(energy: float, forces, stress, summary: dict, fixed: orm.List | None) -> dict:
    forces = np.asarray(forces, dtype=float)
    array = orm.ArrayData()
    array.set_array('forces', forces)
    max_force = settings.max_force(forces, fixed.get_list() if fixed is not None else None)
    outputs = {
        'energy': orm.Float(energy),
        'forces': array,
        'summary': orm.Dict({**summary, 'energy_ev': float(energy), 'max_force_ev_ang': max_force, 'converged': True}),
    }
    if stress is not None:
        outputs['stress'] = orm.ArrayData()
        outputs['stress'].set_array('stress', np.asarray(stress, dtype=float).reshape(3, 3))
    return outputs
