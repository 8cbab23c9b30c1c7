"""The report's rows and sections for the transfer tasks and the literature's downstream protocol.

:mod:`privib.evaluation.report` calls :func:`summary_rows` inside its summary table and
:func:`sections` after the task probes; both read only ``metrics.json`` keys (and the run's
``data.transfer`` for how each target was defined) and return Markdown lines, none when the run
has no such figures.
"""
from __future__ import annotations

import math
from typing import Any

from privib.data.transfer import target_descriptions
from privib.evaluation.rows import ordered
from privib.runs import keys

__all__ = ["summary_rows", "sections"]


def _f(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def _protocol(config: dict[str, Any]) -> str:
    evaluation = config.get("evaluation") or {}
    spec = evaluation.get("downstream") or {}
    seeds = evaluation.get("downstream_seeds", 5)
    hidden = (spec.get("init_args") or {}).get("hidden_layer_sizes")
    what = f"MLP {list(hidden)}" if hidden is not None else str(spec.get("class_path", "classifier")).rsplit(".", 1)[-1]
    return f"{what} x {seeds} seeds"


def summary_rows(metrics: dict[str, float], config: dict[str, Any]) -> list[str]:
    """Rows of the summary table: the downstream protocol's accuracy and gaps, the transfer tasks' mean."""
    m, rows = metrics, []
    if keys.DOWNSTREAM_ACC in m:
        gaps = "; ".join(
            f"{a} DP {_f(m.get(f'downstream/{a}/dp_gap'))} (raw {_f(m.get(f'downstream/{a}/raw_dp_gap'))}), "
            f"EO {_f(m.get(f'downstream/{a}/eo_gap'))}" for a in keys.attributes(m) if f"downstream/{a}/dp_gap" in m)
        rows.append(f"| downstream protocol ({_protocol(config)}, released z): accuracy, gaps | "
                    f"{_f(m.get('downstream/acc'))} ± {_f(m.get('downstream/acc_std'))} "
                    f"(raw features {_f(m.get('downstream/raw_acc'))}){'; ' + gaps if gaps else ''} |")
    tasks = keys.transfer_tasks(m)
    if tasks:
        rows.append(f"| transfer: mean accuracy over {len(tasks)} held-out task(s) / mean base rate | "
                    f"{_f(m.get(keys.TRANSFER_MEAN_ACC))} / {_f(m.get(keys.TRANSFER_MEAN_BASE))} "
                    f"(raw features {_f(m.get('transfer/mean/raw_acc'))}) |")
    return rows


def sections(metrics: dict[str, float], config: dict[str, Any], probes: list[str]) -> list[str]:
    """The ``Transfer tasks`` and ``Downstream protocol`` sections (``probes``: the probe names, in config order)."""
    m, lines = metrics, []
    described = target_descriptions((config.get("data") or {}).get("transfer"))
    tasks = ordered(keys.transfer_tasks(m), list(described))  # in the order data.transfer lists them
    if tasks:
        names = [p for p in probes if any(f"transfer/{t}/{p}/acc" in m for t in tasks)]
        lines += ["## Transfer tasks", "",
                  "Held-out targets (`data.transfer`), never inputs of the encoder: fresh probes fitted on the frozen "
                  "train-split released codes predict them on the test split. `base`: always guessing the training "
                  "split's majority class; `raw`: the best probe on the input features (the held-out columns removed "
                  "there too); `DP gap`: of the best probe's predictions, the maximum over the sensitive attributes.", "",
                  "| task | target | base | acc (best probe on z) | acc (raw features) | DP gap | DP gap (raw) | "
                  + " | ".join(names) + " |",
                  "| --- | --- | --- | --- | --- | --- | --- |" + " --- |" * len(names)]
        for t in tasks:
            lines.append(
                f"| {t} | `{described.get(t, t)}` | {_f(m.get(f'transfer/{t}/base'))} | **{_f(m.get(f'transfer/{t}/acc'))}** | "
                f"{_f(m.get(f'transfer/{t}/raw_acc'))} | {_f(m.get(f'transfer/{t}/dp_gap'))} | "
                f"{_f(m.get(f'transfer/{t}/raw_dp_gap'))} | " + " | ".join(_f(m.get(f"transfer/{t}/{p}/acc")) for p in names) + " |")
        lines.append(f"| mean | | {_f(m.get('transfer/mean/base'))} | **{_f(m.get('transfer/mean/acc'))}** | "
                     f"{_f(m.get('transfer/mean/raw_acc'))} | {_f(m.get('transfer/mean/dp_gap'))} | "
                     f"{_f(m.get('transfer/mean/raw_dp_gap'))} |" + " |" * len(names))
        lines.append("")
    if keys.DOWNSTREAM_ACC in m:
        attributes = [a for a in keys.attributes(m) if f"downstream/{a}/dp_gap" in m]
        lines += ["## Downstream protocol", "",
                  f"The published fair-representation results' protocol ({_protocol(config)}; standardized inputs): "
                  "the classifier is fitted on the frozen train-split codes once per seed and scored on the test split; "
                  "figures are means over the seeds (± sample std). DP gap: max minus min over groups of P(yhat = 1 | "
                  "group) (fairlearn's demographic_parity_difference); EO gap: fairlearn's equalized_odds_difference.", "",
                  "| representation | acc | " + " | ".join(f"{a} DP gap | {a} EO gap" for a in attributes) + " |",
                  "| --- | --- |" + " --- | --- |" * len(attributes),
                  f"| released z | {_f(m.get('downstream/acc'))} ± {_f(m.get('downstream/acc_std'))} | "
                  + " | ".join(f"{_f(m.get(f'downstream/{a}/dp_gap'))} ± {_f(m.get(f'downstream/{a}/dp_gap_std'))} | "
                               f"{_f(m.get(f'downstream/{a}/eo_gap'))}" for a in attributes) + " |"]
        if "downstream/raw_acc" in m:
            lines.append(f"| raw features (reference) | {_f(m.get('downstream/raw_acc'))} ± {_f(m.get('downstream/raw_acc_std'))} | "
                         + " | ".join(f"{_f(m.get(f'downstream/{a}/raw_dp_gap'))} | {_f(m.get(f'downstream/{a}/raw_eo_gap'))}"
                                      for a in attributes) + " |")
        lines.append("")
    return lines
