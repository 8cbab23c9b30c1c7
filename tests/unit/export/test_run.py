"""The export's W&B run against a W&B host that never answers: offline, with one warning."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from helpers.wandb_hosts import privib_warnings
from privib.runs.folder import RunFolder


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("no_wandb_left_running")
def test_export_run_goes_offline_with_a_warning_when_the_host_is_dead(
    dead_host: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from privib.export.run import start_export_wandb_run

    caplog.set_level(logging.WARNING, logger="privib")
    folder = RunFolder(tmp_path / "run")
    folder.path.mkdir()
    run = start_export_wandb_run(folder, {"wandb": {"mode": "online"}})
    warnings = privib_warnings(caplog)
    assert len(warnings) == 1 and dead_host in warnings[0] and "offline" in warnings[0]
    assert run is not None and run.settings.mode == "offline"
    run.finish()
    assert list((folder.path / "wandb").glob("offline-run-*"))
