"""The layout of a preprocessed feature matrix: which columns are numeric and which form each one-hot group.

Perturbations (:mod:`privib.evaluation.robustness`) read it to keep one-hots valid under random
perturbations and to move numeric features only under gradient attacks; the training split gives
the marginals and means that corruption and masking draw from. Bins of numeric columns
(``data.numeric_bins``) follow their column: :meth:`FeatureLayout.rebin` re-derives them after
a perturbation moved it, as the preprocessor would have written them.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from privib.data.numeric_bins import one_hot_bins

__all__ = ["FeatureLayout", "LayoutLike", "layout_from_train"]


@dataclass
class FeatureLayout:
    """Column roles of a preprocessed feature matrix.

    ``numeric_idx``: standardized numeric columns. ``categorical_groups``: the one-hot
    column indices of each categorical feature. ``train_marginals``: per group, the
    training frequency of each category (same order as the group's columns).
    ``numeric_means``: training mean of each numeric column (0 after standardization;
    default zeros). ``numeric_bins``: per binned numeric column, ``(its column, cut points,
    the columns of its one-hot bins)`` (:mod:`privib.data.numeric_bins`).
    """

    numeric_idx: list[int]
    categorical_groups: list[list[int]] = field(default_factory=list)
    train_marginals: list[NDArray] = field(default_factory=list)
    numeric_means: NDArray | None = None
    numeric_bins: list[tuple[int, list[float], list[int]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.numeric_idx = [int(i) for i in self.numeric_idx]
        self.categorical_groups = [[int(i) for i in g] for g in self.categorical_groups]
        if self.numeric_means is None:
            self.numeric_means = np.zeros(len(self.numeric_idx))
        self.numeric_means = np.asarray(self.numeric_means, dtype=float).reshape(-1)
        if self.numeric_means.shape[0] != len(self.numeric_idx):
            raise ValueError("numeric_means must have one value per numeric column")
        if not self.train_marginals:
            self.train_marginals = [np.full(len(g), 1.0 / len(g)) for g in self.categorical_groups]
        if len(self.train_marginals) != len(self.categorical_groups):
            raise ValueError("train_marginals must have one entry per categorical group")
        margs = []
        for g, m in zip(self.categorical_groups, self.train_marginals):
            m = np.asarray(m, dtype=float).reshape(-1)
            if len(g) == 0 or m.shape[0] != len(g) or np.any(m < 0) or m.sum() <= 0:
                raise ValueError("each categorical group needs a non-empty, non-negative marginal of its size")
            margs.append(m / m.sum())
        self.train_marginals = margs
        self.numeric_bins = [(int(j), [float(c) for c in cuts], [int(i) for i in columns])
                             for j, cuts, columns in self.numeric_bins]
        for j, cuts, columns in self.numeric_bins:
            if j not in self.numeric_idx or len(columns) != len(cuts) + 1:
                raise ValueError("each numeric bin block needs a numeric column and one column more than its cuts")
        cols = self._columns()
        if len(set(cols)) != len(cols) or any(i < 0 for i in cols):
            raise ValueError("layout column indices must be distinct and non-negative")

    def _columns(self) -> list[int]:
        bins = [i for _, _, columns in self.numeric_bins for i in columns]
        return self.numeric_idx + [i for g in self.categorical_groups for i in g] + bins

    @property
    def n_columns(self) -> int:
        """Smallest matrix width consistent with the layout."""
        cols = self._columns()
        return max(cols) + 1 if cols else 0

    def rebin(self, x: NDArray) -> NDArray:
        """Rewrite, in place, the bins of every binned numeric column of ``x`` from its current value; returns ``x``."""
        for j, cuts, columns in self.numeric_bins:
            x[:, columns] = one_hot_bins(x[:, j], cuts)
        return x

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | FeatureLayout) -> FeatureLayout:
        """Build from a mapping with the field names (extra keys are ignored)."""
        if isinstance(d, FeatureLayout):
            return d
        return cls(
            numeric_idx=list(d.get("numeric_idx", [])),
            categorical_groups=[list(g) for g in d.get("categorical_groups", [])],
            train_marginals=list(d.get("train_marginals", [])),
            numeric_means=d.get("numeric_means"),
            numeric_bins=[tuple(b) for b in d.get("numeric_bins", [])],
        )


LayoutLike = FeatureLayout | Mapping[str, Any]


def layout_from_train(
    x_train: ArrayLike, numeric_idx: Sequence[int], categorical_groups: Sequence[Sequence[int]]
) -> FeatureLayout:
    """Layout with marginals and numeric means measured on the training matrix."""
    x = np.asarray(x_train, dtype=float)
    groups = [list(g) for g in categorical_groups]
    margs = []
    for g in groups:
        counts = x[:, g].sum(axis=0)
        margs.append(counts if counts.sum() > 0 else np.ones(len(g)))
    return FeatureLayout(list(numeric_idx), groups, margs, x[:, list(numeric_idx)].mean(axis=0))
