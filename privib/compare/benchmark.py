"""A benchmark, read-only: per data set and method, the best accuracy within each privacy budget.

A benchmark's runs (``privib sweep pipelines/benchmark.yaml``) carry the W&B tag
``dataset:<name>``; runs without one are grouped by ``data.name`` (and ``data.sensitive``). Per
data set, two comparisons (:func:`privib.compare.table.compare_records`) are made of the same runs:

- **leakage**: accuracy (``task/probe/acc_max`` by default: the best fresh task probe on the frozen
  released codes, the same figure for a learned encoder and a release baseline) against the worst
  leakage AUC, thresholds 0.55 / 0.60 / 0.70;
- **fairness**: the downstream protocol's accuracy (``downstream/acc``) against its worst DP gap,
  thresholds 0.05 / 0.10 / 0.20.

For each method and threshold, the configuration with the best seed-mean accuracy among those
whose seed-mean privacy figure is within the threshold is chosen; its accuracy (mean ± std over
seeds), its mean transfer accuracy above the base rate (``transfer/mean/acc - transfer/mean/base``,
per seed, then mean ± std) and the area its method dominates are the row of the table.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any
from collections.abc import Sequence

from privib.compare.records import RunRecord
from privib.compare.table import (
    DEFAULT_DP_THRESHOLDS, DEFAULT_THRESHOLDS, CompareResult, compare_records, threshold_name,
)
from privib.runs import keys

__all__ = ["DatasetBenchmark", "benchmark_records", "group_by_dataset", "dataset_of", "transfer_gain", "AXES",
           "BENCHMARK_ACCURACY", "FRONTIER_METHOD", "DATASET_TAG"]

BENCHMARK_ACCURACY = keys.PROBE_ACC_MAX
FRONTIER_METHOD = "fair_predict"  # the release that traces the frontier of the trained task: drawn as a line
DATASET_TAG = "dataset:"  # the W&B tag privib sweep gives each run of a benchmark: dataset:<name>
AXES = ("auc", "dp")  # the two comparisons of a data set, in table order


@dataclass
class DatasetBenchmark:
    """One data set of a benchmark: its two comparisons and the per-method table."""

    name: str
    leakage: CompareResult  # accuracy vs worst leakage AUC
    fairness: CompareResult  # downstream-protocol accuracy vs its worst DP gap
    table: Any  # pandas.DataFrame, one row per method (see :func:`benchmark_table`)

    def result(self, axis: str) -> CompareResult:
        return self.leakage if axis == "auc" else self.fairness


def dataset_of(record: RunRecord) -> str:
    """The data set of a run: its ``dataset:<name>`` tag, else ``data.name`` (with ``data.sensitive`` when set)."""
    wandb_section = record.config.get("wandb") or {}
    tags = wandb_section.get("tags") if isinstance(wandb_section, dict) else None
    for tag in tags if isinstance(tags, (list, tuple)) else []:
        if isinstance(tag, str) and tag.startswith(DATASET_TAG) and len(tag) > len(DATASET_TAG):
            return tag[len(DATASET_TAG):]
    data = record.config.get("data") or {}
    name = str(data.get("name") or "data")
    sensitive = data.get("sensitive")
    if isinstance(sensitive, (list, tuple)):
        sensitive = "+".join(str(s) for s in sensitive)
    return f"{name}-{sensitive}" if sensitive else name


def group_by_dataset(records: Sequence[RunRecord]) -> dict[str, list[RunRecord]]:
    """Records per data set, data sets in first-seen order."""
    groups: dict[str, list[RunRecord]] = {}
    for record in records:
        groups.setdefault(dataset_of(record), []).append(record)
    return groups


def _value_key(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "null"
    return json.dumps(value, sort_keys=True, default=str)


def _configuration_runs(result: CompareResult, method: str, label: str) -> Any:
    """The per-run rows of one configuration (a method and its label in the table)."""
    table = result.table
    chosen = table[(table["method"] == method) & (table["label"] == label)]
    if chosen.empty:
        return result.runs.iloc[0:0]
    row = chosen.iloc[0]
    mask = result.runs["method"] == method
    for key in result.params:
        mask &= result.runs[key].map(_value_key) == _value_key(row[key])
    return result.runs[mask]


def transfer_gain(runs: Any) -> tuple[float, float]:
    """Mean ± sample std over runs of ``transfer/mean/acc - transfer/mean/base`` (NaN when no run has both)."""
    if keys.TRANSFER_MEAN_ACC not in runs or keys.TRANSFER_MEAN_BASE not in runs:
        return float("nan"), float("nan")
    gains = (runs[keys.TRANSFER_MEAN_ACC] - runs[keys.TRANSFER_MEAN_BASE]).dropna().to_numpy(dtype=float)
    if not gains.size:
        return float("nan"), float("nan")
    return float(gains.mean()), float(gains.std(ddof=1)) if gains.size > 1 else float("nan")


def benchmark_table(leakage: CompareResult, fairness: CompareResult) -> Any:
    """One row per method: per axis and threshold the chosen configuration's accuracy (mean, std, n), its
    transfer gain (mean, std) and label, and per axis the dominated area.

    Columns: ``acc@auc<=0.6``, ``acc@auc<=0.6_std``, ``acc@auc<=0.6_n``, ``config@auc<=0.6``,
    ``transfer_gain@auc<=0.6``, ``transfer_gain@auc<=0.6_std``, ... the same with ``dp``, and
    ``area@auc``, ``area@dp``.
    """
    import pandas as pd

    rows: dict[str, dict[str, Any]] = {}
    for result in (leakage, fairness):
        axis = threshold_name(result.x_key)
        counts = result.table.groupby("method", sort=False)["n"]
        for _, summary in result.methods.iterrows():
            method = summary["method"]
            row = rows.setdefault(method, {"method": method, "configurations": int(summary["configurations"]),
                                           "runs": int(summary["runs"]),
                                           "seeds_per_config": int(counts.get_group(method).max())})
            for t in result.thresholds:
                label = summary[f"best_config@{axis}<={t:g}"]
                chosen = result.table[(result.table["method"] == method) & (result.table["label"] == label)]
                n = int(chosen["n"].iloc[0]) if label and not chosen.empty else 0
                gain, gain_std = transfer_gain(_configuration_runs(result, method, label)) if n else (math.nan, math.nan)
                row.update({f"acc@{axis}<={t:g}": float(summary[f"best_acc@{axis}<={t:g}"]),
                            f"acc@{axis}<={t:g}_std": float(summary[f"best_acc@{axis}<={t:g}_std"]) if n > 1 else math.nan,
                            f"acc@{axis}<={t:g}_n": n, f"config@{axis}<={t:g}": label,
                            f"transfer_gain@{axis}<={t:g}": gain, f"transfer_gain@{axis}<={t:g}_std": gain_std})
            row[f"area@{axis}"] = float(summary["dominated_area"])
    return pd.DataFrame(list(rows.values()))


def benchmark_records(records: Sequence[RunRecord], accuracy_key: str = BENCHMARK_ACCURACY,
                      auc_thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
                      dp_thresholds: Sequence[float] = DEFAULT_DP_THRESHOLDS, sources: Sequence[str] = (),
                      skipped: int = 0, leakage: str = "released") -> list[DatasetBenchmark]:
    """The benchmark of finished runs: one :class:`DatasetBenchmark` per data set, in first-seen order."""
    out = []
    for name, group in group_by_dataset(records).items():
        by_leakage = compare_records(group, accuracy_key=accuracy_key, thresholds=auc_thresholds, skipped=skipped,
                                     sources=sources, leakage=leakage)
        by_fairness = compare_records(group, accuracy_key=keys.DOWNSTREAM_ACC, thresholds=dp_thresholds,
                                      skipped=skipped, sources=sources, leakage=leakage, x_axis="dp_gap",
                                      fairness="downstream")
        out.append(DatasetBenchmark(name, by_leakage, by_fairness, benchmark_table(by_leakage, by_fairness)))
    return out
