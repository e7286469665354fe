"""Pure science helpers (numpy/ASE/pymatgen only, no AiiDA)."""
