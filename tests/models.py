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
