"""Runs as ``privib compare`` sees them: a nested config plus flat metrics, read from run folders.

Both sources of runs (local run folders here, W&B runs in :mod:`privib.compare.wandb_records`)
become :class:`RunRecord` s, so the table, the front and the plot are computed the same way
whatever the source.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Sequence

from privib.errors import ConfigError
from privib.runs import RunFolder

__all__ = ["RunRecord", "find_run_folders", "load_run_folder", "load_run_folders", "numeric_metrics",
           "flatten_config", "infer_method"]


@dataclass
class RunRecord:
    """One run as compare sees it: where it came from, its state, nested config and flat metrics."""

    name: str
    source: str
    state: str
    config: dict[str, Any]
    metrics: dict[str, float]

    @property
    def method(self) -> str:
        return infer_method(self.config)

    @property
    def seed(self) -> Any:
        return self.config.get("seed_everything")


def find_run_folders(path: str | os.PathLike[str]) -> list[Path]:
    """``path`` itself when it is a run folder (config.yaml + status.json), else every run folder below it."""
    root = Path(path).expanduser()
    if not root.exists():
        raise ConfigError(f"{path} does not exist: pass run folders or sweep folders printed by privib")
    if RunFolder(root).is_run_folder():
        return [root]
    found = []
    for status in sorted(root.rglob("status.json")):
        folder = status.parent
        if RunFolder(folder).is_run_folder() and "wandb" not in folder.parts[len(root.parts):]:
            found.append(folder)
    return found


def load_run_folder(folder: Path) -> RunRecord | None:
    """A run folder as a record (None when its config, status or metrics are unreadable: compare skips it)."""
    run = RunFolder(folder)
    try:
        config, status, metrics = run.read_config(), run.status(), run.metrics()
    except (ConfigError, OSError, ValueError):
        return None
    return RunRecord(name=folder.name, source=str(folder), state=str(status.get("state", "unknown")),
                     config=config, metrics=numeric_metrics(metrics))


def load_run_folders(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[RunRecord], int]:
    """Finished runs under ``paths`` (deduplicated) and the number of other run folders found."""
    seen: set[Path] = set()
    records: list[RunRecord] = []
    skipped = 0
    for path in paths:
        for folder in find_run_folders(path):
            key = folder.resolve()
            if key in seen:
                continue
            seen.add(key)
            record = load_run_folder(folder)
            if record is None or record.state != "finished":
                skipped += 1
                continue
            records.append(record)
    return records, skipped


def numeric_metrics(values: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in values.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            out[str(key)] = float(value)
        elif isinstance(value, str) and value in ("NaN", "nan", "Infinity", "-Infinity", "inf", "-inf"):
            out[str(key)] = float(value.replace("Infinity", "inf"))
    return out


def flatten_config(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config to dotted keys; lists and other leaves become hashable JSON text."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten_config(value, f"{dotted}."))
        elif isinstance(value, (list, tuple, dict)):
            out[dotted] = json.dumps(value, sort_keys=True, default=str)
        else:
            out[dotted] = value
    return out


def infer_method(config: dict[str, Any]) -> str:
    """The ``method`` label of a run; for runs started without ``--method``, the preset its model settings match."""
    method = config.get("method")
    if isinstance(method, str) and method:
        return method
    model = config.get("model") or {}
    if model.get("objective") in ("fcrl", "laftr"):  # a reference method's objective names it
        return str(model["objective"])
    if model.get("release") == "cells":
        return "cells"
    adversary = float(model.get("adv_weight") or 0) > 0
    if model.get("deterministic"):
        return "adv" if adversary else "mlp"
    if float(model.get("recon_weight") or 0) > 0:
        return "cvib"
    return "vib_adv" if adversary else "vib"


