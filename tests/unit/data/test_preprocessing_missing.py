"""TabularPreprocessor's per-type missing-value policies, NA strings and recoding, and their JSON round trip."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from privib.data.preprocessing import MISSING_TOKEN, TabularPreprocessor
from privib.errors import DataError

TRAIN = pd.DataFrame({"a": [1.0, 2.0, np.nan, 5.0], "c": ["x", None, "x", "y"], "k": [1, 2, 2, 3]})


def _fit(**policy) -> TabularPreprocessor:
    return TabularPreprocessor(numeric=["a"], categorical=["c", "k"], **policy).fit(TRAIN)


def test_missing_category_is_learned_and_used():
    pre = _fit(missing_numeric="impute", missing_categorical="category")
    assert pre.vocab["c"] == [MISSING_TOKEN, "x", "y"]
    out = pre.transform(pd.DataFrame({"a": [np.nan], "c": [None], "k": [2]}))
    assert out[0, 0] == pytest.approx(0.0)  # the training mean, standardized
    assert out[0, 1:4].tolist() == [1.0, 0.0, 0.0]


def test_missing_category_unseen_in_training_is_an_all_zero_group():
    pre = TabularPreprocessor(numeric=[], categorical=["k"], missing_categorical="category", unknown_category="error").fit(TRAIN)
    assert MISSING_TOKEN not in pre.vocab["k"]
    assert pre.transform(pd.DataFrame({"k": [None]})).sum() == 0


def test_drop_policy_refuses_missing_rows_and_finds_them():
    pre = _fit(missing_numeric="drop", missing_categorical="drop")
    frame = pd.DataFrame({"a": [1.0, np.nan, 2.0], "c": ["x", "y", None], "k": [1, 2, 3]})
    assert pre.rows_with_missing(frame).tolist() == [False, True, True]
    with pytest.raises(DataError, match="dropped in training"):
        pre.transform(frame)
    assert pre.transform(frame[~pre.rows_with_missing(frame)]).shape == (1, pre.n_features)


def test_categories_match_whatever_type_the_new_table_has():
    # Trained on integers; a CSV read later may hold floats (a NaN elsewhere) or strings.
    pre = _fit(missing_numeric="impute", missing_categorical="impute")
    ints = pre.transform(pd.DataFrame({"a": [1.0], "c": ["x"], "k": [2]}))
    floats = pre.transform(pd.DataFrame({"a": [1.0], "c": ["x "], "k": [2.0]}))
    strings = pre.transform(pd.DataFrame({"a": ["1"], "c": ["x"], "k": ["2"]}))
    np.testing.assert_array_equal(ints, floats)
    np.testing.assert_array_equal(ints, strings)


def test_na_values_and_recode_travel_with_the_spec():
    train = pd.DataFrame({"a": ["1", "?", "3"], "c": ["lo", "LOW", "hi"]})
    pre = TabularPreprocessor(numeric=["a"], categorical=["c"], missing_numeric="impute", na_values=["?"],
                              recode={"c": {"LOW": "lo"}}).fit(train)
    assert pre.vocab["c"] == ["hi", "lo"] and pre.means["a"] == pytest.approx(2.0)
    restored = TabularPreprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    frame = pd.DataFrame({"a": ["?", "5"], "c": ["LOW", "hi"]})
    np.testing.assert_array_equal(restored.transform(frame), pre.transform(frame))
    assert restored.transform(frame)[0, 2] == 1.0  # LOW was recoded to lo


def test_legacy_spec_without_new_keys_still_loads():
    pre = TabularPreprocessor(numeric=["a"], categorical=["c"]).fit(TRAIN.dropna())
    legacy = {k: v for k, v in pre.to_dict().items()
              if k not in ("missing_numeric", "missing_categorical", "missing_token", "na_values", "recode")}
    restored = TabularPreprocessor.from_dict({**legacy, "missing": "impute"})
    assert restored.numeric_policy == "impute" and restored.categorical_policy == "impute"
    assert restored.transform(pd.DataFrame({"a": [np.nan], "c": [None]})).shape == (1, pre.n_features)


def test_bad_policy_is_refused():
    with pytest.raises(DataError, match="categorical missing-value policy"):
        TabularPreprocessor(numeric=[], categorical=["c"], missing_categorical="mode")
