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
