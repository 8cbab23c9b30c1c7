"""Raw records to feature vectors: standardized numeric columns, one-hot categoricals, then numeric bins.

Fitted on training rows only and serialized to JSON, so an exported encoder can turn a
user's raw table into the exact vector it was trained on, without scikit-learn or pickle.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from collections.abc import Iterable

import numpy as np
import pandas as pd

from privib.data.numeric_bins import bin_cuts, bin_labels, one_hot_bins, valid_bin_count
from privib.data.preprocess_spec import PreprocessSpecError, category_entry, cut_points, item, number, short, typed
from privib.errors import DataError

FORMAT_VERSION = 1
UNKNOWN_POLICIES = ("zeros", "error")
MISSING_POLICIES = ("error", "impute")
NUMERIC_MISSING_POLICIES = ("error", "impute", "drop")
CATEGORICAL_MISSING_POLICIES = ("error", "impute", "category", "drop")
MISSING_TOKEN = "<missing>"
# A fitted standardization privib writes and reads: beyond these, float32 features are all 0, inf or NaN.
STD_RANGE = (1e-30, 1e30)
MEAN_LIMIT = 1e30
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_TRUE_FALSE = {"true": "True", "false": "False"}


def category_strings(values: pd.Series, na_values: Iterable[str] = ()) -> pd.Series:
    """Canonical string form of raw values, missing values as NaN (object dtype, same index).

    The same value gets the same string whichever way the table was read: numbers that are
    whole print without a decimal point (``3``, ``3.0`` and ``"3"`` all give ``"3"``), booleans
    and the strings ``true`` / ``false`` give ``True`` / ``False``, strings are stripped, and
    empty strings or any of ``na_values`` become missing.
    """
    out = pd.Series(np.full(len(values), np.nan, dtype=object), index=values.index)
    if len(values) == 0:
        return out
    present = values.notna().to_numpy()
    if pd.api.types.is_bool_dtype(values.dtype):
        out[present] = np.where(values[present].astype(bool), "True", "False")
        return out
    if pd.api.types.is_numeric_dtype(values.dtype):
        out[present] = _number_strings(values[present].to_numpy(dtype=np.float64))
        return out
    items = values[present]
    if pd.api.types.infer_dtype(items, skipna=True) in ("string", "empty"):
        # Few distinct strings in most columns: canonicalize each distinct value once.
        codes, uniques = pd.factorize(items)
        canonical = _string_canon(pd.Series(np.asarray(uniques, dtype=object)), na_values)
        out[present] = canonical[codes]
        return out
    out[present] = _mixed_canon(items, na_values)
    return out


def _string_canon(text: pd.Series, na_values: Iterable[str]) -> np.ndarray:
    text = text.astype(str).str.strip().astype(object)
    lowered = text.str.lower()
    text = text.where(~lowered.isin(list(_TRUE_FALSE)), lowered.map(_TRUE_FALSE))
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    parsed = ~np.isnan(numbers)
    result = text.to_numpy(dtype=object, copy=True)
    if parsed.any():
        result[parsed] = _number_strings(numbers[parsed])
    tokens = {"", *(str(v).strip() for v in na_values)}
    result[np.isin(result.astype(str), list(tokens))] = np.nan
    return result


def _mixed_canon(items: pd.Series, na_values: Iterable[str]) -> np.ndarray:
    """Object columns mixing strings, numbers and booleans: one value at a time."""
    is_bool = items.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool)
    is_number = items.map(lambda v: isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool)
    result = np.empty(len(items), dtype=object)
    if is_bool.any():
        result[is_bool] = np.where(items[is_bool].astype(bool), "True", "False")
    if is_number.any():
        result[is_number] = _number_strings(items[is_number].to_numpy(dtype=np.float64))
    rest = ~(is_bool | is_number)
    if rest.any():
        result[rest] = _string_canon(items[rest].astype(str).reset_index(drop=True), na_values)
    return result


def _number_strings(numbers: np.ndarray) -> np.ndarray:
    whole = np.isfinite(numbers) & (numbers == np.round(numbers)) & (np.abs(numbers) < 2**53)
    strings = np.empty(len(numbers), dtype=object)
    strings[whole] = numbers[whole].astype(np.int64).astype(str)
    strings[~whole] = [repr(float(v)) for v in numbers[~whole]]
    return strings


@dataclass
class TabularPreprocessor:
    """Standardize numeric columns and one-hot encode categorical ones (and, with ``bins``, bin the numeric ones).

    ``unknown_category``: ``zeros`` encodes a category never seen in training as an all-zero
    one-hot group; ``error`` refuses it. ``missing``: ``error`` refuses NaN / empty values;
    ``impute`` uses the training mean (numeric) or the most frequent category.
    ``missing_numeric`` / ``missing_categorical`` override ``missing`` per column type:
    ``drop`` (rows with missing values were dropped before training, so ``transform``
    refuses them like ``error``; :meth:`rows_with_missing` finds them) and, for categorical
    columns, ``category`` (missing is its own category, ``<missing>``, when the training rows
    had any; otherwise an all-zero one-hot group). ``na_values`` are extra strings that mean
    missing; ``recode`` renames categorical input values before encoding (``{column: {old: new}}``).
    ``bins`` (0: off) also gives each numeric column as a one-hot block of at most that many quantile
    bins of its distinct training values (:mod:`privib.data.numeric_bins`), after the categoricals;
    ``cuts`` holds the fitted cut points, in standardized units.
    """

    numeric: list[str]
    categorical: list[str]
    unknown_category: str = "zeros"
    missing: str = "error"
    means: dict[str, float] = field(default_factory=dict)
    stds: dict[str, float] = field(default_factory=dict)
    vocab: dict[str, list[str]] = field(default_factory=dict)
    frequencies: dict[str, list[float]] = field(default_factory=dict)
    missing_numeric: str | None = None
    missing_categorical: str | None = None
    na_values: list[str] = field(default_factory=list)
    recode: dict[str, dict[str, str | None]] = field(default_factory=dict)
    bins: int = 0
    cuts: dict[str, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not valid_bin_count(self.bins):
            raise DataError(f"numeric bins must be 0 (off) or a whole number of at least 2, got {self.bins!r}")
        if self.unknown_category not in UNKNOWN_POLICIES:
            raise DataError(f"unknown_category policy '{self.unknown_category}' is not one of {UNKNOWN_POLICIES}")
        if self.missing not in MISSING_POLICIES:
            raise DataError(f"missing-value policy '{self.missing}' is not one of {MISSING_POLICIES}")
        if self.missing_numeric is not None and self.missing_numeric not in NUMERIC_MISSING_POLICIES:
            raise DataError(f"numeric missing-value policy '{self.missing_numeric}' is not one of {NUMERIC_MISSING_POLICIES}")
        if self.missing_categorical is not None and self.missing_categorical not in CATEGORICAL_MISSING_POLICIES:
            raise DataError(
                f"categorical missing-value policy '{self.missing_categorical}' is not one of {CATEGORICAL_MISSING_POLICIES}"
            )
        self.na_values = [str(v) for v in self.na_values]
        self.recode = {str(c): dict(m) for c, m in self.recode.items() if c in self.categorical}

    @property
    def numeric_policy(self) -> str:
        """Missing-value policy of numeric columns (``missing_numeric``, else ``missing``)."""
        return self.missing_numeric or self.missing

    @property
    def categorical_policy(self) -> str:
        """Missing-value policy of categorical columns (``missing_categorical``, else ``missing``)."""
        return self.missing_categorical or self.missing

    @property
    def input_columns(self) -> list[str]:
        """Raw columns read, in order."""
        return [*self.numeric, *self.categorical]

    @property
    def feature_names(self) -> list[str]:
        """Names of the output features: numeric names, then ``column=value`` per category."""
        names = list(self.numeric)
        for column in self.categorical:
            names.extend(f"{column}={value}" for value in self.vocab[column])
        for column in self.binned:
            names.extend(bin_labels(column, self.cuts[column], self.means[column], self.stds[column]))
        return names

    @property
    def binned(self) -> list[str]:
        """Numeric columns that also have bins, in order (a constant column has none)."""
        return [c for c in self.numeric if self.cuts.get(c)]

    @property
    def n_features(self) -> int:
        """Width of the feature vector."""
        return (len(self.numeric) + sum(len(self.vocab[c]) for c in self.categorical)
                + sum(len(self.cuts[c]) + 1 for c in self.binned))

    def layout(self) -> dict[str, Any]:
        """Where each raw column lives in the feature vector, with training marginals (for perturbations)."""
        groups: list[list[int]] = []
        start = len(self.numeric)
        for column in self.categorical:
            width = len(self.vocab[column])
            groups.append(list(range(start, start + width)))
            start += width
        bins = []
        for column in self.binned:
            width = len(self.cuts[column]) + 1
            bins.append([self.numeric.index(column), list(self.cuts[column]), list(range(start, start + width))])
            start += width
        return {
            "numeric_idx": list(range(len(self.numeric))),
            "categorical_groups": groups,
            "train_marginals": [np.asarray(self.frequencies[c], dtype=np.float64) for c in self.categorical],
            "numeric_bins": bins,
        }

    def fit(self, frame: pd.DataFrame) -> TabularPreprocessor:
        """Learn means, standard deviations and vocabularies from ``frame`` (training rows only)."""
        self._check_columns(frame)
        for column in self.numeric:
            values = self._numeric_values(frame, column)
            finite = values[np.isfinite(values)]
            if finite.size == 0:
                raise DataError(f"numeric column '{column}' has no finite values in the training rows: drop it or fix the file")
            std, mean = float(finite.std()), float(finite.mean())
            if not (abs(mean) <= MEAN_LIMIT and std <= STD_RANGE[1]):
                raise DataError(
                    f"numeric column '{column}' has mean {mean:.3g} and standard deviation {std:.3g} in the training rows, "
                    f"beyond the {MEAN_LIMIT:g} privib can standardize: rescale the column"
                )
            self.means[column] = mean
            self.stds[column] = std if std >= STD_RANGE[0] else 1.0
            if self.bins:
                self.cuts[column] = bin_cuts((finite - mean) / self.stds[column], self.bins)
        for column in self.categorical:
            raw = self._categories(frame, column)
            if raw.isna().all():
                raise DataError(f"categorical column '{column}' is all missing in the training rows: drop it or fill it")
            if self.categorical_policy == "category":
                raw = raw.fillna(MISSING_TOKEN)
            counts = raw.dropna().value_counts()
            values = sorted(counts.index)
            total = float(counts.sum())
            self.vocab[column] = values
            self.frequencies[column] = [float(counts[v]) / total for v in values]
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Turn raw rows into a float32 matrix of width ``n_features``."""
        if not self.vocab and self.categorical:
            raise RuntimeError("TabularPreprocessor.transform called before fit")
        self._check_columns(frame)
        n = len(frame)
        out = np.zeros((n, self.n_features), dtype=np.float32)
        for j, column in enumerate(self.numeric):
            values = self._numeric_values(frame, column)
            bad = ~np.isfinite(values)
            if bad.any():
                if self.numeric_policy != "impute" or np.isinf(values[bad]).any():
                    raise DataError(
                        f"column {short(column)} has {int(bad.sum())} missing or non-finite values "
                        f"(first at row {int(np.flatnonzero(bad)[0])}): {self._missing_fix(self.numeric_policy)}"
                    )
                values = np.where(bad, self.means[column], values)
            scaled = (values - self.means[column]) / self.stds[column]
            huge = np.abs(scaled) > _FLOAT32_MAX
            if huge.any():
                raise DataError(
                    f"column {short(column)} has {int(huge.sum())} value(s) too large to encode as float32 "
                    f"(first at row {int(np.flatnonzero(huge)[0])}): fix or drop them"
                )
            out[:, j] = scaled
        start = len(self.numeric)
        for column in self.categorical:
            vocab = self.vocab[column]
            raw = self._categories(frame, column)
            missing = raw.isna().to_numpy()
            unseen_missing = np.zeros(n, dtype=bool)
            if missing.any():
                policy = self.categorical_policy
                if policy == "impute":
                    raw = raw.where(~missing, vocab[int(np.argmax(self.frequencies[column]))])
                elif policy == "category":
                    raw = raw.where(~missing, MISSING_TOKEN)
                    unseen_missing = missing if MISSING_TOKEN not in vocab else unseen_missing
                else:
                    raise DataError(
                        f"column {short(column)} has {int(missing.sum())} missing values "
                        f"(first at row {int(np.flatnonzero(missing)[0])}): {self._missing_fix(policy)}"
                    )
            codes = pd.Index(vocab, dtype=object).get_indexer(raw.to_numpy(dtype=object))
            unknown = codes < 0
            if (unknown & ~unseen_missing).any() and self.unknown_category == "error":
                examples = sorted(set(raw[unknown & ~unseen_missing].tolist()))[:3]
                raise DataError(f"column {short(column)} has categories never seen in training: {short(examples)}")
            rows = np.flatnonzero(~unknown)
            out[rows, start + codes[rows]] = 1.0
            start += len(vocab)
        for column in self.binned:
            block = one_hot_bins(out[:, self.numeric.index(column)], self.cuts[column])
            out[:, start:start + block.shape[1]] = block
            start += block.shape[1]
        return out

    def rows_with_missing(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean mask of the rows that hold a missing value in a column whose policy is ``drop``.

        Those rows were dropped before training; drop them (or fill them) before ``transform``.
        """
        self._check_columns(frame)
        mask = np.zeros(len(frame), dtype=bool)
        if self.numeric_policy == "drop":
            for column in self.numeric:
                mask |= ~np.isfinite(self._numeric_values(frame, column))
        if self.categorical_policy == "drop":
            for column in self.categorical:
                mask |= self._categories(frame, column).isna().to_numpy()
        return mask

    def _categories(self, frame: pd.DataFrame, column: str) -> pd.Series:
        values = category_strings(frame[column], self.na_values)
        mapping = self.recode.get(column)
        if mapping:
            values = values.map(lambda v: mapping.get(v, v) if isinstance(v, str) else v)
            values = values.where(values.notna(), np.nan)
        return values

    @staticmethod
    def _missing_fix(policy: str) -> str:
        if policy == "drop":
            return "rows with missing values were dropped in training (policy drop): drop or fill these rows before encoding"
        return "fill or drop them, or set the missing-value policy to impute (data.missing_numeric / data.missing_categorical)"

    def _check_columns(self, frame: pd.DataFrame) -> None:
        missing = [c for c in self.input_columns if c not in frame.columns]
        if missing:
            raise DataError(f"input is missing column(s) {missing}: the encoder needs {self.input_columns}")

    def _numeric_values(self, frame: pd.DataFrame, column: str) -> np.ndarray:
        values = frame[column]
        if not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
            values = values.map(lambda v: v.strip() if isinstance(v, str) else v)
            values = values.where(~values.isin(["", *self.na_values]), np.nan)
        try:
            return pd.to_numeric(values, errors="raise").to_numpy(dtype=np.float64)
        except (ValueError, TypeError) as exc:
            raise DataError(f"numeric column {short(column)} holds non-numeric values ({exc}): fix the file or declare it categorical") from exc

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description of everything needed to reproduce ``transform``."""
        return {
            "format_version": FORMAT_VERSION,
            "input_columns": self.input_columns,
            "numeric": {c: {"mean": self.means[c], "std": self.stds[c], **({"bins": self.cuts[c]} if self.cuts.get(c) else {})}
                        for c in self.numeric},
            "numeric_bins": self.bins,
            "categorical": {c: {"categories": self.vocab[c], "frequencies": self.frequencies[c]} for c in self.categorical},
            "feature_names": self.feature_names,
            "unknown_category": self.unknown_category,
            "missing": self.missing,
            "missing_numeric": self.missing_numeric,
            "missing_categorical": self.missing_categorical,
            "missing_token": MISSING_TOKEN,
            "na_values": list(self.na_values),
            "recode": {c: dict(m) for c, m in self.recode.items()},
        }

    @classmethod
    def from_dict(cls, spec: Any) -> TabularPreprocessor:
        """Rebuild a fitted preprocessor from :meth:`to_dict` output, checking every field's type and range
        (the spec may come from a damaged or hostile export folder): PreprocessSpecError names the first bad one."""
        typed(spec, dict, "(the whole spec)")
        if type(spec.get("format_version")) is not int or spec["format_version"] != FORMAT_VERSION:
            raise PreprocessSpecError("format_version", f"is {short(spec.get('format_version'))}, not {FORMAT_VERSION}")
        numeric, categorical = item(spec, "numeric", dict), item(spec, "categorical", dict)
        means: dict[str, float] = {}
        stds: dict[str, float] = {}
        cuts: dict[str, list[float]] = {}
        for column, entry in numeric.items():
            where = f"numeric[{short(column)}]"
            typed(entry, dict, where)
            means[column] = number(item(entry, "mean", float, where), f"{where}.mean", -MEAN_LIMIT, MEAN_LIMIT)
            stds[column] = number(item(entry, "std", float, where), f"{where}.std", *STD_RANGE)
            if entry.get("bins") is not None:
                cuts[column] = cut_points(item(entry, "bins", list, where), f"{where}.bins")
        bins = spec.get("numeric_bins", 0)
        if not valid_bin_count(bins):
            raise PreprocessSpecError("numeric_bins", f"is {short(bins)}, not 0 or a whole number of at least 2")
        vocab: dict[str, list[str]] = {}
        frequencies: dict[str, list[float]] = {}
        for column, entry in categorical.items():
            where = f"categorical[{short(column)}]"
            if column in numeric:
                raise PreprocessSpecError(where, "names a column that is also numeric")
            vocab[column], frequencies[column] = category_entry(typed(entry, dict, where), where)
        policies: dict[str, Any] = {}
        for key, allowed in (("unknown_category", UNKNOWN_POLICIES), ("missing", MISSING_POLICIES),
                             ("missing_numeric", NUMERIC_MISSING_POLICIES), ("missing_categorical", CATEGORICAL_MISSING_POLICIES)):
            policies[key] = item(spec, key, str, optional=key.startswith("missing_"))
            if policies[key] is not None and policies[key] not in allowed:
                raise PreprocessSpecError(key, f"is {short(policies[key])}, not one of {', '.join(allowed)}")
        if spec.get("missing_token", MISSING_TOKEN) != MISSING_TOKEN:
            raise PreprocessSpecError("missing_token", f"is {short(spec['missing_token'])}, not {MISSING_TOKEN!r}")
        na_values = [typed(v, str, f"na_values[{i}]") for i, v in enumerate(item(spec, "na_values", list, optional=True) or [])]
        recode = item(spec, "recode", dict, optional=True) or {}
        for column, mapping in recode.items():
            for old, new in typed(mapping, dict, f"recode[{short(column)}]").items():
                typed("" if new is None else new, str, f"recode[{short(column)}][{short(old)}]")
        restored = cls(numeric=list(numeric), categorical=list(categorical), means=means, stds=stds, vocab=vocab,
                       frequencies=frequencies, na_values=na_values, recode=recode, bins=bins, cuts=cuts, **policies)
        for key in ("input_columns", "feature_names"):
            if key in spec and spec[key] != getattr(restored, key):
                raise PreprocessSpecError(key, "does not match the numeric and categorical entries")
        return restored
