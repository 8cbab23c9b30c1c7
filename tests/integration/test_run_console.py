"""What `privib run` tells a person: a line per stage, why training stopped, the figures, and the folder last."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers.cli import REPO, run_privib

pytestmark = pytest.mark.slow


def test_a_run_prints_its_stages_its_summary_and_the_folder_last(tmp_path, adult_root):
    light = str(Path(__file__).with_name("light_evaluation.yaml"))
    done = run_privib("run", "--config", str(REPO / "configs" / "adult.yaml"), "--config", light,
                      "--trainer.max_epochs", "2", "--wandb.enabled", "false", cwd=tmp_path,
                      env={"PRIVIB_DATA_DIR": str(adult_root)})
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout.strip().splitlines()
    assert len(out) == 3, done.stdout  # no progress-bar frames, no model summary: the summary, the report, the folder
    assert re.fullmatch(r"task/test/acc 0\.\d{4}; leakage/sex/auc_max 0\.\d{4} \[0\.\d{4}, 0\.\d{4}\]", out[0]), out[0]
    folder = tmp_path / out[2]
    assert out[1] == f"report: {Path(out[2]) / 'report.md'}" and (folder / "report.md").is_file()
    stages = ["fit", "test", "evaluate", "report", "export"]
    for number, stage in enumerate(stages, 1):
        assert f"privib: INFO: [{number}/5] {stage} ..." in done.stderr
        assert re.search(rf"privib: INFO: \[{number}/5\] {stage} done in \d+\.\d s", done.stderr)
    assert "privib: INFO: [1/5] fit done in" in done.stderr and ": 2 epochs, best epoch " in done.stderr
    for noise in ("GPU available", "TPU available", "v_num", "anonymous setting", "log_every_n_steps"):
        assert noise not in done.stderr + done.stdout


def test_early_stopping_is_said(tmp_path, adult_root):
    light = str(Path(__file__).with_name("light_evaluation.yaml"))
    done = run_privib("run", "--config", str(REPO / "configs" / "adult.yaml"), "--config", light,
                      "--trainer.max_epochs", "8", "--checkpoint.patience", "0", "--wandb.enabled", "false",
                      "--pipeline", str(REPO / "pipelines" / "standard.yaml"), cwd=tmp_path,
                      env={"PRIVIB_DATA_DIR": str(adult_root)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"fit done in \d+\.\d s: early stopping after epoch \d of 8 \(val/task_ce did not improve for 0 "
                     r"epochs\), best epoch \d", done.stderr), done.stderr[-2000:]
