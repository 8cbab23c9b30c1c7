"""A run's status stays honest when the disk fills up or a stage fails."""
from __future__ import annotations

import errno
import json
from types import SimpleNamespace

import pytest

from privib.pipeline import runner
from privib.pipeline.stage import Stage
from privib.runs import folder as run_folder
from privib.runs.folder import RunFolder, create_run_folder


def _full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_stage_failing_on_a_full_disk_leaves_the_run_failed_with_the_reason(tmp_path, monkeypatch):
    folder = RunFolder(create_run_folder(tmp_path, "full"))

    def fills_the_disk(ctx) -> dict:
        monkeypatch.setattr(run_folder, "write_json_atomic", _full_disk)  # from now on no temp file can be made
        raise OSError(errno.ENOSPC, "No space left on device")

    config = {"wandb": {"enabled": False}, "runs_dir": str(tmp_path), "name": "full"}
    with pytest.raises(OSError):
        runner._run_stages(folder, config, [Stage("fit", fills_the_disk)], module=None,
                           datamodule=SimpleNamespace(warnings=[]), resume=None, trusted=(), is_rank_zero=True)
    status = json.loads(folder.status_path.read_text())
    assert status["state"] == "failed" and "No space left on device" in status["reason"]
