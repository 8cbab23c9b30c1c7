"""The comparison as people read it: text and Markdown tables, the Pareto plot, the output files."""
from __future__ import annotations

import math
import os
import re
import sys
from pathlib import Path
from typing import Any
from collections.abc import Sequence

from privib.compare.pareto import REFERENCE_ACC, REFERENCE_AUC, pareto_front
from privib.compare.table import ACCURACY_KEY, DP_WORST_KEYS, PROBE_KEY, WORST_KEY, CompareResult, threshold_name
from privib.models.release import describe_release
from privib.runs import keys

__all__ = ["column_title", "method_colors", "table_text_rows", "method_text_rows", "markdown_table", "plain_table", "markdown_report",
           "plot_pareto", "write_outputs", "summary_dict", "print_result"]

_SHORT_NAMES = {ACCURACY_KEY: "acc", PROBE_KEY: "probe acc", WORST_KEY: "worst AUC", DP_WORST_KEYS["head"]: "worst DP gap",
                keys.DOWNSTREAM_ACC: "protocol acc", DP_WORST_KEYS["downstream"]: "protocol worst DP",
                keys.TRANSFER_MEAN_ACC: "transfer acc", keys.TRANSFER_MEAN_BASE: "transfer base"}


# Matplotlib's ten cycle colours, then five more set apart from them (black is the frontier's).
_METHOD_COLORS = [f"C{i}" for i in range(10)] + ["navy", "gold", "lime", "magenta", "maroon"]


def method_colors(methods: Sequence[str]) -> dict[str, str]:
    """One distinct colour per method in plot order (the ten cycle colours wrap only past fifteen methods)."""
    return {m: _METHOD_COLORS[i % len(_METHOD_COLORS)] for i, m in enumerate(methods)}


def column_title(key: str) -> str:
    """Short column title: ``leakage/sex/auc_max`` -> ``sex AUC``."""
    if key in _SHORT_NAMES:
        return _SHORT_NAMES[key]
    if m := re.fullmatch(r"leakage/([^/]+)/auc_max", key):
        return f"{m.group(1)} AUC"
    if m := re.fullmatch(r"fairness/([^/]+)/dp_gap", key):
        return f"{m.group(1)} DP gap"
    if m := re.fullmatch(r"downstream/([^/]+)/dp_gap", key):
        return f"{m.group(1)} protocol DP"
    if m := re.fullmatch(r"robustness/([^/]+)/area", key):
        return f"{m.group(1)} area"
    return key


def _releases(result: CompareResult) -> list[str]:
    """The ``model.release`` values of the compared runs."""
    return sorted(set(result.runs["release"])) if "release" in result.runs else ["mean"]


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
    axis = threshold_name(result.x_key)
    header = ["method", "configs", "runs", *[f"best acc @ {axis.upper()}<={t:g}" for t in result.thresholds], "dominated area"]
    rows = []
    for _, row in result.methods.iterrows():
        cells = [str(row["method"]), str(row["configurations"]), str(row["runs"])]
        for t in result.thresholds:
            mean, std = row[f"best_acc@{axis}<={t:g}"], row[f"best_acc@{axis}<={t:g}_std"]
            cells.append(f"{_pm(mean, std)} ({row[f'best_config@{axis}<={t:g}']})" if not math.isnan(mean) else "—")
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
    low = 0.5 if result.x_key == WORST_KEY else 0.0
    parts = [
        "# privib compare", "",
        f"{len(result.runs)} finished run(s), {len(result.table)} configuration(s), mean ± std over seeds"
        + (f"; {result.skipped} unfinished run(s) skipped" if result.skipped else "") + ".",
        "`acc`: " + ("task head accuracy on the test split" if result.accuracy_key == ACCURACY_KEY else f"`{result.accuracy_key}`")
        + "; `<attr> AUC`: leakage, best fresh attacker's test AUC on "
        + {"released": "the representation each run releases (`model.release`; here "
                       + "; ".join(f"{r}: {describe_release(r)}" for r in _releases(result)) + ")",
           "mean": "the mean of q(z|x)", "sample": "one sample z ~ q(z|x)"}[result.leakage]
        + "; `worst AUC`: the maximum over "
        "attributes; `DP gap`: demographic-parity gap of the task head's predictions; `protocol acc` / `protocol DP`: "
        "the literature's downstream protocol (MLP with 50 hidden units x 5 seeds on the frozen codes); `transfer acc` / "
        "`transfer base`: mean accuracy on the held-out transfer tasks and their mean base rate; `<family> area`: area "
        "under the accuracy-vs-perturbation curve.", "",
        markdown_table(header, rows), "",
        "## Per method", "",
        f"Best accuracy among configurations whose mean {_axis_words(result)} is at most each threshold "
        f"(configuration in brackets), and the area of the ({threshold_name(result.x_key).upper()}, accuracy) region the "
        f"method's configurations dominate inside [{low:g}, {REFERENCE_AUC:g}] x [{REFERENCE_ACC:g}, 1] (larger is better, "
        f"at most {(REFERENCE_AUC - low) * (1 - REFERENCE_ACC):g}).", "",
        markdown_table(m_header, m_rows), "",
    ]
    if plot_name:
        parts += [f"![Pareto front]({plot_name})", ""]
    return "\n".join(parts)


def _axis_words(result: CompareResult) -> str:
    """The privacy axis in words: the worst-case leakage AUC, or whose worst demographic-parity gap."""
    if result.x_key == WORST_KEY:
        return "worst-case leakage AUC"
    whose = "the downstream protocol's" if result.fairness == "downstream" else "the task head's"
    return f"worst demographic-parity gap over attributes ({whose} predictions)"


def plot_pareto(result: CompareResult, path: str | os.PathLike[str], title: str | None = None) -> Path:
    """Task accuracy vs the privacy axis (worst-case leakage AUC, or the worst DP gap), one colour per method: fronts as
    lines, every configuration with error bars."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9.0, 5.2), dpi=130)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot(1, 1, 1)
    acc_col, leak_col = result.accuracy_key, result.x_key
    colors = method_colors(list(result.table["method"].drop_duplicates()))
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
            for index in front:  # each front point names its configuration
                label = str(group["label"][index]) if "label" in group else ""
                if label and label != "default":
                    ax.annotate(label, (x[index], y[index]), xytext=(4, 3), textcoords="offset points", fontsize=6,
                                color=color)
    for t in result.thresholds:
        ax.axvline(t, color="0.6", linestyle=":", linewidth=0.9)
        ax.annotate(f"{threshold_name(leak_col).upper()} <= {t:g}", (t, 1.0), xycoords=("data", "axes fraction"), xytext=(2, -10),
                    textcoords="offset points", fontsize=6, color="0.4", rotation=90, va="top")
    if leak_col == WORST_KEY:
        ax.axvline(0.5, color="0.3", linestyle="--", linewidth=0.9)
        attacked = {"released": "released z", "mean": "mean of q(z|x)", "sample": "sampled z"}[result.leakage]
        ax.set_xlabel(f"worst-case leakage AUC of the {attacked}\n(best fresh attacker, max over attributes; lower is more private)")
    else:
        ax.axvline(0.0, color="0.3", linestyle="--", linewidth=0.9)
        ax.set_xlabel(f"{_axis_words(result)}\n(test split; lower is fairer)")
    ax.set_ylabel({ACCURACY_KEY: "task accuracy (test)", keys.DOWNSTREAM_ACC: "downstream protocol accuracy (test)"}.get(acc_col, acc_col))
    ax.set_title(title or "privib: privacy-utility Pareto fronts (mean ± std over seeds)", fontsize=10)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:  # outside the axes: it never hides a point
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="front of", title_fontsize=8)
    else:
        ax.text(0.5, 0.5, "no run has both accuracy and privacy-axis figures\n(add the evaluate stage to the pipeline)",
                transform=ax.transAxes, ha="center", va="center", fontsize=9, color="0.4")
    return save_figure(figure, path)


def save_figure(figure: Any, path: str | os.PathLike[str]) -> Path:
    """Write a matplotlib figure as a PNG atomically (a temporary file, then a rename); returns the path."""
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
    """Flat per-method figures (``<method>/best_acc@auc<=0.6``, or ``@dp<=0.1`` on the DP axis) plus counts,
    for JSON and W&B summaries."""
    axis = threshold_name(result.x_key)
    out: dict[str, Any] = {"runs": int(len(result.runs)), "configurations": int(len(result.table)),
                           "skipped": int(result.skipped), "accuracy_key": result.accuracy_key, "x_key": result.x_key}
    for _, row in result.methods.iterrows():
        for t in result.thresholds:
            value = row[f"best_acc@{axis}<={t:g}"]
            out[f"{row['method']}/best_acc@{axis}<={t:g}"] = None if math.isnan(value) else float(value)
            out[f"{row['method']}/best_config@{axis}<={t:g}"] = row[f"best_config@{axis}<={t:g}"]
        out[f"{row['method']}/dominated_area"] = float(row["dominated_area"])
    return out


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
    if result.runs[result.x_key].isna().all():
        what = "leakage figures (leakage/<attr>/auc_max)" if result.x_key == WORST_KEY else (
            "downstream-protocol figures (downstream/<attr>/dp_gap)" if result.fairness == "downstream"
            else "DP gaps (fairness/<attr>/dp_gap)")
        print(f"note: no run has {what}: run the evaluate stage "
              "(privib evaluate RUN, or list it in the pipeline) to get the Pareto front", file=stream)
