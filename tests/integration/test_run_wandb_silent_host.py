"""`privib run` and `privib export` against a W&B host that accepts connections and never answers.

Both must finish, each with one warning, and log offline (the ``silent_host`` fixture is in
tests/conftest.py; the unit tests of the same hosts are in tests/unit/runs/test_wandb.py).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers.cli import REPO, run_privib


@pytest.mark.slow
@pytest.mark.timeout(400)
@pytest.mark.usefixtures("no_wandb_left_running")
def test_run_and_export_cli_against_a_silent_host_finish_with_one_warning_each(
    silent_host: str, tmp_path: Path, adult_root: Path
) -> None:
    env = {"PRIVIB_DATA_DIR": str(adult_root)}
    trained = run_privib("run", "--config", str(REPO / "configs" / "adult.yaml"), "--trainer.max_epochs", "1",
                         "--wandb.mode", "online", "--evaluation.robustness", "{}", "--evaluation.raw_reference", "false",
                         "--evaluation.attack_both", "false", "--trainer.enable_progress_bar", "false",
                         "--evaluation.downstream", "null", "--evaluation.encoder_holder", "false", "--evaluation.k_releases", "[]",
                         "--runs_dir", str(tmp_path / "runs"), cwd=tmp_path, env=env, timeout=300)
    assert trained.returncode == 0, trained.stderr[-3000:]
    run = Path(trained.stdout.strip().splitlines()[-1])
    exported = run_privib("export", str(run), "--format", "safetensors", cwd=tmp_path, env=env, timeout=120)
    assert exported.returncode == 0, exported.stderr[-3000:]
    for result in (trained, exported):
        warnings = [line for line in result.stderr.splitlines() if line.startswith("privib: WARNING:")]
        assert len(warnings) == 1 and silent_host in warnings[0] and "offline" in warnings[0], result.stderr[-3000:]
    assert len(list((run / "wandb").glob("offline-run-*"))) == 2
