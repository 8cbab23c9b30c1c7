"""The export's W&B logging against a W&B host that never answers: the run's own W&B run, offline, one warning."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from helpers.wandb_hosts import privib_warnings
from privib.runs.folder import RunFolder


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("no_wandb_left_running")
def test_export_logging_goes_offline_with_a_warning_when_the_host_is_dead(
    dead_host: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from privib.pipeline.tracking import resume_wandb_logger

    caplog.set_level(logging.WARNING, logger="privib")
    folder = RunFolder(tmp_path / "run")
    folder.path.mkdir()
    folder.write_status("finished", wandb_id="feed1234")
    logger = resume_wandb_logger(folder, {"wandb": {"mode": "online"}})
    warnings = privib_warnings(caplog)
    assert len(warnings) == 1 and dead_host in warnings[0] and "offline" in warnings[0]
    run = logger.experiment
    assert run.settings.mode == "offline" and run.id == "feed1234"  # the run's own W&B run, not a new one
    run.finish()
    assert list((folder.path / "wandb").glob("offline-run-*-feed1234"))
