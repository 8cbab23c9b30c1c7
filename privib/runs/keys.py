"""The metric-key vocabulary of ``metrics.json``, and the one parser of it.

Keys are flat and slash-separated: ``task/test/acc``, ``task/probe/<probe>/acc``,
``leakage/<attr>/auc_max`` (the headline, max over attackers, on the released representation),
``leakage/<attr>/<attacker>/{acc,bacc,auc}``, ``leakage/<attr>/<mean|sample>/...`` (the
representation not released), ``leakage/<attr>/raw_auc_max`` (the raw-feature reference),
``leakage/<attr>/encoder_holder/{acc,bacc,auc}`` (for a sampled release: the attacker who holds the encoder,
one of those the headline maximizes over), ``leakage/<attr>/k<k>/{auc_max,auc_max_lo,auc_max_hi,acc_max,
bacc_max,mi_bits_lb,battery_auc_max,encoder_holder_auc}`` (the average of k releases of each record),
``fairness/<attr>/{dp_gap,eo_gap}``, and for a cell release (``model.release cells``) the certificate:
``leakage/<attr>/certified_{ba,tv,auc}_ub`` (95 % upper bounds on any attacker),
``fairness/<attr>/certified_dp_ub``, ``leakage/<attr>/certified_rows/{prior,cells,mean}`` and
``leakage/<attr>/empirical_tv``; ``robustness/<family>/<level>/<figure>`` and
``robustness/<family>/area``, ``info/...``, ``fit/...``, ``export/...``.

Transfer tasks (``data.transfer``): ``transfer/<task>/<probe>/acc``, ``transfer/<task>/{acc,base,dp_gap}``
(best probe, majority rate, DP gap of the best probe: max over attributes, ``dp_gap/<attr>`` each when
there are several), the raw-input reference ``transfer/<task>/raw_acc``, ``raw_dp_gap``,
``raw/<probe>/acc``, and ``transfer/mean/{acc,base,dp_gap,raw_acc,raw_dp_gap}`` over the tasks. The
literature's downstream protocol: ``downstream/{acc,acc_std}``, ``downstream/<attr>/{dp_gap,dp_gap_std,eo_gap}``
and the raw reference ``downstream/raw_acc``, ``downstream/<attr>/raw_dp_gap`` ...; the worst DP gap
over attributes of a run is :func:`worst_dp_gap`. ``task/test/majority``: always guessing the training split's
majority class. A release baseline (``baseline.kind``, the ``release`` stage) adds ``release/width`` (columns of
its code) and figures of its fit (``release/train_acc``, ``release/iterations``, ``release/best_epoch`` ...).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

ACCURACY = "task/test/acc"
MAJORITY = "task/test/majority"  # always guessing the training split's majority class
PROBE_ACC_MAX = "task/probe/acc_max"
WORST_LEAKAGE = "leakage/worst/auc_max"
DOWNSTREAM_ACC = "downstream/acc"
TRANSFER_MEAN_ACC = "transfer/mean/acc"
TRANSFER_MEAN_BASE = "transfer/mean/base"
# The DP gap per attribute of each fairness source: the literature's downstream protocol, or the trained head.
DP_SOURCES = {"downstream": "downstream/{attribute}/dp_gap", "head": "fairness/{attribute}/dp_gap"}
REPRESENTATIONS = ("mean", "sample")
SCORES = ("acc", "bacc", "auc")
CERTIFIED_LEAKAGE = ("certified_ba_ub", "certified_tv_ub", "certified_auc_ub")
CERTIFIED_DP = "certified_dp_ub"
# Keys written by the stages that ``privib evaluate`` re-runs (stale ones are dropped on re-evaluation).
EVALUATION_PREFIXES = ("task/test/", "task/val/", "task/probe/", "leakage/", "fairness/", "robustness/", "info/",
                       "transfer/", "downstream/")

_HEADLINE = re.compile(r"leakage/([^/]+)/auc_max")
_AREA = re.compile(r"robustness/([^/]+)/area")
_K_RELEASE = re.compile(r"leakage/([^/]+)/k(\d+)/auc_max")
_TRANSFER = re.compile(r"transfer/([^/]+)/base")


def leakage(attribute: str, figure: str = "auc_max", representation: str | None = None) -> str:
    """``leakage/<attribute>/[<representation>/]<figure>``."""
    middle = f"{representation}/" if representation else ""
    return f"leakage/{attribute}/{middle}{figure}"


def fairness(attribute: str, figure: str = "dp_gap") -> str:
    """``fairness/<attribute>/<figure>``."""
    return f"fairness/{attribute}/{figure}"


def attributes(metrics: Iterable[str]) -> list[str]:
    """Sensitive attributes with a leakage headline, in first-seen order (``worst`` is not one)."""
    found = [m.group(1) for key in metrics if (m := _HEADLINE.fullmatch(key))]
    return [a for a in dict.fromkeys(found) if a != "worst"]


def k_releases(metrics: Iterable[str], attribute: str) -> list[int]:
    """The k of the k-release figures ``leakage/<attribute>/k<k>/auc_max``, ascending."""
    return sorted({int(m.group(2)) for key in metrics if (m := _K_RELEASE.fullmatch(key)) and m.group(1) == attribute})


def robustness_families(metrics: Iterable[str]) -> list[str]:
    """Perturbation families with an area figure, in first-seen order."""
    return list(dict.fromkeys(m.group(1) for key in metrics if (m := _AREA.fullmatch(key))))


def transfer_tasks(metrics: Iterable[str]) -> list[str]:
    """Transfer tasks with figures (``transfer/<task>/base``), in first-seen order (``mean`` is not one)."""
    found = [m.group(1) for key in metrics if (m := _TRANSFER.fullmatch(key))]
    return [t for t in dict.fromkeys(found) if t != "mean"]


def worst_dp_gap(metrics: Mapping[str, Any], source: str = "downstream") -> float:
    """The maximum over attributes of the DP gap of ``source`` (:data:`DP_SOURCES`; NaN when there is none)."""
    pattern = DP_SOURCES[source]
    values = [float(metrics[k]) for a in attributes(metrics) if _finite(metrics.get(k := pattern.format(attribute=a)))]
    return max(values) if values else float("nan")


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
