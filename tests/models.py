"""Models the project builds for its tests and benchmarks (not part of the installed package):
a random-weight MACE model (seconds to build) and Tersoff's Si-Ge potential."""

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


def build_random_mace(path, atomic_numbers=(14, 32), atomic_energies=(-4.6, -3.9), seed: int = 0) -> Path:
    """Save a tiny MACE model with random weights (seconds; for plumbing tests, not physics).

    ``atomic_energies`` (eV) per element of ``atomic_numbers``; ZBL pair repulsion keeps atoms apart.
    """
    import mace.modules  # noqa: PLC0415 - mace before e3nn
    import numpy as np  # noqa: PLC0415
    import torch  # noqa: PLC0415
    from e3nn import o3  # noqa: PLC0415

    torch.manual_seed(seed)
    interaction = mace.modules.interaction_classes['RealAgnosticResidualInteractionBlock']
    model = mace.modules.ScaleShiftMACE(
        r_max=4.5,
        num_bessel=6,
        num_polynomial_cutoff=5,
        max_ell=2,
        interaction_cls=interaction,
        interaction_cls_first=interaction,
        num_interactions=2,
        num_elements=len(atomic_numbers),
        hidden_irreps=o3.Irreps('8x0e + 8x1o'),
        MLP_irreps=o3.Irreps('8x0e'),
        atomic_energies=np.asarray(atomic_energies, dtype=float),
        avg_num_neighbors=8.0,
        atomic_numbers=list(atomic_numbers),
        correlation=2,
        gate=torch.nn.functional.silu,
        pair_repulsion=True,
        atomic_inter_scale=0.1,
        atomic_inter_shift=0.0,
    ).to(torch.float64)
    path = Path(path)
    torch.save(model, path)
    return path


def _tersoff_frames(rng, count: int = 96, polymorphs: int = 24):
    """Training frames labelled with Tersoff (energy eV, forces eV/Å, stress eV/Å³): strained and rattled diamond
    Si, Ge, zincblende and (001)-layered SiGe, simple-cubic and bcc Si and Ge (over-coordinated, for repulsion),
    and the isolated atoms at 0 eV. No interface of a study is among them."""
    import numpy as np  # noqa: PLC0415
    from ase import Atoms  # noqa: PLC0415
    from ase.build import bulk  # noqa: PLC0415

    calculator, frames = tersoff_sige(), []
    for index in range(count + polymorphs):
        if index < count:
            kind, primitive = index % 4, (index // 4) % 4 == 0
            atoms = bulk('Si', 'diamond', (5.431, 5.658, 5.545, 5.545)[kind], cubic=not primitive)
            if kind == 1:
                atoms.symbols[:] = 'Ge'
            elif kind == 2:
                atoms.symbols[1::2] = 'Ge'
            elif kind == 3:
                atoms.symbols[atoms.get_scaled_positions()[:, 2] >= 0.49] = 'Ge'
        else:
            element, scale = (('Si', 1.0), ('Ge', 1.04))[index % 2]
            atoms = [bulk(element, 'sc', a=2.6 * scale).repeat(2), bulk(element, 'bcc', a=3.15 * scale, cubic=True)][
                (index // 2) % 2
            ]
        strain = np.eye(3) * rng.uniform(-0.04, 0.04)
        if rng.random() < 0.5:
            shear = rng.uniform(-0.03, 0.03, (3, 3))
            strain += (shear + shear.T) / 2
        atoms.set_cell(atoms.cell @ (np.eye(3) + strain), scale_atoms=True)
        atoms.positions += rng.normal(0, rng.uniform(0.02, 0.1), atoms.positions.shape)
        atoms.calc = calculator
        atoms.info.update(REF_energy=atoms.get_potential_energy(), REF_stress=atoms.get_stress())
        atoms.arrays['REF_forces'] = atoms.get_forces()
        atoms.calc = None
        frames.append(atoms)
    for element in ('Si', 'Ge'):
        atom = Atoms(element, pbc=False)
        atom.info['REF_energy'] = 0.0
        atom.arrays['REF_forces'] = np.zeros((1, 3))
        frames.append(atom)
    return frames


def train_mace_sige(path, seed: int = 0, epochs: int = 60) -> Path:
    """Fit a small MACE (16 channels, r_max 4.5 Å) to Tersoff Si-Ge frames with mace-torch's own model, data and
    loss, in about 90 s on 2 cores; saved in float64 for relaxations. A stand-in with physical bulk lattices
    (within 1 % of Tersoff's) and interface energetics, for tests and benchmarks; the project trains its MACE on
    its own QE data in ``ifacerank.mlp.train``."""
    import mace.modules  # noqa: PLC0415 - mace before e3nn
    import numpy as np  # noqa: PLC0415
    import torch  # noqa: PLC0415
    from e3nn import o3  # noqa: PLC0415
    from mace import data  # noqa: PLC0415
    from mace.tools import AtomicNumberTable, torch_geometric  # noqa: PLC0415

    threads, dtype = torch.get_num_threads(), torch.get_default_dtype()
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(seed)
    try:
        frames = _tersoff_frames(np.random.default_rng(seed))
        keys = data.KeySpecification(
            info_keys={'energy': 'REF_energy', 'stress': 'REF_stress'}, arrays_keys={'forces': 'REF_forces'}
        )
        table = AtomicNumberTable([14, 32])
        configs = [data.config_from_atoms(atoms, key_specification=keys) for atoms in frames]
        graphs = [data.AtomicData.from_config(config, z_table=table, cutoff=4.5) for config in configs]
        forces = np.concatenate([atoms.arrays['REF_forces'] for atoms in frames])
        neighbours = np.concatenate([np.bincount(g.edge_index[1].numpy()) for g in graphs if g.edge_index.shape[1]])
        interaction = mace.modules.interaction_classes['RealAgnosticResidualInteractionBlock']
        model = mace.modules.ScaleShiftMACE(
            r_max=4.5,
            num_bessel=8,
            num_polynomial_cutoff=5,
            max_ell=2,
            interaction_cls=interaction,
            interaction_cls_first=interaction,
            num_interactions=2,
            num_elements=2,
            hidden_irreps=o3.Irreps('16x0e + 16x1o'),
            MLP_irreps=o3.Irreps('16x0e'),
            atomic_energies=np.zeros(2),
            avg_num_neighbors=float(neighbours.mean()),
            atomic_numbers=table.zs,
            correlation=2,
            gate=torch.nn.functional.silu,
            pair_repulsion=True,
            atomic_inter_scale=float(np.sqrt(np.mean(forces**2))),
            atomic_inter_shift=0.0,
        )
        loader = torch_geometric.dataloader.DataLoader(graphs, batch_size=4, shuffle=True, drop_last=False)
        loss = mace.modules.WeightedEnergyForcesStressLoss(energy_weight=100.0, forces_weight=1.0, stress_weight=100.0)
        optimiser = torch.optim.Adam(model.parameters(), lr=0.01, amsgrad=True)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=epochs * len(loader), eta_min=2e-4)
        for _ in range(epochs):
            for batch in loader:
                optimiser.zero_grad()
                output = model(batch.to_dict(), training=True, compute_force=True, compute_stress=True)
                loss(batch, output).backward()
                optimiser.step()
                schedule.step()
        path = Path(path)
        torch.save(model.to(torch.float64).eval(), path)
    finally:
        torch.set_num_threads(threads)
        torch.set_default_dtype(dtype)
    return path
