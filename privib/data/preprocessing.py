"""Raw records to feature vectors: standardized numeric columns then one-hot categoricals.

Fitted on training rows only and serialized to JSON, so an exported encoder can turn a
user's raw table into the exact vector it was trained on, without scikit-learn or pickle.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from privib.errors import DataError

FORMAT_VERSION = 1
UNKNOWN_POLICIES = ("zeros", "error")
MISSING_POLICIES = ("error", "impute")


@dataclass
class TabularPreprocessor:
    """Standardize numeric columns and one-hot encode categorical ones.

    ``unknown_category``: ``zeros`` encodes a category never seen in training as an all-zero
    one-hot group; ``error`` refuses it. ``missing``: ``error`` refuses NaN / empty values;
    ``impute`` uses the training mean (numeric) or the most frequent category.
    """

    numeric: list[str]
    categorical: list[str]
    unknown_category: str = "zeros"
    missing: str = "error"
    means: dict[str, float] = field(default_factory=dict)
    stds: dict[str, float] = field(default_factory=dict)
    vocab: dict[str, list[str]] = field(default_factory=dict)
    frequencies: dict[str, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.unknown_category not in UNKNOWN_POLICIES:
            raise DataError(f"unknown_category policy '{self.unknown_category}' is not one of {UNKNOWN_POLICIES}")
        if self.missing not in MISSING_POLICIES:
            raise DataError(f"missing-value policy '{self.missing}' is not one of {MISSING_POLICIES}")

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
        return names

    @property
    def n_features(self) -> int:
        """Width of the feature vector."""
        return len(self.numeric) + sum(len(self.vocab[c]) for c in self.categorical)

    def layout(self) -> dict[str, Any]:
        """Where each raw column lives in the feature vector, with training marginals (for perturbations)."""
        groups: list[list[int]] = []
        start = len(self.numeric)
        for column in self.categorical:
            width = len(self.vocab[column])
            groups.append(list(range(start, start + width)))
            start += width
        return {
            "numeric_idx": list(range(len(self.numeric))),
            "categorical_groups": groups,
            "train_marginals": [np.asarray(self.frequencies[c], dtype=np.float64) for c in self.categorical],
        }

    def fit(self, frame: pd.DataFrame) -> "TabularPreprocessor":
        """Learn means, standard deviations and vocabularies from ``frame`` (training rows only)."""
        self._check_columns(frame)
        for column in self.numeric:
            values = self._numeric_values(frame, column)
            finite = values[np.isfinite(values)]
            if finite.size == 0:
                raise DataError(f"numeric column '{column}' has no finite values in the training rows: drop it or fix the file")
            std = float(finite.std())
            self.means[column] = float(finite.mean())
            self.stds[column] = std if std > 0 else 1.0
        for column in self.categorical:
            counts = frame[column].dropna().astype(str).value_counts()
            if counts.empty:
                raise DataError(f"categorical column '{column}' is all missing in the training rows: drop it or fill it")
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
                if self.missing != "impute" or np.isinf(values[bad]).any():
                    raise DataError(
                        f"column '{column}' has {int(bad.sum())} missing or non-finite values "
                        f"(first at row {int(np.flatnonzero(bad)[0])}): fill or drop them, or fit with missing='impute'"
                    )
                values = np.where(bad, self.means[column], values)
            out[:, j] = (values - self.means[column]) / self.stds[column]
        start = len(self.numeric)
        for column in self.categorical:
            vocab = self.vocab[column]
            raw = frame[column]
            missing = raw.isna().to_numpy()
            if missing.any():
                if self.missing != "impute":
                    raise DataError(
                        f"column '{column}' has {int(missing.sum())} missing values: fill or drop them, or fit with missing='impute'"
                    )
                mode = vocab[int(np.argmax(self.frequencies[column]))]
                raw = raw.where(~raw.isna(), mode)
            codes = pd.Categorical(raw.astype(str), categories=vocab).codes
            unknown = codes < 0
            if unknown.any() and self.unknown_category == "error":
                examples = sorted(set(raw.astype(str)[unknown].tolist()))[:3]
                raise DataError(f"column '{column}' has categories never seen in training: {examples}")
            rows = np.flatnonzero(~unknown)
            out[rows, start + codes[rows]] = 1.0
            start += len(vocab)
        return out

    def _check_columns(self, frame: pd.DataFrame) -> None:
        missing = [c for c in self.input_columns if c not in frame.columns]
        if missing:
            raise DataError(f"input is missing column(s) {missing}: the encoder needs {self.input_columns}")

    @staticmethod
    def _numeric_values(frame: pd.DataFrame, column: str) -> np.ndarray:
        try:
            return pd.to_numeric(frame[column], errors="raise").to_numpy(dtype=np.float64)
        except (ValueError, TypeError) as exc:
            raise DataError(f"numeric column '{column}' holds non-numeric values ({exc}): fix the file or declare it categorical") from exc

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description of everything needed to reproduce ``transform``."""
        return {
            "format_version": FORMAT_VERSION,
            "input_columns": self.input_columns,
            "numeric": {c: {"mean": self.means[c], "std": self.stds[c]} for c in self.numeric},
            "categorical": {c: {"categories": self.vocab[c], "frequencies": self.frequencies[c]} for c in self.categorical},
            "feature_names": self.feature_names,
            "unknown_category": self.unknown_category,
            "missing": self.missing,
        }

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> "TabularPreprocessor":
        """Rebuild a fitted preprocessor from :meth:`to_dict` output."""
        try:
            if spec.get("format_version") != FORMAT_VERSION:
                raise DataError(f"preprocess spec format {spec.get('format_version')} is not supported (expected {FORMAT_VERSION})")
            numeric = spec["numeric"]
            categorical = spec["categorical"]
            return cls(
                numeric=list(numeric),
                categorical=list(categorical),
                unknown_category=spec["unknown_category"],
                missing=spec["missing"],
                means={c: float(v["mean"]) for c, v in numeric.items()},
                stds={c: float(v["std"]) for c, v in numeric.items()},
                vocab={c: [str(x) for x in v["categories"]] for c, v in categorical.items()},
                frequencies={c: [float(x) for x in v["frequencies"]] for c, v in categorical.items()},
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise DataError(f"preprocess spec is malformed (missing or wrong field {exc}): re-export the encoder") from exc
