"""`privib run` end to end in a subprocess, on real Adult, with a small budget."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers.cli import REPO, run_privib

pytestmark = pytest.mark.slow
LIGHT = ["--config", str(REPO / "configs" / "adult.yaml"), "--config", str(Path(__file__).with_name("light_evaluation.yaml"))]
SMALL = ["--trainer.max_epochs", "4", "--trainer.enable_progress_bar", "false"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, adult_root) -> tuple[Path, str]:
    work = tmp_path_factory.mktemp("run")
    result = run_privib("run", *LIGHT, *SMALL, cwd=work, env={"PRIVIB_DATA_DIR": str(adult_root)})
    assert result.returncode == 0, result.stderr[-3000:]
    return work, result.stdout


def test_run_folder_layout_and_accuracy(finished_run):
    work, stdout = finished_run
    folder = Path(stdout.strip().splitlines()[-1])
    folder = folder if folder.is_absolute() else work / folder
    assert folder.parent == work / "runs"
    assert folder.name.startswith("adult-")
    assert json.loads((folder / "status.json").read_text())["state"] == "finished"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["task/test/acc"] > 0.80
    assert metrics["task/val/acc"] > 0.80
    assert (folder / "checkpoints" / "best.ckpt").is_file() and (folder / "checkpoints" / "last.ckpt").is_file()
    config = yaml.safe_load((folder / "config.yaml").read_text())
    assert config["data"]["name"] == "adult" and config["model"]["beta"] == pytest.approx(0.05)
    assert config["model"]["release"] == "sample"
    assert config["trainer"]["max_epochs"] == 4 and "seed_everything" in config
    history = json.loads((folder / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]  # epochs are counted from 1 everywhere
    assert {"val/info/rate_bits", "val/info/izs_lb_bits/sex", "train/adv/sex/acc"} <= set(history[-1])


def test_overrides_name_runs_dir_and_two_runs_never_share_a_folder(tmp_path, adult_root):
    args = ["run", *LIGHT, *SMALL, "--trainer.max_epochs", "1", "--name", "tiny", "--runs_dir", "out", "--model.beta", "0.01",
            "--data.sensitive", "sex,race", "--wandb.enabled", "false"]
    first = run_privib(*args, cwd=tmp_path, env={"PRIVIB_DATA_DIR": str(adult_root)})
    second = run_privib(*args, cwd=tmp_path, env={"PRIVIB_DATA_DIR": str(adult_root)})
    assert first.returncode == 0 and second.returncode == 0, first.stderr[-2000:] + second.stderr[-2000:]
    folders = sorted((tmp_path / "out").iterdir())
    assert len(folders) == 2 and all(f.name.startswith("tiny-") for f in folders)
    config = yaml.safe_load((folders[0] / "config.yaml").read_text())
    assert config["model"]["beta"] == pytest.approx(0.01)
    assert config["data"]["sensitive"] == "sex,race"
    history = json.loads((folders[0] / "history.json").read_text())
    assert "val/adv/race/acc" in history[0] and "val/adv/sex/acc" in history[0]


def test_print_config_prints_the_resolved_yaml(tmp_path):
    result = run_privib("run", "--model.adv_weight", "5", "--print_config", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    assert config["model"]["adv_weight"] == 5.0 and config["data"]["name"] == "adult"
    assert not (tmp_path / "runs").exists()


def test_help_explains_every_section(tmp_path):
    result = run_privib("run", "--help", cwd=tmp_path)
    assert result.returncode == 0
    for option in ("--model.beta", "--model.adv_weight", "--data.sensitive", "--trainer.max_epochs", "--wandb.mode",
                   "--checkpoint.monitor", "--runs_dir", "--name", "--print_config"):
        assert option in result.stdout, option
    top = run_privib("--help", cwd=tmp_path)
    assert top.returncode == 0 and "run" in top.stdout


def test_wandb_offline_run_records_the_full_config(tmp_path, adult_root):
    result = run_privib("run", *LIGHT, *SMALL, "--trainer.max_epochs", "1", "--wandb.group", "g1", "--wandb.tags", "[a,b]",
                        cwd=tmp_path, env={"PRIVIB_DATA_DIR": str(adult_root), "WANDB_MODE": "offline"})
    assert result.returncode == 0, result.stderr[-3000:]
    folder = tmp_path / result.stdout.strip().splitlines()[-1]
    offline = list((folder / "wandb").glob("offline-run-*"))
    assert len(offline) == 1
    wandb_cli = Path(sys.executable).parent / "wandb"
    inspected = subprocess.run([str(wandb_cli), "leet", "inspect", "--summary", "--json", str(offline[0])],
                               capture_output=True, text=True, timeout=120)
    record = json.loads(inspected.stdout)
    assert record["name"] == folder.name and record["tags"] == ["a", "b"] and record["project"] == "privib"
    config = record["config"]
    assert config["data"]["name"] == "adult" and config["model"]["adv_weight"] == 2
    assert config["trainer"]["max_epochs"] == 1 and config["wandb"]["group"] == "g1"
    assert "data_spec" not in config, "only the resolved run config is pushed, not module internals"
    assert record["summary"]["task/test/acc"] > 0.5
