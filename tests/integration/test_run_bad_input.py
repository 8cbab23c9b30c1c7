"""Bad input to `privib run`: one error line naming the fix, exit code 2, no traceback, nothing finished."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.cli import run_privib

pytestmark = pytest.mark.slow

BAD_RUNS = {
    "unknown dataset": (["--data.name", "nosuch"], "unknown dataset 'nosuch'"),
    "unknown attribute": (["--data.sensitive", "height"], "unknown sensitive attribute 'height'"),
    "negative beta": (["--model.beta", "-0.5"], "model.beta must be"),
    "negative adv_weight": (["--model.adv_weight", "-1"], "model.adv_weight must be"),
    "unknown override key": (["--model.betta", "0.1"], "--model.betta"),
    "wrong type": (["--trainer.max_epochs", "many"], "max_epochs"),
    "missing config file": (["--config", "nope.yaml"], "nope.yaml"),
}


def _assert_one_line_error(result, needle: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("privib: error: ") and needle in lines[0], lines[0]
    assert "Traceback" not in result.stderr


def _no_finished_run(work: Path) -> None:
    for status in work.glob("runs/*/status.json"):
        assert json.loads(status.read_text())["state"] != "finished"


@pytest.mark.parametrize("case", sorted(BAD_RUNS))
def test_bad_run_arguments(case, tmp_path, adult_root):
    args, needle = BAD_RUNS[case]
    result = run_privib("run", *args, cwd=tmp_path, env={"PRIVIB_DATA_DIR": str(adult_root)})
    _assert_one_line_error(result, needle)
    _no_finished_run(tmp_path)


def test_malformed_yaml(tmp_path, adult_root):
    (tmp_path / "bad.yaml").write_text("model:\n  beta: [0.1\n  adv_weight: 2\n")
    result = run_privib("run", "--config", "bad.yaml", cwd=tmp_path, env={"PRIVIB_DATA_DIR": str(adult_root)})
    _assert_one_line_error(result, "bad.yaml")


def test_missing_data_file_offline_names_file_and_both_fixes(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_privib("run", "--data.root", str(empty), cwd=tmp_path,
                        env={"PRIVIB_DATA_DIR": "", "PRIVIB_CACHE_DIR": str(tmp_path / "cache"), "PRIVIB_OFFLINE": "1"})
    _assert_one_line_error(result, "adult.data")
    assert "PRIVIB_DATA_DIR" in result.stderr and "--data.root" in result.stderr and "download" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_debug_shows_the_traceback(tmp_path, adult_root):
    result = run_privib("--debug", "run", "--model.beta", "-1", cwd=tmp_path, env={"PRIVIB_DATA_DIR": str(adult_root)})
    assert result.returncode != 0 and "Traceback" in result.stderr
