"""Column roles of a generic table: type inference, name suggestions, quantile bins, stratified splits.

Pure functions on pandas objects; :mod:`privib.data.tabular` strings them together.
"""
from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass
from typing import Any
from collections.abc import Iterable

import numpy as np
import pandas as pd

from privib.data.preprocessing import category_strings
from privib.errors import ConfigError

# Whole-number columns with at most this many distinct values are read as categories (codes, counts of few levels).
SMALL_INTEGER_LEVELS = 10
# Every class of the target and of each sensitive attribute needs this many training rows, so that it
# reaches the train, validation and test splits (and an attacker has something to learn from).
MIN_CLASS_ROWS = 10


@dataclass
class ColumnRole:
    """How one column is used and why: one row of the schema report."""

    name: str
    role: str  # input | target | sensitive | id | dropped
    kind: str | None  # numeric | categorical | None (dropped, id)
    how: str  # "listed in data.categorical", "inferred: ...", ...
    dtype: str
    distinct: int
    missing: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def as_names(value: Iterable[Any] | str | None) -> list[str]:
    """Accept ``a``, ``a,b``, ``"[a, b]"`` or a list; return names without blanks or duplicates, in order."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        items = [item.strip().strip("'\"") for item in text.split(",")]
    else:
        items = [str(v) for v in value]
    return list(dict.fromkeys(item.strip() for item in items if item and item.strip()))


# YAML 1.1 (PyYAML, jsonargparse) reads these unquoted words as booleans.
YAML_BOOL_WORDS = {
    True: ("True", "true", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"),
    False: ("False", "false", "FALSE", "no", "No", "NO", "off", "Off", "OFF"),
}


def bool_spellings(flag: bool, candidates: Iterable[str]) -> list[str]:
    """The candidates a YAML boolean may have been written as (``yes`` became True, ``no`` False ...)."""
    words = set(YAML_BOOL_WORDS[bool(flag)])
    return [c for c in candidates if c in words]


def column_list(columns: Iterable[str], limit: int = 15) -> str:
    """``a, b, c`` (the first ``limit`` names, then how many in all)."""
    names = [str(c) for c in columns]
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... ({len(names)} in all)"


def close_names(name: str, candidates: Iterable[str]) -> list[str]:
    """Candidates that look like ``name``: same name up to case and separators, then difflib's close matches."""
    candidates = [str(c) for c in candidates]

    def squash(text: str) -> str:
        return "".join(ch for ch in text.lower() if ch.isalnum())

    same = [c for c in candidates if squash(c) == squash(name)]
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    lowered = {c.lower(): c for c in candidates}
    close += [lowered[m] for m in difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)]
    return list(dict.fromkeys(same + close))[:3]


def unknown_column(option: str, name: str, columns: Iterable[str], where: str) -> ConfigError:
    """The error for a configured column that the table does not have, with close names when there are any."""
    columns = list(columns)
    close = close_names(name, columns)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    return ConfigError(f"{option} column '{name}' is not in {where}: {hint}(columns: {column_list(columns)})")


def numeric_view(values: pd.Series, na_values: Iterable[str] = ()) -> pd.Series | None:
    """The column as float64 (NaN where missing) when every present value is a number; else None.

    Booleans are not numbers here (they are categories).
    """
    if pd.api.types.is_bool_dtype(values.dtype):
        return None
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.astype(np.float64)
    strings = category_strings(values, na_values)
    codes, uniques = pd.factorize(strings)
    parsed = pd.to_numeric(pd.Series(np.asarray(uniques, dtype=object)), errors="coerce").to_numpy(dtype=np.float64)
    if np.isnan(parsed).any():
        return None
    numbers = np.where(codes >= 0, parsed[np.maximum(codes, 0)] if len(parsed) else np.nan, np.nan)
    return pd.Series(numbers, index=values.index, dtype=np.float64, name=values.name)


def non_numbers(values: pd.Series, na_values: Iterable[str] = (), limit: int = 3) -> list[str]:
    """A few present values that are not numbers (for error messages)."""
    strings = category_strings(values, na_values)
    numbers = pd.to_numeric(strings, errors="coerce")
    return sorted(set(strings[numbers.isna() & strings.notna()].tolist()))[:limit]


def _is_nested(values: pd.Series) -> bool:
    if values.dtype != object:
        return False
    sample = values.dropna().head(100)
    return any(isinstance(v, (list, tuple, dict, set, np.ndarray, bytes)) for v in sample)


def infer_kind(values: pd.Series, na_values: Iterable[str], max_categories: int) -> tuple[str | None, str, list[str]]:
    """Decide how an unlisted column is used: ``(kind or None to drop, reason, warnings)``."""
    column = str(values.name)
    if pd.api.types.is_datetime64_any_dtype(values.dtype) or isinstance(values.dtype, pd.PeriodDtype):
        return None, "dates or times: derive numbers from them in the file, or list it in data.categorical", []
    if _is_nested(values):
        return None, "nested values (lists, records or binary): not a tabular input", []
    strings = category_strings(values, na_values)
    present = int(strings.notna().sum())
    distinct = int(strings.nunique())
    if distinct <= 1:
        return None, "constant (one value): carries no information", []
    numbers = numeric_view(values, na_values)
    if numbers is not None:
        finite = numbers.dropna().to_numpy()
        whole = bool(np.all(finite == np.round(finite)))
        if whole and distinct <= SMALL_INTEGER_LEVELS:
            return "categorical", f"inferred: {distinct} whole-number levels (at most {SMALL_INTEGER_LEVELS} read as categories)", []
        if whole and distinct == present and present > SMALL_INTEGER_LEVELS:
            ordered = np.sort(finite)
            if np.all(np.diff(ordered) == 1):
                return None, "a row index (consecutive distinct whole numbers): list it in data.numeric to keep it", []
            return "numeric", "inferred: numbers", [
                f"column '{column}': every value is a distinct whole number; if it is an identifier, "
                "set data.id_column or data.drop"
            ]
        return "numeric", "inferred: numbers", []
    if distinct <= max_categories:
        return "categorical", f"inferred: text, {distinct} categories", []
    return None, (
        f"text with {distinct} distinct values (more than data.max_categories={max_categories}): "
        "an identifier or free text? list it in data.categorical to keep it"
    ), []


def quantile_edges(values: pd.Series, bins: int) -> list[float]:
    """Inner edges of ``bins`` quantile bins of the finite values (ties merge bins, so fewer may come back)."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    finite = numbers[np.isfinite(numbers)]
    if finite.size == 0:
        return []
    cuts = np.quantile(finite, np.linspace(0.0, 1.0, bins + 1)[1:-1])
    low = float(finite.min())
    return [float(c) for c in np.unique(cuts) if c > low]


def stratified_test_mask(keys: pd.Series, fraction: float, seed: int) -> np.ndarray:
    """Seeded stratified split: each stratum of ``keys`` gives its share of ``round(fraction * rows)`` test rows.

    Quotas are allotted by largest remainder, so the total is exact even with many small strata
    (target x several sensitive attributes); within a stratum, the test rows are a seeded shuffle.
    """
    rng = np.random.default_rng(seed)
    values = keys.astype(str).to_numpy()
    groups = sorted(pd.Series(np.arange(len(values))).groupby(values, sort=True).indices.items())
    sizes = np.array([len(rows) for _, rows in groups], dtype=np.float64)
    quota = sizes * fraction
    counts = np.floor(quota).astype(int)
    left = int(np.floor(len(values) * fraction + 0.5)) - int(counts.sum())
    if left > 0:
        remainder = quota - counts + rng.random(len(sizes)) * 1e-9  # seeded tie-break
        counts[np.argsort(-remainder, kind="stable")[:left]] += 1
    is_test = np.zeros(len(values), dtype=bool)
    for (_, rows), count in zip(groups, counts):
        is_test[rng.permutation(rows)[:count]] = True
    return is_test
