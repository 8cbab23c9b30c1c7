"""A benchmark as people read it: per data set a Markdown table, a CSV and a two-panel plot, and an index.

``write_benchmark(benchmarks, out_dir)`` writes ``<data set>.md``, ``<data set>.csv`` and
``<data set>.png`` for each data set and ``index.md`` linking them, keeping the rows of data sets an
earlier write left in the folder (a folder's hand-written ``README.md`` is never touched).
"""
from __future__ import annotations

import math
import os
import re
import sys
import time
from pathlib import Path
from typing import Any
from collections.abc import Sequence

from privib.compare.benchmark import AXES, FRONTIER_METHOD, DatasetBenchmark
from privib.compare.pareto import REFERENCE_ACC, REFERENCE_AUC, pareto_front
from privib.compare.render import column_title, markdown_table, method_colors, plain_table, save_figure
from privib.compare.table import WORST_KEY
from privib.runs import keys

__all__ = ["cell", "best_rows", "benchmark_markdown", "plot_benchmark", "write_benchmark", "file_stem", "print_benchmark"]

_AXIS_TITLE = {"auc": "AUC", "dp": "DP"}


def file_stem(name: str) -> str:
    """A data set name as a file name (letters, digits, '_', '.', '-')."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "data"


def cell(mean: float, std: float, n: int, signed: bool = False) -> str:
    """``0.842 ± 0.003``, ``0.842 (n=1)`` with one seed, ``—`` when there is no figure."""
    if mean is None or math.isnan(mean):
        return "—"
    text = f"{mean:+.3f}" if signed else f"{mean:.3f}"
    if n <= 1:
        return f"{text} (n=1)"
    return f"{text} ± {std:.3f}" if not math.isnan(std) else text


def best_rows(values: Sequence[float], tolerance: float = 5e-4) -> set[int]:
    """Indices of the best (largest) values, ties within ``tolerance`` (half the shown precision) included."""
    finite = [v for v in values if v is not None and not math.isnan(v)]
    if not finite:
        return set()
    top = max(finite)
    return {i for i, v in enumerate(values) if v is not None and not math.isnan(v) and v >= top - tolerance}


def _column(table: Any, key: str) -> list[float]:
    return [float(v) for v in table[key]] if key in table else [math.nan] * len(table)


def _threshold_columns(bench: DatasetBenchmark) -> list[tuple[str, float]]:
    return [(axis, t) for axis in AXES for t in bench.result(axis).thresholds]


def _bold(text: str, on: bool) -> str:
    return f"**{text}**" if on and text != "—" else text


def _accuracy_rows(bench: DatasetBenchmark) -> tuple[list[str], list[list[str]]]:
    table = bench.table
    header = ["method", "configs", "seeds"]
    columns: list[list[str]] = [list(table["method"]), [str(v) for v in table["configurations"]],
                                [str(v) for v in table["seeds_per_config"]]]
    for axis in AXES:
        result = bench.result(axis)
        word = "acc" if axis == "auc" else "protocol acc"
        for t in result.thresholds:
            key = f"acc@{axis}<={t:g}"
            means, best = _column(table, key), best_rows(_column(table, key))
            header.append(f"{word} @ {_AXIS_TITLE[axis]} ≤ {t:g}")
            columns.append([_bold(cell(m, s, n), i in best) for i, (m, s, n) in
                            enumerate(zip(means, _column(table, key + "_std"), table[key + "_n"]))])
        areas = _column(table, f"area@{axis}")
        best = best_rows(areas, tolerance=5e-5)
        header.append(f"area ({_AXIS_TITLE[axis]})")
        columns.append([_bold(f"{a:.4f}", i in best) for i, a in enumerate(areas)])
    return header, [list(r) for r in zip(*columns)]


def _transfer_rows(bench: DatasetBenchmark) -> tuple[list[str], list[list[str]]] | None:
    table = bench.table
    pairs = _threshold_columns(bench)
    if keys.TRANSFER_MEAN_ACC not in bench.leakage.runs or bench.leakage.runs[keys.TRANSFER_MEAN_ACC].isna().all():
        return None
    header = ["method", *[f"@ {_AXIS_TITLE[a]} ≤ {t:g}" for a, t in pairs]]
    columns: list[list[str]] = [list(table["method"])]
    for axis, t in pairs:
        key = f"transfer_gain@{axis}<={t:g}"
        means, best = _column(table, key), best_rows(_column(table, key))
        columns.append([_bold(cell(m, s, n, signed=True), i in best) for i, (m, s, n) in
                        enumerate(zip(means, _column(table, key + "_std"), table[f"acc@{axis}<={t:g}_n"]))])
    return header, [list(r) for r in zip(*columns)]


def _config_rows(bench: DatasetBenchmark) -> tuple[list[str], list[list[str]]]:
    pairs = _threshold_columns(bench)
    header = ["method", *[f"@ {_AXIS_TITLE[a]} ≤ {t:g}" for a, t in pairs]]
    rows = []
    for _, row in bench.table.iterrows():
        rows.append([str(row["method"]), *[str(row.get(f"config@{a}<={t:g}") or "—") for a, t in pairs]])
    return header, rows


def benchmark_markdown(bench: DatasetBenchmark, plot_name: str | None) -> str:
    """The Markdown page of one data set: the accuracy table, transfer above base rate, the chosen configurations."""
    leak, fair = bench.leakage, bench.fairness
    runs = len(leak.runs)
    header, rows = _accuracy_rows(bench)
    parts = [
        f"# Benchmark: {bench.name}", "",
        f"{runs} finished run(s) of {len(bench.table)} method(s); every figure is the mean ± std over seeds of one "
        "configuration (std omitted where a configuration has one seed: `(n=1)`); **bold**: the best of the column, "
        "baselines included. Written on "
        f"{time.strftime('%Y-%m-%d')} from {', '.join(leak.sources) or 'the given runs'}.", "",
        "## Best accuracy within each privacy budget", "",
        f"`acc @ AUC ≤ t`: the best seed-mean accuracy (`{leak.accuracy_key}`: "
        + ("the best fresh task probe on the frozen released codes" if leak.accuracy_key.startswith("task/probe/")
           else column_title(leak.accuracy_key))
        + f") among the method's configurations whose seed-mean worst leakage AUC (`{WORST_KEY}`, the best fresh "
        "attacker, max over attributes) is at most t. `protocol acc @ DP ≤ t`: the same with the downstream protocol "
        f"(`{fair.accuracy_key}`: an MLP with 50 hidden units on the frozen codes, the mean of "
        "`evaluation.downstream_seeds` fits, 5 by default) and its worst "
        "demographic-parity gap. `area`: the region of (privacy figure, accuracy) the method's configurations dominate, "
        f"inside [0.5, {REFERENCE_AUC:g}] x [{REFERENCE_ACC:g}, 1] for AUC (at most 0.25) and [0, 1] x [{REFERENCE_ACC:g}, 1] "
        "for DP (at most 0.5); larger is better. `—`: no configuration is within the budget.", "",
        markdown_table(header, rows), "",
    ]
    transfer = _transfer_rows(bench)
    if transfer:
        parts += ["## Transfer accuracy above base rate at those points", "",
                  "Mean over the held-out transfer tasks of the best fresh probe's accuracy minus the task's base rate "
                  "(`transfer/mean/acc - transfer/mean/base`), per seed, of the configuration chosen in each column "
                  "above: what the release offers beyond its trained task.", "",
                  markdown_table(*transfer), ""]
    else:
        parts += ["No run of this data set has transfer tasks (`data.transfer`), so there is no transfer table.", ""]
    parts += ["## The configuration chosen in each column", "", markdown_table(*_config_rows(bench)), ""]
    if plot_name:
        parts += [f"![{bench.name}: fronts]({plot_name})", ""]
    return "\n".join(parts)


def _draw_axis(ax: Any, result: Any, colors: dict[str, str]) -> None:
    acc, x_key = result.accuracy_key, result.x_key
    for method, group in result.table.groupby("method", sort=False):
        group = group.reset_index(drop=True)
        x, y = group[f"{x_key}_mean"].to_numpy(float), group[f"{acc}_mean"].to_numpy(float)
        xerr, yerr = group[f"{x_key}_std"].fillna(0).to_numpy(float), group[f"{acc}_std"].fillna(0).to_numpy(float)
        front = pareto_front(x, y)
        if method == FRONTIER_METHOD:
            ax.plot(x, y, "o", color="black", alpha=0.3, markersize=3)
            if front:
                ax.plot(x[front], y[front], "-", marker="o", markersize=3.5, color="black", linewidth=2.2,
                        label=f"{method} frontier")
            continue
        color = colors[method]
        ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="o", color=color, alpha=0.3, markersize=3.5, capsize=2, linewidth=0.7)
        if front:
            ax.errorbar(x[front], y[front], xerr=xerr[front], yerr=yerr[front], fmt="-o", color=color, markersize=5,
                        capsize=2.5, linewidth=1.5, label=method)
    for t in result.thresholds:
        ax.axvline(t, color="0.6", linestyle=":", linewidth=0.9)
    ax.grid(alpha=0.3)


def plot_benchmark(bench: DatasetBenchmark, path: str | os.PathLike[str]) -> Path:
    """Two panels: accuracy vs worst leakage AUC, protocol accuracy vs protocol DP gap; each method's front as
    markers and lines (every configuration faint, with error bars over seeds), the fair_predict frontier as a line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(13.0, 5.0), dpi=120)
    FigureCanvasAgg(figure)
    methods = [m for m in bench.table["method"] if m != FRONTIER_METHOD]
    colors = method_colors(methods)
    left, right = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    _draw_axis(left, bench.leakage, colors)
    left.axvline(0.5, color="0.3", linestyle="--", linewidth=0.9)
    left.set_xlabel("worst leakage AUC (best fresh attacker; lower is more private)")
    left.set_ylabel("task accuracy (best fresh probe)" if bench.leakage.accuracy_key.startswith("task/probe/")
                    else bench.leakage.accuracy_key)
    _draw_axis(right, bench.fairness, colors)
    right.axvline(0.0, color="0.3", linestyle="--", linewidth=0.9)
    right.set_xlabel("worst DP gap of the downstream protocol (lower is fairer)")
    right.set_ylabel("downstream protocol accuracy")
    handles: dict[str, Any] = {}
    for ax in (left, right):
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    if handles:
        right.legend(list(handles.values()), list(handles), fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                     title="front of", title_fontsize=8)
    figure.suptitle(f"privib benchmark, {bench.name}: fronts per method (mean ± std over seeds)", fontsize=11)
    return save_figure(figure, path)


_INDEX_HEADER = ["| data set | runs | methods | table | data | from |", "| --- | --- | --- | --- | --- | --- |"]


def write_benchmark(benchmarks: Sequence[DatasetBenchmark], out_dir: str | os.PathLike[str], plot: bool = True,
                    command: str | None = None) -> dict[str, Path]:
    """Write ``<data set>.md/.csv/.png`` per data set and ``index.md``; returns the paths by name.

    ``index.md`` gets one row per data set written here, saying which runs and command it came from and
    when; the rows of data sets an earlier write put in this folder stay while their table is still there,
    so benchmarks of several run folders can share one folder.
    """
    from privib.io import write_text_atomic

    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    rows: dict[str, str] = {}
    for bench in benchmarks:
        stem = file_stem(bench.name)
        paths[f"{stem}.csv"] = out / f"{stem}.csv"
        write_text_atomic(paths[f"{stem}.csv"], bench.table.to_csv(index=False))
        if plot:
            paths[f"{stem}.png"] = plot_benchmark(bench, out / f"{stem}.png")
        paths[f"{stem}.md"] = out / f"{stem}.md"
        write_text_atomic(paths[f"{stem}.md"], benchmark_markdown(bench, f"{stem}.png" if plot else None))
        origin = ", ".join(bench.leakage.sources) or "the given runs"
        origin += f" (`{command}`)" if command else ""
        rows[stem] = (f"| {bench.name} | {len(bench.leakage.runs)} | {len(bench.table)} | [{stem}.md]({stem}.md) | "
                      f"[{stem}.csv]({stem}.csv) | {origin}, {time.strftime('%Y-%m-%d')} |")
    kept = {stem: row for stem, row in _earlier_index_rows(out / "index.md").items() if stem not in rows}
    lines = ["# privib benchmark: results", "",
             "Per data set, per method: the best accuracy within each leakage-AUC and DP-gap budget, the transfer "
             "accuracy above base rate there, and the dominated area. What the columns mean and how to run it: "
             "[README.md](README.md) beside this file (in a checkout: docs/benchmark/README.md).", "",
             "Each row was written by `privib compare --benchmark` or `privib sweep` from the run folder it names; a "
             "later write into this folder replaces the rows of its data sets and keeps the others.", "",
             *_INDEX_HEADER, *(row for _, row in sorted({**kept, **rows}.items()))]
    paths["index"] = out / "index.md"
    write_text_atomic(paths["index"], "\n".join(lines) + "\n")
    return paths


def _earlier_index_rows(index: Path) -> dict[str, str]:
    """The data-set rows of an ``index.md`` written here before, by file stem, whose table is still beside it."""
    if not index.is_file():
        return {}
    rows: dict[str, str] = {}
    for line in index.read_text(encoding="utf-8", errors="replace").splitlines():
        match = re.match(r"\| [^|]+ \| [^|]+ \| [^|]+ \| \[([A-Za-z0-9_.-]+)\.md\]\(\1\.md\) \|", line)
        if match and (index.parent / f"{match.group(1)}.md").is_file():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows[match.group(1)] = line if len(cells) == 6 else "| " + " | ".join([*cells[:5], "an earlier write"]) + " |"
    return rows


def print_benchmark(benchmarks: Sequence[DatasetBenchmark], paths: dict[str, Path], stream: Any = None) -> None:
    """Each data set's accuracy table (bold as ``*``), for the terminal, then the files written."""
    stream = stream or sys.stdout
    for bench in benchmarks:
        header, rows = _accuracy_rows(bench)
        print(f"{bench.name}: {len(bench.leakage.runs)} runs", file=stream)
        print(plain_table(header, [[c.replace("**", "*") for c in row] for row in rows]), file=stream)
        print(file=stream)
    print("wrote " + ", ".join(str(p) for p in paths.values()), file=stream)
