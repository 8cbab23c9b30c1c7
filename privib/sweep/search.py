"""``privib sweep SPEC --optuna``: Optuna's NSGA-II over each method's knobs, a front with fewer runs than the grid.

One Optuna study per data set and method (``<sweep>-<data set>-<method>``), two objectives:
task accuracy (``task/probe/acc_max``, maximized) and the worst leakage AUC (minimized). The search
space is the method's grid read as ranges: numbers become a range from the smallest to the largest
value (log-scaled when all are positive and span a factor of 10 or more; integers stay integers),
anything else (tied keys ``a+b`` too) a categorical choice; a key with one value is fixed. Each trial is a point like a grid point (same run folders,
logs, ``attempts.jsonl``, resume), run on the first seed of the spec, ``workers`` trials at a
time (NSGA-II proposes a batch, privib runs it, the results are told back).

Storage: SQLite in the sweep folder by default (``optuna.db``); any database URL Optuna supports
(``--storage postgresql://...``) shares the studies between machines, each running its trials
into its own run folders. Re-running the command continues each study up to ``--trials``
completed trials; a trial whose parameters equal a finished point reuses its run.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

from privib.compare.benchmark import BENCHMARK_ACCURACY
from privib.errors import ConfigError
from privib.locks import FolderLock
from privib.runs import keys
from privib.sweep.local import child_env, done_points, run_points, scan_runs
from privib.sweep.points import Point, make_point, untie
from privib.sweep.runner import compare_sweep, local_workers, point_command
from privib.sweep.spec import SweepSpec
from privib.sweep.summary import write_summary

__all__ = ["search_space", "suggest", "default_storage", "run_search", "trial_values", "POPULATION", "OBJECTIVES"]

POPULATION = 8  # NSGA-II population: small, so that a dozen trials already see two generations
OBJECTIVES = ((BENCHMARK_ACCURACY, "maximize"), (keys.WORST_LEAKAGE, "minimize"))


def _numbers(values: list[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def search_space(grid: dict[str, list[Any]]) -> dict[str, tuple[Any, ...]]:
    """Grid -> ``{key: ("int" | "float", low, high, log) | ("categorical", values) | ("fixed", value)}``."""
    space: dict[str, tuple[Any, ...]] = {}
    for key, values in grid.items():
        if len({json.dumps(v, sort_keys=True) for v in values}) < 2:
            space[key] = ("fixed", values[0])  # one value: every trial has it, nothing to search
            continue
        if _numbers(values):
            low, high = min(values), max(values)
            log = low > 0 and high / low >= 10
            kind = "int" if all(isinstance(v, int) for v in values) else "float"
            space[key] = (kind, low, high, log)
        else:
            space[key] = ("categorical", [json.dumps(v) for v in values])
    return space


def suggest(trial: Any, key: str, spec: tuple[Any, ...]) -> Any:
    """One value of ``key`` drawn by the trial (categorical values travel as JSON text: Optuna stores scalars)."""
    if spec[0] == "fixed":
        return spec[1]
    if spec[0] == "categorical":
        return json.loads(trial.suggest_categorical(key, spec[1]))
    kind, low, high, log = spec
    if kind == "int":
        return trial.suggest_int(key, int(low), int(high), log=log)
    return trial.suggest_float(key, float(low), float(high), log=log)


def default_storage(spec: SweepSpec) -> str:
    """SQLite in the sweep folder."""
    return f"sqlite:///{(spec.dir / 'optuna.db').resolve()}"


def trial_values(point: Point, runs_dir: Path) -> list[float] | None:
    """The objectives of a point's finished run (None when it has none or a figure is missing)."""
    finished = [f for f, s in scan_runs(runs_dir).get(point.run_name, []) if s.get("state") == "finished"]
    if not finished:
        return None
    try:
        metrics = json.loads((finished[-1] / "metrics.json").read_text())
    except (OSError, ValueError):
        return None
    values = [float(metrics.get(BENCHMARK_ACCURACY, math.nan)), keys.worst_leakage(metrics)]
    return None if any(math.isnan(v) for v in values) else values


def _budget(space: dict[str, tuple[Any, ...]], trials: int) -> int:
    """Trials worth running: one without a knob, at most every combination of a categorical-only space."""
    searched = [s for s in space.values() if s[0] != "fixed"]
    if not searched:
        return 1
    if all(s[0] == "categorical" for s in searched):
        return min(trials, math.prod(len(s[1]) for s in searched))
    return trials


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError as exc:
        raise ConfigError("privib sweep --optuna needs Optuna: pip install 'privib[optuna]' (or pip install optuna)") from exc
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def run_search(spec: SweepSpec, trials: int, storage: str | None, runs_dir: Path, first_config: dict[str, Any],
               no_compare: bool, out: Any = None) -> int:
    """Run every study up to ``trials`` completed trials under the sweep folder's lock, then compare all runs."""
    optuna = _import_optuna()
    if trials < 1:
        raise ConfigError(f"--trials must be at least 1, got {trials}")
    out = out or sys.stdout
    storage = storage or default_storage(spec)
    spec.dir.mkdir(parents=True, exist_ok=True)
    seed = spec.seeds[0]
    points: dict[str, Point] = {}
    failed = 0
    with FolderLock(spec.dir, "sweeping"):
        for part in spec.parts():
            for method, own in (part.methods if part.methods is not None else {None: {}}).items():
                space = search_space({**part.grid, **own})
                name = "-".join(p for p in (spec.name, part.dataset, method) if p)
                try:
                    study = optuna.create_study(study_name=name, storage=storage, load_if_exists=True,
                                                directions=[d for _, d in OBJECTIVES],
                                                sampler=optuna.samplers.NSGAIISampler(population_size=POPULATION, seed=seed))
                except Exception as exc:  # a bad URL or an unreachable database: one line, not a traceback
                    raise ConfigError(f"--storage {storage}: Optuna could not open it ({type(exc).__name__}: "
                                      f"{str(exc).splitlines()[0][:200]})") from exc
                if study.trials:  # a continued study: a fresh seed, else the first generation's draws come again
                    study.sampler = optuna.samplers.NSGAIISampler(population_size=POPULATION, seed=seed + len(study.trials))
                failed += _run_study(spec, part, method, space, study, optuna, _budget(space, trials), seed, runs_dir,
                                     points, out)
                points.update(_earlier_points(spec, part, method, space, study, seed, runs_dir))
        write_summary(list(points.values()), runs_dir, spec.dir)
        if not no_compare and points:
            compare_sweep(spec, first_config)
    print(f"optuna studies in {storage}", file=out)
    print(spec.dir, file=out, flush=True)
    return 1 if failed else 0


def _run_study(spec: SweepSpec, part: SweepSpec, method: str | None, space: dict[str, tuple[Any, ...]], study: Any,
               optuna: Any, budget: int, seed: int, runs_dir: Path, points: dict[str, Point], out: Any) -> int:
    """Ask, run and tell batches of trials until ``budget`` are complete (or twice as many were tried); returns failures."""
    complete = lambda: sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)  # noqa: E731
    failed, asked = 0, 0
    print(f"privib sweep --optuna {study.study_name}: {complete()} of {budget} trials complete; space "
          f"{ {k: v for k, v in space.items() if v[0] != 'fixed'} }", file=out, flush=True)
    while complete() < budget and asked < 2 * budget:
        batch = [study.ask() for _ in range(local_workers(spec, budget - complete()))]
        asked += len(batch)
        trial_points = [make_point(spec, part, method, untie({k: suggest(t, k, s) for k, s in space.items()}), seed)
                        for t in batch]
        points.update({p.id: p for p in trial_points})
        done = done_points(trial_points, runs_dir)
        todo = list({p.id: p for p in trial_points if p.id not in done}.values())
        try:
            run_points(todo, point_command(spec, runs_dir), workers=max(1, len(todo)), sweep_dir=spec.dir,
                       runs_dir=runs_dir, env=child_env(spec.threads), out=out)
        except KeyboardInterrupt:
            for trial in batch:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            write_summary(list(points.values()), runs_dir, spec.dir)
            raise
        for trial, point in zip(batch, trial_points):
            values = trial_values(point, runs_dir)
            if values is None:
                failed += 1
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            else:
                study.tell(trial, values)
    front = sorted(study.best_trials, key=lambda t: t.values[1])
    print(f"{study.study_name}: Pareto-optimal trials (accuracy, worst AUC): "
          + "; ".join(f"{t.values[0]:.3f} @ {t.values[1]:.3f} {t.params}" for t in front), file=out, flush=True)
    return failed


def _earlier_points(spec: SweepSpec, part: SweepSpec, method: str | None, space: dict[str, tuple[Any, ...]], study: Any,
                    seed: int, runs_dir: Path) -> dict[str, Point]:
    """The points of the study's earlier trials that have a run folder here (for summary.csv)."""
    runs = scan_runs(runs_dir)
    found: dict[str, Point] = {}
    searched = {k for k, s in space.items() if s[0] != "fixed"}
    for trial in study.trials:
        if set(trial.params) != searched:
            continue
        params = {k: s[1] if s[0] == "fixed" else json.loads(trial.params[k]) if s[0] == "categorical" else trial.params[k]
                  for k, s in space.items()}
        point = make_point(spec, part, method, untie(params), seed)
        if point.run_name in runs:
            found[point.id] = point
    return found
