"""What the commands print for a person: the one-line summary of a run's figures."""
from __future__ import annotations

from typing import Any

from privib.runs import keys


def summary_line(metrics: dict[str, Any]) -> str:
    """``task/test/acc 0.8443; leakage/sex/auc_max 0.5930 [0.5841, 0.6020] (raw 0.9390)`` (empty without figures)."""
    parts = []
    if keys.ACCURACY in metrics:
        parts.append(f"{keys.ACCURACY} {metrics[keys.ACCURACY]:.4f}")
    for attribute in keys.attributes(metrics):
        headline = keys.leakage(attribute)
        text = f"{headline} {metrics[headline]:.4f}"
        if f"{headline}_lo" in metrics and f"{headline}_hi" in metrics:
            text += f" [{metrics[f'{headline}_lo']:.4f}, {metrics[f'{headline}_hi']:.4f}]"
        if keys.leakage(attribute, "raw_auc_max") in metrics:
            text += f" (raw {metrics[keys.leakage(attribute, 'raw_auc_max')]:.4f})"
        parts.append(text)
    return "; ".join(parts)
