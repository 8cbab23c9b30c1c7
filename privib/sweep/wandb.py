"""The W&B backend of a sweep: one W&B grid sweep config per group of methods sharing a grid."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from privib.io import write_yaml_atomic
from privib.paths import CHECKOUT_ROOT
from privib.sweep.points import canonical, flag_args, resolve_path
from privib.sweep.spec import SweepSpec

__all__ = ["wandb_sweep_configs", "write_wandb_sweeps"]


def _relative_to_checkout(path: str) -> str:
    """A path inside the privib checkout as a checkout-relative path (agents run from their own checkout)."""
    try:
        return str(Path(path).resolve().relative_to(CHECKOUT_ROOT))
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
        key = json.dumps(canonical(grid), sort_keys=True)
        groups.setdefault(key, []).append(method)
        grids[key] = grid
    command = ["${env}", "privib", "run", "--config", _relative_to_checkout(resolve_path(spec.config))]
    if spec.pipeline:
        command += ["--pipeline", _relative_to_checkout(spec.pipeline)]
    command += ["--trainer.enable_progress_bar", "false"]
    for key, value in spec.fixed.items():
        command += flag_args(key, value)
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
    written = []
    for label, config in wandb_sweep_configs(spec).items():
        path = spec.dir / "wandb_sweep" / f"{label}.yaml"
        write_yaml_atomic(path, config)
        runs = math.prod(len(p["values"]) for p in config["parameters"].values())
        written.append((path, runs))
    return written
