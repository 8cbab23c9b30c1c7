"""The comparison of runs: mean ± std over seeds per configuration, the privacy-utility Pareto front, per-method summaries.

Sources are run folders (or folders holding them, e.g. a sweep folder), or W&B runs
fetched through the public API (:mod:`privib.compare.wandb_records`). Both become
:class:`RunRecord` s (a nested config plus flat metrics), so the table, the front and the
plot are computed the same way whatever the source.

A *configuration* is a method plus the values of every config key that differs between
the compared runs, except seeds, names, folders and logging settings (:data:`IGNORED_KEYS`);
its runs differ only by seed and are averaged. Worst-case leakage of a run is the
maximum over sensitive attributes of ``leakage/<attr>/auc_max`` (itself the maximum over
the fresh attackers). Missing metrics read as NaN: a run evaluated without robustness
simply has no robustness columns.

The privacy axis (``x_axis``) is that leakage, or a fairness one: the worst demographic-parity gap
over attributes, of the literature's downstream protocol (``downstream/<attr>/dp_gap``, the
published fair-representation results' axis) or of the trained head (``fairness/<attr>/dp_gap``).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Iterable, Sequence

from privib.compare.pareto import REFERENCE_ACC, best_accuracy_at, dominated_area, pareto_front
from privib.compare.records import RunRecord, flatten_config
from privib.errors import ConfigError
from privib.runs import keys

__all__ = ["CompareResult", "compare_records", "select_leakage", "metric_columns", "run_row", "ACCURACY_KEY",
           "PROBE_KEY", "WORST_KEY", "DEFAULT_THRESHOLDS", "LEAKAGE_CHOICES", "X_AXES", "FAIRNESS_CHOICES",
           "DP_WORST_KEYS", "DEFAULT_DP_THRESHOLDS", "x_axis_key", "default_accuracy_key", "default_thresholds"]

ACCURACY_KEY = keys.ACCURACY
PROBE_KEY = keys.PROBE_ACC_MAX
WORST_KEY = keys.WORST_LEAKAGE
DEFAULT_THRESHOLDS = (0.55, 0.60, 0.70)
DEFAULT_DP_THRESHOLDS = (0.05, 0.10, 0.20)
X_AXES = ("leakage", "dp_gap")
FAIRNESS_CHOICES = tuple(keys.DP_SOURCES)  # downstream (the literature's protocol), head (the trained task head)
DP_WORST_KEYS = {"downstream": "downstream/worst/dp_gap", "head": "fairness/worst/dp_gap"}
# Config keys that never distinguish configurations (exact keys, or prefixes ending with '.').
IGNORED_KEYS = ("seed_everything", "name", "runs_dir", "resume", "threads", "method", "pipeline", "config", "wandb.",
                "data.root", "trainer.enable_progress_bar", "trainer.enable_model_summary", "evaluation.n_jobs",
                "evaluation.random_state")
METHOD_ORDER = ("mlp", "adv", "vib", "vib_adv", "cvib", "cells", "fcrl", "laftr", "predict", "fair_predict", "noise",
                "lfr", "raw")  # privib's methods, the reference methods, then the release baselines


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
    x_axis: str = "leakage"  # the privacy axis of the front and the thresholds: leakage or dp_gap
    fairness: str = "downstream"  # whose DP gap the dp_gap axis reads: downstream (protocol) or head

    @property
    def x_key(self) -> str:
        """The column of the privacy axis: the worst leakage AUC or the worst DP gap."""
        return x_axis_key(self.x_axis, self.fairness)


def _number(value: Any) -> Any:
    """Integers as floats, so 10 (a W&B sweep value) and 10.0 (a YAML config) are one configuration."""
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _ignored(key: str) -> bool:
    return any(key == k or (k.endswith(".") and key.startswith(k)) for k in IGNORED_KEYS)


def _shapes_the_run(key: str, config: dict[str, Any]) -> bool:
    """False for a ``baseline.*`` option the run's release does not use (every one, for a trained encoder):
    runs recorded before an option existed and after then still read as one configuration."""
    if not key.startswith("baseline."):
        return True
    from privib.baselines.options import KINDS, BaselineOptions

    kind = (config.get("baseline") or {}).get("kind")
    return kind in KINDS and key[len("baseline."):] in BaselineOptions(kind=kind).settings()


def _short(key: str, keys: Iterable[str]) -> str:
    """``model.beta`` -> ``beta`` unless another key ends the same way."""
    last = key.rsplit(".", 1)[-1]
    return last if sum(k.rsplit(".", 1)[-1] == last for k in keys) == 1 else key


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


LEAKAGE_CHOICES = ("released", "mean", "sample")


def x_axis_key(x_axis: str = "leakage", fairness: str = "downstream") -> str:
    """The column of a privacy axis (:data:`X_AXES`; ``fairness``: whose DP gap, :data:`FAIRNESS_CHOICES`)."""
    if x_axis not in X_AXES:
        raise ConfigError(f"x axis must be one of {', '.join(X_AXES)}, got '{x_axis}'")
    if fairness not in FAIRNESS_CHOICES:
        raise ConfigError(f"fairness must be one of {', '.join(FAIRNESS_CHOICES)}, got '{fairness}'")
    return WORST_KEY if x_axis == "leakage" else DP_WORST_KEYS[fairness]


def default_accuracy_key(x_axis: str = "leakage", fairness: str = "downstream") -> str:
    """The accuracy that goes with an axis: the protocol's own accuracy beside its DP gap, else the head's."""
    return keys.DOWNSTREAM_ACC if x_axis == "dp_gap" and fairness == "downstream" else ACCURACY_KEY


def default_thresholds(x_axis: str = "leakage") -> tuple[float, ...]:
    """Leakage AUCs 0.55, 0.6, 0.7, or DP gaps 0.05, 0.1, 0.2 (the literature's)."""
    return DEFAULT_DP_THRESHOLDS if x_axis == "dp_gap" else DEFAULT_THRESHOLDS


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
    for attribute in keys.attributes(record.metrics):
        metrics[keys.leakage(attribute)] = record.metrics.get(keys.leakage(attribute, representation=leakage), float("nan"))
    return metrics


def metric_columns(records: Sequence[RunRecord], accuracy_key: str = ACCURACY_KEY) -> tuple[list[str], list[str]]:
    """Metric columns present in any record, in display order, and the sensitive attributes found."""
    present: set[str] = set()
    for record in records:
        present.update(record.metrics)
    attributes = sorted(keys.attributes(present))
    families = sorted(keys.robustness_families(present))
    columns = [accuracy_key]
    if PROBE_KEY != accuracy_key:
        columns.append(PROBE_KEY)
    columns += [f"leakage/{a}/auc_max" for a in attributes] + [WORST_KEY]
    columns += [f"fairness/{a}/dp_gap" for a in attributes if any(f"fairness/{a}/dp_gap" in r.metrics for r in records)]
    if any(f"fairness/{a}/dp_gap" in present for a in attributes):
        columns.append(DP_WORST_KEYS["head"])
    if keys.DOWNSTREAM_ACC in present and keys.DOWNSTREAM_ACC != accuracy_key:
        columns.append(keys.DOWNSTREAM_ACC)
    downstream = [f"downstream/{a}/dp_gap" for a in attributes if f"downstream/{a}/dp_gap" in present]
    columns += downstream + ([DP_WORST_KEYS["downstream"]] if downstream else [])
    columns += [k for k in (keys.TRANSFER_MEAN_ACC, keys.TRANSFER_MEAN_BASE) if k in present and k != accuracy_key]
    columns += [f"robustness/{f}/area" for f in families]
    return columns, attributes


def run_row(record: RunRecord, columns: Sequence[str], attributes: Sequence[str], leakage: str = "released") -> dict[str, float]:
    """The metric columns of one run (NaN when missing); the worst-case leakage is computed here."""
    nan = float("nan")
    metrics = select_leakage(record, leakage)
    worst = {WORST_KEY, *DP_WORST_KEYS.values()}
    row = {c: float(metrics.get(c, nan)) for c in columns if c not in worst}
    leaks = [row.get(f"leakage/{a}/auc_max", nan) for a in attributes]
    leaks = [v for v in leaks if not math.isnan(v)]
    row[WORST_KEY] = max(leaks) if leaks else nan
    for source, key in DP_WORST_KEYS.items():
        if key in columns:
            row[key] = keys.worst_dp_gap(metrics, source)
    return row


def compare_records(
    records: Sequence[RunRecord], accuracy_key: str = ACCURACY_KEY, thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    skipped: int = 0, sources: Sequence[str] = (), reference_acc: float = REFERENCE_ACC, leakage: str = "released",
    x_axis: str = "leakage", fairness: str = "downstream",
) -> CompareResult:
    """Group finished runs into configurations, average over seeds, compute fronts and per-method figures.

    ``leakage``: which representation the leakage columns attack (:func:`select_leakage`): ``released``
    (default, what each run's exported encoder hands downstream), ``mean`` or ``sample``. ``x_axis``:
    the privacy axis of the fronts and thresholds, ``leakage`` or ``dp_gap`` (whose: ``fairness``).
    """
    if leakage not in LEAKAGE_CHOICES:
        raise ConfigError(f"leakage must be one of {', '.join(LEAKAGE_CHOICES)}, got '{leakage}'")
    x_key = x_axis_key(x_axis, fairness)
    import numpy as np
    import pandas as pd

    if not records:
        raise ConfigError("no finished runs to compare: pass run or sweep folders holding finished runs "
                          f"({skipped} unfinished or unreadable run(s) skipped)")
    columns, attributes = metric_columns(records, accuracy_key)
    if x_key not in columns:  # the chosen axis, NaN where runs lack it
        columns.append(x_key)
    flat = [{k: _number(v) for k, v in flatten_config(r.config).items() if _shapes_the_run(k, r.config)} for r in records]
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
                               "seed": record.seed, "release": str((record.config.get("model") or {}).get("release") or "mean")}
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
            entry[f"{column}_std"] = float(finite.std(ddof=1)) if finite.size > 1 else float("nan")  # no spread from one seed
        table_rows.append(entry)
    for method in {r["method"] for r in table_rows}:  # labels name only what varies within the method
        mine = [r for r in table_rows if r["method"] == method]
        varying = [k for k in params if len({json.dumps(r[k], sort_keys=True, default=str) for r in mine}) > 1]
        for r in mine:
            r["label"] = _label(r, varying)
    table = pd.DataFrame(table_rows)
    methods = _method_summary(table, accuracy_key, tuple(thresholds), reference_acc, x_key)
    return CompareResult(runs=runs, table=table, methods=methods, params=params, metrics=columns,
                         thresholds=tuple(thresholds), accuracy_key=accuracy_key, skipped=skipped, sources=list(sources),
                         leakage=leakage, x_axis=x_axis, fairness=fairness)


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value))
    return (1, "" if value is None else str(value))


def _label(values: dict[str, Any], params: Sequence[str]) -> str:
    parts = [f"{_short(k, params)}={_format_value(values[k])}" for k in params if values[k] is not None]
    return " ".join(parts) or "default"


def threshold_name(x_key: str) -> str:
    """How the per-method columns name the axis: ``auc`` (``best_acc@auc<=0.6``) or ``dp`` (``best_acc@dp<=0.1``)."""
    return "auc" if x_key == WORST_KEY else "dp"


def _method_summary(table: Any, accuracy_key: str, thresholds: tuple[float, ...], reference_acc: float,
                    x_key: str = WORST_KEY) -> Any:
    """Per method: best accuracy at each threshold of the privacy axis, and the area its points dominate
    (leakage AUC inside [0.5, 1], a DP gap inside [0, 1])."""
    import pandas as pd

    rows = []
    acc_col, leak_col, axis = f"{accuracy_key}_mean", f"{x_key}_mean", threshold_name(x_key)
    for method, group in table.groupby("method", sort=False):
        group = group.reset_index(drop=True)
        leak, acc = group[leak_col].tolist(), group[acc_col].tolist()
        row: dict[str, Any] = {"method": method, "configurations": len(group), "runs": int(group["n"].sum())}
        for t in thresholds:
            index = best_accuracy_at(leak, acc, t)
            row[f"best_acc@{axis}<={t:g}"] = float(acc[index]) if index is not None else float("nan")
            row[f"best_acc@{axis}<={t:g}_std"] = float(group[f"{accuracy_key}_std"][index]) if index is not None else float("nan")
            row[f"best_config@{axis}<={t:g}"] = group["label"][index] if index is not None else ""
        row["dominated_area"] = dominated_area(leak, acc, reference_acc=reference_acc, best_leakage=0.5 if axis == "auc" else 0.0)
        row["front"] = "; ".join(group["label"][i] for i in pareto_front(leak, acc))
        rows.append(row)
    return pd.DataFrame(rows)


