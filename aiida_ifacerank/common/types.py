"""Choices that the MLP (``ifacerank.mlp``) and DFT (``ifacerank.dft``) paths share."""

TASKS = ('relax', 'single_point')
"""``relax``: optimise the geometry (and the cell, see :data:`CELL_CHOICES`); ``single_point``: energy and
forces of the given geometry (the cross-evaluation modes DFT@MLP and MLP@DFT)."""

CELL_CHOICES = ('normal', 'fixed', 'all')
"""Cell degrees of freedom of a relaxation. ``normal``: positions and the cell length normal to the
interface (c, along z) relax, the in-plane lattice stays fixed (periodic two-interface cells);
``fixed``: positions only (slabs with vacuum); ``all``: positions and the whole cell (bulk
references at their own lattice constant)."""

MLP_ENGINES = ('mace', 'sevennet', 'chgnet')
"""Machine-learned potentials that ``ifacerank.mlp`` runs; MACE is the default."""
