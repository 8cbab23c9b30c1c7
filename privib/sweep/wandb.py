"""The W&B backend of a sweep: one W&B grid sweep config per group of methods sharing a grid."""
from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

from privib.io import write_yaml_atomic
from privib.paths import CHECKOUT_ROOT
from privib.sweep.points import canonical, flag_args, resolve_path, untie
from privib.sweep.spec import DATASET_TAG, SweepSpec, tied_keys

__all__ = ["wandb_sweep_configs", "write_wandb_sweeps", "untied_grids"]


def _relative_to_checkout(path: str) -> str:
    """A path inside the privib checkout as a checkout-relative path (agents run from their own checkout)."""
    try:
        return str(Path(path).resolve().relative_to(CHECKOUT_ROOT))
    except ValueError:
        return path


def wandb_sweep_configs(spec: SweepSpec) -> dict[str, dict[str, Any]]:
    """One W&B grid sweep config per data set and group of methods sharing a grid and a pipeline; each runs ``privib run``.

    W&B's grid is a full cross product, so methods with different grids (or pipelines) become
    different W&B sweeps (same W&B group). ``${args}`` expands to ``--key=value`` for ``method``,
    ``seed_everything`` and each grid key, which ``privib run`` reads like any flag. A benchmark's
    runs are tagged ``dataset:<name>`` so ``privib compare --benchmark`` tells the data sets apart.
    """
    configs: dict[str, dict[str, Any]] = {}
    for part in spec.parts():
        configs.update(_part_configs(spec, part))
    return configs


def untied_grids(grid: dict[str, list[Any]]) -> list[dict[str, list[Any]]]:
    """W&B grids cross every parameter: one grid per combination of the tied keys' values (``a+b``), each key alone."""
    tied = [k for k in grid if len(tied_keys(k)) > 1]
    plain = {k: v for k, v in grid.items() if k not in tied}
    return [{**plain, **{k: [v] for k, v in untie(dict(zip(tied, values))).items()}}
            for values in itertools.product(*(grid[k] for k in tied))]


def _part_configs(spec: SweepSpec, part: SweepSpec) -> dict[str, dict[str, Any]]:
    methods = part.methods if part.methods is not None else {None: {}}
    groups: dict[str, list[str | None]] = {}
    grids: dict[str, dict[str, list[Any]]] = {}
    variant: dict[str, str] = {}
    for method, own in methods.items():
        untied = untied_grids({**part.grid, **own})
        for number, grid in enumerate(untied, start=1):
            key = json.dumps([canonical(grid), spec.pipeline_of(method)], sort_keys=True)
            groups.setdefault(key, []).append(method)
            grids[key] = grid
            variant[key] = str(number) if len(untied) > 1 else ""
    configs: dict[str, dict[str, Any]] = {}
    for key, members in groups.items():
        pipeline = spec.pipeline_of(members[0])
        command = ["${env}", "privib", "run", "--config", _relative_to_checkout(resolve_path(part.config))]
        if pipeline:
            command += ["--pipeline", _relative_to_checkout(resolve_path(pipeline))]
        command += ["--trainer.enable_progress_bar", "false"]
        if part.dataset:
            command += ["--wandb.tags", json.dumps([spec.name, DATASET_TAG + part.dataset])]
        for name, value in part.fixed.items():
            command += flag_args(name, value)
        command += ["--name", f"{spec.name}-{part.dataset}" if part.dataset else spec.name, "--runs_dir",
                    str(spec.dir / "runs"), "--wandb.group", spec.name, "--threads", str(spec.threads), "${args}"]
        label = "-".join([*([part.dataset] if part.dataset else []), *(m for m in members if m),
                          *([variant[key]] if variant[key] else [])]) or "grid"
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
    written = []
    for label, config in wandb_sweep_configs(spec).items():
        path = spec.dir / "wandb_sweep" / f"{label}.yaml"
        write_yaml_atomic(path, config)
        runs = math.prod(len(p["values"]) for p in config["parameters"].values())
        written.append((path, runs))
    return written
