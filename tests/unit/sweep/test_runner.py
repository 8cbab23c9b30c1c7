"""Running a sweep here: the sweep folder is locked, so a second sweep of it is refused (privib.locks.FolderLock)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from helpers.sweeps import write_spec
from privib.errors import ConfigError
from privib.locks import FolderLock
from privib.sweep.points import expand_points
from privib.sweep.runner import run_sweep
from privib.sweep.spec import load_sweep_spec

HOLD_LOCK = "import sys, time; from privib.locks import FolderLock; FolderLock(sys.argv[1], 'sweeping').__enter__(); print('locked', flush=True); time.sleep(30)"


def test_a_sweep_folder_runs_one_sweep_at_a_time(tmp_path):
    spec = load_sweep_spec(write_spec(tmp_path), directory=str(tmp_path / "sweep"))
    points = expand_points(spec)
    spec.dir.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(spec.dir)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ConfigError, match=f"in use by another privib process \\(pid {holder.pid}, sweeping since"):
            run_sweep(spec, points, points, set(), {}, spec.dir / "runs", no_compare=True)
    finally:
        holder.kill()
        holder.wait()
    with FolderLock(spec.dir, "sweeping") as lock:  # the holder is gone: its lock went with it
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()
