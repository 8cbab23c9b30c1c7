"""A comparison is logged to W&B as one summary run (offline here), read back with `wandb leet inspect`."""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.records import RECORDED
from privib.compare.render import write_outputs
from privib.compare.table import compare_records
from privib.compare.wandb_log import log_compare_to_wandb
from privib.compare.wandb_records import records_from_wandb


def test_comparison_is_logged_as_an_offline_wandb_run(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    records, _ = records_from_wandb(copy.deepcopy(RECORDED))
    result = compare_records(records)
    paths = write_outputs(result, tmp_path / "cmp")
    where = log_compare_to_wandb(result, paths, project="privib", entity=None, group="s", name="s-compare",
                                 mode="offline", directory=tmp_path / "cmp", config={"sweep": "s"})
    run_dir = Path(where)
    assert run_dir.name.startswith("offline-run-") and run_dir.is_dir()
    wandb_cli = Path(sys.executable).parent / "wandb"
    inspected = subprocess.run([str(wandb_cli), "leet", "inspect", "--summary", "--json", str(run_dir)],
                               capture_output=True, text=True, timeout=120)
    record = json.loads(inspected.stdout)
    assert record["name"] == "s-compare" and record["project"] == "privib" and record["config"]["sweep"] == "s"
    summary = record["summary"]
    assert summary["compare/runs"] == 4 and summary["compare/vib_adv/best_acc@auc<=0.7"] == pytest.approx(0.81)
    assert {"compare/table", "compare/pareto", "compare/methods"} <= set(summary)
