"""Reliability of `privib run`: resume after SIGKILL, determinism, guarded training, concurrency, W&B trouble, DDP."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers.cli import REPO, run_privib, run_privib_together

pytestmark = pytest.mark.slow
LIGHT = ["--config", str(REPO / "configs" / "adult.yaml"), "--config", str(Path(__file__).with_name("light_evaluation.yaml"))]
QUIET = [*LIGHT, "--trainer.enable_progress_bar", "false", "--wandb.enabled", "false"]


def _folder(result: subprocess.CompletedProcess, cwd: Path) -> Path:
    assert result.returncode == 0, result.stderr[-3000:]
    path = Path(result.stdout.strip().splitlines()[-1])
    return path if path.is_absolute() else cwd / path


def _json(path: Path) -> object:
    return json.loads(path.read_text())


def test_resume_after_sigkill_matches_an_uninterrupted_run(tmp_path, adult_root):
    env = {**os.environ, "PRIVIB_DATA_DIR": str(adult_root), "PYTHONWARNINGS": "ignore"}
    args = [*QUIET, "--trainer.max_epochs", "6", "--checkpoint.patience", "null"]
    reference = _folder(run_privib("run", *args, "--runs_dir", "ref", cwd=tmp_path, env=env), tmp_path)

    process = subprocess.Popen([sys.executable, "-m", "privib.cli", "run", *args, "--runs_dir", "killed"], cwd=tmp_path,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    history = None
    while time.monotonic() < deadline and process.poll() is None:
        found = list((tmp_path / "killed").glob("*/history.json"))
        if found and len(_json(found[0])) >= 3:
            history = found[0]
            break
        time.sleep(0.05)
    assert history is not None, "the run never reached epoch 3"
    process.send_signal(signal.SIGKILL)
    process.wait()
    folder = history.parent
    assert _json(folder / "status.json")["state"] == "running"
    assert not (folder / "metrics.json").exists() or "task/test/acc" not in _json(folder / "metrics.json")

    resumed = _folder(run_privib("run", "--resume", str(folder), cwd=tmp_path, env=env), tmp_path)
    assert resumed == folder
    assert _json(folder / "status.json")["state"] == "finished"
    assert _json(folder / "metrics.json") == _json(reference / "metrics.json")
    assert _json(folder / "history.json") == _json(reference / "history.json")


TWO_EPOCHS = ["run", *QUIET, "--trainer.max_epochs", "2"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, adult_root) -> Path:
    """A finished 2-epoch run, shared by the tests that only read it."""
    work = tmp_path_factory.mktemp("finished")
    return _folder(run_privib(*TWO_EPOCHS, cwd=work, env={"PRIVIB_DATA_DIR": str(adult_root)}), work)


def test_same_config_and_seed_give_identical_metrics(tmp_path, adult_root, finished_run):
    env = {"PRIVIB_DATA_DIR": str(adult_root)}
    args = TWO_EPOCHS
    first = finished_run
    # a new interpreter (its own hash seed), not a fork of the one that ran the first
    second = _folder(run_privib(*args, cwd=tmp_path, env=env, fresh=True), tmp_path)
    assert first != second
    assert _json(first / "metrics.json") == _json(second / "metrics.json")
    different = _folder(run_privib(*args, "--seed_everything", "1", cwd=tmp_path, env=env), tmp_path)
    assert _json(different / "metrics.json") != _json(first / "metrics.json")


def test_non_finite_training_fails_with_epoch_step_and_hint(tmp_path, adult_root):
    result = run_privib("run", *QUIET, "--trainer.max_epochs", "2", "--model.lr", "1e30", cwd=tmp_path,
                        env={"PRIVIB_DATA_DIR": str(adult_root)})
    assert result.returncode == 3
    assert "non-finite" in result.stderr and "model.lr" in result.stderr and "Traceback" not in result.stderr
    status = _json(next((tmp_path / "runs").glob("*/status.json")))
    assert status["state"] == "failed" and "epoch" in status and "step" in status


def test_resume_refuses_a_finished_run(tmp_path, adult_root, finished_run):
    env = {"PRIVIB_DATA_DIR": str(adult_root)}
    folder = finished_run
    result = run_privib("run", "--resume", str(folder), cwd=tmp_path, env=env)
    assert result.returncode == 2 and "already finished" in result.stderr


def test_four_concurrent_runs_get_four_complete_folders(tmp_path, adult_root):
    command = ["run", *QUIET, "--trainer.max_epochs", "1", "--name", "same"]
    results = run_privib_together([command] * 4, cwd=tmp_path, env={"PRIVIB_DATA_DIR": str(adult_root)})
    assert all(r.returncode == 0 for r in results), [r.stderr[-1500:] for r in results]
    folders = {r.stdout.strip().splitlines()[-1] for r in results}
    assert len(folders) == 4
    for folder in folders:
        assert _json(tmp_path / folder / "status.json")["state"] == "finished"
        assert "task/test/acc" in _json(tmp_path / folder / "metrics.json")


def test_unreachable_wandb_host_falls_back_to_offline_with_one_warning(tmp_path, adult_root):
    env = {"PRIVIB_DATA_DIR": str(adult_root), "WANDB_MODE": "online", "WANDB_API_KEY": "x" * 40,
           "WANDB_BASE_URL": "http://127.0.0.1:9"}
    result = run_privib("run", *LIGHT, "--trainer.enable_progress_bar", "false", "--trainer.max_epochs", "1", cwd=tmp_path,
                        env=env, timeout=80)
    folder = _folder(result, tmp_path)
    warnings = [line for line in result.stderr.splitlines() if "W&B" in line and "offline" in line]
    assert len(warnings) == 1, result.stderr[-2000:]
    assert list((folder / "wandb").glob("offline-run-*"))
    recorded = _json(folder / "status.json")["warnings"]
    assert len(recorded) == 1 and recorded[0] in warnings[0]


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="DDP test needs two cores")
def test_ddp_metrics_within_noise_of_single_process(tmp_path, adult_root):
    """Two CPU processes under DDP: one run folder, finished, and the figures of a single-process run."""
    env = {"PRIVIB_DATA_DIR": str(adult_root)}
    args = ["run", *QUIET, "--trainer.max_epochs", "3"]
    single = _folder(run_privib(*args, "--runs_dir", "single", cwd=tmp_path, env=env), tmp_path)
    ddp = _folder(run_privib(*args, "--runs_dir", "ddp", "--trainer.strategy", "ddp", "--trainer.devices", "2",
                             cwd=tmp_path, env=env, fresh=True), tmp_path)  # DDP re-executes the command line
    assert len(list((tmp_path / "ddp").iterdir())) == 1, "only rank 0 creates a run folder"
    assert _json(ddp / "status.json")["state"] == "finished"
    one, two = _json(single / "metrics.json"), _json(ddp / "metrics.json")
    assert two["task/test/acc"] > 0.80
    assert abs(one["task/test/acc"] - two["task/test/acc"]) < 0.02
    history = _json(ddp / "history.json")
    assert len(history) == 3 and history[-1]["val/task_acc"] > 0.8
