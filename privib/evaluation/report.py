"""``report.md`` of a run, with its PNG figures, and the same tables and figures logged to W&B.

It reads only the run folder: ``metrics.json`` (written by the earlier stages),
``history.json`` (per-epoch figures) and ``config.yaml``. Figures go to ``figures/``;
every file is written atomically. matplotlib is imported lazily, with the Agg backend.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from privib.evaluation.figures import info_plane_figure, leakage_figure, robustness_figure
from privib.evaluation.options import battery_warnings
from privib.evaluation.report_protocols import sections as protocol_sections
from privib.evaluation.report_protocols import summary_rows as protocol_summary_rows
from privib.evaluation.verdict import verdict_lines
from privib.evaluation.rows import attacker_rows, config_order, ordered, release_of, robustness_curves
from privib.io import write_text_atomic
from privib.models.release import BASELINE, describe_run_release
from privib.runs import RunFolder, keys

__all__ = ["write_report", "render_markdown", "log_report_to_wandb"]

FIGURES = "figures"


# --------------------------------------------------------------------------- report.md
def _f(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def _epoch(value: Any) -> str:
    """An epoch number (counted from 1, as everywhere in privib)."""
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else str(int(value))


def _interval(metrics: dict[str, float], key: str) -> str:
    value = metrics.get(key)
    lo, hi = metrics.get(key + "_lo"), metrics.get(key + "_hi")
    if value is None:
        return "–"
    return f"{_f(value)} [{_f(lo)}, {_f(hi)}]" if lo is not None and hi is not None else _f(value)


def _best_attacker(rows: list[dict[str, Any]], attribute: str, representation: str) -> str:
    mine = [r for r in rows if r["attribute"] == attribute and r["representation"] == representation
            and not math.isnan(r["auc"])]
    return max(mine, key=lambda r: r["auc"])["attacker"] if mine else "–"


def _describe_model(config: dict[str, Any]) -> str:
    model = config.get("model", {})
    objective = model.get("objective", "vib")
    if objective == "fcrl":
        return (f"FCRL (Gupta et al. 2021: lambda={model.get('nce_weight')} on the contrastive bound on I(x;z|s), "
                f"beta={model.get('beta')}), z_dim={model.get('z_dim')}")
    if objective == "laftr":
        return (f"LAFTR-DP (Madras et al. 2018: gamma={model.get('adv_weight')} on the group-normalized L1 adversary, "
                f"reconstruction weight {model.get('recon_weight')}), z_dim={model.get('z_dim')}")
    if model.get("release") == "cells":
        return f"cell code ({model.get('n_cells')} cells, one-hot released; lambda={model.get('adv_weight')})"
    if model.get("deterministic") and not model.get("adv_weight"):
        kind = "plain MLP (deterministic, no adversary)"
    elif model.get("deterministic"):
        kind = f"deterministic encoder with adversary (lambda={model.get('adv_weight')})"
    else:
        kind = f"VIB (beta={model.get('beta')}, lambda={model.get('adv_weight')}, {model.get('adv_mode')})"
    return f"{kind}, z_dim={model.get('z_dim')}"


def _describe_run(config: dict[str, Any], m: dict[str, float]) -> str:
    """What the run trained (and its best epoch), or, for a release baseline, what it released instead."""
    if release_of(config) == BASELINE:
        return f"release baseline, no encoder trained: {describe_run_release(config, markdown=True)}"
    return (f"model: {_describe_model(config)}; best checkpoint: epoch {_epoch(m.get('fit/best_epoch'))} of "
            f"{_f(m.get('fit/epochs'), 0)}")


def _certificate_rows(m: dict[str, float], a: str, confidence: float) -> list[str]:
    """Summary-table rows of a cell release's certificate for attribute ``a`` (none when the run has none)."""
    if keys.leakage(a, "certified_auc_ub") not in m:
        return []
    rows = " / ".join(_f(m.get(keys.leakage(a, f"certified_rows/{part}")), 0) for part in ("prior", "cells", "mean"))
    return [
        f"| **{a}: certified upper bound on any attacker's AUC** ({100 * confidence:g}% confidence) | "
        f"**{_f(m.get(keys.leakage(a, 'certified_auc_ub')))}** (balanced accuracy <= "
        f"{_f(m.get(keys.leakage(a, 'certified_ba_ub')))}, TV <= {_f(m.get(keys.leakage(a, 'certified_tv_ub')))}; "
        f"plug-in TV {_f(m.get(keys.leakage(a, 'empirical_tv')))}) |",
        f"| {a}: certified upper bound on any classifier's DP gap (rows: prior / cells / mean) | "
        f"{_f(m.get(keys.fairness(a, keys.CERTIFIED_DP)))} ({rows}) |",
    ]


def _stronger_attack_rows(m: dict[str, float], a: str) -> list[str]:
    """Summary-table rows of the encoder holder and of k releases for attribute ``a`` (none when not computed)."""
    lines = []
    holder = m.get(keys.leakage(a, "encoder_holder/auc"))
    if holder is not None:
        battery = [v for k, v in m.items() if k.startswith(f"leakage/{a}/") and k.endswith("/auc") and k.count("/") == 3
                   and k != keys.leakage(a, "encoder_holder/auc")]
        lines.append(f"| {a} leakage, encoder holder (p({a}\\|z) from q(z\\|x) of the training records; in the max above) | "
                     f"{_f(holder)} (best attacker on one draw: {_f(max(battery) if battery else None)}) |")
    ks = keys.k_releases(m, a)
    if ks:
        figures = ", ".join(f"k = {k}: {_interval(m, keys.leakage(a, f'k{k}/auc_max'))}" for k in ks)
        lines.append(f"| {a} leakage, average of k releases of each record (best attacker or encoder holder) | {figures} |")
    return lines


def render_markdown(folder: RunFolder, config: dict[str, Any], metrics: dict[str, float],
                    figures: dict[str, Path]) -> str:
    """The text of report.md."""
    order, families = config_order(config)
    rows = attacker_rows(metrics, order, release_of(config))
    attributes = keys.attributes(metrics)
    data = config.get("data", {})
    m = metrics
    lines = [f"# privib report: {folder.path.name}", ""]
    lines += [f"> **Warning:** {w}." for w in battery_warnings(list((config.get("evaluation") or {}).get("attackers") or []))]
    lines += [""] if lines[-1] != "" else []
    timings = folder.timings()
    fit_s, eval_s = timings.get("stage/fit_s"), timings.get("stage/evaluate_s")
    lines += [
        f"Dataset `{data.get('name')}`, sensitive {', '.join(f'`{a}`' for a in attributes) or '–'}; "
        f"{_describe_run(config, m)}. All figures are on the test split; attackers and probes were fitted on "
        "frozen train-split representations.",
        "",
        *verdict_lines(config, m, attributes),
        "## Summary",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| task accuracy, {'the release alone' if release_of(config) == BASELINE else 'trained head'} | {_f(m.get('task/test/acc'))} (balanced {_f(m.get('task/test/bacc'))}, "
        f"AUC {_f(m.get('task/test/auc'))}) |",
        f"| task accuracy, always the majority class | {_f(m.get(keys.MAJORITY))} |",
        f"| task accuracy, best fresh probe on z | {_f(m.get('task/probe/acc_max'))} "
        f"(raw features: {_f(m.get('task/probe/raw_acc_max'))}) |",
    ]
    same = " (deterministic encoder: the sample is the mean)" if config.get("model", {}).get("deterministic") else ""
    release = release_of(config)
    other = "sample" if release == "mean" else "mean"
    describe = {"mean": "z = mean of q(z\\|x)", "sample": "z ~ q(z\\|x), one sample", "cells": "one-hot cell", BASELINE: "baseline code"}  # table labels
    for a in attributes:
        best = _best_attacker(rows, a, release)
        lines += [
            f"| **{a} leakage: worst-case attacker AUC** (released {describe[release]}, 95% interval) | "
            f"**{_interval(m, f'leakage/{a}/auc_max')}** ({best}) |",
        ]
        lines += _certificate_rows(m, a, float((config.get("evaluation") or {}).get("certificate_confidence", 0.95)))
        lines += _stronger_attack_rows(m, a)
        if release not in ("cells", BASELINE):
            lines.append(f"| {a} leakage, {describe[other]} (not released) | {_interval(m, f'leakage/{a}/{other}/auc_max')}{same} |")
        lines += [
            f"| {a} leakage, raw features (reference) | {_interval(m, f'leakage/{a}/raw_auc_max')} |",
            f"| {a}: best attacker accuracy / majority baseline | {_f(m.get(f'leakage/{a}/acc_max'))} / "
            f"{_f(m.get(f'leakage/{a}/majority'))} |",
            f"| {a}: lower bound on I(Z;{a}) | {_f(m.get(f'leakage/{a}/mi_bits_lb'))} bits |",
            f"| {a}: demographic-parity gap / equalized-odds gap of the head | {_f(m.get(f'fairness/{a}/dp_gap'))} / "
            f"{_f(m.get(f'fairness/{a}/eo_gap'))} |",
        ]
    lines += protocol_summary_rows(m, config)
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
        n_classes = m.get(f"leakage/{a}/n_classes")
        chance_bacc = 1.0 / n_classes if n_classes else math.nan  # the majority guess's balanced accuracy
        lines += [f"| majority baseline | {_f(m.get(f'leakage/{a}/majority'))} | {_f(chance_bacc)} | 0.500 | 0.500 | 0.500 |", ""]

    probes = ordered([k[len("task/probe/"):-len("/acc")] for k in m if k.startswith("task/probe/")
                       and k.endswith("/acc") and not k.startswith("task/probe/raw/")], config_order(config, "probes")[0])
    if probes:
        lines += ["## Task probes", "", f"| probe | acc (released z {release}) | acc (raw features) |", "| --- | --- | --- |"]
        lines += [f"| {p} | {_f(m.get(f'task/probe/{p}/acc'))} | {_f(m.get(f'task/probe/raw/{p}/acc'))} |" for p in probes]
        lines.append("")
    lines += protocol_sections(m, config, config_order(config, "probes")[0])

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
    history = folder.history()
    target = folder.path / FIGURES
    order, families = config_order(config)
    figures: dict[str, Path] = {}
    for name, make in (("leakage", lambda p: leakage_figure(metrics, p, order, release_of(config))),
                       ("robustness", lambda p: robustness_figure(metrics, p, families)),
                       ("info_plane", lambda p: info_plane_figure(history, p, metrics.get("fit/best_epoch")))):
        written = make(target / f"{name}.png")
        if written is not None:
            figures[name] = written
    write_text_atomic(folder.report_path, render_markdown(folder, config, metrics, figures))
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
