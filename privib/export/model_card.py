"""MODEL_CARD.md of an export: intended use, training data, figures with intervals, attackers, limitations.

Figures come from the run's flat ``metrics.json`` keys and are grouped by their first
segment (``task/``, ``leakage/``, ``robustness/``, ``info/`` ...). A key with interval
siblings (``K_lo`` / ``K_hi``, ``K/ci_low`` / ``K/ci_high`` ...) is shown as
``value [low, high]``. Nothing is invented: a group without figures says so.
"""
from __future__ import annotations

import math
from typing import Any
from collections.abc import Iterable, Mapping

from privib.models.release import describe_release
from privib.export.threat_model import threat_model_lines
from privib.runs import keys


INTERVAL_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_lo", "_hi"),
    ("/lo", "/hi"),
    ("_ci_low", "_ci_high"),
    ("/ci_low", "/ci_high"),
    ("_low", "_high"),
)
SCORE_NAMES = {"auc", "acc", "bacc", "ce", "ce_bits", "f1"}
SECTION_TITLES = {
    "task": "Task",
    "leakage": "Leakage of sensitive attributes",
    "fairness": "Fairness of downstream predictions",
    "robustness": "Robustness to input perturbations",
    "info": "Information plane",
}
HIDDEN_GROUPS = {"fit", "export", "evaluate", "report"}


def fmt(value: Any) -> str:
    """Numbers to 4 decimals (integers as integers), NaN as 'n/a'."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    if float(value).is_integer() and abs(value) >= 1:
        return str(int(value))
    return f"{value:.4f}"


def figures_with_intervals(metrics: Mapping[str, Any], prefix: str) -> list[tuple[str, str]]:
    """``(key without prefix, "value [lo, hi]")`` for numeric keys under ``prefix``, intervals merged."""
    keys = sorted(k for k, v in metrics.items() if k.startswith(prefix) and _is_number(v))
    consumed: set[str] = set()
    rows: list[tuple[str, str]] = []
    for key in keys:
        for lo_suffix, hi_suffix in INTERVAL_SUFFIXES:
            lo, hi = key + lo_suffix, key + hi_suffix
            if lo in metrics and hi in metrics:
                consumed.update((lo, hi))
                break
    for key in keys:
        if key in consumed:
            continue
        text = fmt(metrics[key])
        for lo_suffix, hi_suffix in INTERVAL_SUFFIXES:
            lo, hi = key + lo_suffix, key + hi_suffix
            if lo in metrics and hi in metrics:
                text += f" [{fmt(metrics[lo])}, {fmt(metrics[hi])}]"
                break
        rows.append((key[len(prefix):], text))
    return rows


def attackers_used(metrics: Mapping[str, Any], attribute: str) -> list[str]:
    """Names of the fresh attackers whose scores appear under ``leakage/<attribute>/``."""
    return keys.attacker_names(metrics, attribute)


def render_model_card(
    metadata: Mapping[str, Any],
    metrics: Mapping[str, Any],
    config: Mapping[str, Any],
    files: Mapping[str, Mapping[str, Any]],
    formats: Iterable[str],
    notes: Mapping[str, Any] | None = None,
    preprocess: Mapping[str, Any] | None = None,
) -> str:
    """The model card's Markdown text."""
    model = dict(config.get("model") or {})
    data = dict(config.get("data") or {})
    sensitive = list(metadata.get("sensitive") or [])
    target = metadata.get("target", "the task label")
    name = metadata.get("run_name") or "privib encoder"
    cells = metadata.get("release") == "cells"
    lines: list[str] = [f"# Model card: {name}", ""]
    lines += [
        (f"A privib encoder that maps a tabular record to one of {metadata['z_dim']} cells (released as a one-hot code), "
         if cells else f"A privib encoder that maps a tabular record to a {metadata['z_dim']}-dimensional representation z, ")
        + f"trained to keep what predicts `{target}` and to drop what reveals "
        f"{_join(sensitive) or 'the sensitive attribute'}.",
        "",
        "## Model details",
        "",
        f"- Architecture: MLP encoder q(z|x) = N(mean(x), diag(exp(log_var(x)))), input {metadata['input_dim']} "
        f"features, hidden widths {metadata['encoder_widths']}, activation {metadata['activation']}, "
        f"z_dim {metadata['z_dim']}, {'deterministic (z = mean, log_var = ' + fmt(metadata['deterministic_log_var']) + ')' if metadata['deterministic'] else 'stochastic'}."
        if not cells else
        f"- Architecture: MLP encoder to {metadata['z_dim']} cell logits; the released code `mean` is the one-hot of their "
        f"argmax (deterministic: one record, one cell; `log_var` = {fmt(metadata['deterministic_log_var'])}), input "
        f"{metadata['input_dim']} features, hidden widths {metadata['encoder_widths']}, activation {metadata['activation']}.",
    ]
    if model:
        objective = (
            f"- Objective: task cross-entropy + beta * KL(q(z|x) || N(0, I)) - lambda * adversary cross-entropy; "
            f"beta = {fmt(model.get('beta'))}, lambda (adv_weight) = {fmt(model.get('adv_weight'))}, "
            f"adversary updates: {model.get('adv_mode', 'n/a')}, released representation: {model.get('release', 'mean')}."
        )
        if model.get("objective") == "fcrl":
            objective = (
                f"- Objective (FCRL, Gupta et al. 2021): task cross-entropy + beta * KL(q(z|x) || N(0, I)) - lambda * "
                f"contrastive (InfoNCE) bound on I(x; z | s); beta = {fmt(model.get('beta'))}, lambda (nce_weight) = "
                f"{fmt(model.get('nce_weight'))}, released representation: {model.get('release', 'mean')}."
            )
        elif model.get("objective") == "laftr":
            objective = (
                f"- Objective (LAFTR-DP, Madras et al. 2018): task cross-entropy + reconstruction weight * NLL of x given "
                f"(z, s) - gamma * group-normalized L1 loss of the adversary; gamma (adv_weight) = "
                f"{fmt(model.get('adv_weight'))}, reconstruction weight = {fmt(model.get('recon_weight'))}, deterministic."
            )
        if cells:
            penalty = (f" + {fmt(model.get('dep_weight'))} * {model.get('dep_penalty')} penalty"
                       if model.get("dep_penalty", "none") != "none" and model.get("dep_weight") else "")
            objective = (
                f"- Objective: task cross-entropy - lambda * adversary cross-entropy on the released cell{penalty}; "
                f"lambda (adv_weight) = {fmt(model.get('adv_weight'))}, adversary updates: {model.get('adv_mode', 'n/a')}, "
                f"{model.get('n_cells')} cells, released representation: cells."
            )
        lines.append(objective)
    lines += [
        f"- Exported formats: {', '.join(formats)}; inputs: `{metadata['input_name']}` (preprocessed features, "
        f"see preprocess.json); outputs: `mean`, `log_var`. "
        + ("`encode()` returns the one-hot cell, `cells()` its id." if cells else
           f"`encode()` returns the released representation (`release` in the metadata): "
           f"{describe_release(str(metadata.get('release', 'mean')))}."),
        f"- privib {metadata['privib_version']}, torch {metadata['torch_version']}, exported {metadata['created']}.",
        f"- Config sha256: `{metadata['config_sha256'] or 'n/a'}`; data fingerprint: `{metadata['data_fingerprint']}`.",
    ]
    for key, value in (notes or {}).items():
        lines.append(f"- {key}: {value}")
    lines += [
        "",
        "## Intended use",
        "",
        f"- Producing representations of records like the training data for downstream models of `{target}` "
        f"(or related tasks), where those models should not be able to infer {_join(sensitive) or 'the sensitive attribute'}.",
        "- Research on privacy / fairness trade-offs: compare runs by the figures below.",
        "",
        "## Out-of-scope uses",
        "",
        "- A formal privacy guarantee (this is not differential privacy)"
        + (": the certificate below bounds what one release of the code reveals of the sensitive attribute, under its "
           "assumptions, not what other data about a person reveals." if _certified(metrics) else
           " or a certificate that the sensitive attribute cannot be recovered."),
        "- Records from a different population, schema or time period than the training data without re-auditing.",
        "- Automated decisions about individuals without a fairness review of the downstream model.",
        "",
        "## Training data",
        "",
        f"- Dataset: `{metadata['dataset']}`, {metadata['train_rows']} training rows (the validation split "
        f"{'of ' + fmt(data['val_fraction']) + ' ' if 'val_fraction' in data else ''}was held out of these).",
        f"- Target: `{target}`; sensitive attribute(s): {_join(sensitive, code=True) or 'none'}"
        f"{' (also an input)' if data.get('sensitive_as_input') else ' (not an input of the encoder)'}.",
        f"- Inputs: {len(metadata['input_columns'])} raw columns ({_join(metadata['input_columns'], code=True)}) "
        f"-> {metadata['input_dim']} features; preprocessing fitted on the training rows only (preprocess.json).",
        "",
        "## Evaluation",
        "",
        "Figures from the run's metrics.json at export time; `[low, high]` is the 95% interval where the run "
        "computed one.",
        "",
    ]
    lines += _certificate_lines(metrics, float((config.get("evaluation") or {}).get("certificate_confidence", 0.95)))
    lines += _evaluation_sections(metrics, sensitive)
    lines += _estimator_table(config, "attackers", "Attackers (fresh, trained after the fact on frozen train-split z)")
    lines += _estimator_table(config, "probes", "Downstream probes")
    lines += threat_model_lines(metrics, str(metadata.get("release", "mean")), bool(metadata.get("deterministic")))
    lines += [
        "## Limitations",
        "",
        "- Leakage is measured against the attackers listed above, trained after the fact on frozen representations; "
        + ("beyond the certificate above (which holds for every attacker of one release), it is not proven absent. "
           if _certified(metrics) else "it is not proven absent. ")
        + "A stronger or differently-informed attacker (other model families, auxiliary "
        "data, many records of one person) may recover more.",
        "- Figures hold for the evaluation data's distribution; under distribution shift task accuracy and leakage "
        "can both change.",
        "- Removing the sensitive column from the inputs is not privacy by itself: the other columns are proxies. "
        "The encoder reduces, not removes, what they reveal.",
        f"- The figures above refer to the released representation (`release` in the metadata: here "
        f"{describe_release(str(metadata.get('release', 'mean')))}); `encode()` returns it by default. "
        + ("A sample released with fresh noise protects only if each record is released once: averaging releases "
           "tends to the mean, which leaks more (see the threat model above; key the noise)."
           if metadata.get("release") == "sample" else
           "It is the same on every call: repeated releases reveal nothing new."),
        "- Records are preprocessed by the policy in preprocess.json: unknown categories "
        f"`{(preprocess or {}).get('unknown_category', 'n/a')}` (zeros: an all-zero one-hot group, logged; error: "
        f"refused), missing values `{(preprocess or {}).get('missing', 'n/a')}` (error: refused; impute: training "
        "mean or most frequent category).",
        "",
        "## How to use",
        "",
        "```python",
        "import privib",
        "encoder = privib.load_encoder('export')          # or backend='onnx'",
        "z = encoder.encode(dataframe_of_raw_columns)      # numpy array (rows, z_dim): the released representation",
        "z = encoder.encode(dataframe_of_raw_columns, key=secret_bytes)  # a sample keyed to each record",
        "```",
        "",
        "```",
        "privib encode export data.csv -o z.parquet --keep id --noise_key noise.key",
        "```",
        "",
        "## Files",
        "",
        "| file | bytes | sha256 |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {fname} | {entry['bytes']} | `{entry['sha256']}` |" for fname, entry in sorted(files.items())]
    lines.append("")
    return "\n".join(lines)


def headline_figures(metrics: Mapping[str, Any], sensitive: list[str]) -> list[tuple[str, str]]:
    """The figures a reader looks for first, where the run computed them (with intervals)."""
    wanted: list[tuple[str, str]] = [
        ("task/test/acc", "task accuracy of the trained head (test)"),
        ("task/test/auc", "task AUC of the trained head (test)"),
        ("task/probe/acc_max", "best fresh downstream probe accuracy on z (test)"),
        ("task/probe/raw_acc_max", "best probe accuracy on the raw features (reference)"),
    ]
    attributes = sorted(set(sensitive) | set(keys.attributes(metrics)))
    for a in attributes:
        wanted += [
            (f"leakage/{a}/auc_max", f"`{a}` leakage: best attacker AUC on the released z (test)"),
            (f"leakage/{a}/encoder_holder/auc", f"`{a}` leakage: the encoder holder's AUC (in the maximum above)"),
            *[(f"leakage/{a}/k{k}/auc_max", f"`{a}` leakage: best attacker AUC on the average of {k} releases of a record")
              for k in keys.k_releases(metrics, a)],
            (f"leakage/{a}/sample/auc_max", f"`{a}` leakage: best attacker AUC on sampled z (not released)"),
            (f"leakage/{a}/mean/auc_max", f"`{a}` leakage: best attacker AUC on the mean of z (not released)"),
            (f"leakage/{a}/raw_auc_max", f"`{a}` leakage from the raw features (reference)"),
            (f"leakage/{a}/certified_auc_ub", f"`{a}`: certified upper bound on any attacker's AUC"),
            (f"leakage/{a}/certified_ba_ub", f"`{a}`: certified upper bound on any attacker's balanced accuracy"),
            (f"leakage/{a}/acc_max", f"`{a}`: best attacker accuracy"),
            (f"leakage/{a}/majority", f"`{a}`: majority-class accuracy (chance level)"),
            (f"leakage/{a}/mi_bits_lb", f"`{a}`: lower bound on I(Z;S) in bits"),
            (f"fairness/{a}/dp_gap", f"demographic-parity gap of downstream predictions across `{a}`"),
            (f"fairness/{a}/eo_gap", f"equalized-odds gap across `{a}`"),
            (f"fairness/{a}/certified_dp_ub", f"certified upper bound on any classifier's demographic-parity gap across `{a}`"),
        ]
    families = sorted(keys.robustness_families(metrics))
    wanted += [(f"robustness/{f}/area", f"robustness to {f}: area under the accuracy-vs-level curve") for f in families]
    figures = dict(figures_with_intervals(metrics, ""))
    return [(label, figures[key]) for key, label in wanted if key in figures]


def _certified(metrics: Mapping[str, Any]) -> bool:
    """Whether the run certified its code (a cell release)."""
    return any(k.startswith("leakage/") and k.endswith("/certified_auc_ub") for k in metrics)


def _certificate_lines(metrics: Mapping[str, Any], confidence: float) -> list[str]:
    """The certificate of a cell release in words, per attribute; nothing when the run computed none."""
    lines: list[str] = []
    for a in keys.attributes(metrics):
        if keys.leakage(a, "certified_auc_ub") not in metrics:
            continue
        value = {name: fmt(metrics.get(keys.leakage(a, name), math.nan))
                 for name in (*keys.CERTIFIED_LEAKAGE, "empirical_tv", "auc_max", "certified_rows/prior",
                              "certified_rows/cells", "certified_rows/mean")}
        lines += [
            f"With {100 * confidence:g} % confidence, no attacker can predict `{a}` from this code with AUC above "
            f"**{value['certified_auc_ub']}** or balanced accuracy above {value['certified_ba_ub']}; the code "
            f"distributions of any two `{a}` groups are at most {value['certified_tv_ub']} apart in total variation, so no "
            f"classifier of the code has a demographic-parity gap across `{a}` above "
            f"{fmt(metrics.get(keys.fairness(a, keys.CERTIFIED_DP), math.nan))}. For comparison, on the test rows: "
            f"plug-in TV {value['empirical_tv']}, best fresh attacker's AUC {value['auc_max']}.",
            "",
            "Assumptions: the records are i.i.d. draws of one population; each record is released once (the code is "
            "deterministic, so a repeat release is the same cell); the encoder was fixed before the certificate's rows "
            f"were read. P(`{a}`) is bounded on {value['certified_rows/prior']} training rows, each cell on "
            f"{value['certified_rows/cells']} test rows and the mean over cells on {value['certified_rows/mean']} other "
            "test rows (privib's docs/evaluation.md, \"The certificate\").",
            "",
        ]
    return ["### Certificate", "", *lines] if lines else []


def _evaluation_sections(metrics: Mapping[str, Any], sensitive: list[str]) -> list[str]:
    lines: list[str] = []
    headline = headline_figures(metrics, sensitive)
    if headline:
        lines += ["### Headline", "", "| figure | value |", "| --- | --- |"]
        lines += [f"| {label} | {value} |" for label, value in headline] + [""]
    groups = sorted({k.split("/", 1)[0] for k in metrics if "/" in k and _is_number(metrics[k])} - HIDDEN_GROUPS)
    ordered = [g for g in SECTION_TITLES if g in groups] + [g for g in groups if g not in SECTION_TITLES]
    if "leakage" not in groups:
        ordered.insert(1 if "task" in ordered else 0, "leakage")
    for group in ordered:
        lines += [f"### {SECTION_TITLES.get(group, group.capitalize())}", ""]
        if group == "leakage":
            lines += _leakage_section(metrics, sensitive)
            continue
        rows = figures_with_intervals(metrics, f"{group}/")
        lines += _table(rows) if rows else ["No figures were computed for this group.", ""]
    return lines


def _leakage_section(metrics: Mapping[str, Any], sensitive: list[str]) -> list[str]:
    if not any(k.startswith("leakage/") for k in metrics):
        return [
            "**No leakage audit was run before this export.** Do not assume the representation hides "
            f"{_join(sensitive) or 'the sensitive attribute'}: run the evaluation stages (`privib evaluate RUN`) and "
            "export again.",
            "",
        ]
    lines: list[str] = []
    for attribute in sorted(keys.attributes(metrics)):
        attackers = attackers_used(metrics, attribute)
        lines += [f"Attribute `{attribute}`: fresh attackers used: {', '.join(attackers) or 'not recorded'}.", ""]
        lines += _table(figures_with_intervals(metrics, f"leakage/{attribute}/"))
    lines += [
        "`auc_max` is the best attacker's test AUC (0.5: chance); `majority` is the accuracy of always guessing the "
        "most frequent class, the floor for `acc_max`; `sample/` and `mean/` rows attack the representation not released, `raw` rows attack the raw "
        "features (the reference the encoder should beat).",
        "",
    ]
    return lines


def _estimator_table(config: Mapping[str, Any], key: str, title: str) -> list[str]:
    """The estimator specs of the run's evaluation config, if it lists them."""
    section = config.get("evaluation") or config.get("evaluate") or {}
    specs = section.get(key) if isinstance(section, Mapping) else None
    if not isinstance(specs, list) or not specs:
        return []
    lines = [f"### {title}", "", "| name | class | settings |", "| --- | --- | --- |"]
    for item in specs:
        if not isinstance(item, Mapping):
            continue
        args = {k: v for k, v in (item.get("init_args") or {}).items() if v is not None}
        if item.get("standardize"):
            args["standardize"] = True
        settings = ", ".join(f"{k}={v}" for k, v in args.items()) or "defaults"
        lines.append(f"| {item.get('name', '?')} | `{item.get('class_path', '?')}` | {settings} |")
    return lines + [""]


def _table(rows: list[tuple[str, str]]) -> list[str]:
    """Single-segment figures as a list; ``row/column`` figures pivoted into one table."""
    singles = [(k, v) for k, v in rows if "/" not in k]
    cells: dict[str, dict[str, str]] = {}
    columns: list[str] = []
    for key, value in rows:
        if "/" not in key:
            continue
        row, column = key.rsplit("/", 1)
        cells.setdefault(row, {})[column] = value
        if column not in columns:
            columns.append(column)
    lines = [f"- {k}: {v}" for k, v in singles]
    if singles:
        lines.append("")
    if cells:
        lines += ["| | " + " | ".join(columns) + " |", "| --- |" + " --- |" * len(columns)]
        for row in sorted(cells, key=_natural):
            lines.append(f"| {row} | " + " | ".join(cells[row].get(c, "") for c in columns) + " |")
        lines.append("")
    return lines


def _natural(key: str) -> list[tuple[int, float, str]]:
    parts = []
    for part in key.split("/"):
        try:
            parts.append((0, float(part), ""))
        except ValueError:
            parts.append((1, 0.0, part))
    return parts


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _join(items: Iterable[Any], code: bool = False) -> str:
    items = [f"`{i}`" if code else str(i) for i in items]
    return ", ".join(items)
