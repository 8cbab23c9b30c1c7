"""``privib run --config configs/health.yaml`` end to end (a small table with Heritage Health's columns, and the
real file when it is there), and Adult with held-out transfer targets: every stage, the transfer and
downstream-protocol keys, the report's sections, an export whose inputs lack the held-out columns."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.cli import REPO
from helpers.health import health_dir, write_health_csv
from helpers.runs import metrics_of, train_run

LIGHT = Path(__file__).with_name("light_evaluation.yaml")
PROTOCOL = json.dumps({"name": "mlp_50", "class_path": "sklearn.neural_network.MLPClassifier",
                       "init_args": {"hidden_layer_sizes": [50], "max_iter": 300, "tol": 0.01}, "standardize": True})
STAGES = ("fit", "test", "evaluate", "report", "export")


def _run(work: Path, config: str, *args: str) -> Path:
    return train_run(work, "--config", str(REPO / "configs" / config), "--config", str(LIGHT), "--trainer.max_epochs", "2",
                     "--evaluation.downstream", PROTOCOL, "--evaluation.downstream_seeds", "2", *args, stages=STAGES)


def _check_run(folder: Path, tasks: list[str], attributes: list[str], held_out: list[str]) -> dict[str, float]:
    assert json.loads((folder / "status.json").read_text())["state"] == "finished"
    m = metrics_of(folder)
    for task in tasks:
        assert {f"transfer/{task}/{k}" for k in ("acc", "base", "dp_gap", "logreg/acc")} <= set(m), task
    assert {"transfer/mean/acc", "transfer/mean/base", "downstream/acc"} <= set(m)
    for attribute in attributes:
        assert {f"leakage/{attribute}/auc_max", f"downstream/{attribute}/dp_gap", f"downstream/{attribute}/eo_gap"} <= set(m)
        if len(attributes) > 1:
            assert f"transfer/{tasks[0]}/dp_gap/{attribute}" in m
    report = (folder / "report.md").read_text()
    assert "## Transfer tasks" in report and "## Downstream protocol" in report
    assert all(f"| {task} |" in report for task in tasks)
    inputs = json.loads((folder / "export" / "preprocess.json").read_text())
    named = json.dumps(inputs)
    assert not any(f'"{column}"' in named for column in held_out)
    return m


def test_health_config_end_to_end_on_a_small_table(tmp_path, monkeypatch):
    monkeypatch.setenv("PRIVIB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PRIVIB_OFFLINE", "1")
    write_health_csv(tmp_path / "data", rows_per_year=600, seed=4)
    folder = _run(tmp_path, "health.yaml", "--data.root", str(tmp_path / "data"), "--evaluation.raw_reference", "true")
    m = _check_run(folder, [f"pcg{i}" for i in range(1, 6)], ["age60", "age"], [f"pcg{i}" for i in range(1, 47)])
    # pcg1 > 0 exactly when no_Claims > 5, an input the encoder keeps: the raw probes find it, and the base rate
    # is what always guessing 'no' scores; pcg2 is independent of every input.
    assert m["transfer/pcg1/raw_acc"] > 0.95 > m["transfer/pcg1/base"] > 0.5
    assert abs(m["transfer/pcg2/raw_acc"] - m["transfer/pcg2/base"]) < 0.12
    assert m["downstream/raw_acc"] > 0.6  # y = [drugCount_max > 2] (rate 0.5), an input among 75 of noise, 384 training rows


@pytest.mark.slow
def test_health_config_on_the_published_table(tmp_path):
    root = health_dir()
    if root is None:
        pytest.skip("Heritage Health not available: set PRIVIB_DATA_DIR to a folder holding health/health.csv.zip")
    folder = _run(tmp_path, "health.yaml", "--data.root", str(root), "--trainer.max_epochs", "1",
                  "--evaluation.raw_reference", "true")
    m = _check_run(folder, [f"pcg{i}" for i in range(1, 6)], ["age60", "age"], ["pcg1", "pcg17", "pcg46"])
    assert abs(m["transfer/pcg1/base"] - 0.60) < 0.01  # 60 % of the Y3 members have a claim in the commonest group
    assert m["downstream/raw_acc"] > 0.78 and m["downstream/age60/raw_dp_gap"] > 0.2  # FARE's unfair MLP: 0.819 at 0.331


@pytest.mark.slow
def test_adult_with_held_out_transfer_targets(tmp_path, adult_root):
    targets = "[age >= 40, workclass == Private, native-country == United-States]"
    folder = _run(tmp_path, "adult.yaml", "--data.root", str(adult_root), "--data.transfer", targets,
                  "--trainer.max_epochs", "1")
    m = _check_run(folder, ["age", "workclass", "native-country"], ["sex"], ["age", "workclass", "native-country"])
    assert m["transfer/age/base"] == pytest.approx(0.559, abs=0.002)  # 55.9 % of the test rows are under 40
