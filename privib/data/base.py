"""The raw-table contract every dataset loader returns."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass
class TabularData:
    """Raw train/test tables plus the role of every column.

    ``train`` and ``test`` hold raw values (strings for categorical columns, numbers
    for numeric ones). ``target`` and each name in ``sensitive`` are columns of both.
    ``categorical`` and ``numeric`` list the candidate input columns; the datamodule
    removes sensitive columns from the inputs unless asked to keep them.
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
