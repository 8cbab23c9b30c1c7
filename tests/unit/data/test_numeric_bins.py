"""Numeric bins (data.numeric_bins): cut points, the one-hot block, the preprocessor's columns and JSON, re-binning."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from privib.data.numeric_bins import bin_cuts, one_hot_bins
from privib.data.preprocessing import PreprocessSpecError, TabularPreprocessor
from privib.errors import DataError
from privib.evaluation.feature_layout import FeatureLayout


def test_few_distinct_values_get_a_bin_each():
    cuts = bin_cuts(np.array([3.0, 1.0, 1.0, 2.0, 3.0]), max_bins=8)
    assert cuts == [1.5, 2.5]
    block = one_hot_bins(np.array([1.0, 2.0, 3.0, 2.5, -9.0, 9.0]), cuts)
    np.testing.assert_array_equal(block.argmax(1), [0, 1, 2, 2, 0, 2])  # a cut belongs to the bin above it
    np.testing.assert_array_equal(block.sum(1), np.ones(6))
    assert block.dtype == np.float32


def test_a_column_that_is_mostly_one_value_still_gets_its_bins():
    # 92% zeros, as Adult's capital-gain: row quantiles would all be 0; distinct-value quantiles are not
    rng = np.random.default_rng(0)
    values = np.where(rng.random(5000) < 0.92, 0.0, rng.integers(1, 200, 5000) * 100.0)
    assert np.unique(np.quantile(values, np.linspace(0, 1, 17))[1:-1]).size <= 2
    cuts = bin_cuts(values, max_bins=16)
    assert len(cuts) == 15
    counts = one_hot_bins(values[values > 0], cuts).sum(0)
    assert counts.min() > 0 and counts.max() < 0.1 * counts.sum()  # the non-zero values spread over all 16 bins
    assert bin_cuts(np.full(10, 4.0), max_bins=8) == []
    with pytest.raises(ValueError, match="at least 2"):
        bin_cuts(values, max_bins=1)


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame({"a": rng.normal(size=300), "k": rng.integers(0, 3, 300).astype(float), "same": np.ones(300),
                         "c": rng.choice(["x", "y"], 300)})


def test_bins_follow_the_categoricals_and_reproduce_through_json(frame):
    pre = TabularPreprocessor(numeric=["a", "k", "same"], categorical=["c"], bins=4).fit(frame)
    assert pre.binned == ["a", "k"]  # a constant column gets no bins
    assert pre.n_features == 3 + 2 + 4 + 3
    names = pre.feature_names
    assert names[:5] == ["a", "k", "same", "c=x", "c=y"] and names[-3:] == ["k in [-inf, 0.5)", "k in [0.5, 1.5)", "k in [1.5, inf)"]
    out = pre.transform(frame)
    np.testing.assert_array_equal(out[:, 9:].argmax(1), frame["k"].to_numpy().astype(int))
    np.testing.assert_array_equal(out[:, 5:9].sum(1), np.ones(300))
    assert np.bincount(out[:, 5:9].argmax(1)).min() >= 60  # quantile bins of 300 distinct values: ~75 rows each
    restored = TabularPreprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    assert restored.bins == 4 and restored.feature_names == names
    np.testing.assert_array_equal(restored.transform(frame), out)
    plain = TabularPreprocessor(numeric=["a", "k", "same"], categorical=["c"]).fit(frame)
    np.testing.assert_array_equal(out[:, :5], plain.transform(frame))  # the columns before the bins are unchanged


def test_an_imputed_value_lands_in_the_bin_of_the_mean(frame):
    pre = TabularPreprocessor(numeric=["a"], categorical=["c"], bins=4, missing="impute").fit(frame)
    out = pre.transform(pd.DataFrame({"a": [np.nan, pre.means["a"]], "c": ["x", "x"]}))
    np.testing.assert_array_equal(out[0], out[1])


def test_bad_bins_are_refused_with_the_field_named(frame):
    with pytest.raises(DataError, match="at least 2"):
        TabularPreprocessor(numeric=["a"], categorical=[], bins=1)
    spec = TabularPreprocessor(numeric=["a"], categorical=["c"], bins=4).fit(frame).to_dict()
    spec["numeric"]["a"]["bins"] = [0.5, 0.1]
    with pytest.raises(PreprocessSpecError, match=r"numeric\['a'\]\.bins.*increasing"):
        TabularPreprocessor.from_dict(spec)
    spec["numeric"]["a"]["bins"] = [0.1, float("nan")]
    with pytest.raises(PreprocessSpecError, match=r"bins\[1\]"):
        TabularPreprocessor.from_dict(spec)


def test_rebinning_a_feature_matrix_gives_the_preprocessors_bins(frame):
    pre = TabularPreprocessor(numeric=["a", "k"], categorical=["c"], bins=8).fit(frame)
    layout = FeatureLayout.from_dict(pre.layout())
    out = pre.transform(frame)
    np.testing.assert_array_equal(layout.rebin(out.copy()), out)
    moved = frame.assign(a=frame["a"] + 0.7)
    shifted = out.copy()
    shifted[:, 0] = pre.transform(moved)[:, 0]  # move the numeric value only, as a perturbation does
    np.testing.assert_array_equal(layout.rebin(shifted), pre.transform(moved))
