"""Rows of the report's tables, parsed from flat metric keys: attackers per representation, robustness curves."""
from __future__ import annotations

import math
from typing import Any

from privib.models.release import run_release
from privib.runs import keys

__all__ = ["attacker_rows", "robustness_curves", "config_order", "ordered", "release_of", "REPRESENTATIONS"]

REPRESENTATIONS = ("mean", "sample", "raw")


def release_of(config: dict[str, Any] | None) -> str:
    """The representation the run releases (``model.release``; ``mean`` for older runs; ``baseline`` for a release baseline)."""
    return run_release(config)


def attacker_rows(metrics: dict[str, float], order: list[str] | None = None,
                  release: str = "mean") -> list[dict[str, Any]]:
    """One row per (attribute, representation, attacker): acc, bacc, auc (missing values are nan).

    Attackers named in ``order`` come first, in that order.
    """
    rows: list[dict[str, Any]] = []
    for attribute in keys.attributes(metrics):
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
    return sorted(rows, key=lambda r: (keys.attributes(metrics).index(r["attribute"]),
                                       rank.get(r["attacker"], len(rank)), r["attacker"]))


def ordered(names: list[str], preferred: list[str]) -> list[str]:
    """``names`` with those in ``preferred`` first, in that order."""
    return [n for n in preferred if n in names] + [n for n in names if n not in preferred]


def config_order(config: dict[str, Any] | None, key: str = "attackers") -> tuple[list[str], list[str]]:
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
    return {f: curves[f] for f in ordered(list(curves), families or [])}


# --------------------------------------------------------------------------- figures
