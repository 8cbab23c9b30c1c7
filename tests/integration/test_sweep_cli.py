"""`privib sweep` and `privib compare` end to end: real `privib run` children on a small synthetic table.

Four points (one of which fails), two workers, one epoch, a one-attacker evaluation: the
sweep folder, summary.csv with the failure's reason, resume, the comparison (also logged
to W&B offline), and a W&B sweep config whose command runs one point locally.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers.cli import REPO, run_privib

pytestmark = pytest.mark.slow

LOGREG = {"name": "logreg", "class_path": "sklearn.linear_model.LogisticRegression", "init_args": {"max_iter": 300},
          "standardize": True}
SPEC = {
    "stages": ["fit", "test", "evaluate"],
    "sweep": {
        "name": "tiny",
        "config": "configs/adult.yaml",
        "seeds": [0],
        "fixed": {
            "data.name": "synthetic", "data.sensitive": "s", "data.options": {"n_train": 2000, "n_test": 1000, "leakage": "linear"},
            "trainer.max_epochs": 1, "model.encoder_widths": [32], "model.z_dim": 4,
            "evaluation.attackers": [LOGREG], "evaluation.probes": [LOGREG], "evaluation.n_boot": 5,
            "evaluation.robustness": {"noise": [0.0, 0.5]}, "evaluation.attack_both": False,
            "evaluation.raw_reference": False, "evaluation.downstream": None, "evaluation.encoder_holder": False,
            "evaluation.k_releases": [],
        },
        "methods": {"mlp": {"model.z_dim": [4, 0]}, "vib": {"model.beta": [0.01, 0.1]}},
    },
}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    work = tmp_path_factory.mktemp("sweep")
    spec = work / "tiny.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    result = run_privib("sweep", str(spec), "--workers", "2", cwd=work, env={"WANDB_MODE": "disabled"})
    return work, spec, result


def test_sweep_runs_every_point_and_reports_the_failure(sweep):
    work, _, result = sweep
    assert result.returncode == 1, result.stderr[-3000:]  # one point failed; the others ran
    assert result.stdout.strip().splitlines()[-1] == "runs/tiny"
    assert "1 of 4 points did not finish" in result.stderr
    folder = work / "runs" / "tiny"
    rows = list(csv.DictReader((folder / "summary.csv").open()))
    assert len(rows) == 4
    failed = [r for r in rows if r["state"] != "finished"]
    assert len(failed) == 1 and failed[0]["method"] == "mlp" and failed[0]["model.z_dim"] == "0"
    assert "z_dim must be at least 1" in failed[0]["reason"]
    for row in rows:
        if row["state"] != "finished":
            continue
        assert 0.0 < float(row["task/test/acc"]) <= 1.0 and 0.4 <= float(row["leakage/s/auc_max"]) <= 1.0
        assert row["run_dir"].startswith("runs/")  # relative to the sweep folder
        config = yaml.safe_load((folder / row["run_dir"] / "config.yaml").read_text())
        assert config["method"] == row["method"] and config["seed_everything"] == 0
        assert config["wandb"]["group"] == "tiny" and config["threads"] == 1
        assert config["pipeline"].endswith("tiny.yaml") and config["trainer"]["max_epochs"] == 1
        if row["method"] == "vib":
            assert config["model"]["beta"] == pytest.approx(float(row["model.beta"]))
            assert config["model"]["deterministic"] is False and config["model"]["adv_weight"] == 0.0
    manifest = yaml.safe_load((folder / "sweep.yaml").read_text())
    assert len(manifest["points"]) == 4 and manifest["points"][0]["argv"][:2] == ["privib", "run"]
    compare = folder / "compare"
    assert (compare / "pareto.png").stat().st_size > 10_000
    table = list(csv.DictReader((compare / "table.csv").open()))
    assert [r["method"] for r in table] == ["mlp", "vib", "vib"]
    assert "best acc @ AUC<=0.6" in result.stdout


def test_rerun_runs_only_the_missing_point_and_logs_the_comparison_offline(sweep):
    work, spec, _ = sweep
    again = run_privib("sweep", str(spec), "--workers", "2", cwd=work, env={"WANDB_MODE": "offline"})
    assert again.returncode == 1, again.stderr[-3000:]
    assert "4 points (3 already done), 1 to run" in again.stdout
    attempts = [json.loads(line) for line in (work / "runs/tiny/attempts.jsonl").read_text().splitlines()]
    assert len(attempts) == 5 and attempts[-1]["run_name"].startswith("mlp-")
    assert len(list((work / "runs/tiny/runs").iterdir())) == 3  # no finished point ran twice
    offline = list((work / "runs/tiny/compare/wandb").glob("offline-run-*"))
    assert len(offline) == 1, "the sweep's comparison is logged to W&B as one summary run"


def test_compare_command_on_the_sweep_folder(sweep):
    work, _, _ = sweep
    result = run_privib("compare", "runs/tiny", "--out", "cmp", cwd=work, env={"WANDB_MODE": "disabled"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "3 runs, 3 configurations" in result.stdout and "s AUC" in result.stdout
    assert {p.name for p in (work / "cmp").iterdir()} >= {"table.csv", "compare.md", "pareto.png", "summary.json"}


def test_wandb_backend_config_runs_one_point_locally(sweep):
    work, spec, _ = sweep
    wb = work / "wb"
    result = run_privib("sweep", str(spec), "--backend", "wandb", "--dir", str(wb), cwd=work, env={"WANDB_MODE": "disabled"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"wandb sweep --project privib {wb}/wandb_sweep/vib.yaml" in result.stdout
    assert "wandb agent" in result.stdout and result.stdout.strip().splitlines()[-1] == f"{wb}/wandb_sweep"
    assert not (wb / "runs").exists()  # the W&B backend only writes configs
    config = yaml.safe_load((wb / "wandb_sweep" / "vib.yaml").read_text())
    assert config["command"][3:5] == ["--config", "configs/adult.yaml"]  # checkout-relative: agents run from a checkout
    assert config["method"] == "grid" and config["parameters"]["model.beta"] == {"values": [0.01, 0.1]}
    # What `wandb agent` runs for one point: ${env} privib run ... ${args}, with ${args} as --key=value.
    point = {name: spec_["values"][0] for name, spec_ in config["parameters"].items()}
    argv: list[str] = []
    for part in config["command"]:
        if part == "${env}":
            continue
        if part == "privib":
            argv += [sys.executable, "-m", "privib.cli"]
        elif part == "${args}":
            argv += [f"--{k}={v}" for k, v in point.items()]
        else:
            argv.append(part)
    env = {**os.environ, "WANDB_MODE": "disabled", "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    run = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)  # an agent's cwd
    assert run.returncode == 0, run.stderr[-3000:]
    folder = Path(run.stdout.strip().splitlines()[-1])
    assert folder.parent == wb / "runs"
    assert json.loads((folder / "status.json").read_text())["state"] == "finished"
    run_config = yaml.safe_load((folder / "config.yaml").read_text())
    assert run_config["method"] == "vib" and run_config["model"]["beta"] == 0.01
    assert run_config["seed_everything"] == 0 and run_config["wandb"]["group"] == "tiny"
    assert run_config["data"]["name"] == "synthetic" and run_config["evaluation"]["n_boot"] == 5
    assert "leakage/s/auc_max" in json.loads((folder / "metrics.json").read_text())
