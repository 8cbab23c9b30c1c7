"""The metric-key vocabulary of ``metrics.json``, and the one parser of it.

Keys are flat and slash-separated: ``task/test/acc``, ``task/probe/<probe>/acc``,
``leakage/<attr>/auc_max`` (the headline, max over attackers, on the released representation),
``leakage/<attr>/<attacker>/{acc,bacc,auc}``, ``leakage/<attr>/<mean|sample>/...`` (the
representation not released), ``leakage/<attr>/raw_auc_max`` (the raw-feature reference),
``fairness/<attr>/{dp_gap,eo_gap}``, ``robustness/<family>/<level>/<figure>`` and
``robustness/<family>/area``, ``info/...``, ``fit/...``, ``export/...``.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

ACCURACY = "task/test/acc"
PROBE_ACC_MAX = "task/probe/acc_max"
WORST_LEAKAGE = "leakage/worst/auc_max"
REPRESENTATIONS = ("mean", "sample")
SCORES = ("acc", "bacc", "auc")
# Keys written by the stages that ``privib evaluate`` re-runs (stale ones are dropped on re-evaluation).
EVALUATION_PREFIXES = ("task/test/", "task/val/", "task/probe/", "leakage/", "fairness/", "robustness/", "info/")

_HEADLINE = re.compile(r"leakage/([^/]+)/auc_max")
_AREA = re.compile(r"robustness/([^/]+)/area")


def leakage(attribute: str, figure: str = "auc_max", representation: str | None = None) -> str:
    """``leakage/<attribute>/[<representation>/]<figure>``."""
    middle = f"{representation}/" if representation else ""
    return f"leakage/{attribute}/{middle}{figure}"


def attributes(metrics: Iterable[str]) -> list[str]:
    """Sensitive attributes with a leakage headline, in first-seen order (``worst`` is not one)."""
    found = [m.group(1) for key in metrics if (m := _HEADLINE.fullmatch(key))]
    return [a for a in dict.fromkeys(found) if a != "worst"]


def robustness_families(metrics: Iterable[str]) -> list[str]:
    """Perturbation families with an area figure, in first-seen order."""
    return list(dict.fromkeys(m.group(1) for key in metrics if (m := _AREA.fullmatch(key))))


def attacker_names(metrics: Iterable[str], attribute: str) -> list[str]:
    """Fresh attackers scored under ``leakage/<attribute>/`` (on any representation), sorted."""
    prefix = f"leakage/{attribute}/"
    names = set()
    for key in metrics:
        if key.startswith(prefix):
            parts = key[len(prefix):].split("/")
            if len(parts) >= 2 and parts[-1] in SCORES:
                names.add(parts[-2])
    return sorted(names)


def worst_leakage(metrics: Mapping[str, Any]) -> float:
    """The maximum over attributes of the headline ``leakage/<attr>/auc_max`` (NaN when there is none)."""
    values = [float(metrics[leakage(a)]) for a in attributes(metrics) if _finite(metrics[leakage(a)])]
    return max(values) if values else float("nan")


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value and abs(value) != float("inf")
