"""AiiDA data types of aiida-ifacerank."""

from .collection import StructureCollectionData
from .model import PotentialModelData
from .table import TableData
from .training import TrainingSetData

__all__ = ('PotentialModelData', 'StructureCollectionData', 'TableData', 'TrainingSetData')
