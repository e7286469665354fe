"""A machine-learned potential file stored once, identified by its sha256."""

from __future__ import annotations

import hashlib

from aiida.orm import SinglefileData


class PotentialModelData(SinglefileData):
    """Model file (e.g. a MACE ``.model``) with attributes ``sha256``, ``engine`` and ``architecture``."""

    def __init__(self, file, engine: str = 'mace', architecture: str | None = None, **kwargs):
        super().__init__(file, **kwargs)
        with self.open(mode='rb') as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
        self.base.attributes.set('sha256', digest)
        self.base.attributes.set('engine', engine)
        self.base.attributes.set('architecture', architecture)

    @classmethod
    def get_or_create(cls, path, engine: str = 'mace', architecture: str | None = None) -> PotentialModelData:
        """The stored node with the same sha256, or a new stored one: a model is uploaded to the database once."""
        from aiida.orm import QueryBuilder  # noqa: PLC0415

        with open(path, 'rb') as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
        found = QueryBuilder().append(cls, filters={'attributes.sha256': digest}).first(flat=True)
        return found if found is not None else cls(str(path), engine=engine, architecture=architecture).store()

    @property
    def sha256(self) -> str:
        return self.base.attributes.get('sha256')
