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
    labels = {"mean": "z = mean of q(z|x)", "sample": "z ~ q(z|x)", "raw": "raw features"}
    for ax, attribute in zip(axes[0], attributes):
        mine = [r for r in rows if r["attribute"] == attribute]
        names = list(dict.fromkeys(r["attacker"] for r in mine))
        height = 0.8 / len(REPRESENTATIONS)
        for j, representation in enumerate(REPRESENTATIONS):
            values = {r["attacker"]: r["auc"] for r in mine if r["representation"] == representation}
            if not values:
                continue
            ys = [i + (j - 1) * height for i in range(len(names))]
            ax.barh(ys, [values.get(n, math.nan) for n in names], height=height, color=colors[representation],
                    label=labels[representation])
        lo, hi = metrics.get(f"leakage/{attribute}/auc_max_lo"), metrics.get(f"leakage/{attribute}/auc_max_hi")
        if lo is not None and hi is not None:
            ax.axvspan(lo, hi, color="tab:blue", alpha=0.15, label="95% interval of max (mean)")
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

    Epochs are shown 1-based; the best checkpoint's epoch is marked.
    """
    rows = [r for r in history if "val/info/rate_bits" in r]
    if not rows:
        return None
    plt = _pyplot()
    fig, (rate_ax, bound_ax, plane_ax) = plt.subplots(1, 3, figsize=(15, 4.6), layout="constrained")
    epochs = [r["epoch"] + 1 for r in rows]

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
            ax.axvline(best_epoch + 1, color="gray", linestyle="--", linewidth=1, label="best checkpoint")
        ax.set_xlabel("epoch (validation solid, training dotted)")
        ax.set_title(title)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False)
        ax.grid(alpha=0.3)
    points = plane_ax.scatter([r["val/info/rate_bits"] for r in rows], [r.get("val/info/izy_lb_bits", math.nan) for r in rows],
                              c=epochs, cmap="viridis")
    fig.colorbar(points, ax=plane_ax, label="epoch")
    plane_ax.set_xlabel("rate KL, bits (upper bound on I(X;Z))")
    plane_ax.set_ylabel("lower bound on I(Z;Y), bits")
    plane_ax.set_title("information plane (validation)")
    plane_ax.grid(alpha=0.3)
    return _save(fig, path)
