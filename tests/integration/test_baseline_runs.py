"""Release baselines as runs like any other: ``privib run --method predict`` (and noise) on a small synthetic table
gives a finished run folder with the headline keys of any run, a report that says what was released, and
``privib compare`` lists it beside a trained method."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from helpers.cli import REPO, run_privib
from helpers.runs import metrics_of

LIGHT = REPO / "tests" / "integration" / "light_evaluation.yaml"
# y depends on s and s = [x0 > 0]: a prediction of y leaks s, and the trained code does too.
DATA = ["--data.name", "synthetic", "--data.sensitive", "s",
        "--data.options", json.dumps({"n_train": 1500, "n_test": 800, "leakage": "linear", "target_on_s": 1.0})]
PROTOCOL = ["--evaluation.downstream", json.dumps({"name": "mlp_50", "class_path": "sklearn.neural_network.MLPClassifier",
                                                   "init_args": {"hidden_layer_sizes": [50], "max_iter": 200},
                                                   "standardize": True}),
            "--evaluation.downstream_seeds", "2"]
HEADLINE = ["task/test/acc", "task/test/majority", "task/probe/acc_max", "leakage/s/auc_max", "leakage/s/auc_max_lo",
            "leakage/s/auc_max_hi", "leakage/s/logreg/auc", "leakage/s/hgb/auc", "fairness/s/dp_gap", "downstream/acc",
            "downstream/s/dp_gap"]


def _run(work: Path, *args: str) -> Path:
    result = run_privib("run", "--config", str(LIGHT), *DATA, "--runs_dir", str(work / "runs"), "--wandb.enabled", "false",
                        *args, cwd=work)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = Path(result.stdout.strip().splitlines()[-1])
    folder = folder if folder.is_absolute() else work / folder
    assert json.loads((folder / "status.json").read_text())["state"] == "finished"
    return folder


def test_a_predict_run_has_the_keys_of_any_run_and_compare_lists_it(tmp_path: Path) -> None:
    folder = _run(tmp_path, "--method", "predict", *PROTOCOL)
    m = metrics_of(folder)
    assert set(HEADLINE) <= set(m), sorted(set(HEADLINE) - set(m))
    # the released bit is the head: its accuracy is the probes' (a probe of one bit can only copy or flip it)
    assert m["task/test/acc"] == pytest.approx(m["task/probe/acc_max"]) and m["task/test/acc"] > 0.75
    assert m["release/width"] == 1.0 and 0.5 < m["leakage/s/auc_max"] < 0.9
    assert not any(k.startswith(("robustness/", "info/", "fit/")) for k in m)
    assert {"codes.npz", "release.json"} <= {p.name for p in (folder / "release").iterdir()}
    report = (folder / "report.md").read_text()
    assert "release baseline, no encoder trained: the predicted class of logistic regression" in report
    assert "- **Released**: the predicted class of logistic regression" in report

    trained = _run(tmp_path, "--method", "mlp", "--trainer.max_epochs", "1", "--pipeline", str(REPO / "pipelines" / "standard.yaml"),
                   "--trainer.enable_progress_bar", "false")
    compared = run_privib("compare", str(tmp_path / "runs"), "--out", str(tmp_path / "compare"), cwd=tmp_path)
    assert compared.returncode == 0, compared.stderr[-3000:]
    with open(tmp_path / "compare" / "table.csv", newline="") as handle:
        rows = {row["method"]: row for row in csv.DictReader(handle)}
    assert set(rows) == {"predict", "mlp"} and "predict " in compared.stdout
    assert float(rows["predict"]["task/test/acc_mean"]) == pytest.approx(m["task/test/acc"])
    assert float(rows["predict"]["leakage/worst/auc_max_mean"]) == pytest.approx(m["leakage/s/auc_max"])
    assert float(rows["predict"]["downstream/acc_mean"]) == pytest.approx(m["downstream/acc"])
    assert metrics_of(trained)["leakage/s/auc_max"] > 0.5


def test_a_noise_run_is_attacked_as_a_sampled_release(tmp_path: Path) -> None:
    folder = _run(tmp_path, "--method", "noise", "--baseline.sigma", "0.5", "--baseline.epochs", "3", "--model.z_dim", "6",
                  "--evaluation.encoder_holder", "true", "--evaluation.k_releases", "[4]")
    m = metrics_of(folder)
    # the holder of the mechanism knows the noise-free codes of the training rows: it joins the headline, and the
    # average of 4 releases of a record (noise halved) leaks more than one
    assert m["leakage/s/auc_max"] >= max(m["leakage/s/logreg/auc"], m["leakage/s/hgb/auc"], m["leakage/s/encoder_holder/auc"])
    assert m["leakage/s/k4/auc_max"] > m["leakage/s/auc_max"]
    assert m["release/width"] == 6.0 and "6-dim code, standardized, plus N(0, 0.5^2) noise" in (folder / "report.md").read_text()
