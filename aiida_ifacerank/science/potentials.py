"""Classical reference potentials used where DFT cannot run (offline demo data, tests)."""

from __future__ import annotations

from math import sqrt

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
    """ASE calculator for Si-Ge with Tersoff (1989) parameters (matscipy, needs the ``dev`` extra)."""
    from matscipy.calculators.manybody import Manybody  # noqa: PLC0415 - optional dependency
    from matscipy.calculators.manybody.explicit_forms import TersoffBrenner  # noqa: PLC0415

    return Manybody(**TersoffBrenner(TERSOFF_PRB_39_5566_SI_GE))
