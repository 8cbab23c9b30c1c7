"""Rows of the report's tables, parsed back from flat metric keys: attackers per representation, robustness curves."""
from __future__ import annotations

import pytest

from helpers.reports import report_metrics
from privib.evaluation.rows import attacker_rows, robustness_curves
from privib.runs.keys import attributes


def test_flat_keys_parse_back_into_rows_and_curves() -> None:
    m = report_metrics()
    assert attributes(m) == ["sex", "race"]
    rows = attacker_rows(m, order=["hgb", "logreg"])
    assert len(rows) == 2 * 2 * 3
    assert [r["attacker"] for r in rows[:2]] == ["hgb", "hgb"]
    first = next(r for r in rows if r["attribute"] == "sex" and r["representation"] == "raw" and r["attacker"] == "logreg")
    assert first["auc"] == pytest.approx(0.9)
    curves = robustness_curves(m, families=["noise", "pgd"])
    assert list(curves) == ["noise", "pgd"]
    assert [p[0] for p in curves["pgd"]["acc"]] == [0.0, 0.1, 0.2]
    assert set(curves["pgd"]) == {"acc", "leak_auc", "drift"}  # per-attribute leak keys are not curves
