"""TabularPreprocessor: standardization, one-hot, unknown categories, JSON round trip; category strings across readers."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from privib.data.preprocessing import TabularPreprocessor, category_strings
from privib.errors import DataError


@pytest.fixture
def fitted() -> TabularPreprocessor:
    train = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "c": ["x", "y", "x", "z"]})
    return TabularPreprocessor(numeric=["a"], categorical=["c"]).fit(train)


def test_standardize_and_one_hot(fitted):
    out = fitted.transform(pd.DataFrame({"a": [2.5], "c": ["y"]}))
    assert fitted.feature_names == ["a", "c=x", "c=y", "c=z"]
    np.testing.assert_allclose(out, [[0.0, 0.0, 1.0, 0.0]], atol=1e-6)
    assert fitted.stds["a"] == pytest.approx(np.std([1, 2, 3, 4]))


def test_unknown_category_is_all_zero_or_refused(fitted):
    out = fitted.transform(pd.DataFrame({"a": [1.0], "c": ["never"]}))
    assert out[0, 1:].sum() == 0
    strict = TabularPreprocessor.from_dict({**fitted.to_dict(), "unknown_category": "error"})
    with pytest.raises(DataError, match="never seen"):
        strict.transform(pd.DataFrame({"a": [1.0], "c": ["never"]}))


def test_missing_values_refused_or_imputed(fitted):
    frame = pd.DataFrame({"a": [np.nan], "c": [None]})
    with pytest.raises(DataError, match="missing"):
        fitted.transform(frame)
    imputing = TabularPreprocessor.from_dict({**fitted.to_dict(), "missing": "impute"})
    np.testing.assert_allclose(imputing.transform(frame), [[0.0, 1.0, 0.0, 0.0]], atol=1e-6)


def test_json_round_trip_reproduces_transform(fitted):
    frame = pd.DataFrame({"a": [0.0, 9.0], "c": ["z", "x"]})
    restored = TabularPreprocessor.from_dict(json.loads(json.dumps(fitted.to_dict())))
    np.testing.assert_array_equal(restored.transform(frame), fitted.transform(frame))
    assert restored.layout()["categorical_groups"] == [[1, 2, 3]]


def test_missing_column_and_non_numeric_are_named(fitted):
    with pytest.raises(DataError, match="missing column"):
        fitted.transform(pd.DataFrame({"a": [1.0]}))
    with pytest.raises(DataError, match="'a'"):
        fitted.transform(pd.DataFrame({"a": ["abc"], "c": ["x"]}))


def test_category_strings_agree_across_readers():
    # The same value read as int, float (with NaN), string or bool gives the same category.
    assert category_strings(pd.Series([3, 1])).tolist() == ["3", "1"]
    assert category_strings(pd.Series([3.0, np.nan, 2.5])).tolist()[::2] == ["3", "2.5"]
    assert category_strings(pd.Series([" 3", "3.0", "x ", "", "?", None], dtype=object), ["?"]).tolist()[:3] == ["3", "3", "x"]
    assert category_strings(pd.Series([" 3", "3.0", "x ", "", "?", None], dtype=object), ["?"]).isna().tolist() == [
        False, False, False, True, True, True]
    assert category_strings(pd.Series([True, False])).tolist() == ["True", "False"]
    assert category_strings(pd.Series(["true", "FALSE", None], dtype=object)).tolist()[:2] == ["True", "False"]
    assert category_strings(pd.Series([1, "a", 2.0, None], dtype=object)).tolist()[:3] == ["1", "a", "2"]
