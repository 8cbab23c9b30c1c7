"""Run a sweep's points here, ``workers`` child processes at a time, resumable; find what is done.

A point is done when one of its run folders is ``finished``. Each child's output goes to
``logs/<run name>.log`` and each attempt to ``attempts.jsonl``; an interrupt stops the
children (they mark their runs failed) and re-raises.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Callable, Sequence

from privib.runs import RUN_DIR_ENV, RUN_FOLDER_NAME
from privib.sweep.points import Point
from privib.sweep.warm import WarmLauncher, WarmProcess, warm_enabled

__all__ = ["Attempt", "scan_runs", "done_points", "child_env", "run_points", "THREAD_ENV"]

THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
              "NUMEXPR_NUM_THREADS")


@dataclass
class Attempt:
    """One child process of a point and what it left behind."""

    point: str
    run_name: str
    returncode: int | None
    seconds: float
    run_dir: str | None
    state: str
    reason: str | None
    started: str = ""


def scan_runs(runs_dir: Path) -> dict[str, list[tuple[Path, dict[str, Any]]]]:
    """Run name -> [(folder, status)] for every run folder under ``runs_dir``, oldest first."""
    found: dict[str, list[tuple[Path, dict[str, Any]]]] = {}
    if not runs_dir.is_dir():
        return found
    for folder in sorted(runs_dir.iterdir()):
        match = RUN_FOLDER_NAME.match(folder.name)
        if not match or not folder.is_dir():
            continue
        try:
            status = json.loads((folder / "status.json").read_text())
        except (OSError, ValueError):
            status = {}
        found.setdefault(match.group("name"), []).append((folder, status))
    for entries in found.values():
        entries.sort(key=lambda e: e[0].name[len(e[0].name.rsplit("-", 3)[0]):])
    return found


def done_points(points: Sequence[Point], runs_dir: Path) -> set[str]:
    """Ids of points with a finished run folder."""
    runs = scan_runs(runs_dir)
    return {p.id for p in points if any(s.get("state") == "finished" for _, s in runs.get(p.run_name, []))}


def _last_error_line(log: Path) -> str | None:
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return None
    for line in reversed(lines):
        if line.startswith("privib: error:"):
            return line[len("privib: error:"):].strip()
        if line.startswith("privib: internal error:"):
            return line[len("privib: "):].strip()
    for line in reversed(lines):
        if not line.startswith("==="):
            return line[-300:]
    return None


def _attempt_outcome(point: Point, returncode: int, before: set[Path], runs_dir: Path, log: Path) -> tuple[str | None, str, str | None]:
    """(run folder, state, reason) of a finished child process."""
    entries = scan_runs(runs_dir).get(point.run_name, [])
    new = [(f, s) for f, s in entries if f not in before]
    if new:
        folder, status = new[-1]
        state = status.get("state", "unknown")
        if returncode == 0 and state == "finished":
            return str(folder), "finished", None
        if state == "failed":
            return str(folder), "failed", str(status.get("reason") or f"exit code {returncode}")
        detail = _last_error_line(log)
        return str(folder), "failed", f"exit code {returncode} with the run {state}" + (f": {detail}" if detail else "")
    detail = _last_error_line(log)
    if returncode == 0:
        return None, "failed", "privib run exited 0 but left no run folder"
    return None, "failed", detail or f"exit code {returncode}"


def child_env(threads: int) -> dict[str, str]:
    """The children's environment: ``threads`` BLAS / OpenMP threads, quiet W&B, no inherited run folder."""
    env = {k: v for k, v in os.environ.items() if k not in (RUN_DIR_ENV, "LOCAL_RANK", "RANK", "WORLD_SIZE",
                                                              "MASTER_ADDR", "MASTER_PORT", "WANDB_RUN_ID")}
    env.update({k: str(threads) for k in THREAD_ENV})
    env.setdefault("WANDB_SILENT", "true")
    env.setdefault("PYTHONWARNINGS", "ignore")
    return env


def _stop(processes: Sequence[subprocess.Popen | WarmProcess], grace: float = 30.0) -> None:
    """SIGINT each child's process group (the run marks itself failed: interrupted), then SIGKILL stragglers."""
    for process in processes:
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGINT)
            except (ProcessLookupError, PermissionError):
                pass
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            process.wait()


def run_points(
    points: Sequence[Point], command: Callable[[Point], list[str]], *, workers: int, sweep_dir: Path, runs_dir: Path,
    env: dict[str, str], on_done: Callable[[Attempt], None] | None = None, poll: float = 0.2,
    out: Any = None,
) -> list[Attempt]:
    """Run ``command(point)`` for each point, ``workers`` at a time; a failure does not stop the others.

    Each child's stdout and stderr go to ``logs/<run name>.log``; each attempt is appended to
    ``attempts.jsonl``. ``python -m privib.cli`` commands are forked from one warm helper
    (:mod:`privib.sweep.warm`; ``PRIVIB_SWEEP_WARM=0``: new interpreters), any other command is started
    as is. On KeyboardInterrupt (or SIGTERM) the children are interrupted, their attempts recorded, and
    the interrupt re-raised.
    """
    out = out or sys.stdout
    forkable = bool(points) and _privib_args(command(points[0])) is not None
    launcher = WarmLauncher(env) if forkable and warm_enabled(env) else None
    retired: list[WarmLauncher] = []
    logs = sweep_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    pending = list(points)
    running: dict[subprocess.Popen | WarmProcess, tuple[Point, float, set[Path], Path, Any, str]] = {}
    attempts: list[Attempt] = []
    total = len(points)
    durations: list[float] = []

    def finish(process: subprocess.Popen | WarmProcess, interrupted: bool = False) -> None:
        point, started, before, log, handle, stamp = running.pop(process)
        handle.close()
        seconds = time.monotonic() - started
        folder, state, reason = _attempt_outcome(point, process.returncode, before, runs_dir, log)
        if interrupted and state != "finished":
            reason = f"interrupted with the sweep ({reason})"
        attempt = Attempt(point.id, point.run_name, process.returncode, round(seconds, 2), folder, state, reason, stamp)
        attempts.append(attempt)
        durations.append(seconds)
        with open(sweep_dir / "attempts.jsonl", "a", encoding="utf-8") as handle_:
            handle_.write(json.dumps(attempt.__dict__) + "\n")
        remaining = len(pending) + len(running)
        eta = sum(durations) / len(durations) * remaining / max(1, workers)
        what = "finished" if state == "finished" else f"FAILED ({reason})"
        print(f"privib sweep: [{len(attempts)}/{total}] {point.describe()} {what} in {seconds:.0f} s"
              + (f"; ~{eta / 60:.0f} min left" if remaining else ""), file=out, flush=True)
        if on_done is not None:
            on_done(attempt)

    previous = signal.getsignal(signal.SIGTERM)
    in_main = _is_main_thread()
    if in_main:
        signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        while pending or running:
            while pending and len(running) < workers:
                point = pending.pop(0)
                log = logs / f"{point.run_name}.log"
                before = {f for f, _ in scan_runs(runs_dir).get(point.run_name, [])}
                handle = open(log, "a", encoding="utf-8")
                stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
                argv = command(point)
                handle.write(f"=== {stamp} {' '.join(argv)}\n")
                handle.flush()
                args = _privib_args(argv)
                process = None
                if launcher is not None and args is not None:  # a fork of the warm helper, in its own session
                    try:
                        process = launcher.start(args, log, env)
                    except RuntimeError as exc:  # the helper could not start or died: new interpreters from here on
                        print(f"privib sweep: {exc}; starting the points as new processes", file=sys.stderr, flush=True)
                        retired.append(launcher)
                        launcher = None
                if process is None:
                    process = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, env=env,
                                               start_new_session=True, stdin=subprocess.DEVNULL)
                running[process] = (point, time.monotonic(), before, log, handle, stamp)
            time.sleep(poll)
            for process in [p for p in running if p.poll() is not None]:
                finish(process)
    except KeyboardInterrupt:
        _stop(list(running))
        for process in list(running):
            finish(process, interrupted=True)
        raise
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
        for helper in [launcher, *retired]:
            if helper is not None:
                helper.close()
    return attempts


def _privib_args(argv: Sequence[str]) -> list[str] | None:
    """The arguments of a ``python -m privib.cli ...`` command line (what the warm helper can fork), else None."""
    prefix = [sys.executable, "-m", "privib.cli"]
    return list(argv[len(prefix):]) if list(argv[:len(prefix)]) == prefix else None


def _is_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt()
