"""A sweep spec: a grid of ``privib run`` s under one sweep folder, locally in parallel or as W&B sweeps.

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

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Sequence

from privib.errors import ConfigError

__all__ = ["SweepSpec", "load_sweep_spec", "parse_grid_flag", "parse_set_flag", "text_value", "SPEC_KEYS", "RESERVED"]

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


def text_value(value: Any) -> str:
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
    from privib.paths import DEFAULT_CONFIG, resolve_project_file
    from privib.pipeline.config import load_yaml_mapping

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
