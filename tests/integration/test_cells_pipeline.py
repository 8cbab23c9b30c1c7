"""A cell release end to end on real Adult: `privib run --method cells` trains, certifies, reports and exports,
and the exported encoder's ``encode`` returns the run's one-hot cell, the same on every call.

One tiny run (2 epochs, the light audit) is shared by every test.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from helpers.cli import REPO, run_privib

pytestmark = pytest.mark.slow
N_CELLS = 4
ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
    "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country", "income",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory, adult_root) -> Path:
    """The folder of a finished 2-epoch 4-cell run on Adult (fit, test, evaluate, report, export)."""
    work = tmp_path_factory.mktemp("cells_run")
    (work / "pipeline.yaml").write_text(yaml.safe_dump({"stages": ["fit", "test", "evaluate", "report", "export"]}))
    done = run_privib(
        "run", "--config", str(REPO / "configs" / "adult.yaml"),
        "--config", str(REPO / "tests" / "integration" / "light_evaluation.yaml"),
        "--method", "cells", "--model.n_cells", str(N_CELLS), "--trainer.max_epochs", "2",
        "--pipeline", str(work / "pipeline.yaml"), "--runs_dir", str(work / "runs"), "--name", "cells",
        "--wandb.enabled", "false", "--trainer.enable_progress_bar", "false",
        cwd=work, env={"PRIVIB_DATA_DIR": str(adult_root)}, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    folder = Path(done.stdout.strip().splitlines()[-1])
    return folder if folder.is_absolute() else work / folder


@pytest.fixture(scope="module")
def adult_test_raw(adult_root) -> pd.DataFrame:
    """adult.test as a downstream user reads it with plain pandas: header line skipped, '?' rows dropped."""
    path = next(p for p in (adult_root / "adult" / "adult.test", adult_root / "adult.test") if p.is_file())
    frame = pd.read_csv(path, header=None, names=ADULT_COLUMNS, skiprows=1, skipinitialspace=True, na_values=["?"])
    return frame.dropna().reset_index(drop=True)


def test_the_run_writes_the_certificate_above_every_attacker(run):
    metrics = json.loads((run / "metrics.json").read_text())
    assert json.loads((run / "status.json").read_text())["state"] == "finished"
    # Adult's sizes: the training split bounds P(sex); 80 % / 20 % of the 15,060 test rows the cells and the mean.
    assert [metrics[f"leakage/sex/certified_rows/{p}"] for p in ("prior", "cells", "mean")] == [24129, 12048, 3012]
    bound = metrics["leakage/sex/certified_auc_ub"]
    attackers = [v for k, v in metrics.items() if k.startswith("leakage/sex/") and k.endswith("/auc")]
    assert attackers and max(attackers) <= metrics["leakage/sex/auc_max"] <= bound <= 1.0
    assert metrics["leakage/sex/empirical_tv"] <= metrics["leakage/sex/certified_tv_ub"]
    assert metrics["fairness/sex/dp_gap"] <= metrics["fairness/sex/certified_dp_ub"] == metrics["leakage/sex/certified_tv_ub"]
    assert metrics["leakage/sex/certified_ba_ub"] == pytest.approx((1 + metrics["leakage/sex/certified_tv_ub"]) / 2)
    report = (run / "report.md").read_text()
    assert f"cell code ({N_CELLS} cells" in report and f"**{bound:.3f}**" in report
    card = (run / "export" / "MODEL_CARD.md").read_text()
    assert f"With 95 % confidence, no attacker can predict `sex` from this code with AUC above **{bound:.4f}**" in card


def test_the_exported_encoder_returns_the_runs_one_hot_cell_on_every_call(run, adult_test_raw):
    import privib
    from privib.data.datamodule import PrivibDataModule
    from privib.models.checkpoint import load_trained_model

    config = yaml.safe_load((run / "config.yaml").read_text())
    datamodule = PrivibDataModule(**config["data"])
    datamodule.setup()
    trained = load_trained_model(run / "checkpoints" / "best.ckpt")
    with torch.no_grad():
        expected = trained.model.encoder.code(datamodule.splits["test"].x).numpy()
    for backend in ("torch", "onnx"):
        encoder = privib.load_encoder(run / "export", backend=backend)
        first, second = encoder.encode(adult_test_raw), encoder.encode(adult_test_raw.iloc[::-1]).copy()[::-1]
        assert encoder.release == "cells" and first.shape == (15060, N_CELLS)
        assert set(np.unique(first)) <= {0.0, 1.0} and (first.sum(axis=1) == 1).all()
        assert np.array_equal(first, second) and np.array_equal(first, expected)  # one record, one cell
        assert np.array_equal(encoder.encode(adult_test_raw, sample=True, seed=7), first)
        assert np.array_equal(encoder.cells(adult_test_raw), first.argmax(axis=1))
