"""A whole table (pandas DataFrame) as one node: one array per column, names and dtypes as attributes."""

from __future__ import annotations

import numpy as np
import pandas as pd
from aiida.orm import ArrayData


class TableData(ArrayData):
    """Table with named columns of numbers, booleans or strings; missing values of nullable columns survive."""

    def __init__(self, dataframe: pd.DataFrame | None = None, **kwargs):
        super().__init__(**kwargs)
        if dataframe is not None:
            self.set_dataframe(dataframe)

    def set_dataframe(self, dataframe: pd.DataFrame) -> None:
        """Store ``dataframe`` (its index is dropped)."""
        columns, dtypes = [], []
        for position, (name, series) in enumerate(dataframe.items()):
            dtype = str(series.dtype)
            if dtype in ('boolean', 'Int64'):
                values = series.astype('Float64').to_numpy(dtype=float, na_value=np.nan)
            elif series.dtype.kind in 'biuf':
                values = series.to_numpy()
            else:
                values = series.fillna('').astype(str).to_numpy(dtype=str)
                dtype = 'str'
            self.set_array(f'c{position}', values)
            columns.append(str(name))
            dtypes.append(dtype)
        self.base.attributes.set('columns', columns)
        self.base.attributes.set('dtypes', dtypes)
        self.base.attributes.set('num_rows', len(dataframe))

    @property
    def columns(self) -> list[str]:
        return self.base.attributes.get('columns')

    @property
    def num_rows(self) -> int:
        return self.base.attributes.get('num_rows')

    def get_dataframe(self) -> pd.DataFrame:
        """The stored table as a DataFrame with the original column order and dtypes."""
        data = {}
        for position, (name, dtype) in enumerate(zip(self.columns, self.base.attributes.get('dtypes'), strict=True)):
            values = self.get_array(f'c{position}')
            if dtype in ('boolean', 'Int64'):
                data[name] = pd.array(values, dtype='Float64').astype(dtype)
            elif dtype == 'str':
                data[name] = pd.Series(values, dtype=object)
            else:
                data[name] = values
        return pd.DataFrame(data)
