"""Ranking analysis of interface energies (pure pandas/scipy, no AiiDA)."""

from .completeness import STATUSES, completeness, completeness_summary
from .ranking import GROUP_KEYS, RankingAnalysis, analyse
from .table import MODES, build_table, read_results_csv, validate_table

__all__ = (
    'GROUP_KEYS',
    'MODES',
    'STATUSES',
    'RankingAnalysis',
    'analyse',
    'build_table',
    'completeness',
    'completeness_summary',
    'read_results_csv',
    'validate_table',
)
