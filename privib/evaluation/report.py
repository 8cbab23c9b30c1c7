"""The ``report`` stage: ``report.md`` and PNG figures in the run folder, and the same figures in W&B.

It reads only the run folder: ``metrics.json`` (written by the earlier stages),
``history.json`` (per-epoch figures) and ``config.yaml``. Figures go to ``figures/``;
every file is written atomically. matplotlib is imported lazily, with the Agg backend.
"""
from __future__ import annotations

import io
import math
import time
from pathlib import Path
from typing import Any

from privib.io import read_json, write_bytes_atomic, write_text_atomic
from privib.pipeline.context import RunContext
from privib.pipeline.runs import RunFolder
from privib.pipeline.stages import stage

__all__ = ["report_stage", "write_report", "attacker_rows", "robustness_curves", "log_report_to_wandb"]

FIGURES = "figures"
REPRESENTATIONS = ("mean", "sample", "raw")


@stage("report")
def report_stage(ctx: RunContext) -> dict[str, float]:
    """Write report.md and figures/*.png; log the figures and the attacker table to W&B when it is on."""
    metrics = ctx.folder.metrics()
    figures = write_report(ctx.folder, ctx.config, metrics)
    if ctx.logger is not None:
        log_report_to_wandb(ctx.logger.experiment, metrics, figures, release_of(ctx.config))
    return {}


# --------------------------------------------------------------------------- parsing metrics
def attributes_of(metrics: dict[str, float]) -> list[str]:
    """Sensitive attributes with a leakage headline, in first-seen order."""
    out: list[str] = []
    for key in metrics:
        parts = key.split("/")
        if len(parts) == 3 and parts[0] == "leakage" and parts[2] == "auc_max" and parts[1] not in out:
            out.append(parts[1])
    return out


def attacker_rows(metrics: dict[str, float], order: list[str] | None = None,
                  release: str = "mean") -> list[dict[str, Any]]:
    """One row per (attribute, representation, attacker): acc, bacc, auc (missing values are nan).

    Attackers named in ``order`` come first, in that order.
    """
    rows: list[dict[str, Any]] = []
    for attribute in attributes_of(metrics):
        prefix = f"leakage/{attribute}/"
        for key in metrics:
            if not (key.startswith(prefix) and key.endswith("/auc")):
                continue
            middle = key[len(prefix) : -len("/auc")]
            representation, name = release, middle
            if middle.startswith(("mean/", "sample/", "raw/")):
                representation, name = middle.split("/", 1)
            base = prefix + ("" if representation == release else representation + "/") + name
            rows.append({
                "attribute": attribute, "representation": representation, "attacker": name,
                "acc": metrics.get(base + "/acc", math.nan), "bacc": metrics.get(base + "/bacc", math.nan),
                "auc": metrics[key],
            })
    rank = {name: i for i, name in enumerate(order or [])}
    return sorted(rows, key=lambda r: (attributes_of(metrics).index(r["attribute"]),
                                       rank.get(r["attacker"], len(rank)), r["attacker"]))


def _ordered(names: list[str], preferred: list[str]) -> list[str]:
    """``names`` with those in ``preferred`` first, in that order."""
    return [n for n in preferred if n in names] + [n for n in names if n not in preferred]


def _config_order(config: dict[str, Any] | None, key: str = "attackers") -> tuple[list[str], list[str]]:
    """Attacker (or probe) names and robustness families in the order the evaluation config lists them."""
    section = (config or {}).get("evaluation") or {}
    names = [str(a.get("name", "")) for a in section.get(key) or [] if isinstance(a, dict)]
    families = list(section.get("robustness") or {})
    return names, families


def robustness_curves(metrics: dict[str, float], families: list[str] | None = None
                      ) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """``{family: {"acc"|"leak_auc"|"drift": [(level, value), ...] sorted by level}}``, families in ``families`` order."""
    curves: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for key, value in metrics.items():
        parts = key.split("/")
        if len(parts) != 4 or parts[0] != "robustness":
            continue
        try:
            level = float(parts[2])
        except ValueError:
            continue
        curves.setdefault(parts[1], {}).setdefault(parts[3], []).append((level, float(value)))
    for family in curves.values():
        for points in family.values():
            points.sort()
    return {f: curves[f] for f in _ordered(list(curves), families or [])}


# --------------------------------------------------------------------------- figures
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
    attributes = attributes_of(metrics)
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


# --------------------------------------------------------------------------- report.md
def _f(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def _epoch(value: Any) -> str:
    """A 0-based epoch index shown 1-based, as people count epochs."""
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else str(int(value) + 1)


def _interval(metrics: dict[str, float], key: str) -> str:
    value = metrics.get(key)
    lo, hi = metrics.get(key + "_lo"), metrics.get(key + "_hi")
    if value is None:
        return "–"
    return f"{_f(value)} [{_f(lo)}, {_f(hi)}]" if lo is not None and hi is not None else _f(value)


def release_of(config: dict[str, Any] | None) -> str:
    """The representation the run releases (``model.release``; ``mean`` for older runs)."""
    return str(((config or {}).get("model") or {}).get("release", "mean"))


def _best_attacker(rows: list[dict[str, Any]], attribute: str, representation: str) -> str:
    mine = [r for r in rows if r["attribute"] == attribute and r["representation"] == representation
            and not math.isnan(r["auc"])]
    return max(mine, key=lambda r: r["auc"])["attacker"] if mine else "–"


def _describe_model(config: dict[str, Any]) -> str:
    model = config.get("model", {})
    if model.get("deterministic") and not model.get("adv_weight"):
        kind = "plain MLP (deterministic, no adversary)"
    elif model.get("deterministic"):
        kind = f"deterministic encoder with adversary (lambda={model.get('adv_weight')})"
    else:
        kind = f"VIB (beta={model.get('beta')}, lambda={model.get('adv_weight')}, {model.get('adv_mode')})"
    return f"{kind}, z_dim={model.get('z_dim')}"


def render_markdown(folder: RunFolder, config: dict[str, Any], metrics: dict[str, float],
                    figures: dict[str, Path]) -> str:
    """The text of report.md."""
    order, families = _config_order(config)
    rows = attacker_rows(metrics, order, release_of(config))
    attributes = attributes_of(metrics)
    data = config.get("data", {})
    m = metrics
    lines = [f"# privib report: {folder.path.name}", ""]
    timings_path = folder.path / "timings.json"
    timings = read_json(timings_path) if timings_path.is_file() else {}
    fit_s, eval_s = timings.get("stage/fit_s"), timings.get("stage/evaluate_s")
    lines += [
        f"Dataset `{data.get('name')}`, sensitive {', '.join(f'`{a}`' for a in attributes) or '–'}; "
        f"model: {_describe_model(config)}; best checkpoint: epoch {_epoch(m.get('fit/best_epoch'))} of "
        f"{_f(m.get('fit/epochs'), 0)}. All figures are on the test split; attackers and probes were fitted on "
        "frozen train-split representations.",
        "",
        "## Summary",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| task accuracy, trained head | {_f(m.get('task/test/acc'))} (balanced {_f(m.get('task/test/bacc'))}, "
        f"AUC {_f(m.get('task/test/auc'))}) |",
        f"| task accuracy, best fresh probe on z | {_f(m.get('task/probe/acc_max'))} "
        f"(raw features: {_f(m.get('task/probe/raw_acc_max'))}) |",
    ]
    same = " (deterministic encoder: the sample is the mean)" if config.get("model", {}).get("deterministic") else ""
    release = release_of(config)
    other = "sample" if release == "mean" else "mean"
    describe = {"mean": "z = mean of q(z\\|x)", "sample": "z ~ q(z\\|x), one sample"}
    for a in attributes:
        best = _best_attacker(rows, a, release)
        lines += [
            f"| **{a} leakage: worst-case attacker AUC** (released {describe[release]}, 95% interval) | "
            f"**{_interval(m, f'leakage/{a}/auc_max')}** ({best}) |",
            f"| {a} leakage, {describe[other]} (not released) | {_interval(m, f'leakage/{a}/{other}/auc_max')}{same} |",
            f"| {a} leakage, raw features (reference) | {_interval(m, f'leakage/{a}/raw_auc_max')} |",
            f"| {a}: best attacker accuracy / majority baseline | {_f(m.get(f'leakage/{a}/acc_max'))} / "
            f"{_f(m.get(f'leakage/{a}/majority'))} |",
            f"| {a}: lower bound on I(Z;{a}) | {_f(m.get(f'leakage/{a}/mi_bits_lb'))} bits |",
            f"| {a}: demographic-parity gap / equalized-odds gap of the head | {_f(m.get(f'fairness/{a}/dp_gap'))} / "
            f"{_f(m.get(f'fairness/{a}/eo_gap'))} |",
        ]
    curves = robustness_curves(m, families)
    if curves:
        areas = ", ".join(f"{fam} {_f(m.get(f'robustness/{fam}/area'))}" for fam in curves)
        lines.append(f"| robustness: normalized area under accuracy vs level | {areas} |")
    if eval_s is not None:
        ratio = f" = {eval_s / fit_s:.2f} x fit ({fit_s:.1f} s)" if fit_s else ""
        lines.append(f"| evaluation stage time | {eval_s:.1f} s{ratio} |")
    lines.append("")

    for a in attributes:
        lines += [f"## Leakage of `{a}` per attacker", "",
                  f"| attacker | acc | bacc | AUC (released: z {release}) | AUC (z {other}) | AUC (raw features) |",
                  "| --- | --- | --- | --- | --- | --- |"]
        mine = [r for r in rows if r["attribute"] == a]
        by = {(r["representation"], r["attacker"]): r for r in mine}
        for name in dict.fromkeys(r["attacker"] for r in mine):
            released = by.get((release, name), {})
            lines.append(
                f"| {name} | {_f(released.get('acc'))} | {_f(released.get('bacc'))} | {_f(released.get('auc'))} | "
                f"{_f(by.get((other, name), {}).get('auc'))} | {_f(by.get(('raw', name), {}).get('auc'))} |"
            )
        lines += [f"| majority baseline | {_f(m.get(f'leakage/{a}/majority'))} | 0.500 | 0.500 | 0.500 | 0.500 |", ""]

    probes = _ordered([k[len("task/probe/"):-len("/acc")] for k in m if k.startswith("task/probe/")
                       and k.endswith("/acc") and not k.startswith("task/probe/raw/")], _config_order(config, "probes")[0])
    if probes:
        lines += ["## Task probes", "", f"| probe | acc (released z {release}) | acc (raw features) |", "| --- | --- | --- |"]
        lines += [f"| {p} | {_f(m.get(f'task/probe/{p}/acc'))} | {_f(m.get(f'task/probe/raw/{p}/acc'))} |" for p in probes]
        lines.append("")

    if curves:
        lines += ["## Robustness", "",
                  "Perturbations of the test inputs; leakage is scored by the attackers fitted on clean codes, "
                  "drift is the mean Euclidean distance between clean and perturbed means of q(z|x). "
                  "FGSM / PGD move numeric features only (categorical one-hots held fixed) against the task head, "
                  "with gradients averaged over samples of z.", "",
                  "| family | level | acc | leak AUC | drift |", "| --- | --- | --- | --- | --- |"]
        for fam, series in curves.items():
            drift = dict(series.get("drift", []))
            leak = dict(series.get("leak_auc", []))
            for level, acc in series.get("acc", []):
                lines.append(f"| {fam} | {level:g} | {_f(acc)} | {_f(leak.get(level))} | {_f(drift.get(level))} |")
        lines.append("")

    if "info/rate_bits" in m:
        lines += ["## Information plane", "",
                  "Validation split, in bits: the rate KL bounds I(X;Z) from above, H(Y) - CE_task bounds I(Z;Y) from "
                  "below, H(S) - CE_adv bounds I(Z;S) from below with the training-time adversary (a weaker attacker "
                  "than the audit above: compare `leakage/<attr>/mi_bits_lb`).", "",
                  "| epoch | rate | I(Z;Y) >= | " + " | ".join(f"I(Z;{a}) >=" for a in attributes) + " |",
                  "| --- | --- | --- | " + " | ".join("---" for _ in attributes) + " |"]
        for label, prefix in (("final", "info/"), ("best checkpoint", "info/best/")):
            if f"{prefix}rate_bits" in m:
                lines.append(
                    f"| {label} ({_epoch(m.get(f'{prefix}epoch'))}) | {_f(m.get(f'{prefix}rate_bits'))} | "
                    f"{_f(m.get(f'{prefix}izy_lb_bits'))} | "
                    + " | ".join(_f(m.get(f"{prefix}izs_lb_bits/{a}")) for a in attributes) + " |")
        lines.append("")

    if figures:
        lines += ["## Figures", ""]
        lines += [f"![{name}]({path.relative_to(folder.path).as_posix()})" for name, path in figures.items()]
        lines.append("")
    lines += [f"_Written {time.strftime('%Y-%m-%d %H:%M:%S')} by privib from metrics.json, history.json and config.yaml._", ""]
    return "\n".join(lines)


def write_report(folder: RunFolder, config: dict[str, Any], metrics: dict[str, float] | None = None) -> dict[str, Path]:
    """Write figures/*.png and report.md (atomically); return the figures written, by name."""
    metrics = folder.metrics() if metrics is None else metrics
    history_path = folder.path / "history.json"
    history = read_json(history_path) if history_path.is_file() else []
    target = folder.path / FIGURES
    order, families = _config_order(config)
    figures: dict[str, Path] = {}
    for name, make in (("leakage", lambda p: leakage_figure(metrics, p, order, release_of(config))),
                       ("robustness", lambda p: robustness_figure(metrics, p, families)),
                       ("info_plane", lambda p: info_plane_figure(history, p, metrics.get("fit/best_epoch")))):
        written = make(target / f"{name}.png")
        if written is not None:
            figures[name] = written
    write_text_atomic(folder.path / "report.md", render_markdown(folder, config, metrics, figures))
    return figures


def log_report_to_wandb(run: Any, metrics: dict[str, float], figures: dict[str, Path], release: str = "mean") -> None:
    """Log the attacker and robustness tables (``report/table/*``) and the figures (``report/figure/*``) to W&B."""
    import wandb

    columns = ["attribute", "representation", "attacker", "acc", "bacc", "auc"]
    attackers = wandb.Table(columns=columns, data=[[r[c] for c in columns] for r in attacker_rows(metrics, release=release)])
    robustness = wandb.Table(columns=["family", "level", "acc", "leak_auc", "drift"])
    for family, series in robustness_curves(metrics).items():
        leak, drift = dict(series.get("leak_auc", [])), dict(series.get("drift", []))
        for level, acc in series.get("acc", []):
            robustness.add_data(family, level, acc, leak.get(level, math.nan), drift.get(level, math.nan))
    payload: dict[str, Any] = {"report/table/attackers": attackers, "report/table/robustness": robustness}
    payload.update({f"report/figure/{name}": wandb.Image(str(path)) for name, path in figures.items()})
    run.log(payload)
    run.summary.update(metrics)
