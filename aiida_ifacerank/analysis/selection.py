"""Which interface candidates get a DFT relaxation: the study's ``dft_subset`` choices (pure pandas)."""

from __future__ import annotations

import numpy as np
import pandas as pd

NOT_SELECTED = 'not in the DFT subset'
"""Reason of a candidate without DFT energies because the DFT subset left it out (not a failure)."""
SUBSET_CHOICES = ('all', 'mlp_top', 'stratified', 'smallest', 'list')
"""``all``; ``mlp_top``: the N lowest MLP@MLP E_f; ``stratified``: N per plane pair, spread evenly over that
pair's MLP@MLP ranking (lowest and highest first); ``smallest``: the N with the fewest atoms (ties by
area, then label); ``list``: the labels given."""


def check_subset(subset: dict) -> str | None:
    """Reason why ``subset`` ({'choice', 'n', 'labels'}) is invalid, or None."""
    unknown = sorted(set(subset) - {'choice', 'n', 'labels'})
    if unknown:
        return f'unknown dft_subset key(s) {unknown}: use choice, n and labels.'
    choice = subset.get('choice', 'all')
    if choice not in SUBSET_CHOICES:
        return f'dft_subset choice must be one of {SUBSET_CHOICES}, got {choice!r}.'
    if choice in ('mlp_top', 'stratified', 'smallest') and not (isinstance(subset.get('n'), int) and subset['n'] >= 1):
        return f'dft_subset choice {choice!r} needs an integer n >= 1, got {subset.get("n")!r}.'
    if choice == 'list' and not subset.get('labels'):
        return "dft_subset choice 'list' needs labels: the candidate labels to relax with DFT, e.g. candidate_0003."
    return None


def select_subset(candidates: pd.DataFrame, subset: dict) -> list[str]:
    """Labels chosen by ``subset`` from ``candidates`` (columns ``label``, ``miller_lower``, ``miller_upper``,
    ``atoms``, ``area_ang2``, ``energy``: MLP@MLP E_f in eV/Å², NaN where the MLP failed), in table order.

    Candidates without an MLP energy are never chosen by ``mlp_top`` or ``stratified``.
    """
    error = check_subset(subset)
    if error:
        raise ValueError(error)
    choice, n = subset.get('choice', 'all'), subset.get('n')
    labels = candidates['label'].astype(str)
    if choice == 'all':
        chosen = set(labels)
    elif choice == 'list':
        unknown = sorted(set(subset['labels']) - set(labels))
        if unknown:
            raise ValueError(f'dft_subset labels {unknown} are not candidates of this study.')
        chosen = set(subset['labels'])
    elif choice == 'smallest':
        chosen = set(candidates.sort_values(['atoms', 'area_ang2', 'label'], kind='stable')['label'][:n])
    else:
        ranked = candidates[np.isfinite(candidates['energy'].to_numpy(dtype=float))]
        ranked = ranked.sort_values(['energy', 'label'], kind='stable')
        if choice == 'mlp_top':
            chosen = set(ranked['label'][:n])
        else:
            chosen = set()
            for _, group in ranked.groupby(['miller_lower', 'miller_upper'], sort=True):
                positions = np.unique(np.round(np.linspace(0, len(group) - 1, min(n, len(group)))).astype(int))
                chosen |= set(group['label'].iloc[positions])
    return [label for label in labels if label in chosen]
