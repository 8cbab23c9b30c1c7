"""The report's PNG figures: leakage per attacker, robustness curves, the information plane (matplotlib, Agg)."""
from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

from privib.evaluation.rows import REPRESENTATIONS, attacker_rows, robustness_curves
from privib.io import write_bytes_atomic
from privib.runs import keys

__all__ = ["leakage_figure", "robustness_figure", "info_plane_figure"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return write_bytes_atomic(path, buffer.getvalue())


def leakage_figure(metrics: dict[str, float], path: Path, order: list[str] | None = None,
                   release: str = "mean") -> Path | None:
    """Per attribute: AUC of each attacker on the mean, a sample and the raw features; chance at 0.5."""
    rows = attacker_rows(metrics, order, release)
    attributes = keys.attributes(metrics)
    if not rows:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(attributes), figsize=(6.0 * len(attributes), 1.6 + 0.6 * _n_attackers(rows)),
                             squeeze=False)
    colors = {"mean": "tab:blue", "sample": "tab:orange", "raw": "tab:gray"}
    labels = {"mean": "z = mean of q(z|x)", "sample": "z ~ q(z|x), one sample", "raw": "raw features"}
    if release == "cells":
        labels["mean"] = "one-hot cell"
    labels[release if release in labels else "mean"] += " (released)"
    released = release if release in colors else "mean"
    for ax, attribute in zip(axes[0], attributes):
        mine = [r for r in rows if r["attribute"] == attribute]
        names = list(dict.fromkeys(r["attacker"] for r in mine))
        height = 0.8 / len(REPRESENTATIONS)
        for j, representation in enumerate(REPRESENTATIONS):
            values = {r["attacker"]: r["auc"] for r in mine if r["representation"] == representation}
            if not values:
                continue
            ys = [i + (j - 1) * height for i in range(len(names))]
            mark = representation == released
            ax.barh(ys, [values.get(n, math.nan) for n in names], height=height, color=colors[representation],
                    label=labels[representation], edgecolor="black" if mark else "none", linewidth=1.0 if mark else 0)
        lo, hi = metrics.get(f"leakage/{attribute}/auc_max_lo"), metrics.get(f"leakage/{attribute}/auc_max_hi")
        if lo is not None and hi is not None:
            ax.axvspan(lo, hi, color=colors[released], alpha=0.15, label="95% interval of the headline (released)")
        ax.axvline(0.5, color="black", linestyle="--", linewidth=1, label="chance (0.5)")
        ax.set_yticks(range(len(names)), names)
        ax.invert_yaxis()
        ax.set_xlim(0.4, 1.0)
        ax.set_xlabel(f"attacker AUC for {attribute} (test split)")
        ax.set_title(f"leakage of {attribute}: worst-case AUC {metrics[f'leakage/{attribute}/auc_max']:.3f}")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=3, fontsize=7, frameon=False)
    return _save(fig, path)


def _n_attackers(rows: list[dict[str, Any]]) -> int:
    return max(1, len({r["attacker"] for r in rows}))


def robustness_figure(metrics: dict[str, float], path: Path, families: list[str] | None = None) -> Path | None:
    """One column per family: task accuracy, leakage AUC (clean-fitted attackers) and drift against the level."""
    curves = robustness_curves(metrics, families)
    if not curves:
        return None
    plt = _pyplot()
    rows = [("acc", "task accuracy"), ("leak_auc", "leakage AUC (max)"), ("drift", "mean drift of z")]
    fig, axes = plt.subplots(len(rows), len(curves), figsize=(3.0 * len(curves) + 0.8, 7.0), squeeze=False,
                             sharey="row", layout="constrained")
    for c, (family, series) in enumerate(curves.items()):
        for r, (name, label) in enumerate(rows):
            ax = axes[r][c]
            points = series.get(name, [])
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], marker="o")
            if name == "leak_auc":
                ax.axhline(0.5, color="black", linestyle="--", linewidth=1)
            if r == 0:
                area = metrics.get(f"robustness/{family}/area")
                ax.set_title(f"{family}" + (f" (area {area:.3f})" if area is not None else ""))
            if r == len(rows) - 1:
                ax.set_xlabel("rate" if family in ("corruption", "masking") else
                              "noise std" if family == "noise" else "L-inf radius")
            if c == 0:
                ax.set_ylabel(label)
            ax.grid(alpha=0.3)
    return _save(fig, path)


def info_plane_figure(history: list[dict[str, Any]], path: Path, best_epoch: float | None = None) -> Path | None:
    """Bounds over epochs (validation solid, training dotted) and the plane I(Z;Y) against I(X;Z).

    Epochs are counted from 1 (as in history.json); the best checkpoint's epoch is marked.
    """
    rows = [r for r in history if "val/info/rate_bits" in r]
    if not rows:
        return None
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, (rate_ax, bound_ax, plane_ax) = plt.subplots(1, 3, figsize=(15, 4.6), layout="constrained")
    epochs = [r["epoch"] for r in rows]

    def curve(ax: Any, key: str, label: str) -> None:
        line, = ax.plot(epochs, [r.get(key, math.nan) for r in rows], label=label)
        train_key = "train/" + key[len("val/"):]
        if any(train_key in r for r in rows):
            ax.plot(epochs, [r.get(train_key, math.nan) for r in rows], linestyle=":", color=line.get_color())

    curve(rate_ax, "val/info/rate_bits", "rate KL (upper bound on I(X;Z))")
    curve(bound_ax, "val/info/izy_lb_bits", "H(Y) - CE_task (lower bound on I(Z;Y))")
    for key in (k for k in rows[-1] if k.startswith("val/info/izs_lb_bits/")):
        attribute = key.rsplit("/", 1)[-1]
        curve(bound_ax, key, f"H({attribute}) - CE_adv (lower bound on I(Z;{attribute}), training adversary)")
    for ax, title in ((rate_ax, "rate, bits"), (bound_ax, "lower bounds, bits")):
        if best_epoch is not None:
            ax.axvline(best_epoch, color="gray", linestyle="--", linewidth=1, label="best checkpoint")
        ax.set_xlabel("epoch (validation solid, training dotted)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers, counted from 1
        ax.set_title(title)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False)
        ax.grid(alpha=0.3)
    rates = [r["val/info/rate_bits"] for r in rows]
    bounds = [r.get("val/info/izy_lb_bits", math.nan) for r in rows]
    plane_ax.plot(rates, bounds, color="lightgray", linewidth=1, zorder=1)  # the path through the epochs
    points = plane_ax.scatter(rates, bounds, c=epochs, cmap="viridis", zorder=2)
    fig.colorbar(points, ax=plane_ax, label="epoch", ticks=MaxNLocator(integer=True))
    if best_epoch is not None and best_epoch in epochs:
        best = epochs.index(best_epoch)
        plane_ax.scatter([rates[best]], [bounds[best]], s=160, facecolors="none", edgecolors="red", linewidths=1.5,
                         zorder=3, label=f"best checkpoint (epoch {int(best_epoch)})")
        plane_ax.legend(fontsize=7, loc="lower right")
    plane_ax.set_xlabel("rate KL, bits (upper bound on I(X;Z))")
    plane_ax.set_ylabel("lower bound on I(Z;Y), bits")
    plane_ax.set_title("information plane (validation)")
    plane_ax.grid(alpha=0.3)
    return _save(fig, path)
