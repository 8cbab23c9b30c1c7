"""The report: report.md and its PNG figures, written atomically."""
from __future__ import annotations

import json
from pathlib import Path

from helpers.reports import report_metrics
from privib.evaluation.report import write_report
from privib.runs.folder import RunFolder

PNG = b"\x89PNG\r\n\x1a\n"


def test_write_report_writes_markdown_and_pngs(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    (tmp_path / "metrics.json").write_text(json.dumps(report_metrics()))
    (tmp_path / "timings.json").write_text(json.dumps({"stage/fit_s": 10.0, "stage/evaluate_s": 5.0}))
    history = [{"epoch": e, "val/info/rate_bits": 10.0 - e, "train/info/rate_bits": 11.0 - e,
                "val/info/izy_lb_bits": 0.2 + 0.01 * e, "val/info/izs_lb_bits/sex": 0.01} for e in range(1, 4)]
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


def test_the_report_warns_when_the_battery_is_a_weak_audit(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    (tmp_path / "metrics.json").write_text(json.dumps(report_metrics()))
    weak = {"data": {"name": "adult"}, "model": {"z_dim": 8},
            "evaluation": {"attackers": [{"name": "logreg", "class_path": "sklearn.linear_model.LogisticRegression"}]}}
    write_report(folder, weak)
    text = (tmp_path / "report.md").read_text()
    assert "**Warning:** the attacker battery has no tree model" in text and "has no MLP" in text
    strong = {**weak, "evaluation": {"attackers": [{"class_path": "sklearn.ensemble.HistGradientBoostingClassifier"},
                                                   {"class_path": "sklearn.neural_network.MLPClassifier"}]}}
    write_report(folder, strong)
    assert "Warning" not in (tmp_path / "report.md").read_text()


def test_the_report_of_a_cell_release_states_its_certificate(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    metrics = {key: value for key, value in report_metrics().items() if "/sample/" not in key}
    metrics.update({"leakage/sex/certified_auc_ub": 0.585, "leakage/sex/certified_ba_ub": 0.585,
                    "leakage/sex/certified_tv_ub": 0.17, "leakage/sex/empirical_tv": 0.1,
                    "fairness/sex/certified_dp_ub": 0.17, "leakage/sex/certified_rows/prior": 24129.0,
                    "leakage/sex/certified_rows/cells": 12048.0, "leakage/sex/certified_rows/mean": 3012.0})
    config = {"data": {"name": "adult"}, "model": {"release": "cells", "n_cells": 2, "adv_weight": 5.0},
              "evaluation": {"certificate_confidence": 0.9}}
    write_report(folder, config, metrics)
    text = (tmp_path / "report.md").read_text()
    assert "cell code (2 cells, one-hot released; lambda=5.0)" in text
    assert "| **sex: certified upper bound on any attacker's AUC** (90% confidence) | **0.585** (balanced accuracy" in text
    assert "DP gap (rows: prior / cells / mean) | 0.170 (24129 / 12048 / 3012) |" in text
    assert "(not released)" not in text  # one code: no other representation
    assert "race: certified" not in text  # only attributes the run certified


def test_the_report_shows_the_encoder_holder_and_k_releases(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    metrics = {**report_metrics(), "leakage/sex/logreg/auc": 0.598, "leakage/sex/hgb/auc": 0.59,
               "leakage/sex/encoder_holder/auc": 0.601, "leakage/sex/encoder_holder/acc": 0.674,
               "leakage/sex/encoder_holder/bacc": 0.5, "leakage/sex/k2/auc_max": 0.615, "leakage/sex/k2/auc_max_lo": 0.605,
               "leakage/sex/k2/auc_max_hi": 0.624, "leakage/sex/k8/auc_max": 0.636}
    write_report(folder, {"data": {"name": "adult"}, "model": {"release": "sample", "z_dim": 8}}, metrics)
    text = (tmp_path / "report.md").read_text()
    assert "| sex leakage, encoder holder (p(sex\\|z) from q(z\\|x) of the training records; in the max above) | " \
           "0.601 (best attacker on one draw: " in text
    assert "| sex leakage, average of k releases of each record (best attacker or encoder holder) | " \
           "k = 2: 0.615 [0.605, 0.624], k = 8: 0.636 |" in text
    assert "| encoder_holder | 0.674 | 0.500 | 0.601 |" in text  # a row of the per-attacker table


def test_the_report_opens_with_a_verdict_computed_from_the_runs_figures(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    metrics = {**report_metrics(), "task/test/acc": 0.84, "task/test/majority": 0.754, "task/probe/acc_max": 0.842,
               "task/probe/raw_acc_max": 0.85, "leakage/sex/auc_max": 0.60, "leakage/sex/auc_max_lo": 0.59,
               "leakage/sex/auc_max_hi": 0.61, "leakage/sex/raw_auc_max": 0.90,
               "reference/predict/acc": 0.848, "reference/predict/sex/auc_max": 0.588, "leakage/sex/n_classes": 4.0}
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    write_report(folder, {"data": {"name": "adult"}, "model": {"release": "sample", "z_dim": 8}})
    text = (tmp_path / "report.md").read_text()
    verdict = text[text.index("## Verdict"):text.index("## Summary")]
    assert "**Released**: one sample z ~ q(z|x)" in verdict
    assert "AUC **0.600** [0.590, 0.610] (0.5 is chance; the raw features give 0.900)" in verdict
    assert "removes 75% of what the raw features reveal beyond chance" in verdict  # (0.9 - 0.6) / (0.9 - 0.5)
    assert "against 0.754 for always guessing the majority class" in verdict
    assert "keeps 92% of what the raw features add above the majority rate" in verdict  # (0.842 - 0.754) / (0.85 - 0.754)
    assert "releasing the prediction would be as accurate and no leakier" in verdict
    assert text.index("## Verdict") < text.index("## Summary")
    majority_row = next(line for line in text.splitlines() if line.startswith("| majority baseline |"))
    assert "| 0.250 |" in majority_row  # a 4-class attribute's majority guess: balanced accuracy 1/4, not 0.5
