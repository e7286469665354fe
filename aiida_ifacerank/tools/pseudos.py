"""An aiida-pseudo family with recommended cutoffs from local UPF files (no download)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

DEBIAN_PSEUDO_DIR = Path('/usr/share/espresso/pseudo')
"""Where Debian's ``quantum-espresso-data`` puts its pseudopotentials."""

DEBIAN_PBE = {
    'Si': ('Si.pbe-rrkj.UPF', {'low': (25, 100), 'normal': (30, 240)}),
    'Ge': ('Ge.pbe-kjpaw.UPF', {'low': (25, 100), 'normal': (30, 240)}),
    'C': ('C.pbe-rrkjus.UPF', {'low': (30, 240), 'normal': (40, 320)}),
}
"""Element: (file, {stringency: (ecutwfc, ecutrho) in Ry}). Si norm-conserving RRKJ, Ge PAW (suggested
minimum 17/69 Ry), C ultrasoft; ``low`` is for tests and plumbing, ``normal`` for production. No Sn
file ships with Debian: generate one with ld1.x or download one (e.g. SSSP) and pass it in ``files``."""

DEFAULT_LABEL = 'ifacerank/PBE/debian'


def install_family(
    label: str = DEFAULT_LABEL,
    directory: Path = DEBIAN_PSEUDO_DIR,
    files: dict | None = None,
    default_stringency: str = 'normal',
):
    """Create (or return the existing) ``CutoffsPseudoPotentialFamily`` ``label``.

    ``files`` maps element to (file name in ``directory``, {stringency: (ecutwfc, ecutrho) Ry}), default
    :data:`DEBIAN_PBE`. Raises ``FileNotFoundError`` naming the missing files.
    """
    from aiida.orm import QueryBuilder  # noqa: PLC0415
    from aiida_pseudo.data.pseudo import UpfData  # noqa: PLC0415
    from aiida_pseudo.groups.family import CutoffsPseudoPotentialFamily  # noqa: PLC0415

    existing = QueryBuilder().append(CutoffsPseudoPotentialFamily, filters={'label': label}).first(flat=True)
    if existing is not None:
        return existing
    files = files or DEBIAN_PBE
    directory = Path(directory)
    missing = [str(directory / name) for name, _ in files.values() if not (directory / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f'pseudopotential file(s) {missing} not found: install quantum-espresso-data (Debian) or pass the files.'
        )
    with tempfile.TemporaryDirectory() as staging:
        for element, (name, _) in files.items():
            shutil.copy(directory / name, Path(staging) / f'{element}.upf')
        family = CutoffsPseudoPotentialFamily.create_from_folder(
            Path(staging), label, description=f'PBE UPF files from {directory}', pseudo_type=UpfData
        )
    stringencies = sorted({key for _, cutoffs in files.values() for key in cutoffs})
    for stringency in stringencies:
        cutoffs = {
            element: {'cutoff_wfc': float(table[stringency][0]), 'cutoff_rho': float(table[stringency][1])}
            for element, (_, table) in files.items()
        }
        family.set_cutoffs(cutoffs, stringency, unit='Ry')
    family.set_default_stringency(default_stringency)
    return family
