"""The report: parsing flat metric keys back into tables, report.md, PNG figures, written atomically."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from privib.evaluation.report import attacker_rows, attributes_of, robustness_curves, write_report
from privib.pipeline.runs import RunFolder

PNG = b"\x89PNG\r\n\x1a\n"


def _metrics() -> dict[str, float]:
    m: dict[str, float] = {"task/test/acc": 0.85, "task/test/bacc": 0.77, "task/test/auc": 0.9,
                           "task/probe/logreg/acc": 0.84, "task/probe/acc_max": 0.84,
                           "task/probe/raw/logreg/acc": 0.85, "task/probe/raw_acc_max": 0.85,
                           "fit/best_epoch": 1.0, "fit/epochs": 3.0}
    for attr, base in (("sex", 0.7), ("race", 0.6)):
        for i, name in enumerate(["logreg", "hgb"]):
            for prefix, shift in (("", 0.0), ("sample/", -0.05), ("raw/", 0.2)):
                m[f"leakage/{attr}/{prefix}{name}/auc"] = base + shift + 0.01 * i
            m[f"leakage/{attr}/{name}/acc"] = 0.7
            m[f"leakage/{attr}/{name}/bacc"] = 0.6
        m.update({f"leakage/{attr}/auc_max": base + 0.01, f"leakage/{attr}/auc_max_lo": base - 0.01,
                  f"leakage/{attr}/auc_max_hi": base + 0.03, f"leakage/{attr}/raw_auc_max": base + 0.21,
                  f"leakage/{attr}/majority": 0.67, f"leakage/{attr}/mi_bits_lb": 0.1,
                  f"fairness/{attr}/dp_gap": 0.1, f"fairness/{attr}/eo_gap": 0.05})
    for family, levels in (("pgd", [0, 0.1, 0.2]), ("noise", [0, 0.5, 1])):
        for j, level in enumerate(levels):
            m[f"robustness/{family}/{level:g}/acc"] = 0.85 - 0.1 * j
            m[f"robustness/{family}/{level:g}/leak_auc"] = 0.7
            m[f"robustness/{family}/{level:g}/leak_auc/sex"] = 0.7
            m[f"robustness/{family}/{level:g}/drift"] = 0.3 * j
        m[f"robustness/{family}/area"] = 0.75
    m.update({"info/epoch": 2.0, "info/rate_bits": 10.0, "info/izy_lb_bits": 0.3, "info/izs_lb_bits/sex": 0.01,
              "info/best/epoch": 1.0, "info/best/rate_bits": 12.0, "info/best/izy_lb_bits": 0.31})
    return m


def test_flat_keys_parse_back_into_rows_and_curves() -> None:
    m = _metrics()
    assert attributes_of(m) == ["sex", "race"]
    rows = attacker_rows(m, order=["hgb", "logreg"])
    assert len(rows) == 2 * 2 * 3
    assert [r["attacker"] for r in rows[:2]] == ["hgb", "hgb"]
    first = next(r for r in rows if r["attribute"] == "sex" and r["representation"] == "raw" and r["attacker"] == "logreg")
    assert first["auc"] == pytest.approx(0.9)
    curves = robustness_curves(m, families=["noise", "pgd"])
    assert list(curves) == ["noise", "pgd"]
    assert [p[0] for p in curves["pgd"]["acc"]] == [0.0, 0.1, 0.2]
    assert set(curves["pgd"]) == {"acc", "leak_auc", "drift"}  # per-attribute leak keys are not curves


def test_write_report_writes_markdown_and_pngs(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    (tmp_path / "metrics.json").write_text(json.dumps(_metrics()))
    (tmp_path / "timings.json").write_text(json.dumps({"stage/fit_s": 10.0, "stage/evaluate_s": 5.0}))
    history = [{"epoch": e, "val/info/rate_bits": 10.0 - e, "train/info/rate_bits": 11.0 - e,
                "val/info/izy_lb_bits": 0.2 + 0.01 * e, "val/info/izs_lb_bits/sex": 0.01} for e in range(3)]
    (tmp_path / "history.json").write_text(json.dumps(history))
    config = {"data": {"name": "adult"}, "model": {"deterministic": True, "adv_weight": 0.0, "z_dim": 8},
              "evaluation": {"attackers": [{"name": "hgb"}, {"name": "logreg"}], "robustness": {"noise": [], "pgd": []}}}
    figures = write_report(folder, config)
    assert set(figures) == {"leakage", "robustness", "info_plane"}
    for path in figures.values():
        assert path.parent == tmp_path / "figures" and path.read_bytes().startswith(PNG)
    text = (tmp_path / "report.md").read_text()
    assert "plain MLP" in text and "best checkpoint: epoch 2 of 3" in text
    assert "**0.710 [0.690, 0.730]** (hgb)" in text  # headline with interval and the attacker behind it
    assert "raw features (reference) | 0.910" in text
    assert "0.50 x fit (10.0 s)" in text
    assert text.index("| noise |") < text.index("| pgd |")  # config order, not alphabetical
    assert text.index("| hgb |") < text.index("| logreg |")
    assert "![leakage](figures/leakage.png)" in text and "| best checkpoint (2) |" in text
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temp files


def test_report_of_an_empty_run_is_still_written(tmp_path: Path) -> None:
    figures = write_report(RunFolder(tmp_path), {"data": {"name": "x"}}, {})
    assert figures == {} and (tmp_path / "report.md").read_text().startswith("# privib report")
