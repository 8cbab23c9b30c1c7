"""Run a sweep here: the missing points, ``workers`` at a time, then the comparison of all of them.

The sweep folder is locked for the whole run (:class:`privib.locks.FolderLock`), so a second
``privib sweep`` of the same spec is refused instead of running the same points twice.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from privib.locks import FolderLock
from privib.sweep.local import child_env, run_points
from privib.sweep.points import Point, child_argv, resolved_argv
from privib.sweep.spec import SweepSpec
from privib.sweep.summary import write_manifest, write_summary

__all__ = ["run_sweep", "compare_sweep"]


def run_sweep(spec: SweepSpec, points: list[Point], todo: list[Point], done: set[str], first_config: dict[str, Any],
              runs_dir: Path, no_compare: bool) -> int:
    """Run ``todo`` under the sweep folder's lock, then compare; returns 0 when every point finished."""
    spec.dir.mkdir(parents=True, exist_ok=True)
    with FolderLock(spec.dir, "sweeping"):
        return _run_locally(spec, points, todo, done, first_config, runs_dir, no_compare)


def _run_locally(spec: SweepSpec, points: list[Point], todo: list[Point], done: set[str], first_config: dict[str, Any],
                 runs_dir: Path, no_compare: bool) -> int:
    write_manifest(spec, points, runs_dir)
    cores = os.cpu_count() or 1
    workers = max(1, min(spec.workers or max(1, cores // spec.threads), max(1, len(todo))))
    print(f"privib sweep {spec.name}: {len(points)} points ({len(done)} already done), {len(todo)} to run, "
          f"{workers} worker(s) x {spec.threads} thread(s); folder {spec.dir}", flush=True)
    python = [sys.executable, "-m", "privib.cli", "run"]
    absolute_runs = runs_dir.resolve()
    command = lambda point: [*python, *resolved_argv(child_argv(spec, point, absolute_runs))]  # noqa: E731
    interrupted = False
    try:
        run_points(todo, command, workers=workers, sweep_dir=spec.dir, runs_dir=runs_dir, env=child_env(spec.threads),
                   on_done=lambda _: write_summary(points, runs_dir, spec.dir))
    except KeyboardInterrupt:
        interrupted = True
    summary, rows = write_summary(points, runs_dir, spec.dir)
    failed = [r for r in rows if r["state"] != "finished"]
    if interrupted:
        print(f"privib sweep: interrupted; {len(rows) - len(failed)} of {len(rows)} points done. Re-run the same "
              f"command to run the rest. Summary: {summary}", file=sys.stderr, flush=True)
        raise KeyboardInterrupt()
    if not no_compare and len(failed) < len(rows):
        compare_sweep(spec, first_config)
    if failed:
        print(f"privib sweep: {len(failed)} of {len(rows)} points did not finish (reasons in {summary}); re-run the "
              f"same command to retry them", file=sys.stderr)
    print(f"summary: {summary}")
    print(spec.dir, flush=True)
    return 1 if failed else 0


def compare_sweep(spec: SweepSpec, first_config: dict[str, Any]) -> None:
    """``privib compare`` on the sweep folder, printed, written to compare/ and logged to W&B as a summary run."""
    from privib.compare.records import load_run_folders
    from privib.compare.render import print_result, write_outputs
    from privib.compare.table import compare_records
    from privib.compare.wandb_log import log_compare_to_wandb
    from privib.runs.wandb import resolve_wandb_mode, wandb_options

    records, skipped = load_run_folders([spec.dir / "runs"])
    if not records:
        return
    result = compare_records(records, skipped=skipped, sources=[str(spec.dir)])
    out_dir = spec.dir / "compare"
    paths = write_outputs(result, out_dir, title=f"privib sweep {spec.name}: accuracy vs worst-case leakage (mean ± std over seeds)")
    print_result(result, paths)
    options = wandb_options(first_config.get("wandb"))
    try:
        where = log_compare_to_wandb(result, paths, project=options.project, entity=options.entity, group=spec.name,
                                     name=f"{spec.name}-compare", mode=resolve_wandb_mode(options), directory=out_dir,
                                     config={"sweep": spec.name, "spec": str(spec.path)})
    except Exception as exc:  # a W&B problem must not lose a finished sweep's local results
        print(f"privib sweep: could not log the comparison to W&B ({type(exc).__name__}: {exc})", file=sys.stderr)
        return
    if where:
        print(f"comparison logged to W&B: {where}")
