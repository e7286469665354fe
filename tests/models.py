"""Models the project builds for its tests and benchmarks (not part of the installed package):
a random-weight MACE model (seconds to build), Tersoff's Si-Ge potential and a small MACE model
fitted to it (about a minute)."""

from __future__ import annotations

from math import sqrt
from pathlib import Path

TERSOFF_PRB_39_5566_SI_GE = {
    '__ref__': 'Tersoff J., Phys. Rev. B 39, 5566 (1989); Si-Ge with chi = 1.00061',
    'style': 'Tersoff',
    'el': ['Si', 'Ge'],
    'A': [1.8308e3, sqrt(1.8308e3 * 1.769e3), 1.769e3],
    'B': [4.7118e2, sqrt(4.7118e2 * 4.1923e2), 4.1923e2],
    'chi': [1.0, 1.00061, 1.0],
    'lambda': [2.4799, (2.4799 + 2.4451) / 2, 2.4451],
    'mu': [1.7322, (1.7322 + 1.7047) / 2, 1.7047],
    'lambda3': [0.0, 0.0, 0.0],
    'beta': [1.1000e-6, 9.0166e-7],
    'n': [7.8734e-1, 7.5627e-1],
    'c': [1.0039e5, 1.0643e5],
    'd': [1.6217e1, 1.5652e1],
    'h': [-5.9825e-1, -4.3884e-1],
    'r1': [2.70, sqrt(2.70 * 2.80), 2.80],
    'r2': [3.00, sqrt(3.00 * 3.10), 3.10],
}
"""Tersoff's multicomponent Si-Ge parameters in matscipy's ``TersoffBrenner`` layout (eV, Å)."""


def tersoff_sige():
    """ASE calculator for Si-Ge with Tersoff (1989) parameters (matscipy, a ``dev`` dependency)."""
    from matscipy.calculators.manybody import Manybody  # noqa: PLC0415 - optional dependency
    from matscipy.calculators.manybody.explicit_forms import TersoffBrenner  # noqa: PLC0415

    return Manybody(**TersoffBrenner(TERSOFF_PRB_39_5566_SI_GE))


def scale_shift_mace(atomic_numbers, atomic_energies, channels, num_bessel, neighbors, scale, r_max=4.5):
    """A two-layer ScaleShiftMACE (max_ell 2, correlation 2, ZBL pair repulsion) with ``channels`` scalar and
    vector channels, ``num_bessel`` radial functions to ``r_max`` (Å), free-atom ``atomic_energies`` (eV) per
    element of ``atomic_numbers``, ``neighbors`` the average neighbour count and ``scale`` the energy scale (eV)."""
    import mace.modules  # noqa: PLC0415 - mace before e3nn
    import torch  # noqa: PLC0415
    from e3nn import o3  # noqa: PLC0415

    interaction = mace.modules.interaction_classes['RealAgnosticResidualInteractionBlock']
    return mace.modules.ScaleShiftMACE(
        r_max=r_max,
        num_bessel=num_bessel,
        num_polynomial_cutoff=5,
        max_ell=2,
        interaction_cls=interaction,
        interaction_cls_first=interaction,
        num_interactions=2,
        num_elements=len(atomic_numbers),
        hidden_irreps=o3.Irreps(f'{channels}x0e + {channels}x1o'),
        MLP_irreps=o3.Irreps(f'{channels}x0e'),
        atomic_energies=atomic_energies,
        avg_num_neighbors=neighbors,
        atomic_numbers=list(atomic_numbers),
        correlation=2,
        gate=torch.nn.functional.silu,
        pair_repulsion=True,
        atomic_inter_scale=scale,
        atomic_inter_shift=0.0,
    )


def build_random_mace(path, atomic_numbers=(14, 32), atomic_energies=(-4.6, -3.9), seed: int = 0) -> Path:
    """Save a tiny MACE model with random weights (seconds; for plumbing tests, not physics).

    ``atomic_energies`` (eV) per element of ``atomic_numbers``; ZBL pair repulsion keeps atoms apart.
    """
    import numpy as np  # noqa: PLC0415
    import torch  # noqa: PLC0415

    torch.manual_seed(seed)
    model = scale_shift_mace(
        atomic_numbers, np.asarray(atomic_energies, dtype=float), channels=8, num_bessel=6, neighbors=8.0, scale=0.1
    ).to(torch.float64)
    path = Path(path)
    torch.save(model, path)
    return path


LATTICE = {'Si': 5.431, 'Ge': 5.658}
"""Cubic lattice constants (Å) of diamond Si and Ge: experiment, and Tersoff's equilibrium."""

DENSE_PHASES = (('sc', 2.6, (2, 2, 2)), ('bcc', 3.15, (2, 1, 1)), ('fcc', 3.85, (1, 1, 1)))
"""Over-coordinated Si phases (ASE name, cubic a in Å, repeat of the cubic cell); Ge's scaled by a_Ge/a_Si."""


def overwrite_stored_model(model, content: bytes) -> None:
    """Replace the bytes of ``model``'s file in the profile's object store by ``content`` (its node unchanged), as
    a changed file on disk would be: the fault the sha256 checks are for."""
    from aiida.manage import get_manager  # noqa: PLC0415

    key = model.base.repository.get_object(model.filename).key
    container = get_manager().get_profile_storage().get_repository()._container  # no public way to the object store
    loose = Path(container.get_folder()) / 'loose' / key[:2] / key[2:]
    assert key == model.sha256 and loose.is_file()
    loose.chmod(0o644)
    loose.write_bytes(content)


def strain_and_rattle(atoms, rng, isotropic: float = 0.04, shear: float = 0.03, rattle=(0.02, 0.1)):
    """Return ``atoms`` strained in place by up to ±``isotropic`` isotropically plus, for half of the calls, a random
    symmetric strain of up to ±``shear`` per component, then rattled by Gaussian displacements whose standard
    deviation (Å) is drawn from the range ``rattle``."""
    import numpy as np  # noqa: PLC0415

    strain = np.eye(3) * rng.uniform(-isotropic, isotropic)
    if rng.random() < 0.5:
        random = rng.uniform(-shear, shear, (3, 3))
        strain += (random + random.T) / 2
    atoms.set_cell(atoms.cell @ (np.eye(3) + strain), scale_atoms=True)
    atoms.positions += rng.normal(0.0, rng.uniform(*rattle), atoms.positions.shape)
    return atoms


def diamond_cell(kind: str, primitive: bool = False):
    """Ideal diamond-structure cell, 8-atom cubic or 2-atom primitive: ``kind`` 'Si' or 'Ge', 'SiGe' (zincblende)
    or 'layers' (cubic only: two Si then two Ge (001) layers); the mixed ones at the mean lattice constant."""
    from ase.build import bulk  # noqa: PLC0415

    atoms = bulk('Si', 'diamond', LATTICE.get(kind, sum(LATTICE.values()) / 2), cubic=not primitive)
    if kind == 'SiGe':
        atoms.set_chemical_symbols(['Si', 'Ge'] * (len(atoms) // 2))
    elif kind == 'layers':
        atoms.set_chemical_symbols(['Si' if z < 0.49 else 'Ge' for z in atoms.get_scaled_positions()[:, 2]])
    else:
        atoms.set_chemical_symbols([kind] * len(atoms))
    return atoms


def diamond_sige_cells(rng, count: int) -> list:
    """``count`` strained and rattled (:func:`strain_and_rattle`) Si, Ge, SiGe and layered cells in turn
    (:func:`diamond_cell`), one in four of the first three kinds primitive."""
    kinds = ('Si', 'Ge', 'SiGe', 'layers')
    return [
        strain_and_rattle(diamond_cell(kinds[i % 4], primitive=i % 4 < 3 and (i // 4) % 4 == 0), rng)
        for i in range(count)
    ]


def sige_training_frames(seed: int = 0) -> list:
    """Atoms labelled with Tersoff (:func:`tersoff_sige`) that :func:`train_mace_sige` fits: ``info['REF_energy']``
    (eV), ``arrays['REF_forces']`` (eV/Å) and ``info['REF_stress']`` (eV/Å³, ASE Voigt order).

    80 diamond cells (:func:`diamond_sige_cells`); at weight 0.1, 18 over-coordinated cells (:data:`DENSE_PHASES`)
    and 24 diamond cells with a vacancy or a tetrahedral interstitial, strained and rattled the same way, which
    teach the model the cost of broken, extra and bent bonds; the free Si and Ge atoms (0 eV, Tersoff's zero).
    """
    import numpy as np  # noqa: PLC0415
    from ase import Atoms  # noqa: PLC0415
    from ase.build import bulk  # noqa: PLC0415

    rng = np.random.default_rng(seed)
    frames = diamond_sige_cells(rng, 80)
    for i in range(18):
        element = ('Si', 'Ge')[i % 2]
        name, a, repeat = DENSE_PHASES[(i // 2) % 3]
        atoms = bulk(element, name, a=a * LATTICE[element] / LATTICE['Si'], cubic=True).repeat(repeat)
        frames.append(strain_and_rattle(atoms, rng))
        frames[-1].info['config_weight'] = 0.1
    for i in range(24):
        atoms = diamond_cell(('Si', 'Ge', 'SiGe')[i % 3])
        site = int(rng.integers(len(atoms)))
        if (i // 3) % 2:
            atoms += Atoms(atoms[site].symbol, scaled_positions=[[0.5, 0.5, 0.5]], cell=atoms.cell)
        else:
            del atoms[site]
        frames.append(strain_and_rattle(atoms, rng))
        frames[-1].info['config_weight'] = 0.1
    calculator = tersoff_sige()
    for atoms in frames:
        atoms.calc = calculator
        atoms.info['REF_energy'] = atoms.get_potential_energy()
        atoms.arrays['REF_forces'] = atoms.get_forces()
        atoms.info['REF_stress'] = atoms.get_stress()
        atoms.calc = None
    for element in ('Si', 'Ge'):
        free = Atoms(element)
        free.info['REF_energy'] = 0.0
        free.arrays['REF_forces'] = np.zeros((1, 3))
        frames.append(free)
    return frames


def train_mace_sige(path, seed: int = 0) -> Path:
    """Fit a small MACE model to Tersoff Si-Ge (:func:`sige_training_frames`) and save it to ``path`` (about 75 s
    of one CPU core); return ``path``.

    ScaleShiftMACE, r_max 4.5 Å, 2 layers of 16 channels, zero free-atom energies; 60 epochs of AMSGrad
    (batches of 4, cosine learning rate 0.02 → 4e-4) on the weighted energy (per atom), force and stress loss.
    Trained in float32 on one thread, deterministic for a given ``seed``; saved in float64.
    """
    import mace.modules  # noqa: PLC0415 - mace before e3nn
    import numpy as np  # noqa: PLC0415
    import torch  # noqa: PLC0415
    from mace import data  # noqa: PLC0415
    from mace.tools import AtomicNumberTable, torch_geometric  # noqa: PLC0415
    from mace.tools.torch_tools import default_dtype  # noqa: PLC0415

    r_max, epochs = 4.5, 60
    frames = sige_training_frames(seed)
    keys = data.KeySpecification(
        info_keys={'energy': 'REF_energy', 'stress': 'REF_stress'}, arrays_keys={'forces': 'REF_forces'}
    )
    z_table = AtomicNumberTable([14, 32])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with default_dtype(torch.float32), torch.random.fork_rng():
            torch.manual_seed(seed)
            graphs = [
                data.AtomicData.from_config(data.config_from_atoms(atoms, keys), z_table=z_table, cutoff=r_max)
                for atoms in frames
            ]
            loader = torch_geometric.dataloader.DataLoader(graphs, batch_size=4, shuffle=True)
            forces = np.concatenate([atoms.arrays['REF_forces'] for atoms in frames])
            model = scale_shift_mace(
                z_table.zs,
                np.zeros(len(z_table)),
                channels=16,
                num_bessel=12,
                neighbors=mace.modules.utils.compute_avg_num_neighbors(loader),
                scale=float(np.sqrt(np.mean(forces**2))),
                r_max=r_max,
            )
            loss = mace.modules.WeightedEnergyForcesStressLoss(energy_weight=30, forces_weight=1, stress_weight=300)
            optimizer = torch.optim.Adam(model.parameters(), lr=0.02, amsgrad=True)
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * len(loader), eta_min=4e-4)
            for _ in range(epochs):
                for batch in loader:
                    optimizer.zero_grad()
                    loss(batch, model(batch.to_dict(), training=True, compute_stress=True)).backward()
                    optimizer.step()
                    scheduler.step()
    finally:
        torch.set_num_threads(threads)
    path = Path(path)
    torch.save(model.to(torch.float64).eval(), path)
    return path
