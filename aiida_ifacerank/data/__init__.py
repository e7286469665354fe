"""AiiDA data types of aiida-ifacerank."""

from .table import TableData

__all__ = ('TableData',)
