"""The run's W&B logger against a W&B host that never answers, or that stalls W&B's API: offline, one warning.

The fake hosts (``dead_host``, ``probe_only_host``, ``wandb_env``) are fixtures of tests/conftest.py.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from helpers.wandb_hosts import privib_warnings
from privib.pipeline import tracking
from privib.runs import wandb as wandb_modes
from privib.runs.folder import RunFolder
from privib.runs.wandb import WandbOptions

pytestmark = pytest.mark.usefixtures("no_wandb_left_running")


@pytest.mark.timeout(60)
def test_logger_goes_offline_with_one_warning_when_the_host_is_dead(
    dead_host: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="privib")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    logger, warning = tracking.make_wandb_logger(WandbOptions(mode="online"), run_dir, {"seed": 1}, "abcd1234")
    assert warning is not None and dead_host in warning and "offline" in warning
    assert privib_warnings(caplog) == [warning]
    assert logger.experiment.settings.mode == "offline" and logger.experiment.id == "abcd1234"
    logger.experiment.finish()
    assert list((run_dir / "wandb").glob("offline-run-*-abcd1234"))


@pytest.mark.timeout(90)
def test_failed_online_start_frees_the_run_id_for_the_offline_retry(
    probe_only_host: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The host answers the probe but stalls W&B's API: the retry must not hit "run ID ... is in use"."""
    monkeypatch.setattr(tracking, "INIT_TIMEOUT_S", 2.0)  # read by tracking's logger builder: wandb.init's timeout
    caplog.set_level(logging.WARNING, logger="privib")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    logger, warning = tracking.make_wandb_logger(WandbOptions(mode="online"), run_dir, {"seed": 1}, "abcd1234")
    assert warning is not None and "W&B refused the run" in warning and "offline" in warning
    assert privib_warnings(caplog) == [warning]
    assert logger.experiment.settings.mode == "offline" and logger.experiment.id == "abcd1234"


class _FakeLogger:
    """Stands in for WandbLogger: starting it fails online, and offline for the id W&B still holds."""

    def __init__(self, mode: str, run_id: str | None, held: str) -> None:
        self.mode, self.run_id, self.held = mode, run_id, held

    @property
    def experiment(self) -> _FakeLogger:
        if self.mode == "online" or self.run_id == self.held:
            raise RuntimeError(f"run ID {self.run_id} is in use")
        return self


def test_an_id_still_held_is_replaced_and_recorded_in_the_status(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, wandb_env: None
) -> None:
    monkeypatch.setattr(wandb_modes, "probe_wandb_host", lambda timeout_s=3.0: None)
    monkeypatch.setattr(wandb_modes, "discard_failed_wandb_start", lambda timeout_s=10.0: None)
    monkeypatch.setattr(tracking, "_build_logger",
                        lambda options, run_dir, config, run_id, mode: _FakeLogger(mode, run_id, held="abcd1234"))
    folder = RunFolder(tmp_path / "run")
    folder.path.mkdir()
    folder.write_status("running", wandb_id="abcd1234")
    logger, warning = tracking.make_wandb_logger(WandbOptions(mode="online"), folder.path, {}, "abcd1234")
    assert logger.mode == "offline" and logger.run_id not in (None, "abcd1234")
    assert warning is not None and "abcd1234" in warning and logger.run_id in warning
    status = json.loads(folder.status_path.read_text())
    assert status["wandb_id"] == logger.run_id and status["state"] == "running"
