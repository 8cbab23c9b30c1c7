"""The points of a sweep: a method, its grid values and a seed, each a ``privib run`` with a stable id."""
from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Sequence

from privib.errors import ConfigError
from privib.sweep.spec import DATASET_TAG, SweepSpec, text_value, tied_keys

__all__ = ["Point", "point_id", "make_point", "untie", "expand_points", "child_argv", "resolved_argv", "config_keys", "check_keys",
           "validate_points"]


@dataclass(frozen=True)
class Point:
    """One grid point: a method (or None), its grid values, a seed, and the data set of a benchmark (or None)."""

    method: str | None
    params: tuple[tuple[str, Any], ...]
    seed: int
    id: str
    dataset: str | None = None

    @property
    def run_name(self) -> str:
        prefix = f"{self.dataset}-" if self.dataset else ""
        return f"{prefix}{self.method or 'run'}-{self.id}"

    def params_dict(self) -> dict[str, Any]:
        return dict(self.params)

    def describe(self) -> str:
        values = " ".join(f"{k.rsplit('.', 1)[-1]}={text_value(v)}" for k, v in self.params)
        return " ".join(p for p in (self.dataset or "", self.method or "run", values, f"seed={self.seed}") if p)


def canonical(value: Any) -> Any:
    """Numbers as floats (1 and 1.0 are the same point), containers recursively."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return str(value)


def point_id(method: str | None, params: dict[str, Any], seed: int, fixed: dict[str, Any], config: str,
             dataset: str | None = None, pipeline: str | None = None) -> str:
    """Stable 10-hex-digit id of a point: method, grid values, seed, fixed overrides, base config, and (when set)
    the data set of a benchmark and the method's own pipeline (absent ones leave older sweeps' ids as they were)."""
    identity = {"method": method, "params": canonical(params), "seed": int(seed), "fixed": canonical(fixed),
                "config": str(config)}
    identity.update({k: v for k, v in (("dataset", dataset), ("pipeline", pipeline)) if v is not None})
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def make_point(spec: SweepSpec, part: SweepSpec, method: str | None, params: dict[str, Any], seed: int) -> Point:
    """The point of ``method`` with ``params`` and ``seed`` on ``part`` (a data set of ``spec``, or ``spec``)."""
    pid = point_id(method, params, seed, part.fixed, part.config, part.dataset, spec.pipelines.get(method or ""))
    return Point(method, tuple(params.items()), seed, pid, part.dataset)


def untie(params: dict[str, Any]) -> dict[str, Any]:
    """Grid values as config values: a tied key (``a+b: [1, 2]``) becomes ``a: 1, b: 2``."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        names = tied_keys(key)
        out.update(zip(names, value) if len(names) > 1 else [(key, value)])
    return out


def _combinations(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    keys = list(grid)
    return [untie(dict(zip(keys, values))) for values in itertools.product(*(grid[k] for k in keys))]


def expand_points(spec: SweepSpec) -> list[Point]:
    """Every point, seed-major (all configurations of seed 0 first, so a partial sweep already has a front),
    data set by data set within a seed."""
    points: list[Point] = []
    for seed in spec.seeds:
        for part in spec.parts():
            methods = part.methods if part.methods is not None else {None: {}}
            for method, own in methods.items():
                points += [make_point(spec, part, method, params, seed) for params in _combinations({**part.grid, **own})]
    if not points:
        raise ConfigError(f"sweep {spec.name}: the grid has no points (empty grid)")
    unique = {p.id: p for p in points}
    return list(unique.values())


def flag_args(key: str, value: Any) -> list[str]:
    return [f"--{key}", text_value(value)]


def child_argv(spec: SweepSpec, point: Point, runs_dir: Path | str) -> list[str]:
    """``privib run`` arguments of one point: base config, method, pipeline, fixed overrides, grid values, seed, names."""
    pipeline = spec.pipeline_of(point.method)
    spec = spec.part(point.dataset)
    args = ["--config", spec.config]
    if point.method:
        args += ["--method", point.method]
    if pipeline:
        args += ["--pipeline", pipeline]
    args += ["--trainer.enable_progress_bar", "false"]
    tags = [spec.name, *([point.method] if point.method else []), *([DATASET_TAG + point.dataset] if point.dataset else [])]
    if len(tags) > 1:
        args += ["--wandb.tags", json.dumps(tags)]
    for key, value in spec.fixed.items():
        args += flag_args(key, value)
    for key, value in point.params:
        args += flag_args(key, value)
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
    for name, dataset in spec.datasets.items():
        sources += [(f"sweep.datasets.{name}.fixed", dataset.fixed)]
        sources += [(f"sweep.datasets.{name}.methods.{m}", g) for m, g in dataset.methods.items()]
    for where, section in sources:
        for key in (k for tied in section for k in tied_keys(tied)):
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
    from privib.parsing import parse
    from privib.pipeline.config import apply_method_preset, build_run_parser, check_yaml_file, method_preset_path

    for method in (spec.methods or {}):
        method_preset_path(method)
    for file in {*(part.config for part in spec.parts()), *spec.pipelines.values()}:
        check_yaml_file(resolve_path(file))
    parser = parser or build_run_parser()
    check_keys(spec, config_keys(parser))
    first: dict[str, Any] | None = None
    for point in points:
        argv = apply_method_preset(resolved_argv(child_argv(spec, point, runs_dir)))
        try:
            namespace = parse(parser, argv)
        except ConfigError as exc:
            raise ConfigError(f"point {point.describe()}: {exc}") from exc
        if first is None:
            config = namespace.clone()
            config.pop("config", None)
            first = config.as_dict()
    assert first is not None
    return first


def resolve_path(path: str) -> str:
    """A config path as given, else the shipped file of that name, as text."""
    from privib.paths import resolve_project_file

    return str(resolve_project_file(path))


def resolved_argv(argv: list[str]) -> list[str]:
    """Make the --config path absolute so the child (or a parse here) finds it from any working directory."""
    out = list(argv)
    for i, arg in enumerate(out[:-1]):
        if arg == "--config":
            out[i + 1] = resolve_path(out[i + 1])
    return out
