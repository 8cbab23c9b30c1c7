"""``privib sweep SPEC``: a grid of ``privib run`` s under one sweep folder, locally in parallel or as W&B sweeps.

The spec is a pipeline YAML with a ``sweep`` section (and usually ``stages``, which the
sweep's runs then use as their pipeline)::

    stages: [fit, test, evaluate]
    sweep:
      name: pareto                     # sweep folder runs/pareto, W&B group "pareto"
      config: configs/adult.yaml       # base config of every run
      seeds: [0, 1, 2]                 # seed_everything of each point
      fixed: {trainer.max_epochs: 20}  # overrides of every run
      grid: {model.z_dim: [8, 16]}     # crossed into every method's points
      methods:                         # presets (configs/methods/), each with its own grid
        vib: {model.beta: [0.001, 0.01, 0.1]}
        mlp: {}                        # one point

``methods`` may also be a list of names (each crossed with ``grid`` alone) or absent (the
base config as it is). Keys are ``privib run`` config keys (dotted), checked before
anything runs. A point is a method, its grid values and a seed; its identity is a stable
hash of those plus the fixed overrides and the base config, and its runs are named
``<method>-<hash>``. A point is done when one of its run folders is ``finished``, so
re-running the same command runs only the missing (or failed) points.

Sweep folder: ``sweep.yaml`` (the resolved spec and every point), ``runs/`` (run
folders), ``logs/<run name>.log`` (each child's output), ``attempts.jsonl`` (one line per
child process), ``summary.csv`` (one row per point: state, reason, key figures) and
``compare/`` (the output of ``privib compare`` on the sweep, also logged to W&B).
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import io
import itertools
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from privib.errors import ConfigError
from privib.pipeline.runs import RUN_FOLDER_NAME

__all__ = ["SweepSpec", "Point", "load_sweep_spec", "expand_points", "point_id", "child_argv", "validate_points",
           "run_points", "write_summary", "write_wandb_sweeps", "sweep_command", "THREAD_ENV"]

SPEC_KEYS = ("name", "config", "dir", "workers", "threads", "seeds", "fixed", "grid", "methods")
# Keys the sweep sets itself; a spec or flag that sets them is refused with a hint.
RESERVED = {
    "name": "the sweep names its runs <method>-<point id>",
    "runs_dir": "runs go to <sweep dir>/runs (use --dir)",
    "method": "list methods under sweep.methods",
    "seed_everything": "list seeds under sweep.seeds",
    "config": "set the base config with sweep.config or --config",
    "resume": "the sweep resumes by re-running missing points",
    "wandb.group": "every run of a sweep is in the W&B group named after the sweep",
    "threads": "use privib sweep --threads",
}
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
              "NUMEXPR_NUM_THREADS")
SUMMARY_METRICS = ("task/test/acc", "task/probe/acc_max", "leakage/worst/auc_max", "fit/epochs", "fit/best_epoch")


@dataclass
class SweepSpec:
    """A resolved sweep spec (file plus flags)."""

    path: Path
    name: str
    config: str
    pipeline: str | None  # the runs' pipeline spec: this file when it lists stages, else the base config's
    seeds: list[int]
    fixed: dict[str, Any]
    grid: dict[str, list[Any]]
    methods: dict[str, dict[str, list[Any]]] | None  # None: no --method, the base config as is
    dir: Path
    workers: int | None = None
    threads: int = 1


@dataclass(frozen=True)
class Point:
    """One grid point: a method (or None), its grid values and a seed."""

    method: str | None
    params: tuple[tuple[str, Any], ...]
    seed: int
    id: str

    @property
    def run_name(self) -> str:
        return f"{self.method or 'run'}-{self.id}"

    def params_dict(self) -> dict[str, Any]:
        return dict(self.params)

    def describe(self) -> str:
        values = " ".join(f"{k.rsplit('.', 1)[-1]}={_text(v)}" for k, v in self.params)
        return " ".join(p for p in (self.method or "run", values, f"seed={self.seed}") if p)


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


# ---------------------------------------------------------------------------- spec
def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, dict, tuple)):
        return json.dumps(value)
    return str(value)


def _as_grid(section: Any, where: str) -> dict[str, list[Any]]:
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise ConfigError(f"{where} must map config keys to lists of values, e.g. {{model.beta: [0.001, 0.01]}}")
    grid: dict[str, list[Any]] = {}
    for key, values in section.items():
        values = list(values) if isinstance(values, (list, tuple)) else [values]
        if not values:
            raise ConfigError(f"{where}: key '{key}' has an empty list of values (empty grid): give at least one value")
        grid[str(key)] = _coerce(values)
    return grid


def _parse_int_list(text: Any, what: str) -> list[int]:
    items = text.split(",") if isinstance(text, str) else (list(text) if isinstance(text, (list, tuple)) else [text])
    try:
        values = [int(str(v).strip()) for v in items if str(v).strip()]
    except ValueError as exc:
        raise ConfigError(f"{what} must be integers, got {text!r}") from exc
    return values


_SCIENTIFIC = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")


def _coerce(value: Any) -> Any:
    """``"1e-3"`` -> 0.001: YAML 1.1 (PyYAML) reads exponent numbers without a dot as strings."""
    if isinstance(value, str) and _SCIENTIFIC.match(value.strip()):
        return float(value)
    if isinstance(value, list):
        return [_coerce(v) for v in value]
    if isinstance(value, dict):
        return {k: _coerce(v) for k, v in value.items()}
    return value


def _yaml_value(text: str) -> Any:
    import yaml

    from privib.io import YamlLimitError, parse_yaml

    try:
        return _coerce(parse_yaml(text))
    except YamlLimitError as exc:
        raise ConfigError(f"value {text[:40]!r}... {exc}: pass plain values") from exc
    except yaml.YAMLError:
        return text


def parse_grid_flag(text: str) -> tuple[str, list[Any]]:
    """``KEY=V1,V2`` (each value read as YAML) or ``KEY=[V1, V2]`` (a YAML list) -> key, values."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--grid takes KEY=VALUE1,VALUE2, got '{text}'")
    raw = raw.strip()
    if raw.startswith("["):
        values = _yaml_value(raw)
        if not isinstance(values, list):
            raise ConfigError(f"--grid {key}: '{raw}' is not a YAML list")
    else:
        values = [_yaml_value(v.strip()) for v in raw.split(",") if v.strip()]
    if not values:
        raise ConfigError(f"--grid {key} has no values (empty grid): give at least one")
    return key.strip(), values


def parse_set_flag(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set takes KEY=VALUE, got '{text}'")
    return key.strip(), _yaml_value(raw.strip())


def load_sweep_spec(path: str | os.PathLike[str], *, name: str | None = None, config: str | None = None,
                    directory: str | None = None, methods: str | None = None, seeds: str | None = None,
                    grid: Sequence[str] = (), sets: Sequence[str] = (), workers: int | None = None,
                    threads: int | None = None) -> SweepSpec:
    """Read a sweep spec and apply the command-line flags; structural problems raise ConfigError."""
    from privib.pipeline.config import DEFAULT_CONFIG, load_yaml_mapping, resolve_project_file

    spec_path = resolve_project_file(path)
    if not spec_path.is_file():
        raise ConfigError(f"sweep spec {path} not found: pass a pipeline YAML with a 'sweep' section, e.g. pipelines/pareto.yaml")
    document = load_yaml_mapping(spec_path, "sweep spec", "pass a pipeline YAML with a 'sweep' section, e.g. pipelines/pareto.yaml")
    section = document.get("sweep") if isinstance(document, dict) else None
    if not isinstance(section, dict):
        raise ConfigError(f"sweep spec {path} has no 'sweep' section: add sweep: {{methods: ..., grid: ..., seeds: ...}}")
    unknown = sorted(set(section) - set(SPEC_KEYS))
    if unknown:
        raise ConfigError(f"sweep spec {path}: unknown key(s) {unknown} in 'sweep': use {', '.join(SPEC_KEYS)}")
    stages = document.get("stages")
    pipeline = str(spec_path) if isinstance(stages, list) and stages else None

    sweep_name = str(name or section.get("name") or spec_path.stem)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", sweep_name):
        raise ConfigError(f"sweep name '{sweep_name}' must start with a letter or digit and hold only letters, digits, '_', '.', '-'")
    shared = _as_grid(section.get("grid"), f"{path}: sweep.grid")
    raw_methods = section.get("methods")
    method_grids: dict[str, dict[str, list[Any]]] | None
    if raw_methods is None:
        method_grids = None
    elif isinstance(raw_methods, (list, tuple)):
        method_grids = {str(m): {} for m in raw_methods}
    elif isinstance(raw_methods, dict):
        method_grids = {str(m): _as_grid(g, f"{path}: sweep.methods.{m}") for m, g in raw_methods.items()}
    else:
        raise ConfigError(f"{path}: sweep.methods must be a list of method names or a mapping method -> grid")
    if methods is not None:
        chosen = [m.strip() for m in methods.split(",") if m.strip()]
        if not chosen:
            raise ConfigError("--methods is empty (empty grid): name at least one method")
        method_grids = {m: (method_grids or {}).get(m, {}) for m in chosen}
    for key, values in (parse_grid_flag(g) for g in grid):
        # --grid replaces KEY's values wherever the spec's grids have it, else adds it to the shared grid.
        owners = [g for g in (method_grids or {}).values() if key in g]
        for owner in owners:
            owner[key] = values
        if key in shared or not owners:
            shared[key] = values
    if not isinstance(section.get("fixed") or {}, dict):
        raise ConfigError(f"{path}: sweep.fixed must map config keys to values")
    fixed = _coerce(dict(section.get("fixed") or {}))
    fixed.update(dict(parse_set_flag(s) for s in sets))
    seed_list = _parse_int_list(seeds if seeds is not None else section.get("seeds", [0]), "seeds")
    if not seed_list:
        raise ConfigError("the sweep has no seeds (empty grid): give at least one, e.g. seeds: [0]")
    if method_grids is not None and not method_grids:
        raise ConfigError(f"{path}: sweep.methods is empty (empty grid): name at least one method")
    if method_grids is None and not shared:
        raise ConfigError(f"{path}: empty grid: the sweep varies nothing; give sweep.methods and/or sweep.grid "
                          "(or --methods / --grid)")
    for key in [*fixed, *shared, *(k for g in (method_grids or {}).values() for k in g)]:
        if key in RESERVED:
            raise ConfigError(f"'{key}' cannot be set in a sweep: {RESERVED[key]}")
    workers_value = workers if workers is not None else section.get("workers")
    threads_value = threads if threads is not None else section.get("threads", 1)
    try:
        workers_value = None if workers_value is None else int(workers_value)
        threads_value = int(threads_value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"workers and threads must be integers, got {workers_value!r}, {threads_value!r}") from exc
    if workers_value is not None and workers_value < 1 or threads_value < 1:
        raise ConfigError(f"workers and threads must be at least 1, got {workers_value}, {threads_value}")
    base = config or section.get("config") or DEFAULT_CONFIG
    base_path = resolve_project_file(base)
    if not base_path.is_file():
        raise ConfigError(f"base config {base} of the sweep not found: set sweep.config or --config to a YAML file")
    out_dir = Path(directory or section.get("dir") or Path("runs") / sweep_name)
    return SweepSpec(path=spec_path, name=sweep_name, config=str(base), pipeline=pipeline, seeds=seed_list,
                     fixed=fixed, grid=shared, methods=method_grids, dir=out_dir, workers=workers_value,
                     threads=threads_value)


# ---------------------------------------------------------------------------- points
def _canonical(value: Any) -> Any:
    """Numbers as floats (1 and 1.0 are the same point), containers recursively."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return str(value)


def point_id(method: str | None, params: dict[str, Any], seed: int, fixed: dict[str, Any], config: str) -> str:
    """Stable 10-hex-digit id of a point: method, grid values, seed, fixed overrides, base config."""
    identity = {"method": method, "params": _canonical(params), "seed": int(seed), "fixed": _canonical(fixed),
                "config": str(config)}
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _combinations(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def expand_points(spec: SweepSpec) -> list[Point]:
    """Every point, seed-major (all configurations of seed 0 first, so a partial sweep already has a front)."""
    methods = spec.methods if spec.methods is not None else {None: {}}
    points: list[Point] = []
    for seed in spec.seeds:
        for method, own in methods.items():
            for params in _combinations({**spec.grid, **own}):
                pid = point_id(method, params, seed, spec.fixed, spec.config)
                points.append(Point(method, tuple(params.items()), seed, pid))
    if not points:
        raise ConfigError(f"sweep {spec.name}: the grid has no points (empty grid)")
    unique = {p.id: p for p in points}
    return list(unique.values())


def _flag(key: str, value: Any) -> list[str]:
    return [f"--{key}", _text(value)]


def child_argv(spec: SweepSpec, point: Point, runs_dir: Path | str) -> list[str]:
    """``privib run`` arguments of one point: base config, method, pipeline, fixed overrides, grid values, seed, names."""
    args = ["--config", spec.config]
    if point.method:
        args += ["--method", point.method]
    if spec.pipeline:
        args += ["--pipeline", spec.pipeline]
    args += ["--trainer.enable_progress_bar", "false"]
    if point.method:
        args += ["--wandb.tags", json.dumps([spec.name, point.method])]
    for key, value in spec.fixed.items():
        args += _flag(key, value)
    for key, value in point.params:
        args += _flag(key, value)
    args += ["--seed_everything", str(point.seed), "--name", point.run_name, "--runs_dir", str(runs_dir),
             "--wandb.group", spec.name, "--threads", str(spec.threads)]
    return args


def config_keys(parser: Any) -> set[str]:
    """Every dotted key of the run parser (``model.beta``, ``trainer.max_epochs`` ...)."""
    return {k for k in parser.get_defaults().keys() if k != "config"}


def check_keys(spec: SweepSpec, keys: set[str]) -> None:
    """A ConfigError naming the first fixed or grid key that is not a config key (with a close match)."""
    import difflib

    sources = [("sweep.fixed / --set", spec.fixed), ("sweep.grid / --grid", spec.grid)]
    sources += [(f"sweep.methods.{m}", g) for m, g in (spec.methods or {}).items()]
    for where, section in sources:
        for key in section:
            if key in keys:
                continue
            nested = any(k.startswith(f"{key}.") for k in keys)
            close = difflib.get_close_matches(key, sorted(keys), n=1)
            hint = (f"it is a section: use its keys, e.g. {sorted(k for k in keys if k.startswith(key + '.'))[0]}" if nested
                    else f"did you mean {close[0]}?" if close else "run `privib run --help` for every key")
            raise ConfigError(f"{where}: '{key}' is not a config key of privib run ({hint})")


def validate_points(spec: SweepSpec, points: Sequence[Point], runs_dir: Path, parser: Any = None) -> dict[str, Any]:
    """Check every key and parse every point's arguments with the run parser; returns the first point's config.

    ``parser``: a parser from :func:`~privib.pipeline.config.build_run_parser` to reuse (built here when None).
    """
    from argparse import ArgumentError

    from privib.pipeline.config import apply_method_preset, build_run_parser, check_yaml_file, method_preset_path, one_line

    for method in (spec.methods or {}):
        method_preset_path(method)
    check_yaml_file(_resolve(spec.config))
    parser = parser or build_run_parser()
    check_keys(spec, config_keys(parser))
    first: dict[str, Any] | None = None
    for point in points:
        argv = apply_method_preset(_resolved_argv(child_argv(spec, point, runs_dir)))
        try:
            namespace = parser.parse_args(argv)
        except (ArgumentError, ValueError, OSError) as exc:
            raise ConfigError(f"point {point.describe()}: {one_line(str(exc))}") from exc
        if first is None:
            config = namespace.clone()
            config.pop("config", None)
            first = config.as_dict()
    assert first is not None
    return first


def _resolve(path: str) -> str:
    from privib.pipeline.config import resolve_project_file

    return str(resolve_project_file(path))


def _resolved_argv(argv: list[str]) -> list[str]:
    """Make the --config path absolute so the child (or a parse here) finds it from any working directory."""
    out = list(argv)
    for i, arg in enumerate(out[:-1]):
        if arg == "--config":
            out[i + 1] = _resolve(out[i + 1])
    return out


# ---------------------------------------------------------------------------- run folders
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


# ---------------------------------------------------------------------------- local runner
def child_env(threads: int) -> dict[str, str]:
    """The children's environment: ``threads`` BLAS / OpenMP threads, quiet W&B, no inherited run folder."""
    from privib.pipeline.runs import RUN_DIR_ENV

    env = {k: v for k, v in os.environ.items() if k not in (RUN_DIR_ENV, "LOCAL_RANK", "RANK", "WORLD_SIZE",
                                                              "MASTER_ADDR", "MASTER_PORT", "WANDB_RUN_ID")}
    env.update({k: str(threads) for k in THREAD_ENV})
    env.setdefault("WANDB_SILENT", "true")
    env.setdefault("PYTHONWARNINGS", "ignore")
    return env


def _stop(processes: Sequence[subprocess.Popen], grace: float = 30.0) -> None:
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
    ``attempts.jsonl``. On KeyboardInterrupt (or SIGTERM) the children are interrupted, their
    attempts recorded, and the interrupt re-raised.
    """
    out = out or sys.stdout
    logs = sweep_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    pending = list(points)
    running: dict[subprocess.Popen, tuple[Point, float, set[Path], Path, Any, str]] = {}
    attempts: list[Attempt] = []
    total = len(points)
    durations: list[float] = []

    def finish(process: subprocess.Popen, interrupted: bool = False) -> None:
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
    return attempts


def _is_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt()


# ---------------------------------------------------------------------------- summary
def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def read_attempts(sweep_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Point id -> its recorded attempts, oldest first."""
    path = sweep_dir / "attempts.jsonl"
    out: dict[str, list[dict[str, Any]]] = {}
    if not path.is_file():
        return out
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        out.setdefault(record.get("point", ""), []).append(record)
    return out


def summary_rows(points: Sequence[Point], runs_dir: Path, sweep_dir: Path) -> list[dict[str, Any]]:
    """One row per point: its finished run (else its latest attempt), state, reason and key figures."""
    from privib.pipeline.compare import WORST_KEY

    runs = scan_runs(runs_dir)
    attempts = read_attempts(sweep_dir)
    param_keys = list(dict.fromkeys(k for p in points for k, _ in p.params))
    rows = []
    for point in points:
        entries = runs.get(point.run_name, [])
        tries = attempts.get(point.id, [])
        finished = [(f, s) for f, s in entries if s.get("state") == "finished"]
        row: dict[str, Any] = {"point": point.id, "run_name": point.run_name, "method": point.method or "",
                               "seed": point.seed}
        row.update({k: _text(v) for k, v in point.params if k in param_keys})
        if finished:
            folder, status = finished[-1]
            state, reason = "finished", ""
        elif tries:
            last = tries[-1]
            folder = Path(last["run_dir"]) if last.get("run_dir") else None
            status = {}
            state, reason = last.get("state", "failed"), last.get("reason") or ""
        elif entries:
            folder, status = entries[-1]
            state, reason = status.get("state", "unknown"), status.get("reason", "")
        else:
            folder, status, state, reason = None, {}, "missing", ""
        if state == "running" and not tries:
            reason = "interrupted before it finished (re-run the sweep to run it again)"
        shown = os.path.relpath(folder, sweep_dir) if folder else ""  # relative to the sweep folder: movable
        row.update({"state": state, "reason": reason, "attempts": len(tries), "run_dir": shown,
                    "seconds": tries[-1]["seconds"] if tries else ""})
        metrics: dict[str, Any] = (_read_json(folder / "metrics.json") if folder is not None else None) or {}
        leaks = {k: v for k, v in metrics.items() if re.fullmatch(r"leakage/[^/]+/auc_max", k)}
        finite = [float(v) for v in leaks.values() if isinstance(v, (int, float)) and not math.isnan(float(v))]
        metrics[WORST_KEY] = max(finite) if finite else float("nan")
        for key in sorted(leaks) + sorted(k for k in metrics if re.fullmatch(r"fairness/[^/]+/dp_gap", k)):
            row[key] = metrics[key]
        for key in SUMMARY_METRICS:
            row[key] = metrics.get(key, float("nan"))
        timings = _read_json(folder / "timings.json") if folder is not None else None
        row.update({k: v for k, v in sorted((timings or {}).items()) if k.startswith("stage/")})
        rows.append(row)
    return rows


def write_summary(points: Sequence[Point], runs_dir: Path, sweep_dir: Path) -> tuple[Path, list[dict[str, Any]]]:
    """Write ``summary.csv`` (atomically); returns its path and rows."""
    from privib.io import write_text_atomic

    rows = summary_rows(points, runs_dir, sweep_dir)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="")
    writer.writeheader()
    writer.writerows(rows)
    path = sweep_dir / "summary.csv"
    write_text_atomic(path, buffer.getvalue())
    return path, rows


def write_manifest(spec: SweepSpec, points: Sequence[Point], runs_dir: Path) -> Path:
    """``sweep.yaml``: the resolved spec and every point with its ``privib run`` arguments."""
    from privib.io import write_yaml_atomic

    manifest = {
        "name": spec.name, "spec": str(spec.path), "config": spec.config, "pipeline": spec.pipeline,
        "seeds": spec.seeds, "fixed": spec.fixed, "grid": spec.grid, "methods": spec.methods, "threads": spec.threads,
        "points": [{"id": p.id, "run_name": p.run_name, "method": p.method, "seed": p.seed, "params": p.params_dict(),
                    "argv": ["privib", "run", *child_argv(spec, p, runs_dir)]} for p in points],
    }
    return write_yaml_atomic(spec.dir / "sweep.yaml", json.loads(json.dumps(manifest, default=str)))


# ---------------------------------------------------------------------------- W&B backend
def _relative_to_checkout(path: str) -> str:
    """A path inside the privib checkout as a checkout-relative path (agents run from their own checkout)."""
    from privib.pipeline.config import PROJECT_ROOT

    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return path


def wandb_sweep_configs(spec: SweepSpec) -> dict[str, dict[str, Any]]:
    """One W&B grid sweep config per group of methods sharing a grid; each command runs ``privib run``.

    W&B's grid is a full cross product, so methods with different grids become different
    W&B sweeps (same W&B group). ``${args}`` expands to ``--key=value`` for ``method``,
    ``seed_everything`` and each grid key, which ``privib run`` reads like any flag.
    """
    methods = spec.methods if spec.methods is not None else {None: {}}
    groups: dict[str, list[str | None]] = {}
    grids: dict[str, dict[str, list[Any]]] = {}
    for method, own in methods.items():
        grid = {**spec.grid, **own}
        key = json.dumps(_canonical(grid), sort_keys=True)
        groups.setdefault(key, []).append(method)
        grids[key] = grid
    command = ["${env}", "privib", "run", "--config", _relative_to_checkout(_resolve(spec.config))]
    if spec.pipeline:
        command += ["--pipeline", _relative_to_checkout(spec.pipeline)]
    command += ["--trainer.enable_progress_bar", "false"]
    for key, value in spec.fixed.items():
        command += _flag(key, value)
    command += ["--name", spec.name, "--runs_dir", str(spec.dir / "runs"), "--wandb.group", spec.name,
                "--threads", str(spec.threads), "${args}"]
    configs: dict[str, dict[str, Any]] = {}
    for key, members in groups.items():
        label = "-".join(m for m in members if m) or "grid"
        parameters: dict[str, Any] = {}
        if members != [None]:
            parameters["method"] = {"values": list(members)}
        for name, values in grids[key].items():
            # The agent renders values with str(): keep numbers and strings, write the rest as JSON (true, null, [64, 64]).
            parameters[name] = {"values": [v if isinstance(v, (int, float, str)) and not isinstance(v, bool) else json.dumps(v)
                                           for v in values]}
        parameters["seed_everything"] = {"values": list(spec.seeds)}
        configs[label] = {
            "name": f"{spec.name}-{label}",
            "description": f"privib sweep {spec.name} ({label}), generated from {_relative_to_checkout(str(spec.path))}",
            "program": "privib",
            "method": "grid",
            "metric": {"name": "task/test/acc", "goal": "maximize"},
            "parameters": parameters,
            "command": command,
        }
    return configs


def write_wandb_sweeps(spec: SweepSpec, project: str, entity: str | None) -> list[tuple[Path, int]]:
    """Write ``<sweep dir>/wandb_sweep/<label>.yaml`` files; returns (path, number of runs) for each."""
    from privib.io import write_yaml_atomic

    written = []
    for label, config in wandb_sweep_configs(spec).items():
        path = spec.dir / "wandb_sweep" / f"{label}.yaml"
        write_yaml_atomic(path, config)
        runs = math.prod(len(p["values"]) for p in config["parameters"].values())
        written.append((path, runs))
    return written


# ---------------------------------------------------------------------------- command
class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def sweep_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="privib sweep",
        description="Run a grid of `privib run`s (methods x grid values x seeds) under one sweep folder, WORKERS at a "
        "time, then compare them (table, Pareto plot, W&B summary run). Re-running the same command runs only the "
        "points without a finished run. --backend wandb writes W&B sweep configs instead and prints the commands.",
    )
    parser.add_argument("spec", nargs="?", default="pipelines/pareto.yaml",
                        help="pipeline YAML with a 'sweep' section (default: pipelines/pareto.yaml)")
    parser.add_argument("--workers", type=int, default=None,
                        help="runs at a time (default: the spec's, else CPU cores / threads)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch / BLAS / OpenMP threads of each run (default 1: small MLPs, and two threads on a "
                        "busy core ran 13x slower here)")
    parser.add_argument("--name", default=None, help="sweep name: folder runs/NAME and W&B group (default: the spec's)")
    parser.add_argument("--dir", default=None, help="sweep folder (default: runs/NAME)")
    parser.add_argument("--config", default=None, help="base config of every run (default: the spec's, else configs/adult.yaml)")
    parser.add_argument("--methods", default=None, help="comma-separated subset of methods (presets in configs/methods/)")
    parser.add_argument("--seeds", default=None, help="comma-separated seeds, e.g. 0,1,2")
    parser.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                        help="grid values of a config key; replaces the spec's values of KEY (repeatable)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="fixed override of every run, e.g. --set trainer.max_epochs=5 (repeatable)")
    parser.add_argument("--backend", choices=("local", "wandb"), default="local",
                        help="local: run here; wandb: write W&B sweep configs and print the wandb commands")
    parser.add_argument("--dry-run", "--dry_run", dest="dry_run", action="store_true",
                        help="list the points (and which are done) without running anything")
    parser.add_argument("--no-compare", "--no_compare", dest="no_compare", action="store_true",
                        help="skip the comparison at the end")
    return parser


def sweep_command(argv: list[str]) -> int:
    """``privib sweep SPEC``: run or describe a sweep; the last stdout line is the sweep folder."""
    args = sweep_parser().parse_args(argv)
    spec = load_sweep_spec(args.spec, name=args.name, config=args.config, directory=args.dir, methods=args.methods,
                           seeds=args.seeds, grid=args.grid, sets=args.set, workers=args.workers, threads=args.threads)
    points = expand_points(spec)
    runs_dir = spec.dir / "runs"
    first_config = validate_points(spec, points, runs_dir.resolve())
    if args.backend == "wandb":
        return _wandb_backend(spec, first_config)
    done = done_points(points, runs_dir)
    todo = [p for p in points if p.id not in done]
    if args.dry_run:
        for point in points:
            print(f"{'done   ' if point.id in done else 'pending'} {point.run_name}  {point.describe()}")
        print(f"{len(points)} points, {len(done)} done, {len(todo)} to run")
        print(spec.dir)
        return 0
    spec.dir.mkdir(parents=True, exist_ok=True)
    lock = _acquire_lock(spec.dir)
    try:
        return _run_locally(spec, points, todo, done, first_config, runs_dir, no_compare=args.no_compare)
    finally:
        lock.unlink(missing_ok=True)


def _acquire_lock(sweep_dir: Path) -> Path:
    """``.sweep.lock`` holding this process id; a live holder means the sweep is already running."""
    lock = sweep_dir / ".sweep.lock"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                pid = int(lock.read_text().strip() or 0)
            except (OSError, ValueError):
                pid = 0
            if pid and pid != os.getpid() and _alive(pid):
                raise ConfigError(f"sweep {sweep_dir} is already running (pid {pid}): wait for it, or stop it first")
            lock.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(str(os.getpid()))
        return lock
    raise ConfigError(f"could not lock sweep folder {sweep_dir}: remove {lock} if no sweep is running")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _run_locally(spec: SweepSpec, points: list[Point], todo: list[Point], done: set[str], first_config: dict[str, Any],
                 runs_dir: Path, no_compare: bool) -> int:
    write_manifest(spec, points, runs_dir)
    cores = os.cpu_count() or 1
    workers = max(1, min(spec.workers or max(1, cores // spec.threads), max(1, len(todo))))
    print(f"privib sweep {spec.name}: {len(points)} points ({len(done)} already done), {len(todo)} to run, "
          f"{workers} worker(s) x {spec.threads} thread(s); folder {spec.dir}", flush=True)
    python = [sys.executable, "-m", "privib.cli", "run"]
    absolute_runs = runs_dir.resolve()
    command = lambda point: [*python, *_resolved_argv(child_argv(spec, point, absolute_runs))]  # noqa: E731
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
        _compare_sweep(spec, first_config)
    if failed:
        print(f"privib sweep: {len(failed)} of {len(rows)} points did not finish (reasons in {summary}); re-run the "
              f"same command to retry them", file=sys.stderr)
    print(f"summary: {summary}")
    print(spec.dir, flush=True)
    return 1 if failed else 0


def _compare_sweep(spec: SweepSpec, first_config: dict[str, Any]) -> None:
    """``privib compare`` on the sweep folder, printed, written to compare/ and logged to W&B as a summary run."""
    from privib.pipeline.compare import compare_records, load_run_folders, log_compare_to_wandb, print_result, write_outputs
    from privib.pipeline.options import WandbOptions
    from privib.pipeline.tracking import resolve_wandb_mode

    records, skipped = load_run_folders([spec.dir / "runs"])
    if not records:
        return
    result = compare_records(records, skipped=skipped, sources=[str(spec.dir)])
    out_dir = spec.dir / "compare"
    paths = write_outputs(result, out_dir, title=f"privib sweep {spec.name}: accuracy vs worst-case leakage (mean ± std over seeds)")
    print_result(result, paths)
    options = WandbOptions(**{k: v for k, v in (first_config.get("wandb") or {}).items()
                              if k in WandbOptions.__dataclass_fields__})
    try:
        where = log_compare_to_wandb(result, paths, project=options.project, entity=options.entity, group=spec.name,
                                     name=f"{spec.name}-compare", mode=resolve_wandb_mode(options), directory=out_dir,
                                     config={"sweep": spec.name, "spec": str(spec.path)})
    except Exception as exc:  # a W&B problem must not lose a finished sweep's local results
        print(f"privib sweep: could not log the comparison to W&B ({type(exc).__name__}: {exc})", file=sys.stderr)
        return
    if where:
        print(f"comparison logged to W&B: {where}")


def _wandb_backend(spec: SweepSpec, first_config: dict[str, Any]) -> int:
    wandb_section = first_config.get("wandb") or {}
    project, entity = wandb_section.get("project") or "privib", wandb_section.get("entity")
    written = write_wandb_sweeps(spec, project, entity)
    where = f" --entity {entity}" if entity else ""
    print(f"Wrote {len(written)} W&B sweep config(s) for sweep {spec.name} ({sum(n for _, n in written)} runs). "
          "Create each sweep, then start agents on any machines with a privib checkout and the data:")
    for path, runs in written:
        print(f"  wandb sweep --project {project}{where} {path}    # {runs} runs; prints the SWEEP_ID")
    print(f"  wandb agent {entity or '<entity>'}/{project}/<SWEEP_ID>    # per machine and per sweep, run from the checkout")
    print(f"Then compare: privib compare --wandb {entity or '<entity>'}/{project} --group {spec.name}")
    print(spec.dir / "wandb_sweep", flush=True)
    return 0
