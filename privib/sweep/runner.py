"""Run a sweep here: the missing points, ``workers`` at a time, then the comparison of all of them.

The sweep folder is locked for the whole run (:class:`privib.locks.FolderLock`), so a second
``privib sweep`` of the same spec is refused instead of running the same points twice.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from privib.locks import FolderLock
from privib.sweep.local import child_env, run_points
from privib.sweep.points import Point, child_argv, resolved_argv
from privib.sweep.spec import SweepSpec
from privib.sweep.summary import write_manifest, write_summary

__all__ = ["run_sweep", "compare_sweep", "benchmark_sweep", "point_command", "local_workers"]


def run_sweep(spec: SweepSpec, points: list[Point], todo: list[Point], done: set[str], first_config: dict[str, Any],
              runs_dir: Path, no_compare: bool) -> int:
    """Run ``todo`` under the sweep folder's lock, then compare; returns 0 when every point finished."""
    spec.dir.mkdir(parents=True, exist_ok=True)
    with FolderLock(spec.dir, "sweeping"):
        return _run_locally(spec, points, todo, done, first_config, runs_dir, no_compare)


def point_command(spec: SweepSpec, runs_dir: Path) -> Callable[[Point], list[str]]:
    """The child process of a point: ``python -m privib.cli run`` with the point's arguments, paths absolute."""
    python = [sys.executable, "-m", "privib.cli", "run"]
    absolute_runs = runs_dir.resolve()
    return lambda point: [*python, *resolved_argv(child_argv(spec, point, absolute_runs))]


def local_workers(spec: SweepSpec, todo: int) -> int:
    """Runs at a time: the spec's (or --workers), else cores / threads; never more than there are points."""
    cores = os.cpu_count() or 1
    return max(1, min(spec.workers or max(1, cores // spec.threads), max(1, todo)))


def _run_locally(spec: SweepSpec, points: list[Point], todo: list[Point], done: set[str], first_config: dict[str, Any],
                 runs_dir: Path, no_compare: bool) -> int:
    write_manifest(spec, points, runs_dir)
    workers = local_workers(spec, len(todo))
    print(f"privib sweep {spec.name}: {len(points)} points ({len(done)} already done), {len(todo)} to run, "
          f"{workers} worker(s) x {spec.threads} thread(s); folder {spec.dir}", flush=True)
    interrupted = False
    try:
        run_points(todo, point_command(spec, runs_dir), workers=workers, sweep_dir=spec.dir, runs_dir=runs_dir, env=child_env(spec.threads),
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
    if spec.datasets:
        benchmark_sweep(spec, first_config, records, skipped)
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


def benchmark_sweep(spec: SweepSpec, first_config: dict[str, Any], records: list[Any], skipped: int) -> None:
    """A benchmark's tables and plots, one per data set, in ``<sweep dir>/benchmark/``; each logged to W&B."""
    from privib.compare.benchmark import benchmark_records
    from privib.compare.benchmark_render import file_stem, print_benchmark, write_benchmark
    from privib.compare.wandb_log import log_compare_to_wandb
    from privib.runs.wandb import resolve_wandb_mode, wandb_options

    benchmarks = benchmark_records(records, sources=[str(spec.dir)], skipped=skipped)
    out_dir = spec.dir / "benchmark"
    paths = write_benchmark(benchmarks, out_dir, command=f"privib sweep {spec.path.name}")
    print_benchmark(benchmarks, paths)
    options = wandb_options(first_config.get("wandb"))
    for bench in benchmarks:
        stem = file_stem(bench.name)
        mine = {k: paths[f"{stem}.{k}"] for k in ("md", "csv") if f"{stem}.{k}" in paths}
        if f"{stem}.png" in paths:
            mine["plot"] = paths[f"{stem}.png"]
        try:
            where = log_compare_to_wandb(bench.leakage, mine, project=options.project, entity=options.entity,
                                         group=spec.name, name=f"{spec.name}-{stem}-compare",
                                         mode=resolve_wandb_mode(options), directory=out_dir,
                                         config={"sweep": spec.name, "spec": str(spec.path), "dataset": bench.name})
        except Exception as exc:  # a W&B problem must not lose a finished benchmark's local results
            print(f"privib sweep: could not log the {bench.name} benchmark to W&B ({type(exc).__name__}: {exc})",
                  file=sys.stderr)
            return
        if where:
            print(f"{bench.name} benchmark logged to W&B: {where}")
