"""The verdict that opens ``report.md``: what was released and what it is worth, in plain words.

A person who reads only this section should know what an exported encoder hands downstream, how much
of the sensitive attribute it still reveals (against chance and against releasing the raw features),
how much of the task it keeps (against always guessing the majority class and against the raw
features), and, where the run measured it, whether releasing a classifier's prediction instead would
have been as accurate and as private. Every sentence is computed from the run's own figures.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from privib.models.release import BASELINE, describe_release, describe_run_release, run_release
from privib.runs import keys

__all__ = ["verdict_lines", "share_of_gain"]


def share_of_gain(value: float | None, floor: float | None, ceiling: float | None) -> float | None:
    """Where ``value`` lies between ``floor`` (0) and ``ceiling`` (1); None when undefined."""
    if value is None or floor is None or ceiling is None or any(map(math.isnan, (value, floor, ceiling))):
        return None
    return None if abs(ceiling - floor) <= 1e-9 else (value - floor) / (ceiling - floor)


def _get(metrics: Mapping[str, Any], key: str) -> float | None:
    value = metrics.get(key)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _leakage_sentence(metrics: Mapping[str, Any], attribute: str) -> str:
    auc, lo, hi = (_get(metrics, keys.leakage(attribute, f"auc_max{s}")) for s in ("", "_lo", "_hi"))
    raw = _get(metrics, keys.leakage(attribute, "raw_auc_max"))
    if auc is None:
        return f"- **`{attribute}`**: no leakage audit was run."
    interval = f" [{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else ""
    text = f"- **`{attribute}`**: the strongest attacker reaches AUC **{auc:.3f}**{interval} (0.5 is chance"
    removed = share_of_gain(auc, raw, 0.5)
    if raw is not None:
        text += f"; the raw features give {raw:.3f})"
        if removed is not None:
            text += f": the code removes {100 * removed:.0f}% of what the raw features reveal beyond chance"
    else:
        text += ")"
    if lo is not None and lo <= 0.5:
        text += "; its interval includes chance: no attacker tried found the attribute"
    certified = _get(metrics, keys.leakage(attribute, "certified_auc_ub"))
    if certified is not None:
        text += f"; certified: no attacker of one release exceeds AUC {certified:.3f} (95% confidence)"
    return text + "."


def _task_sentence(metrics: Mapping[str, Any], predictor: str = "trained head") -> str:
    acc, majority = _get(metrics, keys.ACCURACY), _get(metrics, keys.MAJORITY)
    raw = _get(metrics, "task/probe/raw_acc_max")
    probe = _get(metrics, keys.PROBE_ACC_MAX)
    if acc is None:
        return "- **Task**: the trained head was not tested."
    text = f"- **Task**: accuracy **{acc:.3f}** ({predictor}"
    if probe is not None:
        text += f"; best fresh probe on the code {probe:.3f}"
    text += ")"
    if majority is not None:
        text += f", against {majority:.3f} for always guessing the majority class"
    if raw is not None:
        text += f" and {raw:.3f} for the best probe on the raw features"
        kept = share_of_gain(probe if probe is not None else acc, majority, raw)  # what a user of the code gets
        if kept is not None:
            text += f": the code keeps {100 * kept:.0f}% of what the raw features add above the majority rate"
    return text + "."


def _prediction_sentence(metrics: Mapping[str, Any], attributes: list[str]) -> str | None:
    """Against releasing a plain classifier's 1-bit prediction, when the run measured that reference."""
    acc = _get(metrics, "reference/predict/acc")
    if acc is None or not attributes:
        return None
    a = attributes[0]
    ref_auc = _get(metrics, f"reference/predict/{a}/auc_max")
    # what a downstream user of the released code gets: a classifier trained on it (the trained head averages
    # several draws of a sampled code, which one release does not give)
    probe = _get(metrics, keys.PROBE_ACC_MAX)
    mine_acc = probe if probe is not None else _get(metrics, keys.ACCURACY)
    mine_auc = _get(metrics, keys.leakage(a, "auc_max"))
    if ref_auc is None or mine_auc is None or mine_acc is None:
        return None
    if mine_acc >= acc and mine_auc <= ref_auc:
        verdict = "this code is at least as accurate and at most as leaky: it is on or beyond the prediction frontier"
    elif mine_acc <= acc and mine_auc >= ref_auc:
        verdict = ("releasing the prediction would be as accurate and no leakier on this task: the code is worth "
                   "releasing only for the other tasks it serves (transfer)")
    else:
        verdict = "neither dominates: the code trades accuracy and leakage differently"
    return (f"- **Against releasing a prediction**: a logistic regression's 1-bit prediction of the task gives accuracy "
            f"{acc:.3f} at `{a}` AUC {ref_auc:.3f}; {verdict}.")


def verdict_lines(config: Mapping[str, Any], metrics: Mapping[str, Any], attributes: list[str]) -> list[str]:
    """The ``## Verdict`` section of report.md."""
    release = run_release(config)
    if release == BASELINE:  # a release baseline (privib.baselines): no encoder, nothing exported
        released = f"- **Released**: {describe_run_release(config)}; no encoder was trained, and the figures below measure it."
    else:
        released = (f"- **Released**: {describe_release(release)}; an exported encoder's `encode()` returns it, and the "
                    "figures below measure it.")
    lines = ["## Verdict", "", released]
    lines += [_leakage_sentence(metrics, a) for a in attributes]
    baseline = (config.get("baseline") or {}).get("kind")
    lines.append(_task_sentence(metrics, f"the {baseline} release's own prediction" if baseline else "trained head"))
    transfer, base = _get(metrics, keys.TRANSFER_MEAN_ACC), _get(metrics, keys.TRANSFER_MEAN_BASE)
    if transfer is not None and base is not None:
        raw = _get(metrics, "transfer/mean/raw_acc")
        lines.append(f"- **Other tasks (transfer)**: mean accuracy {transfer:.3f} on tasks the encoder was not trained "
                     f"for, against {base:.3f} for their majority rates" + (f" and {raw:.3f} from the raw features" if raw else "")
                     + ".")
    prediction = _prediction_sentence(metrics, attributes)
    if prediction:
        lines.append(prediction)
    return lines + [""]
