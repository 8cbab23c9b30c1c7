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
        fcrl: {model.nce_weight+model.beta: [[0.1, 0.05], [1.0, 0.5]]}   # keys tied by '+' move together
        mlp: {}                        # one point

``methods`` may also be a list of names (each crossed with ``grid`` alone) or absent (the
base config as it is). A method's mapping may name its own pipeline (``pipeline: FILE``, one
file, not a grid: the release baselines run ``pipelines/baseline.yaml``).

A benchmark adds ``datasets``: each data set is a base config with its own fixed overrides and,
optionally, its own grids of some methods; every method runs on every data set::

    datasets:
      adult:  {config: configs/adult.yaml, fixed: {data.sensitive: sex}}
      health: {config: configs/health.yaml, fixed: {data.sensitive: age60},
               methods: {vib_adv: {model.adv_weight: [0.05, 0.1, 0.2, 0.5, 1.0]}}}

Its runs are named ``<data set>-<method>-<hash>`` and tagged ``dataset:<name>``, which is how
``privib compare --benchmark`` tells the data sets apart. Keys are ``privib run`` config keys (dotted), checked before
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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from collections.abc import Sequence

from privib.compare.benchmark import DATASET_TAG
from privib.errors import ConfigError

__all__ = ["SweepSpec", "DatasetSpec", "load_sweep_spec", "DATASET_TAG", "parse_grid_flag", "parse_set_flag", "text_value", "tied_keys", "SPEC_KEYS", "RESERVED"]

SPEC_KEYS = ("name", "config", "dir", "workers", "threads", "seeds", "fixed", "grid", "methods", "datasets")
DATASET_KEYS = ("config", "fixed", "methods")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
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
    datasets: dict[str, DatasetSpec] = field(default_factory=dict)  # a benchmark's data sets; {}: one base config
    pipelines: dict[str, str] = field(default_factory=dict)  # method -> its own pipeline spec (else ``pipeline``)
    dataset: str | None = None  # set on the single-data-set view of a benchmark (:meth:`part`)

    def part(self, dataset: str | None) -> SweepSpec:
        """The sweep of one data set: its config, the fixed overrides with its own on top, its method grids."""
        if dataset is None:
            return self
        ds = self.datasets[dataset]
        methods = None if self.methods is None else {m: ds.methods.get(m, g) for m, g in self.methods.items()}
        return replace(self, config=ds.config, fixed={**self.fixed, **ds.fixed}, methods=methods, datasets={},
                       dataset=dataset)

    def parts(self) -> list[SweepSpec]:
        """One single-data-set sweep per data set (the sweep itself when it has no ``datasets``)."""
        return [self.part(name) for name in self.datasets] if self.datasets else [self]

    def pipeline_of(self, method: str | None) -> str | None:
        """The pipeline spec of a method's runs: its own, else the sweep's."""
        return self.pipelines.get(method or "", self.pipeline)


@dataclass
class DatasetSpec:
    """One data set of a benchmark: a base config, its fixed overrides, its own grids of some methods."""

    config: str
    fixed: dict[str, Any]
    methods: dict[str, dict[str, list[Any]]]


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
        tied = tied_keys(str(key))
        if len(tied) > 1 and not all(isinstance(v, (list, tuple)) and len(v) == len(tied) for v in values):
            raise ConfigError(f"{where}: '{key}' ties {len(tied)} keys: give each value as a list of {len(tied)} values, "
                              f"e.g. [[1.0, 0.5], [2.0, 1.0]]")
        grid[str(key)] = _coerce(values)
    return grid


def tied_keys(key: str) -> list[str]:
    """``model.nce_weight+model.beta`` -> its config keys: a grid key joined by '+' moves them together."""
    return [k.strip() for k in key.split("+")]


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
                    threads: int | None = None, datasets: str | None = None) -> SweepSpec:
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
    if not _NAME.fullmatch(sweep_name):
        raise ConfigError(f"sweep name '{sweep_name}' must start with a letter or digit and hold only letters, digits, '_', '.', '-'")
    shared = _as_grid(section.get("grid"), f"{path}: sweep.grid")
    method_grids, pipelines = _method_grids(section.get("methods"), f"{path}: sweep.methods")
    fixed = _fixed(section.get("fixed"), f"{path}: sweep.fixed")
    set_values = dict(parse_set_flag(s) for s in sets)
    fixed.update(set_values)
    data_sets = _datasets(section.get("datasets"), str(path), method_grids, set_values)
    if methods is not None:
        chosen = [m.strip() for m in methods.split(",") if m.strip()]
        if not chosen:
            raise ConfigError("--methods is empty (empty grid): name at least one method")
        method_grids = {m: (method_grids or {}).get(m, {}) for m in chosen}
        pipelines = {m: p for m, p in pipelines.items() if m in chosen}
    if data_sets and config is not None:
        raise ConfigError(f"{path}: --config cannot replace the configs of sweep.datasets: each data set names its own "
                          "(use --datasets to pick some)")
    if datasets is not None:
        picked = [d.strip() for d in datasets.split(",") if d.strip()]
        unknown_sets = [d for d in picked if d not in data_sets]
        if not picked or unknown_sets:
            raise ConfigError(f"--datasets {datasets!r}: name data sets of the spec ({', '.join(data_sets) or 'it has none'})")
        data_sets = {d: data_sets[d] for d in picked}
    for key, values in (parse_grid_flag(g) for g in grid):
        # --grid replaces KEY's values wherever the spec's grids have it, else adds it to the shared grid.
        grids = [*(method_grids or {}).values(), *(g for d in data_sets.values() for g in d.methods.values())]
        owners = [g for g in grids if key in g]
        for owner in owners:
            owner[key] = values
        if key in shared or not owners:
            shared[key] = values
    seed_list = _parse_int_list(seeds if seeds is not None else section.get("seeds", [0]), "seeds")
    if not seed_list:
        raise ConfigError("the sweep has no seeds (empty grid): give at least one, e.g. seeds: [0]")
    if method_grids is not None and not method_grids:
        raise ConfigError(f"{path}: sweep.methods is empty (empty grid): name at least one method")
    if method_grids is None and not shared:
        raise ConfigError(f"{path}: empty grid: the sweep varies nothing; give sweep.methods and/or sweep.grid "
                          "(or --methods / --grid)")
    grids = [shared, *(method_grids or {}).values(), *(g for d in data_sets.values() for g in d.methods.values())]
    grid_keys = [k for g in grids for tied in g for k in tied_keys(tied)]
    for key in [*fixed, *(k for d in data_sets.values() for k in d.fixed), *grid_keys]:
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
    for where, file in [("sweep", base), *((f"data set {n}", d.config) for n, d in data_sets.items())]:
        if not resolve_project_file(file).is_file():
            raise ConfigError(f"base config {file} of the {where} not found: set sweep.config (or its data set's "
                              "config) or --config to a YAML file")
    out_dir = Path(directory or section.get("dir") or Path("runs") / sweep_name)
    return SweepSpec(path=spec_path, name=sweep_name, config=str(base), pipeline=pipeline, seeds=seed_list,
                     fixed=fixed, grid=shared, methods=method_grids, dir=out_dir, workers=workers_value,
                     threads=threads_value, datasets=data_sets, pipelines=pipelines)


def _method_grids(raw: Any, where: str) -> tuple[dict[str, dict[str, list[Any]]] | None, dict[str, str]]:
    """``sweep.methods`` as method -> grid (None when absent) and method -> its own pipeline spec."""
    if raw is None:
        return None, {}
    if isinstance(raw, (list, tuple)):
        return {str(m): {} for m in raw}, {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a list of method names or a mapping method -> grid")
    grids, pipelines = {}, {}
    for method, section in raw.items():
        section = dict(section) if isinstance(section, dict) else section
        if isinstance(section, dict) and "pipeline" in section:
            own = section.pop("pipeline")
            if not isinstance(own, str) or not own.strip():
                raise ConfigError(f"{where}.{method}.pipeline must be one pipeline spec file, e.g. pipelines/baseline.yaml "
                                  "(a method's pipeline is not a grid)")
            pipelines[str(method)] = own
        grids[str(method)] = _as_grid(section, f"{where}.{method}")
    return grids, pipelines


def _fixed(section: Any, where: str) -> dict[str, Any]:
    if not isinstance(section or {}, dict):
        raise ConfigError(f"{where} must map config keys to values")
    return _coerce(dict(section or {}))


def _datasets(raw: Any, path: str, method_grids: dict[str, dict[str, list[Any]]] | None,
              set_values: dict[str, Any]) -> dict[str, DatasetSpec]:
    """``sweep.datasets``: name -> base config, fixed overrides (``--set`` wins over them) and method grids."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{path}: sweep.datasets must map data set names to {{config: FILE, fixed: {{...}}}}")
    out: dict[str, DatasetSpec] = {}
    for name, section in raw.items():
        where = f"{path}: sweep.datasets.{name}"
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ConfigError(f"{where}: a data set name must start with a letter or digit and hold only letters, "
                              "digits, '_', '.', '-'")
        if not isinstance(section, dict) or not isinstance(section.get("config"), str):
            raise ConfigError(f"{where} must give its base config: {{config: configs/{name}.yaml, fixed: {{...}}}}")
        unknown = sorted(set(section) - set(DATASET_KEYS))
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {unknown}: use {', '.join(DATASET_KEYS)}")
        grids, pipelines = _method_grids(section.get("methods") or {}, f"{where}.methods")
        if pipelines:
            raise ConfigError(f"{where}.methods: set a method's pipeline under sweep.methods, once for every data set")
        strays = sorted(set(grids or {}) - set(method_grids or {}))
        if strays:
            raise ConfigError(f"{where}.methods: {strays} not in sweep.methods: a data set only changes the grids of "
                              "the sweep's methods")
        out[name] = DatasetSpec(config=section["config"], fixed={**_fixed(section.get("fixed"), f"{where}.fixed"),
                                                                 **set_values}, methods=grids or {})
    return out
