"""Sweep points forked from the warm helper behave as new interpreters do: exit codes, logs, sessions, Ctrl-C."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import privib
from privib.sweep.local import child_env
from privib.sweep.warm import WarmLauncher, warm_enabled

pytestmark = pytest.mark.slow
SYNTHETIC = ["--data.name", "synthetic", "--data.sensitive", "s", "--data.options", '{"n_train": 2000, "n_test": 500}',
             "--wandb.enabled", "false", "--trainer.enable_progress_bar", "false"]


@pytest.fixture(scope="module")
def launcher():
    started = WarmLauncher(child_env(1))
    yield started
    started.close()


def test_points_get_their_exit_code_their_log_and_their_own_session(launcher, tmp_path):
    env = child_env(1)
    good, bad = tmp_path / "good.log", tmp_path / "bad.log"
    good.write_text("=== header\n")
    first = launcher.start(["datasets"], good, env, cwd=tmp_path)
    second = launcher.start(["run", "--model.beta", "-1"], bad, env, cwd=tmp_path)
    assert (first.wait(timeout=120), second.wait(timeout=120)) == (0, 2)
    assert good.read_text().startswith("=== header\n") and "adult" in good.read_text()
    assert [line for line in bad.read_text().splitlines() if line.startswith("privib: error:")] == [
        "privib: error: model.beta must be a finite number >= 0, got -1.0: pass e.g. --model.beta 0.01"]
    assert first.pid != second.pid and first.poll() == 0


def test_the_child_takes_the_points_environment_and_folder(launcher, tmp_path):
    env = {**child_env(1), "PRIVIB_DATA_DIR": str(tmp_path / "nowhere"), "PRIVIB_OFFLINE": "1",
           "PRIVIB_CACHE_DIR": str(tmp_path / "cache")}
    log = tmp_path / "point.log"
    point = launcher.start(["run", "--trainer.max_epochs", "1"], log, env, cwd=tmp_path)
    assert point.wait(timeout=120) == 2
    assert str(tmp_path / "nowhere") in log.read_text()  # the point's PRIVIB_DATA_DIR, not the sweep's
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_an_interrupted_point_marks_its_run_failed(launcher, tmp_path):
    log = tmp_path / "long.log"
    point = launcher.start(["run", *SYNTHETIC, "--trainer.max_epochs", "500", "--checkpoint.patience", "null",
                            "--runs_dir", str(tmp_path / "runs")], log, child_env(1), cwd=tmp_path)
    assert os.getpgid(point.pid) == point.pid  # its own process group, as start_new_session gives
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list((tmp_path / "runs").glob("*/history.json")):
        time.sleep(0.1)
    assert list((tmp_path / "runs").glob("*/history.json")), log.read_text()[-2000:]
    os.killpg(point.pid, signal.SIGINT)  # what the sweep does on Ctrl-C
    assert point.wait(timeout=120) == 130, log.read_text()[-2000:]
    assert "privib: interrupted (SIGINT)" in log.read_text() and "Traceback" not in log.read_text()
    status = json.loads(next((tmp_path / "runs").glob("*/status.json")).read_text())
    assert status["state"] == "failed" and status["reason"] == "interrupted (SIGINT)"


def test_points_run_the_code_as_it_was_when_the_helper_started(tmp_path, monkeypatch):
    """A module a point imports lazily (``privib datasets``' own) edited after the helper started does not reach it."""
    source = tmp_path / "src"
    shutil.copytree(Path(privib.__file__).parent, source / "privib", ignore=shutil.ignore_patterns("__pycache__"))
    env = {**child_env(1), "PYTHONPATH": str(source)}
    monkeypatch.chdir(tmp_path)  # `python -m` and `-c` look in the working folder first
    where = subprocess.run([sys.executable, "-c", "import privib; print(privib.__file__)"], env=env,
                           capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(source)), where
    started = WarmLauncher(env)
    try:
        probe = started.start(["datasets"], tmp_path / "before.log", env, cwd=tmp_path)
        assert probe.wait(timeout=120) == 0  # the helper is up and has preloaded
        with (source / "privib" / "cli" / "datasets.py").open("a") as module:
            module.write("\nraise RuntimeError('edited after the sweep started')\n")
        point = started.start(["datasets"], tmp_path / "after.log", env, cwd=tmp_path)
        assert point.wait(timeout=120) == 0, (tmp_path / "after.log").read_text()
        assert "adult" in (tmp_path / "after.log").read_text()
    finally:
        started.close()
    fresh = subprocess.run([sys.executable, "-m", "privib.cli", "datasets"], env=env, capture_output=True, text=True)
    assert fresh.returncode != 0 and "edited after the sweep started" in fresh.stderr  # a new interpreter does see it


def test_warm_points_can_be_switched_off():
    assert warm_enabled({"PRIVIB_SWEEP_WARM": "1"}) is hasattr(os, "fork")
    assert not warm_enabled({"PRIVIB_SWEEP_WARM": "0"})


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="DDP needs two cores")
def test_a_ddp_point_relaunches_its_second_rank_and_finishes(launcher, tmp_path):
    log = tmp_path / "ddp.log"
    point = launcher.start(["run", *SYNTHETIC, "--trainer.max_epochs", "1", "--trainer.strategy", "ddp", "--trainer.devices",
                            "2", "--evaluation.robustness", "{}", "--runs_dir", str(tmp_path / "runs")], log, child_env(1),
                           cwd=tmp_path)
    assert point.wait(timeout=300) == 0, log.read_text()[-2000:]
    folders = list((tmp_path / "runs").iterdir())
    assert len(folders) == 1, "only rank 0 creates a run folder"
    assert json.loads((folders[0] / "status.json").read_text())["state"] == "finished"


def test_a_sweep_whose_helper_fails_starts_its_points_as_new_processes(tmp_path, monkeypatch, capsys):
    import sys

    from privib.sweep import local
    from privib.sweep.points import Point

    class BrokenHelper:
        closed = False

        def __init__(self, env: dict) -> None:
            pass

        def start(self, *args, **kwargs):
            raise RuntimeError("the warm sweep helper is gone (exit code 1)")

        def close(self) -> None:
            BrokenHelper.closed = True

    monkeypatch.setattr(local, "WarmLauncher", BrokenHelper)
    point = Point(method="m", params=(), seed=0, id="point")
    attempts = local.run_points([point], lambda p: [sys.executable, "-m", "privib.cli", "datasets"], workers=1,
                                sweep_dir=tmp_path, runs_dir=tmp_path / "runs", env=child_env(1), poll=0.05,
                                out=open(os.devnull, "w"))
    assert attempts[0].returncode == 0 and BrokenHelper.closed
    assert "adult" in (tmp_path / "logs" / "m-point.log").read_text()  # the new process ran the command
    assert "starting the points as new processes" in capsys.readouterr().err
