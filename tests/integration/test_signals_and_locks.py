"""Signals and concurrency leave honest state: a terminated run says so, one process per run folder."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers.cli import REPO, run_privib

pytestmark = pytest.mark.slow
LIGHT = ["--config", str(REPO / "configs" / "adult.yaml"), "--config", str(Path(__file__).with_name("light_evaluation.yaml")),
         "--trainer.enable_progress_bar", "false", "--wandb.enabled", "false"]


def _env(adult_root: Path) -> dict[str, str]:
    return {**os.environ, "PRIVIB_DATA_DIR": str(adult_root), "PYTHONWARNINGS": "ignore"}


def _start(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "privib.cli", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(condition, process: subprocess.Popen, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} never happened (exit code {process.poll()})")


def _status(folder: Path) -> dict:
    return json.loads((folder / "status.json").read_text())


def _history_rows(runs: Path) -> int:
    found = list(runs.glob("*/history.json"))
    return len(json.loads(found[0].read_text())) if found else 0


def test_sigterm_during_training_exits_143_and_marks_the_run_terminated(tmp_path, adult_root):
    process = _start(["run", *LIGHT, "--trainer.max_epochs", "50", "--checkpoint.patience", "null"], tmp_path, _env(adult_root))
    _wait_for(lambda: _history_rows(tmp_path / "runs") >= 1, process, "the first epoch")
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr[-2000:]
    assert "privib: terminated (SIGTERM)" in stderr and "Traceback" not in stderr
    status = _status(next((tmp_path / "runs").iterdir()))
    assert status["state"] == "failed" and status["reason"] == "terminated (SIGTERM)"


def test_sigterm_after_training_marks_the_run_failed_not_running(tmp_path, adult_root):
    # The default battery (two MLP attackers) keeps the evaluate stage busy for seconds after fit.
    args = ["run", "--config", str(REPO / "configs" / "adult.yaml"), "--trainer.max_epochs", "1",
            "--trainer.enable_progress_bar", "false", "--wandb.enabled", "false", "--evaluation.robustness", "{}"]
    process = _start(args, tmp_path, _env(adult_root))

    def trained() -> bool:
        found = list((tmp_path / "runs").glob("*/metrics.json"))
        return bool(found) and "fit/epochs" in json.loads(found[0].read_text())

    _wait_for(trained, process, "the end of the fit stage")
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=120)
    assert process.returncode == 143
    status = _status(next((tmp_path / "runs").iterdir()))
    assert status["state"] == "failed" and status["reason"] == "terminated (SIGTERM)"


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, adult_root) -> Path:
    work = tmp_path_factory.mktemp("locks")
    done = run_privib("run", *LIGHT, "--trainer.max_epochs", "1", cwd=work, env={"PRIVIB_DATA_DIR": str(adult_root)})
    assert done.returncode == 0, done.stderr[-2000:]
    return work / done.stdout.strip().splitlines()[-1]


def test_sigterm_during_export_leaves_no_temporary_folder(trained_run, tmp_path, adult_root):
    out = tmp_path / "exported"
    process = _start(["export", str(trained_run), "--out", str(out), "--no-wandb"], tmp_path, _env(adult_root))
    _wait_for(lambda: any(tmp_path.glob(".exported.tmp-*")), process, "the temporary export folder")
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=120)
    assert process.returncode == 143
    assert not list(tmp_path.glob(".exported.*")) and not out.exists()


def test_a_stale_temporary_export_folder_is_swept(trained_run, tmp_path, adult_root):
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f".exported.tmp-{dead.pid}-0000"
    stale.mkdir()
    (stale / "encoder.onnx").write_bytes(b"half")
    done = run_privib("export", str(trained_run), "--out", str(tmp_path / "exported"), "--no-wandb", cwd=tmp_path,
                      env={"PRIVIB_DATA_DIR": str(adult_root)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert not stale.exists() and (tmp_path / "exported" / "manifest.json").is_file()


def test_two_resumes_of_one_run_cannot_both_train(tmp_path, adult_root):
    env = _env(adult_root)
    # 500 epochs: the first resume must still be training after the second and the evaluate were refused
    first = _start(["run", *LIGHT, "--trainer.max_epochs", "500", "--checkpoint.patience", "null"], tmp_path, env)
    _wait_for(lambda: _history_rows(tmp_path / "runs") >= 2, first, "the second epoch")
    first.kill()
    first.wait()
    folder = next((tmp_path / "runs").iterdir())
    resumes = [_start(["run", "--resume", str(folder)], tmp_path, env)]
    # the second starts once the first holds the folder (the killed run's lock file names the dead pid)
    _wait_for(lambda: f'"pid": {resumes[0].pid},' in (folder / ".lock").read_text(), resumes[0], "the first resume's lock")
    resumes.append(_start(["run", "--resume", str(folder)], tmp_path, env))
    _, second_err = resumes[1].communicate(timeout=300)
    assert resumes[1].returncode == 2, second_err[-2000:]
    assert "in use by another privib process" in second_err and f"pid {resumes[0].pid}" in second_err
    evaluate = run_privib("evaluate", str(folder), cwd=tmp_path, env={"PRIVIB_DATA_DIR": str(adult_root)})
    assert evaluate.returncode == 2 and "training since" in evaluate.stderr, evaluate.stderr[-2000:]
    resumes[0].send_signal(signal.SIGTERM)
    resumes[0].communicate(timeout=120)
    assert _status(folder)["state"] == "failed"


def test_two_evaluates_of_one_run_cannot_overlap(trained_run, tmp_path, adult_root):
    env = _env(adult_root)
    first = _start(["evaluate", str(trained_run)], tmp_path, env)
    _wait_for(lambda: (trained_run / ".lock").is_file() and '"evaluating"' in (trained_run / ".lock").read_text(),
              first, "the first evaluate taking the lock")
    second = run_privib("evaluate", str(trained_run), cwd=tmp_path, env={"PRIVIB_DATA_DIR": str(adult_root)})
    _, first_err = first.communicate(timeout=300)
    assert first.returncode == 0, first_err[-2000:]
    assert second.returncode == 2 and "evaluating since" in second.stderr, second.stderr[-2000:]
