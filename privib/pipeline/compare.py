"""``privib compare``: mean ± std over seeds per configuration, the privacy-utility Pareto front, per-method summaries.

Sources are run folders (or folders holding them, e.g. a sweep folder), or W&B runs
fetched through the public API (:mod:`privib.pipeline.wandb_compare`). Both become
:class:`RunRecord` s (a nested config plus flat metrics), so the table, the front and the
plot are computed the same way whatever the source.

A *configuration* is a method plus the values of every config key that differs between
the compared runs, except seeds, names, folders and logging settings (:data:`IGNORED_KEYS`);
its runs differ only by seed and are averaged. Worst-case leakage of a run is the
maximum over sensitive attributes of ``leakage/<attr>/auc_max`` (itself the maximum over
the fresh attackers). Missing metrics read as NaN: a run evaluated without robustness
simply has no robustness columns.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from privib.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = [
    "RunRecord", "CompareResult", "load_run_folders", "find_run_folders", "compare_records", "flatten_config",
    "infer_method", "pareto_front", "best_accuracy_at", "dominated_area", "write_outputs", "plot_pareto",
    "log_compare_to_wandb", "compare_command", "DEFAULT_THRESHOLDS", "ACCURACY_KEY",
]

ACCURACY_KEY = "task/test/acc"
PROBE_KEY = "task/probe/acc_max"
WORST_KEY = "leakage/worst/auc_max"
DEFAULT_THRESHOLDS = (0.55, 0.60, 0.70)
REFERENCE_AUC = 1.0  # the dominated region is measured up to this leakage ...
REFERENCE_ACC = 0.5  # ... and down to this accuracy (see dominated_area)
# Config keys that never distinguish configurations (exact keys, or prefixes ending with '.').
IGNORED_KEYS = ("seed_everything", "name", "runs_dir", "resume", "threads", "method", "pipeline", "config", "wandb.",
                "data.root", "trainer.enable_progress_bar", "trainer.enable_model_summary", "evaluation.n_jobs",
                "evaluation.random_state")
METHOD_ORDER = ("mlp", "adv", "vib", "vib_adv", "cvib")


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


@dataclass
class CompareResult:
    """The comparison: per-run rows, per-configuration table, per-method summary, the columns used."""

    runs: Any  # pandas.DataFrame, one row per run
    table: Any  # pandas.DataFrame, one row per configuration: <metric>_mean, <metric>_std, n
    methods: Any  # pandas.DataFrame, one row per method: best accuracy at each threshold, dominated area
    params: list[str]  # config keys that distinguish configurations
    metrics: list[str]  # metric columns, in display order
    thresholds: tuple[float, ...]
    accuracy_key: str
    skipped: int = 0  # runs that were not finished (or not privib runs)
    sources: list[str] = field(default_factory=list)
    leakage: str = "released"  # which representation the leakage columns attack: released, mean or sample


# ---------------------------------------------------------------------------- loading
def _read_yaml(path: Path) -> Any:
    """A run's config.yaml, or None when it is unreadable (compare skips such folders)."""
    import yaml

    from privib.io import read_yaml

    try:
        return read_yaml(path)
    except (OSError, ValueError, yaml.YAMLError):
        return None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def find_run_folders(path: str | os.PathLike[str]) -> list[Path]:
    """``path`` itself when it is a run folder (config.yaml + status.json), else every run folder below it."""
    root = Path(path).expanduser()
    if not root.exists():
        raise ConfigError(f"{path} does not exist: pass run folders or sweep folders printed by privib")
    if (root / "config.yaml").is_file() and (root / "status.json").is_file():
        return [root]
    found = []
    for status in sorted(root.rglob("status.json")):
        folder = status.parent
        if (folder / "config.yaml").is_file() and "wandb" not in folder.parts[len(root.parts):]:
            found.append(folder)
    return found


def load_run_folder(folder: Path) -> RunRecord | None:
    """A run folder as a record (None when its config is unreadable)."""
    config = _read_yaml(folder / "config.yaml")
    if not isinstance(config, dict):
        return None
    status = _read_json(folder / "status.json") or {}
    metrics = _read_json(folder / "metrics.json") or {}
    return RunRecord(name=folder.name, source=str(folder), state=str(status.get("state", "unknown")),
                     config=config, metrics=_numeric(metrics))


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


def _numeric(values: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in values.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            out[str(key)] = float(value)
        elif isinstance(value, str) and value in ("NaN", "nan", "Infinity", "-Infinity", "inf", "-inf"):
            out[str(key)] = float(value.replace("Infinity", "inf"))
    return out


# ---------------------------------------------------------------------------- configurations
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


def _number(value: Any) -> Any:
    """Integers as floats, so 10 (a W&B sweep value) and 10.0 (a YAML config) are one configuration."""
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _ignored(key: str) -> bool:
    return any(key == k or (k.endswith(".") and key.startswith(k)) for k in IGNORED_KEYS)


def infer_method(config: dict[str, Any]) -> str:
    """The ``method`` label of a run; for runs started without ``--method``, the preset its model settings match."""
    method = config.get("method")
    if isinstance(method, str) and method:
        return method
    model = config.get("model") or {}
    adversary = float(model.get("adv_weight") or 0) > 0
    if model.get("deterministic"):
        return "adv" if adversary else "mlp"
    if float(model.get("recon_weight") or 0) > 0:
        return "cvib"
    return "vib_adv" if adversary else "vib"


def _short(key: str, keys: Iterable[str]) -> str:
    """``model.beta`` -> ``beta`` unless another key ends the same way."""
    last = key.rsplit(".", 1)[-1]
    return last if sum(k.rsplit(".", 1)[-1] == last for k in keys) == 1 else key


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


LEAKAGE_CHOICES = ("released", "mean", "sample")


def select_leakage(record: RunRecord, leakage: str = "released") -> dict[str, float]:
    """The record's metrics with ``leakage/<attr>/auc_max`` attacking the chosen representation.

    The evaluate stage's unprefixed keys attack the *released* representation (``model.release``:
    the mean of q(z|x), the default, or one sample z); ``leakage/<attr>/<other>/auc_max`` attack
    the other one. ``mean`` / ``sample`` pick that representation whatever the run released.
    """
    released = str((record.config.get("model") or {}).get("release") or "mean")
    if leakage == "released" or leakage == released:
        return record.metrics
    metrics = dict(record.metrics)
    for key in record.metrics:
        if m := re.fullmatch(r"leakage/([^/]+)/auc_max", key):
            metrics[key] = record.metrics.get(f"leakage/{m.group(1)}/{leakage}/auc_max", float("nan"))
    return metrics


def metric_columns(records: Sequence[RunRecord], accuracy_key: str = ACCURACY_KEY) -> tuple[list[str], list[str]]:
    """Metric columns present in any record, in display order, and the sensitive attributes found."""
    keys: set[str] = set()
    for record in records:
        keys.update(record.metrics)
    attributes = sorted({m.group(1) for k in keys if (m := re.fullmatch(r"leakage/([^/]+)/auc_max", k))} - {"worst"})
    families = sorted({m.group(1) for k in keys if (m := re.fullmatch(r"robustness/([^/]+)/area", k))})
    columns = [accuracy_key]
    if PROBE_KEY != accuracy_key:
        columns.append(PROBE_KEY)
    columns += [f"leakage/{a}/auc_max" for a in attributes] + [WORST_KEY]
    columns += [f"fairness/{a}/dp_gap" for a in attributes if any(f"fairness/{a}/dp_gap" in r.metrics for r in records)]
    columns += [f"robustness/{f}/area" for f in families]
    return columns, attributes


def run_row(record: RunRecord, columns: Sequence[str], attributes: Sequence[str], leakage: str = "released") -> dict[str, float]:
    """The metric columns of one run (NaN when missing); the worst-case leakage is computed here."""
    nan = float("nan")
    metrics = select_leakage(record, leakage)
    row = {c: float(metrics.get(c, nan)) for c in columns if c != WORST_KEY}
    leaks = [row.get(f"leakage/{a}/auc_max", nan) for a in attributes]
    leaks = [v for v in leaks if not math.isnan(v)]
    row[WORST_KEY] = max(leaks) if leaks else nan
    return row


def compare_records(
    records: Sequence[RunRecord], accuracy_key: str = ACCURACY_KEY, thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    skipped: int = 0, sources: Sequence[str] = (), reference_acc: float = REFERENCE_ACC, leakage: str = "released",
) -> CompareResult:
    """Group finished runs into configurations, average over seeds, compute fronts and per-method figures.

    ``leakage``: which representation the leakage columns attack (:func:`select_leakage`): ``released``
    (default, what each run's exported encoder hands downstream), ``mean`` or ``sample``.
    """
    if leakage not in LEAKAGE_CHOICES:
        raise ConfigError(f"leakage must be one of {', '.join(LEAKAGE_CHOICES)}, got '{leakage}'")
    import numpy as np
    import pandas as pd

    if not records:
        raise ConfigError("no finished runs to compare: pass run or sweep folders holding finished runs "
                          f"({skipped} unfinished or unreadable run(s) skipped)")
    columns, attributes = metric_columns(records, accuracy_key)
    flat = [{k: _number(v) for k, v in flatten_config(r.config).items()} for r in records]
    candidate_keys = sorted({k for f in flat for k in f if not _ignored(k)})
    methods_of = [r.method for r in records]
    # A key distinguishes configurations when it varies within some method; keys constant within every
    # method (model.deterministic, a preset's fixed beta) are implied by the method name.
    params = [k for k in candidate_keys
              if any(len({json.dumps(f.get(k), sort_keys=True, default=str) for f, m in zip(flat, methods_of) if m == method}) > 1
                     for method in set(methods_of))]
    rows = []
    for record, config in zip(records, flat):
        row: dict[str, Any] = {"run": record.name, "source": record.source, "method": record.method,
                               "seed": record.seed}
        row.update({k: config.get(k) for k in params})
        row.update(run_row(record, columns, attributes, leakage))
        rows.append(row)
    runs = pd.DataFrame(rows)
    order = {m: i for i, m in enumerate(METHOD_ORDER)}
    groups: dict[tuple[str, ...], list[int]] = {}
    for index, row in enumerate(rows):
        key = (row["method"], *(json.dumps(row[k], sort_keys=True, default=str) for k in params))
        groups.setdefault(key, []).append(index)
    ordered = sorted(groups, key=lambda k: (order.get(k[0], len(order)), k[0],
                                            *(_sort_key(rows[groups[k][0]][p]) for p in params)))
    table_rows = []
    for key in ordered:
        group = runs.iloc[groups[key]]
        first = rows[groups[key][0]]
        values = {"method": first["method"], **{k: first[k] for k in params}}
        entry: dict[str, Any] = {**values, "n": int(len(group)), "seeds": ",".join(str(s) for s in group["seed"])}
        for column in columns:
            data = group[column].to_numpy(dtype=float)
            finite = data[~np.isnan(data)]
            entry[f"{column}_mean"] = float(finite.mean()) if finite.size else float("nan")
            entry[f"{column}_std"] = float(finite.std(ddof=1)) if finite.size > 1 else (0.0 if finite.size else float("nan"))
        table_rows.append(entry)
    for method in {r["method"] for r in table_rows}:  # labels name only what varies within the method
        mine = [r for r in table_rows if r["method"] == method]
        varying = [k for k in params if len({json.dumps(r[k], sort_keys=True, default=str) for r in mine}) > 1]
        for r in mine:
            r["label"] = _label(r, varying)
    table = pd.DataFrame(table_rows)
    methods = _method_summary(table, accuracy_key, tuple(thresholds), reference_acc)
    return CompareResult(runs=runs, table=table, methods=methods, params=params, metrics=columns,
                         thresholds=tuple(thresholds), accuracy_key=accuracy_key, skipped=skipped, sources=list(sources),
                         leakage=leakage)


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value))
    return (1, "" if value is None else str(value))


def _label(values: dict[str, Any], params: Sequence[str]) -> str:
    parts = [f"{_short(k, params)}={_format_value(values[k])}" for k in params if values[k] is not None]
    return " ".join(parts) or "default"


# ---------------------------------------------------------------------------- fronts
def pareto_front(leakage: Sequence[float], accuracy: Sequence[float]) -> list[int]:
    """Indices of the non-dominated points (lower leakage, higher accuracy), sorted by leakage.

    A point is dominated when another has leakage <= and accuracy >= with one of them strict.
    NaN points are never on the front.
    """
    points = [(float(a), float(u), i) for i, (a, u) in enumerate(zip(leakage, accuracy))
              if not (math.isnan(float(a)) or math.isnan(float(u)))]
    points.sort(key=lambda p: (p[0], -p[1]))
    front: list[int] = []
    best = -math.inf
    for leak, acc, index in points:
        if acc > best:
            front.append(index)
            best = acc
    return front


def best_accuracy_at(leakage: Sequence[float], accuracy: Sequence[float], threshold: float) -> int | None:
    """Index of the most accurate point whose leakage is at most ``threshold`` (None when none is)."""
    best: int | None = None
    for i, (leak, acc) in enumerate(zip(leakage, accuracy)):
        if math.isnan(float(leak)) or math.isnan(float(acc)) or float(leak) > threshold:
            continue
        if best is None or float(acc) > float(accuracy[best]):
            best = i
    return best


def dominated_area(leakage: Sequence[float], accuracy: Sequence[float], reference_auc: float = REFERENCE_AUC,
                   reference_acc: float = REFERENCE_ACC) -> float:
    """Area of the region the points dominate inside [0.5, reference_auc] x [reference_acc, 1] (a hypervolume).

    Leakage below 0.5 (an attacker worse than chance) counts as 0.5. The largest possible
    area, a point at (0.5, 1.0), is ``(reference_auc - 0.5) * (1 - reference_acc)`` (0.25 by default).
    """
    points = sorted((max(0.5, float(a)), min(1.0, float(u))) for a, u in zip(leakage, accuracy)
                    if not (math.isnan(float(a)) or math.isnan(float(u))) and float(a) < reference_auc and float(u) > reference_acc)
    area, best = 0.0, reference_acc
    for i, (leak, acc) in enumerate(points):
        best = max(best, acc)
        right = points[i + 1][0] if i + 1 < len(points) else reference_auc
        area += (right - leak) * (best - reference_acc)
    return area


def _method_summary(table: Any, accuracy_key: str, thresholds: tuple[float, ...], reference_acc: float) -> Any:
    import pandas as pd

    rows = []
    acc_col, leak_col = f"{accuracy_key}_mean", f"{WORST_KEY}_mean"
    for method, group in table.groupby("method", sort=False):
        group = group.reset_index(drop=True)
        leak, acc = group[leak_col].tolist(), group[acc_col].tolist()
        row: dict[str, Any] = {"method": method, "configurations": len(group), "runs": int(group["n"].sum())}
        for t in thresholds:
            index = best_accuracy_at(leak, acc, t)
            row[f"best_acc@auc<={t:g}"] = float(acc[index]) if index is not None else float("nan")
            row[f"best_acc@auc<={t:g}_std"] = float(group[f"{accuracy_key}_std"][index]) if index is not None else float("nan")
            row[f"best_config@auc<={t:g}"] = group["label"][index] if index is not None else ""
        row["dominated_area"] = dominated_area(leak, acc, reference_acc=reference_acc)
        row["front"] = "; ".join(group["label"][i] for i in pareto_front(leak, acc))
        rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------- output
_SHORT_NAMES = {ACCURACY_KEY: "acc", PROBE_KEY: "probe acc", WORST_KEY: "worst AUC"}


def column_title(key: str) -> str:
    """Short column title: ``leakage/sex/auc_max`` -> ``sex AUC``."""
    if key in _SHORT_NAMES:
        return _SHORT_NAMES[key]
    if m := re.fullmatch(r"leakage/([^/]+)/auc_max", key):
        return f"{m.group(1)} AUC"
    if m := re.fullmatch(r"fairness/([^/]+)/dp_gap", key):
        return f"{m.group(1)} DP gap"
    if m := re.fullmatch(r"robustness/([^/]+)/area", key):
        return f"{m.group(1)} area"
    return key


def _pm(mean: float, std: float) -> str:
    if math.isnan(mean):
        return "—"
    return f"{mean:.3f} ± {std:.3f}" if not math.isnan(std) else f"{mean:.3f}"


def table_text_rows(result: CompareResult, metrics: Sequence[str] | None = None) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the configuration table as text (mean ± std); the configuration as its label
    (the keys that vary within its method; table.csv has one column per key)."""
    metrics = list(metrics or result.metrics)
    header = ["method", "configuration", "n", *[column_title(m) for m in metrics]]
    rows = []
    for _, row in result.table.iterrows():
        cells = [str(row["method"]), str(row["label"]), str(row["n"])]
        cells += [_pm(row[f"{m}_mean"], row[f"{m}_std"]) for m in metrics]
        rows.append(cells)
    return header, rows


def method_text_rows(result: CompareResult) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the per-method summary as text."""
    header = ["method", "configs", "runs", *[f"best acc @ AUC<={t:g}" for t in result.thresholds], "dominated area"]
    rows = []
    for _, row in result.methods.iterrows():
        cells = [str(row["method"]), str(row["configurations"]), str(row["runs"])]
        for t in result.thresholds:
            mean, std = row[f"best_acc@auc<={t:g}"], row[f"best_acc@auc<={t:g}_std"]
            cells.append(f"{_pm(mean, std)} ({row[f'best_config@auc<={t:g}']})" if not math.isnan(mean) else "—")
        cells.append(f"{row['dominated_area']:.4f}")
        rows.append(cells)
    return header, rows


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def plain_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Aligned plain-text table for the terminal."""
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def markdown_report(result: CompareResult, plot_name: str | None = "pareto.png") -> str:
    """The Markdown file: configuration table, per-method summary, the plot, how to read them."""
    header, rows = table_text_rows(result)
    m_header, m_rows = method_text_rows(result)
    parts = [
        "# privib compare", "",
        f"{len(result.runs)} finished run(s), {len(result.table)} configuration(s), mean ± std over seeds"
        + (f"; {result.skipped} unfinished run(s) skipped" if result.skipped else "") + ".",
        "`acc`: " + ("task head accuracy on the test split" if result.accuracy_key == ACCURACY_KEY else f"`{result.accuracy_key}`")
        + "; `<attr> AUC`: leakage, best fresh attacker's test AUC on "
        + {"released": "the representation each run releases (`model.release`: the mean of q(z|x) by default)",
           "mean": "the mean of q(z|x)", "sample": "one sample z ~ q(z|x)"}[result.leakage]
        + "; `worst AUC`: the maximum over "
        "attributes; `DP gap`: demographic-parity gap of the task predictions; `<family> area`: area under the "
        "accuracy-vs-perturbation curve.", "",
        markdown_table(header, rows), "",
        "## Per method", "",
        f"Best accuracy among configurations whose mean worst-case leakage AUC is at most each threshold "
        f"(configuration in brackets), and the area of the (leakage, accuracy) region the method's configurations "
        f"dominate inside [0.5, {REFERENCE_AUC:g}] x [{REFERENCE_ACC:g}, 1] (larger is better, at most "
        f"{(REFERENCE_AUC - 0.5) * (1 - REFERENCE_ACC):g}).", "",
        markdown_table(m_header, m_rows), "",
    ]
    if plot_name:
        parts += [f"![Pareto front]({plot_name})", ""]
    return "\n".join(parts)


def plot_pareto(result: CompareResult, path: str | os.PathLike[str], title: str | None = None) -> Path:
    """Task accuracy vs worst-case leakage AUC, one colour per method: fronts as lines, every configuration with error bars."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9.0, 5.2), dpi=130)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot(1, 1, 1)
    acc_col, leak_col = result.accuracy_key, WORST_KEY
    colors = {m: f"C{i}" for i, m in enumerate(result.table["method"].drop_duplicates())}
    for method, group in result.table.groupby("method", sort=False):
        group = group.reset_index(drop=True)
        x, y = group[f"{leak_col}_mean"].to_numpy(float), group[f"{acc_col}_mean"].to_numpy(float)
        xerr, yerr = group[f"{leak_col}_std"].fillna(0).to_numpy(float), group[f"{acc_col}_std"].fillna(0).to_numpy(float)
        color = colors[method]
        ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="o", color=color, alpha=0.35, markersize=4, capsize=2, linewidth=0.8)
        front = pareto_front(x, y)
        if front:
            ax.errorbar(x[front], y[front], xerr=xerr[front], yerr=yerr[front], fmt="-o", color=color, markersize=5,
                        capsize=2.5, linewidth=1.6, label=f"{method} ({len(group)} configs)")
    for t in result.thresholds:
        ax.axvline(t, color="0.6", linestyle=":", linewidth=0.9)
    ax.axvline(0.5, color="0.3", linestyle="--", linewidth=0.9)
    attacked = {"released": "released z", "mean": "mean of q(z|x)", "sample": "sampled z"}[result.leakage]
    ax.set_xlabel(f"worst-case leakage AUC of the {attacked}\n(best fresh attacker, max over attributes; lower is more private)")
    ax.set_ylabel("task accuracy (test)" if acc_col == ACCURACY_KEY else acc_col)
    ax.set_title(title or "privib: privacy-utility Pareto fronts (mean ± std over seeds)", fontsize=10)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:  # outside the axes: it never hides a point
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="front of", title_fontsize=8)
    else:
        ax.text(0.5, 0.5, "no run has both accuracy and leakage figures\n(add the evaluate stage to the pipeline)",
                transform=ax.transAxes, ha="center", va="center", fontsize=9, color="0.4")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp.png")
    figure.savefig(tmp, bbox_inches="tight")
    os.replace(tmp, target)
    return target


def write_outputs(result: CompareResult, out_dir: str | os.PathLike[str], plot: bool = True,
                  title: str | None = None) -> dict[str, Path]:
    """Write ``table.csv`` (per configuration), ``runs.csv`` (per run), ``methods.csv``, ``compare.md``,
    ``summary.json`` and ``pareto.png`` into ``out_dir``; returns their paths."""
    from privib.io import write_json_atomic, write_text_atomic

    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    paths = {"table": out / "table.csv", "runs": out / "runs.csv", "methods": out / "methods.csv",
             "markdown": out / "compare.md", "summary": out / "summary.json"}
    write_text_atomic(paths["table"], result.table.to_csv(index=False))
    write_text_atomic(paths["runs"], result.runs.to_csv(index=False))
    write_text_atomic(paths["methods"], result.methods.to_csv(index=False))
    if plot:
        paths["plot"] = plot_pareto(result, out / "pareto.png", title=title)
    write_text_atomic(paths["markdown"], markdown_report(result, "pareto.png" if plot else None))
    write_json_atomic(paths["summary"], summary_dict(result))
    return paths


def summary_dict(result: CompareResult) -> dict[str, Any]:
    """Flat per-method figures (``<method>/best_acc@auc<=0.6`` ...) plus counts, for JSON and W&B summaries."""
    out: dict[str, Any] = {"runs": int(len(result.runs)), "configurations": int(len(result.table)),
                           "skipped": int(result.skipped), "accuracy_key": result.accuracy_key}
    for _, row in result.methods.iterrows():
        for t in result.thresholds:
            value = row[f"best_acc@auc<={t:g}"]
            out[f"{row['method']}/best_acc@auc<={t:g}"] = None if math.isnan(value) else float(value)
            out[f"{row['method']}/best_config@auc<={t:g}"] = row[f"best_config@auc<={t:g}"]
        out[f"{row['method']}/dominated_area"] = float(row["dominated_area"])
    return out


def log_compare_to_wandb(result: CompareResult, paths: dict[str, Path], *, project: str, entity: str | None,
                         group: str | None, name: str, mode: str, directory: Path,
                         config: dict[str, Any] | None = None) -> str | None:
    """Log the comparison as one W&B run (job type ``compare``): the table, the per-method summary, the plot.

    ``mode`` is ``online``, ``offline`` or ``disabled`` (nothing is logged). Returns the run's
    local folder (offline) or URL, or None.
    """
    if mode == "disabled":
        return None
    import wandb

    from privib.pipeline.tracking import INIT_TIMEOUT_S, start_wandb_run

    directory.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("WANDB_SILENT", "true")

    def start(chosen: str, run_id: str | None, now: bool) -> Any:
        return wandb.init(project=project, entity=entity, group=group, name=name, job_type="compare", mode=chosen,
                          id=run_id, dir=str(directory), config={"sources": result.sources, **(config or {})},
                          reinit="create_new", settings=wandb.Settings(init_timeout=INIT_TIMEOUT_S))

    run, _, warning = start_wandb_run(start, mode)
    if warning:
        log.warning(warning)
        mode = "offline"
    try:
        table = result.table.copy()
        table.columns = [str(c) for c in table.columns]
        payload: dict[str, Any] = {
            "compare/table": wandb.Table(dataframe=table.astype({c: str for c in result.params})),
            "compare/methods": wandb.Table(dataframe=result.methods),
        }
        if "plot" in paths:
            payload["compare/pareto"] = wandb.Image(str(paths["plot"]))
        run.log(payload)
        run.summary.update({f"compare/{k}": v for k, v in summary_dict(result).items() if v is not None})
        where = run.url if mode == "online" else str(Path(run.dir).parent)
    finally:
        run.finish()
    return where


# ---------------------------------------------------------------------------- command
class _Parser(argparse.ArgumentParser):
    """argparse raising ConfigError (one line, exit code 2) instead of printing usage."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def parse_thresholds(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError as exc:
        raise ConfigError(f"--thresholds must be comma-separated numbers, got '{text}'") from exc
    if not values or any(not 0.5 <= v <= 1.0 for v in values):
        raise ConfigError(f"--thresholds must be leakage AUCs in [0.5, 1], got '{text}'")
    return values


def compare_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="privib compare",
        description="Compare finished runs: a table of mean ± std over seeds per configuration (task accuracy, leakage "
        "auc_max per attribute, DP gap, robustness areas), the accuracy-vs-worst-leakage Pareto front per method "
        "(PNG), and per method the best accuracy at leakage AUC <= each threshold and the dominated area. Writes "
        "table.csv, runs.csv, methods.csv, compare.md, summary.json and pareto.png.",
    )
    parser.add_argument("paths", nargs="*", help="run folders, or folders holding them (e.g. a sweep folder)")
    parser.add_argument("--out", default=None,
                        help="output folder (default: PATH/compare for a single sweep folder, else ./compare)")
    parser.add_argument("--wandb", default=None, metavar="ENTITY/PROJECT",
                        help="compare W&B runs of this project (public API, online) instead of local folders")
    parser.add_argument("--group", default=None, help="with --wandb: only runs of this W&B group (e.g. a sweep name)")
    parser.add_argument("--accuracy", default=ACCURACY_KEY,
                        help=f"metric on the accuracy axis (default {ACCURACY_KEY}; e.g. {PROBE_KEY})")
    parser.add_argument("--leakage", choices=LEAKAGE_CHOICES, default="released",
                        help="which representation the leakage columns attack: released (default: what each run's "
                        "exported encoder hands downstream, model.release), mean of q(z|x), or one sample z")
    parser.add_argument("--thresholds", default=",".join(f"{t:g}" for t in DEFAULT_THRESHOLDS),
                        help="leakage AUC thresholds of the per-method best accuracy (default 0.55,0.6,0.7)")
    parser.add_argument("--log-wandb", "--log_wandb", dest="log_wandb", action="store_true",
                        help="also log the comparison to W&B as a run of job type 'compare' (offline unless logged in)")
    parser.add_argument("--no-plot", "--no_plot", dest="no_plot", action="store_true", help="skip the PNG")
    return parser


def default_out_dir(paths: Sequence[str]) -> Path:
    if len(paths) == 1:
        path = Path(paths[0]).expanduser()
        if path.is_dir() and not (path / "config.yaml").is_file():
            return path / "compare"
    return Path("compare")


def print_result(result: CompareResult, paths: dict[str, Path], stream: Any = None) -> None:
    """The configuration table (main columns) and the per-method summary, for the terminal."""
    stream = stream or sys.stdout
    shown = [m for m in result.metrics if not m.startswith("robustness/")]
    header, rows = table_text_rows(result, shown)
    print(plain_table(header, rows), file=stream)
    print(file=stream)
    m_header, m_rows = method_text_rows(result)
    print(plain_table(m_header, m_rows), file=stream)
    print(file=stream)
    skipped = f", {result.skipped} unfinished skipped" if result.skipped else ""
    print(f"{len(result.runs)} runs, {len(result.table)} configurations{skipped}; wrote "
          + ", ".join(str(p) for p in paths.values()), file=stream)
    if result.runs[WORST_KEY].isna().all():
        print("note: no run has leakage figures (leakage/<attr>/auc_max): run the evaluate stage "
              "(privib evaluate RUN, or list it in the pipeline) to get the Pareto front", file=stream)


def compare_command(argv: list[str]) -> int:
    """``privib compare PATH... | --wandb ENTITY/PROJECT [--group G]``."""
    args = compare_parser().parse_args(argv)
    thresholds = parse_thresholds(args.thresholds)
    if args.wandb and args.paths:
        raise ConfigError("privib compare: give run/sweep folders or --wandb ENTITY/PROJECT, not both")
    if args.group and not args.wandb:
        raise ConfigError("privib compare: --group selects W&B runs and needs --wandb ENTITY/PROJECT")
    if args.wandb:
        from privib.pipeline.wandb_compare import fetch_wandb_records

        records, skipped = fetch_wandb_records(args.wandb, group=args.group)
        sources = [f"wandb:{args.wandb}" + (f"?group={args.group}" if args.group else "")]
        out_dir = Path(args.out or "compare")
    else:
        if not args.paths:
            raise ConfigError("privib compare: pass run or sweep folders, or --wandb ENTITY/PROJECT")
        records, skipped = load_run_folders(args.paths)
        sources = [str(p) for p in args.paths]
        out_dir = Path(args.out) if args.out else default_out_dir(args.paths)
    result = compare_records(records, accuracy_key=args.accuracy, thresholds=thresholds, skipped=skipped, sources=sources,
                             leakage=args.leakage)
    paths = write_outputs(result, out_dir, plot=not args.no_plot)
    print_result(result, paths)
    if args.log_wandb:
        where = log_records_run(result, paths, records, out_dir, name=f"compare-{time.strftime('%Y%m%d-%H%M%S')}",
                                group=args.group)
        if where:
            print(f"logged to W&B: {where}")
    return 0


def log_records_run(result: CompareResult, paths: dict[str, Path], records: Sequence[RunRecord], out_dir: Path,
                    name: str, group: str | None = None) -> str | None:
    """Log a comparison to W&B with the project, entity and mode of the compared runs' own W&B settings."""
    from privib.pipeline.options import WandbOptions
    from privib.pipeline.tracking import resolve_wandb_mode

    section = dict(records[0].config.get("wandb") or {})
    known = {k: v for k, v in section.items() if k in WandbOptions.__dataclass_fields__}
    try:
        options = WandbOptions(**known)
    except TypeError:
        options = WandbOptions()
    if not options.enabled:  # the runs had W&B off; the comparison still follows WANDB_MODE / credentials
        options = WandbOptions(project=options.project, entity=options.entity)
    groups = {(r.config.get("wandb") or {}).get("group") for r in records}
    group = group or (groups.pop() if len(groups) == 1 else None)
    return log_compare_to_wandb(result, paths, project=options.project, entity=options.entity, group=group, name=name,
                                mode=resolve_wandb_mode(options), directory=out_dir)
