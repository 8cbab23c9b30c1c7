"""The raw-table contract every dataset loader returns."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from privib.data.preprocessing import category_strings


@dataclass
class TabularData:
    """Raw train/test tables plus the role of every column.

    ``train`` and ``test`` hold raw values (strings for categorical columns, numbers
    for numeric ones). ``target`` and each name in ``sensitive`` are columns of both.
    ``categorical`` and ``numeric`` list the candidate input columns; the datamodule
    removes sensitive columns from the inputs unless asked to keep them.

    ``missing_numeric`` / ``missing_categorical`` are the missing-value policies the
    preprocessor applies (see :class:`~privib.data.preprocessing.TabularPreprocessor`);
    ``na_values`` are extra strings that mean missing and ``recode`` renames values
    (``{column: {old: new}}``), both kept for encoding new rows. ``sensitive_bins`` holds the
    inner quantile edges of numeric sensitive columns, whose classes are bins. ``id_column``
    is carried through ``encode``, never an input. ``notes`` records how the table was read
    and every inferred choice (``notes["schema"]``), in plain JSON types.
    """

    name: str
    train: pd.DataFrame
    test: pd.DataFrame
    target: str
    sensitive: list[str]
    categorical: list[str]
    numeric: list[str]
    positive_label: str | None = None
    notes: dict[str, object] = field(default_factory=dict)
    id_column: str | None = None
    missing_numeric: str = "error"
    missing_categorical: str = "error"
    na_values: list[str] = field(default_factory=list)
    recode: dict[str, dict[str, str | None]] = field(default_factory=dict)
    sensitive_bins: dict[str, list[float]] = field(default_factory=dict)

    def labels(self, frame: pd.DataFrame, column: str) -> pd.Series:
        """Class labels (strings) of the target or a sensitive column in ``frame``.

        Numeric sensitive columns listed in ``sensitive_bins`` give their quantile bin's name.
        """
        if column in self.sensitive_bins:
            return bin_labels(frame[column], self.sensitive_bins[column])
        return category_strings(frame[column], self.na_values)

    def class_order(self, column: str) -> list[str] | None:
        """The natural order of a binned column's classes (lowest bin first); None when sorted names do."""
        if column in self.sensitive_bins:
            return bin_names(self.sensitive_bins[column])
        return None


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def bin_names(edges: list[float]) -> list[str]:
    """Names of the bins cut by inner ``edges``: ``< e1``, ``[e1, e2)``, ..., ``>= ek``."""
    if not edges:
        return ["all"]
    names = [f"< {_fmt(edges[0])}"]
    names += [f"[{_fmt(lo)}, {_fmt(hi)})" for lo, hi in zip(edges[:-1], edges[1:])]
    names.append(f">= {_fmt(edges[-1])}")
    return names


def bin_labels(values: pd.Series, edges: list[float]) -> pd.Series:
    """The bin name of each value (NaN stays NaN); values outside the training range join the end bins."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    names = np.asarray(bin_names(edges), dtype=object)
    codes = np.searchsorted(np.asarray(edges, dtype=np.float64), numbers, side="right")
    out = names[np.clip(codes, 0, len(names) - 1)].astype(object)
    out[np.isnan(numbers)] = np.nan
    return pd.Series(out, index=values.index, dtype=object)
