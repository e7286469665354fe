"""A machine-learned potential file stored once, identified by its sha256."""

from __future__ import annotations

import hashlib
import zipfile

from aiida.orm import SinglefileData


def check_model_file(path) -> None:
    """Raise ``ValueError`` unless ``path`` is a PyTorch archive (what ``torch.save`` writes for MACE, SevenNet and
    CHGNet models: a zip file with a ``data.pkl``), checked without unpickling it."""
    if not zipfile.is_zipfile(path):
        raise ValueError(f'model file {path} is not a PyTorch model archive (a zip file): give a model file.')
    with zipfile.ZipFile(path) as archive:
        if not any(name.endswith('/data.pkl') or name == 'data.pkl' for name in archive.namelist()):
            raise ValueError(f'model file {path} is a zip file without data.pkl, not a PyTorch model: give one.')


class PotentialModelData(SinglefileData):
    """Model file (e.g. a MACE ``.model``) with attributes ``sha256``, ``engine``, ``architecture`` and
    ``elements`` (chemical symbols the model knows, None when not read from the model)."""

    def __init__(self, file, engine: str = 'mace', architecture: str | None = None, elements=None, **kwargs):
        super().__init__(file, **kwargs)
        with self.open(mode='rb') as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
        self.base.attributes.set('sha256', digest)
        self.base.attributes.set('engine', engine)
        self.base.attributes.set('architecture', architecture)
        self.base.attributes.set('elements', None if elements is None else list(elements))

    @classmethod
    def get_or_create(cls, path, engine: str = 'mace', architecture: str | None = None) -> PotentialModelData:
        """The stored node with the same sha256, or a new stored one: a model is uploaded to the database once.
        ``ValueError`` if the file is not a PyTorch model archive."""
        from aiida.orm import QueryBuilder  # noqa: PLC0415

        check_model_file(path)
        with open(path, 'rb') as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
        found = QueryBuilder().append(cls, filters={'attributes.sha256': digest}).first(flat=True)
        return found if found is not None else cls(str(path), engine=engine, architecture=architecture).store()

    @property
    def sha256(self) -> str:
        return self.base.attributes.get('sha256')

    def file_changed(self) -> str | None:
        """Why the file in the repository is not the one hashed when the node was made, or None if it is."""
        with self.open(mode='rb') as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
        if digest == self.sha256:
            return None
        return (
            f'the file of model<{self.pk}> has sha256 {digest}, not the {self.sha256} of its node: it was changed '
            'after it was stored, so it was not loaded. Store the model again (a new node) or restore the file.'
        )

    @property
    def elements(self) -> list[str] | None:
        return self.base.attributes.get('elements', None)
