"""Column roles of a generic table: type inference, name suggestions, quantile bins, stratified splits."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from privib.data.base import bin_labels, bin_names
from privib.data.schema import (
    as_names, close_names, infer_kind, numeric_view, quantile_edges, stratified_test_mask, unknown_column,
)


def test_numeric_view_only_when_every_value_is_a_number():
    assert numeric_view(pd.Series(["1", None, " 2.5", "?"]), ["?"]).tolist()[::2] == [1.0, 2.5]
    assert numeric_view(pd.Series(["1", "x"])) is None
    assert numeric_view(pd.Series([True, False])) is None


@pytest.mark.parametrize("values,kind,reason", [
    (np.arange(100) * 1.5 + np.tile([0.0, 0.25], 50), "numeric", "numbers"),
    (np.tile([0, 1, 2, 3], 25), "categorical", "whole-number levels"),
    (np.tile(["a", "b", "c"], 34)[:100], "categorical", "text, 3 categories"),
    ([f"id{i}" for i in range(100)], None, "data.max_categories"),
    (np.arange(100), None, "row index"),
    (np.full(100, 7), None, "constant"),
])
def test_infer_kind(values, kind, reason):
    got, how, _ = infer_kind(pd.Series(values, name="c"), [], max_categories=50)
    assert got == kind and reason in how


def test_infer_kind_warns_about_distinct_whole_numbers():
    values = pd.Series(np.random.default_rng(0).choice(10_000, 100, replace=False), name="code")
    kind, _, warnings = infer_kind(values, [], max_categories=50)
    assert kind == "numeric" and warnings and "identifier" in warnings[0]


def test_close_names_suggest_case_separator_and_typo_fixes():
    columns = ["income", "marital-status", "Sex", "age"]
    assert close_names("incme", columns)[0] == "income"
    assert close_names("marital_status", columns)[0] == "marital-status"
    assert close_names("sex", columns)[0] == "Sex"
    error = unknown_column("data.target", "incme", columns, "t.csv")
    assert "did you mean 'income'" in str(error) and "t.csv" in str(error)
    assert as_names("a, b,a,,c") == ["a", "b", "c"] and as_names(["x", "y"]) == ["x", "y"] and as_names(None) == []
    assert as_names("[?, 'NA']") == ["?", "NA"] and as_names([-1, "?"]) == ["-1", "?"]


def test_quantile_bins_cover_every_value_and_keep_order():
    values = pd.Series(np.arange(1, 101, dtype=float))
    edges = quantile_edges(values, 4)
    assert len(edges) == 3
    labels = bin_labels(pd.Series([-5.0, 1.0, 50.0, 100.0, 1e6, np.nan]), edges)
    names = bin_names(edges)
    assert labels.iloc[0] == names[0] and labels.iloc[4] == names[-1] and pd.isna(labels.iloc[5])
    counts = bin_labels(values, edges).value_counts()
    assert counts.min() >= 24 and counts.max() <= 26
    # Heavy ties merge bins: a column that is mostly zeros cannot make 4 bins.
    assert len(quantile_edges(pd.Series([0.0] * 90 + list(range(1, 11))), 4)) < 3


def test_stratified_split_is_seeded_and_keeps_proportions():
    keys = pd.Series(["a"] * 800 + ["b"] * 200)
    first = stratified_test_mask(keys, 0.25, seed=1)
    assert (first == stratified_test_mask(keys, 0.25, seed=1)).all()
    assert not (first == stratified_test_mask(keys, 0.25, seed=2)).all()
    assert first[:800].sum() == 200 and first[800:].sum() == 50
