"""A sweep's record: ``summary.csv`` (one row per point: state, reason, key figures) and ``sweep.yaml``."""
from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any
from collections.abc import Sequence

from privib.io import write_text_atomic, write_yaml_atomic
from privib.runs import keys
from privib.sweep.local import scan_runs
from privib.sweep.points import Point, child_argv
from privib.sweep.spec import SweepSpec, text_value

__all__ = ["read_attempts", "summary_rows", "write_summary", "write_manifest", "SUMMARY_METRICS"]

SUMMARY_METRICS = ("task/test/acc", "task/probe/acc_max", "leakage/worst/auc_max", "fit/epochs", "fit/best_epoch")



def _read_json(path: Path) -> dict[str, Any]:
    """A run's metrics or timings, ``{}`` when missing or unreadable (the row then shows NaN)."""
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


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
    runs = scan_runs(runs_dir)
    attempts = read_attempts(sweep_dir)
    param_keys = list(dict.fromkeys(k for p in points for k, _ in p.params))
    rows = []
    for point in points:
        entries = runs.get(point.run_name, [])
        tries = attempts.get(point.id, [])
        finished = [(f, s) for f, s in entries if s.get("state") == "finished"]
        row: dict[str, Any] = {"point": point.id, "run_name": point.run_name}
        if any(p.dataset for p in points):
            row["dataset"] = point.dataset or ""
        row.update({"method": point.method or "", "seed": point.seed})
        row.update({k: text_value(v) for k, v in point.params if k in param_keys})
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
        metrics: dict[str, Any] = _read_json(folder / "metrics.json") if folder is not None else {}
        leaks = [keys.leakage(a) for a in keys.attributes(metrics)]
        metrics[keys.WORST_LEAKAGE] = keys.worst_leakage(metrics)
        for key in sorted(leaks) + sorted(k for k in metrics if k.startswith("fairness/") and k.endswith("/dp_gap")):
            row[key] = metrics[key]
        for key in SUMMARY_METRICS:
            row[key] = metrics.get(key, float("nan"))
        timings = _read_json(folder / "timings.json") if folder is not None else {}
        row.update({k: v for k, v in sorted(timings.items()) if k.startswith("stage/")})
        rows.append(row)
    return rows


def write_summary(points: Sequence[Point], runs_dir: Path, sweep_dir: Path) -> tuple[Path, list[dict[str, Any]]]:
    """Write ``summary.csv`` (atomically); returns its path and rows."""
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
    manifest: dict[str, Any] = {
        "name": spec.name, "spec": str(spec.path), "config": spec.config, "pipeline": spec.pipeline,
        "seeds": spec.seeds, "fixed": spec.fixed, "grid": spec.grid, "methods": spec.methods, "threads": spec.threads,
        "points": [{"id": p.id, "run_name": p.run_name, "method": p.method, "seed": p.seed, "params": p.params_dict(),
                    **({"dataset": p.dataset} if p.dataset else {}),
                    "argv": ["privib", "run", *child_argv(spec, p, runs_dir)]} for p in points],
    }
    if spec.datasets:
        manifest["datasets"] = {n: {"config": d.config, "fixed": d.fixed, "methods": d.methods} for n, d in spec.datasets.items()}
    if spec.pipelines:
        manifest["pipelines"] = spec.pipelines
    return write_yaml_atomic(spec.dir / "sweep.yaml", json.loads(json.dumps(manifest, default=str)))
