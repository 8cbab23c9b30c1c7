"""The outputs of privib compare: CSV tables, the markdown report, the Pareto PNG, summary.json."""
from __future__ import annotations

import json

import pandas as pd

from privib.compare.records import load_run_folders
from privib.compare.render import write_outputs
from privib.compare.table import compare_records


def test_outputs_csv_markdown_png(sweep_folder, tmp_path):
    folder, _ = sweep_folder
    result = compare_records(load_run_folders([folder])[0])
    paths = write_outputs(result, tmp_path / "out")
    assert {p.name for p in paths.values()} == {"table.csv", "runs.csv", "methods.csv", "compare.md", "summary.json",
                                                "pareto.png"}
    table = pd.read_csv(paths["table"])
    assert len(table) == 3 and "task/test/acc_mean" in table and "task/test/acc_std" in table
    markdown = paths["markdown"].read_text()
    assert "| method | configuration | n | acc |" in markdown and "| vib_adv | adv_weight=10 | 3 |" in markdown and "±" in markdown and "![Pareto front](pareto.png)" in markdown
    assert paths["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads(paths["summary"].read_text())
    assert summary["runs"] == 8 and "vib_adv/best_acc@auc<=0.7" in summary
