"""The local sweep runner: failures recorded with their reason, the summary, resume, parallel workers, Ctrl-C.

The runner is exercised with a stand-in for `privib run` (the ``fake_run`` fixture), so these
tests train nothing; tests/integration/test_sweep_cli.py runs real points.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from helpers.sweeps import write_spec
from privib.sweep.local import child_env, done_points, run_points
from privib.sweep.points import child_argv, expand_points
from privib.sweep.spec import load_sweep_spec
from privib.sweep.summary import write_summary


def _run(spec, points, fake_run: Path, workers: int = 2, env: dict | None = None):
    runs_dir = spec.dir / "runs"
    command = lambda p: [sys.executable, str(fake_run), *child_argv(spec, p, runs_dir)]  # noqa: E731
    return run_points(points, command, workers=workers, sweep_dir=spec.dir, runs_dir=runs_dir,
                      env={**child_env(1), **(env or {})}, poll=0.05, out=open(os.devnull, "w"))


def test_runner_failures_summary_and_resume(tmp_path, fake_run):
    spec = load_sweep_spec(write_spec(tmp_path), grid=["model.beta=0.01,666,999"], seeds="0", methods="vib",
                           directory=str(tmp_path / "sweep"))
    points = expand_points(spec)
    assert len(points) == 3
    attempts = _run(spec, points, fake_run)
    assert sorted(a.state for a in attempts) == ["failed", "failed", "finished"]  # a failure does not stop the sweep
    path, rows = write_summary(points, spec.dir / "runs", spec.dir)
    by_beta = {row["model.beta"]: row for row in rows}
    assert by_beta["0.01"]["state"] == "finished" and by_beta["0.01"]["task/test/acc"] == pytest.approx(0.79)
    assert by_beta["666"]["state"] == "failed" and by_beta["666"]["reason"] == "TrainingDiverged: loss is nan"
    assert by_beta["999"]["state"] == "failed" and by_beta["999"]["reason"] == "model.beta 999 is not allowed"
    assert by_beta["999"]["run_dir"] == ""
    assert path.read_text().count("\n") == 4
    finished = spec.dir / by_beta["0.01"]["run_dir"]
    assert json.loads((finished / "metrics.json").read_text())["threads"] == 1.0  # one BLAS thread per child
    assert (spec.dir / "logs" / f"{points[2].run_name}.log").read_text().count("model.beta 999 is not allowed") == 1
    # Resume: only the points without a finished run run again.
    done = done_points(points, spec.dir / "runs")
    assert done == {p.id for p in points if p.params_dict()["model.beta"] == 0.01}
    again = _run(spec, [p for p in points if p.id not in done], fake_run)
    assert len(again) == 2
    _, rows = write_summary(points, spec.dir / "runs", spec.dir)
    assert {r["model.beta"]: r["attempts"] for r in rows} == {"0.01": 1, "666": 2, "999": 2}
    assert len((spec.dir / "attempts.jsonl").read_text().splitlines()) == 5


def test_workers_run_in_parallel(tmp_path, fake_run):
    spec = load_sweep_spec(write_spec(tmp_path), grid=["model.beta=0.01,0.02,0.03,0.04"], seeds="0", methods="vib",
                           directory=str(tmp_path / "sweep"))
    started = time.monotonic()
    attempts = _run(spec, expand_points(spec), fake_run, workers=4, env={"FAKE_SLEEP": "3"})
    elapsed = time.monotonic() - started
    assert [a.state for a in attempts] == ["finished"] * 4
    assert elapsed < 4 * 3, f"4 workers took {elapsed:.1f} s for 4 x 3 s points"


def test_interrupt_stops_children_and_records_them(tmp_path, fake_run):
    spec = load_sweep_spec(write_spec(tmp_path), grid=["model.beta=0.01,0.02,0.03"], seeds="0", methods="vib",
                           directory=str(tmp_path / "sweep"))
    points = expand_points(spec)
    # A shell that starts a job in the background makes it ignore SIGINT; Ctrl-C must raise here regardless.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(2.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            _run(spec, points, fake_run, workers=2, env={"FAKE_SLEEP": "60"})
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    attempts = [json.loads(line) for line in (spec.dir / "attempts.jsonl").read_text().splitlines()]
    assert len(attempts) == 2 and all(a["state"] == "failed" for a in attempts)  # the third never started
    assert all(a["reason"].startswith("interrupted with the sweep") for a in attempts)
    assert done_points(points, spec.dir / "runs") == set()
